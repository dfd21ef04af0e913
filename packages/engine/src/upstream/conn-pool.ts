import type { Actor } from 'xstate';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import { post, type TimerId } from '../seams/clock';
import type { ActorMeta } from '../seams/tracer';
import type { Transport, TransportConnection, TransportError } from '../seams/transport';
import { handshakeFacts, type TlsVerdict } from '../network/tls-context';
import { clientMachine, type ClientCloseReason, type ClientDrainReason, type ClientList, type ClientOwner } from './client.machine';
import type { ClusterInfo } from './cluster-manager';
import { CodecClient, type CodecClientOwner } from './codec-client';
import type { Host } from './host';
import { poolMachine, type PoolOwner } from './pool.machine';
import type { ResourceManager, ResourcePriority } from './resource-manager';

/** ConnectionPool::PoolFailureReason */
export type PoolFailureReason = 'Overflow' | 'LocalConnectionFailure' | 'RemoteConnectionFailure' | 'Timeout';

export interface PoolCallbacks {
  /** a connection is ready for this stream; `client` carries exactly this one exchange */
  onPoolReady(client: CodecClient, info: { clientId: number; reused: boolean; waitedMs: number }): void;
  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string | undefined): void;
}

export interface Cancellable {
  cancel(): void;
}

interface PendingStream {
  callbacks: PoolCallbacks;
  queuedAt: number;
}

/** Envoy prints the errno number in transport failure reasons. */
const ERRNO: Record<string, number> = { ECONNREFUSED: 111, ECONNRESET: 104, ETIMEDOUT: 110, EHOSTUNREACH: 113, ENETUNREACH: 101 };

/**
 * ActiveClient: one upstream connection owned by a pool. Its lifecycle is the client
 * machine, whose entry actions move it between the pool's lists; this class carries the
 * data the pool needs alongside it (the codec, the streams it may still carry, timers).
 */
class ActiveClient implements ClientOwner, CodecClientOwner {
  readonly id: number;
  readonly actor: Actor<typeof clientMachine>;
  readonly meta: ActorMeta;
  /** the connection's codec, from Connected on (undefined: it never connected) */
  codec: CodecClient | undefined;
  /** streams this connection may still carry (max_requests_per_connection); Infinity if unlimited */
  remainingStreams: number;
  readonly createdAt: number;
  /** max_connection_duration, armed once connected */
  private durationTimer: TimerId | undefined;

  constructor(private readonly pool: Http1ConnPool) {
    const limit = pool.cluster.config.max_requests_per_connection;
    this.remainingStreams = limit > 0 ? limit : Infinity;
    this.id = pool.engine.ids.next('client');
    this.createdAt = pool.engine.clock.now();
    this.meta = {
      actor: `${pool.meta.actor}/ucx:${this.id}`,
      machine: 'client',
      ids: { ...pool.meta.ids, ucx: this.id },
      envoy: {},
    };
    // Starting it enters `connecting`, which puts this client in the pool's connecting list.
    this.actor = startTraced(pool.engine, clientMachine, {
      input: {
        transport: pool.transport,
        address: pool.host.address,
        port: pool.host.port,
        connectTimeout: pool.cluster.config.connect_timeout,
        idleTimeout: pool.cluster.config.idle_timeout,
        ...(pool.cluster.tls && { tls: pool.cluster.tls }),
        owner: this,
      },
      path: this.meta.actor,
      kind: 'client',
      ids: this.meta.ids,
    });
  }

  moveToList(list: ClientList): void {
    this.pool.moveToList(this, list);
  }

  removeFromList(): void {
    this.pool.removeFromList(this);
  }

  connectTimeLeft(): number {
    return this.pool.cluster.config.connect_timeout - (this.pool.engine.clock.now() - this.createdAt);
  }

  onHandshake(verdict: TlsVerdict): void {
    const tracer = this.pool.engine.tracer;
    if (!tracer.enabled) return;
    if (verdict.ok) tracer.fact(this.meta, 'tls.handshake', handshakeFacts(verdict.info), 'SslSocket::onSuccess (ClientSslSocket)');
    else tracer.fact(this.meta, 'tls.handshake_failed', { reason: verdict.reason, stat: `ssl.${verdict.stat}`, ...handshakeFacts(verdict.info) }, 'SslSocket::onFailure (ClientSslSocket)');
  }

