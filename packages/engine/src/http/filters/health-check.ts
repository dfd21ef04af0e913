/**
 * envoy.filters.http.health_check (Envoy's HealthCheckFilter): answers load balancers'
 * health checks at the proxy.
 *
 * A request matching all `headers` (e.g. `:path` exact `/healthz`) is a health check. Not
 * in pass_through_mode, or when the server is failing health checks (POST
 * /healthcheck/fail on the admin), the filter answers it itself once the request is
 * complete: 503 with flag LH while failing; else 503 (flag LH) when a cluster of
 * `cluster_min_healthy_percentages` is missing or has too few healthy hosts; else 200.
 * In pass_through_mode a health check goes upstream like any request. Responses to health
 * checks carry `x-envoy-upstream-healthchecked-cluster`; while failing, responses to other
 * requests carry `x-envoy-immediate-health-check-fail: true`.
 */
import type { HealthCheckConfig } from '../../config/filters/health-check';
import type { HttpFilter } from '../../config/types';
import { headerReader, headerValueTest } from '../../router/route-matcher';
import type { DecoderFilterCallbacks, EncoderFilterCallbacks, FilterDataStatus, FilterHeadersStatus, StreamDecoderFilter, StreamEncoderFilter } from '../filter';
import type { FilterFactoryContext } from '../filter-registry';
import type { RequestHead, ResponseHead } from '../headers';

interface Compiled {
  config: HealthCheckConfig;
  matches: (head: RequestHead) => boolean;
}

function compile(config: HealthCheckConfig): Compiled {
  const tests = config.headers.map((m) => {
    const read = headerReader(m.name);
    const { test } = headerValueTest(m);
    return (head: RequestHead) => test(read(head));
  });
  return { config, matches: (head) => tests.every((t) => t(head)) };
}

export function createHealthCheckFilter(filter: HttpFilter, ctx: FilterFactoryContext): HealthCheckFilter {
  const compiled = ctx.shared(filter, () => compile(filter.typed_config as unknown as HealthCheckConfig));
  return new HealthCheckFilter(filter.name, ctx, compiled);
}

export class HealthCheckFilter implements StreamDecoderFilter, StreamEncoderFilter {
  private callbacks!: DecoderFilterCallbacks;
  private healthCheckRequest = false;
  private handling = false;

  constructor(
    readonly name: string,
    private readonly ctx: FilterFactoryContext,
    private readonly compiled: Compiled,
  ) {}

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.callbacks = callbacks;
  }

  setEncoderFilterCallbacks(_callbacks: EncoderFilterCallbacks): void {}

  private get serverFailing(): boolean {
    return this.ctx.engine.healthCheckFailed?.() === true;
  }

  /** HealthCheckFilter::decodeHeaders */
  decodeHeaders(head: RequestHead, endStream: boolean): FilterHeadersStatus {
    if (this.compiled.matches(head)) {
      this.healthCheckRequest = true;
      // Not in pass-through mode we always answer; in it, only while failing.
      if (!this.compiled.config.pass_through_mode || this.serverFailing) this.handling = true;
      this.report({ health_check: true, handling: this.handling, pass_through_mode: this.compiled.config.pass_through_mode, server_failing: this.serverFailing });
    }
    if (endStream && this.handling) this.onComplete();
    return this.handling ? 'StopIteration' : 'Continue';
  }

  decodeData(_chunk: Uint8Array, endStream: boolean): FilterDataStatus {
    if (endStream && this.handling) this.onComplete();
    return this.handling ? 'StopIterationNoBuffer' : 'Continue';
  }

  /** HealthCheckFilter::encodeHeaders */
  encodeHeaders(head: ResponseHead): FilterHeadersStatus {
    if (this.healthCheckRequest) {
      // The local cluster's name (node.cluster), which ProxyScope's bootstrap does not carry.
      head.headers.set('x-envoy-upstream-healthchecked-cluster', '');
    } else if (this.serverFailing) {
      head.headers.set('x-envoy-immediate-health-check-fail', 'true');
    }
    return 'Continue';
  }

  /** HealthCheckFilter::onComplete */
  private onComplete(): void {
    let status = 200;
    let reason = 'ok';
    if (this.serverFailing) {
      status = 503;
      reason = 'server is failing health checks (POST /healthcheck/fail)';
    } else {
      for (const [cluster, minPercent] of Object.entries(this.compiled.config.cluster_min_healthy_percentages)) {
        const total = this.ctx.stats.valueOf(`cluster.${cluster}.membership_total`);
        const healthy = this.ctx.stats.valueOf(`cluster.${cluster}.membership_healthy`) ?? 0;
        if (total === undefined) {
          status = 503;
          reason = `cluster '${cluster}' does not exist`;
          break;
        }
        if (total === 0) {
          if (minPercent === 0) continue;
          status = 503;
          reason = `cluster '${cluster}' has no hosts`;
          break;
        }
        if (healthy < (total * minPercent) / 100) {
          status = 503;
          reason = `cluster '${cluster}' has ${healthy} of ${total} hosts healthy, below ${minPercent}%`;
          break;
        }
      }
    }
    if (status !== 200) this.callbacks.streamInfo.setFlag('LH');
    this.report({ answered: status, reason });
    this.callbacks.sendLocalReply(status, '', { details: status === 200 ? 'health_check_ok' : 'health_check_failed' });
  }

  private report(data: Record<string, unknown>): void {
    const tracer = this.ctx.engine.tracer;
    if (tracer.enabled) tracer.fact(this.ctx.stream, 'filter.health_check', { filter: this.name, ...data }, 'HealthCheckFilter::decodeHeaders');
  }
}
