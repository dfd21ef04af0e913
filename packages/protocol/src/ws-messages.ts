import { z } from 'zod';
import { MACHINE_KINDS, type CorrelationIds, type MachineKind, type TraceEvent } from './events';
import type { Topology } from './topology';
import { correlationIdsSchema, snapshotInfoSchema } from './trace-file';
import type { TrafficCounts } from './traffic-counts';

/**
 * The WebSocket stream between the proxyscope server and its viewers (docs/ws-protocol.md).
 * One typed contract for both directions: what the server pushes (`ServerMessage`), what a
 * client may send (`ClientMessage`), and zod validators for each. Every frame is one JSON
 * text message with a `type`.
 */

/** Bumped when a message changes in a way an older client cannot ignore. */
export const WS_PROTOCOL_VERSION = 1;
/** The only path the admin server upgrades. */
export const WS_PATH = '/ws';
/** Client messages larger than this (bytes of UTF-8) get a `too_large` error. */
export const DEFAULT_MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

/** live: a running proxy; replay: a trace file; simulation: `proxyscope simulate --serve`, the engine on virtual time */
export type StreamMode = 'live' | 'replay' | 'simulation';
export const STREAM_MODES = ['live', 'replay', 'simulation'] as const satisfies readonly StreamMode[];

/** The commands a client may send (`control` messages); they map to admin endpoints. */
export const CONTROL_ACTIONS = ['drain_listeners', 'healthcheck_fail', 'healthcheck_ok'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

/**
 * Everything a server may accept besides subscriptions, as `hello.controls` lists it: the
 * `control` actions, `send_request` (live servers), `host_fault` (the built-in demo and
 * simulations), step mode's messages and `sim_clock` (simulations).
 */
export const CONTROLS = [...CONTROL_ACTIONS, 'send_request', 'host_fault', 'breakpoints', 'step', 'resume', 'sim_clock'] as const;
export type ControlName = (typeof CONTROLS)[number];

// ---------------------------------------------------------------------------------------
// send_request: a real request through the proxy's own listener

/** The request header the server adds so the request can be found in the trace. */
export const REQUEST_TAG_HEADER = 'x-proxyscope-tag';

export const SEND_REQUEST_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'] as const;
export type SendRequestMethod = (typeof SEND_REQUEST_METHODS)[number];

/**
 * Headers a `send_request` may not set: the server derives them (`host` from `authority`,
 * `content-length` from the body, the tag), or they would change how the connection is
 * framed or kept.
 */
export const RESERVED_REQUEST_HEADERS = [
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
  'http2-settings',
  REQUEST_TAG_HEADER,
] as const;

/** Bounds of `send_request` and its `request_result` (announced in `hello.limits.sendRequest`). */
export const SEND_REQUEST_LIMITS = {
  /** a `send_request` message may be this large (bytes); every other message `maxMessageBytes` */
  maxMessageBytes: 2 * 1024 * 1024,
  /** request body, bytes after decoding */
  maxBodyBytes: 1024 * 1024,
  maxHeaders: 64,
  maxHeaderNameLength: 256,
  maxHeaderValueLength: 8192,
  /** all names and values together, characters */
  maxHeaderBytes: 32 * 1024,
  maxPathLength: 8192,
  /** response body bytes carried in `request_result`; the rest is read, counted and dropped */
  maxResponseBodyBytes: 64 * 1024,
  defaultTimeoutMs: 10_000,
  maxTimeoutMs: 60_000,
  /** requests one client may have in flight */
  maxInFlight: 8,
} as const;
export type SendRequestLimits = { -readonly [K in keyof typeof SEND_REQUEST_LIMITS]: number };

/** Why a `send_request` got no (complete) response. */
export const REQUEST_ERROR_CODES = ['connection_refused', 'connection_reset', 'timeout', 'failed'] as const;
export type RequestErrorCode = (typeof REQUEST_ERROR_CODES)[number];

// ---------------------------------------------------------------------------------------
// host_fault: the built-in demo's upstream hosts

/**
 * One change to a demo upstream host: fail a share of requests with a status, add latency,
 * reset every request's connection, stop listening (connections refused), listen again,
 * or go back to the host's initial behaviour.
 */
export type HostFault =
  | { fail: { status: number; rate: number } }
  | { latency: { ms: number } }
  | { reset: true }
  | { down: true }
  | { up: true }
  | { clear: true };
export const HOST_FAULT_KINDS = ['fail', 'latency', 'reset', 'down', 'up', 'clear'] as const;

/** A demo upstream host and how it behaves now (`hello.hosts`, `hosts`). */
export interface DemoHostInfo {
  name: string;
  /** the cluster it belongs to */
  service: string;
  port: number;
  /** `ip:port`, as the topology's cluster hosts name it */
  address: string;
  behaviour: {
    /** mean added latency, ms (each request: ±50%) */
    latencyMs: number;
    /** share of requests answered with `errorStatus` */
    errorRate: number;
    errorStatus: number;
    /** every request's connection is destroyed when the request arrives */
    reset: boolean;
    /** not listening: connections are refused */
    down: boolean;
  };
  /** the behaviour differs from the host's initial one */
  faulted: boolean;
}

// ---------------------------------------------------------------------------------------
// Subscriptions

/**
 * Which events a client wants. Every field present must match (AND); a list matches when
 * the event's value is one of its entries (OR). An event that does not carry the id a field
 * tests (a pool event has no `cx`) does not match that field. An empty list matches nothing.
 */
export interface EventFilter {
  /** request (stream) ids: `ids.stream` */
  requests?: number[];
  /** downstream connection ids: `ids.cx` */
  connections?: number[];
  /** `ids.cluster` */
  clusters?: string[];
  /** `ids.host` (`ip:port`) */
  hosts?: string[];
  /** `machine` */
  machines?: MachineKind[];
}

/**
 * Per-request sampling: keep `percent` of requests (decided by a hash of the stream id, so
 * every client with the same percentage keeps the same requests). With `keepFailures`, a
 * request that was not picked is held back until its end and kept anyway if it failed, was
 * retried or overflowed. Events that belong to no request (no `ids.stream`) are not sampled.
 */
export interface Sampling {
  /** 0..100 */
  percent: number;
  keepFailures?: boolean;
}

export interface Subscription {
  filter?: EventFilter;
  sample?: Sampling;
}

export type MessageId = string | number;

// ---------------------------------------------------------------------------------------
// Client -> server

/** Replace this client's subscription; with `history`, resend the buffered history under it. */
export interface SubscribeMessage {
  type: 'subscribe';
  id?: MessageId;
  filter?: EventFilter;
  sample?: Sampling;
  history?: boolean;
}

/** Stop sending events (stats and other notices continue). */
export interface UnsubscribeMessage {
  type: 'unsubscribe';
  id?: MessageId;
}

export interface ControlMessage {
  type: 'control';
  id?: MessageId;
  action: ControlAction;
}

export interface PingMessage {
  type: 'ping';
  id?: MessageId;
}

/**
 * Sends one HTTP/1.1 request through the proxy's own listener on loopback, as any
 * downstream client would. Answered with an `ack` carrying the tag, then a `request_result`.
 */
export interface SendRequestMessage {
  type: 'send_request';
  id?: MessageId;
  method: SendRequestMethod;
  /** the Host header */
  authority: string;
  /** origin-form: `/path?query` */
  path: string;
  /** extra request headers (not the reserved ones) */
  headers?: Record<string, string>;
  body?: string;
  /** how `body` is written in the message (default utf8) */
  bodyEncoding?: 'utf8' | 'base64';
  /** the listener to send it to (default: the first) */
  listener?: string;
  /** the `x-proxyscope-tag` value (default: one the server makes up) */
  tag?: string;
  /** give up (and reset the request) after this long; default 10 s */
  timeoutMs?: number;
}

/**
 * Changes how one upstream host behaves: a host of the built-in demo, or of a simulation
 * (where it becomes a timeline event at the current virtual time).
 */
export interface HostFaultMessage {
  type: 'host_fault';
  id?: MessageId;
  /** the host's name as `hello.hosts` gives it, e.g. `web-2` */
  host: string;
  fault: HostFault;
}

// ---------------------------------------------------------------------------------------
// Step mode (docs/step-mode.md): breakpoints that hold live requests

/** The machines of one request, where a breakpoint can hold it. */
export const STEPPABLE_MACHINES = ['stream', 'filter_chain', 'router', 'upstream_request', 'retry'] as const satisfies readonly MachineKind[];
export type SteppableMachine = (typeof STEPPABLE_MACHINES)[number];
/** Breakpoints a server keeps. */
export const MAX_BREAKPOINTS = 32;

export interface Breakpoint {
  machine: SteppableMachine;
  /** a state of that machine, e.g. `route_matched` */
  state: string;
  /**
   * Hold only requests that match all of these, as they are known at the hold point: a
   * request not yet routed has no route, cluster or host, so such a condition does not
   * match it there (docs/step-mode.md "Narrowing a breakpoint").
   */
  when?: BreakpointCondition;
  /** hold the first request that matches, then the server removes this breakpoint */
  once?: boolean;
}

/** What a request must be for a breakpoint to hold it; the fields AND together. */
export interface BreakpointCondition {
  /** the route's `name`, e.g. `api` */
  route?: string;
  /** the cluster the router chose, e.g. `web` */
  cluster?: string;
  /** the upstream host: `ip:port`, its IP, or its name (`web-2`, an endpoint's `hostname`) */
  host?: string;
  /** the request's `:path` starts with this, e.g. `/api/` */
  pathPrefix?: string;
  /** the request has this header (lower-case name, as HTTP/2 sends it); with `value`, exactly that value */
  header?: { name: string; value?: string };
}

/** The fields of a BreakpointCondition, in the order a label shows them. */
export const BREAKPOINT_CONDITION_FIELDS = ['route', 'cluster', 'host', 'pathPrefix', 'header'] as const satisfies ReadonlyArray<keyof BreakpointCondition>;

/**
 * Replace the server's breakpoints (shared by every viewer) and switch "pause all".
 * Requests that start from now on are held when one of their machines enters a
 * breakpoint's state (with pause all: at once). Acked with the new `step_state`.
 */
export interface BreakpointsMessage {
  type: 'breakpoints';
  id?: MessageId;
  breakpoints: Breakpoint[];
  pauseAll?: boolean;
}

/** Let a held request make exactly one more state change. Acked with what the step did. */
export interface StepMessage {
  type: 'step';
  id?: MessageId;
  /** `ids.stream` of a held request */
  stream: number;
}

/**
 * The `ack` detail of a `step`: what the step did. `events` are the trace events the step
 * produced, in order (the held request's transitions and facts, and those of shared
 * machines it set going, such as its pool), so a viewer can say what happened in words.
 */
export interface StepAckDetail {
  transitions: number;
  ran: 'work' | 'timer' | 'nothing';
  ended: boolean;
  held?: HeldRequest;
  events?: TraceEvent[];
  /** more events than `events` carries were produced (it keeps the first ones) */
  eventsTruncated?: number;
}

/** Let a held request (or, without `stream`, every held request) run free. */
export interface ResumeMessage {
  type: 'resume';
  id?: MessageId;
  stream?: number;
}

// ---------------------------------------------------------------------------------------
// Simulation (proxyscope simulate --serve): the virtual clock

/** How fast virtual time runs: 1 or 10 times real time, or as fast as the CPU (and the viewers) allow. */
export type SimSpeed = 1 | 10 | 'max';
export const SIM_SPEEDS = [1, 10, 'max'] as const satisfies readonly SimSpeed[];
/** The longest `advance` one message may ask for, virtual ms (an hour). */
export const MAX_SIM_ADVANCE_MS = 3_600_000;

/**
 * Drives a simulation's virtual clock: `pause`, `resume`, `speed` (with `speed`), or
 * `advance`: run virtual time forward by `ms`, or without `ms` to the next scheduled
 * event (a timer, a packet's delivery), then stand still there; it works paused or not.
 * Acked with the clock as it is afterwards (the `clock` message's fields).
 */
export type SimClockMessage =
  | { type: 'sim_clock'; id?: MessageId; action: 'pause' | 'resume' }
  | { type: 'sim_clock'; id?: MessageId; action: 'speed'; speed: SimSpeed }
  | { type: 'sim_clock'; id?: MessageId; action: 'advance'; ms?: number };

export type ClientMessage =
  | SubscribeMessage
  | UnsubscribeMessage
  | ControlMessage
  | PingMessage
  | SendRequestMessage
  | HostFaultMessage
  | BreakpointsMessage
  | StepMessage
  | ResumeMessage
  | SimClockMessage;
export const CLIENT_MESSAGE_TYPES = ['subscribe', 'unsubscribe', 'control', 'ping', 'send_request', 'host_fault', 'breakpoints', 'step', 'resume', 'sim_clock'] as const;

// ---------------------------------------------------------------------------------------
// Server -> client

export interface HelloMessage {
  type: 'hello';
  protocol: number;
  mode: StreamMode;
  engineVersion: string;
  /** wall-clock time of event t=0, ISO-8601 */
  startedAt: string;
  topology: Topology;
  /** what this client is subscribed to at first (null: nothing until it subscribes) */
  subscription: Subscription | null;
  /** the history the server is about to send (live: its ring buffer; replay: the whole trace) */
  history: { events: number; firstSeq?: number; lastSeq?: number };
  /**
   * The state of everything alive when the history begins, sent (as history events) before
   * it: real, older events of the run (docs/ws-protocol.md "Snapshot"). Every history event
   * with seq <= `lastSeq` is a snapshot event. Absent or 0 events: the history is the whole run.
   */
  snapshot?: SnapshotInfo;
  /** the `control` actions, and `send_request` / `host_fault`, this server accepts */
  controls: ControlName[];
  limits: {
    maxMessageBytes: number;
    batchMs: number;
    maxBatchEvents: number;
    maxQueuedEvents: number;
    /** bounds of `send_request` (when it is accepted) */
    sendRequest?: SendRequestLimits;
  };
  /** replay: the trace file served */
  trace?: { file: string; events: number };
  /** the built-in demo's or a simulation's upstream hosts, which `host_fault` changes */
  hosts?: DemoHostInfo[];
  /** step mode's breakpoints and held requests (live servers and simulations) */
  step?: Omit<StepStateMessage, 'type'>;
  /** mode simulation: the scenario, its seed and the virtual clock */
  simulation?: SimulationInfo;
}

/** `hello.snapshot`, and a trace header's `snapshot`. */
export interface SnapshotInfo {
  /** snapshot events about to be sent (before any subscription filter) */
  events: number;
  /** the seq the snapshot describes the run at: events with seq <= this are snapshot events */
  lastSeq: number;
  /** the traffic counters over every event of the run up to `lastSeq` (absent from older servers and traces) */
  counts?: TrafficCounts;
}

/** A served simulation (`hello.simulation`). Event times (`t`) are virtual ms since the run began. */
export interface SimulationInfo {
  scenario: string;
  description?: string;
  seed: number;
  /** virtual ms the traffic runs for, and the grace after it for what is in flight */
  durationMs: number;
  graceMs: number;
  clock: SimClock;
}

/** The virtual clock of a served simulation, as `clock` messages carry it. */
export interface SimClock {
  /** virtual ms since the run began (the `t` of events happening now) */
  t: number;
  paused: boolean;
  speed: SimSpeed;
  /** the run is over (traffic done and answered, or the grace time is up); the server keeps serving it */
  finished: boolean;
  /** virtual ms of the next scheduled event, when one is */
  nextEventT?: number;
}

/** A time-and-size-bounded batch of events in the compact encoding (see event-batch.ts). */
export interface EventsMessage {
  type: 'events';
  /** true while the server sends history (ring buffer or replayed file), before `history_end` */
  history?: boolean;
  /** seq of the first event */
  seq: number;
  /** t of the first event (ms) */
  t: number;
  /** string table: actor paths, machine kinds, state, event, fact and Envoy function names */
  strings: string[];
  /** actor table: [path, machine] as string indexes, and the actor's correlation ids */
  actors: Array<[path: number, machine: number, ids: CorrelationIds]>;
  /** one array of small integers per event; see EncodedEvent */
  events: EncodedEvent[];
}

/**
 * One event, positions: [kind, actor, seq delta, t delta in µs, ...].
 *   spawn      [0, actor, dSeq, dT, state]
 *   stop       [1, actor, dSeq, dT, state]
 *   transition [2, actor, dSeq, dT, from, to, event, envoy?]
 *   fact       [3, actor, dSeq, dT, fact, data, envoy?]
 * `actor` indexes `actors`; state/event/fact/envoy names index `strings`; `data` is the
 * fact's JSON object as is. Deltas are from the previous event of the batch (0 for the first);
 * seq deltas are positive except where sampling releases a held request's earlier events.
 */
export type EncodedEvent =
  | [kind: 0 | 1, actor: number, dSeq: number, dT: number, state: number]
  | [kind: 2, actor: number, dSeq: number, dT: number, from: number, to: number, event: number, envoy?: number]
  | [kind: 3, actor: number, dSeq: number, dT: number, fact: number, data: Record<string, unknown>, envoy?: number];

/** The history announced in `hello` (or asked for by `subscribe`) has been sent. */
export interface HistoryEndMessage {
  type: 'history_end';
  events: number;
  /** the last seq of the history; live events that follow are newer */
  lastSeq: number;
}

/** Sent about once a second: key Envoy stats and the state of this client's stream. */
export interface StatsMessage {
  type: 'stats';
  /** trace time (ms) the stats were taken at */
  t: number;
  server?: { state: string; uptimeS: number };
  /** a few key counters and gauges with their Envoy names (live mode) */
  stats: Record<string, number>;
  stream: {
    clients: number;
    /** events the server has traced so far */
    events: number;
    /** events traced per second over the last interval */
    eventsPerSec: number;
    /** events waiting in this client's queue */
    queued: number;
    /** events this client has lost so far (slow reading) */
    dropped: number;
    /** events held back by this client's sampling until their request ends */
    held: number;
    /** whether the engine's tracer is attached */
    tracing: boolean;
  };
  /** `bytes`: the file's size so far (compressed when `gzip`); absent before any recording */
  recording?: { active: boolean; events: number; dropped: number; bytes?: number; gzip?: boolean; file?: string };
}

/** The proxy's topology changed (a listener bound, a pool created, hosts changed). */
export interface TopologyMessage {
  type: 'topology';
  topology: Topology;
}

/** This client read too slowly and lost events from its queue. */
export interface DroppedMessage {
  type: 'dropped';
  /** events lost since the previous notice */
  count: number;
  /** events this client lost in total */
  total: number;
  /** seq range of the events lost since the previous notice */
  fromSeq: number;
  toSeq: number;
  reason: 'slow_client';
}

/** The reply to a client message that was carried out (for `send_request`: accepted; the result follows). */
export interface AckMessage {
  type: 'ack';
  id?: MessageId;
  request: ClientMessage['type'];
  /** the newest seq the server had traced when it applied the request */
  seq: number;
  detail?: Record<string, unknown>;
}

/**
 * The outcome of a `send_request`: the response (body cut at `limits.sendRequest.maxResponseBodyBytes`),
 * or the error that prevented one, and the engine's stream id, found in the trace by the tag.
 */
export interface RequestResultMessage {
  type: 'request_result';
  /** the `send_request`'s id, when it had one */
  id?: MessageId;
  tag: string;
  listener: string;
  /** from sending the request to the end of the response (or the error), ms */
  durationMs: number;
  /** `ids.stream` of the request in the trace (subscribe with `filter.requests: [stream]`), and its connection */
  stream?: number;
  cx?: number;
  status?: number;
  /** response headers as received, in order */
  headers?: Array<[name: string, value: string]>;
  body?: string;
  bodyEncoding?: 'utf8' | 'base64';
  /** response body bytes received in all */
  bodyBytes?: number;
  /** the body was longer than what `body` holds */
  truncated?: boolean;
  /** from the stream's `stream.access_log` fact */
  accessLog?: RequestAccessLog;
  /** no (complete) response: refused, reset, timed out */
  error?: { code: RequestErrorCode; message: string };
}

export interface RequestAccessLog {
  status: number;
  /** Envoy response flags, `-` for none */
  flags: string;
  durationMs: number;
  upstreamHost: string | null;
  cluster: string | null;
  route: string | null;
}

/** The demo's upstream hosts, after one of them changed (`host_fault`). */
export interface HostsMessage {
  type: 'hosts';
  hosts: DemoHostInfo[];
}

export const ERROR_CODES = [
  'bad_json',
  'binary_not_supported',
  'too_large',
  'unknown_type',
  'invalid_message',
  'not_supported',
  'control_failed',
  'trace_error',
  'busy',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A client message was refused (the connection stays usable), or the server hit a problem. */
export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  /** the offending field, dotted (`filter.machines.0`) */
  field?: string;
  /** the id of the client message this answers, when it had one */
  id?: MessageId;
}

/** A request held by step mode. */
export interface HeldRequest {
  stream: number;
  /** the stream's actor path */
  actor: string;
  /** the machine (and its actor) and state it is held at */
  machine: MachineKind;
  machineActor: string;
  state: string;
  /** how it came to be held: a breakpoint, pause all, or the latest step */
  reason: 'breakpoint' | 'pause_all' | 'step';
  /** the breakpoint that first held it (kept after a `once` breakpoint is gone) */
  by?: Breakpoint;
  /** work waiting: the held continuation and what arrived for the request since */
  parked: number;
  /** timers frozen with it (route and per-try timeouts, retry back-off) */
  timers: number;
  /** state changes the latest step made */
  lastStep?: number;
}

/** Step mode as it is now: sent in `hello` and whenever breakpoints or held requests change. */
export interface StepStateMessage {
  type: 'step_state';
  breakpoints: Breakpoint[];
  pauseAll: boolean;
  held: HeldRequest[];
}

/**
 * The virtual clock of a simulation: about every 100 ms of real time while it runs, and
 * at once after every change (pause, resume, speed, advance, the run's end).
 */
export interface ClockMessage extends SimClock {
  type: 'clock';
}

export type ServerMessage =
  | HelloMessage
  | EventsMessage
  | HistoryEndMessage
  | StatsMessage
  | TopologyMessage
  | DroppedMessage
  | AckMessage
  | ErrorMessage
  | RequestResultMessage
  | HostsMessage
  | StepStateMessage
  | ClockMessage;

// ---------------------------------------------------------------------------------------
// Validators

const MAX_LIST = 1000;
const messageId = z.union([z.string().max(64), z.number().int()]);
const shortString = z.string().max(256);

export const eventFilterSchema = z
  .object({
    requests: z.array(z.number().int().nonnegative()).max(MAX_LIST).optional(),
    connections: z.array(z.number().int().nonnegative()).max(MAX_LIST).optional(),
    clusters: z.array(shortString).max(MAX_LIST).optional(),
    hosts: z.array(shortString).max(MAX_LIST).optional(),
    machines: z.array(z.enum(MACHINE_KINDS)).max(MAX_LIST).optional(),
  })
  .strict();

export const samplingSchema = z
  .object({
    percent: z.number().min(0).max(100),
    keepFailures: z.boolean().optional(),
  })
  .strict();

export const subscriptionSchema = z.object({ filter: eventFilterSchema.optional(), sample: samplingSchema.optional() }).strict();

/** RFC 9110 token: header names. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What node:http lets through in a header value: no CR, LF, NUL or other controls but tab. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** reg-name or IP literal, with an optional port */
const AUTHORITY = /^(?:(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
/** origin-form: starts with "/", visible ASCII only */
const ORIGIN_FORM = /^\/[\x21-\x7e]*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const RESERVED_HEADER_SET: ReadonlySet<string> = new Set(RESERVED_REQUEST_HEADERS);

/** UTF-8 length of a string without encoding it. */
function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Bytes a `send_request` body stands for (base64: decoded). */
export function sendRequestBodyBytes(body: string, encoding: 'utf8' | 'base64' = 'utf8'): number {
  if (encoding === 'utf8') return utf8Length(body);
  const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  return (body.length / 4) * 3 - padding;
}

const L = SEND_REQUEST_LIMITS;

// (zod drops a `__proto__` key from a record: it never reaches the request.)
const requestHeadersSchema = z.record(z.string(), z.string()).superRefine((headers, ctx) => {
  const entries = Object.entries(headers);
  if (entries.length > L.maxHeaders) {
    ctx.addIssue({ code: 'custom', message: `at most ${L.maxHeaders} headers, got ${entries.length}` });
    return;
  }
  let size = 0;
  for (const [name, value] of entries) {
    const shown = JSON.stringify(name.slice(0, 64));
    if (name.length > L.maxHeaderNameLength || !TOKEN.test(name)) {
      ctx.addIssue({ code: 'custom', message: `${shown} is not a valid header name (an RFC 9110 token of at most ${L.maxHeaderNameLength} characters)`, path: [name] });
      return;
    }
    if (RESERVED_HEADER_SET.has(name.toLowerCase())) {
      ctx.addIssue({ code: 'custom', message: `${shown} is set by the server (reserved: ${RESERVED_REQUEST_HEADERS.join(', ')})`, path: [name] });
      return;
    }
    if (value.length > L.maxHeaderValueLength || !HEADER_VALUE.test(value)) {
      ctx.addIssue({ code: 'custom', message: `the value of ${shown} must be at most ${L.maxHeaderValueLength} characters, with no control characters but tab`, path: [name] });
      return;
    }
    size += name.length + value.length;
  }
  if (size > L.maxHeaderBytes) ctx.addIssue({ code: 'custom', message: `headers of ${size} characters in all; at most ${L.maxHeaderBytes}` });
});

export const sendRequestSchema = z
  .object({
    type: z.literal('send_request'),
    id: messageId.optional(),
    method: z.enum(SEND_REQUEST_METHODS),
    authority: z.string().min(1).max(255).regex(AUTHORITY, 'a host name or IP literal, with an optional :port'),
    path: z.string().max(L.maxPathLength).regex(ORIGIN_FORM, 'an origin-form path: "/" then visible ASCII characters (percent-encode the rest)'),
    headers: requestHeadersSchema.optional(),
    body: z.string().optional(),
    bodyEncoding: z.enum(['utf8', 'base64']).optional(),
    listener: z.string().min(1).max(256).optional(),
    tag: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, '1 to 64 of A-Z a-z 0-9 . _ : -').optional(),
    timeoutMs: z.number().int().min(1).max(L.maxTimeoutMs).optional(),
  })
  .strict()
  .superRefine((message, ctx) => {
    if (message.body === undefined) return;
    const encoding = message.bodyEncoding ?? 'utf8';
    if (encoding === 'base64' && !BASE64.test(message.body)) {
      ctx.addIssue({ code: 'custom', message: 'not valid base64 (A-Z a-z 0-9 + /, padded with =)', path: ['body'] });
      return;
    }
    const bytes = sendRequestBodyBytes(message.body, encoding);
    if (bytes > L.maxBodyBytes) ctx.addIssue({ code: 'custom', message: `a body of ${bytes} bytes is larger than ${L.maxBodyBytes}`, path: ['body'] });
  });

export const hostFaultSchema = z
  .object({
    fail: z.object({ status: z.number().int().min(400).max(599), rate: z.number().min(0).max(1) }).strict().optional(),
    latency: z.object({ ms: z.number().int().min(0).max(60_000) }).strict().optional(),
    reset: z.literal(true).optional(),
    down: z.literal(true).optional(),
    up: z.literal(true).optional(),
    clear: z.literal(true).optional(),
  })
  .strict()
  .refine((fault) => Object.keys(fault).length === 1, `exactly one of ${HOST_FAULT_KINDS.join(', ')}`);

const conditionName = (example: string) =>
  z
    .string()
    .min(1, `a name such as ${example}`)
    .max(200)
    .regex(/^[^\s]+$/, `a name such as ${example}, without spaces`);

/** A breakpoint's `when` (docs/step-mode.md): known fields only, at least one, each well formed. */
export const breakpointConditionSchema = z
  .object({
    route: conditionName('api'),
    cluster: conditionName('web'),
    host: z
      .string()
      .min(1)
      .max(300)
      .regex(/^[A-Za-z0-9._:\[\]-]+$/, 'a host such as web-2, 10.0.1.2 or 10.0.1.2:8080'),
    pathPrefix: z.string().min(1).max(1000).regex(/^\//, 'a path prefix starts with /, e.g. /api/'),
    header: z
      .object({
        name: z
          .string()
          .min(1)
          .max(200)
          .regex(/^:?[a-z0-9!#$%&'*+.^_`|~-]+$/, 'a lower-case header name such as x-user or :authority'),
        value: z.string().max(1000).optional(),
      })
      .strict(),
  })
  .partial()
  .strict()
  .refine((when) => Object.keys(when).length > 0, `an empty condition: give at least one of ${BREAKPOINT_CONDITION_FIELDS.join(', ')}, or leave out "when"`);

export const clientMessageSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('subscribe'),
      id: messageId.optional(),
      filter: eventFilterSchema.optional(),
      sample: samplingSchema.optional(),
      history: z.boolean().optional(),
    })
    .strict(),
  z.object({ type: z.literal('unsubscribe'), id: messageId.optional() }).strict(),
  z.object({ type: z.literal('control'), id: messageId.optional(), action: z.enum(CONTROL_ACTIONS) }).strict(),
  z.object({ type: z.literal('ping'), id: messageId.optional() }).strict(),
  sendRequestSchema,
  z
    .object({
      type: z.literal('host_fault'),
      id: messageId.optional(),
      host: z
        .string()
        .min(1)
        .max(300)
        .regex(/^[A-Za-z0-9._:\[\]-]+$/, 'a host name such as web-2 (a simulation also takes address:port)'),
      fault: hostFaultSchema,
    })
    .strict(),
  z
    .object({
      type: z.literal('breakpoints'),
      id: messageId.optional(),
      breakpoints: z
        .array(
          z
            .object({
              machine: z.enum(STEPPABLE_MACHINES),
              state: z.string().min(1).max(64).regex(/^[a-z_]+$/, 'a state name such as route_matched'),
              when: breakpointConditionSchema.optional(),
              once: z.boolean().optional(),
            })
            .strict(),
        )
        .max(MAX_BREAKPOINTS),
      pauseAll: z.boolean().optional(),
    })
    .strict(),
  z.object({ type: z.literal('step'), id: messageId.optional(), stream: z.number().int().positive() }).strict(),
  z.object({ type: z.literal('resume'), id: messageId.optional(), stream: z.number().int().positive().optional() }).strict(),
  z
    .object({
      type: z.literal('sim_clock'),
      id: messageId.optional(),
      action: z.enum(['pause', 'resume', 'speed', 'advance']),
      speed: z.union([z.literal(1), z.literal(10), z.literal('max')]).optional(),
      ms: z.number().positive().max(MAX_SIM_ADVANCE_MS).optional(),
    })
    .strict()
    .superRefine((message, ctx) => {
      if (message.action === 'speed' && message.speed === undefined) ctx.addIssue({ code: 'custom', message: 'action speed needs a speed: 1, 10 or "max"', path: ['speed'] });
      if (message.action !== 'speed' && message.speed !== undefined) ctx.addIssue({ code: 'custom', message: `speed goes with action speed, not ${message.action}`, path: ['speed'] });
      if (message.action !== 'advance' && message.ms !== undefined) ctx.addIssue({ code: 'custom', message: `ms goes with action advance, not ${message.action}`, path: ['ms'] });
    }),
]);

const breakpointSchema = z.object({
  machine: z.enum(STEPPABLE_MACHINES),
  state: z.string(),
  when: z
    .object({ route: z.string(), cluster: z.string(), host: z.string(), pathPrefix: z.string(), header: z.object({ name: z.string(), value: z.string().optional() }) })
    .partial()
    .optional(),
  once: z.boolean().optional(),
});
const stepStateSchema = z.object({
  breakpoints: z.array(breakpointSchema),
  pauseAll: z.boolean(),
  held: z.array(
    z.object({
      stream: z.number().int(),
      actor: z.string(),
      machine: z.enum(MACHINE_KINDS),
      machineActor: z.string(),
      state: z.string(),
      reason: z.enum(['breakpoint', 'pause_all', 'step']),
      parked: z.number().int().nonnegative(),
      timers: z.number().int().nonnegative(),
      lastStep: z.number().int().nonnegative().optional(),
      by: breakpointSchema.optional(),
    }),
  ),
});

const demoHostInfoSchema = z.object({
  name: z.string(),
  service: z.string(),
  port: z.number().int(),
  address: z.string(),
  behaviour: z.object({ latencyMs: z.number(), errorRate: z.number(), errorStatus: z.number().int(), reset: z.boolean(), down: z.boolean() }),
  faulted: z.boolean(),
});

const simClockSchema = z.object({
  t: z.number().nonnegative(),
  paused: z.boolean(),
  speed: z.union([z.literal(1), z.literal(10), z.literal('max')]),
  finished: z.boolean(),
  nextEventT: z.number().nonnegative().optional(),
});

const sendRequestLimitsSchema = z.object(
  Object.fromEntries(Object.keys(SEND_REQUEST_LIMITS).map((k) => [k, z.number().int().nonnegative()])) as Record<keyof SendRequestLimits, z.ZodNumber>,
);

const topologySchema = z
  .object({
    workers: z.number().int(),
    listeners: z.array(z.object({ name: z.string(), address: z.string(), filterChains: z.array(z.unknown()) })),
    routeConfigs: z.array(z.unknown()),
    // loose: the resilience fields after `hosts` (TopologyCluster) pass through
    clusters: z.array(z.object({ name: z.string(), type: z.string(), lbPolicy: z.string(), hosts: z.array(z.string()) }).loose()),
    pools: z.array(z.object({ worker: z.number().int(), cluster: z.string(), host: z.string(), actor: z.string() })).optional(),
  })
  .loose();

const encodedEventSchema = z.array(z.union([z.number(), z.record(z.string(), z.unknown())])).min(5).max(8);

export const serverMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    protocol: z.number().int(),
    mode: z.enum(STREAM_MODES),
    engineVersion: z.string(),
    startedAt: z.string(),
    topology: topologySchema,
    subscription: subscriptionSchema.nullable(),
    history: z.object({ events: z.number().int().nonnegative(), firstSeq: z.number().int().optional(), lastSeq: z.number().int().optional() }),
    snapshot: snapshotInfoSchema.optional(),
    controls: z.array(z.enum(CONTROLS)),
    limits: z.object({
      maxMessageBytes: z.number().int(),
      batchMs: z.number(),
      maxBatchEvents: z.number().int(),
      maxQueuedEvents: z.number().int(),
      sendRequest: sendRequestLimitsSchema.optional(),
    }),
    trace: z.object({ file: z.string(), events: z.number().int() }).optional(),
    hosts: z.array(demoHostInfoSchema).optional(),
    step: stepStateSchema.optional(),
    simulation: z
      .object({
        scenario: z.string(),
        description: z.string().optional(),
        seed: z.number().int().nonnegative(),
        durationMs: z.number().nonnegative(),
        graceMs: z.number().nonnegative(),
        clock: simClockSchema,
      })
      .optional(),
  }),
  z.object({
    type: z.literal('events'),
    history: z.boolean().optional(),
    seq: z.number().int().positive(),
    t: z.number().nonnegative(),
    strings: z.array(z.string()),
    actors: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative(), correlationIdsSchema])),
    events: z.array(encodedEventSchema),
  }),
  z.object({ type: z.literal('history_end'), events: z.number().int().nonnegative(), lastSeq: z.number().int().nonnegative() }),
  z.object({
    type: z.literal('stats'),
    t: z.number(),
    server: z.object({ state: z.string(), uptimeS: z.number() }).optional(),
    stats: z.record(z.string(), z.number()),
    stream: z.object({
      clients: z.number().int(),
      events: z.number().int(),
      eventsPerSec: z.number(),
      queued: z.number().int(),
      dropped: z.number().int(),
      held: z.number().int(),
      tracing: z.boolean(),
    }),
    recording: z
      .object({ active: z.boolean(), events: z.number().int(), dropped: z.number().int(), bytes: z.number().int().optional(), gzip: z.boolean().optional(), file: z.string().optional() })
      .optional(),
  }),
  z.object({ type: z.literal('topology'), topology: topologySchema }),
  z.object({
    type: z.literal('dropped'),
    count: z.number().int().positive(),
    total: z.number().int().positive(),
    fromSeq: z.number().int(),
    toSeq: z.number().int(),
    reason: z.literal('slow_client'),
  }),
  z.object({
    type: z.literal('ack'),
    id: messageId.optional(),
    request: z.enum(CLIENT_MESSAGE_TYPES),
    seq: z.number().int().nonnegative(),
    detail: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({ type: z.literal('error'), code: z.enum(ERROR_CODES), message: z.string(), field: z.string().optional(), id: messageId.optional() }),
  z.object({
    type: z.literal('request_result'),
    id: messageId.optional(),
    tag: z.string(),
    listener: z.string(),
    durationMs: z.number().nonnegative(),
    stream: z.number().int().positive().optional(),
    cx: z.number().int().nonnegative().optional(),
    status: z.number().int().min(100).max(999).optional(),
    headers: z.array(z.tuple([z.string(), z.string()])).optional(),
    body: z.string().optional(),
    bodyEncoding: z.enum(['utf8', 'base64']).optional(),
    bodyBytes: z.number().int().nonnegative().optional(),
    truncated: z.boolean().optional(),
    accessLog: z
      .object({
        status: z.number().int(),
        flags: z.string(),
        durationMs: z.number(),
        upstreamHost: z.string().nullable(),
        cluster: z.string().nullable(),
        route: z.string().nullable(),
      })
      .optional(),
    error: z.object({ code: z.enum(REQUEST_ERROR_CODES), message: z.string() }).optional(),
  }),
  z.object({ type: z.literal('hosts'), hosts: z.array(demoHostInfoSchema) }),
  stepStateSchema.extend({ type: z.literal('step_state') }),
  simClockSchema.extend({ type: z.literal('clock') }),
]);

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: ErrorMessage };

