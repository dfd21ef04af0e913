import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  DEFAULT_MAX_CLIENT_MESSAGE_BYTES,
  ERROR_CODES,
  SEND_REQUEST_LIMITS,
  validateClientMessage,
  WS_PROTOCOL_VERSION,
  type BreakpointsMessage,
  type ClientMessage,
  type ControlAction,
  type ErrorCode,
  type ErrorMessage,
  type HelloMessage,
  type HostFaultMessage,
  type MessageId,
  type SendRequestLimits,
  type SendRequestMessage,
  type SimClockMessage,
  type Subscription,
} from '@proxyscope/protocol';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { AdminSecurity } from '../admin/security';
import { ControlError } from './control-error';
import { DEFAULT_CLIENT_LIMITS, StreamClient, type ClientLimits } from './stream-client';

/**
 * Where a stream's events come from: the running engine (live) or a trace file (replay).
 * The endpoint handles sockets, security and client messages; the source decides what a
 * client gets.
 */
export interface StreamSource {
  readonly mode: HelloMessage['mode'];
  /** the parts of `hello` the source knows */
  hello(): Pick<HelloMessage, 'engineVersion' | 'startedAt' | 'topology' | 'history' | 'snapshot' | 'controls' | 'trace' | 'hosts' | 'step' | 'simulation'>;
  /** batching interval announced in `hello` */
  readonly batchMs: number;
  /** bounds of `send_request`, when the source accepts it (announced in `hello.limits`) */
  readonly sendRequestLimits?: SendRequestLimits;
  /** a client connected (after its `hello`): start sending (history first, if it wants it) */
  attach(client: StreamClient, history: boolean): void;
  detach(client: StreamClient): void;
  /** the client replaced its subscription; with `history`, resend history under it */
  resubscribe(client: StreamClient, subscription: Subscription | null, history: boolean): void;
  /** newest seq known, for acks */
  lastSeq(): number;
  /** carries out a control action; returns details for the ack, or throws (a ControlError names the code) */
  control(action: ControlAction): Record<string, unknown>;
  /** starts a `send_request`; returns details for the ack (the `request_result` reaches the client later), or throws. Absent: not supported */
  sendRequest?(client: StreamClient, message: SendRequestMessage): Record<string, unknown>;
  /** applies a `host_fault`; resolves with details for the ack, or rejects. Absent: not supported */
  hostFault?(message: HostFaultMessage): Promise<Record<string, unknown>>;
  /** step mode (live only): `breakpoints`, `step`, `resume`; each returns details for the ack, or throws */
  setBreakpoints?(message: BreakpointsMessage): Record<string, unknown>;
  step?(stream: number): Record<string, unknown>;
  resume?(stream: number | undefined): Record<string, unknown>;
  /** a simulation's virtual clock: pause, resume, speed, advance; resolves with details for the ack. Absent: not a simulation */
  simClock?(message: SimClockMessage): Promise<Record<string, unknown>>;
}

export interface StreamEndpointOptions {
  source: StreamSource;
  security: AdminSecurity;
  limits?: Partial<ClientLimits>;
  /** client messages above this (bytes) get a `too_large` error; 4x this closes the socket (1009) */
  maxMessageBytes?: number;
  /** a `send_request` may be this large (it carries a body); default SEND_REQUEST_LIMITS.maxMessageBytes */
  maxSendRequestBytes?: number;
  maxClients?: number;
  /** WebSocket ping interval; a client that misses two pongs is closed (0: no pings) */
  heartbeatMs?: number;
}

/**
 * The `/ws` endpoint of the admin server: `ws` with `noServer`, upgrades accepted only
 * after the token and Origin checks, one StreamClient per socket, every client message
 * validated (a bad one gets an `error` reply and the socket stays open).
 */
export class StreamEndpoint {
  readonly clients = new Set<StreamClient>();
  private readonly wss: WebSocketServer;
  private readonly limits: ClientLimits;
  private readonly maxMessageBytes: number;
  private readonly maxSendRequestBytes: number;
  private readonly maxClients: number;
  private nextId = 1;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly alive = new WeakMap<WebSocket, boolean>();

