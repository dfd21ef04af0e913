import type { ProxyEngine } from '@proxyscope/engine';
import {
  REQUEST_TAG_HEADER,
  SEND_REQUEST_LIMITS,
  type RequestAccessLog,
  type RequestErrorCode,
  type RequestResultMessage,
  type SendRequestLimits,
  type SendRequestMessage,
  type TraceEvent,
} from '@proxyscope/protocol';
import { ControlError } from './control-error';
import type { EventHub } from './event-hub';
import { concat, fromBase64, randomHex, toBase64 } from './bytes';

/** How long to wait, after the response ended, for the stream's access log to be traced. */
const ACCESS_LOG_WAIT_MS = 500;
/** requests in flight for all clients together */
const MAX_IN_FLIGHT_TOTAL = 64;

/** One request in flight, and what the trace has told about it so far. */
interface Pending {
  tag: string;
  owner: object;
  stream?: number;
  cx?: number;
  accessLog?: RequestAccessLog;
  /** wakes the wait for the access log */
  notify?: () => void;
  abort: () => void;
}

/**
 * The bounds the sender itself enforces (and a server may change); the others (body, headers,
 * path, timeout range) are the message schema's, fixed in the protocol package.
 */
export type SenderLimits = Partial<Pick<SendRequestLimits, 'maxInFlight' | 'maxResponseBodyBytes' | 'defaultTimeoutMs'>>;

/** One request's response as it arrives, whatever carries it. */
export interface SendExchange {
  onResponse(status: number, headers: Array<[string, string]>): void;
  onData(chunk: Uint8Array): void;
  onEnd(): void;
  /** no (complete) response */
  onError(error: { code: RequestErrorCode; message: string }): void;
}

/**
 * What carries a `send_request` and times it: node:http on loopback for a live proxy
 * (the default), the simulated network on virtual time for a simulation.
 */
export interface SendTransport {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
  /** sends the request to the listener (`bound`: its address as bound); returns the function that gives it up */
  dial(
    target: { host: string; port: number; bound: string },
    request: { method: string; path: string; headers: Record<string, string>; body: Uint8Array | undefined },
    exchange: SendExchange,
  ): (reason: { code: RequestErrorCode; message: string }) => void;
}

/** Where no transport was given: `send_request` is refused. */
export const unsupportedSendTransport: SendTransport = {
  now: () => 0,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  dial() {
    throw new ControlError('not_supported', 'send_request: this stream has no way to reach the proxy');
  },
};

export interface SendAck {
  tag: string;
  listener: string;
  /** where the request goes: the listener's address, on loopback */
  address: string;
}

/**
 * `send_request`: a real HTTP/1.1 request (node:http, its own connection) to one of the
 * proxy's listeners on loopback, so the engine handles it like any downstream request. The
 * request carries `x-proxyscope-tag: TAG`; the engine knows nothing of tags. The sender
 * finds the request in the trace instead: while requests are in flight it reads the hub's
 * batches for a `codec.request_headers` fact whose headers carry the tag (that gives the
 * stream and connection ids) and then for that stream's `stream.access_log`. It holds the
 * hub while requests are in flight, so the tracer is attached whatever the tracing mode.
 */
export class RequestSender {
  readonly limits: SendRequestLimits;
  private readonly pending = new Map<string, Pending>();
  private readonly byStream = new Map<number, Pending>();
  private readonly perOwner = new Map<object, Set<Pending>>();
  private removeConsumer: (() => void) | undefined;
  private releaseHub: (() => void) | undefined;

