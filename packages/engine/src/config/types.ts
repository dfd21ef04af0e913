/**
 * The bootstrap config after loading: Envoy v3 field names, defaults filled in,
 * durations as milliseconds, every reference checked. The engine reads only this.
 */
import type { CorsPolicyConfig } from './filters/cors';
import type { DnsFailureRefreshRate, DnsLookupFamily } from './dns';
import type { DownstreamTlsContext, UpstreamTlsContext } from './tls';
import type { LocalReplyConfig } from './local-reply';
import type { RequestMirrorPolicy } from './mirror';
import type { UpgradeConfig } from './upgrade';
import type { NetworkFilterRef, TcpProxy } from './tcp-proxy';
import type { ListenerFilter } from './listener-filters';

export interface SocketAddress {
  address: string;
  port_value: number;
}

export interface Bootstrap {
  admin?: Admin;
  /** who this proxy is (Envoy's local_info); shown by /server_info */
  node?: Node;
  static_resources: {
    listeners: Listener[];
    clusters: Cluster[];
  };
  /** tracing provider for every HCM that enables tracing (kept for trace export; not used yet) */
  tracing?: { http?: TypedExtension };
  /** the layers as configured; `runtime` is what they add up to */
  layered_runtime?: { layers: RuntimeLayer[] };
  /** the runtime snapshot: key -> entry, later static layers winning; absent = empty */
  runtime?: Record<string, RuntimeEntry>;
}

export interface Admin {
  address: SocketAddress;
  /** deprecated file for the admin access log (accepted; ProxyScope writes no admin access log) */
  access_log_path?: string;
  /** accepted like an HCM's access_log; ProxyScope writes no admin access log (absent = none) */
  access_log?: AccessLog[];
}

/** envoy.config.core.v3.Node: only what ProxyScope shows; other fields are accepted and dropped. */
export interface Node {
  /** '' when not configured */
  id: string;
  /** '' when not configured */
  cluster: string;
  metadata?: Record<string, unknown>;
}

/** An extension reference as written: its name, `@type` and the rest of typed_config. */
export interface TypedExtension {
  name: string;
  type_url?: string;
  typed_config: Record<string, unknown>;
}

/** A `layered_runtime` layer. Only static layers are read (the others are warned about). */
export interface RuntimeLayer {
  name: string;
  kind: 'static_layer' | 'disk_layer' | 'admin_layer' | 'rtds_layer';
  /** a static layer's entries as text, key by key (admin /runtime shows them per layer) */
  values?: Record<string, string>;
}

/** One runtime value and the forms it parses as (Envoy's Snapshot::Entry). */
export interface RuntimeEntry {
  /** the value as text */
  raw: string;
  /** a non-negative number, floored */
  uint?: number;
  double?: number;
  /** true/false (any case) or an integer (non-zero = true) */
  bool?: boolean;
  /** a `{numerator, denominator}` mapping */
  fractional?: FractionalPercent;
}

/** envoy.config.core.v3.RuntimeFractionalPercent: the runtime's value for runtime_key, else default_value. */
export interface RuntimeFractionalPercent {
  /** '' = none: default_value always */
  runtime_key: string;
  default_value: FractionalPercent;
}

/** HttpConnectionManager.Tracing (kept for trace export; sampling percents 0-100) */
export interface HcmTracing {
  client_sampling: number;
  random_sampling: number;
  overall_sampling: number;
  verbose: boolean;
  max_path_tag_length: number;
  custom_tags: Record<string, unknown>[];
  spawn_upstream_span?: boolean;
  provider?: TypedExtension;
}

