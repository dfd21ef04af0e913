/**
 * The facts behind the request detail's "Decisions" list (docs/trace-format.md): the
 * routes tried before the winner and why each failed, the weighted_clusters draw, and the
 * host set the load balancer picked from. Run on virtual time (support/sim-world.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TraceEvent } from '@proxyscope/protocol';
import type { OutlierDetection } from '../src/config/types';
import { RouteMatcher } from '../src/router/route-matcher';
import { bootstrap, cluster, listener, retryPolicy, route, vhost } from './support/config-builders';
import { SimWorld } from './support/sim-world';
import { loggedHcm, singleClusterConfig } from './support/upstreams';

type Fact = Extract<TraceEvent, { type: 'fact' }>;
const facts = (world: SimWorld, name: string) => world.events.filter((e): e is Fact => e.type === 'fact' && e.fact === name);

/** /api (path), canary (header), beta (runtime_fraction 0%), then the catch-all. */
function fourRoutes() {
  return bootstrap(
    [
      listener(
        loggedHcm([
          vhost('backend', ['*'], [
            route({ name: 'api', match: { prefix: '/api' }, route: { cluster: 'backend' } }),
            route({ name: 'canary', match: { prefix: '/', headers: [{ name: 'x-canary', invert_match: false }] }, route: { cluster: 'backend' } }),
            route({ name: 'beta', match: { prefix: '/', runtime_fraction: { runtime_key: '', default_value: { numerator: 0, denominator: 100 } } }, route: { cluster: 'backend' } }),
            route({ name: 'default', match: { prefix: '/' }, route: { cluster: 'backend' } }),
          ]),
        ]),
      ),
    ],
    [cluster('backend', [8001])],
  );
}

afterEach(() => vi.restoreAllMocks());

describe('route.match candidates', () => {
  it('lists each route tried before the winner with the test that failed it', async () => {
    const world = await SimWorld.start(fourRoutes());
    expect(world.request({ path: '/' }).status).toBe(200);
    const [vhostFact] = facts(world, 'route.virtual_host');
    expect(vhostFact!.data).toMatchObject({ vhost: 'backend', match: 'default', domain: '*' });
    const [match] = facts(world, 'route.match');
    expect(match!.data.route).toBe('default');
    const candidates = match!.data.candidates as Array<Record<string, unknown>>;
    expect(candidates.map((c) => [c.route, c.failed])).toEqual([
      ['api', 'path'],
      ['canary', 'header'],
      ['beta', 'runtime_fraction'],
    ]);
    expect(candidates[0]).toMatchObject({ index: 0, specifier: 'prefix', want: '/api', got: '/' });
    expect(candidates[1]).toMatchObject({ index: 1, header: 'x-canary', value: null });
    expect(candidates[1]!.reason).toContain('absent');
    // 0% of 100: every draw loses; the draw is the stream's random value modulo 100.
    expect(candidates[2]).toMatchObject({ index: 2, numerator: 0, denominator: 100 });
    expect(candidates[2]!.drawn).toBeGreaterThanOrEqual(0);
    expect(candidates[2]!.drawn).toBeLessThan(100);
    expect(match!.data).toMatchObject({ routes: 4 });
    expect(match!.data.more).toBeUndefined();
  });

  it('shows the header value that failed, and an earlier winner leaves fewer candidates', async () => {
    const world = await SimWorld.start(fourRoutes());
    world.request({ path: '/api/x' });
    world.request({ path: '/shop', headers: { host: 'test.local', 'x-canary': 'yes' } });
    const [first, second] = facts(world, 'route.match');
    expect(first!.data).toMatchObject({ route: 'api', candidates: [] });
    expect(second!.data.route).toBe('canary');
    expect((second!.data.candidates as unknown[]).length).toBe(1);
    expect(second!.data.candidates).toMatchObject([{ route: 'api', failed: 'path', got: '/shop' }]);
  });

  it('route.no_match lists every route, capped at 32 with a count of the rest', async () => {
    const routes = Array.from({ length: 40 }, (_, i) => route({ name: `r${i}`, match: { path: `/only-${i}` }, route: { cluster: 'backend' } }));
    const world = await SimWorld.start(bootstrap([listener(loggedHcm([vhost('v', ['*'], routes)]))], [cluster('backend', [8001])]));
    expect(world.request({ path: '/nothing?q=1' }).status).toBe(404);
    const [none] = facts(world, 'route.no_match');
    const candidates = none!.data.candidates as Array<Record<string, unknown>>;
    expect(candidates).toHaveLength(32);
    expect(none!.data.more).toBe(8);
    // An exact path is compared without the query.
    expect(candidates[31]).toMatchObject({ route: 'r31', specifier: 'path', want: '/only-31', got: '/nothing' });
  });

  it('an untraced lookup never works out the explanation', async () => {
    const explain = vi.spyOn(RouteMatcher.prototype, 'explain');
    const world = await SimWorld.start(fourRoutes(), { trace: false });
    expect(world.request({ path: '/' }).status).toBe(200);
    expect(explain).not.toHaveBeenCalled();
    const traced = await SimWorld.start(fourRoutes());
    traced.request({ path: '/' });
    expect(explain).toHaveBeenCalledTimes(1);
  });
});

