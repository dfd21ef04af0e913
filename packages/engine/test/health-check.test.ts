import { describe, expect, it } from 'vitest';
import type { HealthCheck } from '../src/config/types';
import { ManualClock } from '../src/seams/clock';
import { ProxyEngine } from '../src/engine';
import * as b from './support/config-builders';
import { MemoryTransport } from './support/memory-transport';
import { eventually, httpRequest, singleClusterConfig, startProxy, startUpstream, type UpstreamResponse } from './support/upstreams';

/**
 * Active HTTP health checking (Cluster.health_checks[0].http_health_check) against real
 * loopback upstreams, with every health-check timer on a ManualClock: nothing is checked
 * until the test moves time.
 */

const INTERVAL = 5000;
const TIMEOUT = 1000;

function healthCheck(overrides: Partial<HealthCheck> = {}, http: Partial<HealthCheck['http_health_check']> = {}): HealthCheck {
  return {
    timeout: TIMEOUT,
    interval: INTERVAL,
    interval_jitter: 0,
    unhealthy_threshold: 2,
    healthy_threshold: 2,
    reuse_connection: true,
    ...overrides,
    http_health_check: { path: '/healthz', expected_statuses: [{ start: 200, end: 201 }], ...http },
  };
}

/** Two upstreams whose /healthz answer the test sets; everything else gets 200. */
async function setup(check: HealthCheck = healthCheck()) {
  const answer: Record<'a' | 'b', UpstreamResponse> = { a: { status: 200 }, b: { status: 200 } };
  const respond = (name: 'a' | 'b') => (req: { url: string }) => (req.url === '/healthz' ? answer[name] : {});
  const a = await startUpstream({ name: 'a', respond: respond('a') });
  const b = await startUpstream({ name: 'b', respond: respond('b') });
  const clock = new ManualClock();
  const proxy = await startProxy(singleClusterConfig([a.port, b.port], { cluster: { health_checks: [check] } }), { clock });
  const cluster = proxy.engine.clusterManager.get('backend')!;
  const [hostA, hostB] = cluster.hosts;
  const hc = (name: string) => proxy.stat(`cluster.backend.health_check.${name}`);
  /** Move past one interval and wait until that round of checks has finished. */
  const nextRound = async () => {
    const done = hc('success') + hc('failure') + 2;
    clock.advance(INTERVAL);
    await eventually(() => hc('success') + hc('failure') === done, 'a round of health checks');
  };
  return { answer, a, b, clock, proxy, cluster, hostA: hostA!, hostB: hostB!, hc, nextRound };
}

const healthChecks = (up: { requests: Array<{ url: string }> }) => up.requests.filter((r) => r.url === '/healthz').length;

