/**
 * The admin port serves the built web UI at `/` (the Envoy-style home page moved to
 * `/admin`): index.html with a CSP, the bundle under /assets/ with real content types, no
 * way out of the dist directory, a page that says how to build when there is no build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startAdminHttp, text } from '../src/admin/admin-http';
import { AdminSecurity } from '../src/admin/security';
import { tempDir } from './support/stream';

function fakeDist(): string {
  const dist = path.join(tempDir(), 'dist');
  fs.mkdirSync(path.join(dist, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><html><head><title>ProxyScope</title><script type="module" src="./assets/index-abc.js"></script></head></html>');
  fs.writeFileSync(path.join(dist, 'assets', 'index-abc.js'), 'console.log("ui")');
  fs.writeFileSync(path.join(dist, 'assets', 'index-abc.css'), 'body{}');
  fs.writeFileSync(path.join(dist, '..', 'secret.txt'), 'do not serve');
  return dist;
}

async function serve(webDist: string, token?: string) {
  const security = new AdminSecurity({ token });
  const admin = await startAdminHttp({
    host: '127.0.0.1',
    port: 0,
    title: 'ProxyScope admin',
    security,
    webDist,
    endpoints: { '/ready': { help: 'ready', mutating: false, handle: () => text('LIVE\n') } },
  });
  onTestFinished(() => admin.close());
  return `http://127.0.0.1:${admin.port}`;
}

describe('the web UI on the admin port', () => {
  it('serves index.html at / with a CSP, and the bundle with content types', async () => {
    const base = await serve(fakeDist());
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    expect(index.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await index.text();
    expect(html).toContain('./assets/index-abc.js');
    // marked as served by ProxyScope, so the page connects to /ws (a static copy does not)
    expect(html).toContain('<head>\n    <meta name="proxyscope-server" content="admin" />');
    const js = await fetch(`${base}/assets/index-abc.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=UTF-8');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await fetch(`${base}/assets/index-abc.css`)).headers.get('content-type')).toBe('text/css; charset=UTF-8');
  });

  it('moves the admin home page to /admin and keeps /help', async () => {
    const base = await serve(fakeDist());
    const home = await fetch(`${base}/admin`);
    expect(await home.text()).toContain('<h1>ProxyScope admin</h1>');
    const help = await (await fetch(`${base}/help`)).text();
    expect(help).toContain('/: the ProxyScope web UI');
    expect(help).toContain('/admin: Admin home page');
  });

  it('serves nothing outside dist/assets and no fallback for other paths', async () => {
    const base = await serve(fakeDist());
    for (const p of ['/assets/../index.html', '/assets/%2e%2e/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/assets/', '/assets/missing.js', '/index.html', '/some/page']) {
      const res = await fetch(`${base}${p}`);
      expect(res.status, p).toBe(404);
      expect(await res.text(), p).not.toContain('do not serve');
    }
  });

  it('explains how to build when there is no build', async () => {
    const base = await serve(path.join(tempDir(), 'no-dist'));
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build');
    expect((await fetch(`${base}/ready`)).status).toBe(200);
  });

  it('with a token: / needs it, the bundle does not (it holds no data)', async () => {
    const base = await serve(fakeDist(), 'tok-123');
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect((await fetch(`${base}/?token=tok-123`)).status).toBe(200);
    expect((await fetch(`${base}/assets/index-abc.js`)).status).toBe(200);
    expect((await fetch(`${base}/ready`)).status).toBe(401);
  });
});
