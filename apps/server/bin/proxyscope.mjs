#!/usr/bin/env node
// The CLI is TypeScript. It runs from a bundle built from the sources on first start and
// after every change (cli-bundle.mjs), so an `npm install` is all it needs; where the
// bundle cannot be built it runs the sources through tsx.
import { ensureBundle } from './cli-bundle.mjs';

let bundle;
try {
  bundle = await ensureBundle();
} catch (err) {
  process.stderr.write(`proxyscope: could not build the CLI bundle (${err instanceof Error ? err.message : String(err)}); running the sources through tsx\n`);
}
let main;
if (bundle) {
  ({ main } = await import(bundle));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
}
process.exitCode = await main(process.argv.slice(2));