  onConnected(connection: TransportConnection): void {
    this.codec = new CodecClient(this.pool.engine, connection, this, this.meta);
    const maxDuration = this.pool.cluster.config.max_connection_duration;
    if (maxDuration) {
      // ActiveClient::onConnectionDurationTimeout: the machine drains the client if it is
      // ready or busy (closing now, or after its stream) and ignores it otherwise. It runs
      // across ready, busy and draining, so an `after` would have to be re-armed with the
      // time left on every entry to ready and busy: one clock timer for the connection instead.
      this.durationTimer = this.pool.engine.clock.setTimeout(() => {
        this.durationTimer = undefined;
        this.actor.send({ type: 'client.drain', reason: 'max_connection_duration' });
      }, maxDuration);
    }
    this.pool.onClientConnected(this);
  }

  onDrain(reason: ClientDrainReason | undefined, then: 'close' | 'close after the stream'): void {
    this.remainingStreams = 0;
    if (reason !== 'max_connection_duration') return;
    this.pool.cluster.stats.upstream_cx_max_duration_reached.inc();
    const tracer = this.pool.engine.tracer;
    if (tracer.enabled) tracer.fact(this.meta, 'timer.fired', { timer: 'max_connection_duration', ms: this.pool.cluster.config.max_connection_duration!, then }, 'ActiveClient::onConnectionDurationTimeout');
  }

  onReady(): void {
    this.pool.onClientReady();
  }

  closeConnection(): void {
    this.codec?.close();
  }

  post(fn: () => void): void {
    post(this.pool.engine.clock, fn);
  }

  onClosed(reason: ClientCloseReason, error?: TransportError): void {
    if (this.durationTimer !== undefined) {
      this.pool.engine.clock.clearTimeout(this.durationTimer);
      this.durationTimer = undefined;
    }
    if (reason === 'idle_timeout') {
      const tracer = this.pool.engine.tracer;
      if (tracer.enabled) tracer.fact(this.meta, 'timer.fired', { timer: 'idle_timeout', ms: this.pool.cluster.config.idle_timeout }, 'ActiveClient::onIdleTimeout');
    }
    this.pool.onClientClosed(this, reason, error);
  }

  onStreamComplete(reuse: boolean): void {
    this.pool.onStreamComplete(this, reuse);
  }

  onConnectionClosed(remote: boolean, error?: TransportError): void {
    this.actor.send(remote ? { type: 'client.remote.close', error } : { type: 'client.close' });
  }

  onProtocolError(): void {
    this.pool.cluster.stats.upstream_cx_protocol_error.inc();
  }
}

/**
 * Http1::ConnPoolImpl over ConnPoolImplBase: one per (worker, cluster, host). Keeps
 * connecting / ready / busy clients and a FIFO of pending streams, and decides for each
 * new stream whether to reuse a ready client, queue, open a connection or overflow.
 */
export class Http1ConnPool implements PoolOwner {
  readonly actor: Actor<typeof poolMachine>;
  readonly meta: ActorMeta;
  // ConnPoolImplBase's connecting_clients_, ready_clients_ and busy_clients_. The client
  // machine's entry actions move a client between them (moveToList), so a client is in
  // the list of its state by construction. Sets, for O(1) moves in insertion order.
  private readonly connecting = new Set<ActiveClient>();
  private readonly ready = new Set<ActiveClient>();
  private readonly busy = new Set<ActiveClient>();
  private readonly pending: PendingStream[] = [];
  private readonly attached = new Map<ActiveClient, PoolCallbacks>();
  private upstreamReadyScheduled = false;
  /** the cluster's circuit breakers for this pool's priority */
  readonly resources: ResourceManager;

