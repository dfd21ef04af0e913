import { describe, expect, it } from 'vitest';
import { seededRandom } from '../src/seams/random';
import { Host } from '../src/upstream/host';
import { HostSet } from '../src/upstream/host-set';
import {
  HashRing,
  LeastRequestLoadBalancer,
  MaglevLoadBalancer,
  MaglevTable,
  RandomLoadBalancer,
  RingHashLoadBalancer,
  RoundRobinLoadBalancer,
  type LoadBalancer,
  type LoadBalancerContext,
} from '../src/upstream/load-balancer';
import { xxHash64 } from '../src/upstream/xxhash64';

/** Load balancers as plain functions of a host set: distributions over many picks with a fixed seed. */

function hosts(weights: number[]): Host[] {
  return weights.map((w, i) => new Host('c', `10.0.0.${i + 1}`, 80, w, undefined));
}

function hostSet(list: Host[], panicThreshold = 50) {
  const panics = { count: 0, inc() { this.count++; } };
  const set = new HostSet(panicThreshold, panics);
  set.setHosts(list);
  return { set, panics };
}

function markUnhealthy(set: HostSet, ...list: Host[]): void {
  for (const h of list) h.healthy = false;
  set.refresh();
}

/** picks per host key over `n` picks */
function tally(lb: LoadBalancer, n: number, context?: () => LoadBalancerContext): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const host = lb.chooseHost(context?.())?.host;
    if (!host) throw new Error('no host');
    counts.set(host.key, (counts.get(host.key) ?? 0) + 1);
  }
  return counts;
}

const keyed = (key: string): LoadBalancerContext => ({ computeHashKey: () => xxHash64(key) });

describe('ROUND_ROBIN', () => {
  it('walks equal-weight hosts in order from a random start', () => {
    const list = hosts([1, 1, 1]);
    const lb = new RoundRobinLoadBalancer(hostSet(list).set, seededRandom(7));
    const seq = Array.from({ length: 6 }, () => lb.chooseHost().host!.key);
    expect(seq.slice(3)).toEqual(seq.slice(0, 3));
    expect(new Set(seq.slice(0, 3)).size).toBe(3);
  });

  it('gives weighted hosts exactly their share (EDF)', () => {
    const counts = tally(new RoundRobinLoadBalancer(hostSet(hosts([1, 2, 3])).set, seededRandom(1)), 600);
    expect([...counts.values()].sort((a, b) => a - b)).toEqual([100, 200, 300]);
  });

  it('skips unhealthy hosts while enough are healthy', () => {
    const list = hosts([1, 1, 1, 1]);
    const { set, panics } = hostSet(list);
    markUnhealthy(set, list[0]!);
    const counts = tally(new RoundRobinLoadBalancer(set, seededRandom(1)), 300);
    expect(counts.has(list[0]!.key)).toBe(false);
    expect([...counts.values()]).toEqual([100, 100, 100]);
    expect(panics.count).toBe(0);
  });
});

describe('panic threshold', () => {
  it('picks among all hosts, counting lb_healthy_panic, when fewer than 50% are healthy', () => {
    const list = hosts([1, 1, 1, 1]);
    const { set, panics } = hostSet(list);
    markUnhealthy(set, list[0]!, list[1]!, list[2]!);
    expect(set.panic).toBe(true);
    const lb = new RoundRobinLoadBalancer(set, seededRandom(1));
    const counts = tally(lb, 400);
    expect([...counts.values()]).toEqual([100, 100, 100, 100]);
    expect(panics.count).toBe(400);
    expect(lb.chooseHost().reason).toContain('panic mode: 1 of 4 healthy is below 50%');
  });

  it('is not in panic at exactly the threshold (strictly below only)', () => {
    const list = hosts([1, 1, 1, 1]);
    const { set } = hostSet(list);
    markUnhealthy(set, list[0]!, list[1]!);
    expect(set.panic).toBe(false);
    expect(set.available).toHaveLength(2);
  });

  it('follows a configured threshold', () => {
    const list = hosts([1, 1, 1, 1]);
    const { set } = hostSet(list, 30);
    markUnhealthy(set, list[0]!, list[1]!);
    expect(set.panic).toBe(false);
    markUnhealthy(set, list[2]!);
    expect(set.panic).toBe(true);
  });

  it('with threshold 0 never panics: all hosts unhealthy means no host', () => {
    const list = hosts([1, 1]);
    const { set, panics } = hostSet(list, 0);
    markUnhealthy(set, ...list);
    const choice = new RandomLoadBalancer(set, seededRandom(1)).chooseHost();
    expect(choice.host).toBeUndefined();
    expect(choice.reason).toBe('no healthy hosts (0 of 2; healthy_panic_threshold 0 disables panic mode)');
    expect(panics.count).toBe(0);
  });
});

