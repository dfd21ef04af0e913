import {
  decodeEventBatch,
  serverMessageSchema,
  WS_PATH,
  type AckMessage,
  type ClientMessage,
  type ControlName,
  type HelloMessage,
  type ServerMessage,
  type SimClock,
  type TraceEvent,
} from '@proxyscope/protocol';
import type { ServerConnection } from '../model/types';

/**
 * The live WebSocket client. It connects to the page's own host (`/ws`, with the page's
 * `?token=`), subscribes with history, hands decoded events to `onEvents`, and reconnects
 * with exponential back-off. A message that does not decode or validate is reported via
 * `onProblem` and skipped: one bad frame never takes the connection or the page down.
 */

export type ConnectionState =
  | { status: 'connecting'; attempt: number }
  | { status: 'open'; hello: HelloMessage; historyDone: boolean }
  /** `retryInMs` null: it stopped trying (no server ever answered); `reconnect()` tries again */
  | { status: 'waiting'; attempt: number; retryInMs: number | null; reason: string; everConnected: boolean };

export interface LiveCallbacks {
  /** a `hello` arrived; `fresh` is true when it is a different server run than before (the store must start over) */
  onHello(hello: HelloMessage, fresh: boolean): void;
  onEvents(events: TraceEvent[], history: boolean): void;
  onState(state: ConnectionState): void;
  /** something the user should see: a refused message, a dropped-events notice, a bad frame */
  onProblem(message: string): void;
}

const MAX_BACKOFF_MS = 10_000;
/** With no server ever seen (a static host), stop after this many tries rather than retry forever. */
const MAX_TRIES_WITHOUT_SERVER = 3;
const REQUEST_TIMEOUT_MS = 30_000;

export function defaultWsUrl(location: Location = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const base = new URL(location.href);
  // The page may live under a sub-path (a reverse proxy); /ws sits next to index.html.
  const dir = base.pathname.replace(/[^/]*$/, '');
  const url = new URL(`${scheme}//${location.host}${dir}${WS_PATH.slice(1)}`);
  url.searchParams.set('subscribe', 'none');
  const token = base.searchParams.get('token');
  if (token) url.searchParams.set('token', token);
  return url.toString();
}

type Handler = (message: ServerMessage) => void;

