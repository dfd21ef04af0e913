import type {
  ConnectCallbacks,
  ConnectionHandlers,
  PendingConnect,
  TlsHandshakeCallbacks,
  TlsOptions,
  Transport,
  TransportConnection,
  TransportError,
  TransportListener,
} from '../seams/transport';
import type { SimClock } from './sim-clock';

/**
 * The simulation's network: the Transport seam over in-memory pipes on virtual time.
 * Every delivery (bytes, FIN, close, a connect's answer) is an event on the SimClock, so
 * it happens at a virtual time, in the order it was sent, never re-entrantly inside the
 * write that caused it; that is how a real socket behaves, and what keeps the engine on
 * the same code path as in live mode.
 */

const noop = (): void => {};
const NO_HANDLERS: ConnectionHandlers = { onData: noop, onEnd: noop, onClose: noop, onDrain: noop };
const encoder = new TextEncoder();

export class SimConnection implements TransportConnection {
  peer!: SimConnection;
  private handlers: ConnectionHandlers = NO_HANDLERS;
  /** this end is gone (destroyed locally or by the peer) */
  closed = false;
  /** this end sent its FIN */
  private ended = false;
  private paused = false;
  /** what arrived while reading was paused, delivered on resume */
  private held: Array<Uint8Array | 'end'> | undefined;
  /** a handshake is running: what arrives waits for it */
  private handshaking: Uint8Array[] | undefined;
  bytesWritten = 0;

  constructor(
    private readonly network: SimNetwork,
    readonly localAddress: string,
    readonly localPort: number,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {}

  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
  }

  write(chunk: Uint8Array | string): boolean {
    if (this.closed || this.ended) return true;
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    this.bytesWritten += bytes.byteLength;
    const peer = this.peer;
    this.network.deliver(() => peer.receive(bytes));
    return true;
  }

  end(): void {
    if (this.closed || this.ended) return;
    this.ended = true;
    const peer = this.peer;
    this.network.deliver(() => peer.receiveEnd());
  }

  /**
   * Close now, as node's socket.destroy(): this end hears onClose, the peer a FIN (its
   * own close follows when it closes its end, as on a half-closable socket).
   */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.network.deliver(() => this.handlers.onClose(undefined));
    if (!this.ended) {
      this.ended = true;
      const peer = this.peer;
      this.network.deliver(() => peer.receiveEnd());
    }
  }

  /** Close with a TCP RST: this end hears a clean close, the peer ECONNRESET at once. */
  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.network.deliver(() => this.handlers.onClose(undefined));
    const peer = this.peer;
    this.network.deliver(() => {
      if (peer.closed) return;
      peer.closed = true;
      peer.handlers.onClose({ code: 'ECONNRESET', message: 'read ECONNRESET' });
    });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    this.held = undefined;
    if (held) this.network.deliver(() => held.forEach((item) => (item === 'end' ? this.receiveEnd() : this.receive(item))));
  }

  /**
   * A simulated handshake: no bytes cross, it settles on the next event with the
   * session the network's TLS policy gives (seams/transport.ts's TlsSessionInfo).
   */
  startTls(options: TlsOptions, callbacks: TlsHandshakeCallbacks): void {
    this.handshaking = [];
    this.network.deliver(() => {
      const held = this.handshaking ?? [];
      this.handshaking = undefined;
      if (this.closed) return;
      callbacks.onSecure({
        version: options.maxVersion === 'TLSv1.2' ? 'TLSv1.2' : 'TLSv1.3',
        cipher: 'TLS_AES_128_GCM_SHA256',
        ...(options.alpn[0] !== undefined && { alpn: options.alpn[0] }),
        peerVerified: false,
      });
      for (const bytes of held) this.receive(bytes);
    });
  }

  private receive(bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.handshaking) {
      this.handshaking.push(bytes);
      return;
    }
    if (this.paused) {
      (this.held ??= []).push(bytes);
      return;
    }
    this.handlers.onData(bytes);
  }

  private receiveEnd(): void {
    if (this.closed) return;
    if (this.paused) {
      (this.held ??= []).push('end');
      return;
    }
    this.handlers.onEnd();
  }
}

/** How a simulated address answers a connect. */
export interface SimEndpoint {
  /** virtual ms from SYN to an established connection (or to the refusal) */
  connectMs(): number;
  /** true: the connect is refused (ECONNREFUSED) */
  refuses(): boolean;
  /** true: the SYN is black-holed (the engine's connect timeout decides) */
  blackholes(): boolean;
  /** an established connection: `connection` is the endpoint's end */
  accept(connection: SimConnection): void;
}

export class SimNetwork implements Transport {
  private readonly listeners = new Map<string, (connection: TransportConnection) => void>();
  private readonly endpoints = new Map<string, SimEndpoint>();
  private nextPort = 20000;

  constructor(
    readonly clock: SimClock,
    /** one-way delay of every delivery, virtual ms */
    private readonly latencyMs = 0,
  ) {}

  /** Schedule a delivery: it runs at now + latency, after everything sent before it. */
  deliver(fn: () => void): void {
    this.clock.setTimeout(fn, this.latencyMs);
  }

  /** Let `endpoint` answer connects to address:port. */
  attach(address: string, port: number, endpoint: SimEndpoint): void {
    this.endpoints.set(`${address}:${port}`, endpoint);
  }

  async listen(address: string, port: number, onConnection: (connection: TransportConnection) => void): Promise<TransportListener> {
    const key = `${address}:${port}`;
    if (this.listeners.has(key)) throw Object.assign(new Error(`listen EADDRINUSE: address already in use ${key}`), { code: 'EADDRINUSE' });
    const bound = port === 0 ? this.nextPort++ : port;
    const boundKey = `${address}:${bound}`;
    this.listeners.set(boundKey, onConnection);
    return { address, port: bound, close: async () => void this.listeners.delete(boundKey) };
  }

  connect(address: string, port: number, callbacks: ConnectCallbacks): PendingConnect {
    const endpoint = this.endpoints.get(`${address}:${port}`);
    let cancelled = false;
    const pending = { cancel: () => void (cancelled = true) };
    if (endpoint?.blackholes()) return pending;
    const delay = endpoint ? endpoint.connectMs() : 0;
    this.clock.setTimeout(() => {
      if (cancelled) return;
      if (!endpoint || endpoint.refuses()) {
        callbacks.onError({ code: 'ECONNREFUSED', message: `connect ECONNREFUSED ${address}:${port}` });
        return;
      }
      const [proxySide, endpointSide] = this.pair(['10.255.0.1', this.nextPort++], [address, port]);
      endpoint.accept(endpointSide);
      callbacks.onConnect(proxySide);
    }, delay + this.latencyMs);
    return pending;
  }

  /** A downstream client's connection to a listener; the client's end, or undefined when nothing listens there. */
  dial(address: string, port: number, from: [string, number]): SimConnection | undefined {
    const accept = this.listeners.get(`${address}:${port}`);
    if (!accept) return undefined;
    const [client, server] = this.pair(from, [address, port]);
    this.deliver(() => {
      if (!client.closed) accept(server);
    });
    return client;
  }

  /** Is something listening at address:port? */
  listening(address: string, port: number): boolean {
    return this.listeners.has(`${address}:${port}`);
  }

  private pair(a: [string, number], b: [string, number]): [SimConnection, SimConnection] {
    const x = new SimConnection(this, a[0], a[1], b[0], b[1]);
    const y = new SimConnection(this, b[0], b[1], a[0], a[1]);
    x.peer = y;
    y.peer = x;
    return [x, y];
  }
}
