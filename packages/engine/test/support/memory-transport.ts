import type {
  ConnectCallbacks,
  ConnectionHandlers,
  PendingConnect,
  TlsHandshakeCallbacks,
  TlsOptions,
  TlsSessionInfo,
  Transport,
  TransportConnection,
  TransportError,
} from '../../src/seams/transport';

/**
 * An in-memory Transport: connections are pairs of pipes delivering bytes on the next
 * microtask. Upstream connects are decided by a test-supplied function, so a test can
 * make a connect hang, fail or succeed without any socket.
 */
const noop = (): void => {};

export class MemoryConnection implements TransportConnection {
  peer!: MemoryConnection;
  private handlers: ConnectionHandlers = { onData: noop, onEnd: noop, onClose: noop, onDrain: noop };
  closed = false;
  readonly received: Uint8Array[] = [];
  /**
   * A simulated TLS handshake (no bytes cross): startTls settles with this session, or
   * fails with this error, or never settles ('hang'). Bytes after it are plaintext, as
   * after a real handshake.
   */
  tls: Partial<TlsSessionInfo> | { fail: TransportError } | 'hang' = {};
  tlsOptions: TlsOptions | undefined;
  /** bytes that arrived while the simulated handshake was still running: they follow it, as on a real socket */
  private heldForHandshake: Uint8Array[] | undefined;

  constructor(
    readonly localAddress: string,
    readonly localPort: number,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {}

  static pair(a: [string, number], b: [string, number]): [MemoryConnection, MemoryConnection] {
    const x = new MemoryConnection(a[0], a[1], b[0], b[1]);
    const y = new MemoryConnection(b[0], b[1], a[0], a[1]);
    x.peer = y;
    y.peer = x;
    return [x, y];
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
  }

  write(chunk: Uint8Array | string): boolean {
    if (this.closed) return true;
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
    queueMicrotask(() => this.peer.deliver(bytes));
    return true;
  }

  end(): void {
    queueMicrotask(() => this.peer.handlers.onEnd());
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    queueMicrotask(() => {
      this.handlers.onClose();
      this.peer.destroy();
    });
  }

  pause(): void {}
  resume(): void {}

  startTls(options: TlsOptions, callbacks: TlsHandshakeCallbacks): void {
    this.tlsOptions = options;
    this.heldForHandshake = [];
    const outcome = this.tls;
    if (outcome === 'hang') return;
    queueMicrotask(() => {
      const held = this.heldForHandshake ?? [];
      this.heldForHandshake = undefined;
      if ('fail' in outcome) {
        callbacks.onError(outcome.fail);
        this.destroy();
        return;
      }
      callbacks.onSecure({
        version: 'TLSv1.3',
        cipher: 'TLS_AES_128_GCM_SHA256',
        ...(options.alpn[0] !== undefined && { alpn: options.alpn[0] }),
        peerVerified: options.trustedCa !== undefined,
        ...outcome,
      });
      for (const bytes of held) this.deliver(bytes);
    });
  }

  /** Everything this side has received, as text. */
  text(): string {
    return this.received.map((c) => new TextDecoder().decode(c)).join('');
  }

  private deliver(bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.heldForHandshake) {
      this.heldForHandshake.push(bytes);
      return;
    }
    this.received.push(bytes);
    this.handlers.onData(bytes);
  }
}

export type ConnectDecision = (address: string, port: number, callbacks: ConnectCallbacks) => PendingConnect;

export class MemoryTransport implements Transport {
  private acceptors = new Map<string, (c: TransportConnection) => void>();
  cancelledConnects = 0;

  constructor(public onConnect: ConnectDecision = hangingConnect) {}

  async listen(address: string, port: number, onConnection: (c: TransportConnection) => void) {
    this.acceptors.set(`${address}:${port}`, onConnection);
    return { address, port, close: async () => void this.acceptors.delete(`${address}:${port}`) };
  }

  connect(address: string, port: number, callbacks: ConnectCallbacks): PendingConnect {
    const pending = this.onConnect(address, port, callbacks);
    return {
      cancel: () => {
        this.cancelledConnects++;
        pending.cancel();
      },
    };
  }

  /** Open a client connection to a listener; returns the client's end. */
  dial(address: string, port: number): MemoryConnection {
    const accept = this.acceptors.get(`${address}:${port}`);
    if (!accept) throw new Error(`nothing listens on ${address}:${port}`);
    const [client, server] = MemoryConnection.pair(['127.0.0.1', 40000], [address, port]);
    accept(server);
    return client;
  }
}

/** A connect attempt that never completes (a black-holed SYN). */
export const hangingConnect: ConnectDecision = () => ({ cancel: noop });
