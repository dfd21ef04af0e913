/**
 * Real Envoy bootstraps, in the shape of the envoyproxy/examples sandboxes, load as Envoy
 * loads them: unnamed listeners, extensions named anything (the `@type` decides),
 * lower-case enums, HTTP/2 options (warned: HTTP/1.1 is spoken), node / admin access log /
 * tracing / decorator accepted. And a failed load keeps its warnings.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrap, type ConfigDiagnostic } from '../src/config/index';

const FILE = 'envoy.yaml';

function load(text: string) {
  return loadBootstrap(text, FILE);
}

function rejected(text: string): ConfigError {
  try {
    load(text);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

/** 1-based line of the first line containing `needle`. */
function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`'${needle}' is not in the config`);
  return index + 1;
}

function edit(text: string, search: string, replacement: string): string {
  if (!text.includes(search)) throw new Error(`'${search}' is not in the config`);
  return text.replace(search, replacement);
}

const where = (d: ConfigDiagnostic) => `${d.line}: ${d.path}`;

/** The warnings about what ProxyScope does; Envoy's own deprecation notices (admin.access_log_path...) are not these tests' subject. */
function ours(warnings: ConfigDiagnostic[]): ConfigDiagnostic[] {
  return warnings.filter((w) => !/is deprecated in Envoy/.test(w.message));
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The front-proxy sandbox's shape: no listener names, short extension names, lower-case enums. */
const FRONT_PROXY = `node:
  id: front-envoy
  cluster: front-proxy
  metadata: { team: edge }
static_resources:
  listeners:
  - address:
      socket_address:
        address: 0.0.0.0
        port_value: 8080
    filter_chains:
    - filters:
      - name: http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          codec_type: auto
          stat_prefix: ingress_http
          access_log:
          - name: my_stdout_log
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
          - name: to_file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /tmp/front.log
          route_config:
            name: local_route
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes:
              - match: { prefix: "/service/1" }
                route: { cluster: service1 }
                decorator: { operation: checkAvailability }
              - match: { prefix: "/service/2" }
                route: { cluster: service2 }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  - address:
      socket_address:
        address: 0.0.0.0
        port_value: 8443
    filter_chains:
    - filters:
      - name: http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_https
          tracing:
            random_sampling: { value: 50 }
            provider:
              name: envoy.tracers.zipkin
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.ZipkinConfig
                collector_cluster: service1
                collector_endpoint: "/api/v2/spans"
                collector_endpoint_version: HTTP_JSON
          route_config:
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: service1 }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: service1
    type: static
    lb_policy: round_robin
    circuit_breakers:
      thresholds:
      - priority: default
        max_connections: 7
    load_assignment:
      cluster_name: service1
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: 8000 }
  - name: service2
    type: Static
    lb_policy: least_request
    load_assignment:
      cluster_name: service2
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: 8001 }
admin:
  access_log_path: /dev/null
  access_log:
  - name: envoy.access_loggers.stdout
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
  address:
    socket_address: { address: 0.0.0.0, port_value: 8001 }
tracing:
  http:
    name: envoy.tracers.zipkin
    typed_config:
      "@type": type.googleapis.com/envoy.config.trace.v3.ZipkinConfig
      collector_cluster: service1
      collector_endpoint: "/api/v2/spans"
`;

describe('an Envoy sandbox config', () => {
  it('loads without warnings: unnamed listeners, extensions known by @type, any-case enums', () => {
    const { config, warnings } = load(FRONT_PROXY);
    expect(ours(warnings)).toEqual([]);
    const [http, https] = config.static_resources.listeners;
    expect(http.filter_chains[0].hcm!.stat_prefix).toBe('ingress_http');
    expect(http.filter_chains[0].hcm!.codec_type).toBe('AUTO');
    expect(http.filter_chains[0].hcm!.access_log).toEqual([
      { name: 'envoy.access_loggers.stdout' },
      { name: 'envoy.access_loggers.file', path: '/tmp/front.log' },
    ]);
    const [service1, service2] = config.static_resources.clusters;
    expect([service1.type, service1.lb_policy, service2.type, service2.lb_policy]).toEqual(['STATIC', 'ROUND_ROBIN', 'STATIC', 'LEAST_REQUEST']);
    // priority: default is the DEFAULT thresholds entry, so its limit applies and nothing is warned.
    expect(service1.circuit_breakers.max_connections).toBe(7);
    expect(https.filter_chains[0].hcm!.stat_prefix).toBe('ingress_https');
  });

  it('names an unnamed listener like Envoy (a UUID), the same name on every load of the file', () => {
    const first = load(FRONT_PROXY).config.static_resources.listeners.map((l) => l.name);
    const again = load(FRONT_PROXY).config.static_resources.listeners.map((l) => l.name);
    expect(first).toEqual(again);
    expect(first[0]).toMatch(UUID_V4);
    expect(first[1]).toMatch(UUID_V4);
    expect(first[0]).not.toBe(first[1]);
    // Another address is another listener, so another name.
    const moved = load(edit(FRONT_PROXY, 'port_value: 8080', 'port_value: 9090')).config.static_resources.listeners[0].name;
    expect(moved).toMatch(UUID_V4);
    expect(moved).not.toBe(first[0]);
  });

  it('still refuses two listeners with the same explicit name, and leaves unnamed ones alone', () => {
    const named = edit(
      edit(FRONT_PROXY, '  - address:\n      socket_address:\n        address: 0.0.0.0\n        port_value: 8080', '  - name: edge\n    address:\n      socket_address:\n        address: 0.0.0.0\n        port_value: 8080'),
      '  - address:\n      socket_address:\n        address: 0.0.0.0\n        port_value: 8443',
      '  - name: edge\n    address:\n      socket_address:\n        address: 0.0.0.0\n        port_value: 8443',
    );
    const error = rejected(named);
    expect(error.diagnostics.map((d) => d.message)).toEqual(["duplicate listener name 'edge' (also listeners[0])"]);
    const one = load(named.replace('  - name: edge\n    address:\n      socket_address:\n        address: 0.0.0.0\n        port_value: 8443', '  - address:\n      socket_address:\n        address: 0.0.0.0\n        port_value: 8443'));
    expect(one.config.static_resources.listeners.map((l) => l.name)).toEqual(['edge', expect.stringMatching(UUID_V4)]);
  });

  it('keeps node, admin access logs, tracing and route decorators in the loaded config', () => {
    const { config } = load(FRONT_PROXY);
    expect(config.node).toEqual({ id: 'front-envoy', cluster: 'front-proxy', metadata: { team: 'edge' } });
    expect(config.admin).toEqual({
      address: { address: '0.0.0.0', port_value: 8001 },
      access_log_path: '/dev/null',
      access_log: [{ name: 'envoy.access_loggers.stdout' }],
    });
    expect(config.tracing?.http).toEqual({
      name: 'envoy.tracers.zipkin',
      type_url: 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig',
      typed_config: { collector_cluster: 'service1', collector_endpoint: '/api/v2/spans' },
    });
    const [http, https] = config.static_resources.listeners.map((l) => l.filter_chains[0].hcm!);
    expect(http.route_config.virtual_hosts[0].routes[0].decorator).toEqual({ operation: 'checkAvailability', propagate: true });
    expect(http.tracing).toBeUndefined();
    expect(https.tracing).toMatchObject({ random_sampling: 50, client_sampling: 100, overall_sampling: 100, verbose: false, max_path_tag_length: 256 });
    expect(https.tracing?.provider?.name).toBe('envoy.tracers.zipkin');
  });

  it('still names the extension it cannot find, whatever it is called', () => {
    const logger = rejected(edit(FRONT_PROXY, 'name: my_stdout_log', 'name: envoy.access_loggers.open_telemetry').replace(
      'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
      'type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig',
    ));
    expect(logger.diagnostics.some((d) => /access logger "envoy.access_loggers.open_telemetry"/.test(d.message))).toBe(true);
  });

  it('reads any case of an enum value and still refuses values that are not in it', () => {
    const bad = rejected(edit(FRONT_PROXY, 'lb_policy: round_robin', 'lb_policy: fastest'));
    expect(bad.diagnostics.map((d) => [d.line, d.message])).toEqual([
      [lineOf(FRONT_PROXY, 'lb_policy: round_robin'), expect.stringContaining('expected one of ROUND_ROBIN')],
    ]);
    const eds = rejected(edit(FRONT_PROXY, 'type: Static', 'type: eds'));
    expect(eds.diagnostics.map((d) => d.message)).toEqual([expect.stringContaining('cluster type EDS is not supported')]);
  });
});

// ---------------------------------------------------------------------------------------
// HTTP/2

const H2_CLUSTER = `  - name: grpc
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: { max_concurrent_streams: 100 }
    load_assignment:
      cluster_name: grpc
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9000 } } }
`;

function withCluster(cluster: string): string {
  return edit(FRONT_PROXY, '  - name: service2\n', `${cluster}  - name: service2\n`);
}

describe('HTTP/2 options', () => {
  it('loads an HTTP/2 upstream cluster as HTTP/1.1, with one warning at the field', () => {
    const text = withCluster(H2_CLUSTER);
    const { config, warnings } = load(text);
    expect(ours(warnings).map(where)).toEqual([
      `${lineOf(text, 'http2_protocol_options')}: static_resources.clusters[1].typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http2_protocol_options`,
    ]);
    expect(ours(warnings)[0].message).toMatch(/ProxyScope speaks HTTP\/1\.1 to this cluster/);
    expect(config.static_resources.clusters.map((c) => c.name)).toEqual(['service1', 'grpc', 'service2']);
  });

  it('warns once per cluster however many fields ask for HTTP/2 (legacy field, auto_config)', () => {
    const legacy = withCluster(edit(H2_CLUSTER, '    load_assignment:', '    http2_protocol_options: {}\n    load_assignment:'));
    expect(ours(load(legacy).warnings).map(where)).toEqual([`${lineOf(legacy, '    http2_protocol_options: {}')}: static_resources.clusters[1].http2_protocol_options`]);
    const auto = withCluster(edit(H2_CLUSTER, '        explicit_http_config:\n          http2_protocol_options: { max_concurrent_streams: 100 }', '        auto_config:\n          http2_protocol_options: {}\n          http_protocol_options: {}'));
    expect(ours(load(auto).warnings).map((w) => [w.line, w.message])).toEqual([[lineOf(auto, 'auto_config'), expect.stringMatching(/HTTP\/1\.1 to this cluster/)]]);
  });

  it('still refuses HTTP/3 upstream', () => {
    const h3 = withCluster(edit(H2_CLUSTER, 'http2_protocol_options: { max_concurrent_streams: 100 }', 'http3_protocol_options: {}'));
    expect(rejected(h3).diagnostics.map((d) => d.message)).toEqual(['only HTTP/1.1 is supported']);
  });

  it('loads a downstream codec_type HTTP2 (or http2_protocol_options) with one warning: the listener speaks HTTP/1.1', () => {
    const text = edit(FRONT_PROXY, 'codec_type: auto', 'codec_type: HTTP2\n          http2_protocol_options: {}');
    const { config, warnings } = load(text);
    expect(ours(warnings).map((w) => [w.line, w.path.split('.').pop(), w.message])).toEqual([
      [lineOf(text, 'codec_type: HTTP2'), 'codec_type', expect.stringContaining('this listener speaks HTTP/1.1 only')],
    ]);
    expect(config.static_resources.listeners[0].filter_chains[0].hcm!.codec_type).toBe('AUTO');
  });
});

// ---------------------------------------------------------------------------------------
// Failed loads

describe('a config that fails to load', () => {
  it('keeps the warnings found before the error', () => {
    const text = edit(edit(FRONT_PROXY, 'stat_prefix: ingress_http', 'stat_prefix: ingress_http\n          add_user_agent: true'), 'port_value: 8000', 'port_value: 70000');
    const error = rejected(text);
    expect(error.diagnostics.map((d) => d.line)).toEqual([lineOf(text, 'port_value: 70000')]);
    expect(ours(error.warnings).map((w) => [w.line, w.message])).toEqual([[lineOf(text, 'add_user_agent'), "unsupported field 'add_user_agent' is ignored"]]);
  });

  it('says a cluster specifier plugin is not supported, at its line, instead of asking for a cluster', () => {
    for (const field of ['inline_cluster_specifier_plugin', 'cluster_specifier_plugin']) {
      const plugin =
        field === 'inline_cluster_specifier_plugin'
          ? [
              'inline_cluster_specifier_plugin:',
              '  extension:',
              '    name: envoy.router.cluster_specifier_plugin.lua',
              '    typed_config:',
              '      "@type": type.googleapis.com/envoy.extensions.router.cluster_specifiers.lua.v3.LuaConfig',
              `      source_code: { inline_string: "function envoy_on_route_cluster(h) return 'service1' end" }`,
            ]
          : ['cluster_specifier_plugin: lua_plugin'];
      const indent = ' '.repeat(18);
      const text = edit(FRONT_PROXY, 'route: { cluster: service2 }', `route:\n${plugin.map((l) => indent + l).join('\n')}`);
      const error = rejected(text);
      expect(error.diagnostics.map((d) => [d.line, d.message])).toEqual([
        [lineOf(text, `${field}:`), `${field} is not supported by ProxyScope; use cluster, cluster_header or weighted_clusters`],
      ]);
    }
  });
});
