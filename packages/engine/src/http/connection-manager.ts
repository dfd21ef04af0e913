import type { HttpConnectionManager } from '../config/types';
import { ServerCodec } from '../codec/server-codec';
import type { Actor } from 'xstate';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import { directSteps, type StreamSteps } from '../seams/step';
import type { Random } from '../seams/random';
import type { ActorMeta } from '../seams/tracer';
import type { TlsSessionInfo, TransportConnection } from '../seams/transport';
import { compileFormat, ENVOY_DEFAULT_FORMAT, type AccessLogFormatter } from '../accesslog/format';
import { formatResponseFlags } from '../stats/response-flags';
import type { Counter, Gauge, Histogram, StatsStore } from '../stats/stats';
import { RouteMatcher, type RouteResult } from '../router/route-matcher';
import { EMPTY_RUNTIME, type RuntimeSnapshot } from '../runtime/runtime';
import { RouterFilter } from '../router/router-filter';
import type { ClusterManager } from '../upstream/cluster-manager';
import type { Worker } from '../worker';
import { appendForwardedFor, ensureForwardedProto, ensureRequestId, isInternalRequest } from './forwarding';
import { ActiveStream, type StreamOwner, type StreamTimeouts } from './active-stream';
import type { StreamFilter } from './filter';
import { HeaderMap, type RequestHead, type ResponseHead } from './headers';
import { reasonPhrase } from './status';
import { StreamInfo } from './stream-info';
import { LocalReply, streamContext, type LocalReplyData, type LocalReplyResult } from './local-reply';
import { decideUpgrade, isUpgrade, isUpgradeAccepted, upgradeType } from './upgrade';
import { chainDependsOnRoute, createHttpFilter, filterDisabled, isRouterFilter, type FilterFactoryContext } from './filter-registry';
import { connectionManagerMachine, type ConnectionManagerEvent, type ConnectionManagerMachineOwner } from './connection-manager.machine';

/** HCM drain_timeout default */
const DEFAULT_DRAIN_TIMEOUT_MS = 5000;

/** Everything an HCM shares across the connections of one filter chain. */
export class HttpConnectionManagerConfig {
  readonly routeMatcher: RouteMatcher;
  readonly accessLoggers: Array<{ format: AccessLogFormatter; path: string | undefined }>;
  readonly stats: ReturnType<typeof hcmStats>;
  /** the chain is the router alone: no filter context to build per stream */
  readonly onlyRouter: boolean;
  /** a route may switch a filter off (FilterConfig.disabled / HttpFilter.disabled) */
  readonly chainDependsOnRoute: boolean;
  /** local_reply_config, compiled; absent when the HCM has none */
  readonly localReply: LocalReply | undefined;
  private readonly filterState = new WeakMap<object, unknown>();

  constructor(
    readonly config: HttpConnectionManager,
    readonly listenerStatPrefix: string,
    readonly store: StatsStore,
    /** the bootstrap's layered_runtime snapshot (route runtime_fraction and the filters read it) */
    readonly runtime: RuntimeSnapshot = EMPTY_RUNTIME,
  ) {
    this.routeMatcher = new RouteMatcher(config.route_config, runtime);
    this.accessLoggers = config.access_log.map((log) => ({ format: compileFormat(log.format ?? ENVOY_DEFAULT_FORMAT), path: log.path }));
    this.stats = hcmStats(store, config.stat_prefix, listenerStatPrefix);
    this.onlyRouter = config.http_filters.every(isRouterFilter);
    this.localReply = config.local_reply_config ? new LocalReply(config.local_reply_config) : undefined;
    const vhosts = config.route_config.virtual_hosts;
    this.chainDependsOnRoute = chainDependsOnRoute(config.http_filters, [...vhosts, ...vhosts.flatMap((v) => v.routes)]);
  }