function describeIssue(error: z.ZodError): { field: string; reason: string } {
  const issue = error.issues[0];
  if (!issue) return { field: '', reason: 'invalid' };
  // A discriminated union reports a bad member by its first failing field; name it.
  return { field: issue.path.map(String).join('.'), reason: issue.message };
}

/**
 * Parses and validates one client message. Never throws: a refusal comes back as the
 * `error` message to send, naming the field; the connection can go on.
 */
export function parseClientMessage(text: string): ParseResult<ClientMessage> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: { type: 'error', code: 'bad_json', message: `not valid JSON (${(err as Error).message})` } };
  }
  return validateClientMessage(value);
}

/** Validates an already parsed client message (see parseClientMessage). */
export function validateClientMessage(value: unknown): ParseResult<ClientMessage> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: { type: 'error', code: 'invalid_message', message: 'a message must be a JSON object with a "type"', field: '' } };
  }
  const record = value as Record<string, unknown>;
  const rawId = record.id;
  const id = (typeof rawId === 'string' && rawId.length <= 64) || (typeof rawId === 'number' && Number.isInteger(rawId)) ? (rawId as MessageId) : undefined;
  const withId = (error: ErrorMessage): ParseResult<ClientMessage> => ({ ok: false, error: id === undefined ? error : { ...error, id } });
  if (typeof record.type !== 'string' || !(CLIENT_MESSAGE_TYPES as readonly string[]).includes(record.type)) {
    const shown = typeof record.type === 'string' ? `"${record.type.slice(0, 64)}"` : String(record.type);
    return withId({
      type: 'error',
      code: 'unknown_type',
      message: `unknown message type ${shown}; expected one of ${CLIENT_MESSAGE_TYPES.join(', ')}`,
      field: 'type',
    });
  }
  const result = clientMessageSchema.safeParse(value);
  if (!result.success) {
    const { field, reason } = describeIssue(result.error);
    return withId({ type: 'error', code: 'invalid_message', message: `${record.type}: ${field ? `${field}: ` : ''}${reason}`, field });
  }
  return { ok: true, message: result.data as ClientMessage };
}

/** Parses and validates one server message (tests and viewers); throws with the field on failure. */
export function parseServerMessage(text: string): ServerMessage {
  const value: unknown = JSON.parse(text);
  const result = serverMessageSchema.safeParse(value);
  if (!result.success) {
    const { field, reason } = describeIssue(result.error);
    throw new Error(`invalid server message${field ? `, field ${field}` : ''}: ${reason}`);
  }
  return result.data as ServerMessage;
}
