/**
 * envoy.filters.http.fault (Envoy's FaultFilter): delays and aborts requests on purpose.
 *
 * For each request, in Envoy's order: the most specific config (route, virtual host, or the
 * filter's own) is chosen; `upstream_cluster`, `downstream_nodes` and `headers` must match;
 * then a delay is drawn (fixed_delay, or the `x-envoy-fault-delay-request` header with
 * header_delay) and, if it applies, the request waits on the engine clock with header
 * iteration stopped; after the delay (or at once without one) an abort is drawn and, if
 * it applies, the request ends with a local reply. A delay sets flag DI, an abort FI.
 *
 * Stats `http.<stat_prefix>.fault.{delays_injected,aborts_injected,faults_overflow}` and the
 * gauge `active_faults` (requests with a fault in progress; `max_active_faults` caps it).
 */
import type { FaultConfig, FractionalPercent, HttpFilter } from '../../config/types';
import { headerReader, headerValueTest } from '../../router/route-matcher';
import type { TimerId } from '../../seams/clock';
import type { Counter, Gauge } from '../../stats/stats';
import type { DecoderFilterCallbacks, FilterDataStatus, FilterHeadersStatus, StreamDecoderFilter } from '../filter';
import { perFilterConfig, type FilterFactoryContext } from '../filter-registry';
import type { RequestHead } from '../headers';
import { describePercent, fractionSelected, headerInteger } from './fractional-percent';

export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';

/** Filters::Common::Fault::HeaderNames */
export const FAULT_HEADERS = {
  delay: 'x-envoy-fault-delay-request',
  delayPercentage: 'x-envoy-fault-delay-request-percentage',
  abort: 'x-envoy-fault-abort-request',
  abortPercentage: 'x-envoy-fault-abort-request-percentage',
} as const;

interface FaultStats {
  delays_injected: Counter;
  aborts_injected: Counter;
  faults_overflow: Counter;
  active_faults: Gauge;
}

/** A FaultConfig with its header matchers compiled (FaultSettings). */
interface FaultSettings {
  config: FaultConfig;
  matches: (head: RequestHead) => boolean;
}

function compile(config: FaultConfig): FaultSettings {
  const tests = config.headers.map((m) => {
    const read = headerReader(m.name.toLowerCase());
    const { test } = headerValueTest(m);
    return (head: RequestHead) => test(read(head));
  });
  return { config, matches: (head) => tests.every((t) => t(head)) };
}

/** The factory registered for `envoy.filters.http.fault`. */
export function createFaultFilter(filter: HttpFilter, ctx: FilterFactoryContext): FaultFilter {
  const shared = ctx.shared(filter, () => {
    const p = `http.${ctx.statPrefix}.fault.`;
    const stats: FaultStats = {
      delays_injected: ctx.stats.counter(p + 'delays_injected'),
      aborts_injected: ctx.stats.counter(p + 'aborts_injected'),
      faults_overflow: ctx.stats.counter(p + 'faults_overflow'),
      active_faults: ctx.stats.gauge(p + 'active_faults'),
    };
    const config = (filter.typed_config ?? { headers: [], downstream_nodes: [] }) as unknown as FaultConfig;
    return { stats, settings: compile(config) };
  });
  return new FaultFilter(ctx, shared.stats, shared.settings);
}

export class FaultFilter implements StreamDecoderFilter {
  readonly name = FAULT_FILTER_NAME;
  private callbacks!: DecoderFilterCallbacks;
  private delayTimer: TimerId | undefined;
  /** this request counts in active_faults (once, however many faults it gets) */
  private faultActive = false;
  private settings: FaultSettings;
  private head: RequestHead | undefined;

