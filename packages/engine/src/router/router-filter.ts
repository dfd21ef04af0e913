import type { Actor } from 'xstate';
import type { HttpConnectionManager } from '../config/types';
import type { DecoderFilterCallbacks, FilterDataStatus, FilterHeadersStatus, StreamDecoderFilter } from '../http/filter';
import type { RequestHead, ResponseHead } from '../http/headers';
import { setExpectedRequestTimeout } from '../http/forwarding';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import type { StreamSteps } from '../seams/step';
import type { ActorMeta } from '../seams/tracer';
import type { ClusterInfo, ClusterManager } from '../upstream/cluster-manager';
import type { StreamResetReason } from '../upstream/codec-client';
import type { Host } from '../upstream/host';
import { traceHostSet, type HostChoice, type LoadBalancerContext } from '../upstream/load-balancer';
import type { OutlierResult } from '../upstream/outlier-detector';
import type { ResourcePriority } from '../upstream/resource-manager';
import type { Worker } from '../worker';
import { computeRouteHash } from './hash-policy';
import { applyLayeredHeaderMutations, buildRedirectLocation, headerValueFormatter, rewritePath } from './header-mutations';
import { requestRetryPolicy, routerTimeouts, takeRouterControlHeaders, type RouterTimeouts, type U32Source } from './retry-policy';
import { RetryState, type RetryStatus } from './retry-state';
import type { RouteMatched } from './route-matcher';
import { routerMachine, type RouterOwner } from './router.machine';
import { RequestShadows } from './shadow-writer';
import { isUpgradeAccepted } from '../http/upgrade';
import { streamContext } from '../http/local-reply';
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

/**
 * Request body the router holds while no upstream connection is ready, and the copy it
 * keeps for retries (per_connection_buffer_limit_bytes, 1 MiB).
 */
const BUFFER_LIMIT = 1024 * 1024;

const EMPTY = new Uint8Array(0);

export interface RouterFilterContext {
  engine: EngineContext;
  /** the stream's hold points (step mode) */
  steps: StreamSteps;
  worker: Worker;
  clusterManager: ClusterManager;
  hcm: HttpConnectionManager;
  /** the stream's actor meta; the router's actors hang below it */
  stream: ActorMeta;
  /** http.<stat_prefix>.* router counters */
  stats: { rq_total: { inc(): void }; no_route: { inc(): void }; no_cluster: { inc(): void }; rq_direct_response: { inc(): void }; rq_redirect: { inc(): void } };
  /** the engine's seeded Random: retry back-off jitter */
  random: U32Source;
}

/** sendLocalReply's arguments, kept from the decision to reply to the hold point after `local_reply` */
interface PendingReply {
  status: number;
  body: string;
  flag: string | undefined;
  details: string;
  headers: Array<[string, string]> | undefined;
}

/**
 * Router::Filter: the terminal decoder filter. Picks route, cluster and host, runs an
 * upstream request through the host's pool and feeds the response to the encoders. With
 * a retry policy, a failed attempt may be followed by others (each a new host pick and a
 * new UpstreamRequest), decided by the request's RetryState.
 */
export class RouterFilter implements StreamDecoderFilter, UpstreamRequestOwner, LoadBalancerContext, RouterOwner {
  readonly name = 'envoy.filters.http.router';
  private callbacks!: DecoderFilterCallbacks;
  private readonly actor: Actor<typeof routerMachine>;
  private readonly meta: ActorMeta;
  private upstream: UpstreamRequest | undefined;
  private cluster: ClusterInfo | undefined;
  private matched: RouteMatched | undefined;
  /** Router::Filter::downstream_end_stream_: the downstream request has ended */
  private downstreamEnded = false;
  private readDisabledForBuffer = false;
  private attempts = 0;
  private timeouts: RouterTimeouts = { global: 0, perTry: 0, altResponse: false };
  /** engine-clock time the whole downstream request had arrived: the route timeout runs from here */
  private requestCompleteAt: number | undefined;
  private reply: PendingReply | undefined;
  /** the request as it goes upstream (its headers are the downstream request's map) */
  private upstreamHead: RequestHead | undefined;
  /** only for a request that may be retried; null is all retries cost any other request */
  private retry: RetryState | null = null;
  /** a copy of the request body while a retry is possible */
  private retryBody: Uint8Array[] | null = null;
  private retryBodyBytes = 0;
  /** request_mirror_policies that apply to this request (router/shadow-writer.ts); null when none */
  private shadows: RequestShadows | null = null;

