/**
 * Trace events: the only thing the engine tells the outside world about what it did.
 * Everything a view shows (live, stepped or replayed) is derived from these.
 */

/** The machines of the request path, named after the Envoy objects they mirror. */
export const MACHINE_KINDS = [
  'server',
  'listener',
  'connection',
  // Network::FilterManagerImpl's iteration over a connection's read filters: a child of its connection (`<connection>/network_filters`)
  'network_filter_chain',
  // Http::ConnectionManagerImpl's drain state and connection timers: a child of its connection (`<connection>/hcm`)
  'http_connection_manager',
  'codec',
  'stream',
  // FilterManager's iteration over one stream's HTTP filters: a child of its stream (`<stream>/filters`)
  'filter_chain',
  'router',
  'upstream_request',
  'pool',
  'client',
  'client_codec',
  // host health (docs/resilience.md "Health and load balancing")
  'host_health',
  // retries (docs/resilience.md "Retries and timeouts"): RetryStateImpl, one per request with a retry policy
  'retry',
  // DNS (docs/configuration.md "Cluster types and DNS"): DnsClusterImpl::ResolveTarget, one per name of a STRICT_DNS / LOGICAL_DNS cluster
  'dns_resolution',
  // L4 proxying (docs/configuration.md "TCP proxy"): TcpProxy::Filter, one per downstream connection on a tcp_proxy chain
  'tcp_proxy',
  // listener filters (docs/configuration.md "Listener filters"): ActiveTcpSocket, one per connection the TLS inspector holds before it has a filter chain
  'active_tcp_socket',
] as const;
export type MachineKind = (typeof MACHINE_KINDS)[number];

/**
 * Correlation ids carried by every event so a consumer can filter and group without
 * parsing actor paths. Absent means "not applicable to this actor".
 */
export interface CorrelationIds {
  worker?: number;
  listener?: string;
  cx?: number;
  stream?: number;
  cluster?: string;
  host?: string;
  pool?: string;
  /** upstream connection (ActiveClient) id */
  ucx?: number;
}

interface EventBase {
  /** strictly increasing per trace, starting at 1 */
  seq: number;
  /** milliseconds since the trace started (virtual time under a simulated clock) */
  t: number;
  /** actor path, e.g. `listener:ingress/cx:7/stream:2/upstream:1` */
  actor: string;
  machine: MachineKind;
  ids: CorrelationIds;
}

/** An actor came to life (xstate `@xstate.actor`). */
export interface SpawnEvent extends EventBase {
  type: 'spawn';
  /** the state it starts in */
  state: string;
}

/** An actor reached a final state or was stopped. */
export interface StopEvent extends EventBase {
  type: 'stop';
  state: string;
}

/** A machine moved from one state to another. */
export interface TransitionEvent extends EventBase {
  type: 'transition';
  from: string;
  to: string;
  /** the type of the event that caused it, e.g. `codec.headers.complete` */
  event: string;
  /** the Envoy function this step mirrors, e.g. `Router::Filter::decodeHeaders` */
  envoy?: string;
}

/**
 * A domain fact: a decision or a measurement the state alone does not show
 * (route matched and why, host picked, pool decision, bytes moved).
 */
export interface FactEvent extends EventBase {
  type: 'fact';
  fact: FactName;
  /** small JSON payload; headers and bodies are summarised */
  data: Record<string, unknown>;
  envoy?: string;
}

export const FACT_NAMES = [
  'listener.accept',
  'listener.filter_chain_match',
  'listener.no_filter_chain_match',
  'connection.worker_assigned',
  'connection.network_filter',
  'connection.bytes_read',
  // a read filter held the network filter chain (onNewConnection, or onData before the terminal filter) and went on again
  'network_filter_chain.stopped',
  'network_filter_chain.continued',
  // TLS (docs/configuration.md "TLS"): the inspector's peek, a finished or failed handshake
  'tls.inspected',
  'tls.handshake',
  'tls.handshake_failed',
  'codec.request_headers',
  'codec.error',
  'codec.continue_sent',
  // an upstream 1xx at the stream: sent on to the client (proxy_100_continue) or swallowed
  'stream.1xx_headers',
  'stream.decoder_filter',
  'stream.encoder_filter',
  'stream.local_reply',
  // the filter chain stopped at a filter (its name, the status it answered) and went on again
  'filter_chain.stopped',
  'filter_chain.continued',
  'stream.access_log',
  'route.virtual_host',
  'route.match',
  'route.no_match',
  'cluster.selected',
  'lb.host_selected',
  'lb.no_host',
  'pool.decision',
  'pool.attach',
  'pool.connect_failure',
  'pool.pending_failed',
  'upstream.request_sent',
  'upstream.response_headers',
  'upstream.response_1xx_headers',
  'upstream.reset',
  // host health and load balancing (docs/resilience.md "Health and load balancing")
  'host.health_check',
  'host.ejected',
  'host.unejected',
  'host.ejection_skipped',
  // DNS clusters: an answer, a failed query, and the host set it changed
  'dns.resolved',
  'dns.failed',
  'cluster.hosts_changed',
  // HTTP filters and timers (docs/resilience.md "Filters and timeouts")
  'filter.fault',
  'filter.ratelimit',
  'filter.custom',
  // the built-in filters of docs/filters.md
  'filter.cors',
  'filter.compressor',
  'filter.health_check',
  'filter.rbac',
  'filter.buffer',
  'filter.csrf',
  // a filter ProxyScope does not implement let the request pass (docs/filters.md "Filters ProxyScope does not model")
  'filter.not_modelled',
  'timer.fired',
  // retries and router timeouts (docs/resilience.md "Retries and timeouts")
  'retry.policy',
  'retry.decision',
  'retry.backoff',
  'retry.abandoned',
  'router.timeout',
  // request mirroring (docs/configuration.md "Request mirroring"): a shadow sent or skipped
  'router.shadow',
  // protocol upgrades (docs/request-lifecycle.md "Upgrades and WebSocket tunnels")
  'stream.upgrade',
  'router.upgrade',
  // tcp_proxy (docs/configuration.md "TCP proxy"): the upstream it connected to, and the connection's end
  'tcp_proxy.cluster',
  'tcp_proxy.upstream_connected',
  'tcp_proxy.connect_failed',
  'tcp_proxy.closed',
  // step mode (docs/step-mode.md): a request held at a breakpoint, and let go again
  'step.held',
  'step.released',
] as const;
export type FactName = (typeof FACT_NAMES)[number];

export type TraceEvent = SpawnEvent | StopEvent | TransitionEvent | FactEvent;

/** What an event looks like before the tracer stamps it with seq and t. */
export type UnstampedEvent = DistributiveOmit<TraceEvent, 'seq' | 't'>;
type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;
