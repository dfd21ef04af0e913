/**
 * DNS rebinding: a web page whose own name now points at 127.0.0.1 talks to the admin
 * server as same-origin, but its requests still carry `Host: evil.example`. Only this
 * server's names are answered.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { hostOfHeader } from '../src/admin/security';
import { startLive } from './support/stream';

/** A GET (or WebSocket upgrade) with the Host header exactly as given. */
function request(port: number, path: string, host: string | undefined, upgrade = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = host === undefined ? {} : { host };
    if (upgrade) Object.assign(headers, { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' });
    const req = http.request({ host: '127.0.0.1', port, path, headers, setHost: false });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin Host check', () => {
  it('refuses a foreign Host on every endpoint and the WebSocket, with how to allow it', async () => {
    const live = await startLive();
    const port = live.admin.port;
    for (const path of ['/config_dump', '/stats', '/recording', '/', '/admin']) {
      const refused = await request(port, path, 'evil.example');
      expect(refused.status, path).toBe(403);
      expect(refused.body).toContain('--allow-host evil.example');
    }
    expect((await request(port, '/ws', `evil.example:${port}`, true)).status).toBe(403);
    // A name that only looks like ours is not ours.
    expect((await request(port, '/stats', 'localhost.evil.example')).status).toBe(403);
    expect((await request(port, '/stats', '127.0.0.1.nip.io')).status).toBe(403);
  });

  it('answers its own address, localhost, and IP literals', async () => {
    const live = await startLive();
    const port = live.admin.port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'LOCALHOST', `app.localhost:${port}`, '10.1.2.3']) {
      expect((await request(port, '/ready', host)).status, String(host)).toBe(200);
    }
    expect((await request(port, '/ws', `127.0.0.1:${port}`, true)).status).toBe(101);
  });

  it('answers the names given with --allow-host, and a leading dot allows the subdomains', async () => {
    const live = await startLive({ admin: { security: { allowHosts: ['proxyscope.lan', '.workshop.example'] } } });
    const port = live.admin.port;
    for (const host of ['proxyscope.lan', `proxyscope.lan:${port}`, 'workshop.example', 'room-3.workshop.example']) {
      expect((await request(port, '/ready', host)).status, host).toBe(200);
    }
    for (const host of ['other.lan', 'evilworkshop.example']) expect((await request(port, '/ready', host)).status, host).toBe(403);
  });

  it('reads the host out of a Host header', () => {
    expect(hostOfHeader('Example.COM:8080')).toBe('example.com');
    expect(hostOfHeader('[::1]:9901')).toBe('::1');
    expect(hostOfHeader('[nope]')).toBeUndefined();
    expect(hostOfHeader('a:b:c')).toBeUndefined();
  });
});
