import type { OutlierDetection } from '../config/types';
import type { EngineContext } from '../seams/actors';
import type { TimerId } from '../seams/clock';
import type { Random } from '../seams/random';
import type { Counter, StatsStore } from '../stats/stats';
import type { Host, OutlierMonitor } from './host';

/**
 * What the router reports for each upstream attempt: the response status, or a failure
 * of local origin (connect failure or reset: Envoy's LocalOriginConnectFailed; timeout:
 * LocalOriginTimeout). Without split_external_local_origin_errors those count as 503 and
 * 504 (DetectorHostMonitorImpl::putResultNoLocalExternalSplit).
 */
export type OutlierResult = number | 'local_origin_failure' | 'local_origin_timeout';

export type EjectionType = 'consecutive_5xx' | 'consecutive_gateway_failure';

/** The config fields Envoy reads through the runtime, `outlier_detection.<key>` with the config as default. */
type RuntimeField =
  | 'consecutive_5xx' | 'consecutive_gateway_failure' | 'enforcing_consecutive_5xx' | 'enforcing_consecutive_gateway_failure'
  | 'max_ejection_percent' | 'interval' | 'base_ejection_time' | 'max_ejection_time';
/** outlier_detection_impl.h's *Runtime keys; the durations are in ms */
const RUNTIME_KEY: Record<RuntimeField, string> = {
  consecutive_5xx: 'outlier_detection.consecutive_5xx',
  consecutive_gateway_failure: 'outlier_detection.consecutive_gateway_failure',
  enforcing_consecutive_5xx: 'outlier_detection.enforcing_consecutive_5xx',
  enforcing_consecutive_gateway_failure: 'outlier_detection.enforcing_consecutive_gateway_failure',
  max_ejection_percent: 'outlier_detection.max_ejection_percent',
  interval: 'outlier_detection.interval_ms',
  base_ejection_time: 'outlier_detection.base_ejection_time_ms',
  max_ejection_time: 'outlier_detection.max_ejection_time_ms',
};

/** The `cluster.<name>.outlier_detection.*` stats. */
function outlierStats(store: StatsStore, cluster: string) {
  const p = `cluster.${cluster}.outlier_detection.`;
  const c = (n: string): Counter => store.counter(p + n);
  return {
    ejections_active: store.gauge(p + 'ejections_active'),
    ejections_overflow: c('ejections_overflow'),
    ejections_enforced_total: c('ejections_enforced_total'),
    ejections_enforced_consecutive_5xx: c('ejections_enforced_consecutive_5xx'),
    ejections_detected_consecutive_5xx: c('ejections_detected_consecutive_5xx'),
    ejections_enforced_consecutive_gateway_failure: c('ejections_enforced_consecutive_gateway_failure'),
    ejections_detected_consecutive_gateway_failure: c('ejections_detected_consecutive_gateway_failure'),
    /** deprecated in Envoy, still counted */
    ejections_total: c('ejections_total'),
    ejections_consecutive_5xx: c('ejections_consecutive_5xx'),
  };
}
export type OutlierStats = ReturnType<typeof outlierStats>;

export interface OutlierDetectorDeps {
  engine: EngineContext;
  random: Random;
  store: StatsStore;
}

/**
 * Outlier::DetectorImpl for one cluster: consecutive 5xx and consecutive gateway failure
 * detection, ejection with a growing ejection time, and un-ejection at interval ticks.
 * Success-rate and failure-percentage detection are not implemented.
 *
 * Ejections are decided inline when a result is reported (Envoy posts them to the main
 * thread; with one thread here that is the same thing). A host is un-ejected only by the
 * interval timer, at the first tick at least `base_ejection_time × multiplier` (capped at
 * `max_ejection_time`) after its ejection, or by a passed active health check.
 */
export class OutlierDetector {
  readonly stats: OutlierStats;
  private hosts: readonly Host[] = [];
  private timer: TimerId | undefined;
  private ejectionsActive = 0;

  constructor(
    readonly clusterName: string,
    readonly config: OutlierDetection,
    private readonly deps: OutlierDetectorDeps,
  ) {
    this.stats = outlierStats(deps.store, clusterName);
  }

  /** Attach a monitor to every host and arm the interval timer. */
  start(hosts: readonly Host[]): void {
    this.addHosts(hosts);
    this.armIntervalTimer();
  }

