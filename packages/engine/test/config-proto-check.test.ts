/**
 * The first pass of the loader: the config checked against Envoy's own API (envoy-api/),
 * as Envoy loads a bootstrap (proto3 JSON mapping, then the protoc-gen-validate rules).
 * What Envoy would refuse is an error at its line; what Envoy accepts but ProxyScope does
 * not model is a warning that names it.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrap } from '../src/config/load';
import { checkAgainstEnvoyApi } from '../src/config/envoy-api/check';
import type { ConfigDiagnostic } from '../src/config/types';

const FILE = 'envoy.yaml';

function errorsOf(yaml: string): ConfigDiagnostic[] {
  try {
    loadBootstrap(yaml, FILE);
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

/** The front proxy with `find` replaced (the text must be there). */
function edit(find: string, replace: string): string {
  if (!FRONT_PROXY.includes(find)) throw new Error(`'${find}' is not in the config`);
  return FRONT_PROXY.replace(find, replace);
}

/** Envoy's verdict alone, on a plain object: `[path, message]` per error. */
function apiErrors(config: unknown): [string, string][] {
  return checkAgainstEnvoyApi(config).errors.map((e) => [e.path.join('.'), e.message]);
}

const cluster = (fields: Record<string, unknown>) => ({ static_resources: { clusters: [{ name: 'c', ...fields }] } });
const CLUSTER = 'static_resources.clusters.0';

