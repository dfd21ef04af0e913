import { describe, expect, it } from 'vitest';
import type { HealthCheck } from '../src/config/types';
import { SimWorld, type ScriptedAnswer } from './support/sim-world';
import { singleClusterConfig } from './support/upstreams';

/**
 * Active HTTP health checking (Cluster.health_checks[0].http_health_check) on virtual
 * time (support/sim-world.ts): the first round runs at start-up, then one every INTERVAL
 * virtual ms, so every check's time and every timeout are exact.
 */

const INTERVAL = 5000;
const TIMEOUT = 1000;
const A = '127.0.0.1:8001';
const B = '127.0.0.1:8002';

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
  const answer: Record<'a' | 'b', ScriptedAnswer> = { a: { status: 200 }, b: { status: 200 } };
  const respond = (name: 'a' | 'b') => (req: { path: string }) => (req.path === '/healthz' ? answer[name] : {});
  const world = await SimWorld.start(singleClusterConfig([8001, 8002], { cluster: { health_checks: [check] } }), {
    upstreams: { [A]: { name: 'a', respond: respond('a') }, [B]: { name: 'b', respond: respond('b') } },
  });
  const cluster = world.engine.clusterManager.get('backend')!;
  const [hostA, hostB] = cluster.hosts;
  const hc = (name: string) => world.stat(`cluster.backend.health_check.${name}`);
  /** Run to the next round of checks and through it. */
  const nextRound = () => world.runFor(INTERVAL);
  return { answer, a: world.upstream(A), b: world.upstream(B), world, cluster, hostA: hostA!, hostB: hostB!, hc, nextRound };
}

describe('active HTTP health checking', () => {
  it('checks every host once before the proxy goes live; one success makes a host healthy', async () => {
    const { a, world, hostA, hostB, hc } = await setup();
    expect(world.engine.state).toBe('LIVE');
    expect([hostA.healthState, hostB.healthState]).toEqual(['healthy', 'healthy']);
    expect([hc('attempt'), hc('success'), hc('failure'), hc('healthy')]).toEqual([2, 2, 0, 2]);
    const [check] = a.healthChecks();
    expect(check).toMatchObject({ method: 'GET', path: '/healthz', at: 0 });
    expect(check!.headers.host).toBe('backend');
    expect(check!.headers['user-agent']).toBe('Envoy/HC');

    const hostEvents = world.events.filter((e) => e.machine === 'host_health' && e.ids.host === hostA.key);
    expect(hostEvents.map((e) => e.type)).toEqual(['spawn', 'fact', 'transition']);
    expect(hostEvents[0]).toMatchObject({ type: 'spawn', state: 'pending', actor: `cluster:backend/host:${hostA.key}` });
    expect(hostEvents[1]).toMatchObject({ fact: 'host.health_check', data: { result: 'success', status: 200, firstCheck: true, state: 'pending' } });
    expect(hostEvents[2]).toMatchObject({ from: 'pending', to: 'healthy', event: 'hc.success', envoy: 'HealthCheckerImplBase::ActiveHealthCheckSession::handleSuccess' });
  });

  it('checks again every interval, on the same connection', async () => {
    const { a, world, hc, nextRound } = await setup();
    world.runFor(INTERVAL - 1);
    expect(hc('attempt')).toBe(2);
    world.runFor(1);
    expect([hc('attempt'), hc('success')]).toEqual([4, 4]);
    nextRound();
    expect(a.healthChecks().map((r) => [r.at, r.connection])).toEqual([
      [0, 0],
      [INTERVAL, 0],
      [2 * INTERVAL, 0],
    ]);
    expect(a.connections).toBe(1);
  });

  it('fails a host at once on an unexpected status, stops routing to it and drains its pool', async () => {
    const { answer, a, b, world, hostA, hc, nextRound } = await setup();
    // One request each: both hosts now have a keep-alive upstream connection in the pool.
    world.request({ path: '/one' });
    world.request({ path: '/two' });
    expect(world.stat('cluster.backend.upstream_cx_active')).toBe(2);

    answer.a = { status: 503 };
    nextRound();
    expect(hostA.healthState).toBe('unhealthy');
    expect(hostA.healthFlags).toBe('/failed_active_hc');
    expect([hc('failure'), hc('network_failure'), hc('healthy')]).toEqual([1, 0, 1]);
    // The unhealthy host's pooled connection closed at the failed check, not later.
    expect(world.stat('cluster.backend.upstream_cx_active')).toBe(1);
    expect(hostA.stats.cx_active).toBe(0);
    expect(a.closedAt).toEqual([INTERVAL]);

    const before = a.traffic().length;
    for (let i = 0; i < 4; i++) expect(world.request({ path: `/after${i}` }).body).toMatch(/^b /);
    expect(a.traffic().length).toBe(before);
    expect(b.traffic().filter((r) => r.path.startsWith('/after'))).toHaveLength(4);

    const change = world.events.find((e) => e.type === 'transition' && e.machine === 'host_health' && e.to === 'unhealthy');
    expect(change).toMatchObject({ from: 'healthy', event: 'hc.failure', envoy: 'HealthCheckerImplBase::ActiveHealthCheckSession::handleFailure', t: INTERVAL });
    const fact = world.events.find((e) => e.type === 'fact' && e.fact === 'host.health_check' && e.data.result === 'failure');
    expect(fact).toMatchObject({ data: { kind: 'active', status: 503, reason: 'unexpected status 503' } });
    expect(world.facts('pool.decision').some((d) => d.decision === 'drain_connections')).toBe(true);
  });

  it('needs healthy_threshold consecutive successes to bring a host back', async () => {
    const { answer, hostA, nextRound } = await setup();
    answer.a = { status: 500 };
    nextRound();
    expect(hostA.healthState).toBe('unhealthy');
    answer.a = { status: 200 };
    nextRound();
    expect(hostA.healthState).toBe('unhealthy');
    nextRound();
    expect(hostA.healthState).toBe('healthy');
  });

  it('counts refused connections toward unhealthy_threshold', async () => {
    const { a, hostA, hc, nextRound } = await setup();
    a.down();
    nextRound();
    expect(hostA.healthState).toBe('healthy');
    expect(hc('network_failure')).toBe(1);
    nextRound();
    expect(hostA.healthState).toBe('unhealthy');
    expect(hc('network_failure')).toBe(2);
    expect(a.refused).toBe(2);
  });

  it('fails a check that takes longer than timeout (a network failure)', async () => {
    const { answer, a, world, hostA, hc } = await setup(healthCheck({ unhealthy_threshold: 1 }));
    answer.a = 'hang';
    world.runFor(INTERVAL);
    expect(a.healthChecks().map((r) => r.at)).toEqual([0, INTERVAL]);
    expect(hc('success')).toBe(3);
    world.runFor(TIMEOUT - 1);
    expect(hostA.healthState).toBe('healthy');
    world.runFor(1);
    expect(hostA.healthState).toBe('unhealthy');
    expect(hc('network_failure')).toBe(1);
    const fact = world.events.filter((e) => e.type === 'fact' && e.fact === 'host.health_check').at(-1);
    expect(fact).toMatchObject({ t: INTERVAL + TIMEOUT, data: { result: 'failure', kind: 'network', reason: `timeout after ${TIMEOUT} ms` } });
  });

  it('accepts any status in expected_statuses and fails on x-envoy-immediate-health-check-fail', async () => {
    const { answer, hostA, nextRound } = await setup(healthCheck({}, { expected_statuses: [{ start: 200, end: 300 }] }));
    answer.a = { status: 204 };
    nextRound();
    expect(hostA.healthState).toBe('healthy');
    answer.a = { status: 200, headers: { 'x-envoy-immediate-health-check-fail': 'true' } };
    nextRound();
    expect(hostA.healthState).toBe('unhealthy');
  });

  it('stops checking when the engine stops', async () => {
    const { a, world, hc } = await setup();
    await world.stop();
    expect(world.clock.pendingTimers()).toBe(0);
    world.runFor(INTERVAL * 3);
    expect(hc('attempt')).toBe(2);
    expect(a.openConnections()).toBe(0);
  });
});

