import type { EngineContext } from './seams/actors';
import type { Random } from './seams/random';
import type { Transport } from './seams/transport';
import type { ClusterInfo } from './upstream/cluster-manager';
import { Http1ConnPool } from './upstream/conn-pool';
import type { Host } from './upstream/host';
import { createLoadBalancer, type LoadBalancer } from './upstream/load-balancer';

/**
 * A logical worker (Envoy's WorkerImpl thread): owns its own connection pools and
 * load-balancer state. A downstream connection stays on one worker for its whole life.
 */
export class Worker {
  private readonly pools = new Map<Host, Http1ConnPool>();
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
      lb = createLoadBalancer(cluster.config, cluster.hostSet, this.random);
      this.balancers.set(cluster, lb);
    }
    return lb;
  }

  /** ClusterEntry::httpConnPoolImpl: the pool for (this worker, host), made on first use. */
  pool(cluster: ClusterInfo, host: Host): Http1ConnPool {
    let pool = this.pools.get(host);
    if (!pool) {
      pool = new Http1ConnPool(this.engine, this.transport, cluster, host, this.id);
      this.pools.set(host, pool);
    }
    return pool;
  }

  /**
   * ClusterManagerImpl::ThreadLocalClusterManagerImpl::onHostHealthFailure: the host failed
   * its health check or was ejected; close its idle connections and let busy ones finish.
   */
  drainHost(host: Host): void {
    this.pools.get(host)?.drainConnections();
  }

  allPools(): Http1ConnPool[] {
    return [...this.pools.values()];
  }

  stop(): void {
    for (const pool of this.pools.values()) pool.stop();
  }
}
