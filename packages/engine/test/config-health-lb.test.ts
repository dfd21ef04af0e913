import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrap, type ConfigDiagnostic } from '../src/config/index';

/** Loading health_checks, outlier_detection, the load-balancer options and route hash_policy. */

function config(cluster: string, route = 'route: { cluster: service }'): string {
  return `static_resources:
  listeners:
  - name: ingress
    address:
      socket_address: { address: 0.0.0.0, port_value: 10000 }
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
            - name: backend
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                ${route}
  clusters:
  - name: service
${cluster
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}
    load_assignment:
      cluster_name: service
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }
`;
}

const load = (yaml: string) => loadBootstrap(yaml, 'envoy.yaml');
const clusterOf = (cluster: string) => load(config(cluster)).config.static_resources.clusters[0]!;

function errors(yaml: string): string[] {
  try {
    load(yaml);
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics.map((d: ConfigDiagnostic) => `${d.path}: ${d.message}`);
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

describe('health_checks', () => {
  it('loads an http health check with defaults (expected status 200 only, reuse_connection)', () => {
    const cluster = clusterOf(`health_checks:
- timeout: 1s
  interval: 5s
  unhealthy_threshold: 3
  healthy_threshold: 2
  http_health_check: { path: /healthz }`);
    expect(cluster.health_checks).toEqual([
      {
        timeout: 1000,
        interval: 5000,
        interval_jitter: 0,
        unhealthy_threshold: 3,
        healthy_threshold: 2,
        reuse_connection: true,
        http_health_check: { path: '/healthz', expected_statuses: [{ start: 200, end: 201 }] },
      },
    ]);
  });

  it('keeps host, expected_statuses and interval_jitter; warns about no_traffic_interval', () => {
    const { config: c, warnings } = load(
      config(`health_checks:
- timeout: 0.5s
  interval: 2s
  interval_jitter: 0.1s
  no_traffic_interval: 60s
  unhealthy_threshold: 1
  healthy_threshold: 1
  http_health_check: { path: /h, host: health.local, expected_statuses: [{ start: 200, end: 300 }] }`),
    );
    const check = c.static_resources.clusters[0]!.health_checks![0]!;
    expect(check.interval_jitter).toBe(100);
    expect(check.http_health_check).toEqual({ path: '/h', host: 'health.local', expected_statuses: [{ start: 200, end: 300 }] });
    expect(warnings.map((w) => w.message)).toEqual(["unsupported field 'no_traffic_interval' is ignored"]);
  });

  it('rejects other checkers, a missing checker, an empty range and a second health check', () => {
    const base = 'timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1';
    expect(errors(config(`health_checks: [{ ${base}, tcp_health_check: {} }]`))).toEqual([
      'static_resources.clusters[0].health_checks[0].tcp_health_check: only http_health_check is supported',
    ]);
    expect(errors(config(`health_checks: [{ ${base} }]`))).toEqual([
      'static_resources.clusters[0].health_checks[0]: a health check needs http_health_check (only http_health_check is supported)',
    ]);
    expect(errors(config(`health_checks: [{ ${base}, http_health_check: { path: /h, expected_statuses: [{ start: 300, end: 200 }] } }]`))).toEqual([
      'static_resources.clusters[0].health_checks[0].http_health_check.expected_statuses[0].end: end (200) must be greater than start (300); the range is [start, end)',
    ]);
    const one = `{ ${base}, http_health_check: { path: /h } }`;
    expect(errors(config(`health_checks: [${one}, ${one}]`))).toEqual(['static_resources.clusters[0].health_checks[1]: only one health check per cluster is supported']);
    expect(errors(config(`health_checks: [{ timeout: 1s, interval: 1s, http_health_check: { path: /h } }]`))).toEqual([
      'static_resources.clusters[0].health_checks[0].unhealthy_threshold: missing required field',
      'static_resources.clusters[0].health_checks[0].healthy_threshold: missing required field',
    ]);
  });
});

describe('outlier_detection', () => {
  it("fills in Envoy's defaults", () => {
    expect(clusterOf('outlier_detection: {}').outlier_detection).toEqual({
      consecutive_5xx: 5,
      consecutive_gateway_failure: 5,
      enforcing_consecutive_5xx: 100,
      enforcing_consecutive_gateway_failure: 0,
      interval: 10_000,
      base_ejection_time: 30_000,
      max_ejection_time: 300_000,
      max_ejection_percent: 10,
      successful_active_health_check_uneject_host: true,
    });
  });

  it('raises an unset max_ejection_time to base_ejection_time', () => {
    expect(clusterOf('outlier_detection: { base_ejection_time: 600s }').outlier_detection!.max_ejection_time).toBe(600_000);
  });

  it('warns about success-rate detection and rejects what it cannot do', () => {
    expect(load(config('outlier_detection: { success_rate_minimum_hosts: 3 }')).warnings.map((w) => w.message)).toEqual([
      "unsupported field 'success_rate_minimum_hosts' is ignored",
    ]);
    expect(errors(config('outlier_detection: { split_external_local_origin_errors: true, max_ejection_percent: 101 }'))).toEqual([
      'static_resources.clusters[0].outlier_detection.split_external_local_origin_errors: split_external_local_origin_errors is not supported; local-origin errors count as 5xx',
      'static_resources.clusters[0].outlier_detection.max_ejection_percent: expected an integer 0-100, got 101',
    ]);
    expect(errors(config('outlier_detection: { base_ejection_time: 60s, max_ejection_time: 30s }'))).toEqual([
      'static_resources.clusters[0].outlier_detection.max_ejection_time: max_ejection_time must not be smaller than base_ejection_time',
    ]);
  });
});

describe('load-balancer options', () => {
  it('loads the panic threshold and each policy’s options', () => {
    // The three *_lb_config fields are one oneof in Envoy's Cluster: one per cluster.
    const cluster = clusterOf(`lb_policy: LEAST_REQUEST
common_lb_config: { healthy_panic_threshold: { value: 25 } }
least_request_lb_config: { choice_count: 3, active_request_bias: { default_value: 0.5, runtime_key: lb.bias } }`);
    expect(cluster.common_lb_config).toEqual({ healthy_panic_threshold: 25 });
    expect(cluster.least_request_lb_config).toEqual({ choice_count: 3, active_request_bias: 0.5, active_request_bias_runtime_key: 'lb.bias' });
    expect(clusterOf('lb_policy: RING_HASH\nring_hash_lb_config: { minimum_ring_size: 64 }').ring_hash_lb_config).toEqual({
      minimum_ring_size: 64,
      maximum_ring_size: 8_388_608,
    });
    expect(clusterOf('lb_policy: MAGLEV\nmaglev_lb_config: { table_size: 251 }').maglev_lb_config).toEqual({ table_size: 251 });
  });

  it('leaves every option out when not configured', () => {
    const cluster = clusterOf('lb_policy: RING_HASH');
    expect(cluster).not.toHaveProperty('ring_hash_lb_config');
    expect(cluster).not.toHaveProperty('health_checks');
    expect(cluster).not.toHaveProperty('outlier_detection');
  });

  it('rejects a table size that is not prime, a ring whose minimum exceeds its maximum, and MURMUR_HASH_2', () => {
    expect(errors(config('maglev_lb_config: { table_size: 65536 }'))).toEqual([
      'static_resources.clusters[0].maglev_lb_config.table_size: table_size must be a prime number up to 5000011, got 65536',
    ]);
    expect(errors(config('ring_hash_lb_config: { minimum_ring_size: 2048, maximum_ring_size: 1024, hash_function: MURMUR_HASH_2 }'))).toEqual([
      'static_resources.clusters[0].ring_hash_lb_config.minimum_ring_size: minimum_ring_size (2048) is larger than maximum_ring_size (1024)',
      'static_resources.clusters[0].ring_hash_lb_config.hash_function: hash_function MURMUR_HASH_2 is not supported; use XX_HASH',
    ]);
  });
});

describe('route hash_policy', () => {
  const routeOf = (route: string) => load(config('lb_policy: RING_HASH', route)).config.static_resources.listeners[0]!.filter_chains[0]!.hcm!.route_config.virtual_hosts[0]!.routes[0]!.route!;

  it('loads every kind, terminal defaulting to false', () => {
    const action = routeOf(`route:
                  cluster: service
                  hash_policy:
                  - header: { header_name: X-User }
                  - cookie: { name: session }
                    terminal: true
                  - connection_properties: { source_ip: true }
                  - query_parameter: { name: shard }`);
    expect(action.hash_policy).toEqual([
      { header: { header_name: 'x-user' }, terminal: false },
      { cookie: { name: 'session' }, terminal: true },
      { connection_properties: { source_ip: true }, terminal: false },
      { query_parameter: { name: 'shard' }, terminal: false },
    ]);
  });

  it('needs exactly one kind per entry and refuses filter_state', () => {
    expect(errors(config('', 'route: { cluster: service, hash_policy: [{ terminal: true }] }'))).toEqual([
      `static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.hash_policy[0]: a hash policy needs one of header, cookie, connection_properties, query_parameter, filter_state`,
    ]);
    expect(errors(config('', 'route: { cluster: service, hash_policy: [{ filter_state: { key: k } }] }'))[0]).toContain('hash_policy filter_state is not supported');
  });

  it('warns that a cookie ttl (cookie generation) is not supported', () => {
    const { warnings } = load(config('', 'route: { cluster: service, hash_policy: [{ cookie: { name: s, ttl: 10s } }] }'));
    expect(warnings.map((w) => w.message)).toEqual(["unsupported field 'ttl' is ignored"]);
  });
});
