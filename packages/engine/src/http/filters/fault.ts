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
 *
 * The runtime overrides the config, as in Envoy: the delay and abort percentages
 * (featureEnabled with the configured percentage as default), the delay's duration, the
 * abort's status and max_active_faults, each under its `*_runtime` key or Envoy's default
 * key (FAULT_RUNTIME_KEYS). A request with `x-envoy-downstream-service-cluster: <c>` reads
 * `fault.http.<c>.delay.fixed_delay_percent` (and the others) instead.
 */
import type { FaultConfig, FractionalPercent, HttpFilter } from '../../config/types';
import { headerReader, headerValueTest } from '../../router/route-matcher';
import type { TimerId } from '../../seams/clock';
import type { Counter, Gauge } from '../../stats/stats';
import type { DecoderFilterCallbacks, FilterDataStatus, FilterHeadersStatus, StreamDecoderFilter } from '../filter';
import { perFilterConfig, type FilterFactoryContext } from '../filter-registry';
import type { RequestHead } from '../headers';
import { FAULT_TYPE } from '../../config/filters/fault';
import { describePercent, fractionSelected, headerInteger, runtimePercent } from './fractional-percent';

export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';

/** Filters::Common::Fault::HeaderNames */
export const FAULT_HEADERS = {
  delay: 'x-envoy-fault-delay-request',
  delayPercentage: 'x-envoy-fault-delay-request-percentage',
  abort: 'x-envoy-fault-abort-request',
  abortPercentage: 'x-envoy-fault-abort-request-percentage',
} as const;

/** Fault::RuntimeKeys: what a config without `*_runtime` fields reads. */
export const FAULT_RUNTIME_KEYS = {
  delayPercent: 'fault.http.delay.fixed_delay_percent',
  abortPercent: 'fault.http.abort.abort_percent',
  delayDuration: 'fault.http.delay.fixed_duration_ms',
  abortHttpStatus: 'fault.http.abort.http_status',
  maxActiveFaults: 'fault.http.max_active_faults',
} as const;

/** The runtime keys one request reads: the downstream cluster's own ones when it names one. */
interface FaultKeys {
  delayPercent: string;
  abortPercent: string;
  delayDuration: string;
  abortHttpStatus: string;
  /** FaultFilter::downstream_cluster_*_key_: `fault.http.<cluster>.…`, or undefined without the header */
  downstream?: { delayPercent: string; abortPercent: string; delayDuration: string; abortHttpStatus: string };
}

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
  return new FaultFilter(filter.name, ctx, shared.stats, shared.settings);
}

export class FaultFilter implements StreamDecoderFilter {
  private callbacks!: DecoderFilterCallbacks;
  private delayTimer: TimerId | undefined;
  /** this request counts in active_faults (once, however many faults it gets) */
  private faultActive = false;
  private settings: FaultSettings;
  private head: RequestHead | undefined;
  private keys!: FaultKeys;

