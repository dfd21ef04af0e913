/**
 * Circuit breakers through real sockets on loopback: the pool overflows of §1.3 and
 * worked scenario F of the semantics doc, the `circuit_breakers.default.*` gauges, and
 * retry budgets. Every test ends with the proxy's gauges and the upstream's sockets at 0.
 */
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../src/config/types';
import { StatsStore } from '../src/stats/stats';
import { ResourceManager } from '../src/upstream/resource-manager';
import { cluster } from './support/config-builders';
import { eventually, httpRequest, parseAccessLog, singleClusterConfig, startProxy, startUpstream, type RunningProxy, type Upstream } from './support/upstreams';

const limits = (overrides: Partial<Cluster['circuit_breakers']>): Partial<Cluster> => ({
  circuit_breakers: { max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3, ...overrides },
});

/** Nothing leaks: requests, pending streams, circuit-breaker counts and sockets back to zero. */
async function expectIdle(proxy: RunningProxy, upstream: Upstream): Promise<void> {
  const s = (n: string) => proxy.stat(`cluster.backend.${n}`);
  await eventually(() => s('upstream_rq_active') === 0 && s('upstream_rq_pending_active') === 0, 'no active or pending upstream requests');
  expect(s('circuit_breakers.default.rq_pending_open') + s('circuit_breakers.default.rq_open')).toBe(0);
  await proxy.stop();
  await eventually(() => s('upstream_cx_active') === 0, 'upstream connections closed');
  const resources = proxy.engine.clusterManager.get('backend')!.resources;
  expect([resources.connections.count, resources.pending.count, resources.requests.count, resources.retries.count]).toEqual([0, 0, 0, 0]);
  expect(s('circuit_breakers.default.cx_open')).toBe(0);
  await eventually(() => upstream.openSockets() === 0, 'the upstream sees no open socket');
  await upstream.close();
}

describe('max_pending_requests and max_connections (scenario F)', () => {
  it('A in flight, B pending, C overflows with 503 UO; B then rides A’s connection', async () => {
    const upstream = await startUpstream({ respond: (req) => ({ body: `ok ${req.url}`, delayMs: req.url === '/a' ? 300 : 0 }) });
    const proxy = await startProxy(singleClusterConfig([upstream.port], { cluster: limits({ max_connections: 1, max_pending_requests: 1 }) }));
    const s = (n: string) => proxy.stat(`cluster.backend.${n}`);

    const a = httpRequest(proxy.port, { path: '/a' });
    await eventually(() => upstream.arrivals.length === 1, 'A at the upstream');
    const b = httpRequest(proxy.port, { path: '/b' });
    await eventually(() => s('upstream_rq_pending_active') === 1, 'B pending');
    // A waited for the first connection too, so B is the second pending stream.
    expect(s('upstream_rq_pending_total')).toBe(2);
    expect(s('upstream_cx_overflow')).toBe(1);
    expect(s('circuit_breakers.default.cx_open')).toBe(1);
    expect(s('circuit_breakers.default.rq_pending_open')).toBe(1);

    const c = await httpRequest(proxy.port, { path: '/c' });
    expect(c.status).toBe(503);
    expect(c.headers['x-envoy-overloaded']).toBe('true');
    expect(c.text).toBe('upstream connect error or disconnect/reset before headers. reset reason: overflow');
    expect(s('upstream_rq_pending_overflow')).toBe(1);

    expect((await a).text).toBe('ok /a');
    expect((await b).text).toBe('ok /b');
    // B waited for A's connection instead of opening a second one.
    expect(upstream.connections).toHaveLength(1);
    expect(s('upstream_cx_total')).toBe(1);
    await eventually(() => proxy.logs.length === 3, 'three access-log lines');
    const flags = Object.fromEntries(proxy.logs.map(parseAccessLog).map((l) => [l.path, `${l.status} ${l.flags}`]));
    expect(flags).toEqual({ '/a': '200 -', '/b': '200 -', '/c': '503 UO' });
    await expectIdle(proxy, upstream);
  });

  it('max_pending_requests 1, five concurrent requests to one slow host: exactly the three that overflow get 503 UO', async () => {
    const upstream = await startUpstream({ respond: (req) => ({ body: `ok ${req.url}`, delayMs: 200 }) });
    const proxy = await startProxy(singleClusterConfig([upstream.port], { cluster: limits({ max_connections: 1, max_pending_requests: 1 }) }));
    const responses = await Promise.all([1, 2, 3, 4, 5].map((i) => httpRequest(proxy.port, { path: `/${i}` })));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 503, 503, 503]);
    for (const r of responses.filter((r) => r.status === 503)) expect(r.headers['x-envoy-overloaded']).toBe('true');
    expect(proxy.stat('cluster.backend.upstream_rq_pending_overflow')).toBe(3);
    await eventually(() => proxy.logs.length === 5, 'five access-log lines');
    expect(proxy.logs.map(parseAccessLog).filter((l) => l.flags === 'UO')).toHaveLength(3);
    await expectIdle(proxy, upstream);
  });

  it('max_connections is not a hard failure: requests wait for the connection they may use', async () => {
    const upstream = await startUpstream({ respond: (req) => ({ body: `ok ${req.url}`, delayMs: 50 }) });
    const proxy = await startProxy(singleClusterConfig([upstream.port], { cluster: limits({ max_connections: 1 }) }));
    const responses = await Promise.all([1, 2, 3, 4].map((i) => httpRequest(proxy.port, { path: `/${i}` })));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(upstream.connections).toHaveLength(1);
    expect(proxy.stat('cluster.backend.upstream_cx_overflow')).toBeGreaterThanOrEqual(1);
    await expectIdle(proxy, upstream);
  });

  it('max_requests: a stream that would exceed the cluster’s active requests fails with 503 UO when a connection is ready for it', async () => {
    const upstream = await startUpstream({ respond: (req) => ({ body: `ok ${req.url}`, delayMs: req.url === '/slow' ? 300 : 0 }) });
    const proxy = await startProxy(singleClusterConfig([upstream.port], { cluster: limits({ max_requests: 1 }) }));
    const slow = httpRequest(proxy.port, { path: '/slow' });
    await eventually(() => proxy.stat('cluster.backend.upstream_rq_active') === 1, 'slow request active');
    expect(proxy.stat('cluster.backend.circuit_breakers.default.rq_open')).toBe(1);
    // The second request waits for a new connection; when it is ready the limit is checked.
    const second = await httpRequest(proxy.port, { path: '/second' });
    expect(second.status).toBe(503);
    expect(second.headers['x-envoy-overloaded']).toBe('true');
    expect(proxy.stat('cluster.backend.upstream_rq_pending_overflow')).toBe(1);
    expect((await slow).status).toBe(200);
    await expectIdle(proxy, upstream);
  });
});

