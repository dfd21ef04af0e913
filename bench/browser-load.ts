/**
 * How fast the web UI takes a big trace: generates a 1,000,000-event trace from a recorded
 * demo (its requests repeated with fresh seq, time, connection, stream and upstream
 * connection ids), serves the built UI, opens the file in headless Chromium through the
 * file input, and measures the time until the trace is loaded and scrubbable, then one
 * seek (a click on the timeline until the cursor has moved and the frame is painted).
 *
 *   node --import tsx bench/browser-load.ts        (prints the figures)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../e2e/support/chromium';
import { parseTrace, TraceStreamWriter, type TraceEvent } from '@proxyscope/protocol';
import { startAdminHttp } from '../apps/server/src/admin/admin-http';
import { AdminSecurity } from '../apps/server/src/admin/security';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLE = path.join(ROOT, 'apps/web/test/fixtures/demo.ndjson');

/** Writes a trace of `total` events made of the sample's events, renumbered on each pass. */
export function generateTrace(file: string, total: number): number {
  const { header, events } = parseTrace(fs.readFileSync(SAMPLE, 'utf8'));
  const maxOf = (key: 'cx' | 'stream' | 'ucx') => Math.max(0, ...events.map((e) => e.ids[key] ?? 0)) + 1;
  const span = { cx: maxOf('cx'), stream: maxOf('stream'), ucx: maxOf('ucx') };
  const seqSpan = events[events.length - 1]!.seq;
  const tSpan = Math.ceil(events[events.length - 1]!.t) + 5;
  const fd = fs.openSync(file, 'w');
  const writer = new TraceStreamWriter((chunk) => fs.writeSync(fd, chunk));
  writer.writeHeader(header);
  let written = 0;
  for (let pass = 0; written < total; pass++) {
    const shift = (key: 'cx' | 'stream' | 'ucx', n: number) => n + pass * span[key];
    const batch: TraceEvent[] = [];
    for (const e of events) {
      if (written + batch.length >= total) break;
      const ids = { ...e.ids };
      if (ids.cx !== undefined) ids.cx = shift('cx', ids.cx);
      if (ids.stream !== undefined) ids.stream = shift('stream', ids.stream);
      if (ids.ucx !== undefined) ids.ucx = shift('ucx', ids.ucx);
      const actor = e.actor.replace(/\b(cx|stream|ucx):(\d+)/g, (_m, key: 'cx' | 'stream' | 'ucx', n: string) => `${key}:${shift(key, Number(n))}`);
      batch.push({ ...e, actor, ids, seq: e.seq + pass * seqSpan, t: Math.round((e.t + pass * tSpan) * 1000) / 1000 } as TraceEvent);
    }
    writer.writeEvents(batch);
    written += batch.length;
  }
  fs.closeSync(fd);
  return written;
}

export async function benchTraceLoad(options: { events?: number } = {}): Promise<{ events: number; loadMs: number; seekMs: number }> {
  const total = options.events ?? 1_000_000;
  const built = spawnSync(process.execPath, [path.join(ROOT, 'apps/web/scripts/ensure-built.mjs')], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('the web UI did not build');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxyscope-bench-'));
  const file = path.join(dir, 'big.ndjson');
  const events = generateTrace(file, total);
  const admin = await startAdminHttp({ host: '127.0.0.1', port: 0, title: 'bench', security: new AdminSecurity({}), endpoints: {} });
  const browser = await chromium.launch(await chromiumLaunchOptions());
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`http://127.0.0.1:${admin.port}/`);
    await page.getByTestId('file-input').waitFor({ state: 'attached' });
    const started = Date.now();
    await page.getByTestId('file-input').setInputFiles(file);
    await page.locator('[data-testid=load-status][data-done=true]').waitFor({ timeout: 300_000 });
    // Scrubbable: the timeline has its axis and the list its rows for the whole trace.
    await page.locator('[data-testid=request-list] tr.row').first().waitFor();
    const loadMs = Date.now() - started;
    const loaded = Number((await page.getByTestId('cursor-info').textContent())?.match(/\/(\d+)/)?.[1] ?? 0);
    if (loaded !== events) throw new Error(`the page holds ${loaded} events, the file ${events}`);

    const box = (await page.getByTestId('timeline').boundingBox())!;
    // In-page code as text: this file is type-checked for Node, without the DOM's types.
    await page.evaluate(`
      window.seekDone = new Promise((resolve) => {
        let t0 = 0;
        document.querySelector('[data-testid=timeline]').addEventListener('pointerdown', () => (t0 = performance.now()), { capture: true, once: true });
        new MutationObserver(() => requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - t0), 0)))
          .observe(document.querySelector('[data-testid=cursor-info]'), { attributes: true, attributeFilter: ['data-index'] });
      });
      // (the value of this script must not be the promise: evaluate would wait for it before the click)
      undefined;
    `);
    await page.mouse.click(box.x + box.width * 0.37, box.y + box.height / 2);
    const seekMs = (await page.evaluate('window.seekDone')) as number;
    return { events, loadMs, seekMs: Math.round(seekMs * 10) / 10 };
  } finally {
    await browser.close();
    await admin.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await benchTraceLoad({ events: process.env.EVENTS ? Number(process.env.EVENTS) : undefined });
  console.log(`web UI trace load: ${result.events.toLocaleString('en-US')} events loaded and scrubbable in ${result.loadMs} ms; a seek took ${result.seekMs} ms`);
}
