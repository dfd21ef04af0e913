import type { Actor } from 'xstate';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import type { TimerId } from '../seams/clock';
import type { ActorMeta } from '../seams/tracer';
import type { TlsSessionInfo, TransportConnection } from '../seams/transport';
import { connectionMachine } from './connection.machine';
import { networkFilterChainMachine, nextFilterCall, type FilterStatus, type NetworkFilterChainOwner, type NetworkFilterStop } from './network-filter-chain.machine';
import { handshakeFacts, type TlsContext, type TlsVerdict } from './tls-context';

/**
 * A network (L4) read filter, after Network::ReadFilter: each call answers Continue (the
 * next filter gets the bytes) or StopIteration (the filter keeps them; Envoy requires the
 * last filter to be a terminal one, which always does).
 */
export interface NetworkFilter {
  readonly name: string;
  /** Network::ReadFilter::initializeReadFilterCallbacks, before onNewConnection */
  initializeReadFilterCallbacks?(callbacks: ReadFilterCallbacks): void;
  /** absent: Continue */
  onNewConnection?(): FilterStatus;
  onData(chunk: Uint8Array): FilterStatus;
  /** the peer's FIN: Envoy's onData with end_stream, down the chain as bytes go */
  onRemoteEnd(): FilterStatus;
  onWriteDrained(): void;
  onConnectionClosed(remote: boolean): void;
}

/** Network::ReadFilterCallbacks, the part the filters here use. */
export interface ReadFilterCallbacks {
  /** go on down the chain from the filter after this one (it answered StopIteration) */
  continueReading(): void;
}

/** The peer's FIN as a read going down the chain. */
const END_STREAM = Symbol('end_stream');

/** How long a flushing close waits for the peer before the socket is cut (delayed_close_timeout). */
const DELAYED_CLOSE_MS = 1000;

/**
 * Network::ConnectionImpl for one accepted downstream connection, with its network
 * filter chain. Read-disable is counted, as in Envoy, so independent reasons to stop
 * reading (parser paused, upstream full) do not undo each other.
 */
export class ServerConnection implements NetworkFilterChainOwner {
  readonly actor: Actor<typeof connectionMachine>;
  private filters: NetworkFilter[] = [];
  /** Network::FilterManagerImpl, started once the filters are added */
  private filterChain: Actor<typeof networkFilterChainMachine> | undefined;
  private readonly filterChainMeta: ActorMeta;
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
    this.filterChainMeta = { actor: `${meta.actor}/network_filters`, machine: 'network_filter_chain', ids: meta.ids, envoy: {} };
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

  /** Network::FilterManagerImpl::addReadFilter for each, then initializeReadFilters */
  setFilters(filters: NetworkFilter[]): void {
    this.filters = filters;
    if (this.engine.tracer.enabled) {
      filters.forEach((f, index) => this.engine.tracer.fact(this.meta, 'connection.network_filter', { filter: f.name, index }, 'Network::FilterManagerImpl::addReadFilter'));
    }
    // A connection already gone (its handshake could not start) has no chain to run.
    if (this.closed || filters.length === 0) return;
    filters.forEach((f, index) => f.initializeReadFilterCallbacks?.({ continueReading: () => this.continueReading(index) }));
    this.filterChain = startTraced(this.engine, networkFilterChainMachine, {
      input: { owner: this, filters: filters.map((f) => f.name) },
      path: this.filterChainMeta.actor,
      kind: 'network_filter_chain',
      ids: this.meta.ids,
    });
    this.iterate(undefined);
  }

  // --- NetworkFilterChainOwner -----------------------------------------------------------

  onIterationStopped(stop: NetworkFilterStop): void {
    const tracer = this.engine.tracer;
    // The terminal filter keeps every read: the chain's state says so, a fact per read would not add to it.
    if (!tracer.enabled || (stop.call === 'onData' && stop.index === this.filters.length - 1)) return;
    tracer.fact(this.filterChainMeta, 'network_filter_chain.stopped', { ...stop }, `Network::ReadFilter::${stop.call} (StopIteration)`);
  }

  onIterationContinued(stop: NetworkFilterStop): void {
    const tracer = this.engine.tracer;
    if (tracer.enabled) tracer.fact(this.filterChainMeta, 'network_filter_chain.continued', { ...stop }, 'Network::FilterManagerImpl::ActiveReadFilter::continueReading');
  }

  /** ReadFilterCallbacks::continueReading from the filter at `index` */
  private continueReading(index: number): void {
    const chain = this.filterChain;
    if (!chain || chain.getSnapshot().status !== 'active') return;
    chain.send({ type: 'network_filters.continue_reading', index });
    this.iterate(undefined);
  }

  /**
   * FilterManagerImpl::onContinueReading: call the filter the chain is at and tell it the
   * answer, until the chain is held, through or closed. `read` is what this pass carries
   * (bytes, the FIN, or nothing for onNewConnection alone).
   */
  private iterate(read: Uint8Array | typeof END_STREAM | undefined): void {
    const chain = this.filterChain!;
    for (;;) {
      const snapshot = chain.getSnapshot();
      if (snapshot.status !== 'active') return;
      const at = nextFilterCall(snapshot.value, snapshot.context);
      // A pass with nothing to read gives onData nothing: a continueReading from inside a filter call.
      if (!at || (at.call === 'onData' && read === undefined)) return;
      const filter = this.filters[at.index]!;
      // Read now: the engine's runtime updates its snapshot in place.
      const { value: state, context: { next, initialized } } = snapshot;
      const type = at.call === 'onNewConnection' ? 'network_filters.new_connection' : 'network_filters.data';
      const answer = at.call === 'onNewConnection' ? (filter.onNewConnection?.() ?? 'Continue') : read === END_STREAM ? filter.onRemoteEnd() : filter.onData(read!);
      // The filter may have closed the connection (Envoy checks the connection is still open here too).
      if (chain.getSnapshot().status !== 'active') return;
      chain.send({ type, index: at.index, filter: filter.name, status: answer });
      const after = chain.getSnapshot();
      // An answer the chain did not take (sent while it was busy) must not call the filter again.
      if (after.value === state && after.context.next === next && after.context.initialized === initialized && after.status === 'active') return;
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
    this.read(chunk);
  }

  private onEnd(): void {
    this.actor.send({ type: 'cx.remote.end' });
    this.read(END_STREAM);
  }

  /** ConnectionImpl::onRead: FilterManagerImpl::onRead, from the first filter. */
  private read(what: Uint8Array | typeof END_STREAM): void {
    const chain = this.filterChain;
    if (!chain || chain.getSnapshot().status !== 'active') return;
    chain.send({ type: 'network_filters.read' });
    this.iterate(what);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.closeTimer !== undefined) this.engine.clock.clearTimeout(this.closeTimer);
    // A failed handshake has already closed the machine; the socket's close only follows it.
    if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'cx.closed', reason: this.localClose ? 'local' : 'remote' });
    const chain = this.filterChain;
    if (chain && chain.getSnapshot().status === 'active') chain.send({ type: 'network_filters.closed' });
    for (const f of this.filters) f.onConnectionClosed(!this.localClose);
    if (chain) stopTraced(this.engine, chain);
    stopTraced(this.engine, this.actor);
    this.onClosed();
  }
}
