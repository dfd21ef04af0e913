import type { Actor } from 'xstate';
import type { FilterChain, Listener as ListenerConfig } from '../config/types';
import { ConnectionManager, type HcmDeps, HttpConnectionManagerConfig } from '../http/connection-manager';
import { ServerConnection, type NetworkFilter } from '../network/server-connection';
import { TcpProxyConfig, TcpProxyFilter } from '../tcp/tcp-proxy';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import type { ActorMeta } from '../seams/tracer';
import type { Transport, TransportConnection, TransportListener } from '../seams/transport';
import type { Counter, Gauge, StatsStore } from '../stats/stats';
import type { Worker } from '../worker';
import { TlsContext, sslStats } from '../network/tls-context';
import { findFilterChain } from './filter-chain-match';
import { listenerMachine } from './listener.machine';
import type { ClientHelloInfo } from './tls-inspector';
import { ActiveTcpSocket } from './active-tcp-socket';
import { LISTENER_FILTERS_TIMEOUT_MS, runsTlsInspector } from '../config/listener-filters';

const noop = (): void => {};

export interface ListenerDeps extends Omit<HcmDeps, 'worker' | 'isDraining'> {
  transport: Transport;
  store: StatsStore;
  workers: Worker[];
}


/**
 * ListenerImpl + ActiveTcpListener: binds the address, matches each accepted connection
 * to a filter chain and hands it to a worker (round robin, standing in for the kernel's
 * accept balancing across Envoy's worker threads).
 */
export class Listener {
  readonly actor: Actor<typeof listenerMachine>;
  readonly meta: ActorMeta;
  readonly statPrefix: string;
  private socket: TransportListener | undefined;
  private readonly hcms = new Map<FilterChain, HttpConnectionManagerConfig>();
  private readonly tcpProxies = new Map<FilterChain, TcpProxyConfig>();
  private readonly tlsContexts = new Map<FilterChain, TlsContext>();
  /** the TLS inspector runs (configured, or injected for the chains' matches): it must peek first */
  private readonly inspectsTls: boolean;
  /** accepted sockets still in their listener filters */
  private readonly inspecting = new Set<ActiveTcpSocket>();
  private readonly connections = new Set<ServerConnection>();
  private nextWorker = 0;
  private readonly stats: {
    downstream_cx_total: Counter;
    downstream_cx_active: Gauge;
    downstream_cx_destroy: Counter;
    no_filter_chain_match: Counter;
    downstream_pre_cx_active: Gauge;
    downstream_pre_cx_timeout: Counter;
    downstream_listener_filter_remote_close: Counter;
    worker: Array<{ total: Counter; active: Gauge }>;
  };

  constructor(
    private readonly engine: EngineContext,
    readonly config: ListenerConfig,
    private readonly deps: ListenerDeps,
  ) {
    const { address, port_value } = config.address;
    this.statPrefix = `${address}_${port_value}`;
    this.meta = { actor: `listener:${config.name}`, machine: 'listener', ids: { listener: config.name }, envoy: {} };
    const p = `listener.${this.statPrefix}.`;
    const store = deps.store;
    this.stats = {
      downstream_cx_total: store.counter(p + 'downstream_cx_total'),
      downstream_cx_active: store.gauge(p + 'downstream_cx_active'),
      downstream_cx_destroy: store.counter(p + 'downstream_cx_destroy'),
      no_filter_chain_match: store.counter(p + 'no_filter_chain_match'),
      downstream_pre_cx_active: store.gauge(p + 'downstream_pre_cx_active'),
      downstream_pre_cx_timeout: store.counter(p + 'downstream_pre_cx_timeout'),
      downstream_listener_filter_remote_close: store.counter(p + 'downstream_listener_filter_remote_close'),
      worker: deps.workers.map((w) => ({ total: store.counter(`${p}worker_${w.id}.downstream_cx_total`), active: store.gauge(`${p}worker_${w.id}.downstream_cx_active`) })),
    };
    const ssl = sslStats(store, p);
    for (const chain of [...config.filter_chains, ...(config.default_filter_chain ? [config.default_filter_chain] : [])]) {
      if (chain.transport_socket) this.tlsContexts.set(chain, TlsContext.downstream(chain.transport_socket, ssl));
      if (chain.hcm) this.hcms.set(chain, new HttpConnectionManagerConfig(chain.hcm, this.statPrefix, store, deps.runtime));
      if (chain.tcp_proxy) this.tcpProxies.set(chain, new TcpProxyConfig(chain.tcp_proxy, store));
    }
    this.inspectsTls = runsTlsInspector(config);
    this.actor = startTraced(engine, listenerMachine, {
      input: { bind: () => this.bind(), unbind: () => void this.socket?.close() },
      path: this.meta.actor,
      kind: 'listener',
      ids: this.meta.ids,
    });
  }

