import { expect, test } from '@playwright/test';
import { servedSimulation, stepVirtualTime, openSimulation } from './support/sim-server';

/**
 * "Request N only" pacing: play stops at the selected request's own state changes (its
 * machines, and the codec, pool and connection that served it), one after another, and
 * ends when the request is done. On a served simulation, so the request is the same every
 * time.
 */

const sim = servedSimulation();

test('playing one request alone visits its state changes in order and stops at its end', async ({ page }, testInfo) => {
  test.setTimeout(60_000);
  const errors = await openSimulation(page, sim.base);
  await stepVirtualTime(page, 10);

  // Without a selection the option says what it needs.
  const pacing = page.getByTestId('pacing');
  await expect(pacing.locator('option[value=request]')).toBeDisabled();

  // the newest finished one: in view while the list follows the newest requests
  const stream = Number(await page.locator('[data-testid=request-list] tr.row', { hasText: '200' }).last().getAttribute('data-stream'));
  await page.locator(`[data-testid=request-list] tr.row[data-stream="${stream}"]`).click();
  await expect(pacing.locator('option[value=request]')).toHaveText(`request ${stream} only`);
  await pacing.selectOption('request');

  // The request's state changes, as its event list shows them (transitions, spawns, stops).
  const rows = page.getByTestId('request-detail').getByTestId('event-row');
  await expect(rows.first()).toBeVisible();
  const changes: number[] = [];
  for (const r of await rows.all()) {
    const what = (await r.locator('td').nth(3).locator('div').first().textContent()) ?? '';
    if (/→|^spawn|^stop/.test(what)) changes.push(Number(await r.getAttribute('data-seq')));
  }
  expect(changes.length).toBeGreaterThan(8);

  // Play from the start of the history; sample where the cursor sits until play stops.
  const timeline = (await page.locator('.ps-timeline').boundingBox())!;
  await page.mouse.click(timeline.x + 1, timeline.y + timeline.height / 2);
  expect(Number(await page.getByTestId('cursor-info').getAttribute('data-seq'))).toBeLessThan(changes[0]!);
  await page.getByLabel('Playback speed').selectOption('2');
  await page.getByTestId('play-pause').click();
  const samples = await page.evaluate(
    () =>
      new Promise<number[]>((done) => {
        const info = document.querySelector<HTMLElement>('[data-testid=cursor-info]')!;
        const button = document.querySelector<HTMLElement>('[data-testid=play-pause]')!;
        const seen: number[] = [];
        const started = performance.now();
        const id = setInterval(() => {
          const seq = Number(info.dataset.seq);
          if (seen.at(-1) !== seq) seen.push(seq);
          if (button.getAttribute('aria-label') === 'Play' || performance.now() - started > 20_000) {
            clearInterval(id);
            done(seen);
          }
        }, 10);
      }),
  );
  const visited = samples.filter((seq) => changes.includes(seq));
  // Every stop is one of the request's state changes, in order, from its first to its last.
  expect(samples.slice(1).every((seq) => changes.includes(seq)), `visited ${samples.join(', ')}; the request's changes ${changes.join(', ')}`).toBe(true);
  // Each stop stays on screen for 225 ms at 2x, far longer than the sampling interval.
  expect(visited).toEqual(changes);
  await expect(page.getByTestId('play-pause')).toHaveAttribute('aria-label', 'Play');

  const path = testInfo.outputPath('follow-request.png');
  await page.screenshot({ path });
  await testInfo.attach('follow-request', { path, contentType: 'image/png' });
  expect(errors).toEqual([]);
});
