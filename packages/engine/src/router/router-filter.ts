import type { Actor } from 'xstate';
import type { HttpConnectionManager } from '../config/types';
import type { DecoderFilterCallbacks, FilterDataStatus, FilterHeadersStatus, StreamDecoderFilter } from '../http/filter';
import type { RequestHead, ResponseHead } from '../http/headers';
import { setExpectedRequestTimeout } from '../http/forwarding';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import type { TimerId } from '../seams/clock';
import type { ActorMeta } from '../seams/tracer';
import type { ClusterInfo, ClusterManager } from '../upstream/cluster-manager';
import type { StreamResetReason } from '../upstream/codec-client';
import type { Worker } from '../worker';
import { applyLayeredHeaderMutations, buildRedirectLocation, rewritePath } from './header-mutations';
import type { RouteMatched } from './route-matcher';
import { routerMachine } from './router.machine';
import { UpstreamRequest, type UpstreamRequestOwner } from './upstream-request';

/** Reset reason -> (status, response flag, text) for the local reply (Router::Filter::onUpstreamReset). */
const RESET_REPLY: Record<StreamResetReason, { status: number; flag: string; text: string }> = {
  Overflow: { status: 503, flag: 'UO', text: 'overflow' },
  LocalConnectionFailure: { status: 503, flag: 'UF', text: 'local connection failure' },
  RemoteConnectionFailure: { status: 503, flag: 'UF', text: 'remote connection failure' },
  ConnectionTimeout: { status: 503, flag: 'UF', text: 'connection timeout' },
  ConnectionTermination: { status: 503, flag: 'UC', text: 'connection termination' },
  RemoteReset: { status: 503, flag: 'UR', text: 'remote reset' },
  LocalReset: { status: 503, flag: 'LR', text: 'local reset' },
  ProtocolError: { status: 502, flag: 'UPE', text: 'protocol error' },
};

/** Request body the router holds while no upstream connection is ready (per_connection_buffer_limit_bytes). */
const BUFFER_LIMIT = 1024 * 1024;

export interface RouterFilterContext {
  engine: EngineContext;
  worker: Worker;
  clusterManager: ClusterManager;
  hcm: HttpConnectionManager;
  /** the stream's actor meta; the router's actors hang below it */
  stream: ActorMeta;
  /** http.<stat_prefix>.* router counters */
  stats: { rq_total: { inc(): void }; no_route: { inc(): void }; no_cluster: { inc(): void }; rq_direct_response: { inc(): void }; rq_redirect: { inc(): void } };
}

/**
 * Router::Filter: the terminal decoder filter. Picks route, cluster and host, runs one
 * upstream request through the host's pool and feeds the response to the encoders.
 */
export class RouterFilter implements StreamDecoderFilter, UpstreamRequestOwner {
  readonly name = 'envoy.filters.http.router';
  private callbacks!: DecoderFilterCallbacks;
  private readonly actor: Actor<typeof routerMachine>;
  private readonly meta: ActorMeta;
  private upstream: UpstreamRequest | undefined;
  private cluster: ClusterInfo | undefined;
  private matched: RouteMatched | undefined;
  private downstreamEnded = false;
  private responseStarted = false;
  private timer: TimerId | undefined;
  private readDisabledForBuffer = false;
  private attempts = 0;

