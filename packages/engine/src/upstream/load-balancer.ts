import type { Cluster } from '../config/types';
import type { Random } from '../seams/random';
import type { Host } from './host';

/**
 * Load balancers: plain functions of the host set and per-worker state, no lifecycle.
 * Each worker builds its own, so workers start at different hosts (Envoy seeds each
 * round-robin index randomly for the same reason).
 */
export interface HostChoice {
  host: Host | undefined;
  reason: string;
}

export interface LoadBalancer {
  readonly policy: Cluster['lb_policy'];
  chooseHost(): HostChoice;
}

/**
 * Hosts a balancer may pick: the healthy ones, or all of them when fewer than the panic
 * threshold (50%) are healthy (Envoy's panic mode).
 */
function availableHosts(hosts: readonly Host[]): { hosts: readonly Host[]; panic: boolean } {
  if (hosts.length === 0) return { hosts, panic: false };
  let healthy = 0;
  for (const h of hosts) if (h.healthy) healthy++;
  if (healthy === hosts.length) return { hosts, panic: false };
  if ((100 * healthy) / hosts.length < 50) return { hosts, panic: true };
  return { hosts: hosts.filter((h) => h.healthy), panic: false };
}

/** ROUND_ROBIN: index walk when weights are equal, earliest-deadline-first when not. */
export class RoundRobinLoadBalancer implements LoadBalancer {
  readonly policy = 'ROUND_ROBIN' as const;
  private index: number;
  private readonly deadlines = new Map<Host, number>();
  private now = 0;

  constructor(
    private readonly hosts: readonly Host[],
    random: Random,
  ) {
    this.index = random.u32();
  }

  chooseHost(): HostChoice {
    const { hosts, panic } = availableHosts(this.hosts);
    if (hosts.length === 0) return { host: undefined, reason: 'no hosts in cluster' };
    const suffix = panic ? ' (panic mode: fewer than 50% healthy, picking among all)' : '';
    const weighted = hosts.some((h) => h.weight !== hosts[0]!.weight);
    if (!weighted) {
      const host = hosts[this.index++ % hosts.length]!;
      return { host, reason: `round robin ${((this.index - 1) % hosts.length) + 1} of ${hosts.length}${suffix}` };
    }
    return { host: this.pickEdf(hosts), reason: `weighted round robin (EDF) over ${hosts.length} hosts${suffix}` };
  }

  // Earliest deadline first: each pick moves the host's deadline 1/weight ahead.
  private pickEdf(hosts: readonly Host[]): Host {
    let best: Host | undefined;
    let bestDeadline = Infinity;
    for (const h of hosts) {
      let d = this.deadlines.get(h);
      if (d === undefined) {
        d = this.now + 1 / h.weight;
        this.deadlines.set(h, d);
      }
      if (d < bestDeadline) {
        bestDeadline = d;
        best = h;
      }
    }
    this.now = bestDeadline;
    this.deadlines.set(best!, bestDeadline + 1 / best!.weight);
    return best!;
  }
}

/** RANDOM: uniform over available hosts. */
export class RandomLoadBalancer implements LoadBalancer {
  readonly policy = 'RANDOM' as const;
  constructor(
    private readonly hosts: readonly Host[],
    private readonly random: Random,
  ) {}

  chooseHost(): HostChoice {
    const { hosts } = availableHosts(this.hosts);
    if (hosts.length === 0) return { host: undefined, reason: 'no hosts in cluster' };
    return { host: hosts[this.random.int(hosts.length)], reason: `random of ${hosts.length}` };
  }
}

/** LEAST_REQUEST with equal weights: best of `choice_count` (2) random samples. */
export class LeastRequestLoadBalancer implements LoadBalancer {
  readonly policy = 'LEAST_REQUEST' as const;
  constructor(
    private readonly hosts: readonly Host[],
    private readonly random: Random,
    private readonly choiceCount = 2,
  ) {}

  chooseHost(): HostChoice {
    const { hosts } = availableHosts(this.hosts);
    if (hosts.length === 0) return { host: undefined, reason: 'no hosts in cluster' };
    let best = hosts[this.random.int(hosts.length)]!;
    for (let i = 1; i < this.choiceCount; i++) {
      const candidate = hosts[this.random.int(hosts.length)]!;
      if (candidate.stats.rq_active < best.stats.rq_active) best = candidate;
    }
    return { host: best, reason: `least request: fewest active of ${this.choiceCount} samples (${best.stats.rq_active} active)` };
  }
}

export function createLoadBalancer(cluster: Cluster, hosts: readonly Host[], random: Random): LoadBalancer {
  switch (cluster.lb_policy) {
    case 'RANDOM':
      return new RandomLoadBalancer(hosts, random);
    case 'LEAST_REQUEST':
      return new LeastRequestLoadBalancer(hosts, random);
    default:
      // RING_HASH and MAGLEV fall back with a load-time warning (see ClusterManager).
      return new RoundRobinLoadBalancer(hosts, random);
  }
}
