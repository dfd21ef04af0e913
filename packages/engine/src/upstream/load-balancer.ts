import type { Cluster } from '../config/types';
import type { Random } from '../seams/random';
import { EMPTY_RUNTIME, type RuntimeSnapshot } from '../runtime/runtime';
import type { HostHealthState } from './host-health.machine';
import type { Host } from './host';
import type { HostSet } from './host-set';
import { hashHex, xxHash64 } from './xxhash64';

/**
 * Load balancers: plain functions of the cluster's host set and per-worker state, no
 * lifecycle. Each worker builds its own, so workers start at different hosts (Envoy seeds
 * each round-robin index randomly for the same reason). Every balancer picks from
 * `HostSet.pick()`: the healthy hosts, or all of them in panic mode.
 */
export interface HostChoice {
  host: Host | undefined;
  reason: string;
}

/**
 * Upstream::LoadBalancerContext: what a balancer may ask about the request. The router
 * implements it; only the hash balancers call it, so round robin never hashes anything.
 */
export interface LoadBalancerContext {
  /** the request's 64-bit hash from the route's hash_policy, or undefined when none applies */
  computeHashKey(): bigint | undefined;
}

export interface LoadBalancer {
  readonly policy: Cluster['lb_policy'];
  chooseHost(context?: LoadBalancerContext): HostChoice;
}

const none = (set: HostSet): HostChoice => ({ host: undefined, reason: set.emptyReason() });

/**
 * Earliest deadline first over a host list: each pick moves the host's deadline
 * 1/weight ahead (EdfScheduler). `weightOf` is asked when a host is (re)scheduled, so
 * least request can use a weight that depends on its active requests.
 */
class Edf {
  private readonly deadlines = new Map<Host, number>();
  private now = 0;

  pick(hosts: readonly Host[], weightOf: (h: Host) => number): Host {
    let best: Host | undefined;
    let bestDeadline = Infinity;
    for (const h of hosts) {
      let d = this.deadlines.get(h);
      if (d === undefined) {
        d = this.now + 1 / weightOf(h);
        this.deadlines.set(h, d);
      }
      if (d < bestDeadline) {
        bestDeadline = d;
        best = h;
      }
    }
    this.now = bestDeadline;
    this.deadlines.set(best!, bestDeadline + 1 / weightOf(best!));
    return best!;
  }
}

const staticWeight = (h: Host): number => h.weight;

/** ROUND_ROBIN: index walk when weights are equal, earliest-deadline-first when not. */
export class RoundRobinLoadBalancer implements LoadBalancer {
  readonly policy = 'ROUND_ROBIN' as const;
  private index: number;
  private readonly edf = new Edf();

  constructor(
    private readonly set: HostSet,
    random: Random,
  ) {
    this.index = random.u32();
  }

  chooseHost(): HostChoice {
    const set = this.set;
    const hosts = set.pick();
    if (hosts.length === 0) return none(set);
    if (set.availableEqualWeights) {
      const position = this.index++ % hosts.length;
      return { host: hosts[position], reason: `round robin ${position + 1} of ${hosts.length}${set.panicSuffix()}` };
    }
    return { host: this.edf.pick(hosts, staticWeight), reason: `weighted round robin (EDF) over ${hosts.length} hosts${set.panicSuffix()}` };
  }
}

/** RANDOM: uniform over available hosts. */
export class RandomLoadBalancer implements LoadBalancer {
  readonly policy = 'RANDOM' as const;
  constructor(
    private readonly set: HostSet,
    private readonly random: Random,
  ) {}

  chooseHost(): HostChoice {
    const hosts = this.set.pick();
    if (hosts.length === 0) return none(this.set);
    return { host: hosts[this.random.int(hosts.length)], reason: `random of ${hosts.length}${this.set.panicSuffix()}` };
  }
}

