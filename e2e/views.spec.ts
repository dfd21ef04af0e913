import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { openTab } from './support/ui';

/**
 * The topology, machine, stats and controls views against the running demo, in Chromium:
 * the demo's listener, routes, clusters and hosts are drawn; request tokens move on the
 * canvas while traffic flows; failing a host from the controls shows up as a failing host on
 * the map (the retry it causes is in sim-retry.spec.ts, on virtual time).
 */

async function shot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/** Pixels of the token canvas that are not transparent. */
async function paintedPixels(page: Page): Promise<number> {
  // source text: the e2e project is type-checked without the DOM library
  return page.evaluate<number>(`(() => {
    const c = document.querySelector('[data-testid=token-canvas]');
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return n;
  })()`);
}


test('topology, moving tokens, stats, and a failing host on the map', async ({ page }, testInfo) => {
  test.setTimeout(60_000);
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1500, height: 1000 });
  await page.goto('/');
  await expect(page.getByTestId('connection')).toContainText('connected');

  // The demo's static shape: one listener, its routes, three clusters.
  const map = page.getByTestId('topology-map');
  await expect(map.locator('[data-node="listener:ingress"]')).toBeVisible();
  for (const route of ['healthz', 'old_shop', 'api', 'static', 'storefront']) await expect(map.locator(`[data-node="route:shop_routes/shop/${route}"]`)).toHaveCount(1);
  for (const cluster of ['web', 'web_canary', 'api']) await expect(map.locator(`[data-node="cluster:${cluster}"]`)).toHaveCount(1);
  // The trace header lists no hosts; all six demo hosts come from the events.
  await expect.poll(() => map.locator('[data-node^="host:"]').count(), { timeout: 15_000 }).toBe(6);
  await expect(map.locator('[data-node^="host:api/"]')).toHaveCount(2);
  // Named as the demo (and its fault controls) name them.
  for (const name of ['web-1', 'web-2', 'web-3', 'web-canary-1', 'api-1', 'api-2']) await expect(map.locator('[data-node^="host:"]', { hasText: `${name} :` })).toHaveCount(1);

  // Tokens are drawn on the canvas while traffic flows.
  await expect.poll(() => page.getByTestId('token-canvas').getAttribute('data-tokens').then(Number), { timeout: 10_000 }).toBeGreaterThan(0);
  await expect.poll(() => paintedPixels(page), { timeout: 10_000 }).toBeGreaterThan(20);
  await shot(page, testInfo, 'topology');

  // Stats count the demo's traffic.
  const stats = page.getByTestId('stats-view');
  await expect.poll(async () => Number(((await stats.locator('[data-counter="requests"] dd').textContent()) ?? '0').replace(/\D/g, ''))).toBeGreaterThan(10);
  await expect(stats.locator('[data-chart="requests / s"] path.pss-line')).toHaveCount(1);
  await stats.scrollIntoViewIfNeeded();
  await shot(page, testInfo, 'stats');

  // Fail every request api-1 serves with 503 (its /healthz keeps passing, so it stays in
  // rotation).
  await openTab(page, 'controls');
  const controls = page.getByTestId('controls-panel');
  const api1 = controls.locator('tr[data-host="api-1"]');
  await expect(api1).toBeVisible();
  const api1Address = /\d+\.\d+\.\d+\.\d+:\d+/.exec((await api1.locator('th small').textContent()) ?? '')![0];
  await controls.getByLabel('fail rate percent').fill('100');
  await api1.getByRole('button', { name: /^fail 503$/ }).click();
  await expect(api1).toHaveClass(/psc-faulted/);
  await expect(api1.locator('.psc-behaviour')).toContainText('100% 503');
  await shot(page, testInfo, 'controls');

  // The retry this causes is followed request by request in sim-retry.spec.ts, on virtual
  // time, where it happens the same way every run.

  // The topology shows api-1 failing: its attempts fail, its health check fails, or outlier detection ejects it.
  await expect(map.locator(`[data-node="host:api/${api1Address}"]`)).toHaveAttribute('data-health', /failing|ejected|unhealthy/);
  await shot(page, testInfo, 'topology-failing-host');

  // Clicking a token selects its request: pause so tokens settle, clear the selection, click one.
  await page.getByTestId('play-pause').click();
  await page.locator('body').press('Escape');
  await openTab(page, 'machines');
  await expect(page.getByTestId('machine-view')).toHaveCount(0);
  await expect.poll(() => paintedPixels(page)).toBeGreaterThan(20);
  await page.waitForTimeout(400);
  const canvasBox = (await map.boundingBox())!;
  const hit = await page.evaluate<{ x: number; y: number } | null>(`(() => {
    const c = document.querySelector('[data-testid=token-canvas]');
    const { data, width } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
    const dpr = window.devicePixelRatio || 1;
    for (let i = 3; i < data.length; i += 4 * 3) if (data[i] === 255) {
      const p = (i - 3) / 4;
      return { x: (p % width) / dpr, y: Math.floor(p / width) / dpr };
    }
    return null;
  })()`);
  expect(hit).not.toBeNull();
  await page.mouse.click(canvasBox.x + hit!.x, canvasBox.y + hit!.y);
  await expect(page.getByTestId('machine-view')).toHaveAttribute('data-request', /^\d+$/);
  await shot(page, testInfo, 'token-selected');

  // Put api-1 back.
  await openTab(page, 'controls');
  await api1.getByRole('button', { name: 'clear' }).click();
  await expect(api1).not.toHaveClass(/psc-faulted/);
  expect(errors).toEqual([]);
});