  constructor(
    readonly engine: EngineContext,
    readonly transport: Transport,
    readonly cluster: ClusterInfo,
    readonly host: Host,
    worker: number,
    /** Envoy keeps a pool per (host, priority): HIGH requests get their own connections */
    readonly priority: ResourcePriority = 'default',
  ) {
    this.resources = cluster.resourceManager(priority);
    const key = priority === 'high' ? `${cluster.name}/${host.key}/high` : `${cluster.name}/${host.key}`;
    this.meta = { actor: `worker:${worker}/pool:${key}`, machine: 'pool', ids: { worker, cluster: cluster.name, host: host.key, pool: key }, envoy: {} };
    this.actor = startTraced(engine, poolMachine, { input: { owner: this }, path: this.meta.actor, kind: 'pool', ids: this.meta.ids });
  }

  /** Counts for the trace and for tests: how many clients sit in each list. */
  lists(): { connecting: number; ready: number; busy: number; pending: number } {
    return { connecting: this.connecting.size, ready: this.ready.size, busy: this.busy.size, pending: this.pending.length };
  }

  /** ConnPoolImplBase::newStreamImpl */
  newStream(callbacks: PoolCallbacks): Cancellable | null {
    const { stats } = this.cluster;
    const resources = this.resources;
    if (this.actor.getSnapshot().value === 'idle') this.actor.send({ type: 'pool.activate' });
    const readyClient = first(this.ready);
    if (readyClient) {
      if (!resources.requests.canCreate()) {
        return this.overflow(callbacks, 'max_requests');
      }
      this.decide('reuse_ready_client', { client: readyClient.id });
      this.attach(readyClient, callbacks, 0, true);
      return null;
    }
    if (!resources.pending.canCreate()) {
      return this.overflow(callbacks, 'max_pending_requests');
    }
    const entry: PendingStream = { callbacks, queuedAt: this.engine.clock.now() };
    this.pending.push(entry);
    resources.pending.inc();
    stats.upstream_rq_pending_total.inc();
    stats.upstream_rq_pending_active.inc();
    this.decide('queue_pending', {}, 'HttpConnPoolImplBase::newPendingStream');
    this.tryCreateNewConnections();
    return {
      cancel: () => {
        const index = this.pending.indexOf(entry);
        if (index < 0) return;
        this.removePending(index);
        stats.upstream_rq_cancelled.inc();
        this.checkIdle();
      },
    };
  }

  /** Close every connection (engine stopping): the pool machine's `draining` does it. */
  drain(): void {
    this.actor.send({ type: 'pool.drain' });
  }

  /** PoolOwner: every client closes now, whatever it carries. */
  closeConnections(): void {
    for (const client of [...this.connecting, ...this.ready, ...this.busy]) client.actor.send({ type: 'client.close' });
  }

  /**
   * drainConnectionsImpl(DrainExistingConnections), when the host fails a health check or
   * is ejected: idle connections close now, busy ones after their stream, connecting ones
   * unless a stream waits for them. The pool stays usable; new streams get new connections.
   */
  drainConnections(why = 'host health failure'): void {
    this.decide('drain_connections', { why }, 'ConnPoolImplBase::drainConnectionsImpl');
    if (this.pending.length === 0) for (const client of [...this.connecting]) client.actor.send({ type: 'client.close' });
    // A ready client closes at once, a busy one after its stream (the client machine's drainClient).
    for (const client of [...this.ready, ...this.busy]) client.actor.send({ type: 'client.drain' });
  }

  stop(): void {
    this.drain();
    stopTraced(this.engine, this.actor);
  }

  // --- client lifecycle, called by ActiveClient ---------------------------------------

  onClientConnected(client: ActiveClient): void {
    this.cluster.stats.upstream_cx_connect_ms.record(this.engine.clock.now() - client.createdAt);
  }

  /** The client machine entered `ready` (after `moveToList('ready')`). */
  onClientReady(): void {
    if (this.pending.length > 0 && !this.upstreamReadyScheduled) {
      // Envoy attaches pending streams on the next dispatcher iteration, not re-entrantly.
      this.upstreamReadyScheduled = true;
      post(this.engine.clock, () => this.onUpstreamReady());
    } else {
      this.checkIdle();
    }
  }

  onStreamComplete(client: ActiveClient, reuse: boolean): void {
    this.endStream(client);
    if (reuse && client.remainingStreams > 0) {
      client.actor.send({ type: 'client.release' });
    } else {
      if (!reuse) this.cluster.stats.upstream_cx_close_notify.inc();
      client.actor.send({ type: 'client.close' });
    }
  }