describe('active HTTP health checking', () => {
  it('checks every host once before the proxy goes live; one success makes a host healthy', async () => {
    const { a, proxy, hostA, hostB, hc } = await setup();
    expect(proxy.engine.state).toBe('LIVE');
    expect([hostA.healthState, hostB.healthState]).toEqual(['healthy', 'healthy']);
    expect([hc('attempt'), hc('success'), hc('failure'), hc('healthy')]).toEqual([2, 2, 0, 2]);
    const check = a.requests.find((r) => r.url === '/healthz')!;
    expect(check.method).toBe('GET');
    expect(check.headers.host).toBe('backend');
    expect(check.headers['user-agent']).toBe('Envoy/HC');

    const hostEvents = proxy.events.filter((e) => e.machine === 'host_health' && e.ids.host === hostA.key);
    expect(hostEvents.map((e) => e.type)).toEqual(['spawn', 'fact', 'transition']);
    expect(hostEvents[0]).toMatchObject({ type: 'spawn', state: 'pending', actor: `cluster:backend/host:${hostA.key}` });
    expect(hostEvents[1]).toMatchObject({ fact: 'host.health_check', data: { result: 'success', status: 200, firstCheck: true, state: 'pending' } });
    expect(hostEvents[2]).toMatchObject({ from: 'pending', to: 'healthy', event: 'hc.success', envoy: 'HealthCheckerImplBase::ActiveHealthCheckSession::handleSuccess' });
  });

  it('checks again every interval, on the same connection', async () => {
    const { a, clock, hc, nextRound } = await setup();
    clock.advance(INTERVAL - 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(hc('attempt')).toBe(2);
    clock.advance(1);
    await eventually(() => hc('success') === 4, 'the second round');
    await nextRound();
    expect(healthChecks(a)).toBe(3);
    expect(a.connections).toHaveLength(1);
  });

  it('fails a host at once on an unexpected status, stops routing to it and drains its pool', async () => {
    const { answer, a, b, proxy, hostA, hc, nextRound } = await setup();
    // One request each: both hosts now have a keep-alive upstream connection in the pool.
    await httpRequest(proxy.port, { path: '/one' });
    await httpRequest(proxy.port, { path: '/two' });
    expect(proxy.stat('cluster.backend.upstream_cx_active')).toBe(2);

    answer.a = { status: 503 };
    await nextRound();
    expect(hostA.healthState).toBe('unhealthy');
    expect(hostA.healthFlags).toBe('/failed_active_hc');
    expect([hc('failure'), hc('network_failure'), hc('healthy')]).toEqual([1, 0, 1]);
    await eventually(() => proxy.stat('cluster.backend.upstream_cx_active') === 1, "the unhealthy host's pooled connection to close");
    expect(hostA.stats.cx_active).toBe(0);

    const before = a.requests.length;
    for (let i = 0; i < 4; i++) expect((await httpRequest(proxy.port, { path: `/after${i}` })).text).toMatch(/^b /);
    expect(a.requests.length).toBe(before);
    expect(b.requests.filter((r) => r.url.startsWith('/after'))).toHaveLength(4);

    const change = proxy.events.find((e) => e.type === 'transition' && e.machine === 'host_health' && e.to === 'unhealthy');
    expect(change).toMatchObject({ from: 'healthy', event: 'hc.failure', envoy: 'HealthCheckerImplBase::ActiveHealthCheckSession::handleFailure' });
    const fact = proxy.events.find((e) => e.type === 'fact' && e.fact === 'host.health_check' && e.data.result === 'failure');
    expect(fact).toMatchObject({ data: { kind: 'active', status: 503, reason: 'unexpected status 503' } });
    expect(proxy.events.some((e) => e.type === 'fact' && e.fact === 'pool.decision' && e.data.decision === 'drain_connections')).toBe(true);
  });

  it('needs healthy_threshold consecutive successes to bring a host back', async () => {
    const { answer, hostA, nextRound } = await setup();
    answer.a = { status: 500 };
    await nextRound();
    expect(hostA.healthState).toBe('unhealthy');
    answer.a = { status: 200 };
    await nextRound();
    expect(hostA.healthState).toBe('unhealthy');
    await nextRound();
    expect(hostA.healthState).toBe('healthy');
  });

  it('counts refused connections toward unhealthy_threshold', async () => {
    const { a, hostA, hc, nextRound } = await setup();
    await a.close();
    await nextRound();
    expect(hostA.healthState).toBe('healthy');
    expect(hc('network_failure')).toBe(1);
    await nextRound();
    expect(hostA.healthState).toBe('unhealthy');
    expect(hc('network_failure')).toBe(2);
  });

  it('fails a check that takes longer than timeout (a network failure)', async () => {
    const { answer, a, clock, proxy, hostA, hc } = await setup(healthCheck({ unhealthy_threshold: 1 }));
    answer.a = { hang: true };
    const seen = healthChecks(a);
    clock.advance(INTERVAL);
    await eventually(() => a.arrivals.filter((r) => r.url === '/healthz').length === seen + 1, 'the check to arrive');
    await eventually(() => hc('success') === 3, 'the other host to pass');
    clock.advance(TIMEOUT - 1);
    expect(hostA.healthState).toBe('healthy');
    clock.advance(1);
    expect(hostA.healthState).toBe('unhealthy');
    expect(hc('network_failure')).toBe(1);
    const fact = proxy.events.filter((e) => e.type === 'fact' && e.fact === 'host.health_check').at(-1);
    expect(fact).toMatchObject({ data: { result: 'failure', kind: 'network', reason: `timeout after ${TIMEOUT} ms` } });
  });

  it('accepts any status in expected_statuses and fails on x-envoy-immediate-health-check-fail', async () => {
    const { answer, hostA, nextRound } = await setup(healthCheck({}, { expected_statuses: [{ start: 200, end: 300 }] }));
    answer.a = { status: 204 };
    await nextRound();
    expect(hostA.healthState).toBe('healthy');
    answer.a = { status: 200, headers: { 'x-envoy-immediate-health-check-fail': 'true' } };
    await nextRound();
    expect(hostA.healthState).toBe('unhealthy');
  });

  it('stops checking when the engine stops', async () => {
    const { clock, proxy, hc } = await setup();
    await proxy.stop();
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(INTERVAL * 3);
    await new Promise((r) => setTimeout(r, 20));
    expect(hc('attempt')).toBe(2);
  });
});

describe('cluster warm-up', () => {
  it('keeps the server INITIALIZING until every host has had its first check', async () => {
    const clock = new ManualClock();
    const transport = new MemoryTransport(); // upstream connects never complete
    const route = b.route({ match: { prefix: '/' }, route: { cluster: 'backend' } });
    const config = b.bootstrap([b.listener(b.hcm(b.routeConfig([b.vhost('all', ['*'], [route])])), 10000)], [
      b.cluster('backend', [8080, 8081], { health_checks: [healthCheck()] }),
    ]);
    const engine = new ProxyEngine({ config, transport, clock });
    let live = false;
    const started = engine.start().then(() => (live = true));
    for (let i = 0; i < 20; i++) await Promise.resolve();
    const hosts = engine.clusterManager.get('backend')!.hosts;
    expect(engine.state).toBe('INITIALIZING');
    expect(hosts.map((h) => h.healthFlags)).toEqual(['/failed_active_hc/pending_active_hc', '/failed_active_hc/pending_active_hc']);

    clock.advance(TIMEOUT);
    await started;
    expect(live).toBe(true);
    // A first failure of any kind leaves the host failed_active_hc; pending is over.
    expect(hosts.map((h) => h.healthState)).toEqual(['unhealthy', 'unhealthy']);
    expect(transport.cancelledConnects).toBe(2);
    await engine.stop();
  });
});