  /** FilterFactoryContext.shared: one value per key for every stream of this HCM. */
  readonly shared = <T>(key: object, init: () => T): T => {
    if (this.filterState.has(key)) return this.filterState.get(key) as T;
    const value = init();
    this.filterState.set(key, value);
    return value;
  };
}

function hcmStats(store: StatsStore, prefix: string, listenerPrefix: string) {
  const p = `http.${prefix}.`;
  const c = (n: string): Counter => store.counter(p + n);
  const g = (n: string): Gauge => store.gauge(p + n);
  const h = (n: string): Histogram => store.histogram(p + n);
  const byClass = (base: string) => [1, 2, 3, 4, 5].map((k) => store.counter(`${base}downstream_rq_${k}xx`));
  return {
    downstream_cx_total: c('downstream_cx_total'),
    downstream_cx_http1_total: c('downstream_cx_http1_total'),
    downstream_cx_active: g('downstream_cx_active'),
    downstream_cx_http1_active: g('downstream_cx_http1_active'),
    downstream_cx_destroy: c('downstream_cx_destroy'),
    downstream_cx_destroy_remote: c('downstream_cx_destroy_remote'),
    downstream_cx_destroy_local: c('downstream_cx_destroy_local'),
    downstream_cx_destroy_active_rq: c('downstream_cx_destroy_active_rq'),
    downstream_cx_protocol_error: c('downstream_cx_protocol_error'),
    downstream_cx_drain_close: c('downstream_cx_drain_close'),
    downstream_cx_idle_timeout: c('downstream_cx_idle_timeout'),
    downstream_cx_max_duration_reached: c('downstream_cx_max_duration_reached'),
    downstream_rq_idle_timeout: c('downstream_rq_idle_timeout'),
    downstream_rq_timeout: c('downstream_rq_timeout'),
    downstream_cx_rx_bytes_total: c('downstream_cx_rx_bytes_total'),
    downstream_cx_tx_bytes_total: c('downstream_cx_tx_bytes_total'),
    downstream_rq_total: c('downstream_rq_total'),
    downstream_rq_http1_total: c('downstream_rq_http1_total'),
    downstream_rq_active: g('downstream_rq_active'),
    downstream_rq_completed: c('downstream_rq_completed'),
    downstream_rq_rx_reset: c('downstream_rq_rx_reset'),
    downstream_rq_tx_reset: c('downstream_rq_tx_reset'),
    downstream_rq_too_large: c('downstream_rq_too_large'),
    downstream_rq_response_before_rq_complete: c('downstream_rq_response_before_rq_complete'),
    downstream_rq_time: h('downstream_rq_time'),
    downstream_rq_xx: byClass(p),
    listener_downstream_rq_xx: byClass(`listener.${listenerPrefix}.http.${prefix}.`),
    listener_downstream_rq_completed: store.counter(`listener.${listenerPrefix}.http.${prefix}.downstream_rq_completed`),
    rq_total: c('rq_total'),
    no_route: c('no_route'),
    no_cluster: c('no_cluster'),
    rq_redirect: c('rq_redirect'),
    rq_direct_response: c('rq_direct_response'),
  };
}

export interface HcmDeps {
  engine: EngineContext;
  worker: Worker;
  clusterManager: ClusterManager;
  random: Random;
  /** the runtime snapshot; absent = empty */
  runtime?: RuntimeSnapshot;
  /** where formatted access-log lines go (stdout or a file path) */
  accessLog: (line: string, path: string | undefined) => void;
  /** true while the listener drains: responses then close their connection */
  isDraining: () => boolean;
}

export interface ConnectionControl {
  readonly meta: ActorMeta;
  readonly transport: TransportConnection;
  /** close after what is queued has been written */
  closeAfterFlush(reason: string): void;
  /** the peer half-closed and half-close is off: close as Envoy's RemoteClose, after what is queued */
  closeOnRemoteEnd(): void;
  readDisable(disable: boolean): void;
  /** Ssl::ConnectionInfo of a TLS downstream (Connection::ssl()); absent or undefined for raw_buffer */
  ssl?(): TlsSessionInfo | undefined;
}

