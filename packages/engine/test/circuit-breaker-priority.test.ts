/**
 * Circuit breakers per priority (ClusterInfoImpl::ResourceManagers): a cluster keeps a
 * DEFAULT and a HIGH ResourceManager, a route's `priority: HIGH` picks the HIGH one (and
 * pools of its own), and HIGH without a thresholds entry has Envoy's defaults whatever
 * DEFAULT's limits are.
 */
import { describe, expect, it } from 'vitest';
import { loadBootstrap } from '../src/config/load';
import type { Cluster } from '../src/config/types';
import { bootstrap, cluster, listener, route, vhost } from './support/config-builders';
import { SimWorld } from './support/sim-world';
import { loggedHcm } from './support/upstreams';

const ONE_REQUEST = { max_connections: 1024, max_pending_requests: 1024, max_requests: 1, max_retries: 3 };
const PORT = 8001;
const UP = `127.0.0.1:${PORT}`;

/** `/high/*` routes at priority HIGH, everything else at DEFAULT, both to `backend`; `.../hold` is answered 400 virtual ms late. */
function start(overrides: Partial<Cluster>): Promise<SimWorld> {
  const routes = [
    route({ name: 'high', match: { prefix: '/high/' }, route: { cluster: 'backend', priority: 'HIGH' } }),
    route({ name: 'default', match: { prefix: '/' }, route: { cluster: 'backend' } }),
  ];
  const config = bootstrap([listener(loggedHcm([vhost('all', ['*'], routes)]))], [cluster('backend', [PORT], overrides)]);
  return SimWorld.start(config, { upstreams: { [UP]: { respond: (req) => ({ delayMs: req.path.endsWith('/hold') ? 400 : 0 }) } } });
}

describe('circuit breaker priorities', () => {
  it('DEFAULT full (max_requests 1): DEFAULT overflows with 503 UO while HIGH, at its defaults, still goes through', async () => {
    const world = await start({ circuit_breakers: ONE_REQUEST });
    const up = world.upstream(UP);
    const t0 = world.now();
    const held = world.send({ path: '/hold' });
    world.waitUntil(() => up.arrivals.length === 1, 'the first DEFAULT request at the upstream');
    expect(world.stat('cluster.backend.circuit_breakers.default.rq_open')).toBe(1);
    expect(world.stat('cluster.backend.circuit_breakers.high.rq_open')).toBe(0);

    const overflow = world.request({ path: '/second' });
    expect(overflow.status).toBe(503);
    expect(overflow.headers['x-envoy-overloaded']).toBe('true');

    const high = world.request({ path: '/high/now' });
    expect(high.status).toBe(200);
    expect(high.body).toBe('GET /high/now');
    // Neither waited for the held request.
    expect([overflow.at - t0, high.at - t0]).toEqual([0, 0]);
    const heldRes = world.response(held);
    expect([heldRes.status, heldRes.at - t0]).toEqual([200, 400]);

    expect(world.accessLog().map((l) => [l.path, l.status, l.flags])).toEqual([
      ['/second', 503, 'UO'],
      ['/high/now', 200, '-'],
      ['/hold', 200, '-'],
    ]);
    // HIGH requests have pools of their own: the held DEFAULT connection was not theirs.
    // (Connection 1 was opened for /second, whose max_requests check failed once it was ready.)
    expect(up.requests.map((r) => [r.path, r.connection])).toEqual([
      ['/hold', 0],
      ['/high/now', 2],
    ]);
    expect(up.connections).toBe(3);
  });

  it('HIGH thresholds apply to HIGH routes only, with their own gauges', async () => {
    const world = await start({ circuit_breakers_high: ONE_REQUEST });
    const up = world.upstream(UP);
    const held = world.send({ path: '/high/hold' });
    world.waitUntil(() => up.arrivals.length === 1, 'the first HIGH request at the upstream');
    expect(world.stat('cluster.backend.circuit_breakers.high.rq_open')).toBe(1);
    expect(world.stat('cluster.backend.circuit_breakers.default.rq_open')).toBe(0);

    const second = world.request({ path: '/high/second' });
    expect([second.status, second.headers['x-envoy-overloaded']]).toEqual([503, 'true']);
    expect(world.request({ path: '/default' }).status).toBe(200);
    expect(world.response(held).status).toBe(200);
    expect(world.stat('cluster.backend.circuit_breakers.high.rq_open')).toBe(0);
    const high = world.engine.clusterManager.get('backend')!.highResources;
    expect([high.requests.count, high.pending.count]).toEqual([0, 0]);
    expect(world.accessLog().map((l) => [l.path, l.status, l.flags])).toEqual([
      ['/high/second', 503, 'UO'],
      ['/default', 200, '-'],
      ['/high/hold', 200, '-'],
    ]);
  });

  it('HIGH has Envoy defaults when only DEFAULT is configured', async () => {
    const world = await start({ circuit_breakers: { max_connections: 2, max_pending_requests: 3, max_requests: 4, max_retries: 5 } });
    const info = world.engine.clusterManager.get('backend')!;
    const limits = (p: 'default' | 'high') => {
      const rm = info.resourceManager(p);
      return [rm.connections.max, rm.pending.max, rm.requests.max, rm.retries.max];
    };
    expect(limits('default')).toEqual([2, 3, 4, 5]);
    expect(limits('high')).toEqual([1024, 1024, 1024, 3]);
  });
});

/** A bootstrap as a user writes it: every route at priority HIGH, DEFAULT and HIGH thresholds for `backend`. */
const priorityYaml = (highMaxRequests: number) => `static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: backend, priority: HIGH }
  clusters:
  - name: backend
    circuit_breakers:
      thresholds:
      - { priority: DEFAULT, max_requests: 10 }
      - { priority: HIGH, max_requests: ${highMaxRequests} }
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }
`;

describe('priority in a bootstrap', () => {
  it('a route priority and HIGH thresholds load without warnings', () => {
    const { config, warnings } = loadBootstrap(priorityYaml(20), 'envoy.yaml');
    expect(warnings).toEqual([]);
    expect(config.static_resources.listeners[0]!.filter_chains[0]!.hcm!.route_config.virtual_hosts[0]!.routes[0]!.route!.priority).toBe('HIGH');
    const backend = config.static_resources.clusters[0]!;
    expect([backend.circuit_breakers.max_requests, backend.circuit_breakers_high?.max_requests]).toEqual([10, 20]);
  });

  it('run from that YAML, the HIGH threshold is the one a HIGH route hits', async () => {
    const world = await SimWorld.start(priorityYaml(1), { upstreams: { '127.0.0.1:8080': { respond: (req) => ({ delayMs: req.path === '/hold' ? 100 : 0 }) } } });
    const held = world.send({ path: '/hold' });
    world.waitUntil(() => world.stat('cluster.backend.circuit_breakers.high.rq_open') === 1, 'the HIGH limit to be reached');
    expect(world.stat('cluster.backend.circuit_breakers.default.rq_open')).toBe(0);
    const second = world.request({ path: '/second' });
    expect([second.status, second.headers['x-envoy-overloaded']]).toEqual([503, 'true']);
    expect(world.response(held)).toMatchObject({ status: 200, at: 100 });
    expect(world.request({ path: '/third' }).status).toBe(200);
  });
});