/**
 * LEAST_REQUEST. Equal weights: the best of `choice_count` uniform samples (with
 * replacement), fewest active requests wins, ties keep the earlier sample. Unequal
 * weights: EDF with the dynamic weight `weight / (active + 1)^active_request_bias`.
 */
export class LeastRequestLoadBalancer implements LoadBalancer {
  readonly policy = 'LEAST_REQUEST' as const;
  private readonly edf = new Edf();
  private readonly dynamicWeight: (h: Host) => number;

  constructor(
    private readonly set: HostSet,
    private readonly random: Random,
    private readonly choiceCount = 2,
    activeRequestBias = 1,
  ) {
    this.dynamicWeight =
      activeRequestBias === 1
        ? (h) => h.weight / (h.stats.rq_active + 1)
        : (h) => h.weight / Math.pow(h.stats.rq_active + 1, activeRequestBias);
  }

  chooseHost(): HostChoice {
    const set = this.set;
    const hosts = set.pick();
    if (hosts.length === 0) return none(set);
    if (!set.availableEqualWeights) {
      const host = this.edf.pick(hosts, this.dynamicWeight);
      return { host, reason: `weighted least request (EDF, weight / (active + 1)^bias): ${host.stats.rq_active} active${set.panicSuffix()}` };
    }
    let best = hosts[this.random.int(hosts.length)]!;
    for (let i = 1; i < this.choiceCount; i++) {
      const candidate = hosts[this.random.int(hosts.length)]!;
      if (candidate.stats.rq_active < best.stats.rq_active) best = candidate;
    }
    return { host: best, reason: `least request: fewest active of ${this.choiceCount} samples (${best.stats.rq_active} active)${set.panicSuffix()}` };
  }
}

/** A 64-bit random value, for hash balancers asked to pick without a request hash. */
function randomHash(random: Random): bigint {
  return (BigInt(random.u32()) << 32n) | BigInt(random.u32());
}

/**
 * The hash ring (RingHashLoadBalancer::Ring): every host hashed onto it `scale * weight`
 * times as `xxHash64("<ip:port>_<i>")`, sorted. A request goes to the first entry
 * clockwise from its hash.
 */
export class HashRing {
  readonly hashes: BigUint64Array;
  readonly hosts: Host[];

  constructor(hosts: readonly Host[], minimumRingSize: number, maximumRingSize: number) {
    let total = 0;
    for (const h of hosts) total += h.weight;
    let minWeight = Infinity;
    for (const h of hosts) minWeight = Math.min(minWeight, h.weight / total);
    // Scale so that the lightest host gets a whole number of entries, capped at the maximum.
    const scale = Math.min(Math.ceil(minWeight * minimumRingSize) / minWeight, maximumRingSize);
    const entries: Array<{ hash: bigint; host: Host }> = [];
    let current = 0;
    let target = 0;
    for (const host of hosts) {
      target += scale * (host.weight / total);
      for (let i = 0; current < target; i++, current++) entries.push({ hash: xxHash64(`${host.key}_${i}`), host });
    }
    entries.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
    this.hashes = BigUint64Array.from(entries, (e) => e.hash);
    this.hosts = entries.map((e) => e.host);
  }

  get size(): number {
    return this.hashes.length;
  }

  /** Index of the first entry whose hash is >= `hash`, wrapping to 0 past the end. */
  lookup(hash: bigint): number {
    const hashes = this.hashes;
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === hashes.length ? 0 : lo;
  }
}

/**
 * RING_HASH: the ring is rebuilt (lazily, per worker) whenever the host set changes, over
 * the hosts the set makes available (healthy ones, or all in panic), as Envoy's
 * thread-aware balancer does. No request hash: a random point on the ring.
 */
export class RingHashLoadBalancer implements LoadBalancer {
  readonly policy = 'RING_HASH' as const;
  private ring: HashRing | undefined;
  private builtFor = -1;

  constructor(
    private readonly set: HostSet,
    private readonly random: Random,
    private readonly minimumRingSize = 1024,
    private readonly maximumRingSize = 8_388_608,
  ) {}

