import type { Cluster } from '../config/types';
import type { Gauge, StatsStore } from '../stats/stats';

/**
 * Upstream::ResourceManagerImpl: the circuit-breaker counts of one cluster (DEFAULT
 * priority), shared by every worker. Each limit keeps its `*_open` gauge (1 while the
 * limit is reached) and, with `track_remaining`, its `remaining_*` gauge up to date.
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

export class ResourceManager {
  readonly connections: ResourceLimit;
  readonly pending: ResourceLimit;
  readonly requests: ResourceLimit;
  readonly retries: ResourceLimit;

  constructor(config: Cluster, store: StatsStore) {
    const cb = config.circuit_breakers;
    const p = `cluster.${config.name}.circuit_breakers.default.`;
    const remaining = (name: string): Gauge | undefined => (cb.track_remaining ? store.gauge(p + name) : undefined);
    this.connections = new ResourceLimit(() => cb.max_connections, store.gauge(p + 'cx_open'), remaining('remaining_cx'));
    this.pending = new ResourceLimit(() => cb.max_pending_requests, store.gauge(p + 'rq_pending_open'), remaining('remaining_pending'));
    this.requests = new ResourceLimit(() => cb.max_requests, store.gauge(p + 'rq_open'), remaining('remaining_rq'));
    const budget = cb.retry_budget;
    // A retry budget scales with load: a share of the requests active or pending now,
    // never below min_retry_concurrency (RetryBudgetImpl::max).
    const retryLimit = budget
      ? () => Math.max(budget.min_retry_concurrency, Math.floor((budget.budget_percent / 100) * (this.requests.count + this.pending.count)))
      : () => cb.max_retries;
    this.retries = new ResourceLimit(retryLimit, store.gauge(p + 'rq_retry_open'), remaining('remaining_retries'));
  }
}
