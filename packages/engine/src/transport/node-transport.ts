import * as net from 'node:net';
import type {
  ConnectCallbacks,
  ConnectionHandlers,
  PendingConnect,
  Transport,
  TransportConnection,
  TransportError,
  TransportListener,
  TlsHandshakeCallbacks,
  TlsOptions,
} from '../seams/transport';
import { startTls } from './node-tls';

/**
 * Real TCP through node:net (and TLS on it through node-tls.ts). These are the only files
 * of the engine that import `node:`; everything above them speaks the Transport interface.
 */

function toTransportError(err: NodeJS.ErrnoException): TransportError {
  return { code: err.code ?? 'EIO', message: err.message };
}

const noop = (): void => {};
const idleHandlers: ConnectionHandlers = { onData: noop, onEnd: noop, onClose: noop, onDrain: noop };

class NodeConnection implements TransportConnection {
  private handlers: ConnectionHandlers = idleHandlers;
  private error: TransportError | undefined;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;

  constructor(private socket: net.Socket) {
    this.localAddress = stripV4Mapped(socket.localAddress ?? '');
    this.localPort = socket.localPort ?? 0;
    this.remoteAddress = stripV4Mapped(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    socket.setNoDelay(true);
    this.detach = this.attach(socket);
  }

  /** removes this connection's listeners from the socket it reads now */
  private detach: () => void;

  private attach(socket: net.Socket): () => void {
    // Both directions are half-closable, as an Envoy connection is.
    const listeners: Record<string, (...args: any[]) => void> = {
      data: (chunk: Buffer) => this.handlers.onData(chunk),
      end: () => this.handlers.onEnd(),
      drain: () => this.handlers.onDrain(),
      error: (err: NodeJS.ErrnoException) => {
        this.error = toTransportError(err);
      },
      close: () => this.handlers.onClose(this.error),
    };
    for (const [event, listener] of Object.entries(listeners)) socket.on(event, listener);
    return () => {
      for (const [event, listener] of Object.entries(listeners)) socket.off(event, listener);
    };
  }

  /** The TLS socket takes over the TCP one: from here on every event comes from it (node-tls.ts). */
  startTls(options: TlsOptions, callbacks: TlsHandshakeCallbacks, replay?: Uint8Array): void {
    const tcp = this.socket;
    this.detach();
    // Errors of the TCP socket surface on the TLS socket; unheard here they would throw.
    tcp.on('error', noop);
    const secure = startTls(tcp, options, callbacks, replay);
    if (!secure) {
      this.detach = this.attach(tcp);
      tcp.destroy();
      return;
    }
    this.socket = secure;
    this.detach = this.attach(secure);
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
  }

  /**
   * Everything written in one turn of the event loop leaves in one writev: a response's
   * head and body, or a request's, are one syscall and one TCP segment rather than one
   * each (what node:http does for its own messages).
   */
  write(chunk: Uint8Array | string): boolean {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return true;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(this.uncork);
    }
    return socket.write(chunk);
  }

  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    if (!this.socket.destroyed) this.socket.uncork();
  };

  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

function stripV4Mapped(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export const nodeTransport: Transport = {
  listen(address, port, onConnection): Promise<TransportListener> {
    return new Promise((resolve, reject) => {
      const sockets = new Set<net.Socket>();
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        onConnection(new NodeConnection(socket));
      });
      server.once('error', reject);
      server.listen({ host: address, port, backlog: 1024 }, () => {
        server.off('error', reject);
        const bound = server.address() as net.AddressInfo;
        resolve({
          address: bound.address,
          port: bound.port,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              for (const socket of sockets) socket.destroy();
            }),
        });
      });
    });
  },

  connect(address, port, callbacks: ConnectCallbacks): PendingConnect {
    let cancelled = false;
    const socket = net.connect({ host: address, port, allowHalfOpen: true });
    const onError = (err: NodeJS.ErrnoException): void => {
      if (!cancelled) callbacks.onError(toTransportError(err));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      if (cancelled) {
        socket.destroy();
        return;
      }
      callbacks.onConnect(new NodeConnection(socket));
    });
    return {
      cancel() {
        cancelled = true;
        socket.destroy();
      },
    };
  },
};
