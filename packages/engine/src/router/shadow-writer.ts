/**
 * Request mirroring (RouteAction.request_mirror_policies): Router::Filter's shadowing and
 * Router::ShadowWriterImpl, as Envoy does it since 1.33 (streaming shadows). At
 * decodeHeaders the router decides per policy whether to shadow
 * (FilterUtility::shouldShadow) and starts a copy of the request to the mirror cluster
 * with `-shadow` appended to its host; the body goes to the copy as it goes upstream. The
 * copy is fire-and-forget: its response is read and dropped, its failure is nobody's, and
 * it never waits for or changes the main request. Only a request that ends before its body
 * did (the client went away) takes its copies down with it. Each copy is an ordinary
 * upstream request (own actor, pool, stats on the mirror cluster) below
 * `<stream>/shadow:<n>`.
 */
import type { RequestMirrorPolicy } from '../config/mirror';
import { HeaderMap, type RequestHead, type ResponseHead } from '../http/headers';
import type { EngineContext } from '../seams/actors';
import type { TimerId } from '../seams/clock';
import { directSteps } from '../seams/step';
import { EMPTY_RUNTIME, type RuntimeSnapshot } from '../runtime/runtime';
import type { ActorMeta } from '../seams/tracer';
import type { ClusterInfo, ClusterManager } from '../upstream/cluster-manager';
import type { StreamResetReason } from '../upstream/codec-client';
import type { Host } from '../upstream/host';
import type { Worker } from '../worker';
import { UpstreamRequest, type UpstreamRequestOwner } from './upstream-request';

export interface ShadowContext {
  engine: EngineContext;
  worker: Worker;
  clusterManager: ClusterManager;
  /** the stream's actor meta; shadows hang below it */
  stream: ActorMeta;
  /** the router's meta, for its facts */
  router: ActorMeta;
}

/** ShadowWriterImpl::shadow: `host:port` -> `host-shadow:port`, `host` -> `host-shadow`. */
export function shadowAuthority(authority: string): string {
  const colon = authority.lastIndexOf(':');
  // An IPv6 literal's colons are inside brackets; a port follows the closing one.
  if (colon > 0 && authority.indexOf(']') < colon && /^\d+$/.test(authority.slice(colon + 1))) {
    return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
  }
  return `${authority}-shadow`;
}

/**
 * FilterUtility::shouldShadow: Snapshot::featureEnabled(runtime_key, default_value,
 * stable_random), the runtime's percent for the key winning over the policy's (100% when unset).
 */
function shouldShadow(runtime: RuntimeSnapshot, policy: RequestMirrorPolicy, randomValue: number): boolean {
  const fraction = policy.runtime_fraction;
  return fraction ? runtime.featureEnabled(fraction.runtime_key, fraction.default_value, randomValue) : true;
}

/**
 * The copies of one request whose body is still coming (Router::Filter::shadow_streams_).
 * The router drops this once the request has ended: the copies then live on their own.
 */
export class RequestShadows {
  private constructor(private readonly copies: ShadowRequest[]) {}

  /**
   * Router::Filter::decodeHeaders: one copy per policy that applies, with the request's
   * headers as they go upstream, started now. Null when nothing is shadowed or the request
   * is headers only (its copies need nothing more from the router).
   */
  static begin(
    ctx: ShadowContext,
    policies: readonly RequestMirrorPolicy[] | undefined,
    head: RequestHead,
    randomValue: number,
    timeoutMs: number,
    endStream: boolean,
  ): RequestShadows | null {
    if (!policies || policies.length === 0) return null;
    const runtime = ctx.engine.runtime ?? EMPTY_RUNTIME;
    const active = policies.filter((p) => shouldShadow(runtime, p, randomValue));
    const tracer = ctx.engine.tracer;
    if (tracer.enabled && active.length < policies.length) {
      tracer.fact(ctx.router, 'router.shadow', { decision: 'not_sampled', policies: policies.length - active.length }, 'FilterUtility::shouldShadow');
    }
    const copies: ShadowRequest[] = [];
    active.forEach((policy, i) => {
      const copy = startShadow(ctx, policy, head, i + 1, timeoutMs, endStream);
      if (copy) copies.push(copy);
    });
    return copies.length > 0 && !endStream ? new RequestShadows(copies) : null;
  }

  /** Router::Filter::decodeData: each chunk the upstream gets, every copy gets too. */
  onData(chunk: Uint8Array, endStream: boolean): void {
    for (const copy of this.copies) copy.encodeData(chunk, endStream);
  }

  /** Router::Filter::onDestroy: the request ended before its body did; its copies are cancelled. */
  cancel(): void {
    for (const copy of this.copies) copy.cancel();
  }
}