/** Codec errors whose code is already Envoy's %RESPONSE_CODE_DETAILS% for them. */
const CODEC_ERROR_DETAILS = new Set(['missing_host_header', 'http.invalid_authority', 'http1.invalid_url']);

/**
 * ConnectionManagerImpl: the terminal network filter. Turns bytes into streams through
 * the HTTP/1 codec, runs each through the filter chain, decides keep-alive. Its drain
 * state and connection timers (idle_timeout, max_connection_duration, drain_timeout) are
 * its machine's (connection-manager.machine.ts, actor `<connection>/hcm`); the stream's
 * own timers are the stream machine's (stream.machine.ts).
 */
export class ConnectionManager implements StreamOwner, ConnectionManagerMachineOwner {
  private readonly codec: ServerCodec;
  private readonly actor: Actor<typeof connectionManagerMachine>;
  private stream: ActiveStream | undefined;
  private requestsOnConnection = 0;
  private direct: StreamSteps | undefined;

  constructor(
    private readonly shared: HttpConnectionManagerConfig,
    private readonly deps: HcmDeps,
    private readonly connection: ConnectionControl,
  ) {
    const { config } = shared;
    this.codec = new ServerCodec(
      deps.engine,
      connection.transport,
      {
        onRequestHeaders: (head, endStream, info) => this.onRequestHeaders(head, endStream, info),
        onRequestData: (chunk, endStream) => this.onRequestData(chunk, endStream),
        onCodecError: (status, code, reason) => this.onCodecError(status, code, reason),
        onPipelineBacklog: (blocked) => this.connection.readDisable(blocked),
      },
      { maxHeaderBytes: config.max_request_headers_bytes, maxHeadersCount: config.max_headers_count, acceptHttp10: config.accept_http_10 },
      connection.meta,
    );
    shared.stats.downstream_cx_total.inc();
    shared.stats.downstream_cx_http1_total.inc();
    shared.stats.downstream_cx_active.inc();
    shared.stats.downstream_cx_http1_active.inc();
    this.actor = startTraced(deps.engine, connectionManagerMachine, {
      input: { owner: this, idleTimeout: config.idle_timeout, maxConnectionDuration: config.max_connection_duration ?? 0, drainTimeout: config.drain_timeout ?? DEFAULT_DRAIN_TIMEOUT_MS, connectedAt: deps.engine.clock.now() },
      path: `${connection.meta.actor}/hcm`,
      kind: 'http_connection_manager',
      ids: connection.meta.ids,
    });
  }

  get engine(): EngineContext {
    return this.deps.engine;
  }

  /** Requests that no breakpoint can hold run straight through (seams/step.ts). */
  private get directSteps(): StreamSteps {
    return (this.direct ??= directSteps(this.deps.engine.clock));
  }

  get hasActiveStream(): boolean {
    return this.stream !== undefined;
  }

  /** Events after the connection closed (a stream's last callbacks) have no machine to move. */
  private send(event: ConnectionManagerEvent): void {
    if (this.actor.getSnapshot().status === 'active') this.actor.send(event);
  }

  /** DrainState::Closing: the stream in flight is the connection's last (or the close is under way) */
  private get isClosing(): boolean {
    const snapshot = this.actor.getSnapshot();
    return snapshot.status !== 'active' || snapshot.matches('closing');
  }

  // --- network filter ----------------------------------------------------------------

  /** ConnectionManagerImpl::onData */
  onData(chunk: Uint8Array): void {
    this.shared.stats.downstream_cx_rx_bytes_total.inc(chunk.byteLength);
    // Only the first bytes move the machine (Envoy creates its codec for them).
    if (this.actor.getSnapshot().matches('awaiting_data')) this.send({ type: 'hcm.data' });
    this.codec.dispatch(chunk);
  }

