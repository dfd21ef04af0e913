import type { Cluster } from '../config/types';
import type { Counter, Gauge, Histogram, StatsStore } from '../stats/stats';
import type { Transport } from '../seams/transport';
import { Host } from './host';
import { ResourceManager } from './resource-manager';
// health and load balancing
import type { EngineContext } from '../seams/actors';
import type { Random } from '../seams/random';
import { HttpHealthChecker } from './health-checker';
import { failedActiveHc, isEjected, type HostHealthState } from './host-health.machine';
import { DEFAULT_PANIC_THRESHOLD, HostSet } from './host-set';
import { OutlierDetector } from './outlier-detector';

/** What health checking and outlier detection run on. */
export interface HealthDeps {
  engine: EngineContext;
  random: Random;
}

/** The cluster-wide counters the request path touches, looked up once. */
export function clusterStats(store: StatsStore, name: string) {
  const p = `cluster.${name}.`;
  const c = (n: string): Counter => store.counter(p + n);
  const g = (n: string): Gauge => store.gauge(p + n);
  const h = (n: string): Histogram => store.histogram(p + n);
  return {
    upstream_cx_total: c('upstream_cx_total'),
    upstream_cx_http1_total: c('upstream_cx_http1_total'),
    upstream_cx_active: g('upstream_cx_active'),
    upstream_cx_connect_fail: c('upstream_cx_connect_fail'),
    upstream_cx_connect_timeout: c('upstream_cx_connect_timeout'),
    upstream_cx_overflow: c('upstream_cx_overflow'),
    upstream_cx_connect_ms: h('upstream_cx_connect_ms'),
    upstream_cx_length_ms: h('upstream_cx_length_ms'),
    upstream_cx_destroy: c('upstream_cx_destroy'),
    upstream_cx_destroy_local: c('upstream_cx_destroy_local'),
    upstream_cx_destroy_remote: c('upstream_cx_destroy_remote'),
    upstream_cx_destroy_with_active_rq: c('upstream_cx_destroy_with_active_rq'),
    upstream_cx_destroy_local_with_active_rq: c('upstream_cx_destroy_local_with_active_rq'),
    upstream_cx_destroy_remote_with_active_rq: c('upstream_cx_destroy_remote_with_active_rq'),
    upstream_cx_close_notify: c('upstream_cx_close_notify'),
    upstream_cx_max_requests: c('upstream_cx_max_requests'),
    upstream_cx_idle_timeout: c('upstream_cx_idle_timeout'),
    upstream_cx_max_duration_reached: c('upstream_cx_max_duration_reached'),
    upstream_cx_none_healthy: c('upstream_cx_none_healthy'),
    upstream_cx_protocol_error: c('upstream_cx_protocol_error'),
    upstream_cx_rx_bytes_total: c('upstream_cx_rx_bytes_total'),
    upstream_cx_tx_bytes_total: c('upstream_cx_tx_bytes_total'),
    upstream_rq_total: c('upstream_rq_total'),
    upstream_rq_active: g('upstream_rq_active'),
    upstream_rq_pending_total: c('upstream_rq_pending_total'),
    upstream_rq_pending_active: g('upstream_rq_pending_active'),
    upstream_rq_pending_overflow: c('upstream_rq_pending_overflow'),
    upstream_rq_pending_failure_eject: c('upstream_rq_pending_failure_eject'),
    upstream_rq_cancelled: c('upstream_rq_cancelled'),
    upstream_rq_completed: c('upstream_rq_completed'),
    upstream_rq_timeout: c('upstream_rq_timeout'),
    // retries and per-try timeouts (router/retry.machine.ts, router/router-filter.ts)
    upstream_rq_per_try_timeout: c('upstream_rq_per_try_timeout'),
    upstream_rq_retry: c('upstream_rq_retry'),
    upstream_rq_retry_success: c('upstream_rq_retry_success'),
    upstream_rq_retry_limit_exceeded: c('upstream_rq_retry_limit_exceeded'),
    upstream_rq_retry_overflow: c('upstream_rq_retry_overflow'),
    upstream_rq_retry_backoff_exponential: c('upstream_rq_retry_backoff_exponential'),
    upstream_rq_retry_backoff_ratelimited: c('upstream_rq_retry_backoff_ratelimited'),
    retry_or_shadow_abandoned: c('retry_or_shadow_abandoned'),
    upstream_rq_rx_reset: c('upstream_rq_rx_reset'),
    upstream_rq_tx_reset: c('upstream_rq_tx_reset'),
    upstream_rq_time: h('upstream_rq_time'),
    membership_total: g('membership_total'),
    membership_healthy: g('membership_healthy'),
    lb_healthy_panic: c('lb_healthy_panic'),
  };
}
export type ClusterStats = ReturnType<typeof clusterStats>;

