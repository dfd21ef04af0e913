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
  /**
   * For filters ProxyScope implements (fault, local_ratelimit) the loaded config
   * (`FaultConfig`, `LocalRateLimitConfig`: defaults filled, durations in ms); for any other
   * filter the YAML as written, without its `@type`.
   */
  typed_config?: Record<string, unknown>;
  /** disabled unless a route or virtual host enables it in typed_per_filter_config (absent = false) */
  disabled?: boolean;
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
  /** ms from connection start; absent = unlimited (common_http_protocol_options.max_connection_duration) */
  max_connection_duration?: number;
  /** ms a draining connection (idle or max duration reached) waits before it closes; absent = 5000, Envoy's default */
  drain_timeout?: number;
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
  /** by HTTP filter name (see Route.typed_per_filter_config) */
  typed_per_filter_config?: Record<string, PerFilterConfig>;
  /** retries for routes without their own policy (a route's policy replaces it whole); absent = none */
  retry_policy?: RetryPolicy;
  /** send `x-envoy-attempt-count` upstream (absent = false) */
  include_request_attempt_count?: boolean;
  /** put `x-envoy-attempt-count` on the response (absent = false) */
  include_attempt_count_in_response?: boolean;
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
  /** request hash for RING_HASH / MAGLEV clusters, in order; absent = none (a random host) */
  hash_policy?: HashPolicy[];
  /** ms; overrides the HCM's stream_idle_timeout for this route, 0 disables; absent = the HCM's */
  idle_timeout?: number;
  /** replaces the virtual host's retry_policy; absent = the virtual host's (if any) */
  retry_policy?: RetryPolicy;
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
  /** by HTTP filter name; the route's entry for a filter wins over its virtual host's */
  typed_per_filter_config?: Record<string, PerFilterConfig>;
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
  /** ms from connect; absent = unlimited (HttpProtocolOptions common_http_protocol_options.max_connection_duration) */
  max_connection_duration?: number;
  per_connection_buffer_limit_bytes: number;
  circuit_breakers: {
    max_connections: number;
    max_pending_requests: number;
    max_requests: number;
    max_retries: number;
    /** replaces max_retries: max(min_retry_concurrency, budget_percent% of active + pending requests) */
    retry_budget?: { budget_percent: number; min_retry_concurrency: number };
    /** publish circuit_breakers.default.remaining_* gauges; absent = false */
    track_remaining?: boolean;
  };
  // Health and load balancing (docs/resilience.md). Absent = Envoy's default / off.
  /** active health checking; at most one entry (Envoy allows one); absent or empty = none */
  health_checks?: HealthCheck[];
  /** absent = no outlier detection */
  outlier_detection?: OutlierDetection;
  /** healthy_panic_threshold in percent (0-100); absent = 50; 0 disables panic mode */
  common_lb_config?: { healthy_panic_threshold: number };
  least_request_lb_config?: { choice_count: number; active_request_bias: number };
  ring_hash_lb_config?: { minimum_ring_size: number; maximum_ring_size: number };
  /** must be prime; default 65537 */
  maglev_lb_config?: { table_size: number };
}

// ---------------------------------------------------------------------------------------
// Health checking, outlier detection and hash policies

/** Cluster.health_checks[] with an http_health_check (durations in ms). */
export interface HealthCheck {
  timeout: number;
  interval: number;
  /** a random 0..interval_jitter ms is added to each interval; default 0 */
  interval_jitter: number;
  unhealthy_threshold: number;
  healthy_threshold: number;
  /** keep the checking connection open between checks; default true */
  reuse_connection: boolean;
  http_health_check: {
    path: string;
    /** Host header; absent = the cluster name */
    host?: string;
    /** half-open ranges [start, end); default [{ start: 200, end: 201 }] (200 only) */
    expected_statuses: Array<{ start: number; end: number }>;
  };
}

/** Cluster.outlier_detection: consecutive-error detection (durations in ms, percents 0-100). */
export interface OutlierDetection {
  consecutive_5xx: number;
  consecutive_gateway_failure: number;
  enforcing_consecutive_5xx: number;
  enforcing_consecutive_gateway_failure: number;
  interval: number;
  base_ejection_time: number;
  /** already at least base_ejection_time */
  max_ejection_time: number;
  max_ejection_percent: number;
  successful_active_health_check_uneject_host: boolean;
}