  /**
   * The client half-closed. Envoy treats that as the client going away on an HTTP/1
   * connection: a stream in flight is reset (flag DC) and its upstream request cancelled.
   */
  onRemoteEnd(): void {
    const stream = this.stream;
    if (stream) {
      this.shared.stats.downstream_rq_rx_reset.inc();
      stream.onDownstreamReset();
      this.endStream(stream);
    }
    this.send({ type: 'hcm.remote.end' });
  }

  onWriteDrained(): void {
    this.stream?.onBelowWriteBufferLowWatermark();
  }

  onConnectionClosed(remote: boolean): void {
    if (this.actor.getSnapshot().status !== 'active') return;
    const { stats } = this.shared;
    stats.downstream_cx_destroy.inc();
    (remote ? stats.downstream_cx_destroy_remote : stats.downstream_cx_destroy_local).inc();
    stats.downstream_cx_active.dec();
    stats.downstream_cx_http1_active.dec();
    const stream = this.stream;
    if (stream) {
      stats.downstream_cx_destroy_active_rq.inc();
      stats.downstream_rq_rx_reset.inc();
      stream.onDownstreamReset();
      this.endStream(stream);
    }
    this.send({ type: 'hcm.closed' });
    stopTraced(this.deps.engine, this.actor);
    this.codec.destroy();
  }

  // --- codec callbacks ---------------------------------------------------------------

  private onRequestHeaders(head: RequestHead, endStream: boolean, info: { keepAlive: boolean; http10: boolean; upgrade?: boolean }): void {
    const { engine, random } = this.deps;
    const { config, stats } = this.shared;
    this.requestsOnConnection++;
    const max = config.max_requests_per_connection;
    // Past an upgrade head llhttp reads no more HTTP: tunnelled or refused, the connection
    // ends with this stream (Envoy refuses further requests too, against smuggling).
    const lastOnConnection = !info.keepAlive || info.upgrade === true || (max > 0 && this.requestsOnConnection >= max);
    stats.downstream_rq_total.inc();
    stats.downstream_rq_http1_total.inc();
    stats.downstream_rq_active.inc();
    const transport = this.connection.transport;
    const streamInfo = new StreamInfo(
      engine.clock.wallTime(),
      engine.clock.now(),
      `${transport.remoteAddress}:${transport.remotePort}`,
      `${transport.localAddress}:${transport.localPort}`,
    );
    const id = engine.ids.next('stream');
    const meta: ActorMeta = {
      actor: `${this.connection.meta.actor}/stream:${id}`,
      machine: 'stream',
      ids: { ...this.connection.meta.ids, stream: id },
      envoy: {},
    };
    // ConnectionManagerUtility::mutateRequestHeaders, before any filter sees the request.
    // Internal (x-envoy-* control headers honoured) is decided on the request as it came.
    streamInfo.internal = isInternalRequest(transport.remoteAddress, head.headers);
    appendForwardedFor(head.headers, transport.remoteAddress, config.use_remote_address);
    const ssl = this.connection.ssl?.();
    if (ssl) {
      head.scheme = 'https';
      streamInfo.downstreamTls = ssl;
    }
    ensureForwardedProto(head.headers, ssl ? 'https' : 'http', { useRemoteAddress: config.use_remote_address, xffNumTrustedHops: config.xff_num_trusted_hops });
    if (config.generate_request_id) ensureRequestId(head.headers, random);
    const steps = engine.stepper?.armed ? engine.stepper.stepsFor(id, meta, engine.clock, streamInfo) : this.directSteps;
    // request_timeout is never armed for a request its headers complete.
    const timeouts: StreamTimeouts = { request: endStream ? 0 : config.request_timeout, streamIdle: config.stream_idle_timeout };
    const stream = new ActiveStream(this, meta, streamInfo, (s) => this.createFilters(s), random.u32(), steps, timeouts);
    this.stream = stream;
    this.send({ type: 'hcm.stream.begin' });
    if (lastOnConnection) this.send({ type: 'hcm.close_after_response' });
    // ActiveStream::decodeHeaders: without proxy_100_continue Envoy answers the expectation
    // itself, before any filter runs, and does not forward it.
    if (!config.proxy_100_continue && head.headers.get('expect')?.toLowerCase() === '100-continue') {
      head.headers.remove('expect');
      engine.tracer.fact(meta, 'codec.continue_sent', {}, 'ConnectionManagerImpl::ActiveStream::decodeHeaders (100-continue)');
      this.writeInformationalHeaders(stream, { status: 100, headers: new HeaderMap() });
    }
    stream.decodeHeaders(head, endStream);
  }

