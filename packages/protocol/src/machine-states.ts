import type { MachineKind } from './events';

/**
 * The state names each engine machine reports in `spawn`, `transition` and `stop` events.
 * A state nested in a compound state is named `parent.child`, as the tracer names it.
 *
 * These lists are checked against the engine's machine definitions by the TypeScript
 * compiler (packages/engine/src/machines.ts), so a state added to or removed from a machine
 * without being added here, or the other way round, fails `npm run typecheck`.
 */
export type ListenerState = 'warming' | 'active' | 'draining' | 'stopped';
export type ConnectionState = 'handshaking' | 'open' | 'active' | 'half_closed' | 'closing' | 'closed';
export type NetworkFilterChainState = 'initializing' | 'initializing_stopped' | 'idle' | 'iterating' | 'stopped' | 'closed';
/** Http::ConnectionManagerImpl's DrainState (NotDraining = `open`), before the first byte and after the close. */
export type HttpConnectionManagerState =
  | 'awaiting_data'
  | 'open.idle'
  | 'open.active'
  | 'draining.idle'
  | 'draining.active'
  | 'closing.active'
  | 'closing.flushing'
  | 'closed';
/**
 * Http1::ConnectionImpl, both sides. `interim` (a 1xx response being skipped) is reached on the
 * client side only; the server codec is built from the same definition without it.
 */
export type Http1CodecState = 'idle' | 'headers' | 'interim' | 'body' | 'headers_complete' | 'upgraded' | 'complete' | 'error';
export type StreamState = 'decoding_headers' | 'decoding_body' | 'awaiting_response' | 'encoding_headers' | 'upgraded' | 'encoding_body' | 'complete' | 'reset';
export type FilterChainState =
  | 'decoding_headers'
  | 'decoding_headers_stopped'
  | 'decoding_data'
  | 'decoding_data_stopped'
  | 'decode_complete'
  | 'encoding_headers'
  | 'encoding_data'
  | 'encode_complete';
export type RouterState =
  | 'matching_route'
  | 'route_matched'
  | 'cluster_selected'
  | 'host_selected'
  | 'upstream_pending'
  | 'retry_backoff'
  | 'response_started'
  | 'upgraded'
  | 'complete'
  | 'local_reply'
  | 'reset';
export type UpstreamRequestState = 'pending_pool' | 'sending' | 'awaiting_headers' | 'receiving_body' | 'tunneling' | 'done' | 'failed';
export type PoolState = 'idle' | 'active' | 'draining';
export type ClientState = 'connecting' | 'handshaking' | 'ready' | 'busy' | 'draining' | 'closed';
export type HostHealthState = 'added' | 'pending' | 'healthy' | 'unhealthy' | 'ejected' | 'unhealthy_ejected';
export type RetryState = 'idle' | 'backoff' | 'retrying' | 'no_retry' | 'exhausted' | 'overflowed' | 'cancelled';
export type DnsResolutionState = 'resolving' | 'resolved' | 'failed';
export type TcpProxyState = 'connecting' | 'proxying' | 'half_closed' | 'draining' | 'closed';
export type ActiveTcpSocketState = 'inspecting' | 'handed_off' | 'timed_out' | 'closed';

/** Kind -> its state names. `server` is the admin server's own actor: it has no state machine. */
export interface MachineStates {
  server: never;
  listener: ListenerState;
  connection: ConnectionState;
  network_filter_chain: NetworkFilterChainState;
  http_connection_manager: HttpConnectionManagerState;
  codec: Http1CodecState;
  stream: StreamState;
  filter_chain: FilterChainState;
  router: RouterState;
  upstream_request: UpstreamRequestState;
  pool: PoolState;
  client: ClientState;
  client_codec: Http1CodecState;
  host_health: HostHealthState;
  retry: RetryState;
  dns_resolution: DnsResolutionState;
  tcp_proxy: TcpProxyState;
  active_tcp_socket: ActiveTcpSocketState;
}

/** The kinds that are state machines (every kind but the admin server's actor). */
export type StateMachineKind = Exclude<MachineKind, 'server'>;

export type MachineState<K extends MachineKind> = MachineStates[K];

// A kind added to MACHINE_KINDS without its state names here (or a stale one left here)
// fails to compile on this line.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
export type EveryKindHasItsStates = Holds<Same<keyof MachineStates, MachineKind>>;
