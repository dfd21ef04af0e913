import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type Download, type Page } from '@playwright/test';
import { watchPage as watch } from './support/page-watch';
import { startStaticHost } from './support/static-host';

/**
 * The config playground on the static build, with no ProxyScope server: an invalid config
 * marked at its line with its field path (and Run refused until it is mended), and a
 * permalink that reproduces the run: the same events at the same seqs, and the same cursor.
 */
const DIST = path.resolve('apps/web/dist');
const CONFIG = fs.readFileSync('scenarios/front-proxy/envoy.yaml', 'utf8');

/** Replaces an editor's whole text, as a paste would. */
async function setEditorText(page: Page, testId: string, text: string) {
  // focus, not a click: a click scrolls the editor's middle into view
  await page.locator(`[data-testid=${testId}] .cm-content`).focus();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.insertText(text);
}

async function runFinished(page: Page) {
  await expect(page.getByTestId('sim-clock')).toHaveAttribute('data-state', 'finished', { timeout: 60_000 });
}

async function savedTrace(page: Page): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download'), saveButton(page).then((b) => b.click())]);
  return fs.readFileSync(await (download as Download).path(), 'utf8');
}

/** "Save trace", in the header or, when the header is full, in its More menu. */
async function saveButton(page: Page) {
  const more = page.getByTestId('header-more');
  if (await more.isVisible()) {
    if ((await more.getAttribute('open')) === null) await more.locator('summary').click();
  }
  return page.getByTestId('download-trace');
}

test('an invalid config is marked at its line, with its field path, and Run waits for the fix', async ({ page }, testInfo) => {
  const server = await startStaticHost(DIST);
  try {
    const seen = watch(page);
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(`http://127.0.0.1:${server.port}/?playground`);
    await expect(page.getByTestId('pg-config').locator('.cm-content')).toContainText('static_resources', { timeout: 20_000 });
    // With no server, the playground runs its template at once.
    await expect(page.getByTestId('sim-badge')).toContainText('front-proxy', { timeout: 20_000 });

    const broken = CONFIG.replace('lb_policy: ROUND_ROBIN', 'lb_policy: ROUND_ROBBIN');
    const line = CONFIG.slice(0, CONFIG.indexOf('lb_policy: ROUND_ROBIN')).split('\n').length;
    await setEditorText(page, 'pg-config', broken);
    const problem = page.locator('[data-testid=pg-diagnostics]').first().locator('li').first();
    await expect(problem).toContainText(`line ${line}: static_resources.clusters[0].lb_policy`, { timeout: 10_000 });
    await expect(problem).toContainText('ROUND_ROBBIN');
    await expect(page.getByTestId('pg-run')).toBeDisabled();
    // Clicking the problem puts the cursor on its line, which is marked in the gutter and
    // underlined (the editor draws only the lines in view, so it is looked for once there).
    await problem.locator('button').click();
    await expect(page.locator('[data-testid=pg-config] .cm-activeLine')).toContainText('ROUND_ROBBIN');
    await expect(page.locator('[data-testid=pg-config] .cm-lint-marker-error')).toHaveCount(1);
    await expect(page.locator('[data-testid=pg-config] .cm-lintRange-error')).toHaveCount(1);
    await page.screenshot({ path: testInfo.outputPath('playground-invalid.png') });

    await setEditorText(page, 'pg-config', CONFIG);
    await expect(page.locator('[data-testid=pg-config] .cm-lint-marker-error')).toHaveCount(0, { timeout: 10_000 });
    await expect(page.getByTestId('pg-run')).toBeEnabled();
    expect(seen.sockets, 'no WebSocket is opened').toEqual([]);
    expect(seen.errors, 'no console errors').toEqual([]);
  } finally {
    server.close();
  }
});

test('a permalink reproduces the run: the same events at the same seqs, and the same cursor', async ({ browser }, testInfo) => {
  test.setTimeout(120_000);
  const server = await startStaticHost(DIST);
  try {
    const first = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const seen = watch(first);
    await first.goto(`http://127.0.0.1:${server.port}/?playground`);
    await expect(first.getByTestId('sim-badge')).toContainText('front-proxy', { timeout: 20_000 });
    await first.getByTestId('pg-seed').fill('7');
    await first.getByTestId('pg-speed').selectOption('max');
    await first.getByTestId('pg-run').click();
    await expect(first.getByTestId('sim-badge')).toContainText('seed 7', { timeout: 20_000 });
    await runFinished(first);
    // A request picked and the cursor moved back off the end: the position the link carries.
    await first.locator('[data-testid=request-list] tr.row').nth(4).click();
    await first.locator('body').press('ArrowLeft');
    await first.locator('body').press('ArrowLeft');
    const cursor = await first.getByTestId('cursor-info').getAttribute('data-seq');
    const request = await first.getByRole('tab', { name: /^Request \d+/ }).textContent();
    expect(cursor).toMatch(/^\d+$/);
    await expect(first).toHaveURL(new RegExp(`#.*seq=${cursor}`));
    await first.getByTestId('pg-share').click();
    const link = await first.getByTestId('pg-link').inputValue();
    expect(link).toContain('playground=');
    expect(link).toContain(`seq=${cursor}`);
    const trace = await savedTrace(first);

    // Someone else opens the link, in a browser of their own.
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const second = await context.newPage();
    const seen2 = watch(second);
    await second.goto(link);
    await expect(second.getByTestId('sim-badge')).toContainText('seed 7', { timeout: 20_000 });
    await runFinished(second);
    await expect(second.getByTestId('cursor-info')).toHaveAttribute('data-seq', cursor!, { timeout: 20_000 });
    await expect(second.getByRole('tab', { name: /^Request \d+/ })).toHaveText(request!);
    await second.screenshot({ path: testInfo.outputPath('permalink-opened.png') });
    const again = await savedTrace(second);

    const lines = trace.trim().split('\n');
    expect(lines.length, 'the run has events').toBeGreaterThan(100);
    const seqs = lines.slice(1).map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(seqs[0]).toBe(1);
    expect(seqs.every((s, i) => s === i + 1), 'every seq from 1, in order').toBe(true);
    expect(again, 'the same events at the same seqs').toBe(trace);
    expect([...seen.sockets, ...seen2.sockets], 'no WebSocket is opened').toEqual([]);
    expect([...seen.errors, ...seen2.errors], 'no console errors').toEqual([]);
    await context.close();
  } finally {
    server.close();
  }
});