/** Upstream::ClusterInfo plus its host set. */
export class ClusterInfo {
  readonly stats: ClusterStats;
  /** the hosts, and which of them balancers may pick (health, panic threshold) */
  readonly hostSet: HostSet;
  /** the active health checker, when `health_checks` is configured */
  healthChecker: HttpHealthChecker | undefined;
  /** when `outlier_detection` is configured; the router reports each attempt's result to it */
  outlierDetector: OutlierDetector | undefined;
  readonly resources: ResourceManager;
  private readonly codeCounters = new Map<number, { code: Counter; klass: Counter }>();
  private readonly retryCodeCounters = new Map<number, { code: Counter; klass: Counter }>();

  constructor(
    readonly config: Cluster,
    private readonly store: StatsStore,
    /** a host just became unavailable (failed active HC, ejected): its pooled connections should go */
    private readonly onHostHealthFailure: (host: Host) => void = () => {},
  ) {
    this.stats = clusterStats(store, config.name);
    this.resources = new ResourceManager(config, store);
    this.hostSet = new HostSet(config.common_lb_config?.healthy_panic_threshold ?? DEFAULT_PANIC_THRESHOLD, this.stats.lb_healthy_panic);
  }

  get name(): string {
    return this.config.name;
  }

  get hosts(): readonly Host[] {
    return this.hostSet.hosts;
  }

  setHosts(hosts: readonly Host[]): void {
    this.hostSet.setHosts(hosts);
    this.stats.membership_total.set(hosts.length);
    this.stats.membership_healthy.set(this.hostSet.healthyHosts.length);
  }

  /** A host-health machine changed state: rebuild the host set, update gauges, drain on failure. */
  onHostHealthChanged(host: Host, from: HostHealthState): void {
    this.hostSet.refresh();
    this.stats.membership_healthy.set(this.hostSet.healthyHosts.length);
    this.healthChecker?.updateHealthyGauge(this.hostSet.hosts);
    // ClusterManagerImpl::onHostHealthFailure: on a new failed_active_hc or a new ejection.
    const newlyFailed = (host.failedActiveHealthCheck && !failedActiveHc(from)) || (host.ejected && !isEjected(from));
    if (newlyFailed) this.onHostHealthFailure(host);
  }

  /** `retry.upstream_rq_<code>` and `retry.upstream_rq_<N>xx`: responses that were retried instead of passed on. */
  retryResponseCodeCounters(code: number): { code: Counter; klass: Counter } {
    let counters = this.retryCodeCounters.get(code);
    if (!counters) {
      const p = `cluster.${this.config.name}.retry.`;
      counters = { code: this.store.counter(`${p}upstream_rq_${code}`), klass: this.store.counter(`${p}upstream_rq_${Math.floor(code / 100)}xx`) };
      this.retryCodeCounters.set(code, counters);
    }
    return counters;
  }

  /** `upstream_rq_<code>` and `upstream_rq_<N>xx`, created on first use like Envoy's dynamic stats. */
  responseCodeCounters(code: number): { code: Counter; klass: Counter } {
    let counters = this.codeCounters.get(code);
    if (!counters) {
      const p = `cluster.${this.config.name}.`;
      counters = { code: this.store.counter(`${p}upstream_rq_${code}`), klass: this.store.counter(`${p}upstream_rq_${Math.floor(code / 100)}xx`) };
      this.codeCounters.set(code, counters);
    }
    return counters;
  }
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * ClusterManagerImpl: owns every cluster. STRICT_DNS names are resolved once at start;
 * periodic re-resolution (dns_refresh_rate) is not modelled yet.
 */
export class ClusterManager {
  readonly clusters = new Map<string, ClusterInfo>();
  readonly warnings: string[] = [];
  /** set by the engine: drain a host's connection pools on every worker */
  onHostHealthFailure: (host: Host) => void = () => {};
  private healthDeps: HealthDeps | undefined;

