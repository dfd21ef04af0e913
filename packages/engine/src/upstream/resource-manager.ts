import type { CircuitBreakerThresholds, Cluster } from '../config/types';
import type { Gauge, StatsStore } from '../stats/stats';
import { EMPTY_RUNTIME, type RuntimeSnapshot } from '../runtime/runtime';

/** Upstream::ResourcePriority: a route's RoutingPriority, as the stats name it. */
export type ResourcePriority = 'default' | 'high';

/** Envoy's limits for a priority with no thresholds entry. */
export const DEFAULT_THRESHOLDS: CircuitBreakerThresholds = { max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3 };

/**
 * One circuit-breaker count of one cluster and priority, shared by every worker. Each
 * limit keeps its `*_open` gauge (1 while the limit is reached) and, with
 * `track_remaining`, its `remaining_*` gauge up to date.
 */
export class ResourceLimit {
  private current = 0;

  constructor(
    private readonly limit: () => number,
    private readonly open: Gauge,
    private readonly remaining: Gauge | undefined,
  ) {
    this.publish();
  }

  get count(): number {
    return this.current;
  }

  get max(): number {
    return this.limit();
  }

  /** ResourceLimit::canCreate */
  canCreate(): boolean {
    return this.current < this.limit();
  }

  inc(): void {
    this.current++;
    this.publish();
  }

  dec(): void {
    this.current--;
    this.publish();
  }

  /** Re-publish the gauges after the limit itself moved (retry budgets follow load). */
  publish(): void {
    const max = this.limit();
    this.open.set(this.current >= max ? 1 : 0);
    this.remaining?.set(Math.max(0, max - this.current));
  }
}

/**
 * Upstream::ResourceManagerImpl: the counts of one cluster at one priority. A cluster has
 * one per priority (ClusterInfoImpl::ResourceManagers), so HIGH traffic is not stopped by
 * DEFAULT traffic filling its limits, and the other way round.
 */
export class ResourceManager {
  readonly connections: ResourceLimit;
  readonly pending: ResourceLimit;
  readonly requests: ResourceLimit;
  readonly retries: ResourceLimit;
  /** the configured limits this manager enforces */
  readonly thresholds: CircuitBreakerThresholds;

  constructor(
    config: Cluster,
    store: StatsStore,
    readonly priority: ResourcePriority = 'default',
    runtime: RuntimeSnapshot = EMPTY_RUNTIME,
  ) {
    const cb = priority === 'high' ? (config.circuit_breakers_high ?? DEFAULT_THRESHOLDS) : config.circuit_breakers;
    this.thresholds = cb;
    const p = `cluster.${config.name}.circuit_breakers.${priority}.`;
    // ResourceImpl::max: getInteger("circuit_breakers.<cluster>.<priority>.<limit>", the configured limit).
    const key = `circuit_breakers.${config.name}.${priority}.`;
    // The key is built once: the limit is read on every request.
    const max = (name: string, configured: number) => {
      const runtimeKey = key + name;
      return () => runtime.getInteger(runtimeKey, configured);
    };
    const remaining = (name: string): Gauge | undefined => (cb.track_remaining ? store.gauge(p + name) : undefined);
    this.connections = new ResourceLimit(max('max_connections', cb.max_connections), store.gauge(p + 'cx_open'), remaining('remaining_cx'));
    this.pending = new ResourceLimit(max('max_pending_requests', cb.max_pending_requests), store.gauge(p + 'rq_pending_open'), remaining('remaining_pending'));
    this.requests = new ResourceLimit(max('max_requests', cb.max_requests), store.gauge(p + 'rq_open'), remaining('remaining_rq'));
    const budget = cb.retry_budget;
    // A retry budget scales with load: a share of the requests active or pending now,
    // never below min_retry_concurrency (RetryBudgetImpl::max, its two values from
    // `…retry_budget.budget_percent` and `…retry_budget.min_retry_concurrency` when set).
    const retryLimit = budget
      ? () =>
          Math.max(
            runtime.getInteger(key + 'retry_budget.min_retry_concurrency', budget.min_retry_concurrency),
            Math.floor((runtime.getDouble(key + 'retry_budget.budget_percent', budget.budget_percent) / 100) * (this.requests.count + this.pending.count)),
          )
      : max('max_retries', cb.max_retries);
    this.retries = new ResourceLimit(retryLimit, store.gauge(p + 'rq_retry_open'), remaining('remaining_retries'));
  }
}