describe('the Envoy API check in loadBootstrap', () => {
  it('loads a realistic front proxy with no error and no warning (its runtime keys are read)', () => {
    const { config, warnings } = loadBootstrap(FRONT_PROXY, FILE);
    expect(config.static_resources.clusters.map((c) => c.name)).toEqual(['web', 'api', 'api_canary']);
    expect(warnings.map((w) => [w.line, w.message])).toEqual([]);
  });

  it('rejects a typo inside an extension config at its line, with the field it was meant to be', () => {
    const yaml = edit('          stat_prefix: ingress_http', '          stat_prefx: ingress_http');
    const errors = errorsOf(yaml);
    expect(errors).toContainEqual({
      file: FILE,
      line: lineOf(yaml, 'stat_prefx'),
      column: 11,
      path: 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.stat_prefx',
      message: "unknown field 'stat_prefx': HttpConnectionManager has no such field, and Envoy refuses the file (did you mean 'stat_prefix'?)",
    });
  });

  it('warns, naming it, about a field that is valid Envoy but not modelled, and loads the rest', () => {
    const yaml = edit('    dns_lookup_family: V4_ONLY\n', '    dns_lookup_family: V4_ONLY\n    lrs_report_endpoint_metrics: [cpu_utilization]\n');
    const { config, warnings } = loadBootstrap(yaml, FILE);
    expect(warnings).toContainEqual({
      file: FILE,
      line: lineOf(yaml, 'lrs_report_endpoint_metrics'),
      column: 5,
      path: 'static_resources.clusters[0].lrs_report_endpoint_metrics',
      message: "field 'lrs_report_endpoint_metrics' is valid Envoy config but not modelled by ProxyScope; ignored",
    });
    expect(config.static_resources.clusters[0]!.name).toBe('web');
  });

  it('rejects a wrong type (a string for a uint32) in a field ProxyScope does not read', () => {
    const yaml = edit('        max_retries: 3\n', '        max_retries: 3\n        max_connection_pools: lots\n');
    expect(errorsOf(yaml).map((e) => [e.line, e.path, e.message])).toEqual([
      [
        lineOf(yaml, 'max_connection_pools'),
        'static_resources.clusters[0].circuit_breakers.thresholds[0].max_connection_pools',
        'expected an unsigned 32-bit integer, got "lots"',
      ],
    ]);
  });

  it('rejects what breaks a validate rule: a negative connect_timeout, an empty cluster name, a port above 65535', () => {
    let yaml = edit('    connect_timeout: 0.25s', '    connect_timeout: -1s');
    yaml = yaml.replace('      cluster_name: api_canary', '      cluster_name: ""');
    yaml = yaml.replace('address: 10.0.0.12, port_value: 9000', 'address: 10.0.0.12, port_value: 70000');
    expect(errorsOf(yaml).map((e) => [e.line, e.path])).toEqual([
      [lineOf(yaml, 'connect_timeout: -1s'), 'static_resources.clusters[0].connect_timeout'],
      [lineOf(yaml, 'port_value: 70000'), 'static_resources.clusters[1].load_assignment.endpoints[0].lb_endpoints[1].endpoint.address.socket_address.port_value'],
      [lineOf(yaml, 'cluster_name: ""'), 'static_resources.clusters[2].load_assignment.cluster_name'],
    ]);
  });

  it('requires load_assignment.cluster_name, as Envoy does', () => {
    const yaml = edit('      cluster_name: api_canary\n', '');
    expect(errorsOf(yaml).map((e) => [e.line, e.path, e.message])).toEqual([
      [
        yaml.split('\n').lastIndexOf('    load_assignment:') + 1,
        'static_resources.clusters[2].load_assignment.cluster_name',
        "missing required field (Envoy's validation rule for envoy.config.endpoint.v3.ClusterLoadAssignment.cluster_name: value length must be at least 1 runes)",
      ],
    ]);
  });

  it('accepts lowerCamelCase field names and reads them as the snake_case ones', () => {
    const yaml = edit('    connect_timeout: 0.25s\n    lb_policy: round_robin', '    connectTimeout: 2s\n    lbPolicy: least_request');
    const { config, warnings } = loadBootstrap(yaml, FILE);
    expect(warnings.map((w) => w.message)).not.toContainEqual(expect.stringMatching(/connectTimeout|lbPolicy/));
    expect(config.static_resources.clusters[0]).toMatchObject({ connect_timeout: 2000, lb_policy: 'LEAST_REQUEST' });
  });

  it('rejects an Any whose @type Envoy does not know, suggesting the type meant', () => {
    const yaml = edit('envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', 'envoy.extensions.access_loggers.stream.v3.StdoutAccesLog');
    const errors = errorsOf(yaml);
    expect(errors.map((e) => e.line)).toContain(lineOf(yaml, 'StdoutAccesLog'));
    expect(apiErrors(cluster({ cluster_type: { name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfg' } } }))).toEqual([
      [
        `${CLUSTER}.cluster_type.typed_config.@type`,
        "Invalid type URL, unknown type: envoy.extensions.clusters.aggregate.v3.ClusterConfg: Envoy refuses it (did you mean 'envoy.extensions.clusters.aggregate.v3.ClusterConfig'?)",
      ],
    ]);
  });


  it('warns, and checks nothing inside, for an Envoy type its copy of the API lacks and nothing is close to', () => {
    // The golang filter is in Envoy's contrib build only; the descriptor comes from the main API.
    const typed = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.golang.v3alpha.Config', library_id: 'x', anything: [1] };
    const result = checkAgainstEnvoyApi(cluster({ cluster_type: { name: 'x', typed_config: typed } }));
    expect(result.errors).toEqual([]);
    expect(result.warnings.map((w) => w.message)).toEqual([
      "type envoy.extensions.filters.http.golang.v3alpha.Config is not in ProxyScope's copy of Envoy's API (a contrib or newer extension?); its config is not checked",
    ]);
  });

  it('takes a lone value for a repeated field as a list of one, as the JSON parser in Envoy does', () => {
    const yaml = edit('              domains: ["*"]', '              domains: "*"');
    const { config } = loadBootstrap(yaml, FILE);
    const vhosts = config.static_resources.listeners[0].filter_chains[0].hcm!.route_config.virtual_hosts;
    expect(vhosts[vhosts.length - 1].domains).toEqual(['*']);
  });

  it('knows the matcher input types an RBAC or composite matcher names', () => {
    const input = { name: 'h', typed_config: { '@type': 'type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput', header_nme: 'x' } };
    expect(apiErrors(cluster({ cluster_type: { name: 'x', typed_config: { '@type': 'type.googleapis.com/xds.type.matcher.v3.Matcher', matcher_list: { matchers: [{ predicate: { single_predicate: { input, value_match: { exact: 'a' } } }, on_match: { action: { name: 'a', typed_config: { '@type': 'type.googleapis.com/envoy.config.rbac.v3.Action', name: 'n' } } } }] } } } }))).toEqual([
      [`${CLUSTER}.cluster_type.typed_config.matcher_list.matchers.0.predicate.single_predicate.input.typed_config.header_nme`, expect.stringContaining("unknown field 'header_nme'")],
    ]);
  });
  it('rejects two members of one oneof', () => {
    const yaml = edit('    type: STATIC\n    connect_timeout: 0.5s\n    lb_policy: LEAST_REQUEST', '    type: STATIC\n    cluster_type: { name: envoy.clusters.aggregate }\n    connect_timeout: 0.5s\n    lb_policy: LEAST_REQUEST');
    expect(errorsOf(yaml).map((e) => [e.line, e.path, e.message])).toEqual([
      [
        lineOf(yaml, 'cluster_type:'),
        'static_resources.clusters[1].cluster_type',
        "'type' and 'cluster_type' are both set, but they are alternatives (oneof cluster_discovery_type of Cluster); Envoy accepts only one",
      ],
    ]);
  });

  it('accepts enum names in any case, as Envoy parses them', () => {
    const yaml = edit('    dns_lookup_family: V4_ONLY', '    dns_lookup_family: v4_only').replace('    type: STRICT_DNS', '    type: strict_dns');
    expect(() => loadBootstrap(yaml, FILE)).not.toThrow();
    expect(apiErrors(cluster({ lb_policy: 'Maglev', dns_lookup_family: 'v4_preferred' }))).toEqual([]);
    // By number too; a number the enum does not define breaks `defined_only`.
    expect(apiErrors(cluster({ lb_policy: 3 }))).toEqual([]);
    expect(apiErrors(cluster({ lb_policy: 99 }))).toEqual([
      [`${CLUSTER}.lb_policy`, "value must be one of the defined enum values (Envoy's validation rule for envoy.config.cluster.v3.Cluster.lb_policy)"],
    ]);
    expect(apiErrors(cluster({ lb_policy: 'FASTEST' }))).toEqual([
      [`${CLUSTER}.lb_policy`, 'unknown value "FASTEST" for enum Cluster.LbPolicy; expected one of ROUND_ROBIN, LEAST_REQUEST, RING_HASH, RANDOM, MAGLEV, CLUSTER_PROVIDED, LOAD_BALANCING_POLICY_CONFIG'],
    ]);
  });

  it('warns about a deprecated Envoy field that ProxyScope reads, and loads it', () => {
    const yaml = edit('                string_match: { exact: "on" }', '                exact_match: "on"');
    const { warnings } = loadBootstrap(yaml, FILE);
    expect(warnings.map((w) => [w.line, w.message])).toContainEqual([
      lineOf(yaml, 'exact_match'),
      "field 'exact_match' is deprecated in Envoy (envoy.config.route.v3.HeaderMatcher.exact_match); Envoy accepts it with a warning",
    ]);
  });
});

describe('checkAgainstEnvoyApi: the proto3 JSON mapping', () => {
  it('reads well-known types in their JSON form', () => {
    expect(
      apiErrors(
        cluster({
          connect_timeout: { seconds: 1, nanos: 500 },
          per_connection_buffer_limit_bytes: '65536',
          wait_for_warm_on_init: true,
          metadata: { filter_metadata: { 'acme.io': { team: 'payments', tier: 1, tags: ['a', 'b'], nested: { x: null } } } },
          common_lb_config: { healthy_panic_threshold: { value: 40.5 } },
          outlier_detection: { max_ejection_time_jitter: '0.000000001s', consecutive_5xx: 3 },
        }),
      ),
    ).toEqual([]);
    expect(apiErrors(cluster({ connect_timeout: '100ms', per_connection_buffer_limit_bytes: -1, wait_for_warm_on_init: 'maybe' }))).toEqual([
      [`${CLUSTER}.connect_timeout`, 'expected a duration such as "5s" or "0.25s", got "100ms"'],
      [`${CLUSTER}.per_connection_buffer_limit_bytes`, 'expected an unsigned 32-bit integer, got -1 (out of range)'],
      [`${CLUSTER}.wait_for_warm_on_init`, 'expected true or false, got "maybe"'],
    ]);
  });

  it('takes 64-bit integers as numbers or strings, bytes as base64, and map keys of their type', () => {
    const route = (fields: Record<string, unknown>) => ({
      static_resources: {
        listeners: [
          {
            name: 'l',
            address: { socket_address: { address: '0.0.0.0', port_value: 1 } },
            filter_chains: [
              {
                filters: [
                  {
                    name: 'hcm',
                    typed_config: {
                      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                      stat_prefix: 's',
                      route_config: { virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, ...fields }] }] },
                    },
                  },
                ],
              },
            ],
          },
        ],
      },
    });
    const ok = route({ route: { cluster: 'c' }, match: { prefix: '/', headers: [{ name: 'x', range_match: { start: '-9007199254740993', end: 10 } }] } });
    expect(apiErrors(ok)).toEqual([]);
    const tls = {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: { validation_context: { verify_certificate_hash: ['df6ff72fe9116521268f6f2dd4966f51df479883fe7037b39f75916ac3049d1a'] } },
    };
    expect(apiErrors(cluster({ transport_socket: { name: 'tls', typed_config: tls } }))).toEqual([]);
    const wrongBytes = { '@type': 'type.googleapis.com/envoy.config.core.v3.DataSource', inline_bytes: 'not base64!' };
    expect(apiErrors(cluster({ transport_socket: { name: 't', typed_config: wrongBytes } }))).toEqual([
      [`${CLUSTER}.transport_socket.typed_config.inline_bytes`, 'expected base64-encoded bytes, got "not base64!"'],
    ]);
  });

  it('checks an extension config in a TypedStruct as the message its type_url names', () => {
    const typed = (value: unknown) =>
      cluster({ transport_socket: { name: 't', typed_config: { '@type': 'type.googleapis.com/xds.type.v3.TypedStruct', type_url: 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer', value } } });
    expect(apiErrors(typed({}))).toEqual([]);
    expect(apiErrors(typed({ buffer_size: 1 }))).toEqual([
      [`${CLUSTER}.transport_socket.typed_config.value.buffer_size`, "unknown field 'buffer_size': RawBuffer has no such field, and Envoy refuses the file"],
    ]);
  });

  it('gives Envoy’s own validate reasons: duration, string length, integer range', () => {
    const address = { socket_address: { address: '10.0.0.1', port_value: 70000 } };
    const lb = { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] };
    expect(apiErrors({ static_resources: { clusters: [{ name: '', connect_timeout: '-1s', load_assignment: lb }] } })).toEqual([
      [`${CLUSTER}.load_assignment.endpoints.0.lb_endpoints.0.endpoint.address.socket_address.port_value`, "value must be less than or equal to 65535 (Envoy's validation rule for envoy.config.core.v3.SocketAddress.port_value)"],
      [`${CLUSTER}.name`, "value length must be at least 1 runes (Envoy's validation rule for envoy.config.cluster.v3.Cluster.name)"],
      [`${CLUSTER}.connect_timeout`, "value must be greater than 0s (Envoy's validation rule for envoy.config.cluster.v3.Cluster.connect_timeout)"],
    ]);
    expect(apiErrors(cluster({ dns_refresh_rate: '0.0005s' }))).toEqual([
      [`${CLUSTER}.dns_refresh_rate`, "value must be greater than 0.001s (Envoy's validation rule for envoy.config.cluster.v3.Cluster.dns_refresh_rate)"],
    ]);
  });

  it('applies repeated, map, oneof-required and message-required rules', () => {
    expect(apiErrors(cluster({ health_checks: [{ timeout: '1s', interval: '1s', unhealthy_threshold: 1, healthy_threshold: 1 }] }))).toEqual([
      [`${CLUSTER}.health_checks.0`, 'needs one of http_health_check, tcp_health_check, grpc_health_check, custom_health_check (oneof health_checker of envoy.config.core.v3.HealthCheck is required)'],
    ]);
    expect(apiErrors(cluster({ health_checks: [{ interval: '1s', unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }] }))).toEqual([
      [`${CLUSTER}.health_checks.0.timeout`, "value is required (Envoy's validation rule for envoy.config.core.v3.HealthCheck.timeout)"],
    ]);
    expect(apiErrors({ static_resources: { clusters: [{ name: 'c', load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } }, load_balancing_weight: 0 }] }] } }] } })).toEqual([
      [`${CLUSTER}.load_assignment.endpoints.0.lb_endpoints.0.load_balancing_weight`, "value must be greater than or equal to 1 (Envoy's validation rule for envoy.config.endpoint.v3.LbEndpoint.load_balancing_weight)"],
    ]);
  });

  it('warns, not errs, for an Envoy type whose proto the descriptor could not include', () => {
    const log = { name: 'otel', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig', anything: 1 } };
    const result = checkAgainstEnvoyApi({ admin: { access_log: [log] } });
    expect(result.errors).toEqual([]);
    expect(result.warnings.map((w) => w.message)).toEqual([
      "type envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig is not in ProxyScope's copy of Envoy's API; its config is not checked",
    ]);
  });

  it('lets a ProxyScope custom filter config (a type outside Envoy’s API) through unchecked', () => {
    const hcmWith = (filter: unknown) => ({
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: 's',
      http_filters: [filter],
      route_config: {},
    });
    const config = { static_resources: { listeners: [{ name: 'l', filter_chains: [{ filters: [{ name: 'hcm', typed_config: hcmWith({ name: 'example.add_header', typed_config: { '@type': 'type.googleapis.com/example.AddHeader', header: 'x' } }) }] }] }] } };
    expect(checkAgainstEnvoyApi(config)).toMatchObject({ errors: [], warnings: [] });
  });
});

