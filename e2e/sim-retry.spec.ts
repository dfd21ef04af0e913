import { expect, test } from '@playwright/test';
import { servedSimulation, stepVirtualTime, openSimulation } from './support/sim-server';
import { openTab } from './support/ui';

/**
 * A host failure retried on another host, on virtual time: the built-in demo scenario is
 * served paused; api-1 is made to fail every request at t = 0 from the UI's controls (a
 * timeline event of the simulation), then virtual time moves 3 s in steps of 100 ms. The
 * run is the same every time (same config, scenario, seed and fault time), so the retried
 * request the test opens is always there: no wall-clock luck, no random traffic to wait for.
 */

const sim = servedSimulation();

test('a host failing every request: the api route retries on the other host (previous_hosts), in the request detail and its machines', async ({ page }, testInfo) => {
  test.setTimeout(60_000);
  const errors = await openSimulation(page, sim.base);

  // Fail every request api-1 serves with 503; its health check keeps passing, so it stays in rotation.
  await openTab(page, 'controls');
  const controls = page.getByTestId('controls-panel');
  const api1 = controls.locator('tr[data-host="api-1"]');
  await expect(api1).toBeVisible();
  const api1Address = /\d+\.\d+\.\d+\.\d+:\d+/.exec((await api1.locator('th small').textContent()) ?? '')![0];
  await controls.getByLabel('fail rate percent').fill('100');
  await api1.getByRole('button', { name: /^fail 503$/ }).click();
  await expect(api1).toHaveClass(/psc-faulted/);

  // 3 s of virtual time, 100 ms at a time.
  await stepVirtualTime(page, 30);

  const filter = page.getByTestId('request-filter');
  await filter.fill('route:api status:200 attempts:>1');
  await filter.blur();
  const candidate = page.locator('[data-testid=request-list] tr.row').first();
  await expect(candidate).toBeVisible();
  const retried = Number(await candidate.getAttribute('data-stream'));
  // that row, not "the first" again: the list may still be taking the last events in
  await page.locator(`[data-testid=request-list] tr.row[data-stream="${retried}"]`).click();

  await openTab(page, 'machines');
  const machines = page.getByTestId('machine-view');
  await expect(machines).toHaveAttribute('data-request', String(retried));
  await expect(machines.locator('[data-machine="stream"]')).toHaveAttribute('data-current', 'complete');
  const attempts = machines.locator('[data-machine="upstream_request"]');
  await expect(attempts.first()).toHaveAttribute('data-current', 'failed');
  await expect(attempts.last()).toHaveAttribute('data-current', 'done');
  const router = machines.locator('[data-machine="router"]');
  await expect(router.locator('[data-state="retry_backoff"]')).toHaveAttribute('data-status', 'visited');
  await expect(router.locator('[data-state="complete"]')).toHaveAttribute('data-status', 'current');
  await expect(router.locator('[data-state="retry_backoff"]')).toContainText('Router::Filter::doRetry');

  // The first attempt, on api-1, failed with its 503; the last, on the other host, got the 200.
  await openTab(page, 'request');
  const detail = page.getByTestId('request-detail');
  const attemptRows = detail.locator('dt', { hasText: /^attempt \d+$/ });
  const attemptValue = (row: ReturnType<typeof attemptRows.first>) => row.locator('xpath=following-sibling::dd[1]');
  await expect(attemptValue(attemptRows.first())).toContainText(api1Address);
  await expect(attemptValue(attemptRows.first())).toContainText('503');
  await expect(attemptValue(attemptRows.last())).not.toContainText(api1Address);
  await expect(attemptValue(attemptRows.last())).toContainText('done 200');
  const path = testInfo.outputPath('sim-retry-detail.png');
  await page.screenshot({ path });
  await testInfo.attach('sim-retry-detail', { path, contentType: 'image/png' });
  expect(errors).toEqual([]);
});
