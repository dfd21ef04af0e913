import type { Actor } from 'xstate';
import type { FilterChain, Listener as ListenerConfig } from '../config/types';
import { ConnectionManager, type HcmDeps, HttpConnectionManagerConfig } from '../http/connection-manager';
import { ServerConnection } from '../network/server-connection';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import type { ActorMeta } from '../seams/tracer';
import type { Transport, TransportConnection, TransportListener } from '../seams/transport';
import type { Counter, Gauge, StatsStore } from '../stats/stats';
import type { Worker } from '../worker';
import { findFilterChain } from './filter-chain-match';
import { listenerMachine } from './listener.machine';

export interface ListenerDeps extends Omit<HcmDeps, 'worker' | 'isDraining'> {
  transport: Transport;
  store: StatsStore;
  workers: Worker[];
}

let nextConnectionId = 1;

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
  private readonly connections = new Set<ServerConnection>();
  private nextWorker = 0;
  private readonly stats: {
    downstream_cx_total: Counter;
    downstream_cx_active: Gauge;
    downstream_cx_destroy: Counter;
    no_filter_chain_match: Counter;
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
      worker: deps.workers.map((w) => ({ total: store.counter(`${p}worker_${w.id}.downstream_cx_total`), active: store.gauge(`${p}worker_${w.id}.downstream_cx_active`) })),
    };
    for (const chain of [...config.filter_chains, ...(config.default_filter_chain ? [config.default_filter_chain] : [])]) {
      this.hcms.set(chain, new HttpConnectionManagerConfig(chain.hcm, this.statPrefix, store));
    }
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
          reject(new Error(`listener '${this.config.name}' could not bind ${this.config.address.address}:${this.config.address.port_value}: ${snap.context.error ?? 'stopped'}`));
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
    const id = nextConnectionId++;
    if (tracer.enabled) {
      tracer.fact(this.meta, 'listener.accept', { cx: id, remote: `${transport.remoteAddress}:${transport.remotePort}`, local: `${transport.localAddress}:${transport.localPort}` }, 'ActiveTcpListener::onAccept');
    }
    if (!this.actor.getSnapshot().matches('active') && !this.isDraining) {
      transport.destroy();
      return;
    }
    const choice = findFilterChain(this.config.filter_chains, this.config.default_filter_chain, transport);
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
    const connection = new ServerConnection(this.engine, transport, meta, () => {
      this.connections.delete(connection);
      this.stats.downstream_cx_active.dec();
      this.stats.downstream_cx_destroy.inc();
      workerStats.active.dec();
      worker.activeConnections--;
    });
    this.connections.add(connection);
    const hcm = new ConnectionManager(
      this.hcms.get(choice.chain)!,
      { ...this.deps, worker, isDraining: () => this.isDraining },
      {
        meta,
        transport,
        closeAfterFlush: (reason) => connection.closeAfterFlush(reason),
        readDisable: (disable) => connection.readDisable(disable),
      },
    );
    connection.setFilters([
      {
        name: 'envoy.filters.network.http_connection_manager',
        onData: (chunk) => hcm.onData(chunk),
        onRemoteEnd: () => hcm.onRemoteEnd(),
        onWriteDrained: () => hcm.onWriteDrained(),
        onConnectionClosed: (remote) => hcm.onConnectionClosed(remote),
      },
    ]);
  }
}