  /** DetectorImpl::addHostMonitor, for the hosts a DNS answer added. */
  addHosts(hosts: readonly Host[]): void {
    for (const host of hosts) {
      host.outlier = { consecutive5xx: 0, consecutiveGatewayFailure: 0, numEjections: 0, ejectTimeBackoff: 0, lastEjectionTime: undefined, lastUnejectionTime: undefined };
    }
    if (hosts.length > 0) this.hosts = [...this.hosts, ...hosts];
  }

  /** DetectorImpl's member update callback: a removed host's monitor goes, and its ejection stops counting. */
  removeHosts(hosts: readonly Host[]): void {
    if (hosts.length === 0) return;
    const gone = new Set(hosts);
    for (const host of hosts) {
      if (host.ejected && this.hosts.includes(host)) this.ejectionsActive--;
    }
    this.stats.ejections_active.set(this.ejectionsActive);
    this.hosts = this.hosts.filter((h) => !gone.has(h));
  }

  stop(): void {
    if (this.timer !== undefined) this.deps.engine.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * The router's hook, once per upstream attempt (DetectorHostMonitorImpl::putHttpResponseCode
   * and putResult): 5xx (and local-origin failures) count toward the consecutive
   * counters, anything else resets them.
   */
  reportResult(host: Host, result: OutlierResult): void {
    const monitor = host.outlier;
    if (!monitor) return;
    const code = result === 'local_origin_failure' ? 503 : result === 'local_origin_timeout' ? 504 : result;
    if (code < 500 || code > 599) {
      monitor.consecutive5xx = 0;
      monitor.consecutiveGatewayFailure = 0;
      return;
    }
    if (code === 502 || code === 503 || code === 504) {
      if (++monitor.consecutiveGatewayFailure === this.value('consecutive_gateway_failure')) this.onConsecutiveError(host, monitor, 'consecutive_gateway_failure');
    } else {
      monitor.consecutiveGatewayFailure = 0;
    }
    if (++monitor.consecutive5xx === this.value('consecutive_5xx')) this.onConsecutiveError(host, monitor, 'consecutive_5xx');
  }

  /** A passed active health check un-ejects an ejected host (successful_active_health_check_uneject_host). */
  onActiveHealthCheckSuccess(host: Host): void {
    if (this.config.successful_active_health_check_uneject_host && host.ejected) this.unejectHost(host, 'successful active health check');
  }

  /** DetectorImpl::onConsecutiveErrorWorker */
  private onConsecutiveError(host: Host, monitor: OutlierMonitor, type: EjectionType): void {
    if (host.ejected) return;
    if (type === 'consecutive_5xx') this.stats.ejections_detected_consecutive_5xx.inc();
    else this.stats.ejections_detected_consecutive_gateway_failure.inc();
    // What tripped it, for the trace: the counter as it stood (it is reset just below) and the threshold it reached.
    const tripped = this.deps.engine.tracer.enabled
      ? { consecutive: type === 'consecutive_5xx' ? monitor.consecutive5xx : monitor.consecutiveGatewayFailure, threshold: this.value(type) }
      : undefined;
    this.ejectHost(host, monitor, type, tripped);
    // Reset so a new run of errors is needed, whether or not the host was ejected.
    if (type === 'consecutive_5xx') {
      this.stats.ejections_consecutive_5xx.inc();
      monitor.consecutive5xx = 0;
    } else {
      monitor.consecutiveGatewayFailure = 0;
    }
  }

