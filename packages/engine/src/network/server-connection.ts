import type { Actor } from 'xstate';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import type { TimerId } from '../seams/clock';
import type { ActorMeta } from '../seams/tracer';
import type { TransportConnection } from '../seams/transport';
import { connectionMachine } from './connection.machine';

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

  constructor(
    private readonly engine: EngineContext,
    readonly transport: TransportConnection,
    readonly meta: ActorMeta,
    private readonly onClosed: () => void,
  ) {
    this.actor = startTraced(engine, connectionMachine, { input: undefined, path: meta.actor, kind: 'connection', ids: meta.ids });
    transport.setHandlers({
      onData: (chunk) => this.onData(chunk),
      onEnd: () => this.onEnd(),
      onClose: () => this.onClose(),
      onDrain: () => {
        for (const f of this.filters) f.onWriteDrained();
      },
    });
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
    this.actor.send({ type: 'cx.closed', reason: this.localClose ? 'local' : 'remote' });
    for (const f of this.filters) f.onConnectionClosed(!this.localClose);
    stopTraced(this.engine, this.actor);
    this.onClosed();
  }
}