  constructor(
    configs: readonly Cluster[],
    private readonly store: StatsStore,
  ) {
    for (const config of configs) {
      this.clusters.set(config.name, new ClusterInfo(config, store, (host) => this.onHostHealthFailure(host)));
    }
    this.store.gauge('cluster_manager.active_clusters').set(configs.length);
    this.store.counter('cluster_manager.cluster_added').inc(configs.length);
  }

  get(name: string): ClusterInfo | undefined {
    return this.clusters.get(name);
  }

  /** Builds host sets; resolves STRICT_DNS / LOGICAL_DNS names through the transport. */
  async initialize(transport: Transport, health?: HealthDeps): Promise<void> {
    for (const info of this.clusters.values()) {
      const hosts: Host[] = [];
      for (const ep of info.config.endpoints) {
        const { address, port_value } = ep.address;
        if (info.config.type === 'STATIC' || IPV4.test(address) || address.includes(':')) {
          hosts.push(new Host(info.name, address, port_value, ep.load_balancing_weight, ep.hostname));
          continue;
        }
        const resolved = await transport.resolve(address);
        // dns_lookup_family V4_PREFERRED: the IPv4 answers when there are any.
        const v4 = resolved.filter((ip) => IPV4.test(ip));
        const family = v4.length > 0 ? v4 : resolved;
        // STRICT_DNS makes a host of every address; LOGICAL_DNS keeps only the first.
        const picked = info.config.type === 'LOGICAL_DNS' ? family.slice(0, 1) : family;
        for (const ip of picked) hosts.push(new Host(info.name, ip, port_value, ep.load_balancing_weight, address));
      }
      info.setHosts(hosts);
    }
    if (health) await this.startHealth(transport, health);
  }

  // --- health (docs/resilience.md "Health and load balancing") -------------------------

  /**
   * Start host-health machines (only in clusters with health checks or outlier detection),
   * outlier detectors and health checkers. Resolves once every checked host has had its
   * first check: Envoy holds cluster initialization for that first round.
   */
  private async startHealth(transport: Transport, deps: HealthDeps): Promise<void> {
    this.healthDeps = deps;
    const firstRounds: Promise<void>[] = [];
    for (const info of this.clusters.values()) {
      const check = info.config.health_checks?.[0];
      const outlier = info.config.outlier_detection;
      if (!check && !outlier) continue;
      const input = { activeHealthCheck: !!check, unhealthyThreshold: check?.unhealthy_threshold ?? 1, healthyThreshold: check?.healthy_threshold ?? 1 };
      for (const host of info.hosts) host.startHealth(deps.engine, input, (h, from) => info.onHostHealthChanged(h, from));
      info.setHosts(info.hosts);
      if (outlier) {
        info.outlierDetector = new OutlierDetector(info.name, outlier, { engine: deps.engine, random: deps.random, store: this.store });
        info.outlierDetector.start(info.hosts);
      }
      if (check) {
        const checker = new HttpHealthChecker(info.name, check, { engine: deps.engine, transport, random: deps.random, store: this.store });
        info.healthChecker = checker;
        checker.onCheckSuccess = (host) => info.outlierDetector?.onActiveHealthCheckSuccess(host);
        checker.start(info.hosts);
        firstRounds.push(checker.firstRound);
      }
    }
    await Promise.all(firstRounds);
  }

  /** Stop health checkers, outlier detectors and host-health machines (their timers and connections). */
  stop(): void {
    for (const info of this.clusters.values()) {
      info.healthChecker?.stop();
      info.outlierDetector?.stop();
      if (this.healthDeps) for (const host of info.hosts) host.stopHealth(this.healthDeps.engine);
    }
  }
}