/** RouteAction.hash_policy[]: exactly one of header, cookie, connection_properties, query_parameter. */
export interface HashPolicy {
  header?: { header_name: string };
  cookie?: { name: string };
  connection_properties?: { source_ip: boolean };
  query_parameter?: { name: string };
  /** stop at this policy when it produced a hash */
  terminal: boolean;
}

// ---------------------------------------------------------------------------------------
// HTTP filter configs (envoy.filters.http.fault, envoy.filters.http.local_ratelimit)

/** envoy.type.v3.FractionalPercent: `numerator / denominator`. */
export interface FractionalPercent {
  numerator: number;
  denominator: 100 | 10_000 | 1_000_000;
}

/** One typed_per_filter_config entry: a filter's own config, or envoy.config.route.v3.FilterConfig. */
export interface PerFilterConfig {
  /** the filter's config for this route or virtual host (loaded as in HttpFilter.typed_config); absent when only `disabled` is given */
  config?: Record<string, unknown>;
  /** FilterConfig.disabled: the filter does not run for this route / virtual host */
  disabled: boolean;
}

/** envoy.extensions.filters.http.fault.v3.HTTPFault */
export interface FaultConfig {
  /** fixed_delay (ms) or header_delay (the delay comes from `x-envoy-fault-delay-request`) */
  delay?: { fixed_delay?: number; header_delay: boolean; percentage: FractionalPercent };
  /** http_status or header_abort (the status comes from `x-envoy-fault-abort-request`) */
  abort?: { http_status?: number; header_abort: boolean; percentage: FractionalPercent };
  /** absent = unlimited */
  max_active_faults?: number;
  /** the request must match all of these for a fault to be considered */
  headers: HeaderMatcher[];
  /** only requests routed to this cluster */
  upstream_cluster?: string;
  /** only requests whose `x-envoy-downstream-service-node` is one of these */
  downstream_nodes: string[];
}

/** envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit */
export interface LocalRateLimitConfig {
  stat_prefix: string;
  /** reply status; default 429 (values below 400 also mean 429) */
  status: number;
  /** absent = nothing is limited (a filter-level config may leave the bucket to routes) */
  token_bucket?: { max_tokens: number; tokens_per_fill: number; fill_interval: number };
  /** filter_enabled / filter_enforced default_value; absent in the config = 0% */
  filter_enabled: FractionalPercent;
  filter_enforced: FractionalPercent;
  response_headers_to_add: HeaderValueOption[];
  request_headers_to_add_when_not_enforced: HeaderValueOption[];
}

// ---------------------------------------------------------------------------------------
// Retry policy (RouteAction.retry_policy / VirtualHost.retry_policy; docs/resilience.md)

/** RetryPolicy.ResetHeader: where a rate-limited upstream says when to come back. */
export interface RetryResetHeader {
  /** lower-cased */
  name: string;
  format: 'SECONDS' | 'UNIX_TIMESTAMP';
}

export interface RetryPolicy {
  /** the `retry_on` tokens, trimmed, empty ones dropped (unknown ones are kept and never match) */
  retry_on: string[];
  /** default 1 */
  num_retries: number;
  /** ms; 0 = none (each attempt bounded only by the route timeout) */
  per_try_timeout: number;
  /** ms; base_interval default 25 (at least 1), max_interval default 10 x base (never below base) */
  retry_back_off: { base_interval: number; max_interval: number };
  /** absent = always the exponential back-off; max_interval ms, default 300000 */
  rate_limited_retry_back_off?: { reset_headers: RetryResetHeader[]; max_interval: number };
  /** used with `retriable-status-codes` */
  retriable_status_codes: number[];
  /** matchers on the response, used with `retriable-headers` */
  retriable_headers: HeaderMatcher[];
  /** matchers on the request; when non-empty one must match or the request is not retried */
  retriable_request_headers: HeaderMatcher[];
  /** envoy.retry_host_predicates.previous_hosts: retries avoid hosts already tried */
  previous_hosts: boolean;
  /** extra host picks a retry may make to satisfy the host predicate; default 1 */
  host_selection_retry_max_attempts: number;
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
