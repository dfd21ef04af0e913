import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect, test } from '@playwright/test';

/**
 * The built UI on a plain static host, with no ProxyScope server: it says so (without
 * knocking on a /ws that is not there, so the console stays clean), and a recorded trace
 * opened in the page replays there.
 */
const DIST = path.resolve('apps/web/dist');
const TRACE = path.resolve('apps/web/test/fixtures/demo.ndjson');
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

test('replays a trace file from the static build with no server', async ({ page }) => {
  // A static host: files from dist, nothing else (a bucket, python -m http.server...).
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://static');
    const file = path.join(DIST, url.pathname === '/' ? 'index.html' : path.normalize(url.pathname));
    if (!file.startsWith(DIST) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    await expect(page.getByTestId('no-server')).toContainText('no server behind it');

    await page.getByTestId('file-input').setInputFiles(TRACE);
    await expect(page.locator('[data-testid=load-status][data-done=true]')).toBeAttached({ timeout: 20_000 });
    await expect(page.getByTestId('mode')).toHaveText('file');
    await expect.poll(async () => Number(/(\d+)/.exec((await page.getByTestId('request-count').textContent()) ?? '')?.[1] ?? 0)).toBeGreaterThan(10);
    // A request's machines, from the file alone.
    await page.locator('[data-testid=request-list] tr.row').first().click();
    await expect(page.getByTestId('request-events')).toContainText('ConnectionManagerImpl::ActiveStream::decodeHeaders');
    expect(errors).toEqual([]);
  } finally {
    server.close();
  }
});