  /** DetectorImpl::ejectHost */
  private ejectHost(host: Host, monitor: OutlierMonitor, type: EjectionType, tripped?: { consecutive: number; threshold: number }): void {
    const { stats } = this;
    const { tracer, clock } = this.deps.engine;
    const maxPercent = Math.min(100, this.value('max_ejection_percent'));
    // Checked before this ejection counts, so the first ejection in a small cluster is allowed.
    const ejectedPercent = (100 * this.ejectionsActive) / this.hosts.length;
    if (ejectedPercent >= maxPercent) {
      stats.ejections_overflow.inc();
      tracer.fact(host.healthMeta, 'host.ejection_skipped', { type, reason: 'max_ejection_percent', ejectedPercent, maxEjectionPercent: maxPercent, ...tripped }, 'DetectorImpl::ejectHost');
      return;
    }
    if (type === 'consecutive_5xx') stats.ejections_total.inc();
    // DetectorImpl::enforceEjection: featureEnabled(outlier_detection.enforcing_*, the config's
    // percent): a roll of the engine's seeded Random.
    const enforcing = Math.min(100, this.value(type === 'consecutive_5xx' ? 'enforcing_consecutive_5xx' : 'enforcing_consecutive_gateway_failure'));
    if (!(enforcing >= 100 || (enforcing > 0 && this.deps.random.int(100) < enforcing))) {
      tracer.fact(host.healthMeta, 'host.ejection_skipped', { type, reason: 'not_enforced', enforcingPercent: enforcing, ...tripped }, 'DetectorImpl::ejectHost');
      return;
    }
    this.ejectionsActive++;
    stats.ejections_active.set(this.ejectionsActive);
    stats.ejections_enforced_total.inc();
    if (type === 'consecutive_5xx') stats.ejections_enforced_consecutive_5xx.inc();
    else stats.ejections_enforced_consecutive_gateway_failure.inc();
    monitor.numEjections++;
    monitor.lastEjectionTime = clock.now();
    // The multiplier grows with each ejection until base × multiplier passes max_ejection_time.
    const base = this.value('base_ejection_time');
    if (monitor.ejectTimeBackoff * base < this.value('max_ejection_time') + base) monitor.ejectTimeBackoff++;
    if (tracer.enabled) {
      tracer.fact(
        host.healthMeta,
        'host.ejected',
        {
          type,
          ...tripped,
          ejectionMs: this.ejectionTime(monitor),
          timesEjected: monitor.numEjections,
          ejectionsActive: this.ejectionsActive,
          hosts: this.hosts.length,
          // un-ejection waits for the first interval tick at least ejectionMs after now
          intervalMs: this.value('interval'),
        },
        'DetectorImpl::ejectHost',
      );
    }
    host.sendHealth({ type: 'outlier.eject' });
  }

  /** base_ejection_time × multiplier, capped at max_ejection_time */
  private ejectionTime(monitor: OutlierMonitor): number {
    return Math.min(this.value('base_ejection_time') * monitor.ejectTimeBackoff, this.value('max_ejection_time'));
  }

  /** The runtime's value for `outlier_detection.<field>` when it has one, else the config's. */
  private value(field: RuntimeField): number {
    return this.deps.engine.runtime ? this.deps.engine.runtime.getInteger(RUNTIME_KEY[field], this.config[field]) : this.config[field];
  }

  private armIntervalTimer(): void {
    this.timer = this.deps.engine.clock.setTimeout(() => this.onIntervalTimer(), this.value('interval'));
  }

  /** DetectorImpl::onIntervalTimer: un-eject hosts whose time is up; decay the others' multipliers. */
  private onIntervalTimer(): void {
    this.timer = undefined;
    const now = this.deps.engine.clock.now();
    for (const host of this.hosts) {
      const monitor = host.outlier!;
      if (!host.ejected) {
        // Healthy for a whole interval: the next ejection will be shorter.
        if (monitor.ejectTimeBackoff > 0) monitor.ejectTimeBackoff--;
        continue;
      }
      if (this.ejectionTime(monitor) <= now - (monitor.lastEjectionTime ?? now)) this.unejectHost(host, 'ejection time elapsed');
    }
    this.armIntervalTimer();
  }

  /** DetectorImpl::unejectHost */
  private unejectHost(host: Host, reason: string): void {
    const monitor = host.outlier!;
    const now = this.deps.engine.clock.now();
    this.ejectionsActive--;
    this.stats.ejections_active.set(this.ejectionsActive);
    // Fresh counters, so a host is not re-ejected after very few new errors.
    monitor.consecutive5xx = 0;
    monitor.consecutiveGatewayFailure = 0;
    monitor.lastUnejectionTime = now;
    const { tracer } = this.deps.engine;
    if (tracer.enabled) {
      tracer.fact(host.healthMeta, 'host.unejected', { reason, ejectedForMs: now - (monitor.lastEjectionTime ?? now), ejectionsActive: this.ejectionsActive }, 'DetectorImpl::unejectHost');
    }
    host.sendHealth({ type: 'outlier.uneject' });
  }
}
