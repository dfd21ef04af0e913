import fs from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { expect, test, type Page } from '@playwright/test';
import { parseTrace } from '@proxyscope/protocol';

/**
 * Recording from the header: Record starts a gzipped recording on the server, the counter
 * grows with the traffic, Stop ends the file, Save downloads it, and the downloaded file
 * opens in the UI with the requests it holds.
 */

const eventCount = async (page: Page) => Number(((await page.getByTestId('recording-counter').textContent()) ?? '').replace(/,/g, '').match(/(\d+) events/)?.[1] ?? -1);

const UNITS: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6 };
const sizeBytes = async (page: Page) => {
  const m = /· ([\d.]+) (B|kB|MB)/.exec((await page.getByTestId('recording-counter').textContent()) ?? '');
  return m ? Number(m[1]) * UNITS[m[2]!]! : -1;
};

test('Record, Stop and Save a trace from the header; the file opens with its requests', async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto('/');
  await expect(page.getByTestId('connection')).toContainText('connected');

  const record = page.getByRole('button', { name: 'Record' });
  await record.click();
  await expect(page.getByRole('button', { name: 'Stop' })).toBeVisible();
  // A gzip recording is complete only once it ends: nothing to save while it runs.
  await expect(page.getByRole('button', { name: 'Save' })).toHaveCount(0);
  const counter = page.getByTestId('recording-counter');
  await expect(counter).toContainText(/events · \d/);
  await expect.poll(() => eventCount(page), { timeout: 10_000 }).toBeGreaterThan(0);
  const early = await eventCount(page);
  await expect.poll(() => eventCount(page), { timeout: 10_000 }).toBeGreaterThan(early);
  // the size too: the server flushes gzip once a second, so it grows past the 10-byte gzip header
  await expect.poll(() => sizeBytes(page), { timeout: 10_000 }).toBeGreaterThan(100);
  await page.screenshot({ path: testInfo.outputPath('recording.png') });

  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(record).toBeVisible();
  const save = page.getByRole('button', { name: 'Save' });
  await expect(save).toBeVisible();
  const recorded = await eventCount(page);
  expect(recorded).toBeGreaterThan(early);

  const [download] = await Promise.all([page.waitForEvent('download'), save.click()]);
  expect(download.suggestedFilename()).toMatch(/^proxyscope-.*\.ndjson\.gz$/);
  const file = testInfo.outputPath(download.suggestedFilename());
  await download.saveAs(file);
  const text = gunzipSync(fs.readFileSync(file)).toString('utf8');
  expect(JSON.parse(text.slice(0, text.indexOf('\n')))).toMatchObject({ format: 'proxyscope-trace' });
  const trace = parseTrace(text);
  expect(trace.events).toHaveLength(recorded);
  const streams = new Set(trace.events.map((e) => e.ids.stream).filter((s) => s !== undefined));
  expect(streams.size).toBeGreaterThan(3);

  // The saved file opens in the UI; a file has nothing to record, so Record is gone.
  await page.getByTestId('file-input').setInputFiles(file);
  await expect(page.getByTestId('load-status')).toHaveAttribute('data-done', 'true');
  await expect(page.getByTestId('mode')).toHaveText('file');
  await expect(page.getByTestId('recording')).toHaveCount(0);
  await expect
    .poll(async () => Number(/(\d+)/.exec((await page.getByTestId('request-count').textContent()) ?? '')?.[1] ?? 0))
    .toBe(streams.size);
  await page.screenshot({ path: testInfo.outputPath('file.png') });
  expect(errors).toEqual([]);
});
