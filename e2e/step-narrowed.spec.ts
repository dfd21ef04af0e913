import { expect, test } from '@playwright/test';
import { servedSimulation, stepVirtualTime, openSimulation } from './support/sim-server';

/**
 * Step mode narrowed to one route, on the served demo scenario (virtual time, the same run
 * every time): traffic hits every route, but the breakpoint `router · route_matched when
 * route api` holds only the API's requests; the others finish. The step log says in words
 * what each step did (the cluster chosen, the host picked and by which load balancer); the
 * held tokens carry a mark on the map (listed in the canvas's data-held). A `once`
 * breakpoint narrowed by path prefix holds one request and goes. Built from the keyboard.
 */

const sim = servedSimulation();

test('a breakpoint narrowed to the api route holds only api requests; the step log says what each step did; held tokens are marked', async ({ page }, testInfo) => {
  test.setTimeout(90_000);
  const errors = await openSimulation(page, sim.base);
  const save = async (name: string) => {
    const path = testInfo.outputPath(`${name}.png`);
    await page.screenshot({ path });
    await testInfo.attach(name, { path, contentType: 'image/png' });
  };

  await page.getByRole('tab', { name: /step mode/i }).click();
  const panel = page.getByTestId('breakpoints-panel');
  // From the keyboard: machine and state, then the "when" fields, Enter adds.
  await panel.getByLabel('machine', { exact: true }).selectOption('router');
  await panel.getByLabel('state', { exact: true }).selectOption('route_matched');
  await panel.locator('summary', { hasText: 'when…' }).focus();
  await page.keyboard.press('Enter');
  const route = panel.getByLabel('when route');
  await expect(route).toBeVisible();
  await route.focus();
  await page.keyboard.type('api');
  await page.keyboard.press('Enter');
  const list = panel.getByTestId('breakpoint-list');
  await expect(list.locator('li')).toHaveCount(1);
  await expect(list.locator('li').first()).toContainText('router · route_matched');
  await expect(list.locator('li').first()).toContainText('when route api');

  // A second of demo traffic: shoppers on /, /api/…, /static/…, /healthz, /old-shop.
  await stepVirtualTime(page, 10);
  const held = panel.getByTestId('held-requests');
  await expect(held.locator('tr').first()).toBeVisible();
  const rows = held.locator('tr');
  const paths = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-path') ?? ''));
  expect(paths.length).toBeGreaterThan(2);
  for (const p of paths) expect(p).toMatch(/^\/api\//);
  await expect(rows.first()).toContainText('held by the breakpoint when route api');
  // The other routes ran through: finished storefront and static requests are in the list.
  const filter = page.getByTestId('request-filter');
  for (const other of ['storefront', 'static']) {
    await filter.fill(`route:${other} status:200`);
    await filter.blur();
    await expect(page.locator('[data-testid=request-list] tr.row').first()).toBeVisible();
  }
  await filter.fill('');
  await filter.blur();

  // Every held request is marked on the map: its token has the mark, or (in a crowded slot)
  // the slot's count badge carries the held colour and counts it.
  const ids = (await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-stream'))))).sort((a, b) => a - b);
  const canvas = page.getByTestId('token-canvas');
  const marked = async () => ((await canvas.getAttribute('data-held')) ?? '').split(' ').filter(Boolean).map(Number);
  await expect.poll(async () => (await marked()).length + Number((await canvas.getAttribute('data-held-in-badges')) ?? 0)).toBe(ids.length);
  expect((await marked()).every((s) => ids.includes(s))).toBe(true);
  expect((await marked()).length).toBeGreaterThan(0);
  await save('step-narrowed-held');

  // Step one held request (one with a mark on the map): the log says what happened, in words.
  const id = (await marked())[0]!;
  const row = held.locator(`tr[data-stream="${id}"]`);
  // keyboard only: focus the held row, Enter selects it, N steps it
  await row.focus();
  await page.keyboard.press('Enter');
  await expect(row).toHaveClass(/psb-selected/);
  await page.keyboard.press('n');
  const last = panel.getByTestId('last-step');
  await expect(last).toContainText(`#${id}`);
  await expect(last).toContainText('cluster api selected');
  await expect(last).toContainText('router: route_matched → cluster_selected');
  await page.keyboard.press('n');
  await expect(last).toContainText(/picked api-[12] by LEAST_REQUEST/);
  await page.keyboard.press('n');
  await expect(last).toContainText('router: host_selected → upstream_pending');
  await expect(last).toContainText('retry policy: up to 2 retries');
  await page.keyboard.press('n');
  await expect(last).toContainText(/pool: /);
  // the log keeps the earlier steps, newest first
  await expect(panel.getByTestId('step-log').locator('li')).toHaveCount(4);
  await expect(panel.getByTestId('step-log').locator('li').nth(3)).toContainText('cluster api selected');
  await save('step-narrowed-log');

  // A one-shot breakpoint narrowed by path prefix: it holds the next /static/ request and goes.
  await list.getByRole('button', { name: /remove breakpoint router route_matched when route api/ }).click();
  await expect(panel.getByText('None. New requests run freely.')).toBeVisible();
  await panel.getByRole('button', { name: 'Resume all' }).click();
  await expect(held).toHaveCount(0);
  await route.fill('');
  await panel.getByLabel('when path prefix').fill('/static/');
  await panel.getByLabel(/only the next request/).check();
  await panel.getByRole('button', { name: 'Add breakpoint' }).click();
  await expect(list.locator('li').first()).toContainText('when path /static/* · once');
  await stepVirtualTime(page, 10);
  await expect(panel.getByText('None. New requests run freely.')).toBeVisible();
  await expect(held.locator('tr')).toHaveCount(1);
  const once = held.locator('tr').first();
  expect(await once.getAttribute('data-path')).toMatch(/^\/static\//);
  await expect(once).toContainText('held by the breakpoint when path /static/* · once');
  const onceId = await once.getAttribute('data-stream');
  await expect.poll(async () => (await canvas.getAttribute('data-held')) ?? '').toBe(onceId);
  await save('step-narrowed-once');
  expect(errors).toEqual([]);
});