  constructor(private readonly options: StreamEndpointOptions) {
    this.limits = { ...DEFAULT_CLIENT_LIMITS, ...options.limits };
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_CLIENT_MESSAGE_BYTES;
    this.maxSendRequestBytes = options.maxSendRequestBytes ?? SEND_REQUEST_LIMITS.maxMessageBytes;
    this.maxClients = options.maxClients ?? 64;
    // Frames beyond this are not read at all: the socket is closed (1009).
    const maxPayload = Math.max(this.maxMessageBytes * 4, this.maxSendRequestBytes);
    this.wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false, clientTracking: false });
    const heartbeatMs = options.heartbeatMs ?? 15_000;
    if (heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.ping(), heartbeatMs);
      this.heartbeat.unref();
    }
  }

  get source(): StreamSource {
    return this.options.source;
  }

  /** The admin server's `upgrade` handler for the stream path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const { security } = this.options;
    if (!security.authorized(req, url)) return refuse(socket, 401, 'a valid token is required (Authorization: Bearer TOKEN, or ?token=TOKEN)', { 'WWW-Authenticate': 'Bearer realm="proxyscope"' });
    const origin = req.headers.origin;
    if (!security.originAllowed(origin)) return refuse(socket, 403, `origin ${origin} is not allowed (see --allow-origin)`);
    if (this.clients.size >= this.maxClients) return refuse(socket, 503, `too many stream clients (${this.maxClients})`);
    const subscribe = url.searchParams.get('subscribe');
    if (subscribe !== null && subscribe !== 'all' && subscribe !== 'none') return refuse(socket, 400, `subscribe must be all or none, got '${subscribe}'`);
    const history = url.searchParams.get('history') !== '0';
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, subscribe === 'none' ? null : {}, history));
  }

  private accept(ws: WebSocket, subscription: Subscription | null, history: boolean): void {
    const { source } = this.options;
    const client = new StreamClient(ws, this.nextId++, subscription, this.limits);
    this.clients.add(client);
    this.alive.set(ws, true);
    ws.on('pong', () => this.alive.set(ws, true));
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('error', () => {
      // A socket error ends in 'close' too; nothing to report to the client.
    });
    ws.on('close', () => {
      this.clients.delete(client);
      client.dispose();
      source.detach(client);
    });
    const sendHistory = history && subscription !== null;
    const hello = source.hello();
    const sendRequest = source.sendRequestLimits && { ...source.sendRequestLimits, maxMessageBytes: this.maxSendRequestBytes };
    client.send({
      type: 'hello',
      protocol: WS_PROTOCOL_VERSION,
      mode: source.mode,
      ...hello,
      // What is about to come: nothing when the client opted out.
      history: sendHistory ? hello.history : { events: 0 },
      snapshot: sendHistory ? hello.snapshot : undefined,
      subscription,
      limits: {
        maxMessageBytes: this.maxMessageBytes,
        batchMs: source.batchMs,
        maxBatchEvents: this.limits.maxBatchEvents,
        maxQueuedEvents: this.limits.maxQueuedEvents,
        ...(sendRequest ? { sendRequest } : {}),
      },
    });
    source.attach(client, sendHistory);
  }

  private onMessage(client: StreamClient, data: RawData, isBinary: boolean): void {
    const reply = (error: ErrorMessage) => client.send(error);
    if (isBinary) return reply({ type: 'error', code: 'binary_not_supported', message: 'messages are JSON text frames' });
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    const tooLarge = (value?: unknown): void => {
      // The id, when the message could be read, so the client knows which one was refused.
      const id = (value as { id?: unknown } | null | undefined)?.id;
      const known = (typeof id === 'string' && id.length <= 64) || (typeof id === 'number' && Number.isInteger(id));
      reply({
        type: 'error',
        code: 'too_large',
        message: `message of ${bytes} bytes is larger than ${this.maxMessageBytes} (a send_request may have ${this.maxSendRequestBytes})`,
        ...(known ? { id: id as MessageId } : {}),
      });
    };
    if (bytes > Math.max(this.maxMessageBytes, this.maxSendRequestBytes)) return tooLarge();
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      if (bytes > this.maxMessageBytes) return tooLarge();
      return reply({ type: 'error', code: 'bad_json', message: `not valid JSON (${(err as Error).message})` });
    }
    // Only a send_request (it carries a request body) may be larger than maxMessageBytes.
    if (bytes > this.maxMessageBytes && (bytes > this.maxSendRequestBytes || (value as { type?: unknown } | null)?.type !== 'send_request')) return tooLarge(value);
    const parsed = validateClientMessage(value);
    if (!parsed.ok) return reply(parsed.error);
    this.dispatch(client, parsed.message);
  }

  private dispatch(client: StreamClient, message: ClientMessage): void {
    const { source } = this.options;
    const ack = (detail?: Record<string, unknown>) =>
      client.send({ type: 'ack', ...(message.id !== undefined ? { id: message.id } : {}), request: message.type, seq: source.lastSeq(), ...(detail ? { detail } : {}) });
    switch (message.type) {
      case 'ping':
        return ack();
      case 'subscribe': {
        const subscription: Subscription = {};
        if (message.filter) subscription.filter = message.filter;
        if (message.sample) subscription.sample = message.sample;
        client.resubscribe(subscription);
        // With the history comes the snapshot before it: say what it stands for, as hello does
        // for a client that subscribed on connecting.
        const snapshot = message.history ? source.hello().snapshot : undefined;
        ack(snapshot ? { snapshot } : undefined);
        source.resubscribe(client, subscription, message.history ?? false);
        return;
      }
      case 'unsubscribe':
        client.resubscribe(null);
        ack();
        source.resubscribe(client, null, false);
        return;
      case 'control': {
        let detail: Record<string, unknown>;
        try {
          detail = source.control(message.action);
        } catch (err) {
          return client.send(errorReply(err, message.id));
        }
        return ack(detail);
      }
      case 'send_request': {
        let detail: Record<string, unknown>;
        try {
          if (!source.sendRequest) throw new ControlError('not_supported', 'send_request: this server has no proxy to send requests through');
          detail = source.sendRequest(client, message);
        } catch (err) {
          return client.send(errorReply(err, message.id));
        }
        return ack(detail);
      }
      case 'breakpoints':
      case 'step':
      case 'resume': {
        let detail: Record<string, unknown>;
        try {
          if (!source.setBreakpoints || !source.step || !source.resume) {
            throw new ControlError('not_supported', `${message.type}: step mode holds live requests; this server replays a recording (move the time cursor instead)`);
          }
          detail =
            message.type === 'breakpoints' ? source.setBreakpoints(message) : message.type === 'step' ? source.step(message.stream) : source.resume(message.stream);
        } catch (err) {
          return client.send(errorReply(err, message.id));
        }
        return ack(detail);
      }
      case 'sim_clock':
        if (!source.simClock) {
          return client.send(errorReply(new ControlError('not_supported', `sim_clock: this server is in mode ${source.mode}; only a simulation (proxyscope simulate --serve) has a virtual clock`), message.id));
        }
        source.simClock(message).then(
          (detail) => ack(detail),
          (err: unknown) => client.send(errorReply(err, message.id)),
        );
        return;
      case 'host_fault':
        if (!source.hostFault) return client.send(errorReply(new ControlError('not_supported', 'host_fault: this server has no demo hosts'), message.id));
        source.hostFault(message).then(
          (detail) => ack(detail),
          (err: unknown) => client.send(errorReply(err, message.id)),
        );
        return;
    }
  }

  private ping(): void {
    for (const client of this.clients) {
      const ws = client.ws;
      if (!this.alive.get(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.set(ws, false);
      ws.ping();
    }
  }

  /** Closes every client (1001 going away) and stops the heartbeat. */
  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const client of this.clients) {
      client.ws.close(1001, 'server shutting down');
      // A peer that does not answer the close handshake is cut off.
      setTimeout(() => client.ws.terminate(), 1000).unref();
    }
  }
}

/** The `error` for a control that was refused or failed: a ControlError's code and field, else control_failed. */
function errorReply(err: unknown, id: MessageId | undefined): ErrorMessage {
  const { code, field } = err as { code?: unknown; field?: unknown };
  const known = typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
  return {
    type: 'error',
    code: known ? (code as ErrorCode) : 'control_failed',
    message: err instanceof Error ? err.message : String(err),
    ...(typeof field === 'string' ? { field } : {}),
    ...(id !== undefined ? { id } : {}),
  };
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuse(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' }[status] ?? 'Error';
  const body = `${message}\n`;
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`);
}
