import { expect, test } from '@playwright/test';
import { servedSimulation } from './support/sim-server';

/**
 * `proxyscope simulate --serve` in the browser: the built-in demo scenario served paused,
 * on an admin port of its own (the suite's server is the live demo). The header says
 * plainly that this is a simulation (badge, scenario, seed) and shows the virtual clock;
 * its controls move virtual time on the server: step to the next event, +100 ms, run at
 * 10x and pause. Every check reads virtual time, never how long the test waited.
 */

const sim = servedSimulation();

test('the UI says it is a simulation, shows virtual time and drives it', async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(sim.base);
  await expect(page.getByTestId('connection')).toContainText('connected · simulation');

  const badge = page.getByTestId('sim-badge');
  await expect(badge).toContainText('SIMULATION');
  await expect(badge).toContainText('demo');
  await expect(badge).toContainText('seed 1');
  const clock = page.getByTestId('sim-clock');
  await expect(clock).toHaveText('t = 0.000 s virtual');
  await expect(page.getByTestId('sim-state')).toHaveText('paused');
  const t = async () => Number(await clock.getAttribute('data-t'));

  // +100 ms: virtual time moves exactly that far, and stands there.
  await page.getByTestId('sim-step-100').click();
  await expect(clock).toHaveText('t = 0.100 s virtual');
  // To the next scheduled event: a little further, whatever it is.
  await page.getByTestId('sim-step').click();
  await expect.poll(t).toBeGreaterThan(100);
  const stepped = await t();
  expect(stepped).toBeLessThan(200);
  await expect(page.getByTestId('sim-state')).toHaveText('paused');

  // Run at 10x: the clock advances past 2 s of virtual time and requests fill the list.
  await page.getByTestId('sim-speed-10').click();
  await expect(page.getByTestId('sim-speed-10')).toHaveAttribute('aria-checked', 'true');
  await page.getByTestId('sim-play').click();
  await expect(page.getByTestId('sim-state')).toHaveText('running at 10x');
  await expect.poll(t, { timeout: 20_000 }).toBeGreaterThan(2000);
  await expect(page.locator('[data-testid=request-list] tr.row').first()).toBeVisible();
  // A page opened while the run is going draws it too: the header's texts change every
  // tick, and once that made the legend flip between its two layouts without end (React
  // error 185, a blank page).
  const joiner = await page.context().newPage();
  const joinerErrors: string[] = [];
  joiner.on('pageerror', (e) => joinerErrors.push(e.message));
  await joiner.setViewportSize({ width: 1280, height: 720 });
  await joiner.goto(sim.base);
  await expect(joiner.getByTestId('sim-badge')).toContainText('SIMULATION');
  await expect(joiner.getByTestId('sim-state')).toHaveText('running at 10x');
  await expect.poll(async () => Number(await joiner.getByTestId('sim-clock').getAttribute('data-t'))).toBeGreaterThan((await t()) - 1);
  await expect(joiner.getByTestId('phase-legend')).toBeVisible();
  expect(joinerErrors).toEqual([]);
  await joiner.close();
  const path = testInfo.outputPath('simulation-running.png');
  await page.screenshot({ path });
  await testInfo.attach('simulation-running', { path, contentType: 'image/png' });

  // Pause: the clock stops where the server stopped it.
  await page.getByTestId('sim-play').click();
  await expect(page.getByTestId('sim-state')).toHaveText('paused');
  await expect(clock).toHaveAttribute('data-state', 'paused');
  const pausedAt = await t();
  const info = (await (await fetch(`${sim.base}server_info`)).json()) as { simulation: { virtual_time_ms: number; paused: boolean } };
  expect(info.simulation).toMatchObject({ paused: true, virtual_time_ms: pausedAt });

  // Host faults are there, as timeline events of the simulation.
  await page.getByRole('tab', { name: /controls/i }).click();
  await expect(page.getByTestId('sim-fault-note')).toBeVisible();
  await expect(page.getByTestId('controls-panel')).toContainText('web-2');
  expect(errors).toEqual([]);
});
