import type { Actor } from 'xstate';
import { compileFormat, ENVOY_DEFAULT_FORMAT, type AccessLogContext, type AccessLogFormatter } from '../accesslog/format';
import type { TcpProxy } from '../config/tcp-proxy';
import type { HcmDeps } from '../http/connection-manager';
import type { FilterStatus } from '../network/network-filter-chain.machine';
import type { NetworkFilter, ReadFilterCallbacks } from '../network/server-connection';
import { handshakeFacts } from '../network/tls-context';
import { startTraced, stopTraced } from '../seams/actors';
import { post, type TimerId } from '../seams/clock';
import type { ActorMeta } from '../seams/tracer';
import type { TlsSessionInfo, Transport, TransportConnection, TransportError } from '../seams/transport';
import { formatResponseFlags } from '../stats/response-flags';
import type { Counter, Gauge, StatsStore } from '../stats/stats';
import type { ClusterInfo } from '../upstream/cluster-manager';
import type { Host } from '../upstream/host';
import type { LoadBalancerContext } from '../upstream/load-balancer';
import { xxHash64 } from '../upstream/xxhash64';
import { tcpProxyMachine, type TcpProxyCloseReason, type TcpProxyEvent, type TcpProxyOwner, type UpstreamCloseType } from './tcp-proxy.machine';

/** `tcp.<stat_prefix>.*` (ALL_TCP_PROXY_STATS) */
function tcpProxyStats(store: StatsStore, prefix: string) {
  const p = `tcp.${prefix}.`;
  const c = (n: string): Counter => store.counter(p + n);
  const g = (n: string): Gauge => store.gauge(p + n);
  return {
    downstream_cx_total: c('downstream_cx_total'),
    downstream_cx_rx_bytes_total: c('downstream_cx_rx_bytes_total'),
    downstream_cx_tx_bytes_total: c('downstream_cx_tx_bytes_total'),
    downstream_flow_control_paused_reading_total: c('downstream_flow_control_paused_reading_total'),
    downstream_flow_control_resumed_reading_total: c('downstream_flow_control_resumed_reading_total'),
    idle_timeout: c('idle_timeout'),
    upstream_flush_total: c('upstream_flush_total'),
    upstream_flush_active: g('upstream_flush_active'),
  };
}

/** What a listener needs to run tcp_proxy on one filter chain: its config, stats and loggers (TcpProxy::Config). */
export class TcpProxyConfig {
  readonly stats: ReturnType<typeof tcpProxyStats>;
  readonly accessLoggers: Array<{ format: AccessLogFormatter; path: string | undefined }>;
  private readonly totalWeight: number;

  constructor(
    readonly config: TcpProxy,
    readonly store: StatsStore,
  ) {
    this.stats = tcpProxyStats(store, config.stat_prefix);
    this.accessLoggers = config.access_log.map((log) => ({ format: compileFormat(log.format ?? ENVOY_DEFAULT_FORMAT), path: log.path }));
    this.totalWeight = (config.weighted_clusters ?? []).reduce((sum, w) => sum + w.weight, 0);
  }

  /** Config::getRouteFromEntries: the cluster, or one of weighted_clusters by weight (WeightedClusterUtil::pickCluster). */
  pickCluster(random: { int(n: number): number }): { name: string; reason: string } {
    if (this.config.cluster !== undefined) return { name: this.config.cluster, reason: 'cluster' };
    const clusters = this.config.weighted_clusters!;
    const value = random.int(this.totalWeight);
    let end = 0;
    for (const w of clusters) {
      end += w.weight;
      if (value < end) return { name: w.name, reason: `weighted_clusters: ${value} of total weight ${this.totalWeight} falls on ${w.name} (weight ${w.weight})` };
    }
    return { name: clusters[clusters.length - 1]!.name, reason: 'weighted_clusters' };
  }
}

/** The downstream connection as tcp_proxy drives it (Network::ReadFilterCallbacks::connection()). */
export interface TcpProxyDownstream {
  readonly meta: ActorMeta;
  readonly transport: TransportConnection;
  readDisable(disable: boolean): void;
  closeAfterFlush(reason: string): void;
  closeNow(reason: string): void;
  /** the TLS session, when the chain terminates TLS */
  ssl(): TlsSessionInfo | undefined;
}