  /** `address:port` actually bound (port 0 in config picks a free one). */
  get boundAddress(): string | undefined {
    return this.actor.getSnapshot().context.boundAddress;
  }

  get isDraining(): boolean {
    return this.actor.getSnapshot().matches('draining');
  }

  /** Resolves when the listener accepts (active) or rejects with the bind error. */
  whenActive(): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const snap = this.actor.getSnapshot();
        if (snap.value === 'active') {
          resolve(snap.context.boundAddress!);
          return true;
        }
        if (snap.value === 'stopped') {
          const error = new Error(`listener '${this.config.name}' could not bind ${this.config.address.address}:${this.config.address.port_value}: ${snap.context.error ?? 'stopped'}`);
          reject(Object.assign(error, { code: snap.context.errorCode }));
          return true;
        }
        return false;
      };
      if (check()) return;
      const sub = this.actor.subscribe(() => {
        if (check()) sub.unsubscribe();
      });
    });
  }

  drain(): void {
    this.actor.send({ type: 'listener.drain' });
  }

  async stop(): Promise<void> {
    this.actor.send({ type: 'listener.stop' });
    for (const cx of this.connections) cx.closeNow('listener stopped');
    for (const socket of [...this.inspecting]) socket.abort();
    await this.socket?.close();
    stopTraced(this.engine, this.actor);
  }

  private async bind(): Promise<string> {
    const { address, port_value } = this.config.address;
    this.socket = await this.deps.transport.listen(address, port_value, (cx) => this.onAccept(cx));
    return `${this.socket.address}:${this.socket.port}`;
  }

  /** ActiveTcpListener::onAccept -> newConnection */
  private onAccept(transport: TransportConnection): void {
    const tracer = this.engine.tracer;
    const id = this.engine.ids.next('connection');
    if (tracer.enabled) {
      tracer.fact(this.meta, 'listener.accept', { cx: id, remote: `${transport.remoteAddress}:${transport.remotePort}`, local: `${transport.localAddress}:${transport.localPort}` }, 'ActiveTcpListener::onAccept');
    }
    if (!this.actor.getSnapshot().matches('active') && !this.isDraining) {
      transport.destroy();
      return;
    }
    if (this.inspectsTls) this.inspectTls(id, transport);
    else this.newConnection(id, transport, undefined, undefined);
  }

  /**
   * ActiveTcpListener::onAcceptWorker: an ActiveTcpSocket holds the connection while the
   * TLS inspector reads its first bytes (active-tcp-socket.machine.ts); they are handed on,
   * to the handshake or the HCM.
   */
  private inspectTls(id: number, transport: TransportConnection): void {
    const socket: ActiveTcpSocket = new ActiveTcpSocket(this.engine, transport, {
      id,
      listenerMeta: this.meta,
      listenerFiltersTimeout: this.config.listener_filters_timeout ?? LISTENER_FILTERS_TIMEOUT_MS,
      continueOnListenerFiltersTimeout: this.config.continue_on_listener_filters_timeout ?? false,
      store: this.deps.store,
      stats: this.stats,
      newConnection: (hello, peeked) => this.newConnection(id, transport, hello, peeked),
      removed: () => this.inspecting.delete(socket),
    });
    this.inspecting.add(socket);
  }

  /** ActiveTcpListener::newConnection: pick the filter chain and hand the connection to a worker. */
  private newConnection(id: number, transport: TransportConnection, hello: ClientHelloInfo | undefined, peeked: Uint8Array | undefined): void {
    const tracer = this.engine.tracer;
    const choice = findFilterChain(this.config.filter_chains, this.config.default_filter_chain, {
      localAddress: transport.localAddress,
      localPort: transport.localPort,
      remoteAddress: transport.remoteAddress,
      remotePort: transport.remotePort,
      ...(hello?.serverName !== undefined && { serverName: hello.serverName }),
      ...(hello && { transportProtocol: hello.transportProtocol, applicationProtocols: hello.alpn }),
    });
    if (!choice.chain) {
      this.stats.no_filter_chain_match.inc();
      tracer.fact(this.meta, 'listener.no_filter_chain_match', { cx: id, reason: choice.reason }, 'FilterChainManagerImpl::findFilterChain');
      transport.destroy();
      return;
    }
    const worker = this.deps.workers[this.nextWorker++ % this.deps.workers.length]!;
    const meta: ActorMeta = {
      actor: `${this.meta.actor}/cx:${id}`,
      machine: 'connection',
      ids: { listener: this.config.name, worker: worker.id, cx: id },
      envoy: {},
    };
    if (tracer.enabled) {
      tracer.fact(this.meta, 'listener.filter_chain_match', { cx: id, chain: choice.chain.name, reason: choice.reason }, 'FilterChainManagerImpl::findFilterChain');
      tracer.fact(meta, 'connection.worker_assigned', { worker: worker.id }, 'ConnectionHandlerImpl::ActiveTcpListener::newConnection');
    }
    this.stats.downstream_cx_total.inc();
    this.stats.downstream_cx_active.inc();
    const workerStats = this.stats.worker[worker.id]!;
    workerStats.total.inc();
    workerStats.active.inc();
    worker.activeConnections++;
    const tls = this.tlsContexts.get(choice.chain);
    const connection = new ServerConnection(
      this.engine,
      transport,
      meta,
      () => {
        this.connections.delete(connection);
        this.stats.downstream_cx_active.dec();
        this.stats.downstream_cx_destroy.inc();
        workerStats.active.dec();
        worker.activeConnections--;
      },
      tls && { context: tls, ...(peeked && { replay: peeked }) },
    );
    this.connections.add(connection);
    // Filters ProxyScope does not model see the bytes and pass them on (the loader warned).
    const passthrough: NetworkFilter[] = (choice.chain.passthrough_filters ?? []).map((f) => ({
      name: f.name,
      onData: () => 'Continue',
      onRemoteEnd: () => 'Continue',
      onWriteDrained: noop,
      onConnectionClosed: noop,
    }));
    const tcpProxy = this.tcpProxies.get(choice.chain);
    if (tcpProxy) {
      const filter = new TcpProxyFilter(tcpProxy, { ...this.deps, worker }, {
        meta,
        transport,
        readDisable: (disable) => connection.readDisable(disable),
        closeAfterFlush: (reason) => connection.closeAfterFlush(reason),
        closeNow: (reason) => connection.closeNow(reason),
        ssl: () => connection.ssl,
      });
      connection.setFilters([...passthrough, filter]);
      // What the TLS inspector peeked at (a ClientHello passed through, or plaintext) is the stream's first bytes.
      if (!tls && peeked) connection.replay(peeked);
      return;
    }
    const hcm = new ConnectionManager(
      this.hcms.get(choice.chain)!,
      { ...this.deps, worker, isDraining: () => this.isDraining },
      {
        meta,
        transport,
        closeAfterFlush: (reason) => connection.closeAfterFlush(reason),
        closeOnRemoteEnd: () => connection.closeOnRemoteEnd(),
        readDisable: (disable) => connection.readDisable(disable),
        ssl: () => connection.ssl,
      },
    );
    connection.setFilters([
      ...passthrough,
      {
        name: 'envoy.filters.network.http_connection_manager',
        // ConnectionManagerImpl: Continue from onNewConnection (the default), and terminal:
        // what it reads is the codec's
        onData: (chunk) => {
          hcm.onData(chunk);
          return 'StopIteration';
        },
        onRemoteEnd: () => {
          hcm.onRemoteEnd();
          return 'StopIteration';
        },
        onWriteDrained: () => hcm.onWriteDrained(),
        onConnectionClosed: (remote) => hcm.onConnectionClosed(remote),
      },
    ]);
    // Plaintext the inspector read goes to the HCM as if just arrived.
    if (!tls && peeked) connection.replay(peeked);
  }
}