  private onRequestData(chunk: Uint8Array, endStream: boolean): void {
    const stream = this.stream;
    if (!stream) return;
    stream.resetIdleTimer();
    stream.decodeData(chunk, endStream);
  }

  private onCodecError(status: number, code: string, reason: string): void {
    const { stats } = this.shared;
    stats.downstream_cx_protocol_error.inc();
    if (status === 431) stats.downstream_rq_too_large.inc();
    let stream = this.stream;
    if (!stream) {
      // The request never got far enough for a stream: make one so the reply is logged.
      const head: RequestHead = { method: '-', path: '-', authority: '', scheme: 'http', protocol: 'HTTP/1.1', headers: new HeaderMap() };
      const transport = this.connection.transport;
      const id = this.deps.engine.ids.next('stream');
      const meta: ActorMeta = { actor: `${this.connection.meta.actor}/stream:${id}`, machine: 'stream', ids: { ...this.connection.meta.ids, stream: id }, envoy: {} };
      const info = new StreamInfo(this.deps.engine.clock.wallTime(), this.deps.engine.clock.now(), `${transport.remoteAddress}:${transport.remotePort}`, `${transport.localAddress}:${transport.localPort}`);
      stats.downstream_rq_total.inc();
      stats.downstream_rq_active.inc();
      stream = new ActiveStream(this, meta, info, () => [], 0, this.directSteps);
      this.stream = stream;
      this.send({ type: 'hcm.stream.begin' });
      stream.streamInfo.request = head;
    }
    // After a protocol error HTTP/1 cannot find where the next request would start.
    this.send({ type: 'hcm.close_after_response' });
    this.deps.engine.tracer.fact(stream.meta, 'codec.error', { status, code, reason }, 'Http1::ServerConnectionImpl::sendProtocolError');
    const details = status === 426 ? 'http1.low_version' : CODEC_ERROR_DETAILS.has(code) ? code : 'http1.codec_error';
    stream.sendLocalReply(status, status === 426 ? '' : reasonPhrase(status), { flag: 'DPE', details });
  }

  // --- StreamOwner -------------------------------------------------------------------

  routeFor(stream: ActiveStream): RouteResult {
    const head = stream.streamInfo.request!;
    const result = this.shared.routeMatcher.route(head, stream.randomValue);
    // RouteAction.idle_timeout replaces stream_idle_timeout for this stream (refreshIdleTimeout).
    const routeIdle = result.route?.route?.idle_timeout;
    if (routeIdle !== undefined && stream === this.stream) stream.refreshIdleTimeout(routeIdle);
    const tracer = this.deps.engine.tracer;
    if (tracer.enabled) {
      // The candidates and the draw are worked out again only here, so an untraced lookup builds none of it.
      const why = this.shared.routeMatcher.explain(head, stream.randomValue, result);
      const vhostData: Record<string, unknown> = { vhost: result.vhost?.name ?? null, reason: result.vhostReason, match: why.vhostMatch, domain: why.domain ?? null, vhosts: why.vhosts };
      tracer.fact(stream.meta, 'route.virtual_host', vhostData, 'RouteMatcher::findVirtualHost');
      const tried = { candidates: why.candidates, ...(why.more > 0 ? { more: why.more } : {}), routes: why.routes };
      if (result.matched) {
        tracer.fact(
          stream.meta,
          'route.match',
          {
            route: result.route.name,
            reason: result.reason,
            matchedOn: result.matchedOn,
            cluster: result.cluster?.name ?? null,
            clusterReason: result.cluster?.reason ?? null,
            ...tried,
            ...(why.weighted ? { weighted: why.weighted } : {}),
          },
          'VirtualHostImpl::getRouteFromEntries',
        );
      } else {
        tracer.fact(stream.meta, 'route.no_match', { reason: result.reason, ...tried }, 'VirtualHostImpl::getRouteFromEntries');
      }
    }
    return result;
  }