describe('RANDOM', () => {
  it('spreads picks uniformly', () => {
    const counts = tally(new RandomLoadBalancer(hostSet(hosts([1, 1, 1])).set, seededRandom(42)), 6000);
    for (const n of counts.values()) expect(Math.abs(n - 2000)).toBeLessThan(200);
  });
});

describe('LEAST_REQUEST', () => {
  it('prefers the host with fewer active requests (power of two choices)', () => {
    const list = hosts([1, 1, 1]);
    list[0]!.stats.rq_active = 10;
    const counts = tally(new LeastRequestLoadBalancer(hostSet(list).set, seededRandom(3)), 3000);
    // Only when both samples are the busy host is it picked: (1/3)^2 of the time.
    expect(counts.get(list[0]!.key)! / 3000).toBeCloseTo(1 / 9, 1);
  });

  it('samples choice_count hosts', () => {
    const list = hosts([1, 1, 1]);
    list[0]!.stats.rq_active = 10;
    const counts = tally(new LeastRequestLoadBalancer(hostSet(list).set, seededRandom(3), 5), 3000);
    expect((counts.get(list[0]!.key) ?? 0) / 3000).toBeLessThan(0.02); // (1/3)^5 ≈ 0.4%
  });

  it('with unequal weights uses weight / (active + 1)^bias', () => {
    const list = hosts([1, 3]);
    const idle = tally(new LeastRequestLoadBalancer(hostSet(list).set, seededRandom(1)), 400);
    expect([idle.get(list[0]!.key), idle.get(list[1]!.key)]).toEqual([100, 300]);

    list[1]!.stats.rq_active = 5; // 3 / 6 = 0.5 against 1 / 1
    const busy = tally(new LeastRequestLoadBalancer(hostSet(list).set, seededRandom(1)), 300);
    expect([busy.get(list[0]!.key), busy.get(list[1]!.key)]).toEqual([200, 100]);

    const noBias = tally(new LeastRequestLoadBalancer(hostSet(list).set, seededRandom(1), 2, 0), 400);
    expect([noBias.get(list[0]!.key), noBias.get(list[1]!.key)]).toEqual([100, 300]);
  });
});

