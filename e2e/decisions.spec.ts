import { expect, test } from '@playwright/test';
import { servedSimulation, stepVirtualTime, openSimulation } from './support/sim-server';
import { openTab } from './support/ui';

/**
 * The request detail's "Decisions" on a served simulation (e2e/fixtures/decisions/): the
 * routes that failed before the storefront, the weighted draw, the host the balancer
 * picked from which hosts, and each retry with its condition and back-off. Virtual time
 * moves 1 s in steps of 100 ms; the run is the same every time.
 */

const sim = servedSimulation(['--scenario', 'e2e/fixtures/decisions/scenario.yaml']);

test('a retried request: its decisions name the route candidates, the host picked and the retry back-off', async ({ page }, testInfo) => {
  test.setTimeout(60_000);
  const errors = await openSimulation(page, sim.base);
  await stepVirtualTime(page, 10);

  const filter = page.getByTestId('request-filter');
  await filter.fill('status:200 attempts:>2');
  await filter.blur();
  const candidate = page.locator('[data-testid=request-list] tr.row').first();
  await expect(candidate).toBeVisible();
  await candidate.click();
  await openTab(page, 'request');

  const detail = page.getByTestId('request-detail');
  const rows = detail.getByTestId('decision-row');
  const route = rows.and(page.locator('[data-kind=route]'));
  await expect(route).toHaveCount(1);
  await expect(route).toContainText('virtual host shop (domain shop.example.com)');
  await expect(route).toContainText('route api did not match: path prefix /api ≠ /');
  await expect(route).toContainText('route canary did not match: header x-canary absent');
  await expect(route).toContainText('matched route storefront (prefix /)');
  await expect(route).toContainText('VirtualHostImpl::getRouteFromEntries');

  await expect(rows.and(page.locator('[data-kind=weighted]'))).toContainText(/weighted clusters: drew \d+ of 100 → web; ranges web \(0–89\), web_b \(90–99\)/);

  // Three picks: the first and two retries, each naming its host, the policy and the others' health.
  const hosts = rows.and(page.locator('[data-kind=host]'));
  await expect(hosts).toHaveCount(3);
  for (let k = 0; k < 3; k++) await expect(hosts.nth(k)).toContainText(/^(host|host #\d)picked web-\d \(10\.0\.1\.\d:8080\) by ROUND_ROBIN from (2 of )?3 hosts/);
  await expect(hosts.nth(2)).toContainText('previous_hosts refused');

  // Each retry: what failed, the retry_on condition, and the back-off with its range.
  const retries = rows.and(page.locator('[data-kind=attempt]'));
  await expect(retries).toHaveCount(2);
  await expect(retries.nth(0)).toContainText(/attempt 1 \(web-\d\) (answered 503|failed: .*) → retry on 5xx.*, back-off \d+ ms \(drawn from 0–25 ms\)/);
  await expect(retries.nth(1)).toContainText(/attempt 2 \(web-\d\) .* → retry on 5xx.*, back-off \d+ ms \(drawn from 0–50 ms\)/);

  // No attempt row reads as if the upstream had reset an answered attempt.
  await expect(detail.locator('dd', { hasText: '(upstream.reset)' })).toHaveCount(0);

  const path = testInfo.outputPath('decisions-1280.png');
  await retries.first().scrollIntoViewIfNeeded();
  await page.screenshot({ path });
  await testInfo.attach('decisions-1280', { path, contentType: 'image/png' });

  // A decision moves the cursor to its event.
  await retries.nth(1).click();
  await expect(retries.nth(1)).toHaveClass(/at-cursor/);
  await expect(detail.locator('[data-testid=event-row].at-cursor')).toContainText('retry.decision');
  expect(errors).toEqual([]);
});