/** ShadowWriterImpl::streamingShadow: the mirror cluster, a host, and the copy started on it. */
function startShadow(ctx: ShadowContext, policy: RequestMirrorPolicy, source: RequestHead, index: number, timeoutMs: number, endStream: boolean): ShadowRequest | null {
  const { engine, clusterManager, worker } = ctx;
  const tracer = engine.tracer;
  const clusterName = policy.cluster ?? (policy.cluster_header ? source.headers.get(policy.cluster_header) : undefined);
  const cluster = clusterName ? clusterManager.get(clusterName) : undefined;
  if (!clusterName || !cluster) {
    // Router::Filter::getShadowCluster / ShadowWriterImpl::getClusterAndPreprocessHeadersAndBody: skipped.
    tracer.fact(ctx.router, 'router.shadow', { decision: 'no_cluster', cluster: clusterName ?? null, header: policy.cluster_header ?? null }, 'ShadowWriterImpl::shadow');
    return null;
  }
  const authority = policy.disable_shadow_host_suffix_append ? source.authority : shadowAuthority(source.authority);
  const head: RequestHead = { ...source, authority, headers: HeaderMap.from(source.headers.entries()) };
  const meta: ActorMeta = { actor: `${ctx.stream.actor}/shadow:${index}`, machine: 'router', ids: ctx.stream.ids, envoy: {} };
  const choice = worker.loadBalancer(cluster).chooseHost({ computeHashKey: () => undefined });
  if (!choice.host) {
    cluster.stats.upstream_cx_none_healthy.inc();
    tracer.fact(ctx.router, 'router.shadow', { decision: 'no_healthy_upstream', cluster: cluster.name, reason: choice.reason }, 'ShadowWriterImpl::shadow');
    return null;
  }
  tracer.fact(ctx.router, 'router.shadow', { decision: 'sent', cluster: cluster.name, host: choice.host.key, authority, path: head.path, actor: meta.actor }, 'ShadowWriterImpl::streamingShadow');
  const copy = new ShadowRequest(engine, worker, cluster, choice.host, head, endStream, meta, timeoutMs);
  copy.start();
  return copy;
}

/**
 * One shadow exchange (the AsyncClient request ShadowWriterImpl sends): an UpstreamRequest
 * whose response is counted on the mirror cluster and dropped. The route timeout bounds it.
 */
class ShadowRequest implements UpstreamRequestOwner {
  private readonly upstream: UpstreamRequest;
  /** the route timeout (AsyncClient's request timeout): cleared when the copy ends first, else it resets the copy */
  private timer: TimerId | undefined;

  constructor(
    private readonly engine: EngineContext,
    worker: Worker,
    private readonly cluster: ClusterInfo,
    host: Host,
    head: RequestHead,
    headersOnly: boolean,
    meta: ActorMeta,
    private readonly timeoutMs: number,
  ) {
    const steps = directSteps(engine.clock);
    this.upstream = new UpstreamRequest(engine, steps, this, worker.pool(cluster, host), host, head, headersOnly, meta, 1);
  }

  start(): void {
    if (this.timeoutMs > 0) this.timer = this.engine.clock.setTimeout(() => this.onTimeout(), this.timeoutMs);
    this.upstream.start();
  }

  encodeData(chunk: Uint8Array, endStream: boolean): void {
    // A copy whose mirror cannot keep up does not slow the request down (no watermarks here).
    this.upstream.encodeData(chunk.slice(), endStream);
  }

  cancel(): void {
    this.clearTimer();
    this.upstream.reset();
  }

  onUpstream1xxHeaders(): void {}

  onUpstreamHeaders(request: UpstreamRequest, head: ResponseHead, endStream: boolean): void {
    const { code, klass } = this.cluster.responseCodeCounters(head.status);
    code.inc();
    klass.inc();
    if (head.status >= 500) request.host.stats.rq_error++;
    else request.host.stats.rq_success++;
    if (endStream) this.complete(request);
  }

  onUpstreamData(request: UpstreamRequest, _chunk: Uint8Array, endStream: boolean): void {
    if (endStream) this.complete(request);
  }

  onUpstreamReset(request: UpstreamRequest, reason: StreamResetReason): void {
    this.clearTimer();
    if (reason !== 'Overflow') request.host.stats.rq_error++;
  }

  onUpstreamWritable(): void {}

  /** A copy has no per-try timeout (it never sets one up): the route timeout above bounds it. */
  onPerTryTimeout(): void {}

  /** The upstream request is reset without telling its owner, so nothing else ends this shadow. */
  private onTimeout(): void {
    this.timer = undefined;
    this.cluster.stats.upstream_rq_timeout.inc();
    this.upstream.host.stats.rq_timeout++;
    this.upstream.reset();
  }

  private complete(request: UpstreamRequest): void {
    this.clearTimer();
    this.cluster.stats.upstream_rq_completed.inc();
    if (request.sentAt !== undefined) this.cluster.stats.upstream_rq_time.record(this.engine.clock.now() - request.sentAt);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.engine.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