/** What the connection needs of a WebSocket: the browser's, or the in-page engine's channel to its worker. */
export interface StreamSocketLike {
  readonly readyState: number;
  send(text: string): void;
  close(): void;
  onopen: (() => void) | null;
  onmessage: ((frame: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: (() => void) | null;
}

export type OpenSocket = (url: string) => StreamSocketLike;

// A WebSocket's handlers take an event argument these never read; the cast only forgets it.
const openWebSocket: OpenSocket = (url) => new WebSocket(url) as unknown as StreamSocketLike;
/** WebSocket.OPEN, for sockets that are not WebSockets */
const OPEN = 1;

export class LiveConnection implements ServerConnection {
  connected = false;
  controls: readonly ControlName[] = [];
  state: ConnectionState = { status: 'connecting', attempt: 1 };
  /**
   * A simulation's clock as it last was (hello's, then each `clock` message's): a view that
   * starts listening late (mounted after hello, when a run at max speed may be over already)
   * starts from it rather than from hello's.
   */
  lastClock: SimClock | null = null;

  private ws: StreamSocketLike | null = null;
  private attempt = 0;
  private everConnected = false;
  private startedAt: string | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private nextId = 1;
  private readonly pending = new Map<string, { resolve(ack: AckMessage): void; reject(error: Error): void; timer: ReturnType<typeof setTimeout> }>();
  private readonly handlers = new Map<string, Set<Handler>>();

  constructor(
    private readonly url: string,
    private readonly callbacks: LiveCallbacks,
    /** how the socket is opened: a WebSocket to the server, unless the engine runs in this page */
    private readonly openSocket: OpenSocket = openWebSocket,
  ) {
    this.open();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.ws?.close();
    this.failPending('the connection was closed');
  }

  /** Try again now (the user clicked "Reconnect"). */
  reconnect(): void {
    if (this.closed || this.connected) return;
    this.attempt = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.open();
  }

  send(message: ClientMessage): void {
    if (!this.ws || this.ws.readyState !== OPEN) throw new Error('not connected to the server');
    this.ws.send(JSON.stringify(message));
  }

  request(message: ClientMessage): Promise<AckMessage> {
    const id = `ui-${this.nextId++}`;
    return new Promise<AckMessage>((resolve, reject) => {
      try {
        this.send({ ...message, id });
      } catch (err) {
        reject(err as Error);
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${message.type} within ${REQUEST_TIMEOUT_MS / 1000} s`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  on<T extends ServerMessage['type']>(type: T, handler: (message: Extract<ServerMessage, { type: T }>) => void): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler as Handler);
    return () => set.delete(handler as Handler);
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.callbacks.onState(state);
  }

  private open(): void {
    this.attempt++;
    this.setState({ status: 'connecting', attempt: this.attempt });
    let ws: StreamSocketLike;
    try {
      ws = this.openSocket(this.url);
    } catch (err) {
      this.scheduleRetry(`cannot open ${this.url}: ${(err as Error).message}`);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.connected = true;
      this.attempt = 0;
      this.everConnected = true;
      ws.send(JSON.stringify({ type: 'subscribe', id: 'ui-subscribe', history: true } satisfies ClientMessage));
    };
    ws.onmessage = (frame) => this.receive(frame.data);
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.connected = false;
      this.failPending('the connection closed');
      if (this.closed) return;
      const why = event.code === 1006 ? 'the server is unreachable' : `closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`;
      this.scheduleRetry(why);
    };
    // onerror carries no detail in browsers; onclose follows with the code.
    ws.onerror = () => {};
  }

  private scheduleRetry(reason: string): void {
    if (!this.everConnected && this.attempt >= MAX_TRIES_WITHOUT_SERVER) {
      this.setState({ status: 'waiting', attempt: this.attempt, retryInMs: null, reason, everConnected: false });
      return;
    }
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.attempt, 5));
    this.setState({ status: 'waiting', attempt: this.attempt, retryInMs: delay, reason, everConnected: this.everConnected });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  private failPending(reason: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
      this.pending.delete(id);
    }
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') {
      this.callbacks.onProblem('the server sent a binary frame; ignored');
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch (err) {
      this.callbacks.onProblem(`the server sent a frame that is not JSON (${(err as Error).message}); ignored`);
      return;
    }
    const type = (value as { type?: unknown } | null)?.type;
    if (type === 'events') {
      // Batches are checked by the decoder itself, cheaper than the schema for big histories.
      const batch = value as Extract<ServerMessage, { type: 'events' }>;
      try {
        this.callbacks.onEvents(decodeEventBatch(batch), batch.history === true);
      } catch (err) {
        this.callbacks.onProblem(`an events batch from seq ${String(batch.seq)} could not be read: ${(err as Error).message}; skipped`);
      }
      this.dispatch(batch);
      return;
    }
    const parsed = serverMessageSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.map(String).join('.') ?? '';
      this.callbacks.onProblem(`the server sent an invalid ${typeof type === 'string' ? `"${type.slice(0, 40)}"` : ''} message${field ? ` (field ${field})` : ''}: ${issue?.message ?? 'invalid'}; ignored`);
      return;
    }
    const message = parsed.data as ServerMessage;
    switch (message.type) {
      case 'hello': {
        const fresh = this.startedAt !== null && this.startedAt !== message.startedAt;
        this.startedAt = message.startedAt;
        this.controls = message.controls;
        this.lastClock = message.simulation?.clock ?? null;
        this.callbacks.onHello(message, fresh);
        this.setState({ status: 'open', hello: message, historyDone: false });
        break;
      }
      case 'clock': {
        const { type: _type, ...clock } = message;
        this.lastClock = clock;
        break;
      }
      case 'history_end':
        if (this.state.status === 'open') this.setState({ ...this.state, historyDone: true });
        break;
      case 'dropped':
        this.callbacks.onProblem(`the server dropped ${message.count} events (seq ${message.fromSeq}–${message.toSeq}) because this page read too slowly; ${message.total} lost in all`);
        break;
      case 'ack':
      case 'error': {
        const id = message.id === undefined ? undefined : String(message.id);
        const pending = id === undefined ? undefined : this.pending.get(id);
        if (pending && id !== undefined) {
          clearTimeout(pending.timer);
          this.pending.delete(id);
          if (message.type === 'ack') pending.resolve(message);
          else pending.reject(Object.assign(new Error(message.message), { code: message.code, field: message.field }));
        } else if (message.type === 'error') {
          this.callbacks.onProblem(`server: ${message.message}${message.field ? ` (field ${message.field})` : ''}`);
        }
        break;
      }
    }
    this.dispatch(message);
  }

  private dispatch(message: ServerMessage): void {
    const set = this.handlers.get(message.type);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(message);
      } catch (err) {
        console.warn(`a ${message.type} handler failed`, err);
      }
    }
  }
}
