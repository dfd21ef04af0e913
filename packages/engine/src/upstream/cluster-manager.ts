import type { Cluster } from '../config/types';
import type { Counter, Gauge, Histogram, StatsStore } from '../stats/stats';
import type { Transport } from '../seams/transport';
import type { Resolver } from '../seams/resolver';
import { DnsCluster } from './dns-cluster';
import { Host } from './host';
import { ResourceManager, type ResourcePriority } from './resource-manager';
import { EMPTY_RUNTIME, type RuntimeSnapshot } from '../runtime/runtime';
// health and load balancing
import type { EngineContext } from '../seams/actors';
import type { Random } from '../seams/random';
import { HttpHealthChecker } from './health-checker';
import { failedActiveHc, isEjected, type HostHealthState } from './host-health.machine';
import { DEFAULT_PANIC_THRESHOLD, HostSet } from './host-set';
import { OutlierDetector } from './outlier-detector';
import { TlsContext, sslStats } from '../network/tls-context';

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
    membership_change: c('membership_change'),
    // ClusterInfo::configUpdateStats, moved by STRICT_DNS / LOGICAL_DNS resolution (dns-resolution.machine.ts)
    update_attempt: c('update_attempt'),
    update_success: c('update_success'),
    update_failure: c('update_failure'),
    update_no_rebuild: c('update_no_rebuild'),
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
  /** circuit breakers for DEFAULT priority */
  readonly resources: ResourceManager;
  /** circuit breakers for HIGH priority (routes with `priority: HIGH`) */
  readonly highResources: ResourceManager;
  /** the UpstreamTlsContext (transport_socket) every connection to a host handshakes with */
  readonly tls: TlsContext | undefined;
  private readonly codeCounters = new Map<number, { code: Counter; klass: Counter }>();
  private readonly retryCodeCounters = new Map<number, { code: Counter; klass: Counter }>();

  constructor(
    readonly config: Cluster,
    private readonly store: StatsStore,
    /** a host just became unavailable (failed active HC, ejected): its pooled connections should go */
    private readonly onHostHealthFailure: (host: Host) => void = () => {},
    runtime: RuntimeSnapshot = EMPTY_RUNTIME,
  ) {
    this.stats = clusterStats(store, config.name);
    this.resources = new ResourceManager(config, store, 'default', runtime);
    this.highResources = new ResourceManager(config, store, 'high', runtime);
    this.tls = config.transport_socket && TlsContext.upstream(config.transport_socket, sslStats(store, `cluster.${config.name}.`));
    // LoadBalancerBase: min(100, getInteger("upstream.healthy_panic_threshold", the configured threshold)).
    const panic = Math.min(100, runtime.getInteger('upstream.healthy_panic_threshold', config.common_lb_config?.healthy_panic_threshold ?? DEFAULT_PANIC_THRESHOLD));
    this.hostSet = new HostSet(panic, this.stats.lb_healthy_panic);
  }

  get name(): string {
    return this.config.name;
  }

  /** ClusterInfo::resourceManager(priority) */
  resourceManager(priority: ResourcePriority): ResourceManager {
    return priority === 'high' ? this.highResources : this.resources;
  }

  get hosts(): readonly Host[] {
    return this.hostSet.hosts;
  }

  /** STRICT_DNS / LOGICAL_DNS: the names' resolution, which changes the hosts over time */
  dns: DnsCluster | undefined;
  /**
   * Set by the cluster manager: hosts came or went (start and stop their health checking,
   * drain removed hosts' pools). Runs after the host set already says the new hosts.
   */
  onMembershipChange: (added: readonly Host[], removed: readonly Host[]) => void = () => {};

  setHosts(hosts: readonly Host[]): void {
    this.hostSet.setHosts(hosts);
    this.stats.membership_total.set(hosts.length);
    this.stats.membership_healthy.set(this.hostSet.healthyHosts.length);
  }

  /** PrioritySetImpl::updateHosts: the new host list, and which hosts it added and removed. */
  updateHosts(hosts: readonly Host[], added: readonly Host[], removed: readonly Host[]): void {
    this.setHosts(hosts);
    if (added.length > 0 || removed.length > 0) this.stats.membership_change.inc();
    this.onMembershipChange(added, removed);
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

/**
 * ClusterManagerImpl: owns every cluster. A STATIC cluster's hosts are its endpoints; a
 * STRICT_DNS or LOGICAL_DNS cluster's hosts are whatever its names resolve to, resolved
 * again on dns_refresh_rate for as long as the engine runs (dns-cluster.ts).
 */
export class ClusterManager {
  readonly clusters = new Map<string, ClusterInfo>();
  readonly warnings: string[] = [];
  /** set by the engine: drain a host's connection pools on every worker */
  onHostHealthFailure: (host: Host) => void = () => {};
  /** set by the engine: a host left its cluster; its pools on every worker drain and are dropped */
  onHostRemoved: (host: Host) => void = () => {};
  private healthDeps: HealthDeps | undefined;

  constructor(
    configs: readonly Cluster[],
    private readonly store: StatsStore,
    /** the layered_runtime snapshot: circuit breaker limits and the panic threshold read it */
    runtime: RuntimeSnapshot = EMPTY_RUNTIME,
  ) {
    for (const config of configs) {
      const info = new ClusterInfo(config, store, (host) => this.onHostHealthFailure(host), runtime);
      info.onMembershipChange = (added, removed) => this.onMembershipChange(info, added, removed);
      this.clusters.set(config.name, info);
    }
    this.store.gauge('cluster_manager.active_clusters').set(configs.length);
    this.store.counter('cluster_manager.cluster_added').inc(configs.length);
  }

  get(name: string): ClusterInfo | undefined {
    return this.clusters.get(name);
  }

  /**
   * Cluster initialization: STATIC hosts at once; DNS clusters start resolving and count as
   * initialized after their first answer or failure (Envoy's onPreInitComplete), with
   * whatever hosts that gave them, possibly none. Then health checking starts, and this
   * resolves once every checked host has had its first check.
   */
  async initialize(transport: Transport, health: HealthDeps, resolver: Resolver): Promise<void> {
    const dnsInits: Promise<void>[] = [];
    for (const info of this.clusters.values()) {
      if (info.config.type === 'STATIC') {
        const hosts = info.config.endpoints.map((ep) => new Host(info.name, ep.address.address, ep.address.port_value, ep.load_balancing_weight, ep.hostname));
        info.updateHosts(hosts, hosts, []);
        continue;
      }
      info.dns = new DnsCluster(info, { engine: health.engine, resolver, random: health.random });
      info.dns.start();
      dnsInits.push(info.dns.initialized);
    }
    await Promise.all(dnsInits);
    await this.startHealth(transport, health);
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
      for (const host of info.hosts) this.startHostHealth(info, host);
      info.setHosts(info.hosts);
      if (outlier) {
        info.outlierDetector = new OutlierDetector(info.name, outlier, { engine: deps.engine, random: deps.random, store: this.store });
        info.outlierDetector.start(info.hosts);
      }
      if (check) {
        const checker = new HttpHealthChecker(info.name, check, { engine: deps.engine, transport, random: deps.random, store: this.store, ...(info.tls && { tls: info.tls }) });
        info.healthChecker = checker;
        checker.onCheckSuccess = (host) => info.outlierDetector?.onActiveHealthCheckSuccess(host);
        checker.start(info.hosts);
        firstRounds.push(checker.firstRound);
      }
    }
    await Promise.all(firstRounds);
  }

  private startHostHealth(info: ClusterInfo, host: Host): void {
    const check = info.config.health_checks?.[0];
    const input = { activeHealthCheck: !!check, unhealthyThreshold: check?.unhealthy_threshold ?? 1, healthyThreshold: check?.healthy_threshold ?? 1 };
    host.startHealth(this.healthDeps!.engine, input, (h, from) => info.onHostHealthChanged(h, from));
  }

  /**
   * ClusterManagerImpl's member update callback: a host added after start gets its health
   * machine, outlier monitor and health-check session (HealthCheckerImplBase::addHosts,
   * DetectorImpl::addHostMonitor); a removed one loses them, and its pools drain on every
   * worker (ThreadLocalClusterManagerImpl::onHostSetUpdate -> drainOrCloseConnPools).
   */
  private onMembershipChange(info: ClusterInfo, added: readonly Host[], removed: readonly Host[]): void {
    const checked = this.healthDeps && (info.config.health_checks?.[0] || info.config.outlier_detection);
    if (checked) {
      for (const host of removed) host.stopHealth(this.healthDeps!.engine);
      for (const host of added) this.startHostHealth(info, host);
      info.outlierDetector?.removeHosts(removed);
      info.outlierDetector?.addHosts(added);
      info.healthChecker?.removeHosts(removed);
      info.healthChecker?.addHosts(added);
      // The new hosts' first health state (pending when actively checked) decides what balancers pick.
      info.setHosts(info.hosts);
      info.healthChecker?.updateHealthyGauge(info.hosts);
    }
    for (const host of removed) this.onHostRemoved(host);
  }

  /** Stop DNS resolution, health checkers, outlier detectors and host-health machines (their timers and connections). */
  stop(): void {
    for (const info of this.clusters.values()) {
      info.dns?.stop();
      info.healthChecker?.stop();
      info.outlierDetector?.stop();
      if (this.healthDeps) for (const host of info.hosts) host.stopHealth(this.healthDeps.engine);
    }
  }
}
