import fs from 'node:fs';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { parseTrace } from '@proxyscope/protocol';

/**
 * The web UI against the running demo, in Chromium: live requests arrive in the list, a
 * request's detail shows its machines' transitions with the Envoy functions they mirror,
 * pause and step move the cursor one event, and a recording downloaded from the admin API
 * opens as a file with the same requests.
 */

async function shot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

async function requestCount(page: Page): Promise<number> {
  const text = (await page.getByTestId('request-count').textContent()) ?? '';
  return Number(/(\d+)/.exec(text)?.[1] ?? 0);
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

test('live requests, request detail with Envoy names, pause and step', async ({ page }, testInfo) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await expect(page.getByTestId('connection')).toContainText('connected');
  await expect(page.getByTestId('mode')).toHaveText('live');
  // The demo sends 20 requests a second: the list grows while we watch.
  await expect.poll(() => requestCount(page)).toBeGreaterThan(5);
  const before = await requestCount(page);
  await expect.poll(() => requestCount(page)).toBeGreaterThan(before);
  await shot(page, testInfo, 'live-overview');

  // A completed request proxied to a cluster (one with an attempt).
  const candidate = page.locator('[data-testid=request-list] tr.row', { has: page.locator('td[data-testid=status]', { hasText: '200' }) }).filter({ hasText: '/api/products' }).first();
  const stream = await candidate.getAttribute('data-stream');
  // Rows come and go as the live list scrolls: name the request by its id.
  await page.getByTestId('request-filter').fill(`id:${stream}`);
  const row = page.locator(`[data-testid=request-list] tr.row[data-stream="${stream}"]`);
  await row.click();
  await expect(row).toHaveAttribute('aria-selected', 'true');
  const detail = page.getByTestId('request-detail');
  await expect(detail).toContainText('/api/products');
  const events = page.getByTestId('request-events');
  await expect(events).toContainText('Router::Filter::decodeHeaders');
  await expect(events).toContainText('ConnPoolImplBase::attachStreamToClient');
  await expect(events).toContainText('decoding_headers → awaiting_response');
  await expect(page.getByTestId('waterfall')).toContainText('upstream request #1');
  await expect(page.getByTestId('response-headers')).toContainText('content-type');
  await shot(page, testInfo, 'request-detail');

  // Pause: the cursor stops following the head although events keep coming.
  await page.getByTestId('play-pause').click();
  const cursor = page.getByTestId('cursor-info');
  const paused = Number(await cursor.getAttribute('data-index'));
  await page.waitForTimeout(500);
  expect(Number(await cursor.getAttribute('data-index'))).toBe(paused);
  await page.locator('body').press('ArrowLeft');
  await expect(cursor).toHaveAttribute('data-index', String(paused - 1));
  await page.locator('body').press('ArrowRight');
  await page.locator('body').press('ArrowRight');
  await expect(cursor).toHaveAttribute('data-index', String(paused + 1));
  await expect(page.getByTestId('go-live')).toHaveAttribute('aria-pressed', 'false');

  // Step within the selected request: the cursor lands on one of its event rows.
  await page.locator('body').press('Shift+ArrowLeft');
  const seq = await cursor.getAttribute('data-seq');
  await expect(events.locator(`tr.at-cursor[data-seq="${seq}"]`)).toHaveCount(1);
  await shot(page, testInfo, 'paused-stepping');

  await page.getByRole('tab', { name: 'machines' }).click();
  await shot(page, testInfo, 'machines');
  await page.getByRole('tab', { name: 'controls' }).click();
  await shot(page, testInfo, 'controls');
  await page.locator('body').press('?');
  await expect(page.getByTestId('help')).toContainText('step one event');
  await shot(page, testInfo, 'help');
  await page.keyboard.press('Escape');

  await page.locator('body').press('l');
  await expect(page.getByTestId('go-live')).toHaveAttribute('aria-pressed', 'true');
  expect(errors).toEqual([]);
});

test('a recording downloaded from the admin API opens as a file with the same requests', async ({ page, request }, testInfo) => {
  const errors = watchErrors(page);
  expect((await request.post('/recording/start')).status()).toBe(200);
  await page.waitForTimeout(2500);
  expect((await request.post('/recording/stop')).status()).toBe(200);
  const download = await request.get('/recording');
  expect(download.status()).toBe(200);
  const file = testInfo.outputPath('recording.ndjson');
  fs.writeFileSync(file, await download.body());
  const trace = parseTrace(fs.readFileSync(file, 'utf8'));
  const streams = new Set(trace.events.map((e) => e.ids.stream).filter((s) => s !== undefined));
  expect(streams.size).toBeGreaterThan(5);

  await page.goto('/');
  await expect(page.getByTestId('connection')).toContainText('connected');
  await page.reload();
  await page.getByTestId('file-input').setInputFiles(file);
  await expect(page.getByTestId('load-status')).toHaveAttribute('data-done', 'true');
  await expect(page.getByTestId('load-status')).toContainText(`${trace.events.length.toLocaleString('en-US')} events loaded`);
  await expect(page.getByTestId('mode')).toHaveText('file');
  await expect.poll(() => requestCount(page)).toBe(streams.size);

  // The first request of the file, as the file has it.
  const first = trace.events.find((e) => e.type === 'fact' && e.fact === 'codec.request_headers')!;
  if (first.type !== 'fact') throw new Error('unreachable');
  await page.getByTestId('request-filter').fill(`id:${first.ids.stream}`);
  const row = page.locator(`[data-testid=request-list] tr.row[data-stream="${first.ids.stream}"]`);
  await row.click();
  await expect(page.getByTestId('request-detail')).toContainText(`${first.data.method} ${first.data.authority}${first.data.path}`);
  await shot(page, testInfo, 'file-loaded');

  // The address keeps the selection and the cursor: a reload of a file view keeps the selection.
  await expect.poll(() => page.evaluate(() => location.hash)).toContain(`req=${first.ids.stream}`);
  expect(errors).toEqual([]);
});