export interface Listener {
  name: string;
  address: SocketAddress;
  per_connection_buffer_limit_bytes: number;
  filter_chains: FilterChain[];
  default_filter_chain?: FilterChain;
  /** listener_filters as loaded (config/listener-filters.ts); absent = none */
  listener_filters?: ListenerFilter[];
  /** ms the listener filters may take; 0 = no limit (absent = 15000) */
  listener_filters_timeout?: number;
  /** at listener_filters_timeout pick a chain with what is known instead of closing (absent = false) */
  continue_on_listener_filters_timeout?: boolean;
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
  /** SNI names, exact or `*.suffix` (absent or empty = any) */
  server_names?: string[];
  /** `tls` or `raw_buffer` (absent = any) */
  transport_protocol?: string;
  /** ALPN protocols, one of which the ClientHello must offer (absent or empty = any) */
  application_protocols?: string[];
}

export interface FilterChain {
  /** config name, or `filter_chain_<index>` when the config has none */
  name: string;
  filter_chain_match: FilterChainMatch;
  /** the terminal network filter, when it is the HTTP connection manager (exactly one of hcm and tcp_proxy is set) */
  hcm?: HttpConnectionManager;
  /** the terminal network filter, when it is envoy.filters.network.tcp_proxy (config/tcp-proxy.ts) */
  tcp_proxy?: TcpProxy;
  /** network filters before the terminal one that ProxyScope does not model: bytes pass through them (absent = none) */
  passthrough_filters?: NetworkFilterRef[];
  /** TLS (envoy.transport_sockets.tls); absent = raw_buffer */
  transport_socket?: DownstreamTlsContext;
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
   * For filters ProxyScope implements the loaded config (`FaultConfig`, `CorsConfig`, ...:
   * defaults filled, durations in ms; see config/filters/); for any other filter the YAML
   * as written, without its `@type`.
   */
  typed_config?: Record<string, unknown>;
  /**
   * The Envoy extension this entry is (`envoy.filters.http.router`, ...), identified by its
   * `@type` (by its name only without one; config/http-filter-names.ts). Absent when
   * ProxyScope does not model it: it then passes requests through unchanged.
   */
  extension?: string;
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
  /**
   * Forward the client's `Expect: 100-continue` and the upstream's 100 / 102 / 103 heads
   * instead of answering 100 Continue itself (absent = false, Envoy's default)
   */
  proxy_100_continue?: boolean;
  strip_matching_host_port: boolean;
  strip_any_host_port: boolean;
  accept_http_10: boolean;
  access_log: AccessLog[];
  http_filters: HttpFilter[];
  route_config: RouteConfiguration;
  /** protocol upgrades allowed on this HCM (websocket, ...); absent = none (config/upgrade.ts) */
  upgrade_configs?: UpgradeConfig[];
  /** rewrites of the replies the proxy makes itself; absent = as they are (config/local-reply.ts) */
  local_reply_config?: LocalReplyConfig;
  /** absent = tracing off for this HCM */
  tracing?: HcmTracing;
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
  /** the deprecated `cors` field; the CORS filter reads it when no typed_per_filter_config policy applies */
  cors?: CorsPolicyConfig;
  /** retries for routes without their own policy (a route's policy replaces it whole); absent = none */
  retry_policy?: RetryPolicy;
  /** send `x-envoy-attempt-count` upstream (absent = false) */
  include_request_attempt_count?: boolean;
  /** put `x-envoy-attempt-count` on the response (absent = false) */
  include_attempt_count_in_response?: boolean;
  /** a request that is not https (x-forwarded-proto) is redirected to https first; absent = NONE */
  require_tls?: 'NONE' | 'EXTERNAL_ONLY' | 'ALL';
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
  /** the route matches only this share of requests (per-request random value); absent = all */
  runtime_fraction?: RuntimeFractionalPercent;
}

export interface WeightedCluster {
  name: string;
  weight: number;
}