export type TcpProxyDeps = Pick<HcmDeps, 'engine' | 'worker' | 'clusterManager' | 'random' | 'accessLog'> & { transport: Transport };

/** How long a flushing close of the upstream waits for its peer (delayed_close_timeout). */
const DELAYED_CLOSE_MS = 1000;

/** Envoy prints the errno number in transport failure reasons. */
const ERRNO: Record<string, number> = { ECONNREFUSED: 111, ECONNRESET: 104, ETIMEDOUT: 110, EHOSTUNREACH: 113, ENETUNREACH: 101 };

/** Response flags for each way the connection can end early. */
const FLAGS: Partial<Record<TcpProxyCloseReason, string[]>> = {
  no_healthy_upstream: ['UH'],
  overflow: ['UO'],
};

/**
 * TcpProxy::Filter for one downstream connection: the chart (tcp-proxy.machine.ts)
 * decides; this class holds the two sockets, counts bytes, applies backpressure (a write
 * that returns false pauses the other side until drain) and writes the access log.
 * One upstream connection per downstream connection, through the Transport seam (Envoy
 * takes it from a TCP conn pool that never reuses it).
 */
export class TcpProxyFilter implements NetworkFilter, TcpProxyOwner, LoadBalancerContext {
  readonly name = 'envoy.filters.network.tcp_proxy';
  readonly actor: Actor<typeof tcpProxyMachine>;
  readonly meta: ActorMeta;
  private readonly cluster: ClusterInfo;
  private host: Host | undefined;
  /** attached once connected, before the chart hears of it; kept after it closes */
  private upstream: TransportConnection | undefined;
  private upstreamConnectedAt = 0;
  /** downstream bytes that came before the upstream was there (peeked, or already in flight when reads were disabled) */
  private early: Uint8Array[] = [];
  /** the FIN that came after them (Filter::early_data_end_stream_), passed on once the bytes are */
  private earlyEndStream = false;
  // The transport seam reports only the edges of a write buffer (write() false, onDrain), so,
  // as Envoy's on_high_watermark_called_, these remember the socket's side between them.
  /** the upstream's write buffer is over its high watermark: its last write returned false, no drain since */
  private upstreamBlocked = false;
  /** the downstream's write buffer is over its high watermark */
  private downstreamBlocked = false;
  /** why downstream reads are off: no upstream yet, or the upstream's write buffer is full */
  private readonly readDisabledFor = { connect: false, flow: false };
  /**
   * This filter ended or closed the upstream before it went: upstream_cx_destroy_local, not
   * _remote. The socket's onClose does not say whose close it was (Envoy's LocalClose).
   */
  private upstreamClosedLocally = false;
  private upstreamCloseTimer: TimerId | undefined;
  private lastActivity: number;
  private readonly startedAt: number;
  private readonly startTime: number;
  private rx = 0;
  private tx = 0;
  private readonly flags = new Set<string>();
  private transportFailure: string | undefined;
  private readCallbacks: ReadFilterCallbacks | undefined;

  constructor(
    private readonly shared: TcpProxyConfig,
    private readonly deps: TcpProxyDeps,
    private readonly downstream: TcpProxyDownstream,
  ) {
    const { engine } = deps;
    this.startedAt = engine.clock.now();
    this.startTime = engine.clock.wallTime();
    this.lastActivity = this.startedAt;
    const picked = shared.pickCluster(deps.random);
    // The loader checked every cluster name exists.
    this.cluster = deps.clusterManager.get(picked.name)!;
    this.meta = {
      actor: `${downstream.meta.actor}/tcp_proxy`,
      machine: 'tcp_proxy',
      ids: { ...downstream.meta.ids, cluster: this.cluster.name },
      envoy: {},
    };
    shared.stats.downstream_cx_total.inc();
    // Filter::initialize: no reads until there is an upstream to write them to.
    this.setDownstreamReadDisabled('connect', true);
    // The fact comes first in the trace although the actor is not started yet: starting it
    // makes the first connect attempt, whose facts follow.
    if (engine.tracer.enabled) engine.tracer.fact(this.meta, 'tcp_proxy.cluster', { cluster: this.cluster.name, reason: picked.reason, stat_prefix: shared.config.stat_prefix }, 'TcpProxy::Config::getRouteFromEntries');
    this.actor = startTraced(engine, tcpProxyMachine, {
      input: { owner: this, connectTimeout: this.cluster.config.connect_timeout, maxConnectAttempts: shared.config.max_connect_attempts },
      path: this.meta.actor,
      kind: 'tcp_proxy',
      ids: this.meta.ids,
    });
  }

