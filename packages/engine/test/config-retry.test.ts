/**
 * Loading retry policies (RouteAction.retry_policy, VirtualHost.retry_policy) and the
 * virtual host's attempt-count flags: defaults, every field, and errors at the line to
 * blame. Semantics doc §1.1 and §8.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrap, type ConfigDiagnostic } from '../src/config/index';

const FILE = 'envoy.yaml';

/** One listener, one virtual host (`VHOST_EXTRA` is replaced), one route (`ROUTE_EXTRA` is replaced). */
const BASE = `static_resources:
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
          route_config:
            virtual_hosts:
            - name: backend
              domains: ["*"]
VHOST_EXTRA
              routes:
              - match: { prefix: "/" }
                route:
                  cluster: service
ROUTE_EXTRA
  clusters:
  - name: service
    load_assignment:
      cluster_name: service
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }
`;

/** The config with `route` lines (indented for the route action) and `vhost` lines. */
function yamlWith(route: string, vhost = ''): string {
  const indent = (text: string, spaces: number) =>
    text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => ' '.repeat(spaces) + l)
      .join('\n');
  return BASE.replace('ROUTE_EXTRA\n', route ? indent(route, 18) + '\n' : '').replace('VHOST_EXTRA\n', vhost ? indent(vhost, 14) + '\n' : '');
}

function load(yaml: string) {
  return loadBootstrap(yaml, FILE);
}

function vhostOf(yaml: string) {
  return load(yaml).config.static_resources.listeners[0]!.filter_chains[0]!.hcm!.route_config.virtual_hosts[0]!;
}

