/**
 * The engine in the page: the static build on a plain file server (no ProxyScope server),
 * opened in headless Chromium. Measures the time from navigation start to the first
 * simulated request in the request list (the worker loaded, llhttp's wasm compiled, the
 * demo config and scenario loaded, the first request run and drawn), and the size of the
 * worker bundle, raw and gzipped, as a static host would serve it.
 *
 *   node --import tsx bench/browser-inpage.ts        (prints the figures)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../e2e/support/chromium';
import { startStaticHost } from '../e2e/support/static-host';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'apps/web/dist');

export interface InPageFigures {
  /** navigation start to the first request row, ms (one per page load) */
  firstRequestMs: number[];
  workerBytes: number;
  workerGzipBytes: number;
  mainBytes: number;
  mainGzipBytes: number;
}

function chunk(prefix: string): { bytes: number; gzip: number } {
  const dir = path.join(DIST, 'assets');
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.js'));
  if (files.length !== 1) throw new Error(`expected one ${prefix}*.js in the build, found ${files.length}`);
  const body = fs.readFileSync(path.join(dir, files[0]!));
  return { bytes: body.length, gzip: gzipSync(body, { level: 9 }).length };
}

export async function benchInPage(options: { loads?: number } = {}): Promise<InPageFigures> {
  const built = spawnSync(process.execPath, [path.join(ROOT, 'apps/web/scripts/ensure-built.mjs')], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('the web UI did not build');
  // A static host: the build's files and nothing else, so the page runs the engine itself.
  const server = await startStaticHost(DIST);
  const { port } = server;
  const browser = await chromium.launch(await chromiumLaunchOptions());
  const firstRequestMs: number[] = [];
  try {
    for (let i = 0; i < (options.loads ?? 3); i++) {
      // A fresh context each time: nothing cached from the load before, as a first visit.
      const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.locator('[data-testid=request-list] tr.row').first().waitFor({ timeout: 60_000 });
      // In-page code as text: this file is type-checked for Node, without the DOM's types.
      firstRequestMs.push(Math.round((await page.evaluate('performance.now()')) as number));
      await context.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
  const worker = chunk('engine-worker-');
  const main = chunk('index-');
  return { firstRequestMs, workerBytes: worker.bytes, workerGzipBytes: worker.gzip, mainBytes: main.bytes, mainGzipBytes: main.gzip };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await benchInPage();
  const kb = (n: number) => `${(n / 1024).toFixed(0)} kB`;
  console.log(`engine in the page: first simulated request on screen ${r.firstRequestMs.join(', ')} ms after navigation start; worker bundle ${kb(r.workerBytes)} (${kb(r.workerGzipBytes)} gzipped), main bundle ${kb(r.mainBytes)} (${kb(r.mainGzipBytes)} gzipped)`);
}
