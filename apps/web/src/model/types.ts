import type { AckMessage, ClientMessage, ControlName, DemoHostInfo, ServerMessage, SimClock, Topology, TraceEvent, TrafficCounts } from '@proxyscope/protocol';

/**
 * The contract between the UI's data layer and its views. One event store holds every
 * event (live from the WebSocket, or loaded from a trace file); views derive what they
 * draw from the store at a cursor, never from anything else. Live mode is "cursor follows
 * the head"; pause, step and scrub only move the cursor.
 */

/** Where the events come from. */
export type SourceMode = 'live' | 'replay' | 'simulation' | 'file';

export interface EventStore {
  /** bumps on every change (append, reset); use it as a memo key */
  readonly version: number;
  readonly mode: SourceMode | null;
  readonly topology: Topology | null;
  /** wall-clock time of t=0, ISO-8601 */
  readonly startedAt: string | null;
  /** the built-in demo's upstream hosts (live demo only) */
  readonly demoHosts: readonly DemoHostInfo[];
  /** events held, kept in seq order */
  readonly length: number;
  /** the i-th event, 0 <= i < length */
  get(i: number): TraceEvent;
  /** index of the last event whose seq <= `seq`, or -1 (binary search) */
  indexAtOrBefore(seq: number): number;
  /** every request (ids.stream) seen, in order of its first event */
  requestIds(): readonly number[];
  /** indexes of one request's events (every machine whose ids.stream is it), ascending */
  eventsOfRequest(stream: number): readonly number[];
  /** indexes of one actor's events, ascending */
  eventsOfActor(actor: string): readonly number[];
  /** what was known of one request once events up to index `at` (inclusive) had happened */
  requestAt(stream: number, at: number): RequestSummary | undefined;
  /** whether the i-th event came in a snapshot (a late join, a trace starting mid-run, or old events let go) */
  isSnapshot(i: number): boolean;
  /**
   * The traffic counters over every event of the run up to the snapshot, which leaves most
   * of them out: counters start from these and count the events after it. Null: no
   * snapshot, or one from a source that did not send them.
   */
  readonly snapshotCounts: TrafficCounts | null;
  /** notified after every change */
  subscribe(listener: () => void): () => void;
}

/** Where a request is, for the list's state column and the moving token. */
export type RequestPhase =
  | 'decoding' // downstream request through the decoder filters (stream decoding_headers/decoding_body)
  | 'routing' // router matching route / cluster / host
  | 'pool_pending' // upstream request waiting for a pool connection
  | 'upstream' // request sent, waiting for or receiving the upstream response
  | 'backoff' // retry machine in backoff before the next attempt
  | 'encoding' // response through the encoder filters (reverse order)
  | 'complete'
  | 'reset';

export interface AttemptSummary {
  /** 1-based attempt number (upstream:N in the actor path) */
  n: number;
  actor: string;
  host?: string;
  pool?: string;
  /** upstream connection (client) that carried it */
  ucx?: number;
  startT: number;
  endT?: number;
  /** upstream_request machine state at the cursor */
  state: string;
  status?: number;
  /** why it ended without a response (upstream.reset / pool failure) */
  reset?: string;
}

/** A request as a browser network panel shows it, as of a cursor. */
export interface RequestSummary {
  stream: number;
  cx: number;
  worker: number;
  listener: string;
  /** index of its first event in the store, and of the last one at or before the cursor */
  firstIndex: number;
  lastIndex: number;
  startT: number;
  endT?: number;
  method?: string;
  authority?: string;
  path?: string;
  /** x-proxyscope-tag, when it was sent from the UI */
  tag?: string;
  vhost?: string;
  route?: string;
  cluster?: string;
  attempts: AttemptSummary[];
  /** final response status (access log) or the latest upstream status */
  status?: number;
  /** Envoy response flags from the access log, '-' for none */
  flags?: string;
  phase: RequestPhase;
  /** the stream machine reached a final state */
  done: boolean;
  /** it was answered by the proxy itself (direct response, redirect, no route, overflow...) */
  localReply?: { status: number; flag?: string; details?: string };
}

/** What every view gets. */
export interface ViewProps {
  store: EventStore;
  /** index of the event the view shows the world after (-1: before any event) */
  cursor: number;
  selected: number | null;
  onSelect(stream: number | null): void;
}

/**
 * The live server connection (absent when a trace file is loaded with no server). Views
 * that control the proxy (request composer, faults, breakpoints) talk through it.
 */
export interface ServerConnection {
  readonly connected: boolean;
  /** a simulation's clock as it last was, for a view that starts listening after it moved */
  readonly lastClock?: SimClock | null;
  /** what this server accepts (`hello.controls`) */
  readonly controls: readonly ControlName[];
  send(message: ClientMessage): void;
  /** sends with a fresh `id`; resolves with the matching `ack`, rejects with the matching `error` */
  request(message: ClientMessage): Promise<AckMessage>;
  on<T extends ServerMessage['type']>(type: T, handler: (message: Extract<ServerMessage, { type: T }>) => void): () => void;
}
