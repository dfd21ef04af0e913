import type { Actor } from 'xstate';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import type { TimerId } from '../seams/clock';
import type { ActorMeta } from '../seams/tracer';
import type { TlsSessionInfo, TransportConnection } from '../seams/transport';
import { connectionMachine } from './connection.machine';
import { handshakeFacts, type TlsContext, type TlsVerdict } from './tls-context';

/** A network (L4) read filter, after Network::ReadFilter. */
export interface NetworkFilter {
  readonly name: string;
  onData(chunk: Uint8Array): void;
  onRemoteEnd(): void;
  onWriteDrained(): void;
  onConnectionClosed(remote: boolean): void;
}

/** How long a flushing close waits for the peer before the socket is cut (delayed_close_timeout). */
const DELAYED_CLOSE_MS = 1000;

/**
 * Network::ConnectionImpl for one accepted downstream connection, with its network
 * filter chain. Read-disable is counted, as in Envoy, so independent reasons to stop
 * reading (parser paused, upstream full) do not undo each other.
 */
export class ServerConnection {
  readonly actor: Actor<typeof connectionMachine>;
  private filters: NetworkFilter[] = [];
  private readDisableCount = 0;
  private sawData = false;
  private closing = false;
  private closed = false;
  private closeTimer: TimerId | undefined;
  private localClose = false;
  /** Ssl::ConnectionInfo once the handshake is done; undefined on a raw_buffer connection */
  ssl: TlsSessionInfo | undefined;

  constructor(
    private readonly engine: EngineContext,
    readonly transport: TransportConnection,
    readonly meta: ActorMeta,
    private readonly onClosed: () => void,
    /** the filter chain's TLS context, and the ClientHello bytes the inspector already read */
    private readonly tls?: { context: TlsContext; replay?: Uint8Array },
  ) {
    this.actor = startTraced(engine, connectionMachine, { input: { tls: tls !== undefined }, path: meta.actor, kind: 'connection', ids: meta.ids });
    transport.setHandlers({
      onData: (chunk) => this.onData(chunk),
      onEnd: () => this.onEnd(),
      onClose: () => this.onClose(),
      onDrain: () => {
        for (const f of this.filters) f.onWriteDrained();
      },
    });
    if (tls) this.startHandshake(tls.context, tls.replay);
  }

  /** SslSocket::doHandshake on the server side; the verdict on the client's certificate is the context's. */
  private startHandshake(context: TlsContext, replay: Uint8Array | undefined): void {
    if (!this.transport.startTls) {
      this.onHandshake(context.failed({ code: 'ENOTSUP', message: 'this transport cannot do TLS' }));
      return;
    }
    this.transport.startTls(
      context.options,
      {
        onSecure: (info) => this.onHandshake(context.judge(info)),
        onError: (error) => this.onHandshake(context.failed(error)),
      },
      replay,
    );
  }

  private onHandshake(verdict: TlsVerdict): void {
    if (this.closed) return;
    const tracer = this.engine.tracer;
    if (verdict.ok) {
      this.ssl = verdict.info;
      if (tracer.enabled) tracer.fact(this.meta, 'tls.handshake', handshakeFacts(verdict.info), 'SslSocket::onSuccess');
      this.actor.send({ type: 'cx.handshake.done' });
      return;
    }
    if (tracer.enabled) {
      tracer.fact(this.meta, 'tls.handshake_failed', { reason: verdict.reason, stat: `ssl.${verdict.stat}`, ...handshakeFacts(verdict.info) }, 'SslSocket::onFailure');
    }
    this.localClose = true;
    this.actor.send({ type: 'cx.handshake.failed', reason: verdict.reason });
    this.transport.destroy();
  }

  /** Bytes a listener filter read before this connection existed (plaintext after the TLS inspector). */
  replay(bytes: Uint8Array): void {
    if (bytes.byteLength > 0) this.onData(bytes);
  }

  /** Network::FilterManagerImpl::initializeReadFilters */
  setFilters(filters: NetworkFilter[]): void {
    this.filters = filters;
    if (this.engine.tracer.enabled) {
      filters.forEach((f, index) => this.engine.tracer.fact(this.meta, 'connection.network_filter', { filter: f.name, index }, 'Network::FilterManagerImpl::addReadFilter'));
    }
  }

  readDisable(disable: boolean): void {
    if (this.closed) return;
    const before = this.readDisableCount;
    this.readDisableCount = Math.max(0, before + (disable ? 1 : -1));
    if (before === 0 && this.readDisableCount === 1) this.transport.pause();
    else if (before === 1 && this.readDisableCount === 0) this.transport.resume();
  }

  /** Close once queued bytes are written (ConnectionCloseType::FlushWrite). */
  closeAfterFlush(reason: string): void {
    if (this.closing || this.closed) return;
    this.closing = true;
    this.localClose = true;
    this.actor.send({ type: 'cx.close.local', reason });
    this.transport.end();
    // A peer that never closes its side does not keep us waiting forever.
    this.closeTimer = this.engine.clock.setTimeout(() => this.transport.destroy(), DELAYED_CLOSE_MS);
  }

  /**
   * The peer sent its FIN and half-close is off (the HCM's default): Envoy's
   * ConnectionImpl closes with ConnectionEvent::RemoteClose, so the close counts as the
   * peer's (`downstream_cx_destroy_remote`), even though what is queued is flushed first.
   */
  closeOnRemoteEnd(): void {
    if (this.closing || this.closed) return;
    this.closeAfterFlush('remote end');
    this.localClose = false;
  }

  closeNow(reason: string): void {
    if (this.closed) return;
    this.localClose = true;
    this.actor.send({ type: 'cx.close.local', reason });
    this.transport.destroy();
  }

  private onData(chunk: Uint8Array): void {
    if (!this.sawData) {
      this.sawData = true;
      this.actor.send({ type: 'cx.data' });
    }
    if (this.engine.tracer.enabled) this.engine.tracer.fact(this.meta, 'connection.bytes_read', { bytes: chunk.byteLength }, 'Network::ConnectionImpl::onReadReady');
    for (const f of this.filters) f.onData(chunk);
  }

  private onEnd(): void {
    this.actor.send({ type: 'cx.remote.end' });
    for (const f of this.filters) f.onRemoteEnd();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.closeTimer !== undefined) this.engine.clock.clearTimeout(this.closeTimer);
    // A failed handshake has already closed the machine; the socket's close only follows it.
    if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'cx.closed', reason: this.localClose ? 'local' : 'remote' });
    for (const f of this.filters) f.onConnectionClosed(!this.localClose);
    stopTraced(this.engine, this.actor);
    this.onClosed();
  }
}
