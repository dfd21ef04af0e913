import fs from 'node:fs';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { HarSchema } from '../apps/web/test/support/har-schema';

/**
 * DevTools habits against the live demo: Export HAR of the filtered list downloads HAR 1.2
 * whose entries are the finished rows shown; Copy as cURL puts a command for the selected
 * request on the clipboard; Resend sends it again through the proxy and selects the new
 * request.
 */

test.use({ viewport: { width: 1280, height: 720 }, permissions: ['clipboard-read', 'clipboard-write'] });

async function shot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

async function requestCount(page: Page): Promise<number> {
  const text = (await page.getByTestId('request-count').textContent()) ?? '';
  return Number(/(\d+)/.exec(text)?.[1] ?? 0);
}

interface Row {
  stream: number;
  status: string;
  path: string;
}

/** Every row the list shows, in order: it is virtualised, so it is scrolled through. */
async function rowsShown(page: Page): Promise<Row[]> {
  const list = page.getByTestId('request-list');
  const seen = new Map<number, Row>();
  const order: number[] = [];
  for (let top = 0; ; ) {
    await list.evaluate((el, y) => (el.scrollTop = y), top);
    await page.waitForTimeout(60);
    const batch = await list.locator('tr.row').evaluateAll((rows) =>
      rows.map((r) => ({ stream: Number(r.getAttribute('data-stream')), status: r.querySelector('[data-testid=status]')?.textContent ?? '', path: r.children[3]?.textContent ?? '' })),
    );
    for (const row of batch) {
      if (!seen.has(row.stream)) order.push(row.stream);
      seen.set(row.stream, row);
    }
    const { scrollHeight, clientHeight } = await list.evaluate((el) => ({ scrollHeight: el.scrollHeight, clientHeight: el.clientHeight }));
    if (top + clientHeight >= scrollHeight) break;
    // the list draws 12 rows beyond each edge of the view
    top += clientHeight + 8 * 22;
  }
  return order.map((s) => seen.get(s)!);
}

test('Export HAR of the filtered list, Copy as cURL, Resend', async ({ page }, testInfo) => {
  test.setTimeout(90_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('connection')).toContainText('connected');
  // more of the list in view, fewer scroll steps to read it all
  await page.getByTestId('collapse-topology').click();
  await page.getByTestId('collapse-stats').click();
  await page.getByTestId('request-filter').fill('path:/api/products');
  await expect.poll(() => requestCount(page), { intervals: [100], timeout: 15_000 }).toBeGreaterThan(4);

  // Paused, the list holds still: the export is of exactly these rows.
  await page.getByTestId('play-pause').click();
  await page.waitForTimeout(300);
  const rows = await rowsShown(page);
  expect(rows.length).toBe(await requestCount(page));
  const finished = rows.filter((r) => r.status !== '…');
  expect(finished.length).toBeGreaterThan(3);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-har-filtered').click()]);
  expect(download.suggestedFilename()).toMatch(/^proxyscope-filtered-.*\.har$/);
  const har = HarSchema.parse(JSON.parse(fs.readFileSync((await download.path())!, 'utf8')));
  const entries = har.log.entries as Array<(typeof har.log.entries)[number] & { _proxyscope: { stream: number } }>;
  expect(entries.map((e) => e._proxyscope.stream)).toEqual(finished.map((r) => r.stream));
  for (const [k, e] of entries.entries()) {
    expect(new URL(e.request.url).pathname).toBe('/api/products');
    expect(String(e.response.status)).toBe(finished[k]!.status);
    // the spec: time is the sum of the timings that apply
    const t = e.timings;
    const sum = [t.blocked, t.dns, t.connect, t.send, t.wait, t.receive].filter((v): v is number => v !== undefined && v >= 0).reduce((a, b) => a + b, 0);
    expect(Math.abs(sum - e.time)).toBeLessThan(0.01);
  }
  const inFlight = rows.length - finished.length;
  if (inFlight > 0) expect(har.log.comment).toContain(`${inFlight} request`);

  await page.getByTestId('collapse-topology').click();
  await page.getByTestId('collapse-stats').click();

  // Copy as cURL of one finished request.
  const pick = finished.at(-1)!; // in view: rowsShown left the list scrolled to the bottom
  await page.locator(`[data-testid=request-list] tr.row[data-stream="${pick.stream}"]`).click();
  const detail = page.getByTestId('request-detail');
  await expect(detail).toContainText('/api/products');
  const actions = page.getByTestId('request-actions');
  await expect(actions.getByRole('button', { name: 'Copy as cURL' })).toBeVisible();
  await shot(page, testInfo, 'request-actions');
  await actions.getByRole('button', { name: 'Copy as cURL' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('request-action-status')).toContainText(/Copied as cURL|copy the command below/);
  const fallback = page.getByTestId('curl-command');
  const command = (await fallback.count()) ? await fallback.inputValue() : await page.evaluate(() => navigator.clipboard.readText());
  expect(command).toMatch(/^curl 'http:\/\/shop\.example\.com\/api\/products' \\\n/);
  expect(command).toMatch(/--connect-to 'shop\.example\.com:80:127\.0\.0\.1:\d+'/);
  expect(command).toContain("-H 'user-agent: ");
  expect(command).not.toMatch(/-H 'host:/);

  // Resend: live again, so the new request is at the cursor when it appears.
  await page.getByTestId('go-live').click();
  await page.getByTestId('request-actions').getByRole('button', { name: 'Resend this request through the proxy' }).click();
  // the new request is selected: the Request tab names it, and it carries the resend tag
  const tab = page.getByRole('tab', { name: /^Request \d+/ });
  await expect.poll(async () => Number(/(\d+)/.exec((await tab.textContent()) ?? '')?.[1]), { timeout: 15_000 }).not.toBe(pick.stream);
  const resent = Number(/(\d+)/.exec((await tab.textContent()) ?? '')?.[1]);
  expect(resent).toBeGreaterThan(pick.stream);
  await expect(detail).toContainText(`resend-${pick.stream}-`);
  await expect(page.locator(`[data-testid=request-list] tr.row[data-stream="${resent}"]`)).toBeVisible();
  await expect(page.locator(`[data-testid=request-list] tr.row[data-stream="${resent}"] td[data-testid=status]`)).toHaveText('200', { timeout: 10_000 });
  await shot(page, testInfo, 'resent');
  expect(errors).toEqual([]);
});

test('Resend is unavailable, and says why, for a trace opened from a file', async ({ page }) => {
  await page.goto('/');
  await page.getByTestId('file-input').setInputFiles('apps/web/test/fixtures/demo.ndjson');
  await expect(page.getByTestId('mode')).toHaveText('file');
  await expect.poll(() => requestCount(page), { timeout: 15_000 }).toBeGreaterThan(3);
  await page.locator('[data-testid=request-list] tr.row').first().click();
  const resend = page.getByTestId('resend');
  await expect(resend).toHaveAttribute('aria-disabled', 'true');
  await expect(resend).toHaveAccessibleName(/unavailable, no server: this request comes from a trace file/);
  // aria-disabled, not disabled: it stays focusable and tells why when pressed
  await resend.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('alert').filter({ hasText: 'Resend unavailable' })).toBeVisible();
  // HAR and cURL work from a file too
  await expect(page.getByTestId('copy-curl')).toBeEnabled();
});
