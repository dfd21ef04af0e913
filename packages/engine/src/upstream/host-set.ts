import type { Host } from './host';

/** Envoy's default `common_lb_config.healthy_panic_threshold`, in percent. */
export const DEFAULT_PANIC_THRESHOLD = 50;

/**
 * HostSetImpl for the one priority ProxyScope has, with LoadBalancerBase's panic decision
 * made once per change instead of once per request. Health changes call `refresh()`; a
 * load balancer reads `pick()` and never allocates.
 */
export class HostSet {
  hosts: readonly Host[] = [];
  healthyHosts: readonly Host[] = [];
  /** fewer than `panicThreshold`% of the hosts are healthy: balancers pick among all of them */
  panic = false;
  /** what balancers pick from now: the healthy hosts, or every host in panic mode */
  available: readonly Host[] = [];
  /** every available host has the same weight (round robin indexes, least request samples) */
  availableEqualWeights = true;
  /** changes with every membership or health change, so balancers that precompute (ring, table) rebuild */
  version = 0;

  constructor(
    /** percent; 0 disables panic mode */
    readonly panicThreshold: number,
    private readonly panicCounter: { inc(): void },
  ) {}

  setHosts(hosts: readonly Host[]): void {
    this.hosts = hosts;
    this.refresh();
  }

  /** Recompute after a host's health changed (Envoy rebuilds the host set the same way). */
  refresh(): void {
    const hosts = this.hosts;
    let healthy = 0;
    for (const h of hosts) if (h.healthy) healthy++;
    this.healthyHosts = healthy === hosts.length ? hosts : hosts.filter((h) => h.healthy);
    // isHostSetInPanic: strictly below the threshold; an empty set is never "in panic" here
    // because there is nothing to pick either way.
    this.panic = hosts.length > 0 && (100 * healthy) / hosts.length < this.panicThreshold;
    const available = this.panic ? hosts : this.healthyHosts;
    this.available = available;
    this.availableEqualWeights = available.every((h) => h.weight === available[0]!.weight);
    this.version++;
  }

  /** The hosts one request may go to; counts `lb_healthy_panic` in panic mode (LoadBalancerBase::chooseHostSet). */
  pick(): readonly Host[] {
    if (this.panic) this.panicCounter.inc();
    return this.available;
  }

  /** Why nothing could be picked, for `lb.no_host`. */
  emptyReason(): string {
    if (this.hosts.length === 0) return 'no hosts in cluster';
    return this.panicThreshold === 0
      ? `no healthy hosts (0 of ${this.hosts.length}; healthy_panic_threshold 0 disables panic mode)`
      : `no healthy hosts (0 of ${this.hosts.length})`;
  }

  /** ` (panic mode: …)` for a choice's reason, or ''. */
  panicSuffix(): string {
    return this.panic ? ` (panic mode: ${this.healthyHosts.length} of ${this.hosts.length} healthy is below ${this.panicThreshold}%, picking among all)` : '';
  }
}
