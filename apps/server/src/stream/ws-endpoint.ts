import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  DEFAULT_MAX_CLIENT_MESSAGE_BYTES,
  SEND_REQUEST_LIMITS,
  type ErrorMessage,
  type Subscription,
} from '@proxyscope/protocol';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { AdminSecurity } from '../admin/security';
import { DEFAULT_CLIENT_LIMITS, handleClientText, helloMessage, StreamClient, type ClientLimits, type StreamSource } from '@proxyscope/serve';

export type { StreamSource } from '@proxyscope/serve';

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
  readonly clients = new Set<StreamClient<WebSocket>>();
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
    client.send(helloMessage(source, subscription, sendHistory, { maxMessageBytes: this.maxMessageBytes, maxSendRequestBytes: this.maxSendRequestBytes, limits: this.limits }));
    source.attach(client, sendHistory);
  }

  private onMessage(client: StreamClient<WebSocket>, data: RawData, isBinary: boolean): void {
    const reply = (error: ErrorMessage) => client.send(error);
    if (isBinary) return reply({ type: 'error', code: 'binary_not_supported', message: 'messages are JSON text frames' });
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    const text = () => (Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8'));
    handleClientText(this.options.source, client, bytes, text, { maxMessageBytes: this.maxMessageBytes, maxSendRequestBytes: this.maxSendRequestBytes });
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

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuse(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' }[status] ?? 'Error';
  const body = `${message}\n`;
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`);
}
