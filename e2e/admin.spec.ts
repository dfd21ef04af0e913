import { expect, test } from '@playwright/test';

test.describe('admin pages of the running demo, in Chromium', () => {
  test('home page links to Envoy-style endpoints that show live traffic', async ({ page }) => {
    await page.goto('/admin');
    await expect(page.getByRole('heading', { name: 'ProxyScope admin' })).toBeVisible();
    await page.screenshot({ path: test.info().outputPath('admin-home.png') });

    await page.getByRole('link', { name: '/ready' }).click();
    await expect(page.locator('body')).toHaveText('LIVE');

    await page.goto('/admin');
    await page.getByRole('link', { name: '/stats', exact: true }).click();
    // The demo traffic generator is running, so requests are being counted.
    await expect
      .poll(async () => {
        await page.reload();
        const text = await page.locator('body').innerText();
        return Number(/http\.ingress_http\.downstream_rq_total: (\d+)/.exec(text)?.[1] ?? 0);
      })
      .toBeGreaterThan(3);

    await page.goto('/admin');
    await page.getByRole('link', { name: '/clusters' }).click();
    await expect(page.locator('body')).toContainText('web::default_priority::max_connections::1024');
    await expect(page.locator('body')).toContainText('api::default_priority::max_pending_requests::16');
  });

  test('the health-check button drains the server and /ready turns 503', async ({ page, request }) => {
    await page.goto('/admin');
    await page.getByRole('button', { name: '/healthcheck/fail' }).click();
    await expect(page.locator('body')).toHaveText('OK');
    const ready = await request.get('/ready');
    expect(ready.status()).toBe(503);
    expect(await ready.text()).toBe('DRAINING\n');

    await page.goto('/admin');
    await page.getByRole('button', { name: '/healthcheck/ok' }).click();
    expect((await request.get('/ready')).status()).toBe(200);
  });
});