  constructor(
    /** the name in http_filters: its typed_per_filter_config key */
    readonly name: string,
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
    const perRoute = perFilterConfig<FaultConfig>(route, this.name, [FAULT_TYPE]);
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
    this.keys = runtimeKeys(config, head.headers.get('x-envoy-downstream-service-cluster'));

    const delay = this.delayMs(head);
    if (delay !== undefined && this.tryIncActiveFaults()) {
      this.stats.delays_injected.inc();
      this.callbacks.streamInfo.setFlag('DI');
      this.report({ action: 'delay', ms: delay, percentage: describePercent(this.delayPercentage(head)), ...this.runtimeNote(this.delayKeys()) });
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
    this.report({ action: 'abort', status, percentage: describePercent(this.abortPercentage(this.head!)), ...this.runtimeNote(this.abortKeys()) });
    this.callbacks.sendLocalReply(status, 'fault filter abort', { flag: 'FI', details: 'fault_filter_abort' });
  }

  /** FaultFilter::tryIncActiveFaults: one active fault per request; max_active_faults may refuse it. */
  private tryIncActiveFaults(): boolean {
    if (this.faultActive) return true;
    // FaultFilter::faultOverflow: getInteger(max_active_faults_runtime, max_active_faults or unlimited).
    const { config } = this.settings;
    const max = this.ctx.runtime.getInteger(config.max_active_faults_runtime || FAULT_RUNTIME_KEYS.maxActiveFaults, config.max_active_faults ?? Infinity);
    if (this.stats.active_faults.value >= max) {
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
    const configured = delay.header_delay ? headerInteger(head.headers.get(FAULT_HEADERS.delay)) : delay.fixed_delay;
    if (configured === undefined) return undefined;
    // FaultFilter::delayDuration: the runtime's duration, the downstream cluster's over that.
    const { runtime } = this.ctx;
    let ms = runtime.getInteger(this.keys.delayDuration, configured);
    if (this.keys.downstream) ms = runtime.getInteger(this.keys.downstream.delayDuration, ms);
    // No (valid) header, or 0 ms: no delay, and no draw.
    if (ms <= 0) return undefined;
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
    if (!fractionSelected(this.abortPercentage(head), this.ctx.random)) return undefined;
    // FaultFilter::abortHttpStatus: the downstream cluster's key replaces the general one, both
    // defaulting to the configured status. Envoy sends whatever the runtime says; a status
    // HTTP/1 cannot carry is not sent here: the configured one is.
    const { runtime } = this.ctx;
    const fromRuntime = runtime.getInteger(this.keys.downstream?.abortHttpStatus ?? this.keys.abortHttpStatus, status);
    return fromRuntime >= 200 && fromRuntime <= 599 ? fromRuntime : status;
  }

  /**
   * FaultFilter::isDelayEnabled: featureEnabled(key, percentage), the key being the downstream
   * cluster's when the request names one. HeaderPercentageProvider: with header_delay, the
   * header may lower (never raise) the configured numerator, which is featureEnabled's default.
   */
  private delayPercentage(head: RequestHead): FractionalPercent {
    const delay = this.settings.config.delay!;
    const configured = delay.header_delay ? headerPercentage(delay.percentage, head.headers.get(FAULT_HEADERS.delayPercentage)) : delay.percentage;
    return runtimePercent(this.ctx.runtime, this.delayKeys().percent, configured);
  }

  /** FaultFilter::isAbortEnabled, as isDelayEnabled. */
  private abortPercentage(head: RequestHead): FractionalPercent {
    const abort = this.settings.config.abort!;
    const configured = abort.header_abort ? headerPercentage(abort.percentage, head.headers.get(FAULT_HEADERS.abortPercentage)) : abort.percentage;
    return runtimePercent(this.ctx.runtime, this.abortKeys().percent, configured);
  }

  private delayKeys(): { percent: string; value: string[] } {
    const k = this.keys;
    return { percent: k.downstream?.delayPercent ?? k.delayPercent, value: k.downstream ? [k.delayDuration, k.downstream.delayDuration] : [k.delayDuration] };
  }

  private abortKeys(): { percent: string; value: string[] } {
    const k = this.keys;
    return { percent: k.downstream?.abortPercent ?? k.abortPercent, value: [k.downstream?.abortHttpStatus ?? k.abortHttpStatus] };
  }

  /** For the trace: the runtime keys that had a say in this fault. */
  private runtimeNote(keys: { percent: string; value: string[] }): Record<string, unknown> {
    const set = [keys.percent, ...keys.value].filter((k) => this.ctx.runtime.get(k) !== undefined);
    return set.length ? { runtime: set } : {};
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

function runtimeKeys(config: FaultConfig, downstreamCluster: string | undefined): FaultKeys {
  const keys: FaultKeys = {
    delayPercent: config.delay_percent_runtime || FAULT_RUNTIME_KEYS.delayPercent,
    abortPercent: config.abort_percent_runtime || FAULT_RUNTIME_KEYS.abortPercent,
    delayDuration: config.delay_duration_runtime || FAULT_RUNTIME_KEYS.delayDuration,
    abortHttpStatus: config.abort_http_status_runtime || FAULT_RUNTIME_KEYS.abortHttpStatus,
  };
  if (downstreamCluster !== undefined) {
    const c = downstreamCluster;
    keys.downstream = {
      delayPercent: `fault.http.${c}.delay.fixed_delay_percent`,
      abortPercent: `fault.http.${c}.abort.abort_percent`,
      delayDuration: `fault.http.${c}.delay.fixed_duration_ms`,
      abortHttpStatus: `fault.http.${c}.abort.http_status`,
    };
  }
  return keys;
}

function headerPercentage(configured: FractionalPercent, header: string | undefined): FractionalPercent {
  const numerator = headerInteger(header);
  if (numerator === undefined) return configured;
  return { numerator: Math.min(numerator, configured.numerator), denominator: configured.denominator };
}
