import type { Actor } from 'xstate';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import { post } from '../seams/clock';
import type { ActorMeta } from '../seams/tracer';
import type { TransportConnection } from '../seams/transport';
import type { Counter, Gauge, StatsStore } from '../stats/stats';
import { activeTcpSocketMachine, type ActiveTcpSocketOwner } from './active-tcp-socket.machine';
import { inspectClientHello, MAX_CLIENT_HELLO, type ClientHelloInfo } from './tls-inspector';

const noop = (): void => {};

export interface ActiveTcpSocketParams {
  id: number;
  /** the listener's actor: the `tls.inspected` facts are its */
  listenerMeta: ActorMeta;
  listenerFiltersTimeout: number;
  continueOnListenerFiltersTimeout: boolean;
  store: StatsStore;
  stats: { downstream_pre_cx_active: Gauge; downstream_pre_cx_timeout: Counter; downstream_listener_filter_remote_close: Counter };
  /** ActiveTcpListener::newConnection with what the inspector found and the bytes it read */
  newConnection: (hello: ClientHelloInfo | undefined, peeked: Uint8Array | undefined) => void;
  /** the socket is done (handed off or closed): the listener forgets it; false if it already had */
  removed: () => boolean;
}

/**
 * ActiveTcpSocket (source/common/listener_manager/active_tcp_socket.cc): holds an accepted
 * connection while the TLS inspector peeks at its first bytes. The chart
 * (active-tcp-socket.machine.ts) decides; this keeps the bytes read so far and what the
 * inspector made of them.
 */
export class ActiveTcpSocket implements ActiveTcpSocketOwner {
  readonly actor: Actor<typeof activeTcpSocketMachine>;
  readonly meta: ActorMeta;
  /** what the listener filter buffer holds: the bytes peeked so far, handed on with the connection */
  private buffered = new Uint8Array(0);
  /** TlsInspector's result, once the buffered bytes gave one */
  private hello: ClientHelloInfo | undefined;

  constructor(
    private readonly engine: EngineContext,
    private readonly transport: TransportConnection,
    private readonly params: ActiveTcpSocketParams,
  ) {
    const { listenerMeta, id } = params;
    this.meta = { actor: `${listenerMeta.actor}/socket:${id}`, machine: 'active_tcp_socket', ids: { ...listenerMeta.ids, cx: id }, envoy: {} };
    params.stats.downstream_pre_cx_active.inc();
    this.actor = startTraced(this.engine, activeTcpSocketMachine, {
      input: { owner: this, listenerFiltersTimeout: params.listenerFiltersTimeout, continueOnListenerFiltersTimeout: params.continueOnListenerFiltersTimeout },
      path: this.meta.actor,
      kind: 'active_tcp_socket',
      ids: this.meta.ids,
    });
    // After a hand-off at the timeout and before the connection takes over (one microtask)
    // the machine is done and a close is not its to see.
    const closed = () => this.actor.getSnapshot().status === 'active' && this.actor.send({ type: 'socket.closed' });
    transport.setHandlers({ onData: (chunk) => this.onData(chunk), onEnd: closed, onClose: closed, onDrain: noop });
  }

  /** Listener stopped: the socket goes with it, whatever it was waiting for. */
  abort(): void {
    this.finish();
    this.transport.destroy();
  }

  /** TlsInspector::onData over everything read so far. */
  private onData(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.buffered.length + chunk.length);
    joined.set(this.buffered);
    joined.set(chunk, this.buffered.length);
    this.buffered = joined;
    // Handed off at the timeout, the connection not made yet: bytes until then go with the peeked ones.
    if (this.actor.getSnapshot().status !== 'active') return;
    const hello = inspectClientHello(this.buffered);
    if (hello !== 'more') this.hello = hello;
    // A record longer than any ClientHello may be: TLS, without SNI or ALPN (TlsInspector's max size).
    else if (this.buffered.length >= MAX_CLIENT_HELLO + 5) this.hello = { transportProtocol: 'tls', alpn: [] };
    this.actor.send({ type: 'socket.data' });
    // Handed off by these bytes: the connection takes the socket now, before its next event.
    if (this.actor.getSnapshot().value === 'handed_off') this.handOff();
  }

  inspectionDone(): boolean {
    return this.hello !== undefined;
  }

  onInspected(): void {
    const info = this.hello!;
    const stat = (name: string) => this.params.store.counter(`tls_inspector.${name}`).inc();
    stat(info.transportProtocol === 'tls' ? 'tls_found' : 'tls_not_found');
    if (info.transportProtocol === 'tls') {
      stat(info.serverName !== undefined ? 'sni_found' : 'sni_not_found');
      stat(info.alpn.length > 0 ? 'alpn_found' : 'alpn_not_found');
    }
    const tracer = this.engine.tracer;
    if (tracer.enabled) {
      tracer.fact(this.params.listenerMeta, 'tls.inspected', { cx: this.params.id, transport_protocol: info.transportProtocol, sni: info.serverName ?? null, alpn: info.alpn }, 'TlsInspector::parseClientHello');
    }
  }

  onTimeout(): void {
    this.params.stats.downstream_pre_cx_timeout.inc();
    this.engine.tracer.fact(
      this.params.listenerMeta,
      'tls.inspected',
      { cx: this.params.id, result: 'listener_filters_timeout', ms: this.params.listenerFiltersTimeout, continue: this.params.continueOnListenerFiltersTimeout },
      'ActiveTcpSocket::onTimeout',
    );
  }

  newConnection(): void {
    // The connection's own actors start once this step is over rather than inside it: right
    // after the event that handed off (onData), or at the timeout on the next microtask.
    post(this.engine.clock, () => this.handOff());
  }

  private handOff(): void {
    if (!this.finish()) return; // already handed off, or the listener stopped meanwhile
    this.params.newConnection(this.hello, this.buffered.length > 0 ? this.buffered : undefined);
  }

  close(reason: 'listener_filters_timeout' | 'remote_close'): void {
    if (reason === 'remote_close') this.params.stats.downstream_listener_filter_remote_close.inc();
    this.finish();
    this.transport.destroy();
  }

  /** Leaves the listener's sockets; false if it had already left. */
  private finish(): boolean {
    if (!this.params.removed()) return false;
    this.transport.setHandlers({ onData: noop, onEnd: noop, onClose: noop, onDrain: noop });
    this.params.stats.downstream_pre_cx_active.dec();
    stopTraced(this.engine, this.actor);
    return true;
  }
}
