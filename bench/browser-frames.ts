/**
 * Frame times of the web views with 1,000 requests in flight, in headless Chromium.
 *
 * Builds the views harness page (apps/web/test/views/harness) with Vite and serves it; it plays a
 * generated trace holding ~1,000 requests in flight at trace speed: every frame the cursor
 * moves, the world at the cursor is updated incrementally, the topology re-renders and the
 * token canvas animates every token. Frame time = the gap between requestAnimationFrame
 * callbacks over a few seconds (16.7 ms is 60 fps).
 *
 *   node --import tsx bench/browser-frames.ts
 */
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, preview } from 'vite';

export interface FrameFigures {
  inFlight: number;
  frames: number;
  p50Ms: number;
  p95Ms: number;
}

const HARNESS = fileURLToPath(new URL('../apps/web/test/views/harness/', import.meta.url));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export async function benchFrames(options: { inFlight?: number; seconds?: number; port?: number; view?: string } = {}): Promise<FrameFigures> {
  const inFlight = options.inFlight ?? 1000;
  const measureMs = (options.seconds ?? 5) * 1000;
  const port = options.port ?? 19938;
  // a production build: React's development mode alone costs several ms per frame
  const outDir = mkdtempSync(join(tmpdir(), 'proxyscope-frames-'));
  await build({ configFile: `${HARNESS}vite.config.ts`, root: HARNESS, base: './', build: { outDir, emptyOutDir: true }, logLevel: 'error' });
  const server = await preview({ configFile: `${HARNESS}vite.config.ts`, root: HARNESS, build: { outDir }, preview: { port, host: '127.0.0.1', strictPort: true }, logLevel: 'error' });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // a trace long enough that playback does not loop while measuring
    await page.goto(`http://127.0.0.1:${port}/?synthetic=${inFlight}&seconds=${Math.ceil(measureMs / 1000) + 12}&view=${options.view ?? 'all'}`);
    await page.waitForSelector('[data-testid="token-canvas"][data-inflight]', { timeout: 60_000 });
    await page.waitForTimeout(2000); // warm-up: JIT, first layout, fonts
    // passed as source text: tsx's name-keeping helpers do not exist in the page
    const deltas = (await page.evaluate(`new Promise((resolve) => {
      const out = [];
      let last = 0;
      const start = performance.now();
      const tick = (now) => {
        if (last) out.push(now - last);
        last = now;
        if (now - start < ${measureMs}) requestAnimationFrame(tick);
        else resolve(out);
      };
      requestAnimationFrame(tick);
    })`)) as number[];
    const shown = Number(await page.getAttribute('[data-testid="token-canvas"]', 'data-inflight'));
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    const sorted = [...deltas].sort((a, b) => a - b);
    return { inFlight: shown, frames: deltas.length, p50Ms: round(percentile(sorted, 50)), p95Ms: round(percentile(sorted, 95)) };
  } finally {
    await browser.close();
    await server.close();
    rmSync(outDir, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const figures = await benchFrames();
  console.log(JSON.stringify(figures));
  console.log(`${figures.inFlight} requests in flight: ${figures.frames} frames, p50 ${figures.p50Ms} ms, p95 ${figures.p95Ms} ms (target p95 < 16.7 ms)`);
}
