import { expect, test, type Page } from '@playwright/test';
import { servedSimulation, stepVirtualTime } from './support/sim-server';

/**
 * Every viewer sees the same state: two browsers on one paused simulation whose history
 * ring holds only 50 events. The first is there from the start; virtual time then runs
 * on for over 80 times the ring, and a second page opens. At the same seq (the clock is
 * paused, both pages follow the end) they show the same hosts with the same health, and
 * the same requests in flight with method, authority, path, route, cluster and host.
 */

const HISTORY = 50;
const sim = servedSimulation(['--history', String(HISTORY)]);

async function open(page: Page): Promise<void> {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(sim.base);
  // "connected" only once the history (and the snapshot before it) has arrived
  await expect(page.getByTestId('connection')).toContainText('connected · simulation', { timeout: 15_000 });
}

/** What a viewer sees: each host's health line, the open downstream connections, and the rows of the requests in flight (all but the duration). */
async function seen(page: Page) {
  await page.getByTestId('request-filter').fill('-phase:complete -phase:reset');
  // The filtered list renders after the filter is applied; read it once it shows its rows.
  const readRows = () =>
    page.locator('[data-testid=request-list] tr.row').evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].filter((_, i) => i !== 10).map((td) => td.textContent ?? '')),
    );
  // The list may redraw between a check and a read on a busy machine: read until it has rows.
  await expect.poll(async () => (await readRows()).length, { timeout: 10_000 }).toBeGreaterThan(0);
  const rows = await readRows();
  const hosts = await page.locator('g.pst-node-host').evaluateAll((gs) =>
    gs.map((g) => {
      const title = [...g.querySelectorAll(':scope > title')].map((t) => t.textContent ?? '').join('\n');
      return [g.getAttribute('data-node'), /health: .*/.exec(title)?.[0] ?? ''];
    }),
  );
  const downstream = await page.locator('g.pst-node-downstream').first().textContent();
  // the stats strip's totals (requests, 2xx, 4xx, 5xx, retries, overflow, connections)
  const counters = await page.locator('[data-testid=stats-view] [data-counter]').evaluateAll((els) => els.map((el) => [el.getAttribute('data-counter'), el.querySelector('dd')?.textContent ?? '']));
  return { rows: rows.sort((a, b) => Number(a[0]) - Number(b[0])), hosts: hosts.sort(), downstream, counters };
}

test('a page opened after 80x the history draws what a page there from the start draws', async ({ browser }, testInfo) => {
  const errors: string[] = [];
  const early = await (await browser.newContext()).newPage();
  early.on('pageerror', (e) => errors.push(e.message));
  await open(early);
  // 2.1 s of the demo is over 4,000 events, 80 times the ring, and it stops with five
  // requests in flight that began before the ring's oldest event.
  await stepVirtualTime(early, 21);
  const info = (await (await fetch(`${sim.base}server_info`)).json()) as { simulation: { virtual_time_ms: number } };
  expect(info.simulation.virtual_time_ms).toBe(2100);

  const late = await (await browser.newContext()).newPage();
  late.on('pageerror', (e) => errors.push(e.message));
  await open(late);
  await expect(late.getByTestId('sim-clock')).toHaveText('t = 2.100 s virtual');

  const a = await seen(early);
  const b = await seen(late);
  // Requests in flight, every one with its method, authority and path; hosts with health checks.
  expect(a.rows.length).toBeGreaterThan(0);
  expect(b.rows.every((r) => r[1] !== '' && r[2] !== '' && r[3] !== '')).toBe(true);
  expect(a.hosts.some(([, h]) => h !== '' && h !== 'health: no health checks')).toBe(true);
  expect(b.rows).toEqual(a.rows);
  expect(b.hosts).toEqual(a.hosts);
  // the downstream node counts the open connections
  expect(a.downstream).toMatch(/\d+ open connection/);
  expect(b.downstream).toEqual(a.downstream);
  // the totals of the whole run, though the late page got only the last 50 events of it
  expect(Number(a.counters.find(([name]) => name === 'requests')?.[1]?.replace(/\D/g, ''))).toBeGreaterThan(50);
  expect(b.counters).toEqual(a.counters);

  for (const [name, page] of [
    ['late-joiner-early', early],
    ['late-joiner-late', late],
  ] as const) {
    const path = testInfo.outputPath(`${name}.png`);
    await page.screenshot({ path });
    await testInfo.attach(name, { path, contentType: 'image/png' });
  }
  expect(errors).toEqual([]);
});
