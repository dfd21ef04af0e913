import { expect, test, type Page } from '@playwright/test';
import { servedSimulation, stepVirtualTime, openSimulation } from './support/sim-server';

/**
 * The host and cluster panels on served deterministic simulations: the shipped
 * outlier-detection scenario (web-2 answers 503 from 2 s, consecutive_5xx ejects it) and
 * health-checks-panic (hosts go down; health checks take them out until the cluster is in
 * panic). Virtual time moves in 100 ms steps, so what the panel says at each step is the
 * same every run.
 */

/** Clicks a topology node near its top-left corner, on its label, where no request token is drawn. */
async function clickNode(page: Page, id: string) {
  await page.locator(`[data-node="${id}"]`).click({ position: { x: 12, y: 8 } });
}

test.describe('outlier detection', () => {
  const sim = servedSimulation(['--scenario', 'scenarios/outlier-detection/scenario.yaml']);

  test('the ejected host says why (consecutive_5xx), since when, and counts down to its return', async ({ page }, testInfo) => {
    test.setTimeout(90_000);
    const errors = await openSimulation(page, sim.base);
    await stepVirtualTime(page, 30);

    await clickNode(page, 'host:web/10.0.1.2:8080');
    const panel = page.getByTestId('host-panel');
    await expect(panel).toBeVisible();
    await expect(page.getByRole('tab', { name: /^Host web-2/ })).toHaveAttribute('aria-selected', 'true');
    await expect(panel.getByTestId('panel-title')).toHaveText('web-2');
    await expect(panel.getByTestId('host-status')).toHaveText('ejected');
    const ejection = panel.getByTestId('host-ejection');
    await expect(ejection).toContainText('Ejected by consecutive_5xx: 3 consecutive 5xx (threshold 3)');
    // web-2 is ejected at t = 2.315 s for base_ejection_time 4 s; the 1 s interval tick after that is 7 s
    await expect(panel.getByTestId('host-ejected-at')).toHaveText(/^t = 2\.3\d\d s$/);
    await expect(ejection).toContainText('for 4.000 s');
    // the countdown is from the cursor's trace time (its event's t, shown as "as of"), not the wall clock
    const countdown = panel.getByTestId('host-countdown');
    await expect(countdown).toContainText(/un-ejected in 4\.0\d\d s \(at t = 7\.000 s/);
    const left = async () => Number(/un-ejected in ([\d.]+) s/.exec((await countdown.textContent()) ?? '')![1]);
    const asOf = async () => Number(/as of t = ([\d.]+) s/.exec((await panel.locator('.psh-sub').textContent()) ?? '')![1]);
    expect((await left()) + (await asOf())).toBeCloseTo(7, 3);
    await expect(panel.getByTestId('host-ejections')).toHaveText('1');
    // the three 503s that tripped it are among the requests it served, and a click selects one
    const failed = panel.locator('[data-testid=host-request]', { hasText: '503' });
    await expect(failed).toHaveCount(3);
    await expect(page).toHaveURL(/#.*host=web%2F10\.0\.1\.2%3A8080/);
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.screenshot({ path: testInfo.outputPath('host-panel-ejected-1920.png') });
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.screenshot({ path: testInfo.outputPath('host-panel-ejected-1280.png') });

    // 100 ms later the countdown is 100 ms shorter: it runs on trace time at the cursor
    const before = await left();
    await stepVirtualTime(page, 1);
    await expect(countdown).not.toContainText(`un-ejected in ${before.toFixed(3)} s`);
    expect(before - (await left())).toBeCloseTo(0.1, 1);
    expect((await left()) + (await asOf())).toBeCloseTo(7, 3);

    // the cluster: one of three ejected is 67% healthy, above the 50% panic threshold
    await panel.getByTestId('host-cluster-link').click();
    const cluster = page.getByTestId('cluster-panel');
    await expect(cluster.getByTestId('cluster-panic-state')).toHaveText('not in panic');
    await expect(cluster.getByTestId('cluster-healthy')).toHaveText('2 of 3 healthy (67%)');
    await expect(cluster.locator('[data-testid=cluster-host][data-host="10.0.1.2:8080"]')).toHaveAttribute('data-health', 'ejected');
    await expect(cluster.getByTestId('breaker-max_connections')).toHaveAttribute('data-limit', '1024');

    // back to the host, then one of its requests: the request detail takes the panel's place
    await cluster.locator('[data-testid=cluster-host][data-host="10.0.1.2:8080"]').click();
    const first503 = page.getByTestId('host-panel').locator('[data-testid=host-request]', { hasText: '503' }).first();
    const stream = await first503.getAttribute('data-stream');
    await first503.click();
    await expect(page.getByTestId('host-panel')).toHaveCount(0);
    await expect(page.getByRole('tab', { name: new RegExp(`^Request ${stream}`) })).toBeVisible();
    expect(errors).toEqual([]);
  });
});

test.describe('health checks and panic', () => {
  const sim = servedSimulation(['--scenario', 'scenarios/health-checks-panic/scenario.yaml']);

  test('a down host shows its failed probes, and the cluster says it is in panic', async ({ page }, testInfo) => {
    test.setTimeout(120_000);
    const errors = await openSimulation(page, sim.base);
    await stepVirtualTime(page, 35);

    // web-4 went down at 2 s: two network failures in a row (unhealthy_threshold 2) made it unhealthy
    await clickNode(page, 'host:web/10.0.1.4:8080');
    const panel = page.getByTestId('host-panel');
    await expect(panel.getByTestId('host-status')).toHaveText('unhealthy');
    await expect(panel.getByTestId('host-why')).toContainText('failed its active health check');
    const probes = panel.getByTestId('host-probe');
    await expect(probes.first()).toHaveAttribute('data-passed', 'false');
    await expect(probes.first()).toContainText('network');
    await expect(probes.nth(1)).toHaveAttribute('data-passed', 'false');
    await expect(probes.last()).toHaveAttribute('data-passed', 'true');
    await expect(panel.getByTestId('host-hc')).toContainText('unhealthy after 2 network failures in a row');
    await expect(panel.getByTestId('host-hc-progress')).toHaveText(/0 of 2 toward healthy/);
    await page.screenshot({ path: testInfo.outputPath('host-panel-probes-1280.png') });

    // the cluster at 3.5 s: three of four healthy is 75%, above 50%
    await clickNode(page, 'cluster:web');
    const cluster = page.getByTestId('cluster-panel');
    await expect(cluster.getByTestId('cluster-panic-state')).toHaveText('not in panic');
    await expect(cluster.getByTestId('cluster-healthy')).toHaveText('3 of 4 healthy (75%)');

    // web-2 and web-3 go down at 4 s; by 6.5 s one host of four is healthy: panic
    await stepVirtualTime(page, 30);
    await expect(cluster.getByTestId('cluster-panic-state')).toHaveText('in panic');
    await expect(cluster.getByTestId('cluster-healthy')).toHaveText('1 of 4 healthy (25%)');
    await expect(cluster).toContainText('Fewer than 50% of the hosts are healthy');
    await expect(cluster.getByTestId('cluster-panic-picks')).toContainText('in panic mode');
    await expect(cluster.locator('[data-testid=cluster-host][data-health="unhealthy"]')).toHaveCount(3);
    await page.screenshot({ path: testInfo.outputPath('cluster-panel-panic-1280.png') });
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.screenshot({ path: testInfo.outputPath('cluster-panel-panic-1920.png') });

    // presenter mode: the opened cluster takes the detail strip
    await page.getByTestId('presenter-toggle').click();
    await expect(page.getByTestId('cluster-strip')).toContainText('in panic');
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.screenshot({ path: testInfo.outputPath('cluster-strip-presenter-1280.png') });
    expect(errors).toEqual([]);
  });
});