  constructor(private readonly ctx: RouterFilterContext) {
    this.meta = { actor: `${ctx.stream.actor}/router`, machine: 'router', ids: ctx.stream.ids, envoy: {} };
    this.actor = startTraced(ctx.engine, routerMachine, { input: undefined, path: this.meta.actor, kind: 'router', ids: this.meta.ids });
  }

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.callbacks = callbacks;
  }

  /** Router::Filter::decodeHeaders */
  decodeHeaders(head: RequestHead, endStream: boolean): FilterHeadersStatus {
    const { engine, stats } = this.ctx;
    const info = this.callbacks.streamInfo;
    stats.rq_total.inc();
    this.downstreamEnded = endStream;
    const result = this.callbacks.route();
    if (!result.matched) {
      stats.no_route.inc();
      this.localReply(404, '', 'NR', 'route_not_found');
      return 'StopIteration';
    }
    this.matched = result;
    info.routeName = result.route.name;
    this.actor.send({ type: 'router.route.matched' });

    const { route, vhost } = result;
    if (route.direct_response) {
      stats.rq_direct_response.inc();
      this.localReply(route.direct_response.status, route.direct_response.body ?? '', undefined, 'direct_response');
      return 'StopIteration';
    }
    if (route.redirect) {
      stats.rq_redirect.inc();
      const location = buildRedirectLocation(head, route.redirect, result.matchedPrefix);
      this.localReply(route.redirect.response_code, '', undefined, 'via_route_redirect', [['location', location]]);
      return 'StopIteration';
    }

    const action = route.route!;
    const clusterName = result.cluster?.name ?? '';
    const cluster = this.ctx.clusterManager.get(clusterName);
    engine.tracer.fact(this.meta, 'cluster.selected', { cluster: clusterName, found: !!cluster, reason: result.cluster?.reason ?? '' }, 'ClusterManagerImpl::getThreadLocalCluster');
    if (!cluster) {
      stats.no_cluster.inc();
      this.localReply(action.cluster_not_found_response_code, '', 'NC', 'cluster_not_found');
      return 'StopIteration';
    }
    this.cluster = cluster;
    info.upstreamCluster = cluster.name;
    this.actor.send({ type: 'router.cluster.selected' });

    const choice = this.ctx.worker.loadBalancer(cluster).chooseHost();
    if (!choice.host) {
      engine.tracer.fact(this.meta, 'lb.no_host', { cluster: cluster.name, reason: choice.reason }, 'LoadBalancer::chooseHost');
      cluster.stats.upstream_cx_none_healthy.inc();
      cluster.responseCodeCounters(503);
      this.localReply(503, 'no healthy upstream', 'UH', 'no_healthy_upstream');
      return 'StopIteration';
    }
    engine.tracer.fact(this.meta, 'lb.host_selected', { cluster: cluster.name, host: choice.host.key, reason: choice.reason }, 'LoadBalancer::chooseHost');
    info.upstreamHost = choice.host.key;
    this.actor.send({ type: 'router.host.selected' });

    // Router::Filter::finalizeRequestHeaders: rewrites and the configured header mutations.
    const upstreamHead: RequestHead = { ...head, headers: head.headers };
    const rewritten = rewritePath(head.path, result.matchedPrefix, action);
    if (rewritten !== head.path) {
      head.headers.set('x-envoy-original-path', head.path);
      upstreamHead.path = rewritten;
    }
    if (action.host_rewrite_literal) upstreamHead.authority = action.host_rewrite_literal;
    setExpectedRequestTimeout(head.headers, action.timeout);
    applyLayeredHeaderMutations(head.headers, 'request', { route, vhost, routeConfig: this.ctx.hcm.route_config });

    const pool = this.ctx.worker.pool(cluster, choice.host);
    this.attempts++;
    info.attemptCount = this.attempts;
    this.upstream = new UpstreamRequest(engine, this, pool, choice.host, upstreamHead, endStream, this.ctx.stream, this.attempts);
    this.actor.send({ type: 'router.upstream.created' });
    if (endStream) this.onRequestComplete();
    this.upstream.start();
    return 'StopIteration';
  }

  decodeData(chunk: Uint8Array, endStream: boolean): FilterDataStatus {
    const upstream = this.upstream;
    if (!upstream) return 'StopIterationNoBuffer';
    const writable = upstream.encodeData(chunk, endStream);
    if (endStream) {
      this.downstreamEnded = true;
      this.onRequestComplete();
    }
    // Stop reading the client while the upstream (or our buffer before connect) is full.
    if (!writable || upstream.bufferedBytes > BUFFER_LIMIT) {
      if (!this.readDisabledForBuffer) {
        this.readDisabledForBuffer = true;
        this.callbacks.onDecoderFilterAboveWriteBufferHighWatermark();
      }
    }
    return 'StopIterationNoBuffer';
  }

  /** Downstream can take more response bytes: resume reading from upstream. */
  onBelowWriteBufferLowWatermark(): void {
    this.upstream?.readDisable(false);
  }

  onAboveWriteBufferHighWatermark(): void {
    this.upstream?.readDisable(true);
  }

  onDestroy(): void {
    this.clearTimer();
    if (this.upstream) this.upstream.reset();
    if (this.actor.getSnapshot().status === 'active') {
      this.actor.send({ type: 'router.reset' });
    }
    stopTraced(this.ctx.engine, this.actor);
  }

  // --- UpstreamRequestOwner ----------------------------------------------------------

  onUpstreamWritable(): void {
    if (this.readDisabledForBuffer) {
      this.readDisabledForBuffer = false;
      this.callbacks.onDecoderFilterBelowWriteBufferLowWatermark();
    }
  }

  /** Router::Filter::onUpstreamHeaders */
  onUpstreamHeaders(request: UpstreamRequest, head: ResponseHead, endStream: boolean): void {
    const cluster = this.cluster!;
    const { code, klass } = cluster.responseCodeCounters(head.status);
    code.inc();
    klass.inc();
    if (head.status >= 500) request.host.stats.rq_error++;
    else request.host.stats.rq_success++;
    this.responseStarted = true;
    this.actor.send({ type: 'router.upstream.headers' });
    if (request.sentAt !== undefined && request.responseHeadersAt !== undefined) {
      head.headers.set('x-envoy-upstream-service-time', String(Math.round(request.responseHeadersAt - request.sentAt)));
    }
    applyLayeredHeaderMutations(head.headers, 'response', { route: this.matched?.route, vhost: this.matched?.vhost, routeConfig: this.ctx.hcm.route_config });
    if (endStream) this.onUpstreamComplete(request);
    this.callbacks.encodeHeaders(head, endStream);
  }

  onUpstreamData(request: UpstreamRequest, chunk: Uint8Array, endStream: boolean): void {
    if (endStream) this.onUpstreamComplete(request);
    this.callbacks.encodeData(chunk, endStream);
  }

  /** Router::Filter::onUpstreamReset (and onPoolFailure, which ends the same way) */
  onUpstreamReset(request: UpstreamRequest, reason: StreamResetReason, detail: string | undefined): void {
    this.clearTimer();
    this.upstream = undefined;
    const cluster = this.cluster!;
    const reply = RESET_REPLY[reason];
    if (reason !== 'Overflow') request.host.stats.rq_error++;
    if (this.responseStarted) {
      // Headers already went downstream: all we can do is reset the downstream stream.
      cluster.stats.upstream_rq_rx_reset.inc();
      this.callbacks.streamInfo.setFlag(reply.flag);
      this.callbacks.resetStream(`upstream ${reply.text}`);
      return;
    }
    const info = this.callbacks.streamInfo;
    if (detail) info.upstreamTransportFailureReason = detail;
    const { code, klass } = cluster.responseCodeCounters(reply.status);
    code.inc();
    klass.inc();
    const body = `upstream connect error or disconnect/reset before headers. reset reason: ${reply.text}${detail ? `, transport failure reason: ${detail}` : ''}`;
    const headers: Array<[string, string]> = reason === 'Overflow' ? [['x-envoy-overloaded', 'true']] : [];
    this.localReply(reply.status, body, reply.flag, `upstream_reset_before_response_started{${reply.text.replace(/ /g, '_')}}`, headers);
  }

  // --- internals ---------------------------------------------------------------------

  /** The whole request is in: the route timeout starts now (Router::Filter::onRequestComplete). */
  private onRequestComplete(): void {
    const timeout = this.matched?.route.route?.timeout ?? 0;
    if (timeout > 0 && this.timer === undefined) {
      this.timer = this.ctx.engine.clock.setTimeout(() => this.onResponseTimeout(), timeout);
    }
  }

  /** Router::Filter::onResponseTimeout: 504 UT, never retried. */
  private onResponseTimeout(): void {
    this.timer = undefined;
    const request = this.upstream;
    const cluster = this.cluster!;
    this.upstream = undefined;
    if (request) {
      cluster.stats.upstream_rq_timeout.inc();
      request.host.stats.rq_timeout++;
      request.reset();
    }
    if (this.responseStarted) {
      this.callbacks.streamInfo.setFlag('UT');
      this.callbacks.resetStream('upstream response timeout');
      return;
    }
    const { code, klass } = cluster.responseCodeCounters(504);
    code.inc();
    klass.inc();
    this.localReply(504, 'upstream request timeout', 'UT', 'upstream_response_timeout');
  }

  private onUpstreamComplete(request: UpstreamRequest): void {
    this.clearTimer();
    const cluster = this.cluster!;
    cluster.stats.upstream_rq_completed.inc();
    if (request.sentAt !== undefined) cluster.stats.upstream_rq_time.record(this.ctx.engine.clock.now() - request.sentAt);
    this.upstream = undefined;
    this.actor.send({ type: 'router.upstream.complete' });
  }

  private localReply(status: number, body: string, flag: string | undefined, details: string, headers?: Array<[string, string]>): void {
    this.actor.send({ type: 'router.local_reply', status, flag });
    this.callbacks.sendLocalReply(status, body, { flag, details, headers });
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.ctx.engine.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
