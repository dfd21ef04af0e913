import { expect, test } from '@playwright/test';

/**
 * Step mode from the UI, against the running demo: a breakpoint preset holds live requests
 * in the server; the held list shows where each waits (with the Envoy function); pressing
 * N on the selected held request makes exactly one state change; resume lets it finish.
 */
test('a breakpoint from the UI holds a live request; N steps it one state change; resume lets it go', async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('connection')).toContainText('connected');

  await page.getByRole('tab', { name: /step mode/i }).click();
  const panel = page.getByTestId('breakpoints-panel');
  await panel.getByRole('button', { name: 'router chose a route' }).click();
  await expect(panel.getByTestId('breakpoint-list')).toContainText('router · route_matched');
  await expect(panel.getByTestId('breakpoint-list')).toContainText('Router::Filter::decodeHeaders');

  // The demo's traffic meets the breakpoint: requests are held where the router chose a route.
  // One routed to a cluster (not a redirect or a direct response) steps on to the cluster.
  const held = panel.getByTestId('held-requests');
  const routed = held.locator('tr[data-path="/"], tr[data-path^="/api/"], tr[data-path^="/static/"]').first();
  await expect(routed).toContainText('router · route_matched (breakpoint)', { timeout: 15_000 });
  await expect(page.getByTestId('held-count')).toBeVisible();
  // Stop holding new ones, so the held list is what we have now.
  await panel.getByRole('button', { name: 'router chose a route' }).click();
  await expect(panel.getByText('None. New requests run freely.')).toBeVisible();

  const id = Number(await routed.getAttribute('data-stream'));
  expect(id).toBeGreaterThan(0);
  const row = held.locator(`tr[data-stream="${id}"]`);
  await row.click();
  await expect(row).toHaveClass(/psb-selected/);
  // The request list says it is held.
  await page.getByTestId('request-filter').fill(`id:${id}`);
  await page.getByTestId('request-filter').blur();
  await expect(page.locator(`[data-testid=request-list] tr.row[data-stream="${id}"] [data-testid=held-badge]`)).toHaveText('held');
  // drawn, not a font glyph: the bundled Chromium has one font, and ⏸ was an empty box
  await expect(page.locator(`[data-testid=request-list] tr.row[data-stream="${id}"] [data-testid=held-badge] svg`)).toHaveCount(1);
  const save = async (name: string) => {
    const path = testInfo.outputPath(`${name}.png`);
    await page.screenshot({ path });
    await testInfo.attach(name, { path, contentType: 'image/png' });
  };
  await save('step-mode-held');

  // N: one state change, from route_matched to cluster_selected (the next thing the router does).
  await page.keyboard.press('n');
  await expect(row).toContainText('router · cluster_selected (stepped)');
  // the step log says what the step did, from its events
  await expect(panel.getByTestId('last-step')).toContainText(`#${id}`);
  await expect(panel.getByTestId('last-step')).toContainText(/cluster \S+ selected/);
  await expect(panel.getByTestId('last-step')).toContainText('router: route_matched → cluster_selected');
  await page.keyboard.press('n');
  await expect(row).toContainText('router · host_selected (stepped)');
  await save('step-mode-stepped');

  // The request's own transitions, as the detail shows them, end where the steps left it.
  await page.getByRole('tab', { name: /^request/i }).click();
  await expect(page.getByTestId('request-events')).toContainText('cluster_selected → host_selected');
  await page.getByRole('tab', { name: /step mode/i }).click();

  await row.getByRole('button', { name: 'Resume' }).click();
  await expect(row).toHaveCount(0);
  await expect(page.locator(`[data-testid=request-list] tr.row[data-stream="${id}"] [data-testid=held-badge]`)).toHaveCount(0);
  // Whatever else was held goes too, and the proxy serves as before.
  if (await panel.getByRole('button', { name: 'Resume all' }).isVisible()) await panel.getByRole('button', { name: 'Resume all' }).click();
  const health = await page.request.get('/ready');
  expect(health.status()).toBe(200);
  expect(errors).toEqual([]);
});