  // --- LoadBalancerContext ---------------------------------------------------------------

  /** Network::HashPolicyImpl (source_ip): the downstream address is the hash. */
  computeHashKey(): bigint | undefined {
    return this.shared.config.hash_source_ip ? xxHash64(this.downstream.transport.remoteAddress) : undefined;
  }

  // --- NetworkFilter (the downstream connection's events) --------------------------------

  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void {
    this.readCallbacks = callbacks;
  }

  /**
   * The chain waits here until the upstream is connected (onConnected continues it), as
   * the downstream's reads do. The connect itself started with the filter (the chart).
   */
  onNewConnection(): FilterStatus {
    return this.actor.getSnapshot().matches('connecting') || this.closed ? 'StopIteration' : 'Continue';
  }

  /** Terminal: the bytes are the upstream's, nothing after this filter sees them. */
  onData(chunk: Uint8Array): FilterStatus {
    if (this.closed) return 'StopIteration';
    this.rx += chunk.byteLength;
    this.shared.stats.downstream_cx_rx_bytes_total.inc(chunk.byteLength);
    this.lastActivity = this.deps.engine.clock.now();
    // As Filter::onData's `if (upstream_)`: the socket, not the chart, since inside the
    // chart's connected transition its snapshot still says `connecting`.
    if (!this.upstream) {
      this.early.push(chunk);
      return 'StopIteration';
    }
    this.writeUpstream(chunk);
    return 'StopIteration';
  }

  onRemoteEnd(): FilterStatus {
    if (this.closed) return 'StopIteration';
    if (!this.upstream) {
      this.earlyEndStream = true;
      return 'StopIteration';
    }
    this.send({ type: 'tcp.downstream.end' });
    return 'StopIteration';
  }

  onWriteDrained(): void {
    if (!this.downstreamBlocked) return;
    this.downstreamBlocked = false;
    this.upstream?.resume();
    this.shared.store.counter(`cluster.${this.cluster.name}.upstream_flow_control_resumed_reading_total`).inc();
  }

  onConnectionClosed(): void {
    this.send({ type: 'tcp.downstream.closed' });
  }

  // --- TcpProxyOwner (what the chart asks for) --------------------------------------------