describe('cluster warm-up', () => {
  it('keeps the server INITIALIZING until every host has had its first check', async () => {
    // Upstream connects are never answered: the first checks end at their timeout.
    const world = SimWorld.create(singleClusterConfig([8001, 8002], { cluster: { health_checks: [healthCheck()] } }), {
      upstreams: { [A]: { blackhole: true }, [B]: { blackhole: true } },
    });
    let live = false;
    const started = world.engine.start().then((bound) => {
      live = true;
      return bound;
    });
    for (let i = 0; i < 20; i++) await Promise.resolve();
    const hosts = world.engine.clusterManager.get('backend')!.hosts;
    expect(world.engine.state).toBe('INITIALIZING');
    expect(hosts.map((h) => h.healthFlags)).toEqual(['/failed_active_hc/pending_active_hc', '/failed_active_hc/pending_active_hc']);

    world.runFor(TIMEOUT - 1);
    // One platform turn: had the first round settled, start() would have gone on.
    await new Promise((resolve) => setImmediate(resolve));
    expect(world.engine.state).toBe('INITIALIZING');
    expect(live).toBe(false);
    world.runFor(1);
    world.noteListener(await world.drive(started, 'the engine to start'));
    expect(live).toBe(true);
    expect(world.engine.state).toBe('LIVE');
    // LIVE at the check timeout: nothing later had to happen first.
    expect(world.now()).toBe(TIMEOUT);
    // A first failure of any kind leaves the host failed_active_hc; pending is over.
    expect(hosts.map((h) => h.healthState)).toEqual(['unhealthy', 'unhealthy']);
    expect(world.network.cancelledConnects).toBe(2);
    // Live with no healthy host: panic mode (0 of 2 healthy is below 50%) still routes to
    // one, whose connect is not answered either, so the request fails at connect_timeout (5 s).
    const res = world.request();
    expect(res).toMatchObject({ status: 503, body: 'upstream connect error or disconnect/reset before headers. reset reason: connection timeout' });
    expect(res.at).toBe(TIMEOUT + 5000);
    expect(world.accessLog()).toMatchObject([{ status: 503, flags: 'UF' }]);
    expect(world.stat('cluster.backend.lb_healthy_panic')).toBe(1);
  });
});
