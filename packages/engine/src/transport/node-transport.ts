import * as net from 'node:net';
import { lookup } from 'node:dns/promises';
import type {
  ConnectCallbacks,
  ConnectionHandlers,
  PendingConnect,
  Transport,
  TransportConnection,
  TransportError,
  TransportListener,
} from '../seams/transport';

/**
 * Real TCP through node:net. This is the only file of the engine that imports `node:`;
 * everything above it speaks the Transport interface.
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

  constructor(private readonly socket: net.Socket) {
    this.localAddress = stripV4Mapped(socket.localAddress ?? '');
    this.localPort = socket.localPort ?? 0;
    this.remoteAddress = stripV4Mapped(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    socket.setNoDelay(true);
    // Both directions are half-closable, as an Envoy connection is.
    socket.on('data', (chunk: Buffer) => this.handlers.onData(chunk));
    socket.on('end', () => this.handlers.onEnd());
    socket.on('drain', () => this.handlers.onDrain());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error = toTransportError(err);
    });
    socket.on('close', () => this.handlers.onClose(this.error));
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
  }

  write(chunk: Uint8Array | string): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return true;
    return this.socket.write(chunk);
  }

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

  // IPv4 first, as Envoy's default dns_lookup_family V4_PREFERRED does.
  async resolve(hostname) {
    const results = await lookup(hostname, { all: true });
    results.sort((a, b) => a.family - b.family);
    return results.map((r) => r.address);
  },
};
