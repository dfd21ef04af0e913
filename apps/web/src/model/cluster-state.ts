import type { TopologyCluster } from '@proxyscope/protocol';
import type { ClusterFold, HostDetail } from './host-state';

/**
 * A cluster at the cursor: how much of each circuit breaker is in use, whether the host
 * set is in panic, and every host's health. Computed from a ClusterFold (host-state.ts) and
 * the topology's cluster entry.
 */

export interface CircuitBreakerUse {
  /** max_connections, max_pending_requests, max_requests, max_retries */
  name: string;
  used: number;
  /** null: unknown (a trace from before the topology listed limits), or a retry budget */
  limit: number | null;
  /** what `used` counts, in words */
  counts: string;
}

export interface ClusterDetail {
  cluster: string;
  type?: string;
  lbPolicy?: string;
  breakers: CircuitBreakerUse[];
  retryBudget?: { budgetPercent: number; minRetryConcurrency: number };
  panic: {
    /** healthy_panic_threshold, percent; undefined when the trace does not say */
    threshold?: number;
    healthy: number;
    total: number;
    healthyPercent: number;
    /** LoadBalancerBase::isHostSetInPanic: healthy% strictly below the threshold */
    inPanic: boolean;
    /** picks the balancer made in panic mode, so far */
    panicPicks: number;
    lastPick?: { t: number; host: string; reason: string };
    noHost: number;
  };
  hosts: HostDetail[];
  /** overflows of every pool in the cluster */
  overflows: { pending: number; connections: number };
}

export function clusterDetail(fold: ClusterFold, config: TopologyCluster | undefined = fold.config): ClusterDetail {
  // The cluster's hosts now: the latest DNS answer's, else the topology's, else any seen; removed ones are not members.
  const members = fold.counts.dnsHosts ?? (config?.hosts.length ? config.hosts : [...fold.hosts.keys()]);
  const hosts = [...new Set([...members, ...fold.hosts.keys()])]
    .map((h) => fold.hostAt(h))
    .filter((h): h is HostDetail => h !== undefined);
  const inSet = hosts.filter((h) => !h.removed && members.includes(h.host));
  let connections = 0;
  let pending = 0;
  let busy = 0;
  let pendingOverflows = 0;
  let connectionOverflows = 0;
  for (const h of hosts) {
    for (const p of h.pools) {
      connections += p.connecting.length + p.ready.length + p.busy.length + p.draining.length;
      pending += p.pending.length;
      busy += p.busy.length;
      pendingOverflows += p.pendingOverflows;
      connectionOverflows += p.connectionOverflows;
    }
  }
  const cb = config?.circuitBreakers;
  const breakers: CircuitBreakerUse[] = [
    { name: 'max_connections', used: connections, limit: cb?.maxConnections ?? null, counts: 'upstream connections open or opening, every worker' },
    { name: 'max_pending_requests', used: pending, limit: cb?.maxPendingRequests ?? null, counts: 'requests waiting in a pool for a connection' },
    { name: 'max_requests', used: busy, limit: cb?.maxRequests ?? null, counts: 'requests on a connection (HTTP/1: busy connections)' },
    { name: 'max_retries', used: fold.counts.retries.size, limit: cb?.maxRetries ?? null, counts: 'retries armed or in flight' },
  ];
  const healthy = inSet.filter((h) => h.healthy).length;
  const total = inSet.length;
  const healthyPercent = total > 0 ? (100 * healthy) / total : 100;
  const threshold = config?.panicThreshold;
  return {
    cluster: fold.cluster,
    type: config?.type,
    lbPolicy: config?.lbPolicy,
    breakers,
    retryBudget: cb?.retryBudget,
    panic: {
      threshold,
      healthy,
      total,
      healthyPercent,
      inPanic: threshold !== undefined && total > 0 && healthyPercent < threshold,
      panicPicks: fold.counts.panicPicks,
      lastPick: fold.counts.lastPick,
      noHost: fold.counts.noHost,
    },
    hosts,
    overflows: { pending: pendingOverflows, connections: connectionOverflows },
  };
}
