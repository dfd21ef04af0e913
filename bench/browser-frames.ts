/**
 * Frame times of the web UI with 1,000 requests in flight, in headless Chromium.
 *
 * Generates a trace with a steady population of ~1,000 requests in flight (the views
 * views' synthetic trace, shaped like the demo's), opens it in the real UI (the built
 * app, served as the admin server serves it), moves the cursor into the steady state and
 * plays it at 1x: every frame the cursor advances, the world at the cursor is updated, the
 * topology, list, stats and token canvas redraw. Measured over a few seconds:
 *   - frame interval: the gap between requestAnimationFrame callbacks (16.7 ms = 60 fps;
 *     Chromium never shows a frame sooner, so p50 sits at 16.7 when nothing is dropped);
 *   - long tasks: main-thread tasks over 50 ms (PerformanceObserver), which a user feels.
 *
 *   node --import tsx bench/browser-frames.ts
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TRACE_FORMAT, TRACE_FORMAT_VERSION, TraceStreamWriter } from '@proxyscope/protocol';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../e2e/support/chromium';
import { startAdminHttp } from '../apps/server/src/admin/admin-http.ts';
import { AdminSecurity } from '../apps/server/src/admin/security.ts';
import { syntheticTrace } from './synthetic-trace.ts';

export interface FrameFigures {
  /** requests the token canvas drew as in flight while measuring */
  inFlight: number;
  frames: number;
  p50Ms: number;
  p95Ms: number;
  /** main-thread tasks over 50 ms while measuring */
  longTasks: number;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const round = (n: number) => Math.round(n * 100) / 100;

/**
 * `presenter`: the same in presenter mode (`/?presenter`: bigger labels and tokens), played by
 * time like the normal layout, so the cursor moves every frame in both.
 */
export async function benchFrames(options: { inFlight?: number; seconds?: number; presenter?: boolean } = {}): Promise<FrameFigures> {
  const inFlight = options.inFlight ?? 1000;
  const measureMs = (options.seconds ?? 5) * 1000;
  const built = spawnSync(process.execPath, [path.join(ROOT, 'apps/web/scripts/ensure-built.mjs')], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('the web UI did not build');

  // Long enough that playback from the steady state does not reach the end while measuring.
  const traceSeconds = Math.ceil(measureMs / 1000) + 12;
  const { topology, events } = syntheticTrace({ inFlight, seconds: traceSeconds });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxyscope-frames-'));
  const file = path.join(dir, 'in-flight.ndjson');
  const fd = fs.openSync(file, 'w');
  const writer = new TraceStreamWriter((chunk) => fs.writeSync(fd, chunk));
  writer.writeHeader({ format: TRACE_FORMAT, version: TRACE_FORMAT_VERSION, engineVersion: 'bench', startedAt: new Date(0).toISOString(), topology });
  writer.writeEvents(events);
  fs.closeSync(fd);

  const admin = await startAdminHttp({ host: '127.0.0.1', port: 0, title: 'bench', security: new AdminSecurity({}), endpoints: {} });
  const browser = await chromium.launch(await chromiumLaunchOptions());
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${admin.port}/${options.presenter ? '?presenter' : ''}`);
    await page.getByTestId('file-input').setInputFiles(file);
    await page.locator('[data-testid=load-status][data-done=true]').waitFor({ timeout: 120_000 });
    if (options.presenter) await page.getByTestId('pacing').selectOption('time');
    // Into the steady state (a quarter of the way), then play at 1x.
    const box = (await page.getByTestId('timeline').boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.25, box.y + box.height / 2);
    await page.getByTestId('play-pause').click();
    await page.waitForTimeout(1500); // warm-up: JIT, first layout of every view
    // In-page code as text: this file is type-checked for Node, without the DOM's types.
    const measured = (await page.evaluate(`new Promise((resolve) => {
      const out = [];
      let longTasks = 0;
      const observer = new PerformanceObserver((list) => { longTasks += list.getEntries().length; });
      observer.observe({ type: 'longtask' });
      let last = 0;
      const start = performance.now();
      const tick = (now) => {
        if (last) out.push(now - last);
        last = now;
        if (now - start < ${measureMs}) requestAnimationFrame(tick);
        else { observer.disconnect(); resolve({ deltas: out, longTasks }); }
      };
      requestAnimationFrame(tick);
    })`)) as { deltas: number[]; longTasks: number };
    const shown = Number(await page.getAttribute('[data-testid="token-canvas"]', 'data-inflight'));
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    const sorted = [...measured.deltas].sort((a, b) => a - b);
    return { inFlight: shown, frames: sorted.length, p50Ms: round(percentile(sorted, 50)), p95Ms: round(percentile(sorted, 95)), longTasks: measured.longTasks };
  } finally {
    await browser.close();
    await admin.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const presenter of [false, true]) {
    const f = await benchFrames({ presenter });
    console.log(`web UI frames${presenter ? ' (presenter mode)' : ''}: ${f.inFlight} requests in flight, ${f.frames} frames, p50 ${f.p50Ms} ms, p95 ${f.p95Ms} ms (target p95 < 16.7 ms), ${f.longTasks} long tasks`);
  }
}