  get proxy100Continue(): boolean {
    return this.shared.config.proxy_100_continue === true;
  }

  /** ActiveStream::encode1xxHeaders: counted like a response (chargeStats), then written at once. */
  writeInformationalHeaders(stream: ActiveStream, head: ResponseHead): void {
    const { stats } = this.shared;
    stats.downstream_rq_xx[0]!.inc();
    stats.listener_downstream_rq_xx[0]!.inc();
    stats.downstream_rq_completed.inc();
    stats.listener_downstream_rq_completed.inc();
    stream.resetIdleTimer();
    this.codec.write1xxHeaders(head);
  }

  rewriteLocalReply(stream: ActiveStream, reply: LocalReplyData, headers: HeaderMap): LocalReplyResult | undefined {
    const localReply = this.shared.localReply;
    if (!localReply) return undefined;
    const info = stream.streamInfo;
    // LocalReplyImpl::rewrite: the status filter and %RESPONSE_CODE% see the reply's status.
    info.responseCode = reply.status;
    const context = streamContext(info, stream.engine.clock.now());
    const random = this.deps.random;
    return localReply.rewrite(reply, headers, { context, request: info.request, randomValue: stream.randomValue, random: () => random.u32(), runtime: this.shared.runtime });
  }

  /**
   * ActiveStream::decodeHeaders: an upgrade request on a route (and HCM) that does not
   * allow its type is answered 403 `upgrade_failed` (downstream_rq_ws_on_non_ws_route).
   * Without a route, the router answers 404 as for any request.
   */
  rejectUpgrade(stream: ActiveStream): boolean {
    const request = stream.streamInfo.request;
    if (!request || !isUpgrade(request.headers)) return false;
    const route = stream.route();
    if (!route.matched) return false;
    const type = upgradeType(request.headers);
    const decision = decideUpgrade(type, this.shared.config.upgrade_configs, route.route.route?.upgrade_configs);
    const tracer = this.deps.engine.tracer;
    if (tracer.enabled) {
      tracer.fact(stream.meta, 'stream.upgrade', { upgrade: type, decision: decision.allowed ? 'allowed' : 'rejected', by: decision.by }, 'HttpConnectionManagerConfig::createUpgradeFilterChain');
    }
    if (decision.allowed) return false;
    this.shared.store.counter(`http.${this.shared.config.stat_prefix}.downstream_rq_ws_on_non_ws_route`).inc();
    stream.sendLocalReply(403, '', { details: 'upgrade_failed' });
    return true;
  }

  finalizeResponseHeaders(head: ResponseHead): void {
    // server_header_transformation OVERWRITE, Envoy's default.
    head.headers.set('server', this.shared.config.server_name);
  }

  writeResponseHeaders(stream: ActiveStream, head: ResponseHead, endStream: boolean): void {
    if (!endStream && isUpgradeAccepted(stream.streamInfo.request?.headers, head.status, head.headers)) {
      // The 101 opening a tunnel: no `connection: close`. (The stream machine's `upgraded`
      // has no request timeout: the request head was all of the request.)
      stream.resetIdleTimer();
      this.codec.writeHeaders(head, false, false);
      return;
    }
    if (!stream.requestComplete) {
      // The response beat the request: HTTP/1 cannot find the next request's start.
      this.shared.stats.downstream_rq_response_before_rq_complete.inc();
      this.send({ type: 'hcm.close_after_response' });
    }
    // A draining listener, or a connection draining after idle_timeout or
    // max_connection_duration: HTTP/1 says so with `connection: close` on this response.
    this.send({ type: 'hcm.encode.headers', listenerDraining: this.deps.isDraining() });
    if (this.isClosing) head.headers.set('connection', 'close');
    stream.resetIdleTimer();
    this.codec.writeHeaders(head, endStream, stream.isHeadRequest);
    // A response framed by the close (HTTP/1.0 without a length).
    if (this.codec.mustCloseAfterResponse) this.send({ type: 'hcm.close_after_response' });
  }