describe('RING_HASH', () => {
  it('sizes the ring from minimum_ring_size so the lightest host gets whole entries', () => {
    expect(new HashRing(hosts([1, 1, 1]), 1024, 8_388_608).size).toBe(1026);
    const weighted = new HashRing(hosts([1, 3]), 1024, 8_388_608);
    const perHost = new Map<string, number>();
    for (const h of weighted.hosts) perHost.set(h.key, (perHost.get(h.key) ?? 0) + 1);
    expect(weighted.size).toBe(1024);
    expect([...perHost.entries()].sort()).toEqual([
      ['10.0.0.1:80', 256],
      ['10.0.0.2:80', 768],
    ]);
    expect(new HashRing(hosts([1, 1]), 1024, 100).size).toBe(100);
  });

  it('keeps its entries sorted by hash', () => {
    const ring = new HashRing(hosts([1, 1, 1]), 1024, 8_388_608);
    for (let i = 1; i < ring.size; i++) expect(ring.hashes[i - 1]! <= ring.hashes[i]!).toBe(true);
  });

  it('sends the same key to the same host', () => {
    const lb = new RingHashLoadBalancer(hostSet(hosts([1, 1, 1, 1])).set, seededRandom(1));
    for (const key of ['alice', 'bob', 'carol']) {
      const first = lb.chooseHost(keyed(key)).host;
      for (let i = 0; i < 20; i++) expect(lb.chooseHost(keyed(key)).host).toBe(first);
    }
  });

  it('spreads keys over hosts in proportion to weight', () => {
    const list = hosts([1, 1, 2]);
    const lb = new RingHashLoadBalancer(hostSet(list).set, seededRandom(1));
    let i = 0;
    const counts = tally(lb, 8000, () => keyed(`user-${i++}`));
    expect(counts.get(list[0]!.key)! / 8000).toBeCloseTo(0.25, 1);
    expect(counts.get(list[2]!.key)! / 8000).toBeCloseTo(0.5, 1);
  });

  it('moves about 1/N of the keys when a host leaves', () => {
    const list = hosts([1, 1, 1, 1]);
    const { set } = hostSet(list);
    const lb = new RingHashLoadBalancer(set, seededRandom(1));
    const keys = Array.from({ length: 4000 }, (_, i) => `session-${i}`);
    const before = keys.map((k) => lb.chooseHost(keyed(k)).host!);
    markUnhealthy(set, list[2]!);
    const after = keys.map((k) => lb.chooseHost(keyed(k)).host!);
    const moved = keys.filter((_, i) => before[i] !== after[i]).length / keys.length;
    // The ring is rebuilt at about the same size, so each remaining host gets more entries
    // (342 instead of 256): its new entries take some keys from the other remaining hosts.
    const movedFromOthers = keys.filter((_, i) => before[i] !== after[i] && before[i] !== list[2]).length / keys.length;
    expect(moved).toBeGreaterThan(0.2);
    expect(moved).toBeLessThan(0.4);
    expect(movedFromOthers).toBeLessThan(0.15);
    expect(after.every((h) => h !== list[2])).toBe(true);
  });

  it('picks a random point when the route produced no hash', () => {
    const list = hosts([1, 1]);
    const lb = new RingHashLoadBalancer(hostSet(list).set, seededRandom(1));
    const counts = tally(lb, 2000, () => ({ computeHashKey: () => undefined }));
    expect(counts.size).toBe(2);
    expect(lb.chooseHost().reason).toMatch(/^ring hash: no hash from hash_policy, random point -> entry \d+ of 1024$/);
  });
});

describe('MAGLEV', () => {
  it('fills every slot, equal-weight hosts within one slot of each other', () => {
    const table = new MaglevTable(hosts([1, 1, 1]), 65_537);
    const counts = [0, 0, 0];
    for (const i of table.table) counts[i]!++;
    expect(counts.reduce((a, b) => a + b)).toBe(65_537);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it('gives heavier hosts proportionally more slots', () => {
    const table = new MaglevTable(hosts([1, 3]), 65_537);
    let heavy = 0;
    for (const i of table.table) if (i === 1) heavy++;
    expect(heavy / 65_537).toBeCloseTo(0.75, 2);
  });

  it('sends the same key to the same host, and a key to table[hash % size]', () => {
    const list = hosts([1, 1, 1]);
    const lb = new MaglevLoadBalancer(hostSet(list).set, seededRandom(1), 251);
    const choice = lb.chooseHost(keyed('alice'));
    const slot = Number(xxHash64('alice') % 251n);
    expect(choice.host).toBe(lb.currentTable().hostAt(slot));
    expect(choice.reason).toContain(`-> slot ${slot} of 251`);
    for (let i = 0; i < 10; i++) expect(lb.chooseHost(keyed('alice')).host).toBe(choice.host);
  });

  it('moves about 1/N of the keys when a host leaves', () => {
    const list = hosts([1, 1, 1, 1, 1]);
    const { set } = hostSet(list);
    const lb = new MaglevLoadBalancer(set, seededRandom(1));
    const keys = Array.from({ length: 4000 }, (_, i) => `k${i}`);
    const before = keys.map((k) => lb.chooseHost(keyed(k)).host!);
    markUnhealthy(set, list[4]!);
    const after = keys.map((k) => lb.chooseHost(keyed(k)).host!);
    const moved = keys.filter((_, i) => before[i] !== after[i]).length / keys.length;
    const movedFromOthers = keys.filter((_, i) => before[i] !== after[i] && before[i] !== list[4]).length / keys.length;
    expect(moved).toBeGreaterThan(0.15);
    expect(moved).toBeLessThan(0.3);
    // Maglev trades a little extra disruption for balance; it stays small.
    expect(movedFromOthers).toBeLessThan(0.05);
  });
});