/** One priority's circuit breaker limits (CircuitBreakers.Thresholds), per cluster. */
export interface CircuitBreakerThresholds {
  max_connections: number;
  max_pending_requests: number;
  max_requests: number;
  max_retries: number;
  /** replaces max_retries: max(min_retry_concurrency, budget_percent% of active + pending requests) */
  retry_budget?: { budget_percent: number; min_retry_concurrency: number };
  /** publish circuit_breakers.<priority>.remaining_* gauges; absent = false */
  track_remaining?: boolean;
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
  /** RoutingPriority: HIGH uses the cluster's HIGH thresholds and its own pools; absent = DEFAULT */
  priority?: 'DEFAULT' | 'HIGH';
  /** per-route upgrade switches; they win over the HCM's (config/upgrade.ts) */
  upgrade_configs?: UpgradeConfig[];
  /** shadow copies of the request to other clusters (config/mirror.ts) */
  request_mirror_policies?: RequestMirrorPolicy[];
  /** the deprecated route-level `cors` field (see VirtualHost.cors) */
  cors?: CorsPolicyConfig;
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
  /** the span's operation name for this route (kept for trace export) */
  decorator?: { operation: string; propagate: boolean };
}

export interface Endpoint {
  address: SocketAddress;
  hostname?: string;
  load_balancing_weight: number;
}

export interface Cluster {
  name: string;
  /** TLS to the hosts (envoy.transport_sockets.tls); absent = raw_buffer */
  transport_socket?: UpstreamTlsContext;
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
  /** thresholds for DEFAULT priority (every request whose route does not say `priority: HIGH`) */
  circuit_breakers: CircuitBreakerThresholds;
  /** thresholds for HIGH priority; absent = Envoy's defaults (1024 / 1024 / 1024 / 3) */
  circuit_breakers_high?: CircuitBreakerThresholds;
  // Health and load balancing (docs/resilience.md). Absent = Envoy's default / off.
  /** active health checking; at most one entry (Envoy allows one); absent or empty = none */
  health_checks?: HealthCheck[];
  /** absent = no outlier detection */
  outlier_detection?: OutlierDetection;
  /** healthy_panic_threshold in percent (0-100); absent = 50; 0 disables panic mode */
  common_lb_config?: { healthy_panic_threshold: number };
  /** active_request_bias: RuntimeDouble.default_value; its runtime_key, when given, wins while set in the runtime */
  least_request_lb_config?: { choice_count: number; active_request_bias: number; active_request_bias_runtime_key?: string };
  ring_hash_lb_config?: { minimum_ring_size: number; maximum_ring_size: number };
  /** must be prime; default 65537 */
  maglev_lb_config?: { table_size: number };
  // DNS re-resolution of STRICT_DNS / LOGICAL_DNS names (config/dns.ts). Absent = Envoy's default.
  /** ms; default 5000 */
  dns_refresh_rate?: number;
  /** absent = failures retry at dns_refresh_rate */
  dns_failure_refresh_rate?: DnsFailureRefreshRate;
  /** refresh at the answer's smallest TTL; default false */
  respect_dns_ttl?: boolean;
  /** default AUTO (IPv6 preferred) */
  dns_lookup_family?: DnsLookupFamily;
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
  /** the `@type` of the config (inside a FilterConfig, of its `config`); it says which filter's config it is */
  type_url?: string;
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
  /** runtime keys; absent or '' = Envoy's defaults (http/filters/fault.ts FAULT_RUNTIME_KEYS) */
  delay_percent_runtime?: string;
  abort_percent_runtime?: string;
  delay_duration_runtime?: string;
  abort_http_status_runtime?: string;
  max_active_faults_runtime?: string;
}

/** envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit */
export interface LocalRateLimitConfig {
  stat_prefix: string;
  /** reply status; default 429 (values below 400 also mean 429) */
  status: number;
  /** absent = nothing is limited (a filter-level config may leave the bucket to routes) */
  token_bucket?: { max_tokens: number; tokens_per_fill: number; fill_interval: number };
  /** filter_enabled / filter_enforced (runtime_key, default_value); absent in the config = 0% */
  filter_enabled: RuntimeFractionalPercent;
  filter_enforced: RuntimeFractionalPercent;
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
