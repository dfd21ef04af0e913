/**
 * Who may use the admin port and its WebSocket: the Origin check on the upgrade (and on
 * POSTs), the token on every request, and the CLI's refusal to bind off loopback without one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, normalizeOrigin } from '../src/admin/security';
import { runCli, startCli } from './support/cli-process';
import { startLive, tempDir, WsProbe } from './support/stream';

/** Without PROXYSCOPE_TOKEN from the environment, so that "no token" means none. */
const run = (args: string[]) => runCli(args, { env: { ...process.env, PROXYSCOPE_TOKEN: '' } });

describe('admin and stream security', () => {
  it('accepts the upgrade with no Origin, the admin page origin, or an allowed one; refuses others', async () => {
    const live = await startLive({ admin: { security: { allowOrigins: ['http://localhost:5173'] } } });
    const port = live.admin.port;
    for (const origin of [undefined, `http://127.0.0.1:${port}`, `http://localhost:${port}`, 'http://localhost:5173']) {
      const probe = await WsProbe.connect(live.wsUrl, origin ? { origin } : {});
      expect((await probe.next('hello', 0)).protocol).toBe(1);
      probe.ws.close();
    }
    for (const origin of ['http://evil.example', `http://127.0.0.1:${port + 1}`, `https://127.0.0.1:${port}`, 'null', 'http://localhost:5174']) {
      expect(await WsProbe.refusedStatus(live.wsUrl, { origin }), origin).toBe(403);
    }
    // Only /ws upgrades.
    expect(await WsProbe.refusedStatus(`ws://127.0.0.1:${port}/stats`)).toBe(404);
    // A POST from another site cannot change state (a form on a web page).
    const post = await fetch(`${live.base}/healthcheck/fail`, { method: 'POST', headers: { origin: 'http://evil.example' } });
    expect(post.status).toBe(403);
    expect(live.proxy.engine.state).toBe('LIVE');
    expect((await fetch(`${live.base}/healthcheck/fail`, { method: 'POST', headers: { origin: `http://127.0.0.1:${port}` } })).status).toBe(200);
  });

  it('with a token, every request and the upgrade must present it', async () => {
    const live = await startLive({ admin: { security: { token: 's3cret-token' } } });
    expect((await fetch(`${live.base}/ready`)).status).toBe(401);
    expect((await fetch(`${live.base}/`)).status).toBe(401);
    expect((await fetch(`${live.base}/ready`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${live.base}/ready`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    expect((await fetch(`${live.base}/ready?token=s3cret-token`)).status).toBe(200);
    expect((await fetch(`${live.base}/recording/start`, { method: 'POST' })).status).toBe(401);
    // The home page carries the token on to its links.
    expect(await (await fetch(`${live.base}/admin?token=s3cret-token`)).text()).toContain('href="/stats?token=s3cret-token"');

    expect(await WsProbe.refusedStatus(live.wsUrl)).toBe(401);
    expect(await WsProbe.refusedStatus(`${live.wsUrl}?token=nope`)).toBe(401);
    const byQuery = await WsProbe.connect(`${live.wsUrl}?token=s3cret-token`);
    await byQuery.next('hello', 0);
    const byHeader = await WsProbe.connect(live.wsUrl, { headers: { authorization: 'Bearer s3cret-token' } });
    await byHeader.next('hello', 0);
  });

  it('knows loopback addresses and checks origins', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '128.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
    expect(normalizeOrigin('http://LOCALHOST:5173/')).toBe('http://localhost:5173');
    expect(() => normalizeOrigin('localhost:5173')).toThrow(/not an origin/);
    expect(() => normalizeOrigin('http://localhost:5173/app')).toThrow(/not an origin/);
  });

  it('refuses to bind the admin off loopback without a token (exit 2), and starts with one', async () => {
    const refused = await run(['--admin', '0.0.0.0:0', '--demo-rps', '0', '--demo-port', '0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('the admin address 0.0.0.0:0 is not loopback');
    expect(refused.stderr).toContain('--token');

    const replay = await run(['replay', 'whatever.ndjson', '--admin', '[::]:0']);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toContain('is not loopback');

    // The bootstrap's admin address is checked too.
    const dir = tempDir();
    const config = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(config, 'admin:\n  address:\n    socket_address: { address: 0.0.0.0, port_value: 0 }\nstatic_resources:\n  listeners: []\n  clusters: []\n');
    const fromConfig = await run(['--config', config]);
    expect(fromConfig.code).toBe(2);
    expect(fromConfig.stderr).toContain('is not loopback');

    // With a token it starts, and wants the token.
    const cli = startCli(['--admin', '0.0.0.0:0', '--token', 'tok-123', '--demo-rps', '0', '--demo-port', '0']);
    const [, port] = await cli.waitForOutput(/admin\s+http:\/\/0\.0\.0\.0:(\d+)\//);
    // The stream line follows the admin line in a separate write.
    await cli.waitForOutput(/stream .*token required/);
    expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/ready`, { headers: { authorization: 'Bearer tok-123' } })).status).toBe(200);
    expect(await cli.stop()).toBe(0);

    expect((await run(['--token', 'has space', '--demo-rps', '0'])).code).toBe(2);
    expect((await run(['--allow-origin', 'localhost:1', '--demo-rps', '0'])).stderr).toContain('--allow-origin');
  });
});