  writeResponseData(stream: ActiveStream, chunk: Uint8Array, endStream: boolean): boolean {
    this.shared.stats.downstream_cx_tx_bytes_total.inc(chunk.byteLength);
    stream.resetIdleTimer();
    return this.codec.writeData(chunk, endStream, stream.isHeadRequest);
  }

  readDisable(disable: boolean): void {
    this.connection.readDisable(disable);
  }

  onStreamComplete(stream: ActiveStream): void {
    this.endStream(stream);
    // Closing, the machine closes the connection now; otherwise the next request may start.
    this.send({ type: 'hcm.stream.end' });
    if (!this.isClosing) this.codec.resume();
  }

  onStreamReset(stream: ActiveStream, reason: string): void {
    this.shared.stats.downstream_rq_tx_reset.inc();
    this.endStream(stream);
    void reason;
    this.send({ type: 'hcm.stream.reset' });
  }

  // --- internals ---------------------------------------------------------------------

  /**
   * FilterChainFactory::createFilterChain for one stream. With only the router there is
   * nothing to decide; when a route can switch filters off, the route is looked up first.
   */
  private createFilters(stream: ActiveStream): StreamFilter[] {
    const shared = this.shared;
    const { config } = shared;
    const meta = stream.meta;
    const filters: StreamFilter[] = [];
    const route = shared.chainDependsOnRoute ? stream.route() : undefined;
    let ctx: FilterFactoryContext | undefined;
    config.http_filters.forEach((filter, index) => {
      if (isRouterFilter(filter)) {
        filters.push(
          new RouterFilter({
            engine: stream.engine,
            steps: stream.steps,
            worker: this.deps.worker,
            clusterManager: this.deps.clusterManager,
            hcm: config,
            stream: meta,
            stats: shared.stats,
            random: this.deps.random,
          }),
        );
        return;
      }
      if (route && filterDisabled(filter, route)) {
        this.deps.engine.tracer.fact(meta, 'stream.decoder_filter', { filter: filter.name, index, phase: 'headers', call: 'disabled' }, 'FilterManager::createFilterChain');
        return;
      }
      ctx ??= { engine: stream.engine, stream: meta, random: this.deps.random, runtime: shared.runtime, stats: shared.store, statPrefix: config.stat_prefix, shared: shared.shared };
      filters.push(createHttpFilter(filter, ctx));
    });
    return filters;
  }

  // --- timers (ConnectionManagerImpl / ActiveStream timeouts) --------------------------

  private timerFired(meta: ActorMeta, timer: string, ms: number, envoy: string, data: Record<string, unknown> = {}): void {
    const tracer = this.deps.engine.tracer;
    if (tracer.enabled) tracer.fact(meta, 'timer.fired', { timer, ms, ...data }, envoy);
  }

  /** ActiveStream::onIdleTimeout: 408 before the whole request arrived, 504 after; reset once the response started. */
  onStreamIdleTimeout(stream: ActiveStream): void {
    this.shared.stats.downstream_rq_idle_timeout.inc();
    this.timerFired(stream.meta, 'stream_idle_timeout', stream.idleTimeout, 'ConnectionManagerImpl::ActiveStream::onIdleTimeout');
    stream.streamInfo.setFlag('SI');
    stream.sendTimeoutReply(stream.requestComplete ? 504 : 408, 'stream timeout', { flag: 'SI', details: 'stream_idle_timeout' });
  }

