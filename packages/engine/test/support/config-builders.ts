import type { RetryPolicy, Bootstrap, Cluster, HttpConnectionManager, Listener, Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost } from '../../src/config/types';

/** Normalized config objects with Envoy's defaults, for tests that skip the YAML loader. */
const noMutations = { request_headers_to_add: [], request_headers_to_remove: [], response_headers_to_add: [], response_headers_to_remove: [] };

export function route(partial: Omit<Partial<Route>, 'match' | 'route'> & { match: Partial<RouteMatch>; route?: Partial<RouteAction> }): Route {
  const { match, route: action, ...rest } = partial;
  const defaults: RouteAction = { cluster_not_found_response_code: 503, timeout: 15_000 };
  return {
    name: 'r',
    ...noMutations,
    ...rest,
    match: { case_sensitive: true, headers: [], ...match },
    ...(action ? { route: { ...defaults, ...action } } : {}),
  };
}

export function vhost(name: string, domains: string[], routes: Route[]): VirtualHost {
  return { name, domains, routes, ...noMutations };
}

export function routeConfig(virtual_hosts: VirtualHost[]): RouteConfiguration {
  return { name: 'local_route', validate_clusters: true, ignore_port_in_host_matching: false, virtual_hosts, ...noMutations };
}

export function hcm(route_config: RouteConfiguration, overrides: Partial<HttpConnectionManager> = {}): HttpConnectionManager {
  return {
    stat_prefix: 'ingress_http',
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
    http_filters: [{ name: 'envoy.filters.http.router' }],
    route_config,
    ...overrides,
  };
}

export function listener(h: HttpConnectionManager, port = 0, name = 'ingress'): Listener {
  return {
    name,
    address: { address: '127.0.0.1', port_value: port },
    per_connection_buffer_limit_bytes: 1024 * 1024,
    filter_chains: [{ name: 'filter_chain_0', filter_chain_match: { prefix_ranges: [], source_prefix_ranges: [], source_ports: [] }, hcm: h }],
  };
}

export function cluster(name: string, ports: number[], overrides: Partial<Cluster> = {}): Cluster {
  return {
    name,
    type: 'STATIC',
    connect_timeout: 5000,
    lb_policy: 'ROUND_ROBIN',
    endpoints: ports.map((port) => ({ address: { address: '127.0.0.1', port_value: port }, load_balancing_weight: 1 })),
    max_requests_per_connection: 0,
    idle_timeout: 3_600_000,
    per_connection_buffer_limit_bytes: 1024 * 1024,
    circuit_breakers: { max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3 },
    ...overrides,
  };
}

export function bootstrap(listeners: Listener[], clusters: Cluster[]): Bootstrap {
  return { static_resources: { listeners, clusters } };
}

/** A route retry_policy with Envoy's defaults (retry on 5xx, one retry, 25 ms / 250 ms back-off). */
export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  return {
    retry_on: ['5xx'],
    num_retries: 1,
    per_try_timeout: 0,
    retry_back_off: { base_interval: 25, max_interval: 250 },
    retriable_status_codes: [],
    retriable_headers: [],
    retriable_request_headers: [],
    previous_hosts: false,
    host_selection_retry_max_attempts: 1,
    ...overrides,
  };
}