  onClientClosed(client: ActiveClient, reason: ClientCloseReason, error?: TransportError): void {
    const { stats } = this.cluster;
    const resources = this.resources;
    // Closed before Connected: no codec was ever made for it (the machine already took it off its list).
    const wasConnecting = client.codec === undefined;
    resources.connections.dec();
    stats.upstream_cx_active.dec();
    this.host.stats.cx_active--;
    stats.upstream_cx_destroy.inc();
    if (reason === 'remote_close') stats.upstream_cx_destroy_remote.inc();
    else stats.upstream_cx_destroy_local.inc();
    if (reason === 'idle_timeout') stats.upstream_cx_idle_timeout.inc();
    if (!wasConnecting) stats.upstream_cx_length_ms.record(this.engine.clock.now() - client.createdAt);
    const callbacks = this.attached.get(client);
    if (callbacks) {
      stats.upstream_cx_destroy_with_active_rq.inc();
      (reason === 'remote_close' ? stats.upstream_cx_destroy_remote_with_active_rq : stats.upstream_cx_destroy_local_with_active_rq).inc();
      this.endStream(client);
    }
    if (wasConnecting) {
      const failure: PoolFailureReason = reason === 'connect_timeout' ? 'Timeout' : reason === 'local_close' ? 'LocalConnectionFailure' : 'RemoteConnectionFailure';
      if (reason === 'connect_timeout') stats.upstream_cx_connect_timeout.inc();
      if (reason !== 'local_close') {
        stats.upstream_cx_connect_fail.inc();
        this.host.stats.cx_connect_fail++;
      }
      // A failed handshake's reason is the TLS error itself (TLS_error:|...:TLS_error_end).
      const detail =
        reason === 'connect_timeout' ? undefined : reason === 'tls_failure' ? error?.message : error ? `delayed connect error: ${ERRNO[error.code] ?? error.code}` : undefined;
      this.engine.tracer.fact(this.meta, 'pool.connect_failure', { client: client.id, reason: failure, detail: detail ?? null, pending: this.pending.length }, 'ConnPoolImplBase::onConnectionEvent');
      // A failed connect fails every stream waiting in this pool (purgePendingStreams).
      this.failPending(failure, detail);
    }
    stopTraced(this.engine, client.actor);
    if (this.pending.length > 0) this.tryCreateNewConnections();
    this.checkIdle();
  }

  // --- internals ---------------------------------------------------------------------

  /** ConnPoolImplBase::tryCreateNewConnections: at most 3 per call. */
  private tryCreateNewConnections(): void {
    for (let i = 0; i < 3; i++) {
      if (!this.tryCreateNewConnection()) break;
    }
  }

  private tryCreateNewConnection(): boolean {
    const connectingCapacity = this.connecting.size;
    if (this.pending.length <= connectingCapacity) return false;
    const { stats } = this.cluster;
    const resources = this.resources;
    const hasClients = this.connecting.size + this.ready.size + this.busy.size > 0;
    if (!resources.connections.canCreate() && hasClients) {
      stats.upstream_cx_overflow.inc();
      this.decide('connection_overflow', { limit: 'max_connections', max: resources.connections.max }, 'ConnPoolImplBase::tryCreateNewConnection');
      return false;
    }
    // The decision is reported before the client it creates spawns (its id is the next one).
    this.decide(
      'open_connection',
      { client: this.engine.ids.peek('client'), why: `pending ${this.pending.length} > connecting capacity ${connectingCapacity}` },
      'ConnPoolImplBase::tryCreateNewConnections',
    );
    // Its machine starts in `connecting`, which puts it in the connecting list.
    new ActiveClient(this);
    resources.connections.inc();
    stats.upstream_cx_total.inc();
    stats.upstream_cx_http1_total.inc();
    stats.upstream_cx_active.inc();
    this.host.stats.cx_total++;
    this.host.stats.cx_active++;
    return true;
  }

