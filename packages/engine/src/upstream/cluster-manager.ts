import type { Cluster } from '../config/types';
import type { Counter, Gauge, Histogram, StatsStore } from '../stats/stats';
import type { Transport } from '../seams/transport';
import { Host } from './host';

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
    upstream_rq_rx_reset: c('upstream_rq_rx_reset'),
    upstream_rq_tx_reset: c('upstream_rq_tx_reset'),
    upstream_rq_time: h('upstream_rq_time'),
    membership_total: g('membership_total'),
    membership_healthy: g('membership_healthy'),
    lb_healthy_panic: c('lb_healthy_panic'),
  };
}
export type ClusterStats = ReturnType<typeof clusterStats>;

/** Circuit-breaker resources, counted per cluster across every worker (Envoy's ResourceManager). */
export interface ClusterResources {
  connections: number;
  pending: number;
  requests: number;
  retries: number;
}

/** Upstream::ClusterInfo plus its host set. */
export class ClusterInfo {
  hosts: Host[] = [];
  readonly stats: ClusterStats;
  readonly resources: ClusterResources = { connections: 0, pending: 0, requests: 0, retries: 0 };
  private readonly codeCounters = new Map<number, { code: Counter; klass: Counter }>();

  constructor(
    readonly config: Cluster,
    private readonly store: StatsStore,
  ) {
    this.stats = clusterStats(store, config.name);
  }

  get name(): string {
    return this.config.name;
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

  constructor(
    configs: readonly Cluster[],
    private readonly store: StatsStore,
  ) {
    for (const config of configs) {
      this.clusters.set(config.name, new ClusterInfo(config, store));
      if (config.lb_policy === 'RING_HASH' || config.lb_policy === 'MAGLEV') {
        this.warnings.push(`cluster '${config.name}': lb_policy ${config.lb_policy} is not implemented yet; using ROUND_ROBIN`);
      }
    }
    this.store.gauge('cluster_manager.active_clusters').set(configs.length);
    this.store.counter('cluster_manager.cluster_added').inc(configs.length);
  }

  get(name: string): ClusterInfo | undefined {
    return this.clusters.get(name);
  }

  /** Builds host sets; resolves STRICT_DNS / LOGICAL_DNS names through the transport. */
  async initialize(transport: Transport): Promise<void> {
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
      info.hosts = hosts;
      info.stats.membership_total.set(hosts.length);
      info.stats.membership_healthy.set(hosts.filter((h) => h.healthy).length);
    }
  }
}