describe('circuit-breaker gauges', () => {
  it('track_remaining publishes remaining_* gauges that follow the load and return to the limits', async () => {
    const upstream = await startUpstream({ respond: () => ({ hang: true }) });
    const proxy = await startProxy(
      singleClusterConfig([upstream.port], { cluster: limits({ max_connections: 2, max_pending_requests: 4, max_requests: 3, max_retries: 1, track_remaining: true }) }),
    );
    const g = (n: string) => proxy.stat(`cluster.backend.circuit_breakers.default.${n}`);
    expect([g('remaining_cx'), g('remaining_pending'), g('remaining_rq'), g('remaining_retries')]).toEqual([2, 4, 3, 1]);
    const hung = httpRequest(proxy.port, { path: '/hang' }).catch(() => undefined);
    await eventually(() => g('remaining_rq') === 2, 'one request active');
    expect(g('remaining_cx')).toBe(1);
    expect(g('rq_open')).toBe(0);
    await proxy.stop();
    await hung;
    await eventually(() => g('remaining_rq') === 3 && g('remaining_cx') === 2, 'limits restored after the connection closed');
    await upstream.close();
  });

  it('without track_remaining there are no remaining_* gauges', async () => {
    const upstream = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([upstream.port]));
    await httpRequest(proxy.port);
    expect(proxy.engine.stats.valueOf('cluster.backend.circuit_breakers.default.remaining_rq')).toBeUndefined();
    expect(proxy.engine.stats.valueOf('cluster.backend.circuit_breakers.default.rq_open')).toBe(0);
    await expectIdle(proxy, upstream);
  });
});

describe('retry budget', () => {
  it('replaces max_retries: max(min_retry_concurrency, budget_percent of active + pending requests)', () => {
    const config = cluster('backend', [1], limits({ max_retries: 1, retry_budget: { budget_percent: 20, min_retry_concurrency: 3 } }));
    const resources = new ResourceManager(config, new StatsStore());
    expect(resources.retries.max).toBe(3);
    for (let i = 0; i < 20; i++) resources.requests.inc();
    expect(resources.retries.max).toBe(4);
    for (let i = 0; i < 10; i++) resources.pending.inc();
    expect(resources.retries.max).toBe(6);
    for (let i = 0; i < 6; i++) resources.retries.inc();
    expect(resources.retries.canCreate()).toBe(false);
  });

  it('without a budget the limit is max_retries', () => {
    const resources = new ResourceManager(cluster('backend', [1], limits({ max_retries: 2 })), new StatsStore());
    for (let i = 0; i < 100; i++) resources.requests.inc();
    expect(resources.retries.max).toBe(2);
  });
});
