import { describe, expect, it } from 'vitest';
import { isMap, isSeq, parseDocument } from 'yaml';
import { ConfigError, formatDiagnostic, loadBootstrap, parseDuration, type Bootstrap, type ConfigDiagnostic } from '../src/config/index';

// ---------------------------------------------------------------------------------------
// Helpers

const FILE = 'envoy.yaml';

function load(yaml: string) {
  return loadBootstrap(yaml, FILE);
}

/** The diagnostics of a config that must be rejected. */
function errorsOf(yaml: string): ConfigDiagnostic[] {
  try {
    load(yaml);
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

/** 1-based line of the `nth` line containing `needle`. */
function lineOf(yaml: string, needle: string, nth = 1): number {
  const lines = yaml.split('\n');
  let seen = 0;
  const index = lines.findIndex((line) => line.includes(needle) && ++seen === nth);
  if (index < 0) throw new Error(`'${needle}' is not in the config`);
  return index + 1;
}

/** `text` with `search` replaced, failing loudly if `search` is not there. */
function edit(text: string, search: string, replacement: string): string {
  if (!text.includes(search)) throw new Error(`'${search}' is not in the config`);
  return text.replace(search, replacement);
}

const HCM_PATH = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
const ROUTES_PATH = `${HCM_PATH}.route_config.virtual_hosts[0].routes`;

/** The smallest useful config; tests edit it to break one thing. */
const MINIMAL = `static_resources:
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
            name: local_route
            virtual_hosts:
            - name: backend
              domains: ["example.com"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: service }
  clusters:
  - name: service
    load_assignment:
      cluster_name: service
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: 8080 }
  - name: other
    type: STRICT_DNS
    load_assignment:
      cluster_name: other
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: other.internal, port_value: 8081 }
`;

const NO_MUTATIONS = {
  request_headers_to_add: [],
  request_headers_to_remove: [],
  response_headers_to_add: [],
  response_headers_to_remove: [],
};

// ---------------------------------------------------------------------------------------
// A full config

const FULL = `admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 9901 }
static_resources:
  listeners:
  - name: ingress
    address:
      socket_address: { address: 0.0.0.0, port_value: 10000 }
    per_connection_buffer_limit_bytes: 32768
    filter_chains:
    - name: internal
      filter_chain_match:
        destination_port: 10000
        source_prefix_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 8 }]
        source_ports: [1234]
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: internal_http
          codec_type: HTTP1
          use_remote_address: true
          xff_num_trusted_hops: 1
          max_request_headers_kb: 8
          stream_idle_timeout: 1.5s
          request_timeout: { seconds: 10 }
          server_name: proxyscope
          generate_request_id: false
          strip_any_host_port: true
          common_http_protocol_options: { idle_timeout: 30s, max_headers_count: 50, max_requests_per_connection: 100 }
          http_protocol_options: { accept_http_10: true }
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /tmp/access.log
              log_format:
                text_format_source: { inline_string: "%START_TIME% %RESPONSE_CODE%\\n" }
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
          http_filters:
          - name: envoy.filters.http.buffer
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer
              max_request_bytes: 1024
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          route_config:
            name: internal_routes
            ignore_port_in_host_matching: true
            request_headers_to_add:
            - header: { key: X-Env, value: prod }
              append: false
            response_headers_to_remove: [Server]
            virtual_hosts:
            - name: shop
              domains: ["Shop.example.com", "*.shop.example.com"]
              response_headers_to_add:
              - header: { key: x-served-by, value: proxyscope }
                append_action: ADD_IF_ABSENT
              routes:
              - name: api
                match:
                  prefix: /api/
                  case_sensitive: false
                  headers:
                  - { name: X-Version, exact_match: v2 }
                  - { name: x-user, string_match: { prefix: admin, ignore_case: true }, invert_match: true }
                  - { name: x-debug, present_match: true }
                  - { name: x-shard, range_match: { start: 0, end: "10" } }
                  - { name: x-trace }
                  - { name: x-id, safe_regex_match: { google_re2: {}, regex: "[0-9]+" } }
                route:
                  cluster: api
                  regex_rewrite: { pattern: { regex: "^/api/(.*)$" }, substitution: "/v1/\\\\1" }
                  host_rewrite_literal: api.internal
                  cluster_not_found_response_code: NOT_FOUND
                  timeout: 0s
              - match: { path_separated_prefix: /old }
                redirect: { host_redirect: new.example.com, response_code: FOUND, strip_query: true }
              - match: { safe_regex: { regex: "/health(z)?" } }
                direct_response: { status: 200, body: { inline_bytes: "b2sK" } }
              - match: { path: /teapot }
                direct_response: { status: 418, body: { inline_string: "I'm a teapot" } }
              - match: { prefix: / }
                route:
                  weighted_clusters:
                    total_weight: 100
                    clusters: [{ name: web, weight: 90 }, { name: api, weight: 10 }]
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: public_http
          http_filters:
          - name: envoy.filters.http.router
          route_config:
            virtual_hosts:
            - name: public
              domains: ["*"]
              routes:
              - match: { prefix: / }
                route: { cluster: web }
  clusters:
  - name: web
    connect_timeout: 0.25s
    lb_policy: LEAST_REQUEST
    per_connection_buffer_limit_bytes: 65536
    circuit_breakers:
      thresholds:
      - { priority: DEFAULT, max_connections: 8, max_pending_requests: 16 }
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        common_http_protocol_options: { idle_timeout: 60s, max_requests_per_connection: 1 }
        explicit_http_config: { http_protocol_options: {} }
    load_assignment:
      cluster_name: web
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: 8080 }
        - endpoint:
            address:
              socket_address: { address: "::1", port_value: 8081 }
          load_balancing_weight: 3
  - name: api
    type: STRICT_DNS
    max_requests_per_connection: 10
    load_assignment:
      cluster_name: api
      endpoints:
      - lb_endpoints:
        - endpoint:
            hostname: api.internal
            address:
              socket_address: { address: api.internal, port_value: "9000" }
`;

describe('a full config', () => {
  it('loads every supported field, with defaults filled in', () => {
    const { config, warnings } = load(FULL);
    // Envoy's deprecated fields that ProxyScope still reads load with Envoy's warning, nothing else.
    expect(warnings.map((w) => w.path.split('.').pop())).toEqual([
      'append', 'exact_match', 'safe_regex_match', 'google_re2', 'total_weight', 'max_requests_per_connection',
    ]);
    expect(warnings.every((w) => / is deprecated in Envoy \(envoy\.[\w.]+\); Envoy accepts it with a warning$/.test(w.message))).toBe(true);
    const expected: Bootstrap = {
      admin: { address: { address: '127.0.0.1', port_value: 9901 } },
      static_resources: {
        listeners: [
          {
            name: 'ingress',
            address: { address: '0.0.0.0', port_value: 10000 },
            per_connection_buffer_limit_bytes: 32768,
            filter_chains: [
              {
                name: 'internal',
                filter_chain_match: {
                  destination_port: 10000,
                  prefix_ranges: [],
                  source_prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }],
                  source_ports: [1234],
                },
                hcm: {
                  stat_prefix: 'internal_http',
                  codec_type: 'HTTP1',
                  use_remote_address: true,
                  xff_num_trusted_hops: 1,
                  max_request_headers_bytes: 8192,
                  max_headers_count: 50,
                  max_requests_per_connection: 100,
                  stream_idle_timeout: 1500,
                  request_timeout: 10_000,
                  idle_timeout: 30_000,
                  server_name: 'proxyscope',
                  generate_request_id: false,
                  strip_matching_host_port: false,
                  strip_any_host_port: true,
                  accept_http_10: true,
                  access_log: [
                    { name: 'envoy.access_loggers.file', path: '/tmp/access.log', format: '%START_TIME% %RESPONSE_CODE%\n' },
                    { name: 'envoy.access_loggers.stdout' },
                  ],
                  http_filters: [
                    {
                      name: 'envoy.filters.http.buffer',
                      type_url: 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer',
                      typed_config: { max_request_bytes: 1024 },
                      extension: 'envoy.filters.http.buffer',
                    },
                    {
                      name: 'envoy.filters.http.router',
                      type_url: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                      typed_config: {},
                      extension: 'envoy.filters.http.router',
                    },
                  ],
                  route_config: {
                    name: 'internal_routes',
                    validate_clusters: true,
                    ignore_port_in_host_matching: true,
                    request_headers_to_add: [{ key: 'x-env', value: 'prod', append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
                    request_headers_to_remove: [],
                    response_headers_to_add: [],
                    response_headers_to_remove: ['server'],
                    virtual_hosts: [
                      {
                        name: 'shop',
                        domains: ['shop.example.com', '*.shop.example.com'],
                        ...NO_MUTATIONS,
                        response_headers_to_add: [{ key: 'x-served-by', value: 'proxyscope', append_action: 'ADD_IF_ABSENT' }],
                        routes: [
                          {
                            name: 'api',
                            match: {
                              prefix: '/api/',
                              case_sensitive: false,
                              headers: [
                                { name: 'x-version', invert_match: false, string_match: { exact: 'v2', ignore_case: false } },
                                { name: 'x-user', invert_match: true, string_match: { prefix: 'admin', ignore_case: true } },
                                { name: 'x-debug', invert_match: false, present_match: true },
                                { name: 'x-shard', invert_match: false, range_match: { start: 0, end: 10 } },
                                { name: 'x-trace', invert_match: false },
                                { name: 'x-id', invert_match: false, string_match: { safe_regex: '[0-9]+', ignore_case: false } },
                              ],
                            },
                            route: {
                              cluster: 'api',
                              regex_rewrite: { pattern: '^/api/(.*)$', substitution: '/v1/\\1' },
                              host_rewrite_literal: 'api.internal',
                              cluster_not_found_response_code: 404,
                              timeout: 0,
                            },
                            ...NO_MUTATIONS,
                          },
                          {
                            name: 'shop/route_1',
                            match: { path_separated_prefix: '/old', case_sensitive: true, headers: [] },
                            redirect: {
                              https_redirect: false,
                              host_redirect: 'new.example.com',
                              response_code: 302,
                              strip_query: true,
                            },
                            ...NO_MUTATIONS,
                          },
                          {
                            name: 'shop/route_2',
                            match: { safe_regex: '/health(z)?', case_sensitive: true, headers: [] },
                            direct_response: { status: 200, body: 'ok\n' },
                            ...NO_MUTATIONS,
                          },
                          {
                            name: 'shop/route_3',
                            match: { path: '/teapot', case_sensitive: true, headers: [] },
                            direct_response: { status: 418, body: "I'm a teapot" },
                            ...NO_MUTATIONS,
                          },
                          {
                            name: 'shop/route_4',
                            match: { prefix: '/', case_sensitive: true, headers: [] },
                            route: {
                              weighted_clusters: {
                                clusters: [
                                  { name: 'web', weight: 90 },
                                  { name: 'api', weight: 10 },
                                ],
                                total_weight: 100,
                              },
                              cluster_not_found_response_code: 503,
                              timeout: 15_000,
                            },
                            ...NO_MUTATIONS,
                          },
                        ],
                      },
                    ],
                  },
                },
              },
              {
                name: 'filter_chain_1',
                filter_chain_match: { prefix_ranges: [], source_prefix_ranges: [], source_ports: [] },
                hcm: {
                  stat_prefix: 'public_http',
                  codec_type: 'AUTO',
                  use_remote_address: false,
                  xff_num_trusted_hops: 0,
                  max_request_headers_bytes: 60 * 1024,
                  max_headers_count: 100,
                  max_requests_per_connection: 0,
                  stream_idle_timeout: 300_000,
                  request_timeout: 0,
                  idle_timeout: 3_600_000,
                  server_name: 'envoy',
                  generate_request_id: true,
                  strip_matching_host_port: false,
                  strip_any_host_port: false,
                  accept_http_10: false,
                  access_log: [],
                  http_filters: [{ name: 'envoy.filters.http.router', extension: 'envoy.filters.http.router' }],
                  route_config: {
                    name: '',
                    validate_clusters: true,
                    ignore_port_in_host_matching: false,
                    ...NO_MUTATIONS,
                    virtual_hosts: [
                      {
                        name: 'public',
                        domains: ['*'],
                        ...NO_MUTATIONS,
                        routes: [
                          {
                            name: 'public/route_0',
                            match: { prefix: '/', case_sensitive: true, headers: [] },
                            route: { cluster: 'web', cluster_not_found_response_code: 503, timeout: 15_000 },
                            ...NO_MUTATIONS,
                          },
                        ],
                      },
                    ],
                  },
                },
              },
            ],
          },
        ],
        clusters: [
          {
            name: 'web',
            type: 'STATIC',
            connect_timeout: 250,
            lb_policy: 'LEAST_REQUEST',
            endpoints: [
              { address: { address: '127.0.0.1', port_value: 8080 }, load_balancing_weight: 1 },
              { address: { address: '::1', port_value: 8081 }, load_balancing_weight: 3 },
            ],
            max_requests_per_connection: 1,
            idle_timeout: 60_000,
            per_connection_buffer_limit_bytes: 65536,
            circuit_breakers: { max_connections: 8, max_pending_requests: 16, max_requests: 1024, max_retries: 3 },
          },
          {
            name: 'api',
            type: 'STRICT_DNS',
            connect_timeout: 5000,
            lb_policy: 'ROUND_ROBIN',
            endpoints: [
              { address: { address: 'api.internal', port_value: 9000 }, hostname: 'api.internal', load_balancing_weight: 1 },
            ],
            max_requests_per_connection: 10,
            idle_timeout: 3_600_000,
            per_connection_buffer_limit_bytes: 1024 * 1024,
            circuit_breakers: { max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3 },
          },
        ],
      },
    };
    expect(config).toStrictEqual(expected);
  });

  it('loads the minimal config with defaults', () => {
    const { config, warnings } = load(MINIMAL);
    expect(warnings).toEqual([]);
    expect(config.admin).toBeUndefined();
    const [listener] = config.static_resources.listeners;
    expect(listener.per_connection_buffer_limit_bytes).toBe(1024 * 1024);
    expect(listener.filter_chains[0].name).toBe('filter_chain_0');
    expect(listener.filter_chains[0].hcm!.route_config.virtual_hosts[0].routes[0].name).toBe('backend/route_0');
    expect(config.static_resources.clusters[0]).toMatchObject({ type: 'STATIC', connect_timeout: 5000, lb_policy: 'ROUND_ROBIN' });
  });

  it('never fails with anything but a ConfigError, whatever value a field has', () => {
    // Every rule reads only parts that parsed, so no wrong value anywhere may crash one.
    const doc = parseDocument(FULL);
    const paths: (string | number)[][] = [];
    const walk = (node: unknown, path: (string | number)[]) => {
      if (path.length) paths.push(path);
      if (isMap(node)) node.items.forEach((pair) => walk(pair.value, [...path, String((pair.key as { value: unknown }).value)]));
      if (isSeq(node)) node.items.forEach((item, i) => walk(item, [...path, i]));
    };
    walk(doc.contents, []);
    // Two replacements per field, rotating, keeps this under a few seconds.
    const replacements = [null, 7, 'x', [], {}, [{}], undefined];
    let rejected = 0;
    for (const [i, path] of paths.entries()) {
      for (const replacement of [replacements[i % 7], replacements[(i + 3) % 7]]) {
        const copy = doc.clone();
        if (replacement === undefined) copy.deleteIn(path);
        else copy.setIn(path, replacement);
        try {
          load(copy.toString());
        } catch (error) {
          if (!(error instanceof ConfigError)) throw new Error(`${path.join('.')} = ${JSON.stringify(replacement)}: ${error}`);
          rejected++;
        }
      }
    }
    expect(rejected).toBeGreaterThan(paths.length / 2);
  });

  it('follows YAML anchors and aliases', () => {
    let yaml = edit(MINIMAL, '  - name: service\n', '  - name: service\n    connect_timeout: &timeout 0.5s\n');
    yaml = edit(yaml, '    type: STRICT_DNS\n', '    type: STRICT_DNS\n    connect_timeout: *timeout\n');
    expect(load(yaml).config.static_resources.clusters.map((c) => c.connect_timeout)).toEqual([500, 500]);
  });

  it('accepts an empty static_resources', () => {
    expect(load('static_resources: {}\n').config).toEqual({ static_resources: { listeners: [], clusters: [] } });
  });
});

// ---------------------------------------------------------------------------------------
// Errors

describe('errors', () => {
  it('reports a YAML syntax error with its line and column', () => {
    const yaml = 'static_resources:\n  listeners:\n  - name: a\n     address: x\n';
    const errors = errorsOf(yaml);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ file: FILE, line: 3, path: '' });
    expect(errors[0].column).toBeGreaterThan(0);
  });

  it('reports a wrong type deep in the config at the exact line', () => {
    const yaml = edit(MINIMAL, 'port_value: 8081', 'port_value: abc');
    const line = lineOf(yaml, 'port_value: abc');
    expect(errorsOf(yaml)).toEqual([
      {
        file: FILE,
        line,
        column: yaml.split('\n')[line - 1].indexOf('abc') + 1,
        path: 'static_resources.clusters[1].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value',
        message: 'expected an integer 0-65535, got "abc"',
      },
    ]);
  });

  it('formats the error message as file:line:column: path: message', () => {
    const yaml = edit(MINIMAL, 'port_value: 10000', 'port_value: 70000');
    const line = lineOf(yaml, 'port_value: 70000');
    expect(() => load(yaml)).toThrow(
      `${FILE}:${line}:55: static_resources.listeners[0].address.socket_address.port_value: expected an integer 0-65535, got 70000`,
    );
  });

  it('points a missing required field at the mapping it belongs in', () => {
    const yaml = edit(MINIMAL, '          stat_prefix: ingress_http\n', '');
    expect(errorsOf(yaml)).toEqual([
      { file: FILE, line: lineOf(yaml, 'typed_config:'), column: 9, path: `${HCM_PATH}.stat_prefix`, message: 'missing required field' },
    ]);
  });

  it('collects every error instead of stopping at the first', () => {
    let yaml = edit(MINIMAL, 'port_value: 8081', 'port_value: -1');
    yaml = edit(yaml, 'stat_prefix: ingress_http', 'stat_prefix: ""');
    yaml = edit(yaml, 'route: { cluster: service }', 'route: { cluster: missing, timeout: 5 }');
    yaml = edit(yaml, 'address: 127.0.0.1, port_value: 8080', 'address: localhost, port_value: 8080');
    const errors = errorsOf(yaml);
    expect(errors.map((e) => [e.line, e.message])).toEqual([
      [lineOf(yaml, 'stat_prefix'), 'expected a non-empty string, got ""'],
      [lineOf(yaml, 'cluster: missing'), "unknown cluster 'missing' (known clusters: service, other)"],
      [lineOf(yaml, 'cluster: missing'), 'expected a duration such as "5s" or "0.25s", got 5'],
      [lineOf(yaml, 'localhost'), "STATIC cluster endpoints must be IP addresses; use type: STRICT_DNS for 'localhost'"],
      [lineOf(yaml, 'port_value: -1'), 'expected an integer 0-65535, got -1'],
    ]);
  });

  it('requires the router to be the last HTTP filter', () => {
    const yaml = edit(
      MINIMAL,
      '          route_config:',
      '          - name: envoy.filters.http.cors\n            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors }\n          route_config:',
    );
    expect(errorsOf(yaml)).toEqual([
      {
        file: FILE,
        line: lineOf(yaml, '- name: envoy.filters.http.router'),
        column: 19,
        path: `${HCM_PATH}.http_filters[0].name`,
        message: 'envoy.filters.http.router is a terminal filter; filters after it would never run',
      },
      {
        file: FILE,
        line: lineOf(yaml, '- name: envoy.filters.http.cors'),
        column: 19,
        path: `${HCM_PATH}.http_filters[1].name`,
        message: 'the last HTTP filter must be envoy.filters.http.router',
      },
    ]);
  });

  it('requires an HTTP filter list that ends with the router', () => {
    // The filter is what its @type says, whatever its name: a CORS filter named like the router is not the router.
    const cors = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
    const yaml = edit(MINIMAL, 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', cors);
    expect(errorsOf(yaml).map((e) => e.message)).toEqual(['the last HTTP filter must be envoy.filters.http.router']);
  });

  it('rejects a route to an unknown cluster at that route', () => {
    const yaml = edit(MINIMAL, 'route: { cluster: service }', 'route: { cluster: servce }');
    expect(errorsOf(yaml)).toEqual([
      {
        file: FILE,
        line: lineOf(yaml, 'cluster: servce'),
        column: 35,
        path: `${ROUTES_PATH}[0].route.cluster`,
        message: "unknown cluster 'servce' (known clusters: service, other)",
      },
    ]);
  });

  it('does not check cluster names when validate_clusters is false', () => {
    let yaml = edit(MINIMAL, 'route: { cluster: service }', 'route: { cluster: servce }');
    yaml = edit(yaml, 'name: local_route', 'name: local_route\n            validate_clusters: false');
    expect(load(yaml).config.static_resources.listeners[0].filter_chains[0].hcm!.route_config.validate_clusters).toBe(false);
  });

  it('rejects a domain used by two virtual hosts', () => {
    const yaml = edit(
      MINIMAL,
      '              domains: ["example.com"]',
      '              domains: ["example.com"]\n              routes: []\n            - name: second\n              domains: ["www.example.com", "Example.com"]',
    );
    const line = lineOf(yaml, '"Example.com"');
    expect(errorsOf(yaml)).toEqual([
      {
        file: FILE,
        line,
        column: yaml.split('\n')[line - 1].indexOf('"Example.com"') + 1,
        path: `${HCM_PATH}.route_config.virtual_hosts[1].domains[1]`,
        message: "duplicate domain 'example.com' (already used by virtual host 'backend')",
      },
    ]);
  });

  it("allows '*' in only one virtual host", () => {
    let yaml = edit(MINIMAL, '["example.com"]', '["*"]');
    yaml = edit(yaml, '              routes:\n', '              routes: []\n            - name: second\n              domains: ["*"]\n              routes:\n');
    expect(errorsOf(yaml).map((e) => e.message)).toEqual(["only one virtual host may use the '*' domain; 'backend' already does"]);
  });

  it('rejects a STATIC cluster with a host name', () => {
    const yaml = edit(MINIMAL, 'address: 127.0.0.1, port_value: 8080', 'address: localhost, port_value: 8080');
    expect(errorsOf(yaml)).toEqual([
      {
        file: FILE,
        line: lineOf(yaml, 'localhost'),
        column: 42,
        path: 'static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address',
        message: "STATIC cluster endpoints must be IP addresses; use type: STRICT_DNS for 'localhost'",
      },
    ]);
  });

  it('rejects a total_weight that is not the sum of the weights', () => {
    const yaml = edit(
      MINIMAL,
      'route: { cluster: service }',
      'route:\n                  weighted_clusters:\n                    total_weight: 100\n                    clusters: [{ name: service, weight: 60 }, { name: other, weight: 30 }]',
    );
    expect(errorsOf(yaml)).toEqual([
      {
        file: FILE,
        line: lineOf(yaml, 'total_weight: 100'),
        column: 35,
        path: `${ROUTES_PATH}[0].route.weighted_clusters.total_weight`,
        message: 'total_weight 100 does not match the sum of the cluster weights (90)',
      },
    ]);
  });

  it('rejects weights of zero', () => {
    const yaml = edit(MINIMAL, 'route: { cluster: service }', 'route: { weighted_clusters: { clusters: [{ name: service, weight: 0 }] } }');
    expect(errorsOf(yaml).map((e) => [e.path, e.message])).toEqual([
      [`${ROUTES_PATH}[0].route.weighted_clusters.clusters[0].weight`, 'expected an integer >= 1, got 0'],
    ]);
  });

  it.each([
    ['{ prefix: "/", path: "/x" }', 'match.path', 'a route match takes only one of prefix, path, safe_regex, path_separated_prefix, got prefix and path'],
    ['{ }', 'match', 'a route match needs one of prefix, path, safe_regex, path_separated_prefix'],
    ['{ safe_regex: { regex: "(" } }', 'match.safe_regex.regex', 'invalid regex "(": Invalid regular expression: /(/g: Unterminated group'],
  ])('checks the path specifier of match %s', (match, path, message) => {
    const yaml = edit(MINIMAL, 'match: { prefix: "/" }', `match: ${match}`);
    expect(errorsOf(yaml).map((e) => [e.path, e.message])).toEqual([[`${ROUTES_PATH}[0].${path}`, message]]);
  });

  it.each([
    ['route: { cluster: service }\n                redirect: { path_redirect: / }', 'redirect', 'a route takes only one of route, redirect, direct_response, got route and redirect'],
    ['route: { cluster: service, cluster_header: x-cluster }', 'route.cluster_header', 'a route action takes only one of cluster, cluster_header, weighted_clusters, got cluster and cluster_header'],
    ['direct_response: { status: 700 }', 'direct_response.status', 'expected an integer 100-599, got 700'],
    ['redirect: { https_redirect: true, scheme_redirect: ftp }', 'redirect.scheme_redirect', 'set either https_redirect or scheme_redirect, not both'],
    ['redirect: { response_code: 304 }', 'redirect.response_code', 'expected one of MOVED_PERMANENTLY, FOUND, SEE_OTHER, TEMPORARY_REDIRECT, PERMANENT_REDIRECT, got 304'],
  ])('checks the route action %s', (action, path, message) => {
    const yaml = edit(MINIMAL, 'route: { cluster: service }', action);
    expect(errorsOf(yaml).map((e) => [e.path, e.message])).toEqual([[`${ROUTES_PATH}[0].${path}`, message]]);
  });

  it('limits a direct_response body to 4096 bytes', () => {
    const yaml = edit(MINIMAL, 'route: { cluster: service }', `direct_response: { status: 200, body: { inline_string: "${'x'.repeat(4097)}" } }`);
    expect(errorsOf(yaml).map((e) => [e.path, e.message])).toEqual([
      [`${ROUTES_PATH}[0].direct_response.body`, 'direct_response body is 4097 bytes; the limit is 4096 (max_direct_response_body_size_bytes)'],
    ]);
  });

  it.each([
    ['codec_type: HTTP3', 'codec_type', 'only HTTP/1.1 is supported'],
    ['codec_type: QUIC', 'codec_type', 'expected one of AUTO, HTTP1, HTTP2, got "QUIC"'],
    ['max_request_headers_kb: 0', 'max_request_headers_kb', 'expected an integer 1-8192, got 0'],
    ['use_remote_address: yes', 'use_remote_address', 'expected true or false, got "yes"'],
    ['stream_idle_timeout: 100ms', 'stream_idle_timeout', 'invalid duration "100ms": expected seconds with an "s" suffix such as "5s" or "0.25s", or {seconds, nanos}'],
    ['request_timeout: -1s', 'request_timeout', 'duration must be at least 0s, got "-1s"'],
  ])('checks HCM field %s', (line, field, message) => {
    const yaml = edit(MINIMAL, '          stat_prefix: ingress_http', `          stat_prefix: ingress_http\n          ${line}`);
    const column = 11 + line.indexOf(':') + 2; // the key starts in column 11
    expect(errorsOf(yaml)).toEqual([{ file: FILE, line: lineOf(yaml, line), column, path: `${HCM_PATH}.${field}`, message }]);
  });

  it('refuses a terminal network filter before the last place', () => {
    const yaml = edit(MINIMAL, '    - filters:\n', '    - filters:\n      - name: envoy.filters.network.tcp_proxy\n        typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: tcp, cluster: service }\n');
    expect(errorsOf(yaml).map((e) => [e.path, e.message])).toEqual([
      [
        'static_resources.listeners[0].filter_chains[0].filters[0].name',
        'envoy.filters.network.tcp_proxy is a terminal filter and must be the last network filter; filters after it would never run',
      ],
    ]);
  });

  it('rejects a wrong HCM @type', () => {
    const yaml = edit(MINIMAL, 'http_connection_manager.v3.HttpConnectionManager', 'http_connection_manager.v2.HttpConnectionManager');
    const [error] = errorsOf(yaml);
    expect(error.path).toBe(`${HCM_PATH}["@type"]`);
    expect(error.message).toMatch(/^expected "type\.googleapis\.com\/\S+\.v3\.HttpConnectionManager", got "\S+\.v2\.HttpConnectionManager"$/);
  });

  it.each([
    ['type: EDS', 'type', 'cluster type EDS is not supported (no xDS); use STATIC, STRICT_DNS or LOGICAL_DNS'],
    ['connect_timeout: 0s', 'connect_timeout', 'duration must be greater than 0s, got "0s"'],
    ['lb_policy: FASTEST', 'lb_policy', 'expected one of ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV, got "FASTEST"'],
  ])('checks cluster field %s', (line, field, message) => {
    const yaml = edit(MINIMAL, '  - name: service\n', `  - name: service\n    ${line}\n`);
    expect(errorsOf(yaml).map((e) => [e.path, e.message])).toEqual([[`static_resources.clusters[0].${field}`, message]]);
  });

  it('needs a single endpoint in a LOGICAL_DNS cluster', () => {
    const yaml = edit(MINIMAL, 'type: STRICT_DNS', 'type: LOGICAL_DNS');
    expect(load(yaml).config.static_resources.clusters[1].type).toBe('LOGICAL_DNS');
    const two = edit(yaml, '      - lb_endpoints:\n        - endpoint:\n            address:\n              socket_address: { address: other', '      - lb_endpoints:\n        - endpoint: { address: { socket_address: { address: b.internal, port_value: 1 } } }\n        - endpoint:\n            address:\n              socket_address: { address: other');
    expect(errorsOf(two).map((e) => e.message)).toEqual(['a LOGICAL_DNS cluster needs exactly one locality with exactly one lb_endpoint']);
  });

  it('rejects duplicate listener names and addresses, and duplicate cluster names', () => {
    const second = '  - name: ingress\n    address:\n      socket_address: { address: 0.0.0.0, port_value: 10000 }\n    filter_chains: []\n    default_filter_chain:\n      filters: []\n';
    let yaml = edit(MINIMAL, '  clusters:\n', `${second}  clusters:\n`);
    yaml = edit(yaml, '  - name: other', '  - name: service');
    expect(errorsOf(yaml).map((e) => [e.path, e.message])).toEqual([
      ['static_resources.listeners[1].name', "duplicate listener name 'ingress' (also listeners[0])"],
      ['static_resources.listeners[1].address.socket_address', 'address 0.0.0.0:10000 is already used by listeners[0]'],
      ['static_resources.listeners[1].default_filter_chain.filters', 'a filter chain needs a terminal network filter: envoy.filters.network.http_connection_manager or envoy.filters.network.tcp_proxy'],
      ['static_resources.clusters[1].name', "duplicate cluster name 'service' (also clusters[0])"],
    ]);
  });

  it('requires listeners to bind to an IP address', () => {
    const yaml = edit(MINIMAL, 'address: 0.0.0.0', 'address: localhost');
    expect(errorsOf(yaml).map((e) => e.message)).toEqual(['expected an IP address to bind to, got "localhost"']);
  });

  it('rejects max_requests_per_connection set in both places', () => {
    const options = `    max_requests_per_connection: 5
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        common_http_protocol_options: { max_requests_per_connection: 1 }
        explicit_http_config: { http_protocol_options: {} }
`;
    const yaml = edit(MINIMAL, '  - name: service\n', `  - name: service\n${options}`);
    expect(errorsOf(yaml).map((e) => [e.path, e.message])).toEqual([
      ['static_resources.clusters[0].max_requests_per_connection', 'set max_requests_per_connection either here (deprecated) or in envoy.extensions.upstreams.http.v3.HttpProtocolOptions, not both'],
    ]);
  });

  // HTTP/2 upstream loads with a warning (config-leniency.test.ts); HTTP/3 needs QUIC.
  it('refuses upstream HTTP/3', () => {
    const options = `    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http3_protocol_options: {} }
`;
    const yaml = edit(MINIMAL, '  - name: service\n', `  - name: service\n${options}`);
    expect(errorsOf(yaml).map((e) => [e.path, e.message])).toEqual([
      [
        'static_resources.clusters[0].typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http3_protocol_options',
        'only HTTP/1.1 is supported',
      ],
    ]);
  });

  it('keeps the warnings found so far on the error', () => {
    let yaml = edit(MINIMAL, '  - name: service\n', '  - name: service\n    lb_subset_config: {}\n');
    yaml = edit(yaml, 'port_value: 8081', 'port_value: abc');
    try {
      load(yaml);
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).warnings.map((w) => w.message)).toEqual(["unsupported field 'lb_subset_config' is ignored"]);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Warnings

describe('warnings', () => {
  it('warns once per unsupported field, at its key, and ignores it', () => {
    const yaml = edit(MINIMAL, '    - filters:\n', '    - transport_socket_connect_timeout: 5s\n      filters:\n');
    const { config, warnings } = load(yaml);
    expect(warnings).toEqual([
      {
        file: FILE,
        line: lineOf(yaml, 'transport_socket_connect_timeout:'),
        column: 7,
        path: 'static_resources.listeners[0].filter_chains[0].transport_socket_connect_timeout',
        message: "unsupported field 'transport_socket_connect_timeout' is ignored",
      },
    ]);
    expect(config).toEqual(load(MINIMAL).config);
  });

  // A typo is Envoy's error (envoy-api/check.ts), no longer a warning: Envoy refuses the file.
  it('rejects a typo, suggesting the field it was meant to be', () => {
    const yaml = edit(MINIMAL, '  - name: service\n', '  - name: service\n    conect_timeout: 1s\n');
    expect(errorsOf(yaml).map((w) => [w.path, w.line, w.message])).toEqual([
      [
        'static_resources.clusters[0].conect_timeout',
        lineOf(yaml, 'conect_timeout'),
        "unknown field 'conect_timeout': Cluster has no such field, and Envoy refuses the file (did you mean 'connect_timeout'?)",
      ],
    ]);
  });

  it('rejects a field put at the wrong level, saying where it belongs', () => {
    const yaml = edit(MINIMAL, 'route: { cluster: service }', 'route: { cluster: service }\n                prefix: /');
    expect(errorsOf(yaml).map((w) => [w.path, w.message])).toEqual([
      [`${ROUTES_PATH}[0].prefix`, "unknown field 'prefix': Route has no such field, and Envoy refuses the file (did you mean 'match.prefix'?)"],
    ]);
  });

  it('warns about each ignored field, in file order', () => {
    // listener_filters is read; a listener filter ProxyScope does not model is warned at its entry
    const originalDst = "{ name: envoy.filters.listener.original_dst, typed_config: { '@type': type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst } }";
    let yaml = edit(MINIMAL, '    filter_chains:\n', `    listener_filters: [${originalDst}]\n    filter_chains:\n`);
    yaml = edit(yaml, '  - name: service\n', '  - name: service\n    dns_resolvers: []\n');
    yaml = edit(yaml, 'route: { cluster: service }', 'route: { cluster: service, hedge_policy: { hedge_on_per_try_timeout: true } }');
    expect(load(yaml).warnings.map((w) => [w.line, w.message])).toEqual([
      [
        lineOf(yaml, 'listener_filters'),
        "listener filter 'envoy.filters.listener.original_dst' (@type type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst) is not modelled by ProxyScope: it does nothing and connections go on without it",
      ],
      [lineOf(yaml, 'hedge_policy'), "unsupported field 'hedge_policy' is ignored"],
      [lineOf(yaml, 'dns_resolvers'), "unsupported field 'dns_resolvers' is ignored"],
    ]);
  });

  it('loads the first thresholds entry of each priority and warns about the others', () => {
    const breakers =
      '    circuit_breakers:\n      thresholds:\n      - { priority: HIGH, max_connections: 1 }\n      - { max_connections: 2 }\n' +
      '      - { priority: DEFAULT, max_connections: 3 }\n      - { priority: high, max_connections: 4 }\n';
    const yaml = edit(MINIMAL, '  - name: service\n', `  - name: service\n${breakers}`);
    const { config, warnings } = load(yaml);
    expect(config.static_resources.clusters[0].circuit_breakers.max_connections).toBe(2);
    expect(config.static_resources.clusters[0].circuit_breakers_high).toEqual({ max_connections: 1, max_pending_requests: 1024, max_requests: 1024, max_retries: 3 });
    expect(warnings.map((w) => [w.line, w.message])).toEqual([
      [lineOf(yaml, 'priority: DEFAULT'), 'only the first DEFAULT thresholds entry is used; this one is ignored'],
      [lineOf(yaml, 'priority: high'), 'only the first HIGH thresholds entry is used; this one is ignored'],
    ]);
  });

  it('formats a diagnostic for printing', () => {
    const d: ConfigDiagnostic = { file: FILE, line: 3, column: 7, path: 'static_resources.clusters[0].dns_lookup_family', message: "unsupported field 'dns_lookup_family' is ignored" };
    expect(formatDiagnostic(d)).toBe("envoy.yaml:3:7: static_resources.clusters[0].dns_lookup_family: unsupported field 'dns_lookup_family' is ignored");
  });
});

// ---------------------------------------------------------------------------------------
// Durations

describe('parseDuration', () => {
  it.each([
    ['0.25s', 250],
    ['5s', 5000],
    ['1.5s', 1500],
    ['0s', 0],
    ['0.000000001s', 0.000001],
    ['-2s', -2000],
    [{ seconds: 3 }, 3000],
    [{ seconds: '1', nanos: 500_000_000 }, 1500],
    [{ nanos: 1_000_000 }, 1],
  ])('reads %j as %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['100ms', '5', '1m', '.5s', '1.0000000001s', 5, { seconds: 1, nanos: -1 }, { minutes: 1 }])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow(/invalid duration/);
  });

  it('converts config durations to milliseconds', () => {
    const yaml = edit(MINIMAL, 'route: { cluster: service }', 'route: { cluster: service, timeout: 0.25s }');
    expect(load(yaml).config.static_resources.listeners[0].filter_chains[0].hcm!.route_config.virtual_hosts[0].routes[0].route?.timeout).toBe(250);
  });
});
