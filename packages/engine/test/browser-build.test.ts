/**
 * The engine and its config loader must build for a browser (the static build runs them in
 * a Web Worker): Node-only modules stay behind the seams (transport, resolver, TLS,
 * compression), in entry points of their own.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const entry = (path: string) => fileURLToPath(new URL(`../src/${path}`, import.meta.url));

async function nodeImportsOf(path: string): Promise<string[]> {
  const result = await build({
    entryPoints: [entry(path)],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    // Report Node built-ins instead of failing on the first one.
    external: ['node:*'],
  });
  const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
  return [...new Set(imports.filter((p) => p.startsWith('node:')))];
}

describe('browser build', () => {
  it('bundles the engine with no Node built-in', async () => {
    expect(await nodeImportsOf('index.ts')).toEqual([]);
  });

  it('bundles the config loader, with Envoy’s API descriptor, with no Node built-in', async () => {
    expect(await nodeImportsOf('config/index.ts')).toEqual([]);
  });

  it('bundles the simulation (virtual time, network, hosts, traffic, scenarios) with no Node built-in', async () => {
    expect(await nodeImportsOf('sim/index.ts')).toEqual([]);
  });

  it('would notice one: the Node transport is Node-only', async () => {
    expect(await nodeImportsOf('transport/node-transport.ts')).toContain('node:net');
  });
});