  constructor(
    private readonly engine: ProxyEngine,
    private readonly hub: EventHub,
    limits: SenderLimits = {},
    private readonly transport: SendTransport,
  ) {
    this.limits = { ...SEND_REQUEST_LIMITS, ...limits };
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Starts the request and returns what the `ack` carries; `done` gets the result later
   * (never before this returns). Throws a ControlError when the request cannot be sent.
   */
  send(message: SendRequestMessage, owner: object, done: (result: RequestResultMessage) => void): SendAck {
    const mine = this.perOwner.get(owner);
    if ((mine?.size ?? 0) >= this.limits.maxInFlight) throw new ControlError('busy', `send_request: ${this.limits.maxInFlight} requests are already in flight for this client; wait for a request_result`);
    if (this.pending.size >= MAX_IN_FLIGHT_TOTAL) throw new ControlError('busy', `send_request: ${MAX_IN_FLIGHT_TOTAL} requests are already in flight; try again later`);
    const { name, host, port, address, bound } = this.target(message.listener);
    let tag = message.tag;
    if (tag === undefined) {
      do tag = `ps-${randomHex(6)}`;
      while (this.pending.has(tag));
    } else if (this.pending.has(tag)) {
      throw new ControlError('invalid_message', `send_request: tag: a request tagged '${tag}' is already in flight`, 'tag');
    }

    const body = message.body === undefined ? undefined : message.bodyEncoding === 'base64' ? fromBase64(message.body) : new TextEncoder().encode(message.body);
    const headers: Record<string, string> = { ...message.headers, host: message.authority, [REQUEST_TAG_HEADER]: tag };
    if (body !== undefined) headers['content-length'] = String(body.length);

    const transport = this.transport;
    const started = transport.now();
    const maxBody = this.limits.maxResponseBodyBytes;
    const result: RequestResultMessage = { type: 'request_result', ...(message.id !== undefined ? { id: message.id } : {}), tag, listener: name, durationMs: 0 };
    const kept: Uint8Array[] = [];
    let keptBytes = 0;
    let bodyBytes = 0;
    let finished = false;
    let timer: unknown;
    let giveUp: ((reason: { code: RequestErrorCode; message: string }) => void) | undefined;

    const finish = (error?: { code: RequestErrorCode; message: string }): void => {
      if (finished) return;
      finished = true;
      if (timer !== undefined) transport.clearTimeout(timer);
      result.durationMs = Math.round((transport.now() - started) * 1000) / 1000;
      if (result.status !== undefined) {
        const bytes = concat(kept, keptBytes);
        const truncated = bodyBytes > keptBytes;
        const text = utf8OrUndefined(bytes, truncated);
        result.body = text ?? toBase64(bytes);
        result.bodyEncoding = text === undefined ? 'base64' : 'utf8';
        result.bodyBytes = bodyBytes;
        result.truncated = truncated;
      }
      if (error) result.error = error;
      void this.complete(entry, result).then(done);
    };

    const entry: Pending = {
      tag,
      owner,
      abort: () => {
        const error = { code: 'failed' as const, message: 'the client went away' };
        giveUp?.(error);
        finish(error);
      },
    };
    giveUp = transport.dial(
      { host, port, bound },
      { method: message.method, path: message.path, headers, body },
      {
        onResponse: (status, responseHeaders) => {
          result.status = status;
          result.headers = responseHeaders;
        },
        onData: (chunk) => {
          bodyBytes += chunk.length;
          if (keptBytes < maxBody) {
            const piece = chunk.length <= maxBody - keptBytes ? chunk : chunk.subarray(0, maxBody - keptBytes);
            kept.push(piece);
            keptBytes += piece.length;
          }
        },
        onEnd: () => finish(),
        onError: (error) => finish(error),
      },
    );
    this.track(entry);

    const timeoutMs = message.timeoutMs ?? this.limits.defaultTimeoutMs;
    timer = transport.setTimeout(() => {
      const error = { code: 'timeout' as const, message: `no complete response within ${timeoutMs} ms` };
      giveUp?.(error);
      finish(error);
    }, timeoutMs);
    return { tag, listener: name, address };
  }

  /** Gives up the requests of one client (it went away). */
  abandon(owner: object): void {
    for (const entry of this.perOwner.get(owner) ?? []) entry.abort();
  }

  close(): void {
    for (const entry of this.pending.values()) entry.abort();
  }

  /** The listener to send to, and its address on loopback. */
  private target(name: string | undefined): { name: string; host: string; port: number; address: string; bound: string } {
    const listeners = this.engine.listeners;
    const listener = name === undefined ? listeners[0] : listeners.find((l) => l.config.name === name);
    if (!listener) {
      if (name === undefined) throw new ControlError('control_failed', 'send_request: the proxy has no listener');
      throw new ControlError('invalid_message', `send_request: listener: no listener named '${name.slice(0, 64)}' (listeners: ${listeners.map((l) => l.config.name).join(', ')})`, 'listener');
    }
    const bound = listener.boundAddress;
    if (bound === undefined) throw new ControlError('control_failed', `send_request: listener '${listener.config.name}' is not listening`);
    const colon = bound.lastIndexOf(':');
    let host = bound.slice(0, colon).replace(/^\[|\]$/g, '');
    // A listener on every address is reached on loopback.
    if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
    else if (host === '::') host = '::1';
    const port = Number(bound.slice(colon + 1));
    return { name: listener.config.name, host, port, address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, bound };
  }

  private track(entry: Pending): void {
    this.pending.set(entry.tag, entry);
    let mine = this.perOwner.get(entry.owner);
    if (!mine) this.perOwner.set(entry.owner, (mine = new Set()));
    mine.add(entry);
    if (this.pending.size === 1) {
      // Hold the hub (the tracer stays attached) and read its batches while requests are in flight.
      this.releaseHub = this.hub.retain();
      this.removeConsumer = this.hub.addConsumer(this.onEvents);
    }
  }

  private untrack(entry: Pending): void {
    this.pending.delete(entry.tag);
    if (entry.stream !== undefined) this.byStream.delete(entry.stream);
    const mine = this.perOwner.get(entry.owner);
    mine?.delete(entry);
    if (mine?.size === 0) this.perOwner.delete(entry.owner);
    if (this.pending.size === 0) {
      this.removeConsumer?.();
      this.removeConsumer = undefined;
      this.releaseHub?.();
      this.releaseHub = undefined;
    }
  }

  /** Adds what the trace says (stream, connection, access log) to the result, then forgets the request. */
  private async complete(entry: Pending, result: RequestResultMessage): Promise<RequestResultMessage> {
    // Everything the engine traced for this request so far reaches onEvents now.
    this.hub.flush();
    if (entry.stream !== undefined && entry.accessLog === undefined) {
      // A stream ends (and is logged) once both directions are done; that can trail the response a little.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ACCESS_LOG_WAIT_MS);
        entry.notify = () => {
          clearTimeout(timer);
          resolve();
        };
        this.hub.flush();
      });
    }
    this.untrack(entry);
    if (entry.stream !== undefined) {
      result.stream = entry.stream;
      if (entry.cx !== undefined) result.cx = entry.cx;
    }
    if (entry.accessLog) result.accessLog = entry.accessLog;
    return result;
  }

  private readonly onEvents = (events: readonly TraceEvent[]): void => {
    for (const event of events) {
      if (event.type !== 'fact') continue;
      if (event.fact === 'codec.request_headers') {
        const headers = event.data.headers as Record<string, unknown> | undefined;
        const tag = headers?.[REQUEST_TAG_HEADER];
        if (typeof tag !== 'string') continue;
        const entry = this.pending.get(tag);
        if (!entry || entry.stream !== undefined || event.ids.stream === undefined) continue;
        entry.stream = event.ids.stream;
        entry.cx = event.ids.cx;
        this.byStream.set(entry.stream, entry);
      } else if (event.fact === 'stream.access_log' && event.ids.stream !== undefined) {
        const entry = this.byStream.get(event.ids.stream);
        if (!entry || entry.accessLog) continue;
        const d = event.data;
        entry.accessLog = {
          status: Number(d.status),
          flags: String(d.flags),
          durationMs: Number(d.durationMs),
          upstreamHost: typeof d.upstreamHost === 'string' ? d.upstreamHost : null,
          cluster: typeof d.cluster === 'string' ? d.cluster : null,
          route: typeof d.route === 'string' ? d.route : null,
        };
        entry.notify?.();
      }
    }
  };
}

/**
 * The bytes as text when they are UTF-8, else undefined. A truncated body may end inside a
 * character: that tail is left out.
 */
function utf8OrUndefined(bytes: Uint8Array, truncated: boolean): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: truncated });
  } catch {
    return undefined;
  }
}