function errorsOf(yaml: string): ConfigDiagnostic[] {
  try {
    load(yaml);
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

function lineOf(yaml: string, needle: string): number {
  const index = yaml.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`'${needle}' is not in the config`);
  return index + 1;
}

const ROUTE_PATH = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route';

describe('retry policy: loading', () => {
  it('fills in Envoy defaults: one retry, 25 ms / 250 ms back-off, no per-try timeout', () => {
    const yaml = yamlWith('retry_policy: { retry_on: "5xx" }');
    const { warnings } = load(yaml);
    expect(warnings).toEqual([]);
    expect(vhostOf(yaml).routes[0]!.route!.retry_policy).toEqual({
      retry_on: ['5xx'],
      num_retries: 1,
      per_try_timeout: 0,
      retry_back_off: { base_interval: 25, max_interval: 250 },
      retriable_status_codes: [],
      retriable_headers: [],
      retriable_request_headers: [],
      previous_hosts: false,
      host_selection_retry_max_attempts: 1,
    });
  });

  it('loads every supported field', () => {
    const yaml = yamlWith(`retry_policy:
  retry_on: "5xx, connect-failure,retriable-status-codes"
  num_retries: 3
  per_try_timeout: 0.5s
  retry_back_off: { base_interval: 0.1s, max_interval: 2s }
  rate_limited_retry_back_off:
    reset_headers:
    - { name: Retry-After }
    - { name: X-RateLimit-Reset, format: UNIX_TIMESTAMP }
    max_interval: 60s
  retriable_status_codes: [409, 418]
  retriable_headers: [{ name: x-retry, string_match: { exact: "yes" } }]
  retriable_request_headers: [{ name: ":method", string_match: { exact: GET } }]
  retry_host_predicate:
  - name: envoy.retry_host_predicates.previous_hosts
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate
  host_selection_retry_max_attempts: 5`);
    const { warnings } = load(yaml);
    expect(warnings).toEqual([]);
    expect(vhostOf(yaml).routes[0]!.route!.retry_policy).toEqual({
      retry_on: ['5xx', 'connect-failure', 'retriable-status-codes'],
      num_retries: 3,
      per_try_timeout: 500,
      retry_back_off: { base_interval: 100, max_interval: 2000 },
      rate_limited_retry_back_off: {
        reset_headers: [
          { name: 'retry-after', format: 'SECONDS' },
          { name: 'x-ratelimit-reset', format: 'UNIX_TIMESTAMP' },
        ],
        max_interval: 60_000,
      },
      retriable_status_codes: [409, 418],
      retriable_headers: [{ name: 'x-retry', invert_match: false, string_match: { exact: 'yes', ignore_case: false } }],
      retriable_request_headers: [{ name: ':method', invert_match: false, string_match: { exact: 'GET', ignore_case: false } }],
      previous_hosts: true,
      host_selection_retry_max_attempts: 5,
    });
  });

  it('max_interval defaults to 10 x base_interval; base_interval is whole ms, at least 1', () => {
    const policy = (backOff: string) => vhostOf(yamlWith(`retry_policy: { retry_on: reset, retry_back_off: ${backOff} }`)).routes[0]!.route!.retry_policy!.retry_back_off;
    expect(policy('{ base_interval: 0.04s }')).toEqual({ base_interval: 40, max_interval: 400 });
    expect(policy('{ base_interval: 0.0001s }')).toEqual({ base_interval: 1, max_interval: 10 });
  });

  it('rate_limited_retry_back_off.max_interval defaults to 300 s', () => {
    const yaml = yamlWith('retry_policy: { retry_on: 5xx, rate_limited_retry_back_off: { reset_headers: [{ name: retry-after }] } }');
    expect(vhostOf(yaml).routes[0]!.route!.retry_policy!.rate_limited_retry_back_off!.max_interval).toBe(300_000);
  });

  it('a virtual host takes a retry_policy and the attempt-count flags', () => {
    const yaml = yamlWith('', 'retry_policy: { retry_on: gateway-error, num_retries: 2 }\ninclude_request_attempt_count: true\ninclude_attempt_count_in_response: true');
    const vhost = vhostOf(yaml);
    expect(vhost.retry_policy).toMatchObject({ retry_on: ['gateway-error'], num_retries: 2 });
    expect(vhost.include_request_attempt_count).toBe(true);
    expect(vhost.include_attempt_count_in_response).toBe(true);
    expect(vhost.routes[0]!.route!.retry_policy).toBeUndefined();
  });

  it('host_selection_retry_max_attempts 0 means the default, 1', () => {
    const yaml = yamlWith('retry_policy: { retry_on: 5xx, host_selection_retry_max_attempts: 0 }');
    expect(vhostOf(yaml).routes[0]!.route!.retry_policy!.host_selection_retry_max_attempts).toBe(1);
  });
});

describe('retry policy: errors and warnings', () => {
  it('rejects max_interval below base_interval, at the max_interval value', () => {
    const yaml = yamlWith('retry_policy:\n  retry_on: 5xx\n  retry_back_off:\n    base_interval: 1s\n    max_interval: 0.5s');
    expect(errorsOf(yaml)).toEqual([
      {
        file: FILE,
        line: lineOf(yaml, 'max_interval: 0.5s'),
        column: yaml.split('\n')[lineOf(yaml, 'max_interval: 0.5s') - 1]!.indexOf('0.5s') + 1,
        path: `${ROUTE_PATH}.retry_policy.retry_back_off.max_interval`,
        message: 'max_interval (0.5s) must be greater than or equal to base_interval (1s)',
      },
    ]);
  });

  it('requires base_interval inside retry_back_off, and a positive one', () => {
    const missing = yamlWith('retry_policy: { retry_on: 5xx, retry_back_off: { max_interval: 1s } }');
    expect(errorsOf(missing).map((d) => [d.path, d.message])).toEqual([[`${ROUTE_PATH}.retry_policy.retry_back_off.base_interval`, 'missing required field']]);
    const zero = yamlWith('retry_policy: { retry_on: 5xx, retry_back_off: { base_interval: 0s } }');
    expect(errorsOf(zero).map((d) => d.message)).toEqual(['duration must be greater than 0s, got "0s"']);
  });

  it('rejects a retry host predicate other than previous_hosts, naming the one it has', () => {
    const yaml = yamlWith('retry_policy:\n  retry_on: 5xx\n  retry_host_predicate:\n  - name: envoy.retry_host_predicates.omit_canary_hosts');
    expect(errorsOf(yaml).map((d) => [d.line, d.path, d.message])).toEqual([
      [
        lineOf(yaml, 'omit_canary_hosts'),
        `${ROUTE_PATH}.retry_policy.retry_host_predicate[0].name`,
        'unsupported retry host predicate "envoy.retry_host_predicates.omit_canary_hosts"; ProxyScope implements envoy.retry_host_predicates.previous_hosts',
      ],
    ]);
  });

  it('rejects a previous_hosts predicate whose @type is another extension', () => {
    const yaml = yamlWith('retry_policy:\n  retry_on: 5xx\n  retry_host_predicate:\n  - name: envoy.retry_host_predicates.previous_hosts\n    typed_config: { "@type": type.googleapis.com/x.Y }');
    expect(errorsOf(yaml).map((d) => d.path)).toEqual([`${ROUTE_PATH}.retry_policy.retry_host_predicate[0].typed_config["@type"]`]);
  });

  it('rejects status codes outside 100-599, an empty reset_headers list and an unknown reset format', () => {
    const yaml = yamlWith(`retry_policy:
  retry_on: 5xx
  retriable_status_codes: [503, 700]
  rate_limited_retry_back_off: { reset_headers: [] }`);
    expect(errorsOf(yaml).map((d) => [d.path, d.message])).toEqual([
      [`${ROUTE_PATH}.retry_policy.retriable_status_codes[1]`, 'expected an integer 100-599, got 700'],
      [`${ROUTE_PATH}.retry_policy.rate_limited_retry_back_off.reset_headers`, 'expected at least 1 item'],
    ]);
    const format = yamlWith('retry_policy: { retry_on: 5xx, rate_limited_retry_back_off: { reset_headers: [{ name: a, format: MINUTES }] } }');
    expect(errorsOf(format).map((d) => d.message)).toEqual(['expected one of SECONDS, UNIX_TIMESTAMP, got "MINUTES"']);
  });

  it('warns about an unknown retry_on condition (Envoy ignores it), at the retry_on key', () => {
    const yaml = yamlWith('retry_policy:\n  retry_on: "5xx,gatway-error"');
    const { config, warnings } = load(yaml);
    expect(warnings.map((w) => [w.line, w.path, w.message.split(' (known')[0]])).toEqual([
      [lineOf(yaml, 'gatway-error'), `${ROUTE_PATH}.retry_policy.retry_on`, "unknown retry_on condition 'gatway-error' is ignored"],
    ]);
    expect(config.static_resources.listeners[0]!.filter_chains[0]!.hcm!.route_config.virtual_hosts[0]!.routes[0]!.route!.retry_policy!.retry_on).toEqual(['5xx', 'gatway-error']);
  });

  it('warns that per_try_idle_timeout and retry_priority are unsupported', () => {
    const yaml = yamlWith('retry_policy:\n  retry_on: 5xx\n  per_try_idle_timeout: 1s\n  retry_priority: { name: x }');
    expect(load(yaml).warnings.map((w) => w.message)).toEqual([
      "unsupported field 'per_try_idle_timeout' is ignored",
      "unsupported field 'retry_priority' is ignored",
    ]);
  });
});
