import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { expect, test } from '@playwright/test';
import { generateTrace } from '../bench/browser-load';
import { startStaticHost } from './support/static-host';

/**
 * The built UI on a plain static host, with no ProxyScope server: it runs the built-in
 * demo with the engine in the page (a Web Worker, never knocking on a /ws that is not
 * there, so the console stays clean), and a recorded trace opened in the page replays there.
 */
const DIST = path.resolve('apps/web/dist');
const TRACE = path.resolve('apps/web/test/fixtures/demo.ndjson');

test('runs the demo in the page, then replays a trace file, with no server', async ({ page }, testInfo) => {
  const server = await startStaticHost(DIST);
  const { port } = server;
  try {
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(`http://127.0.0.1:${port}/`);
    // The demo starts at once, on the engine in the page.
    await expect(page.getByTestId('connection')).toContainText('engine in this page', { timeout: 20_000 });
    await expect(page.getByTestId('sim-badge')).toContainText('SIMULATION');
    await expect(page.getByTestId('sim-badge')).toContainText('demo');
    const t = async () => Number(await page.getByTestId('sim-clock').getAttribute('data-t'));
    await expect.poll(t, { timeout: 20_000 }).toBeGreaterThan(500);
    const before = await t();
    await expect.poll(t, { timeout: 10_000 }).toBeGreaterThan(before);
    await expect.poll(async () => page.locator('[data-testid=request-list] tr.row').count(), { timeout: 20_000 }).toBeGreaterThan(3);
    await expect(page.getByTestId('topology-map')).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath('in-page-demo.png') });
    // The scenario's simulated hosts, as a served simulation lists them.
    await page.getByRole('tab', { name: /controls/i }).click();
    await expect(page.getByTestId('sim-fault-note')).toBeVisible();
    await expect(page.getByTestId('controls-panel')).toContainText('web-2');
    // A host fault, carried out by the worker as a scenario event at the current virtual time.
    const api1 = page.getByTestId('controls-panel').locator('tr[data-host="api-1"]');
    await expect(api1).not.toHaveClass(/psc-faulted/);
    await api1.getByRole('button', { name: /^fail 503$/ }).click();
    await expect(api1).toHaveClass(/psc-faulted/);
    await page.getByRole('tab', { name: /^request/i }).click();
    // Pause holds virtual time, as it does against a server.
    await page.getByTestId('sim-play').click();
    await expect(page.getByTestId('sim-state')).toHaveText('paused');
    const paused = await t();
    await page.waitForTimeout(300);
    expect(await t()).toBe(paused);
    // A request picked from the held list (while playing, its rows keep moving under the pointer).
    await page.locator('[data-testid=request-list] tr.row').first().click();
    await expect(page.getByTestId('request-events')).toContainText('ConnectionManagerImpl::ActiveStream::decodeHeaders');

    await page.getByTestId('file-input').setInputFiles(TRACE);
    await expect(page.locator('[data-testid=load-status][data-done=true]')).toBeAttached({ timeout: 20_000 });
    await expect(page.getByTestId('mode')).toHaveText('file');
    await expect.poll(async () => Number(/(\d+)/.exec((await page.getByTestId('request-count').textContent()) ?? '')?.[1] ?? 0)).toBeGreaterThan(10);
    // A request's machines, from the file alone.
    await page.locator('[data-testid=request-list] tr.row').first().click();
    await expect(page.getByTestId('request-events')).toContainText('ConnectionManagerImpl::ActiveStream::decodeHeaders');
    expect(errors).toEqual([]);
    expect(sockets).toEqual([]);
  } finally {
    server.close();
  }
});

test('step mode in the page: a breakpoint holds requests, Step moves one a state, Resume all lets them go', async ({ page }) => {
  const server = await startStaticHost(DIST);
  try {
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await expect(page.getByTestId('connection')).toContainText('engine in this page', { timeout: 20_000 });
    await page.getByRole('tab', { name: /step mode/i }).click();
    const panel = page.getByTestId('breakpoints-panel');
    await panel.getByLabel('machine', { exact: true }).selectOption('router');
    await panel.getByLabel('state', { exact: true }).selectOption('route_matched');
    await panel.getByRole('button', { name: 'Add breakpoint' }).click();
    await expect(panel.getByTestId('breakpoint-list').locator('li')).toHaveCount(1);
    // The demo's traffic reaches the breakpoint: requests wait there, on the worker's clock.
    const held = panel.getByTestId('held-requests').locator('tr');
    await expect(held.first()).toBeVisible({ timeout: 20_000 });
    await expect(held.first()).toContainText('route_matched');
    const stream = await held.first().getAttribute('data-stream');
    await held.first().getByRole('button', { name: 'Step' }).click();
    await expect(panel.getByTestId('last-step')).toHaveAttribute('data-stream', stream!);
    // Remove the breakpoint, then let everything go: the held list empties.
    await panel.getByRole('button', { name: /^remove breakpoint router route_matched/ }).click();
    await panel.getByRole('button', { name: 'Resume all' }).click();
    await expect(panel.getByTestId('held-requests')).toHaveCount(0, { timeout: 20_000 });
    expect(errors).toEqual([]);
  } finally {
    server.close();
  }
});

test('reads a big trace file as two halves at once, with every event and request', async ({ page }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxyscope-e2e-'));
  const file = path.join(dir, 'big.ndjson');
  try {
    // ~40,000 events: over the size (8 MiB) at which the page reads with two workers
    const events = generateTrace(file, 40_000);
    expect(fs.statSync(file).size).toBeGreaterThan(8 * 1024 * 1024);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto('/');
    await page.getByTestId('file-input').setInputFiles(file);
    const status = page.locator('[data-testid=load-status][data-done=true]');
    await expect(status).toBeAttached({ timeout: 30_000 });
    await expect(status).toHaveAttribute('data-workers', '2');
    await expect(status).toContainText(`${events.toLocaleString('en-US')} events loaded`);
    await expect(page.getByTestId('cursor-info')).toContainText(`/${events}`);
    // A request from the second half has its whole life, its ids renumbered right.
    await page.getByTestId('request-filter').fill('status:200 phase:complete');
    const last = page.locator('[data-testid=request-list] tr.row').last();
    await last.click();
    await expect(page.getByTestId('request-events')).toContainText('ConnectionManagerImpl::doEndStream');
    expect(errors).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
