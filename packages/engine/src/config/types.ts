/**
 * The bootstrap config after loading: Envoy v3 field names, defaults filled in,
 * durations as milliseconds, every reference checked. The engine reads only this.
 */

export interface SocketAddress {
  address: string;
  port_value: number;
}

export interface Bootstrap {
  admin?: { address: SocketAddress };
  static_resources: {
    listeners: Listener[];
    clusters: Cluster[];
  };
}

export interface Listener {
  name: string;
  address: SocketAddress;
  per_connection_buffer_limit_bytes: number;
  filter_chains: FilterChain[];
  default_filter_chain?: FilterChain;
}

export interface CidrRange {
  address_prefix: string;
  prefix_len: number;
}

export interface FilterChainMatch {
  destination_port?: number;
  prefix_ranges: CidrRange[];
  source_prefix_ranges: CidrRange[];
  source_ports: number[];
}

export interface FilterChain {
  /** config name, or `filter_chain_<index>` when the config has none */
  name: string;
  filter_chain_match: FilterChainMatch;
  /** network filters in order; the last is the HTTP connection manager */
  hcm: HttpConnectionManager;
}

export interface AccessLog {
  name: string;
  /** stdout when absent */
  path?: string;
  /** Envoy's default format when absent */
  format?: string;
}

export interface HttpFilter {
  name: string;
  /** the `@type` of its typed_config */
  type_url?: string;
  typed_config?: Record<string, unknown>;
}

export interface HttpConnectionManager {
  stat_prefix: string;
  codec_type: 'AUTO' | 'HTTP1';
  use_remote_address: boolean;
  xff_num_trusted_hops: number;
  /** bytes (max_request_headers_kb * 1024), default 60 KiB */
  max_request_headers_bytes: number;
  max_headers_count: number;
  /** 0 = unlimited */
  max_requests_per_connection: number;
  /** ms; 0 = disabled */
  stream_idle_timeout: number;
  request_timeout: number;
  idle_timeout: number;
  server_name: string;
  generate_request_id: boolean;
  strip_matching_host_port: boolean;
  strip_any_host_port: boolean;
  accept_http_10: boolean;
  access_log: AccessLog[];
  http_filters: HttpFilter[];
  route_config: RouteConfiguration;
}

export interface HeaderValueOption {
  key: string;
  value: string;
  /** APPEND_IF_EXISTS_OR_ADD (default) | ADD_IF_ABSENT | OVERWRITE_IF_EXISTS_OR_ADD | OVERWRITE_IF_EXISTS */
  append_action: 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';
}

export interface HeaderMutations {
  request_headers_to_add: HeaderValueOption[];
  request_headers_to_remove: string[];
  response_headers_to_add: HeaderValueOption[];
  response_headers_to_remove: string[];
}

export interface RouteConfiguration extends HeaderMutations {
  name: string;
  validate_clusters: boolean;
  ignore_port_in_host_matching: boolean;
  virtual_hosts: VirtualHost[];
}

export interface VirtualHost extends HeaderMutations {
  name: string;
  domains: string[];
  routes: Route[];
}

export type StringMatcher =
  | { exact: string; ignore_case: boolean }
  | { prefix: string; ignore_case: boolean }
  | { suffix: string; ignore_case: boolean }
  | { contains: string; ignore_case: boolean }
  | { safe_regex: string; ignore_case: boolean };

export interface HeaderMatcher {
  /** lower-cased; `:authority`, `:method`, `:path` allowed */
  name: string;
  invert_match: boolean;
  /** absent = present_match: true */
  string_match?: StringMatcher;
  range_match?: { start: number; end: number };
  present_match?: boolean;
}

export interface RouteMatch {
  prefix?: string;
  path?: string;
  safe_regex?: string;
  path_separated_prefix?: string;
  case_sensitive: boolean;
  headers: HeaderMatcher[];
}

export interface WeightedCluster {
  name: string;
  weight: number;
}

export interface RouteAction {
  cluster?: string;
  cluster_header?: string;
  weighted_clusters?: { clusters: WeightedCluster[]; total_weight: number };
  cluster_not_found_response_code: 503 | 404;
  prefix_rewrite?: string;
  regex_rewrite?: { pattern: string; substitution: string };
  host_rewrite_literal?: string;
  /** ms; 0 = no timeout (default 15000) */
  timeout: number;
}

export interface RedirectAction {
  https_redirect: boolean;
  scheme_redirect?: string;
  host_redirect?: string;
  port_redirect?: number;
  path_redirect?: string;
  prefix_rewrite?: string;
  response_code: 301 | 302 | 303 | 307 | 308;
  strip_query: boolean;
}

export interface DirectResponseAction {
  status: number;
  body?: string;
}

export interface Route extends HeaderMutations {
  /** config name, or `<vhost>/route_<index>` */
  name: string;
  match: RouteMatch;
  route?: RouteAction;
  redirect?: RedirectAction;
  direct_response?: DirectResponseAction;
}

export interface Endpoint {
  address: SocketAddress;
  hostname?: string;
  load_balancing_weight: number;
}

export interface Cluster {
  name: string;
  type: 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS';
  /** ms, default 5000 */
  connect_timeout: number;
  lb_policy: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';
  endpoints: Endpoint[];
  /** 0 = unlimited */
  max_requests_per_connection: number;
  /** ms; upstream connection idle timeout, default 1 h */
  idle_timeout: number;
  per_connection_buffer_limit_bytes: number;
  circuit_breakers: {
    max_connections: number;
    max_pending_requests: number;
    max_requests: number;
    max_retries: number;
  };
}

/** One problem found while loading: where it is and what is wrong. */
export interface ConfigDiagnostic {
  file: string;
  line: number;
  column: number;
  /** field path, e.g. `static_resources.clusters[0].connect_timeout` */
  path: string;
  message: string;
}
