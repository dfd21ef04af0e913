import { describe, expect, it } from 'vitest';
import { ManualClock, ProxyEngine } from '../src/index';
import * as b from './support/config-builders';
import { MemoryTransport } from './support/memory-transport';

/** Drain queued microtasks (the in-memory transport delivers bytes on them). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

async function start(connectTimeout: number) {
  const clock = new ManualClock();
  const transport = new MemoryTransport();
  const config = b.bootstrap(
    [
      b.listener(
        b.hcm(b.routeConfig([b.vhost('all', ['*'], [b.route({ match: { prefix: '/' }, route: { cluster: 'backend' } })])]), {
          access_log: [{ name: 'envoy.access_loggers.stdout' }],
        }),
        10000,
      ),
    ],
    [b.cluster('backend', [8080], { connect_timeout: connectTimeout })],
  );
  const lines: string[] = [];
  const engine = new ProxyEngine({ config, transport, clock, accessLog: (line) => lines.push(line) });
  await engine.start();
  return { engine, clock, transport, lines };
}

describe('cluster connect_timeout on a simulated clock and transport', () => {
  it('fails the pending request with 503 UF exactly when the timeout elapses', async () => {
    const { engine, clock, transport } = await start(250);
    const client = transport.dial('127.0.0.1', 10000);
    client.write('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
    await settle();
    clock.advance(249);
    await settle();
    expect(client.text()).toBe('');

    clock.advance(1);
    await settle();
    const response = client.text();
    expect(response).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(response).toContain('upstream connect error or disconnect/reset before headers. reset reason: connection timeout');
    expect(engine.stats.valueOf('cluster.backend.upstream_cx_connect_timeout')).toBe(1);
    expect(engine.stats.valueOf('cluster.backend.upstream_cx_connect_fail')).toBe(1);
    expect(engine.stats.valueOf('cluster.backend.upstream_rq_pending_failure_eject')).toBe(1);
    expect(engine.stats.valueOf('cluster.backend.upstream_rq_pending_active')).toBe(0);
    expect(engine.stats.valueOf('cluster.backend.upstream_cx_active')).toBe(0);
    // Leaving `connecting` cancelled the attempt that never answered.
    expect(transport.cancelledConnects).toBe(1);
  });

  it('logs the failure with response flag UF and traces the timeout as a client transition', async () => {
    const { engine, clock, transport, lines } = await start(5000);
    const events: Array<{ machine: string; type: string; from?: string; to?: string; event?: string }> = [];
    engine.tracer.attach((e) => events.push(e as never));
    const client = transport.dial('127.0.0.1', 10000);
    client.write('GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n');
    await settle();
    clock.advance(5000);
    await settle();
    expect(client.text()).toContain(' 503 ');
    const timeout = events.find((e) => e.machine === 'client' && e.type === 'transition' && e.to === 'closed');
    expect(timeout).toMatchObject({ from: 'connecting', event: 'xstate.after.connectTimeout.client.connecting' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/"GET \/x HTTP\/1\.1" 503 UF /);
  });
});