  connectUpstream(attempt: number, report: (event: TcpProxyEvent) => void): () => void {
    const { engine, worker } = this.deps;
    const { tracer } = engine;
    const cluster = this.cluster;
    const { stats } = cluster;
    // Checked here because a TCP pool would queue a connection that can never be made.
    const resources = cluster.resourceManager('default');
    if (!resources.connections.canCreate()) {
      stats.upstream_cx_overflow.inc();
      this.flags.add('UO');
      post(engine.clock, () => report({ type: 'tcp.upstream.overflow' }));
      return () => {};
    }
    const choice = worker.loadBalancer(cluster).chooseHost(this);
    if (!choice.host) {
      stats.upstream_cx_none_healthy.inc();
      if (tracer.enabled) tracer.fact(this.meta, 'lb.no_host', { cluster: cluster.name, reason: choice.reason }, 'LoadBalancer::chooseHost');
      post(engine.clock, () => report({ type: 'tcp.upstream.no_healthy_host' }));
      return () => {};
    }
    const host = choice.host;
    this.host = host;
    if (tracer.enabled) tracer.fact(this.meta, 'lb.host_selected', { cluster: cluster.name, host: host.key, reason: choice.reason, attempt }, 'LoadBalancer::chooseHost');
    resources.connections.inc();
    stats.upstream_cx_total.inc();
    stats.upstream_cx_active.inc();
    host.stats.cx_total++;
    host.stats.cx_active++;
    const startedAt = engine.clock.now();
    let active = true;
    let connection: TransportConnection | undefined;
    const fail = (error: TransportError | undefined, why: string): void => {
      if (!active) return;
      active = false;
      this.onConnectFailure(host, attempt, error, why);
      report({ type: 'tcp.upstream.connect_failed' });
    };
    const connected = (c: TransportConnection): void => {
      if (!active) return;
      active = false;
      stats.upstream_cx_connect_ms.record(engine.clock.now() - startedAt);
      this.attachUpstream(c);
      report({ type: 'tcp.upstream.connected' });
    };
    const pending = this.deps.transport.connect(host.address, host.port, {
      onConnect: (c) => {
        connection = c;
        if (!active) {
          c.destroy();
          return;
        }
        const tls = cluster.tls;
        if (!tls) return connected(c);
        if (!c.startTls) return fail({ code: 'ENOTSUP', message: 'this transport cannot do TLS' }, 'tls');
        // ClientSslSocket: Connected is raised only once the handshake is done.
        c.startTls(tls.options, {
          onSecure: (info) => {
            const verdict = tls.judge(info);
            if (tracer.enabled) tracer.fact(this.meta, verdict.ok ? 'tls.handshake' : 'tls.handshake_failed', verdict.ok ? handshakeFacts(info) : { reason: verdict.reason, stat: `ssl.${verdict.stat}`, ...handshakeFacts(verdict.info) }, 'SslSocket::onSuccess (ClientSslSocket)');
            if (verdict.ok) connected(c);
            else {
              c.destroy();
              fail({ code: 'TLS', message: verdict.reason }, 'tls');
            }
          },
          onError: (error) => fail({ code: 'TLS', message: tls.failed(error).reason }, 'tls'),
        });
      },
      onError: (error) => fail(error, 'connect'),
    });
    return () => {
      if (!active) return;
      // Abandoned (connect timeout, or the downstream went away): the attempt's counts end here.
      active = false;
      pending.cancel();
      connection?.destroy();
      this.releaseUpstreamCounts(host, false);
    };
  }

  onConnectTimeout(attempt: number): void {
    const { stats } = this.cluster;
    stats.upstream_cx_connect_timeout.inc();
    stats.upstream_cx_connect_fail.inc();
    this.flags.add('UF');
    if (this.host) {
      this.host.stats.cx_connect_fail++;
      this.cluster.outlierDetector?.reportResult(this.host, 'local_origin_timeout');
    }
    const tracer = this.deps.engine.tracer;
    if (tracer.enabled) {
      tracer.fact(this.meta, 'timer.fired', { timer: 'connect_timeout', ms: this.cluster.config.connect_timeout }, 'TcpProxy::Filter::onConnectTimeout');
      tracer.fact(this.meta, 'tcp_proxy.connect_failed', { host: this.host?.key ?? null, attempt, reason: 'connect_timeout' }, 'TcpProxy::Filter::onConnectTimeout');
    }
  }

  onConnected(): void {
    const host = this.host!;
    this.cluster.outlierDetector?.reportResult(host, 200);
    const tracer = this.deps.engine.tracer;
    if (tracer.enabled) tracer.fact(this.meta, 'tcp_proxy.upstream_connected', { host: host.key, early_bytes: this.early.reduce((n, c) => n + c.byteLength, 0) }, 'TcpProxy::Filter::onUpstreamEvent (Connected)');
    this.lastActivity = this.deps.engine.clock.now();
    const early = this.early;
    this.early = [];
    for (const chunk of early) this.writeUpstream(chunk);
    this.setDownstreamReadDisabled('connect', false);
    this.readCallbacks?.continueReading();
    // A FIN that came while connecting follows the bytes before it (the chart takes it once `proxying`).
    if (this.earlyEndStream) this.actor.send({ type: 'tcp.downstream.end' });
  }

  endUpstream(): void {
    this.upstreamClosedLocally = true;
    this.upstream!.end();
  }

  endDownstream(): void {
    this.downstream.transport.end();
  }

  upstreamHasUnflushedData(): boolean {
    return this.upstreamBlocked;
  }

  idleTimeLeft(): number {
    const idle = this.shared.config.idle_timeout;
    if (idle === 0) return Infinity;
    return this.lastActivity + idle - this.deps.engine.clock.now();
  }