  /** The current ring (built on first use). */
  currentRing(): HashRing {
    if (!this.ring || this.builtFor !== this.set.version) {
      this.ring = new HashRing(this.set.available, this.minimumRingSize, this.maximumRingSize);
      this.builtFor = this.set.version;
    }
    return this.ring;
  }

  chooseHost(context?: LoadBalancerContext): HostChoice {
    const set = this.set;
    const hosts = set.pick();
    if (hosts.length === 0) return none(set);
    const ring = this.currentRing();
    const key = context?.computeHashKey();
    const hash = key ?? randomHash(this.random);
    const index = ring.lookup(hash);
    const how = key === undefined ? 'no hash from hash_policy, random point' : `hash ${hashHex(hash)}`;
    return { host: ring.hosts[index], reason: `ring hash: ${how} -> entry ${index} of ${ring.size}${set.panicSuffix()}` };
  }
}

/**
 * The Maglev lookup table (MaglevTable): each host walks its own permutation of the
 * table (offset = xxHash64(key) % M, skip = xxHash64(key, seed 1) % (M - 1) + 1) and
 * claims the next free slot, heavier hosts more often, until every slot is taken.
 */
export class MaglevTable {
  /** host index per slot */
  readonly table: Int32Array;
  private readonly sizeBig: bigint;

  constructor(
    readonly hosts: readonly Host[],
    readonly size: number,
  ) {
    this.sizeBig = BigInt(size);
    this.table = new Int32Array(size).fill(-1);
    if (hosts.length === 0) return;
    let total = 0;
    for (const h of hosts) total += h.weight;
    let maxWeight = 0;
    const entries = hosts.map((h) => {
      const weight = h.weight / total;
      maxWeight = Math.max(maxWeight, weight);
      return {
        offset: Number(xxHash64(h.key) % this.sizeBig),
        skip: Number(xxHash64(h.key, 1n) % BigInt(size - 1)) + 1,
        weight,
        target: 0,
        next: 0,
      };
    });
    let filled = 0;
    for (let iteration = 1; filled < size; iteration++) {
      for (let i = 0; i < entries.length && filled < size; i++) {
        const e = entries[i]!;
        // A host with the largest weight takes a slot every iteration, one with a third
        // of it every third iteration, and so on.
        if (iteration * e.weight < e.target) continue;
        e.target += maxWeight;
        let slot = (e.offset + e.skip * e.next) % size;
        while (this.table[slot] !== -1) {
          e.next++;
          slot = (e.offset + e.skip * e.next) % size;
        }
        this.table[slot] = i;
        e.next++;
        filled++;
      }
    }
  }

  slotOf(hash: bigint): number {
    return Number(hash % this.sizeBig);
  }

  hostAt(slot: number): Host {
    return this.hosts[this.table[slot]!]!;
  }
}

/** MAGLEV: `table[hash % table_size]`; the table is rebuilt when the host set changes. */
export class MaglevLoadBalancer implements LoadBalancer {
  readonly policy = 'MAGLEV' as const;
  private table: MaglevTable | undefined;
  private builtFor = -1;

  constructor(
    private readonly set: HostSet,
    private readonly random: Random,
    private readonly tableSize = 65_537,
  ) {}

  currentTable(): MaglevTable {
    if (!this.table || this.builtFor !== this.set.version) {
      this.table = new MaglevTable(this.set.available, this.tableSize);
      this.builtFor = this.set.version;
    }
    return this.table;
  }

  chooseHost(context?: LoadBalancerContext): HostChoice {
    const set = this.set;
    const hosts = set.pick();
    if (hosts.length === 0) return none(set);
    const table = this.currentTable();
    const key = context?.computeHashKey();
    const hash = key ?? randomHash(this.random);
    const slot = table.slotOf(hash);
    const how = key === undefined ? 'no hash from hash_policy, random slot' : `hash ${hashHex(hash)}`;
    return { host: table.hostAt(slot), reason: `maglev: ${how} -> slot ${slot} of ${table.size}${set.panicSuffix()}` };
  }
}

