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
import { eventually, httpRequest, loggedHcm, parseAccessLog, startProxy, startUpstream } from './support/upstreams';

const ONE_REQUEST = { max_connections: 1024, max_pending_requests: 1024, max_requests: 1, max_retries: 3 };

/** `/high/*` routes at priority HIGH, everything else at DEFAULT, both to `backend`. */
function priorityConfig(port: number, overrides: Partial<Cluster>) {
  const routes = [
    route({ name: 'high', match: { prefix: '/high/' }, route: { cluster: 'backend', priority: 'HIGH' } }),
    route({ name: 'default', match: { prefix: '/' }, route: { cluster: 'backend' } }),
  ];
  return bootstrap([listener(loggedHcm([vhost('all', ['*'], routes)]))], [cluster('backend', [port], overrides)]);
}

describe('circuit breaker priorities', () => {
  it('DEFAULT full (max_requests 1): DEFAULT overflows with 503 UO while HIGH, at its defaults, still goes through', async () => {
    const up = await startUpstream({ respond: (req) => ({ delayMs: req.url.endsWith('/hold') ? 400 : 0 }) });
    const proxy = await startProxy(priorityConfig(up.port, { circuit_breakers: ONE_REQUEST }));
    const held = httpRequest(proxy.port, { path: '/hold' });
    await eventually(() => up.arrivals.length === 1, 'the first DEFAULT request at the upstream');
    expect(proxy.stat('cluster.backend.circuit_breakers.default.rq_open')).toBe(1);
    expect(proxy.stat('cluster.backend.circuit_breakers.high.rq_open')).toBe(0);

    const overflow = await httpRequest(proxy.port, { path: '/second' });
    expect(overflow.status).toBe(503);
    expect(overflow.headers['x-envoy-overloaded']).toBe('true');

    const high = await httpRequest(proxy.port, { path: '/high/now' });
    expect(high.status).toBe(200);
    expect(high.text).toBe('GET /high/now');
    expect((await held).status).toBe(200);

    await eventually(() => proxy.logs.length === 3, 'three access log lines');
    expect(proxy.logs.map((l) => [parseAccessLog(l).path, parseAccessLog(l).status, parseAccessLog(l).flags])).toEqual([
      ['/second', 503, 'UO'],
      ['/high/now', 200, '-'],
      ['/hold', 200, '-'],
    ]);
    // HIGH requests have pools of their own: the held DEFAULT connection was not theirs.
    expect(up.connectionPorts()).toHaveLength(2);
  });

  it('HIGH thresholds apply to HIGH routes only, with their own gauges', async () => {
    const up = await startUpstream({ respond: (req) => ({ delayMs: req.url.endsWith('/hold') ? 400 : 0 }) });
    const proxy = await startProxy(priorityConfig(up.port, { circuit_breakers_high: ONE_REQUEST }));
    const held = httpRequest(proxy.port, { path: '/high/hold' });
    await eventually(() => up.arrivals.length === 1, 'the first HIGH request at the upstream');
    expect(proxy.stat('cluster.backend.circuit_breakers.high.rq_open')).toBe(1);

    expect((await httpRequest(proxy.port, { path: '/high/second' })).status).toBe(503);
    expect((await httpRequest(proxy.port, { path: '/default' })).status).toBe(200);
    expect((await held).status).toBe(200);
    await eventually(() => proxy.stat('cluster.backend.circuit_breakers.high.rq_open') === 0, 'the HIGH limit to be free again');
    const high = proxy.engine.clusterManager.get('backend')!.highResources;
    await eventually(() => high.requests.count === 0 && high.pending.count === 0, 'no HIGH request counted');
  });

  it('HIGH has Envoy defaults when only DEFAULT is configured', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(priorityConfig(up.port, { circuit_breakers: { max_connections: 2, max_pending_requests: 3, max_requests: 4, max_retries: 5 } }));
    const info = proxy.engine.clusterManager.get('backend')!;
    const limits = (p: 'default' | 'high') => {
      const rm = info.resourceManager(p);
      return [rm.connections.max, rm.pending.max, rm.requests.max, rm.retries.max];
    };
    expect(limits('default')).toEqual([2, 3, 4, 5]);
    expect(limits('high')).toEqual([1024, 1024, 1024, 3]);
  });
});

describe('priority in a bootstrap', () => {
  it('a route priority and HIGH thresholds load without warnings', () => {
    const { config, warnings } = loadBootstrap(
      `static_resources:
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
      - { priority: HIGH, max_requests: 20 }
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }
`,
      'envoy.yaml',
    );
    expect(warnings).toEqual([]);
    expect(config.static_resources.listeners[0]!.filter_chains[0]!.hcm!.route_config.virtual_hosts[0]!.routes[0]!.route!.priority).toBe('HIGH');
    const backend = config.static_resources.clusters[0]!;
    expect([backend.circuit_breakers.max_requests, backend.circuit_breakers_high?.max_requests]).toEqual([10, 20]);
  });
});