  onDraining(): void {
    this.shared.stats.upstream_flush_total.inc();
    this.shared.stats.upstream_flush_active.inc();
    this.upstreamClosedLocally = true;
    this.upstream!.end();
  }

  onDrainerDone(): void {
    this.shared.stats.upstream_flush_active.dec();
  }

  onClosed(reason: TcpProxyCloseReason, upstreamClose: UpstreamCloseType | undefined): void {
    const { engine } = this.deps;
    for (const flag of FLAGS[reason] ?? []) this.flags.add(flag);
    if (reason === 'connect_failed') {
      // initializeUpstreamConnection again with no attempts left: UpstreamRetryLimitExceeded.
      this.flags.add('UF').add('URX');
      this.shared.store.counter(`cluster.${this.cluster.name}.upstream_cx_connect_attempts_exceeded`).inc();
    }
    if (reason === 'idle_timeout') {
      this.shared.stats.idle_timeout.inc();
      if (engine.tracer.enabled) engine.tracer.fact(this.meta, 'timer.fired', { timer: 'idle_timeout', ms: this.shared.config.idle_timeout }, 'TcpProxy::Filter::onIdleTimeout');
    }
    // The upstream goes as the chart says; the downstream by the reason: Filter::onUpstreamEvent
    // closes it with FlushWrite, idle timeouts and failures to connect with NoFlush.
    const upstream = this.upstream;
    if (upstreamClose && upstream) {
      this.upstreamClosedLocally = true;
      if (upstreamClose === 'NoFlush') upstream.destroy();
      else {
        // What is written goes, then FIN; a peer that never closes its side is cut after a while.
        upstream.end();
        this.upstreamCloseTimer = engine.clock.setTimeout(() => upstream.destroy(), DELAYED_CLOSE_MS);
      }
    }
    if (reason === 'upstream_close') this.downstream.closeAfterFlush('upstream closed');
    else if (reason !== 'downstream_close') this.downstream.closeNow(reason.replaceAll('_', ' '));
    const durationMs = Math.round(engine.clock.now() - this.startedAt);
    if (engine.tracer.enabled) {
      engine.tracer.fact(this.meta, 'tcp_proxy.closed', {
        reason,
        flags: formatResponseFlags(this.flags),
        host: this.host?.key ?? null,
        bytes_from_downstream: this.rx,
        bytes_to_downstream: this.tx,
        durationMs,
      }, 'TcpProxy::Filter::~Filter');
    }
    this.writeAccessLog(durationMs);
    stopTraced(engine, this.actor);
  }

  // --- internals -------------------------------------------------------------------------

  /** The chart reached `closed` (its final state): the connection is over. */
  private get closed(): boolean {
    return this.actor.getSnapshot().status !== 'active';
  }

  /** Socket events after the chart reached `closed` have nothing left to decide. */
  private send(event: TcpProxyEvent): void {
    if (!this.closed) this.actor.send(event);
  }

  private attachUpstream(connection: TransportConnection): void {
    this.upstream = connection;
    this.upstreamConnectedAt = this.deps.engine.clock.now();
    const { stats } = this.cluster;
    connection.setHandlers({
      onData: (chunk) => {
        if (this.closed) return;
        stats.upstream_cx_rx_bytes_total.inc(chunk.byteLength);
        this.tx += chunk.byteLength;
        this.shared.stats.downstream_cx_tx_bytes_total.inc(chunk.byteLength);
        this.lastActivity = this.deps.engine.clock.now();
        // Filter::DownstreamCallbacks::onAboveWriteBufferHighWatermark: stop reading the upstream.
        if (!this.downstream.transport.write(chunk) && !this.downstreamBlocked) {
          this.downstreamBlocked = true;
          connection.pause();
          this.shared.store.counter(`cluster.${this.cluster.name}.upstream_flow_control_paused_reading_total`).inc();
        }
      },
      onEnd: () => this.send({ type: 'tcp.upstream.end' }),
      onDrain: () => {
        if (!this.upstreamBlocked) return;
        this.upstreamBlocked = false;
        this.setDownstreamReadDisabled('flow', false);
        this.send({ type: 'tcp.upstream.drained' });
      },
      onClose: () => {
        if (this.upstreamCloseTimer !== undefined) this.deps.engine.clock.clearTimeout(this.upstreamCloseTimer);
        this.releaseUpstreamCounts(this.host!, true, !this.upstreamClosedLocally);
        this.send({ type: 'tcp.upstream.closed' });
      },
    });
  }