const FRONT_PROXY = `# A front proxy: two virtual hosts in front of a web tier and an API tier.
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 9901 }
static_resources:
  listeners:
  - name: ingress_http
    address:
      socket_address: { address: 0.0.0.0, port_value: 8080 }
    per_connection_buffer_limit_bytes: 32768
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          codec_type: AUTO
          use_remote_address: true
          xff_num_trusted_hops: 1
          server_name: front-proxy
          stream_idle_timeout: 300s
          request_timeout: 60s
          common_http_protocol_options:
            idle_timeout: 3600s
            max_headers_count: 100
          http_protocol_options:
            accept_http_10: false
          access_log:
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
              log_format:
                text_format_source:
                  inline_string: "[%START_TIME%] \\"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\\" %RESPONSE_CODE% %RESPONSE_FLAGS% %DURATION%\\n"
          http_filters:
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: http_local_rate_limiter
              token_bucket:
                max_tokens: 100
                tokens_per_fill: 100
                fill_interval: 1s
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value: { numerator: 100, denominator: HUNDRED }
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value: { numerator: 100, denominator: HUNDRED }
              response_headers_to_add:
              - append_action: OVERWRITE_IF_EXISTS_OR_ADD
                header: { key: x-local-rate-limit, value: "true" }
          - name: envoy.filters.http.fault
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
              abort:
                http_status: 503
                percentage: { numerator: 0, denominator: HUNDRED }
              headers:
              - name: x-chaos
                string_match: { exact: "on" }
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          route_config:
            name: local_route
            request_headers_to_add:
            - header: { key: x-front-proxy, value: "1" }
              append_action: OVERWRITE_IF_EXISTS_OR_ADD
            response_headers_to_remove: [x-internal-debug]
            virtual_hosts:
            - name: api
              domains: ["api.example.com", "api.example.com:*"]
              routes:
              - name: health
                match: { path: /healthz }
                direct_response:
                  status: 200
                  body: { inline_string: "ok\\n" }
              - name: users
                match:
                  prefix: /v1/users
                  headers:
                  - name: x-tenant
                    string_match: { safe_regex: { regex: "^[a-z0-9-]+$" } }
                route:
                  cluster: api
                  timeout: 5s
                  retry_policy:
                    retry_on: 5xx,connect-failure,reset
                    num_retries: 2
                    per_try_timeout: 2s
                    retry_back_off: { base_interval: 0.1s, max_interval: 1s }
                  hash_policy:
                  - header: { header_name: x-user }
              - name: orders
                match: { safe_regex: { regex: "^/v1/orders/[0-9]+$" } }
                route:
                  weighted_clusters:
                    clusters:
                    - name: api
                      weight: 90
                    - name: api_canary
                      weight: 10
              - name: api_rest
                match: { prefix: / }
                route: { cluster: api, timeout: 15s }
            - name: web
              domains: ["*"]
              routes:
              - match: { prefix: /old/ }
                redirect: { prefix_rewrite: /new/, response_code: MOVED_PERMANENTLY }
              - match: { prefix: / }
                route:
                  cluster: web
                  timeout: 30s
                  idle_timeout: 60s
                request_headers_to_add:
                - header: { key: x-served-by, value: web }
  clusters:
  - name: web
    type: STRICT_DNS
    dns_lookup_family: V4_ONLY
    connect_timeout: 0.25s
    lb_policy: round_robin
    common_lb_config:
      healthy_panic_threshold: { value: 50 }
    circuit_breakers:
      thresholds:
      - priority: DEFAULT
        max_connections: 1024
        max_pending_requests: 1024
        max_requests: 1024
        max_retries: 3
    health_checks:
    - timeout: 1s
      interval: 5s
      unhealthy_threshold: 3
      healthy_threshold: 2
      http_health_check:
        path: /healthz
        expected_statuses:
        - { start: 200, end: 300 }
    load_assignment:
      cluster_name: web
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: web.internal, port_value: 8000 }
  - name: api
    type: STATIC
    connect_timeout: 0.5s
    lb_policy: LEAST_REQUEST
    least_request_lb_config: { choice_count: 2 }
    outlier_detection:
      consecutive_5xx: 5
      interval: 10s
      base_ejection_time: 30s
      max_ejection_percent: 50
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        common_http_protocol_options:
          idle_timeout: 60s
          max_requests_per_connection: 1000
        explicit_http_config:
          http_protocol_options: {}
    load_assignment:
      cluster_name: api
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 10.0.0.11, port_value: 9000 }
          load_balancing_weight: 2
        - endpoint:
            address:
              socket_address: { address: 10.0.0.12, port_value: 9000 }
  - name: api_canary
    type: STATIC
    connect_timeout: 0.5s
    load_assignment:
      cluster_name: api_canary
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 10.0.0.21, port_value: 9000 }
`;