  /** ConnPoolImplBase::onUpstreamReady: oldest pending stream to the first ready client. */
  private onUpstreamReady(): void {
    this.upstreamReadyScheduled = false;
    while (this.pending.length > 0 && this.ready.size > 0) {
      const client = first(this.ready)!;
      const { callbacks, queuedAt } = this.removePending(0);
      // attachStreamToClient checks max_requests for waiting streams too.
      if (!this.resources.requests.canCreate()) {
        this.overflow(callbacks, 'max_requests');
        continue;
      }
      this.attach(client, callbacks, this.engine.clock.now() - queuedAt, client.remainingStreams !== (this.cluster.config.max_requests_per_connection || Infinity));
    }
    this.checkIdle();
  }

  private attach(client: ActiveClient, callbacks: PoolCallbacks, waitedMs: number, reused: boolean): void {
    const { stats } = this.cluster;
    const resources = this.resources;
    client.remainingStreams--;
    const lastStream = client.remainingStreams <= 0;
    if (lastStream && Number.isFinite(client.remainingStreams)) stats.upstream_cx_max_requests.inc();
    this.attached.set(client, callbacks);
    // Entering busy (or draining) moves it to the busy list; leaving ready cancels its idle_timeout.
    client.actor.send({ type: 'client.attach', lastStream });
    resources.requests.inc();
    stats.upstream_rq_total.inc();
    stats.upstream_rq_active.inc();
    this.host.stats.rq_total++;
    this.host.stats.rq_active++;
    this.engine.tracer.fact(this.meta, 'pool.attach', { client: client.id, waitedMs, reused }, 'ConnPoolImplBase::attachStreamToClient');
    callbacks.onPoolReady(client.codec!, { clientId: client.id, reused, waitedMs });
  }

  private endStream(client: ActiveClient): void {
    if (!this.attached.delete(client)) return;
    this.resources.requests.dec();
    this.cluster.stats.upstream_rq_active.dec();
    this.host.stats.rq_active--;
  }

  private overflow(callbacks: PoolCallbacks, limit: 'max_pending_requests' | 'max_requests'): null {
    this.cluster.stats.upstream_rq_pending_overflow.inc();
    this.decide('overflow', { limit, max: (limit === 'max_requests' ? this.resources.requests : this.resources.pending).max });
    callbacks.onPoolFailure('Overflow', undefined);
    this.checkIdle();
    return null;
  }

  private failPending(reason: PoolFailureReason, detail: string | undefined): void {
    while (this.pending.length > 0) {
      const { callbacks } = this.removePending(0);
      this.cluster.stats.upstream_rq_pending_failure_eject.inc();
      this.engine.tracer.fact(this.meta, 'pool.pending_failed', { reason }, 'ConnPoolImplBase::purgePendingStreams');
      callbacks.onPoolFailure(reason, detail);
    }
  }

  private removePending(index: number): PendingStream {
    const [entry] = this.pending.splice(index, 1);
    this.resources.pending.dec();
    this.cluster.stats.upstream_rq_pending_active.dec();
    return entry!;
  }

  /** ClientOwner.moveToList, for the client machine's entry actions (owningList). */
  moveToList(client: ActiveClient, list: ClientList): void {
    const to = list === 'connecting' ? this.connecting : list === 'ready' ? this.ready : this.busy;
    if (to.has(client)) return;
    this.removeFromList(client);
    to.add(client);
  }

  removeFromList(client: ActiveClient): void {
    this.connecting.delete(client) || this.ready.delete(client) || this.busy.delete(client);
  }

  private decide(decision: string, data: Record<string, unknown>, envoy = 'ConnPoolImplBase::newStreamImpl'): void {
    if (!this.engine.tracer.enabled) return;
    this.engine.tracer.fact(this.meta, 'pool.decision', { decision, ...data, ...this.lists() }, envoy);
  }

  /** Idle: no connection at all and nothing pending (a pool with ready clients stays active). */
  private checkIdle(): void {
    if (this.pending.length + this.busy.size + this.connecting.size + this.ready.size === 0) this.actor.send({ type: 'pool.idle' });
  }
}

/** The front of a list (ready_clients_.front()). */
function first<T>(set: Set<T>): T | undefined {
  for (const item of set) return item;
  return undefined;
}
