import type { EngineContext } from './seams/actors';
import type { Random } from './seams/random';
import type { Transport } from './seams/transport';
import type { ClusterInfo } from './upstream/cluster-manager';
import { Http1ConnPool } from './upstream/conn-pool';
import type { Host } from './upstream/host';
import type { ResourcePriority } from './upstream/resource-manager';
import { createLoadBalancer, type LoadBalancer } from './upstream/load-balancer';

/**
 * A logical worker (Envoy's WorkerImpl thread): owns its own connection pools and
 * load-balancer state. A downstream connection stays on one worker for its whole life.
 */
export class Worker {
  private readonly pools = new Map<Host, Http1ConnPool>();
  /** pools for HIGH priority requests (Envoy keys its pools by priority too) */
  private readonly highPools = new Map<Host, Http1ConnPool>();
  private readonly balancers = new Map<ClusterInfo, LoadBalancer>();
  activeConnections = 0;

  constructor(
    readonly id: number,
    readonly engine: EngineContext,
    private readonly transport: Transport,
    private readonly random: Random,
  ) {}

  /** ThreadLocalCluster's load balancer for this worker. */
  loadBalancer(cluster: ClusterInfo): LoadBalancer {
    let lb = this.balancers.get(cluster);
    if (!lb) {
      lb = createLoadBalancer(cluster.config, cluster.hostSet, this.random, this.engine.runtime);
      this.balancers.set(cluster, lb);
    }
    return lb;
  }

  /** ClusterEntry::httpConnPoolImpl: the pool for (this worker, host, priority), made on first use. */
  pool(cluster: ClusterInfo, host: Host, priority: ResourcePriority = 'default'): Http1ConnPool {
    const pools = priority === 'high' ? this.highPools : this.pools;
    let pool = pools.get(host);
    if (!pool) {
      pool = new Http1ConnPool(this.engine, this.transport, cluster, host, this.id, priority);
      pools.set(host, pool);
    }
    return pool;
  }

  /**
   * ClusterManagerImpl::ThreadLocalClusterManagerImpl::onHostHealthFailure: the host failed
   * its health check or was ejected; close its idle connections and let busy ones finish.
   */
  drainHost(host: Host): void {
    this.pools.get(host)?.drainConnections();
    this.highPools.get(host)?.drainConnections();
  }

  /**
   * The host left its cluster (a DNS answer no longer has it): its pool drains as on a
   * health failure and is dropped, so a host that comes back later gets a new pool
   * (ClusterManagerImpl::ThreadLocalClusterManagerImpl::drainOrCloseConnPools).
   */
  removeHost(host: Host): void {
    const high = this.highPools.get(host);
    if (high) {
      this.highPools.delete(host);
      high.drainConnections('host removed');
    }
    const pool = this.pools.get(host);
    if (!pool) return;
    this.pools.delete(host);
    pool.drainConnections('host removed');
  }

  allPools(): Http1ConnPool[] {
    return [...this.pools.values(), ...this.highPools.values()];
  }

  stop(): void {
    for (const pool of this.allPools()) pool.stop();
  }
}