  private writeUpstream(chunk: Uint8Array): void {
    this.cluster.stats.upstream_cx_tx_bytes_total.inc(chunk.byteLength);
    // UpstreamCallbacks::onAboveWriteBufferHighWatermark: stop reading the downstream.
    if (!this.upstream!.write(chunk) && !this.upstreamBlocked) {
      this.upstreamBlocked = true;
      this.setDownstreamReadDisabled('flow', true);
    }
  }

  /** Filter::readDisableDownstream; the connect-time disable is not flow control and is not counted as such. */
  private setDownstreamReadDisabled(why: 'connect' | 'flow', disable: boolean): void {
    const reasons = this.readDisabledFor;
    if (reasons[why] === disable) return;
    const before = reasons.connect || reasons.flow;
    reasons[why] = disable;
    const after = reasons.connect || reasons.flow;
    if (before !== after) this.downstream.readDisable(after);
    if (why !== 'flow') return;
    if (disable) this.shared.stats.downstream_flow_control_paused_reading_total.inc();
    else this.shared.stats.downstream_flow_control_resumed_reading_total.inc();
  }

  private onConnectFailure(host: Host, attempt: number, error: TransportError | undefined, why: string): void {
    const { stats } = this.cluster;
    stats.upstream_cx_connect_fail.inc();
    host.stats.cx_connect_fail++;
    this.flags.add('UF');
    this.transportFailure = why === 'tls' ? error?.message : error ? `delayed connect error: ${ERRNO[error.code] ?? error.code}` : undefined;
    this.cluster.outlierDetector?.reportResult(host, 'local_origin_failure');
    this.releaseUpstreamCounts(host, false);
    const tracer = this.deps.engine.tracer;
    if (tracer.enabled) {
      tracer.fact(this.meta, 'tcp_proxy.connect_failed', { host: host.key, attempt, reason: why === 'tls' ? 'tls_failure' : 'connect_failure', detail: this.transportFailure ?? null }, 'TcpProxy::Filter::onUpstreamEvent (connecting)');
    }
  }

  /** The connection's share of the circuit breaker and active gauges ends; with `connected`, its destroy stats too. */
  private releaseUpstreamCounts(host: Host, connected: boolean, remote = false): void {
    const { stats } = this.cluster;
    this.cluster.resourceManager('default').connections.dec();
    stats.upstream_cx_active.dec();
    host.stats.cx_active--;
    if (!connected) return;
    stats.upstream_cx_destroy.inc();
    (remote ? stats.upstream_cx_destroy_remote : stats.upstream_cx_destroy_local).inc();
    stats.upstream_cx_length_ms.record(this.deps.engine.clock.now() - this.upstreamConnectedAt);
  }

  private writeAccessLog(durationMs: number): void {
    const { accessLoggers } = this.shared;
    if (accessLoggers.length === 0) return;
    const t = this.downstream.transport;
    const ssl = this.downstream.ssl();
    const none = (): undefined => undefined;
    const ctx: AccessLogContext = {
      startTime: this.startTime,
      requestHeaders: none,
      responseHeaders: none,
      protocol: undefined,
      responseCode: 0,
      responseFlags: this.flags,
      bytesReceived: this.rx,
      bytesSent: this.tx,
      durationMs,
      upstreamHost: this.host?.key,
      upstreamCluster: this.cluster.name,
      downstreamRemoteAddress: `${t.remoteAddress}:${t.remotePort}`,
      downstreamLocalAddress: `${t.localAddress}:${t.localPort}`,
      upstreamTransportFailureReason: this.transportFailure,
      ...(ssl && {
        requestedServerName: ssl.serverName,
        downstreamTlsVersion: ssl.version,
        downstreamTlsCipher: ssl.cipher,
        downstreamPeerSubject: ssl.peerCertificate?.subject,
        downstreamPeerUriSan: ssl.peerCertificate?.uri.join(','),
      }),
    };
    for (const logger of accessLoggers) this.deps.accessLog(logger.format(ctx), logger.path);
  }
}