describe('weighted_clusters draw', () => {
  it('reports the number drawn, the total and each cluster range, and picks the cluster whose range holds it', async () => {
    const config = bootstrap(
      [listener(loggedHcm([vhost('v', ['*'], [route({ name: 'split', match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }], total_weight: 100 } } })])]))],
      [cluster('v1', [8001]), cluster('v2', [8002])],
    );
    const world = await SimWorld.start(config, { upstreams: { '127.0.0.1:8001': { name: 'v1' }, '127.0.0.1:8002': { name: 'v2' } } });
    const bodies: string[] = [];
    for (let i = 0; i < 40; i++) bodies.push(world.request({ path: `/r${i}` }).body);
    const draws = facts(world, 'route.match').map((f) => f.data.weighted as { drawn: number; total: number; picked: string; clusters: Array<{ name: string; range: [number, number] }> });
    expect(draws).toHaveLength(40);
    draws.forEach((d, i) => {
      expect(d.total).toBe(100);
      expect(d.clusters).toEqual([
        { name: 'v1', weight: 90, range: [0, 90] },
        { name: 'v2', weight: 10, range: [90, 100] },
      ]);
      expect(d.picked).toBe(d.drawn < 90 ? 'v1' : 'v2');
      // the cluster the draw names is the one that answered
      expect(bodies[i]!.split(' ')[0]).toBe(d.picked);
    });
    expect(new Set(draws.map((d) => d.picked))).toEqual(new Set(['v1', 'v2']));
  });
});

describe('lb.host_selected host set', () => {
  const detection: OutlierDetection = {
    consecutive_5xx: 3,
    consecutive_gateway_failure: 5,
    enforcing_consecutive_5xx: 100,
    enforcing_consecutive_gateway_failure: 0,
    interval: 10_000,
    base_ejection_time: 30_000,
    max_ejection_time: 300_000,
    max_ejection_percent: 50,
    successful_active_health_check_uneject_host: true,
  };

  it('names the policy, each host with its health, and leaves an ejected host out of the pick', async () => {
    const world = await SimWorld.start(singleClusterConfig([8001, 8002, 8003], { cluster: { outlier_detection: detection } }), {
      upstreams: { '127.0.0.1:8001': { respond: () => ({ status: 500 }) } },
    });
    // Round robin over three hosts: the failing one's third 500 comes within nine requests.
    for (let i = 0; i < 9; i++) world.request({ path: `/r${i}` });
    const ejected = world.engine.clusterManager.get('backend')!.hosts[0]!;
    expect(ejected.healthState).toBe('ejected');
    const before = facts(world, 'lb.host_selected').length;
    world.request({ path: '/after' });
    const after = facts(world, 'lb.host_selected').slice(before);
    expect(after).toHaveLength(1);
    const data = after[0]!.data;
    expect(data).toMatchObject({ policy: 'ROUND_ROBIN', total: 3, healthy: 2, panic: false });
    expect(data.hosts).toEqual([
      { host: '127.0.0.1:8001', health: 'ejected', available: false },
      { host: '127.0.0.1:8002', health: 'healthy', available: true },
      { host: '127.0.0.1:8003', health: 'healthy', available: true },
    ]);
    expect(data.host).not.toBe('127.0.0.1:8001');
  });

  it('in panic mode every host is available again, and the fact says so', async () => {
    const world = await SimWorld.start(singleClusterConfig([8001, 8002, 8003], { cluster: { outlier_detection: { ...detection, max_ejection_percent: 100 } } }), {
      upstreams: { '127.0.0.1:8001': { respond: () => ({ status: 500 }) }, '127.0.0.1:8002': { respond: () => ({ status: 500 }) } },
    });
    for (let i = 0; i < 12; i++) world.request({ path: `/r${i}` });
    const hosts = world.engine.clusterManager.get('backend')!.hosts;
    expect(hosts.map((h) => h.healthState)).toEqual(['ejected', 'ejected', 'healthy']);
    const before = facts(world, 'lb.host_selected').length;
    world.request({ path: '/after' });
    const data = facts(world, 'lb.host_selected').slice(before)[0]!.data;
    // 1 of 3 healthy is below the default healthy_panic_threshold of 50%.
    expect(data).toMatchObject({ healthy: 1, total: 3, panic: true, panicThreshold: 50 });
    expect(data.hosts).toMatchObject([
      { health: 'ejected', available: true },
      { health: 'ejected', available: true },
      { health: 'healthy', available: true },
    ]);
  });

  it('names the hosts the previous_hosts predicate refused on a retry', async () => {
    // Weights 100:1: the balancer picks 8001 again and again, so the retry's first picks are refused.
    const endpoints = [8001, 8002].map((port, i) => ({ address: { address: '127.0.0.1', port_value: port }, load_balancing_weight: i === 0 ? 100 : 1 }));
    const config = singleClusterConfig([8001, 8002], {
      cluster: { endpoints },
      route: { route: { cluster: 'backend', cluster_not_found_response_code: 503, timeout: 15_000, retry_policy: retryPolicy({ previous_hosts: true, host_selection_retry_max_attempts: 300 }) } },
    });
    const world = await SimWorld.start(config, { upstreams: { '127.0.0.1:8001': { respond: () => ({ status: 503 }) } } });
    expect(world.request({ path: '/a' }).status).toBe(200);
    const picks = facts(world, 'lb.host_selected').map((f) => f.data);
    expect(picks.map((p) => p.host)).toEqual(['127.0.0.1:8001', '127.0.0.1:8002']);
    expect(picks[0]!.previousHostsRejected).toBeUndefined();
    const refused = picks[1]!.previousHostsRejected as string[];
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused)).toEqual(new Set(['127.0.0.1:8001']));
    expect(picks[1]).toMatchObject({ policy: 'ROUND_ROBIN', hosts: [{ host: '127.0.0.1:8001', weight: 100 }, { host: '127.0.0.1:8002', weight: 1 }] });
  });
});