  constructor(private readonly ctx: RouterFilterContext) {
    this.meta = { actor: `${ctx.stream.actor}/router`, machine: 'router', ids: ctx.stream.ids, envoy: {} };
    this.actor = startTraced(ctx.engine, routerMachine, { input: { owner: this }, path: this.meta.actor, kind: 'router', ids: this.meta.ids });
    // A route timeout moved the machine (to local_reply or reset): what Envoy's filter does next.
    this.actor.on('router.send_local_reply', () => this.ctx.steps.after(this.meta, this.actor, () => this.sendReply()));
    this.actor.on('router.reset_stream', () => this.callbacks.resetStream('upstream response timeout'));
  }

  /** answered or reset: nothing more may start */
  private get finished(): boolean {
    const state = this.actor.getSnapshot().value;
    return state === 'local_reply' || state === 'reset';
  }

  /** Router::Filter::downstream_response_started_: the response headers went to the encoders */
  private get responseStarted(): boolean {
    const state = this.actor.getSnapshot().value;
    return state === 'response_started' || state === 'upgraded' || state === 'complete';
  }

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.callbacks = callbacks;
  }

  /** RouteEntry::priority: which of the cluster's circuit breakers, and which pools, the request uses */
  private get priority(): ResourcePriority {
    return this.matched?.route.route?.priority === 'HIGH' ? 'high' : 'default';
  }

  /** LoadBalancerContext::computeHashKey: the route's hash_policy over this request (asked by RING_HASH / MAGLEV only). */
  computeHashKey(): bigint | undefined {
    return computeRouteHash(this.matched?.route.route?.hash_policy, this.callbacks.streamInfo);
  }

  /** %COMMAND% values in *_headers_to_add, evaluated on this stream (HeaderParser's formatter) */
  private headerFormat(): (value: string) => string {
    return headerValueFormatter(() => streamContext(this.callbacks.streamInfo, this.ctx.engine.clock.now()));
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
    this.ctx.steps.after(this.meta, this.actor, () => this.onRouteMatched(head, endStream, result));
    return 'StopIteration';
  }

  /** Router::Filter::decodeHeaders, once the route is known: direct answers, or the cluster. */
  private onRouteMatched(head: RequestHead, endStream: boolean, result: RouteMatched): void {
    if (this.finished) return;
    const { engine, stats } = this.ctx;
    const info = this.callbacks.streamInfo;
    const { route, vhost } = result;
    if (route.direct_response) {
      stats.rq_direct_response.inc();
      this.localReply(route.direct_response.status, route.direct_response.body ?? '', undefined, 'direct_response');
      return;
    }
    if (route.redirect) {
      stats.rq_redirect.inc();
      const location = buildRedirectLocation(head, route.redirect, result.matchedPrefix);
      this.localReply(route.redirect.response_code, '', undefined, 'via_route_redirect', [['location', location]]);
      return;
    }

    const action = route.route!;
    const clusterName = result.cluster?.name ?? '';
    const cluster = this.ctx.clusterManager.get(clusterName);
    engine.tracer.fact(this.meta, 'cluster.selected', { cluster: clusterName, found: !!cluster, reason: result.cluster?.reason ?? '' }, 'ClusterManagerImpl::getThreadLocalCluster');
    if (!cluster) {
      stats.no_cluster.inc();
      this.localReply(action.cluster_not_found_response_code, '', 'NC', 'cluster_not_found');
      return;
    }
    this.cluster = cluster;
    info.upstreamCluster = cluster.name;
    this.actor.send({ type: 'router.cluster.selected' });
    this.ctx.steps.after(this.meta, this.actor, () => this.onClusterSelected(head, endStream, result, cluster));
  }

  /** ClusterEntry::httpConnPoolImpl: the load balancer's pick, then the first attempt. */
  private onClusterSelected(head: RequestHead, endStream: boolean, result: RouteMatched, cluster: ClusterInfo): void {
    if (this.finished) return;
    const { engine } = this.ctx;
    const choice = this.chooseHost(cluster);
    if (!choice.host) {
      this.noHealthyUpstream(cluster, choice);
      return;
    }
    if (engine.tracer.enabled) {
      engine.tracer.fact(this.meta, 'lb.host_selected', { cluster: cluster.name, host: choice.host.key, reason: choice.reason, ...this.traceLb(cluster, choice) }, 'LoadBalancer::chooseHost');
    }
    // Known from here on, so a step-mode breakpoint at host_selected can be narrowed to a host.
    this.callbacks.streamInfo.upstreamHost = choice.host.key;
    this.actor.send({ type: 'router.host.selected' });
    const host = choice.host;
    this.ctx.steps.after(this.meta, this.actor, () => this.onHostSelected(head, endStream, result, cluster, host));
  }

  /** Router::Filter::decodeHeaders, last part: timeouts, header rewrites, retry state, the upstream request. */
  private onHostSelected(head: RequestHead, endStream: boolean, result: RouteMatched, cluster: ClusterInfo, host: Host): void {
    if (this.finished) return;
    const { engine } = this.ctx;
    const info = this.callbacks.streamInfo;
    const { route, vhost } = result;
    const action = route.route!;

    // x-envoy-* control headers: read only for an internal request, always removed
    // (FilterUtility::finalTimeout, RetryStateImpl::create).
    const taken = takeRouterControlHeaders(head.headers);
    const controls = taken !== null && info.internal ? taken : null;
    const policy = action.retry_policy ?? vhost.retry_policy;
    this.timeouts = routerTimeouts(action.timeout, policy?.per_try_timeout ?? 0, controls);

    // Router::Filter::finalizeRequestHeaders: rewrites and the configured header mutations.
    const upstreamHead: RequestHead = { ...head, headers: head.headers };
    const rewritten = rewritePath(head.path, result.matchedPrefix, action);
    if (rewritten !== head.path) {
      head.headers.set('x-envoy-original-path', head.path);
      upstreamHead.path = rewritten;
    }
    if (action.host_rewrite_literal) upstreamHead.authority = action.host_rewrite_literal;
    setExpectedRequestTimeout(head.headers, this.timeouts.global, this.timeouts.perTry);
    applyLayeredHeaderMutations(head.headers, 'request', { route, vhost, routeConfig: this.ctx.hcm.route_config }, this.headerFormat());
    this.upstreamHead = upstreamHead;
    this.shadows = RequestShadows.begin(
      // The engine's own clock, not the request's: holding the request in step mode does not hold its shadows.
      { engine: this.ctx.worker.engine, worker: this.ctx.worker, clusterManager: this.ctx.clusterManager, stream: this.ctx.stream, router: this.meta },
      action.request_mirror_policies, upstreamHead, this.callbacks.randomValue, this.timeouts.global, endStream || this.downstreamEnded,
    );

    if (policy !== undefined || controls !== null) {
      const retryPolicy = requestRetryPolicy(policy, action.retry_policy ? 'route' : 'virtual_host', head, controls);
      if (retryPolicy !== null) {
        this.retry = new RetryState(engine, this.ctx.steps, retryPolicy, cluster, this.ctx.random, this.meta, () => this.doRetry(), cluster.resourceManager(this.priority));
        this.retryBody = [];
      }
    }
    this.retry?.onHostAttempted(host);

    const upstream = this.createAttempt(host);
    this.ctx.steps.after(this.meta, this.actor, () => {
      if (this.finished) return;
      // The body may have ended while the request was held here.
      if (endStream || this.downstreamEnded) this.onRequestComplete();
      upstream.start();
    });
  }

  decodeData(chunk: Uint8Array, endStream: boolean): FilterDataStatus {
    if (this.finished) return 'StopIterationNoBuffer';
    if (this.shadows) {
      this.shadows.onData(chunk, endStream);
      // The whole request went to the copies: from here they live on their own.
      if (endStream) this.shadows = null;
    }
    if (this.retryBody !== null && !this.keepForRetry(chunk)) return 'StopIterationNoBuffer';
    const upstream = this.upstream;
    if (!upstream) {
      // Between attempts (retry back-off) the copy kept for the next attempt is all there is;
      // otherwise the router has answered already.
      if (this.retry === null || this.responseStarted) return 'StopIterationNoBuffer';
      if (endStream) {
        this.downstreamEnded = true;
        this.onRequestComplete();
      }
      return 'StopIterationNoBuffer';
    }
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
    // Copies still waiting for request body die with the request (Router::Filter::onDestroy).
    this.shadows?.cancel();
    this.shadows = null;
    if (this.upstream) this.upstream.reset();
    this.upstream = undefined;
    this.endRetries();
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

  /**
   * Router::Filter::onUpstream1xxHeaders: counted as upstream_rq_<code>, and from now on
   * the request is not retried (the next upstream might not send a 1xx; Envoy resets its
   * retry state). The stream decides whether the client sees it.
   */
  onUpstream1xxHeaders(request: UpstreamRequest, head: ResponseHead): void {
    if (this.finished || request !== this.upstream) return;
    const { code, klass } = this.cluster!.responseCodeCounters(head.status);
    code.inc();
    klass.inc();
    this.endRetries();
    this.callbacks.encode1xxHeaders(head);
  }

  /** Router::Filter::onUpstreamHeaders */
  onUpstreamHeaders(request: UpstreamRequest, head: ResponseHead, endStream: boolean): void {
    // Every attempt's status counts for outlier detection, retried or not (putHttpResponseCode).
    this.reportOutlier(request.host, head.status);
    const retry = this.retry;
    if (retry === null) {
      this.acceptUpstreamHeaders(request, head, endStream);
      return;
    }
    const status = retry.shouldRetryHeaders(head, request.attempt);
    this.ctx.steps.after(retry.meta, retry.actor, () => this.onRetryDecision(request, head, endStream, status));
  }

  /** The retry state's answer to an attempt's response: retry it, or send it downstream. */
  private onRetryDecision(request: UpstreamRequest, head: ResponseHead, endStream: boolean, status: RetryStatus): void {
    if (this.finished) return;
    const cluster = this.cluster!;
    if (status === 'Yes') {
      // A retried response is charged to retry.upstream_rq_<code> only, and to its host as an error.
      const { code, klass } = cluster.retryResponseCodeCounters(head.status);
      code.inc();
      klass.inc();
      request.host.stats.rq_error++;
      this.upstream = undefined;
      // An unfinished exchange leaves the HTTP/1 connection unusable.
      if (!endStream || !request.requestComplete) request.reset();
      this.actor.send({ type: 'router.retry' });
      this.ctx.steps.after(this.meta, this.actor);
      return;
    }
    this.onRetryRefused(status);
    this.acceptUpstreamHeaders(request, head, endStream);
  }

  /** The attempt's response is the response: counted, finished and sent through the encoders. */
  private acceptUpstreamHeaders(request: UpstreamRequest, head: ResponseHead, endStream: boolean): void {
    const cluster = this.cluster!;
    // The response goes downstream: no retry is possible any more, so no copy of the body.
    this.retryBody = null;
    const { code, klass } = cluster.responseCodeCounters(head.status);
    code.inc();
    klass.inc();
    if (head.status >= 500) request.host.stats.rq_error++;
    else request.host.stats.rq_success++;
    this.actor.send({ type: 'router.upstream.headers' });
    this.ctx.steps.after(this.meta, this.actor, () => this.forwardUpstreamHeaders(request, head, endStream));
  }

  /** Router::Filter::onUpstreamHeaders, last part: response headers finished and handed to the encoders. */
  private forwardUpstreamHeaders(request: UpstreamRequest, head: ResponseHead, endStream: boolean): void {
    if (request.sentAt !== undefined && request.responseHeadersAt !== undefined) {
      head.headers.set('x-envoy-upstream-service-time', String(Math.round(request.responseHeadersAt - request.sentAt)));
    }
    if (this.matched?.vhost.include_attempt_count_in_response) head.headers.set('x-envoy-attempt-count', String(this.attempts));
    applyLayeredHeaderMutations(head.headers, 'response', { route: this.matched?.route, vhost: this.matched?.vhost, routeConfig: this.ctx.hcm.route_config }, this.headerFormat());
    if (!endStream && isUpgradeAccepted(this.upstreamHead?.headers, head.status, head.headers)) {
      // The upstream switched protocols: from now on the router relays raw bytes both ways.
      this.ctx.engine.tracer.fact(this.meta, 'router.upgrade', { upgrade: head.headers.get('upgrade') ?? null, host: request.host.key }, 'Router::Filter::onUpstreamHeaders (101)');
      this.actor.send({ type: 'router.upgrade' });
      this.ctx.steps.after(this.meta, this.actor, () => this.callbacks.encodeHeaders(head, false));
      return;
    }
    if (!endStream) {
      this.callbacks.encodeHeaders(head, false);
      return;
    }
    this.onUpstreamComplete(request);
    this.ctx.steps.after(this.meta, this.actor, () => this.callbacks.encodeHeaders(head, true));
  }

  onUpstreamData(request: UpstreamRequest, chunk: Uint8Array, endStream: boolean): void {
    if (!endStream) {
      this.callbacks.encodeData(chunk, false);
      return;
    }
    this.onUpstreamComplete(request);
    this.ctx.steps.after(this.meta, this.actor, () => this.callbacks.encodeData(chunk, true));
  }

  /** Router::Filter::onUpstreamReset (and onPoolFailure, which ends the same way) */
  onUpstreamReset(request: UpstreamRequest, reason: StreamResetReason, detail: string | undefined): void {
    this.upstream = undefined;
    // An overflow is the cluster's circuit breaker, not the host's fault.
    if (reason !== 'Overflow') this.reportOutlier(request.host, 'local_origin_failure');
    this.maybeRetryReset(request, reason, () => this.failUpstream(request, reason, detail));
  }

  /** No retry for a reset attempt: reset downstream, or answer with the reset's status and flag. */
  private failUpstream(request: UpstreamRequest, reason: StreamResetReason, detail: string | undefined): void {
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
    const retried = this.attempts > 1 ? 'retried and the latest ' : '';
    const body = `upstream connect error or disconnect/reset before headers. ${retried}reset reason: ${reply.text}${detail ? `, transport failure reason: ${detail}` : ''}`;
    const headers: Array<[string, string]> = reason === 'Overflow' ? [['x-envoy-overloaded', 'true']] : [];
    this.localReply(reply.status, body, reply.flag, `upstream_reset_before_response_started{${reply.text.replace(/ /g, '_')}}`, headers);
  }

  // --- attempts and retries ----------------------------------------------------------

  /** A new UpstreamRequest for `host` (attempt N+1), with the body so far replayed into it; not started yet. */
  private createAttempt(host: Host): UpstreamRequest {
    const cluster = this.cluster!;
    const head = this.upstreamHead!;
    this.attempts++;
    const info = this.callbacks.streamInfo;
    info.attemptCount = this.attempts;
    info.upstreamHost = host.key;
    if (this.matched!.vhost.include_request_attempt_count) head.headers.set('x-envoy-attempt-count', String(this.attempts));
    const body = this.attempts > 1 ? this.retryBody : null;
    const headersOnly = this.downstreamEnded && (this.attempts === 1 || body === null || body.length === 0);
    const upstream = new UpstreamRequest(this.ctx.engine, this.ctx.steps, this, this.ctx.worker.pool(cluster, host, this.priority), host, head, headersOnly, this.ctx.stream, this.attempts);
    this.upstream = upstream;
    if (body !== null && !headersOnly) {
      for (const chunk of body) upstream.encodeData(chunk, false);
      if (this.downstreamEnded) upstream.encodeData(EMPTY, true);
    }
    this.actor.send({ type: 'router.upstream.created' });
    return upstream;
  }

  /** Router::Filter::doRetry: the back-off elapsed; pick a host again and send attempt N+1. */
  private doRetry(): void {
    if (this.finished || this.retry === null) return;
    const cluster = this.cluster!;
    const { engine } = this.ctx;
    const choice = this.chooseHost(cluster);
    if (!choice.host) {
      this.noHealthyUpstream(cluster, choice);
      return;
    }
    if (engine.tracer.enabled) {
      engine.tracer.fact(
        this.meta,
        'lb.host_selected',
        { cluster: cluster.name, host: choice.host.key, reason: choice.reason, attempt: this.attempts + 1, ...this.traceLb(cluster, choice) },
        'LoadBalancer::chooseHost',
      );
    }
    this.retry.onHostAttempted(choice.host);
    // The expected timeout an upstream is told shrinks by the time already spent.
    const { global, perTry } = this.timeouts;
    const elapsed = this.requestCompleteAt === undefined ? 0 : engine.clock.now() - this.requestCompleteAt;
    const remaining = global > 0 ? Math.max(1, global - elapsed) : 0;
    setExpectedRequestTimeout(this.upstreamHead!.headers, perTry > 0 && (remaining === 0 || perTry < remaining) ? perTry : remaining);
    const upstream = this.createAttempt(choice.host);
    this.ctx.steps.after(this.meta, this.actor, () => {
      if (this.finished) return;
      if (this.downstreamEnded) upstream.setupPerTryTimeout(this.timeouts.perTry);
      upstream.start();
    });
  }

  /**
   * Router::Filter::maybeRetryReset: an attempt ended without a response (reset, pool
   * failure, per-try timeout). True when a retry is armed.
   */
  private maybeRetryReset(request: UpstreamRequest, reason: StreamResetReason, otherwise: () => void): void {
    const retry = this.retry;
    if (retry === null || this.responseStarted) return otherwise();
    const status = retry.shouldRetryReset(reason, request.sentAt !== undefined, request.attempt);
    this.ctx.steps.after(retry.meta, retry.actor, () => {
      if (this.finished) return;
      if (status !== 'Yes') {
        this.onRetryRefused(status);
        otherwise();
        return;
      }
      request.host.stats.rq_error++;
      this.actor.send({ type: 'router.retry' });
      this.ctx.steps.after(this.meta, this.actor);
    });
  }

  /** The response flag for a retriable outcome that was not retried. */
  private onRetryRefused(status: RetryStatus): void {
    if (status === 'NoOverflow') this.callbacks.streamInfo.setFlag('UO');
    else if (status === 'NoRetryLimitExceeded') this.callbacks.streamInfo.setFlag('URX');
  }

  /**
   * Keeps a copy of a body chunk for the next attempt. Past the buffer limit retries are
   * abandoned (`retry_or_shadow_abandoned`); if that happens during a back-off, the
   * request fails with 507. False when the request was answered.
   */
  private keepForRetry(chunk: Uint8Array): boolean {
    if (this.retryBodyBytes + chunk.byteLength <= BUFFER_LIMIT) {
      if (chunk.byteLength > 0) this.retryBody!.push(chunk.slice());
      this.retryBodyBytes += chunk.byteLength;
      return true;
    }
    const cluster = this.cluster!;
    cluster.stats.retry_or_shadow_abandoned.inc();
    const inBackoff = this.upstream === undefined;
    this.ctx.engine.tracer.fact(this.meta, 'retry.abandoned', { bufferedBytes: this.retryBodyBytes + chunk.byteLength, limit: BUFFER_LIMIT, inBackoff }, 'Router::Filter::decodeData');
    this.endRetries();
    if (!inBackoff) return true;
    this.localReply(507, 'exceeded request buffer limit while retrying upstream', undefined, 'request_payload_exceeded_retry_buffer_limit');
    return false;
  }

  private endRetries(): void {
    this.retry?.cancel();
    this.retry = null;
    this.retryBody = null;
    this.retryBodyBytes = 0;
  }

  /**
   * LoadBalancer::chooseHost, asked again while the retry host predicate (previous_hosts)
   * rejects the pick, at most host_selection_retry_max_attempts more times; if every pick
   * is rejected the last one is used anyway (LoadBalancerBase::chooseHost).
   */
  private chooseHost(cluster: ClusterInfo): HostChoice & { rejected?: Host[] } {
    const lb = this.ctx.worker.loadBalancer(cluster);
    let choice = lb.chooseHost(this);
    const retry = this.retry;
    if (retry === null || this.attempts === 0 || !retry.policy.previousHosts) return choice;
    const rejected: Host[] = [];
    for (let i = 0; i < retry.policy.hostSelectionRetryMaxAttempts && choice.host && retry.shouldSelectAnotherHost(choice.host); i++) {
      rejected.push(choice.host);
      choice = lb.chooseHost(this);
    }
    if (rejected.length === 0) return choice;
    const kept = choice.host && retry.shouldSelectAnotherHost(choice.host) ? ' (every pick was already tried: keeping the last)' : '';
    return { host: choice.host, reason: `${choice.reason}; previous_hosts rejected ${rejected.map((h) => h.key).join(', ')}${kept}`, rejected };
  }

  /** lb.host_selected's policy, host set and previous_hosts refusals (only called while traced). */
  private traceLb(cluster: ClusterInfo, choice: HostChoice & { rejected?: Host[] }): Record<string, unknown> {
    return traceHostSet(this.ctx.worker.loadBalancer(cluster).policy, cluster.hostSet, choice.host!, choice.rejected ?? []);
  }

  private noHealthyUpstream(cluster: ClusterInfo, choice: HostChoice): void {
    this.ctx.engine.tracer.fact(this.meta, 'lb.no_host', { cluster: cluster.name, reason: choice.reason }, 'LoadBalancer::chooseHost');
    cluster.stats.upstream_cx_none_healthy.inc();
    cluster.responseCodeCounters(503);
    this.localReply(503, 'no healthy upstream', 'UH', 'no_healthy_upstream');
  }

  // --- timeouts ----------------------------------------------------------------------
  // The timers are the machines' `after` transitions (router.machine.ts: routeTimeout;
  // upstream-request.machine.ts: perTryTimeout); the filter keeps when they run from.

  /** The whole request is in: the route timeout and the attempt's per-try timeout start now (Router::Filter::onRequestComplete). */
  private onRequestComplete(): void {
    if (this.finished || this.requestCompleteAt !== undefined) return;
    this.requestCompleteAt = this.ctx.engine.clock.now();
    this.actor.send({ type: 'router.request.complete' });
    if (this.upstream && !this.responseStarted) this.upstream.setupPerTryTimeout(this.timeouts.perTry);
  }

  routeTimeLeft(): number | undefined {
    const { global } = this.timeouts;
    if (global <= 0 || this.requestCompleteAt === undefined) return undefined;
    return Math.max(0, this.requestCompleteAt + global - this.ctx.engine.clock.now());
  }

  /**
   * Router::Filter::onPerTryTimeout: the attempt is reset as a local reset, then retried
   * like one, or answered 504 UT (URX too when the retry limit was the reason).
   */
  onPerTryTimeout(request: UpstreamRequest): void {
    if (this.finished || request !== this.upstream || this.responseStarted) return;
    const cluster = this.cluster!;
    cluster.stats.upstream_rq_per_try_timeout.inc();
    request.host.stats.rq_timeout++;
    this.reportOutlier(request.host, 'local_origin_timeout');
    this.ctx.engine.tracer.fact(this.meta, 'router.timeout', { kind: 'per_try', ms: this.timeouts.perTry, attempt: request.attempt }, 'Router::Filter::onPerTryTimeout');
    this.upstream = undefined;
    request.reset();
    this.maybeRetryReset(request, 'LocalReset', () => this.timeoutReply(cluster, 'upstream_per_try_timeout'));
  }

  /**
   * Router::Filter::onResponseTimeout, run by the machine's routeTimeout: the route timeout
   * covers every attempt and back-off and is never retried. An attempt in flight is reset
   * and counted; one in back-off is not. The machine then goes to `local_reply` with the
   * reply made ready here, or, once the response started, to `reset`.
   */
  onResponseTimeout(): void {
    const request = this.upstream;
    const cluster = this.cluster!;
    this.upstream = undefined;
    this.ctx.engine.tracer.fact(this.meta, 'router.timeout', { kind: 'global', ms: this.timeouts.global, attempt: this.attempts, during: request ? 'attempt' : 'backoff' }, 'Router::Filter::onResponseTimeout');
    if (request) {
      cluster.stats.upstream_rq_timeout.inc();
      request.host.stats.rq_timeout++;
      this.reportOutlier(request.host, 'local_origin_timeout');
      request.reset();
    }
    this.endRetries();
    if (this.responseStarted) {
      this.callbacks.streamInfo.setFlag('UT');
      return;
    }
    this.prepareReply(...this.timeoutReplyOf(cluster, 'upstream_response_timeout'));
  }

  /** 504 `upstream request timeout`, UT; 204 and no body with x-envoy-upstream-rq-timeout-alt-response. */
  private timeoutReply(cluster: ClusterInfo, details: string): void {
    this.localReply(...this.timeoutReplyOf(cluster, details));
  }

  private timeoutReplyOf(cluster: ClusterInfo, details: string): [number, string, string, string] {
    const status = this.timeouts.altResponse ? 204 : 504;
    const { code, klass } = cluster.responseCodeCounters(status);
    code.inc();
    klass.inc();
    return [status, status === 204 ? '' : 'upstream request timeout', 'UT', details];
  }

  private onUpstreamComplete(request: UpstreamRequest): void {
    const cluster = this.cluster!;
    cluster.stats.upstream_rq_completed.inc();
    if (request.sentAt !== undefined) cluster.stats.upstream_rq_time.record(this.ctx.engine.clock.now() - request.sentAt);
    this.upstream = undefined;
    this.actor.send({ type: 'router.upstream.complete' });
  }

  private localReply(status: number, body: string, flag: string | undefined, details: string, headers?: Array<[string, string]>): void {
    this.prepareReply(status, body, flag, details, headers);
    this.actor.send({ type: 'router.local_reply', status, flag });
    this.ctx.steps.after(this.meta, this.actor, () => this.sendReply());
  }

  /** The request is answered here: retries end, and the reply waits for the machine to be in `local_reply`. */
  private prepareReply(status: number, body: string, flag: string | undefined, details: string, headers?: Array<[string, string]>): void {
    this.endRetries();
    if (this.attempts > 0 && this.matched?.vhost.include_attempt_count_in_response) {
      headers = [...(headers ?? []), ['x-envoy-attempt-count', String(this.attempts)]];
    }
    this.reply = { status, body, flag, details, headers };
  }

  private sendReply(): void {
    const reply = this.reply!;
    this.callbacks.sendLocalReply(reply.status, reply.body, { flag: reply.flag, details: reply.details, headers: reply.headers });
  }

  /** Router::Filter::updateOutlierDetection: the attempt's result, for the cluster's outlier detector (if any). */
  private reportOutlier(host: Host, result: OutlierResult): void {
    this.cluster?.outlierDetector?.reportResult(host, result);
  }
}