/**
 * LeastRequestLoadBalancer's active_request_bias_runtime_ (a Runtime::Double): getDouble(runtime_key,
 * default_value); a negative value from the runtime is refused for 1.0, as Envoy does.
 */
export function activeRequestBias(lr: Cluster['least_request_lb_config'], runtime: RuntimeSnapshot): number {
  if (!lr) return 1;
  const bias = lr.active_request_bias_runtime_key ? runtime.getDouble(lr.active_request_bias_runtime_key, lr.active_request_bias) : lr.active_request_bias;
  return bias < 0 || Number.isNaN(bias) ? 1 : bias;
}

export function createLoadBalancer(cluster: Cluster, set: HostSet, random: Random, runtime: RuntimeSnapshot = EMPTY_RUNTIME): LoadBalancer {
  switch (cluster.lb_policy) {
    case 'RANDOM':
      return new RandomLoadBalancer(set, random);
    case 'LEAST_REQUEST': {
      const lr = cluster.least_request_lb_config;
      return new LeastRequestLoadBalancer(set, random, lr?.choice_count ?? 2, activeRequestBias(lr, runtime));
    }
    case 'RING_HASH': {
      const rh = cluster.ring_hash_lb_config;
      return new RingHashLoadBalancer(set, random, rh?.minimum_ring_size ?? 1024, rh?.maximum_ring_size ?? 8_388_608);
    }
    case 'MAGLEV':
      return new MaglevLoadBalancer(set, random, cluster.maglev_lb_config?.table_size ?? 65_537);
    default:
      return new RoundRobinLoadBalancer(set, random);
  }
}

/** A host's health as `/clusters` and the trace name it: what keeps a balancer from picking it. */
const HEALTH_OF_STATE: Record<HostHealthState, string> = {
  healthy: 'healthy',
  pending: 'pending_active_hc',
  unhealthy: 'failed_active_hc',
  ejected: 'ejected',
  unhealthy_ejected: 'failed_active_hc+ejected',
};

/** Hosts listed in one `lb.host_selected`; a 1000-host cluster is summarised by its counts. */
export const MAX_TRACED_HOSTS = 32;

export interface TracedHost {
  host: string;
  hostname?: string;
  health: string;
  /** the balancer could pick it: healthy, or any host in panic mode */
  available: boolean;
  weight?: number;
}

/**
 * What `lb.host_selected` reports beside the pick: the policy, the host set it picked from
 * with each host's health, panic mode, and the hosts the previous_hosts predicate refused.
 * Only built while traced (the caller checks `tracer.enabled`).
 */
export function traceHostSet(policy: LoadBalancer['policy'], set: HostSet, picked: Host, rejected: readonly Host[]): Record<string, unknown> {
  const available = new Set(set.available);
  const weighted = !set.hosts.every((h) => h.weight === set.hosts[0]!.weight);
  const hosts: TracedHost[] = [];
  for (const h of set.hosts) {
    if (hosts.length === MAX_TRACED_HOSTS) break;
    const entry: TracedHost = { host: h.key, health: HEALTH_OF_STATE[h.healthState], available: available.has(h) };
    if (h.hostname) entry.hostname = h.hostname;
    if (weighted) entry.weight = h.weight;
    hosts.push(entry);
  }
  const data: Record<string, unknown> = {
    policy,
    hostname: picked.hostname ?? null,
    hosts,
    total: set.hosts.length,
    healthy: set.healthyHosts.length,
    panic: set.panic,
  };
  if (set.hosts.length > hosts.length) data.more = set.hosts.length - hosts.length;
  if (set.panic) data.panicThreshold = set.panicThreshold;
  if (rejected.length > 0) data.previousHostsRejected = rejected.map((h) => h.key);
  return data;
}