  /** ActiveStream::onRequestTimeout: the request did not arrive in time. */
  onRequestTimeout(stream: ActiveStream): void {
    this.shared.stats.downstream_rq_timeout.inc();
    this.timerFired(stream.meta, 'request_timeout', this.shared.config.request_timeout, 'ConnectionManagerImpl::ActiveStream::onRequestTimeout');
    stream.sendTimeoutReply(stream.requestComplete ? 504 : 408, 'request timeout', { details: 'request_overall_timeout' });
  }

  // --- ConnectionManagerMachineOwner: what the machine's timers and closes do ------------

  now(): number {
    return this.deps.engine.clock.now();
  }

  /** ConnectionManagerImpl::onIdleTimeout: no stream for idle_timeout. */
  onIdleTimeout(then: 'drain' | 'close'): void {
    this.shared.stats.downstream_cx_idle_timeout.inc();
    this.timerFired(this.connection.meta, 'idle_timeout', this.shared.config.idle_timeout, 'ConnectionManagerImpl::onIdleTimeout', { then });
  }

  /** ConnectionManagerImpl::onConnectionDurationTimeout */
  onConnectionDurationTimeout(then: 'drain' | 'close'): void {
    this.shared.stats.downstream_cx_max_duration_reached.inc();
    this.timerFired(this.connection.meta, 'max_connection_duration', this.shared.config.max_connection_duration ?? 0, 'ConnectionManagerImpl::onConnectionDurationTimeout', { then });
  }

  /** ConnectionManagerImpl::onDrainTimeout: close now, or when the stream in flight ends. */
  onDrainTimeout(then: 'close' | 'close after the stream'): void {
    this.timerFired(this.connection.meta, 'drain_timeout', this.shared.config.drain_timeout ?? DEFAULT_DRAIN_TIMEOUT_MS, 'ConnectionManagerImpl::onDrainTimeout', { then });
  }

  onDrainClose(): void {
    this.shared.stats.downstream_cx_drain_close.inc();
  }

  closeConnection(reason: string): void {
    this.connection.closeAfterFlush(reason);
  }

  closeOnRemoteEnd(): void {
    this.connection.closeOnRemoteEnd();
  }

  /** Stats and access log for a finished (or reset) stream. */
  private endStream(stream: ActiveStream): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    const { stats, accessLoggers } = this.shared;
    const info = stream.streamInfo;
    stats.downstream_rq_active.dec();
    if (info.responseCode > 0) {
      const klass = Math.floor(info.responseCode / 100) - 1;
      stats.downstream_rq_xx[klass]?.inc();
      stats.listener_downstream_rq_xx[klass]?.inc();
      stats.downstream_rq_completed.inc();
      stats.listener_downstream_rq_completed.inc();
    }
    const end = info.endAt ?? this.deps.engine.clock.now();
    stats.downstream_rq_time.record(end - info.startMonotonic);
    const tracer = this.deps.engine.tracer;
    this.deps.engine.onStreamComplete?.(info);
    if (accessLoggers.length === 0 && !tracer.enabled) return;
    // A request that never parsed far enough to have a protocol is logged as HTTP/1.1 (the only one spoken).
    const ctx = { ...streamContext(info, end), protocol: info.request?.protocol ?? 'HTTP/1.1' };
    for (const logger of accessLoggers) this.deps.accessLog(logger.format(ctx), logger.path);
    if (tracer.enabled) {
      tracer.fact(stream.meta, 'stream.access_log', {
        status: info.responseCode,
        flags: formatResponseFlags(info.responseFlags),
        durationMs: ctx.durationMs,
        upstreamHost: info.upstreamHost ?? null,
        cluster: info.upstreamCluster ?? null,
        route: info.routeName ?? null,
        bytesReceived: info.bytesReceived,
        bytesSent: info.bytesSent,
      }, 'ConnectionManagerImpl::ActiveStream::~ActiveStream (access log)');
    }
  }
}
