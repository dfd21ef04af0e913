import { z } from 'zod';
import { MACHINE_KINDS, type CorrelationIds, type MachineKind } from './events';
import type { Topology } from './topology';
import { correlationIdsSchema } from './trace-file';

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

export type StreamMode = 'live' | 'replay';

/** The commands a client may send (`control` messages); they map to admin endpoints. */
export const CONTROL_ACTIONS = ['drain_listeners', 'healthcheck_fail', 'healthcheck_ok'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

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

export type ClientMessage = SubscribeMessage | UnsubscribeMessage | ControlMessage | PingMessage;
export const CLIENT_MESSAGE_TYPES = ['subscribe', 'unsubscribe', 'control', 'ping'] as const;

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
  /** the `control` actions this server accepts */
  controls: ControlAction[];
  limits: { maxMessageBytes: number; batchMs: number; maxBatchEvents: number; maxQueuedEvents: number };
  /** replay: the trace file served */
  trace?: { file: string; events: number };
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
  recording?: { active: boolean; events: number; dropped: number; file?: string };
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

/** The reply to a client message that carried out (subscribe, unsubscribe, control, ping). */
export interface AckMessage {
  type: 'ack';
  id?: MessageId;
  request: ClientMessage['type'];
  /** the newest seq the server had traced when it applied the request */
  seq: number;
  detail?: Record<string, unknown>;
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

export type ServerMessage =
  | HelloMessage
  | EventsMessage
  | HistoryEndMessage
  | StatsMessage
  | TopologyMessage
  | DroppedMessage
  | AckMessage
  | ErrorMessage;

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
]);

const topologySchema = z
  .object({
    workers: z.number().int(),
    listeners: z.array(z.object({ name: z.string(), address: z.string(), filterChains: z.array(z.unknown()) })),
    routeConfigs: z.array(z.unknown()),
    clusters: z.array(z.object({ name: z.string(), type: z.string(), lbPolicy: z.string(), hosts: z.array(z.string()) })),
    pools: z.array(z.object({ worker: z.number().int(), cluster: z.string(), host: z.string(), actor: z.string() })).optional(),
  })
  .loose();

const encodedEventSchema = z.array(z.union([z.number(), z.record(z.string(), z.unknown())])).min(5).max(8);

export const serverMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    protocol: z.number().int(),
    mode: z.enum(['live', 'replay']),
    engineVersion: z.string(),
    startedAt: z.string(),
    topology: topologySchema,
    subscription: subscriptionSchema.nullable(),
    history: z.object({ events: z.number().int().nonnegative(), firstSeq: z.number().int().optional(), lastSeq: z.number().int().optional() }),
    controls: z.array(z.enum(CONTROL_ACTIONS)),
    limits: z.object({ maxMessageBytes: z.number().int(), batchMs: z.number(), maxBatchEvents: z.number().int(), maxQueuedEvents: z.number().int() }),
    trace: z.object({ file: z.string(), events: z.number().int() }).optional(),
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
    recording: z.object({ active: z.boolean(), events: z.number().int(), dropped: z.number().int(), file: z.string().optional() }).optional(),
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
