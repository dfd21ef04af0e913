/**
 * Circuit breakers on virtual time (support/sim-world.ts): the pool overflows of §1.3 and
 * worked scenario F of the semantics doc, the `circuit_breakers.default.*` gauges, and
 * retry budgets. Concurrent requests are placed at exact virtual instants, so which one
 * overflows is decided by the engine, not by how fast loopback happened to be. Every test
 * ends with the proxy's gauges and the upstream's connections at 0.
 */
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../src/config/types';
import { StatsStore } from '../src/stats/stats';
import { ResourceManager } from '../src/upstream/resource-manager';
import { cluster } from './support/config-builders';
import { SimWorld, type ScriptedUpstreamOptions } from './support/sim-world';
import { singleClusterConfig } from './support/upstreams';

const PORT = 8001;
const UP = `127.0.0.1:${PORT}`;

const limits = (overrides: Partial<Cluster['circuit_breakers']>): Partial<Cluster> => ({
  circuit_breakers: { max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3, ...overrides },
});

function start(cluster: Partial<Cluster>, upstream: ScriptedUpstreamOptions): Promise<SimWorld> {
  return SimWorld.start(singleClusterConfig([PORT], { cluster }), { upstreams: { [UP]: upstream } });
}

/** Nothing leaks: requests, pending streams, circuit-breaker counts and connections back to zero. */
async function expectIdle(world: SimWorld): Promise<void> {
  const s = (n: string) => world.stat(`cluster.backend.${n}`);
  expect([s('upstream_rq_active'), s('upstream_rq_pending_active')]).toEqual([0, 0]);
  expect(s('circuit_breakers.default.rq_pending_open') + s('circuit_breakers.default.rq_open')).toBe(0);
  await world.stop();
  expect(s('upstream_cx_active')).toBe(0);
  const resources = world.engine.clusterManager.get('backend')!.resources;
  expect([resources.connections.count, resources.pending.count, resources.requests.count, resources.retries.count]).toEqual([0, 0, 0, 0]);
  expect(s('circuit_breakers.default.cx_open')).toBe(0);
  expect(world.upstream(UP).openConnections()).toBe(0);
}

const flagsByPath = (world: SimWorld) => Object.fromEntries(world.accessLog().map((l) => [l.path, `${l.status} ${l.flags}`]));