  constructor(
    private readonly ctx: FilterFactoryContext,
    private readonly stats: FaultStats,
    defaults: FaultSettings,
  ) {
    this.settings = defaults;
  }

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.callbacks = callbacks;
  }

  /** FaultFilter::decodeHeaders */
  decodeHeaders(head: RequestHead): FilterHeadersStatus {
    this.head = head;
    const route = this.callbacks.route();
    // Route-level configuration replaces the filter's (resolveMostSpecificPerFilterConfig).
    const perRoute = perFilterConfig<FaultConfig>(route, this.name);
    if (perRoute) this.settings = this.ctx.shared(perRoute, () => compile(perRoute));
    const { config } = this.settings;

    if (config.upstream_cluster !== undefined && route.cluster?.name !== config.upstream_cluster) {
      return this.skip(`routed to ${JSON.stringify(route.cluster?.name ?? null)}, not upstream_cluster ${JSON.stringify(config.upstream_cluster)}`);
    }
    if (config.downstream_nodes.length > 0) {
      const node = head.headers.get('x-envoy-downstream-service-node');
      if (node === undefined || !config.downstream_nodes.includes(node)) return this.skip('x-envoy-downstream-service-node is not one of downstream_nodes');
    }
    if (!this.settings.matches(head)) return this.skip('request headers do not match');

    const delay = this.delayMs(head);
    if (delay !== undefined && this.tryIncActiveFaults()) {
      this.stats.delays_injected.inc();
      this.callbacks.streamInfo.setFlag('DI');
      this.report({ action: 'delay', ms: delay, percentage: describePercent(this.delayPercentage(head)) });
      this.delayTimer = this.ctx.engine.clock.setTimeout(() => this.postDelayInjection(), delay);
      return 'StopIteration';
    }
    const status = this.abortStatus(head);
    if (status !== undefined && this.tryIncActiveFaults()) {
      this.abortWithStatus(status);
      return 'StopIteration';
    }
    if (this.ctx.engine.tracer.enabled && (config.delay || config.abort)) this.report({ action: 'none', reason: 'no fault selected' });
    return 'Continue';
  }

  /** While the delay runs the stream keeps the body, and stops reading past its buffer limit. */
  decodeData(): FilterDataStatus {
    return this.delayTimer === undefined ? 'Continue' : 'StopIterationAndWatermark';
  }

  onDestroy(): void {
    if (this.delayTimer !== undefined) {
      this.ctx.engine.clock.clearTimeout(this.delayTimer);
      this.delayTimer = undefined;
    }
    if (this.faultActive) {
      this.faultActive = false;
      this.stats.active_faults.dec();
    }
  }

  // --- internals ---------------------------------------------------------------------

  /** FaultFilter::postDelayInjection: delays can be followed by aborts. */
  private postDelayInjection(): void {
    this.delayTimer = undefined;
    const status = this.abortStatus(this.head!);
    if (status !== undefined) {
      this.abortWithStatus(status);
      return;
    }
    // The delay is over and nothing else is injected: no longer an active fault.
    if (this.faultActive) {
      this.faultActive = false;
      this.stats.active_faults.dec();
    }
    this.report({ action: 'delay_elapsed' });
    this.callbacks.continueDecoding();
  }

  private abortWithStatus(status: number): void {
    this.stats.aborts_injected.inc();
    this.report({ action: 'abort', status, percentage: describePercent(this.abortPercentage(this.head!)) });
    this.callbacks.sendLocalReply(status, 'fault filter abort', { flag: 'FI', details: 'fault_filter_abort' });
  }

  /** FaultFilter::tryIncActiveFaults: one active fault per request; max_active_faults may refuse it. */
  private tryIncActiveFaults(): boolean {
    if (this.faultActive) return true;
    const max = this.settings.config.max_active_faults;
    if (max !== undefined && this.stats.active_faults.value >= max) {
      this.stats.faults_overflow.inc();
      this.report({ action: 'overflow', max_active_faults: max, active_faults: this.stats.active_faults.value });
      return false;
    }
    this.stats.active_faults.inc();
    this.faultActive = true;
    return true;
  }

  /** The delay for this request, or undefined when none applies (FaultFilter::delayDuration). */
  private delayMs(head: RequestHead): number | undefined {
    const delay = this.settings.config.delay;
    if (!delay) return undefined;
    const ms = delay.header_delay ? headerInteger(head.headers.get(FAULT_HEADERS.delay)) : delay.fixed_delay;
    // No (valid) header, or 0 ms: no delay, and no draw.
    if (ms === undefined || ms <= 0) return undefined;
    return fractionSelected(this.delayPercentage(head), this.ctx.random) ? ms : undefined;
  }

  /** The abort status for this request, or undefined (FaultFilter::abortStatus). */
  private abortStatus(head: RequestHead): number | undefined {
    const abort = this.settings.config.abort;
    if (!abort) return undefined;
    let status = abort.http_status;
    if (abort.header_abort) {
      const code = headerInteger(head.headers.get(FAULT_HEADERS.abort));
      status = code !== undefined && code >= 200 && code < 600 ? code : undefined;
    }
    if (status === undefined) return undefined;
    return fractionSelected(this.abortPercentage(head), this.ctx.random) ? status : undefined;
  }

  /** HeaderPercentageProvider: with header_delay, the header may lower (never raise) the numerator. */
  private delayPercentage(head: RequestHead): FractionalPercent {
    const delay = this.settings.config.delay!;
    return delay.header_delay ? headerPercentage(delay.percentage, head.headers.get(FAULT_HEADERS.delayPercentage)) : delay.percentage;
  }

  private abortPercentage(head: RequestHead): FractionalPercent {
    const abort = this.settings.config.abort!;
    return abort.header_abort ? headerPercentage(abort.percentage, head.headers.get(FAULT_HEADERS.abortPercentage)) : abort.percentage;
  }

  private skip(reason: string): FilterHeadersStatus {
    this.report({ action: 'none', reason });
    return 'Continue';
  }

  private report(data: Record<string, unknown>): void {
    const tracer = this.ctx.engine.tracer;
    if (tracer.enabled) tracer.fact(this.ctx.stream, 'filter.fault', data, 'FaultFilter::decodeHeaders');
  }
}

function headerPercentage(configured: FractionalPercent, header: string | undefined): FractionalPercent {
  const numerator = headerInteger(header);
  if (numerator === undefined) return configured;
  return { numerator: Math.min(numerator, configured.numerator), denominator: configured.denominator };
}