describe('max_pending_requests and max_connections (scenario F)', () => {
  it('A in flight, B pending, C overflows with 503 UO; B then rides A’s connection', async () => {
    const world = await start(limits({ max_connections: 1, max_pending_requests: 1 }), { respond: (req) => ({ body: `ok ${req.path}`, delayMs: req.path === '/a' ? 300 : 0 }) });
    const up = world.upstream(UP);
    const s = (n: string) => world.stat(`cluster.backend.${n}`);
    const t0 = world.now();

    const a = world.send({ path: '/a' });
    world.waitUntil(() => up.arrivals.length === 1, 'A at the upstream');
    const b = world.send({ path: '/b' });
    world.waitUntil(() => s('upstream_rq_pending_active') === 1, 'B pending');
    // A waited for the first connection too, so B is the second pending stream.
    expect(s('upstream_rq_pending_total')).toBe(2);
    expect(s('upstream_cx_overflow')).toBe(1);
    expect(s('circuit_breakers.default.cx_open')).toBe(1);
    expect(s('circuit_breakers.default.rq_pending_open')).toBe(1);

    const c = world.request({ path: '/c' });
    expect(c.status).toBe(503);
    expect(c.headers['x-envoy-overloaded']).toBe('true');
    expect(c.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: overflow');
    expect(c.at).toBe(t0);
    expect(s('upstream_rq_pending_overflow')).toBe(1);

    const resA = world.response(a);
    const resB = world.response(b);
    expect([resA.body, resA.at - t0]).toEqual(['ok /a', 300]);
    // B waited for A's connection instead of opening a second one, and went the moment A was done.
    expect([resB.body, resB.at - t0]).toEqual(['ok /b', 300]);
    expect(up.requests.map((r) => [r.path, r.connection, r.at - t0])).toEqual([
      ['/a', 0, 0],
      ['/b', 0, 300],
    ]);
    expect(up.connections).toBe(1);
    expect(s('upstream_cx_total')).toBe(1);
    expect(flagsByPath(world)).toEqual({ '/a': '200 -', '/b': '200 -', '/c': '503 UO' });
    await expectIdle(world);
  });

  it('max_pending_requests 1, one request in flight and four more at once to the slow host: the three that find the queue full get 503 UO', async () => {
    const world = await start(limits({ max_connections: 1, max_pending_requests: 1 }), { respond: (req) => ({ body: `ok ${req.path}`, delayMs: 200 }) });
    const up = world.upstream(UP);
    const t0 = world.now();
    const first = world.send({ path: '/1' });
    world.waitUntil(() => up.arrivals.length === 1, '/1 at the upstream');
    const rest = [2, 3, 4, 5].map((i) => world.send({ path: `/${i}` }));
    const responses = [first, ...rest].map((client) => world.response(client));
    expect(responses.map((r) => [r.status, r.at - t0])).toEqual([
      [200, 200],
      [200, 400],
      [503, 0],
      [503, 0],
      [503, 0],
    ]);
    for (const r of responses.filter((r) => r.status === 503)) expect(r.headers['x-envoy-overloaded']).toBe('true');
    expect(world.stat('cluster.backend.upstream_rq_pending_overflow')).toBe(3);
    expect(flagsByPath(world)).toEqual({ '/1': '200 -', '/2': '200 -', '/3': '503 UO', '/4': '503 UO', '/5': '503 UO' });
    await expectIdle(world);
  });

  it('five requests at the same instant, before the one connection is up: only the first may wait, four get 503 UO', async () => {
    const world = await start(limits({ max_connections: 1, max_pending_requests: 1 }), { respond: (req) => ({ body: `ok ${req.path}`, delayMs: 200 }) });
    const t0 = world.now();
    const clients = [1, 2, 3, 4, 5].map((i) => world.send({ path: `/${i}` }));
    const responses = clients.map((client) => world.response(client));
    expect(responses.map((r) => [r.status, r.at - t0])).toEqual([
      [200, 200],
      [503, 0],
      [503, 0],
      [503, 0],
      [503, 0],
    ]);
    expect(world.stat('cluster.backend.upstream_rq_pending_overflow')).toBe(4);
    expect(world.upstream(UP).requests.map((r) => r.path)).toEqual(['/1']);
    await expectIdle(world);
  });

  it('max_connections is not a hard failure: requests wait for the connection they may use', async () => {
    const world = await start(limits({ max_connections: 1 }), { respond: (req) => ({ body: `ok ${req.path}`, delayMs: 50 }) });
    const t0 = world.now();
    const clients = [1, 2, 3, 4].map((i) => world.send({ path: `/${i}` }));
    const responses = clients.map((client) => world.response(client));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // One at a time on the one connection: 50 ms each.
    expect(responses.map((r) => r.at - t0)).toEqual([50, 100, 150, 200]);
    expect(world.upstream(UP).connections).toBe(1);
    expect(world.stat('cluster.backend.upstream_cx_overflow')).toBeGreaterThanOrEqual(1);
    await expectIdle(world);
  });

  it('max_requests: a stream that would exceed the cluster’s active requests fails with 503 UO when a connection is ready for it', async () => {
    const world = await start(limits({ max_requests: 1 }), { respond: (req) => ({ body: `ok ${req.path}`, delayMs: req.path === '/slow' ? 300 : 0 }) });
    const t0 = world.now();
    const slow = world.send({ path: '/slow' });
    world.waitUntil(() => world.stat('cluster.backend.upstream_rq_active') === 1, 'slow request active');
    expect(world.stat('cluster.backend.circuit_breakers.default.rq_open')).toBe(1);
    // The second request waits for a new connection; when it is ready the limit is checked.
    const second = world.request({ path: '/second' });
    expect(second.status).toBe(503);
    expect(second.headers['x-envoy-overloaded']).toBe('true');
    expect(world.stat('cluster.backend.upstream_rq_pending_overflow')).toBe(1);
    // It never reached the upstream, though a second connection was opened for it.
    expect(world.upstream(UP).requests.map((r) => r.path)).toEqual(['/slow']);
    const slowRes = world.response(slow);
    expect([slowRes.status, slowRes.at - t0]).toEqual([200, 300]);
    expect(flagsByPath(world)).toEqual({ '/slow': '200 -', '/second': '503 UO' });
    await expectIdle(world);
  });
});

describe('circuit-breaker gauges', () => {
  it('track_remaining publishes remaining_* gauges that follow the load and return to the limits', async () => {
    const world = await start(limits({ max_connections: 2, max_pending_requests: 4, max_requests: 3, max_retries: 1, track_remaining: true }), { respond: () => 'hang' });
    const g = (n: string) => world.stat(`cluster.backend.circuit_breakers.default.${n}`);
    expect([g('remaining_cx'), g('remaining_pending'), g('remaining_rq'), g('remaining_retries')]).toEqual([2, 4, 3, 1]);
    const hung = world.send({ path: '/hang' });
    world.waitUntil(() => g('remaining_rq') === 2, 'one request active');
    expect(g('remaining_cx')).toBe(1);
    expect(g('remaining_pending')).toBe(4);
    expect(g('rq_open')).toBe(0);
    await world.stop();
    expect(hung.closed).toBe(true);
    expect([g('remaining_rq'), g('remaining_cx'), g('remaining_pending')]).toEqual([3, 2, 4]);
    expect(world.upstream(UP).openConnections()).toBe(0);
  });

  it('without track_remaining there are no remaining_* gauges', async () => {
    const world = await start({}, {});
    expect(world.request().status).toBe(200);
    expect(world.engine.stats.valueOf('cluster.backend.circuit_breakers.default.remaining_rq')).toBeUndefined();
    expect(world.engine.stats.valueOf('cluster.backend.circuit_breakers.default.rq_open')).toBe(0);
    await expectIdle(world);
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
