/**
 * The host and cluster panels' model, from real engine runs of the shipped scenarios: what
 * the panel says about a host at a cursor must be what the engine did by then.
 */
import { describe, expect, it } from 'vitest';
import type { EventStore } from '../src/model/types';
import { ClusterTracker, hostStateAt } from '../src/model/host-state';
import { clusterDetail } from '../src/model/cluster-state';
import { simulatedStore } from './support/sim-store';

const WEB_2 = '10.0.1.2:8080';

function indexOfFact(store: EventStore, fact: string, host?: string): number {
  for (let i = 0; i < store.length; i++) {
    const e = store.get(i);
    if (e.type === 'fact' && e.fact === fact && (host === undefined || e.ids.host === host)) return i;
  }
  throw new Error(`no ${fact}`);
}

function indexAtT(store: EventStore, t: number): number {
  let i = 0;
  while (i + 1 < store.length && store.get(i + 1).t <= t) i++;
  return i;
}

describe('host state: outlier detection (scenarios/outlier-detection)', async () => {
  const store = await simulatedStore('outlier-detection');
  const ejectedAt = indexOfFact(store, 'host.ejected', WEB_2);
  const ejectT = store.get(ejectedAt).t;

  it('before web-2 fails it is healthy, with no ejection, and has served requests', () => {
    const h = hostStateAt(store, indexAtT(store, 1900), 'web', WEB_2)!;
    expect(h.hostname).toBe('web-2');
    expect(h.weight).toBe(1);
    expect(h.health).toBe('healthy');
    expect(h.ejected).toBe(false);
    expect(h.outlier.last).toBeUndefined();
    expect(h.servedTotal).toBeGreaterThan(10);
    const answered = h.served.filter((r) => r.endT !== undefined);
    expect(answered.length).toBeGreaterThan(5);
    expect(answered.every((r) => r.status === 200)).toBe(true);
  });

  it('counts the 503s toward consecutive_5xx up to the threshold, then the ejection resets the count', () => {
    const before = hostStateAt(store, ejectedAt - 1, 'web', WEB_2)!;
    expect(before.outlier.consecutive5xx).toBe(3);
    expect(before.served.slice(0, 3).map((r) => r.status)).toEqual([503, 503, 503]);
    expect(hostStateAt(store, ejectedAt, 'web', WEB_2)!.outlier.consecutive5xx).toBe(0);
  });

  it('after the ejection: ejected by consecutive_5xx (3 of 3), for base_ejection_time, with a countdown', () => {
    const tracker = new ClusterTracker();
    const at = indexAtT(store, ejectT + 1000);
    const fold = tracker.at(store, at, 'web');
    const h = fold.hostAt(WEB_2)!;
    expect(h.health).toBe('ejected');
    expect(h.healthFlags).toBe('/failed_outlier_check');
    expect(h.ejected).toBe(true);
    expect(h.outlier.last).toMatchObject({ type: 'consecutive_5xx', consecutive: 3, threshold: 3, ejectionMs: 4000, timesEjected: 1, t: ejectT });
    expect(h.outlier.ejectionEndsT).toBeCloseTo(ejectT + 4000);
    // the detector's 1 s interval tick after that brings it back
    expect(h.outlier.expectedUnejectT).toBe(Math.ceil((ejectT + 4000) / 1000) * 1000);
    expect(h.outlier.expectedUnejectT! - fold.t).toBeGreaterThan(2500);
    expect(h.outlier.consecutive5xx).toBe(0);
    // the other hosts stay healthy, and one of three ejected is not panic (threshold 50%)
    const c = clusterDetail(fold);
    expect(c.hosts.map((x) => [x.hostname, x.healthy])).toEqual([
      ['web-1', true],
      ['web-2', false],
      ['web-3', true],
    ]);
    expect(c.panic).toMatchObject({ threshold: 50, healthy: 2, total: 3, inPanic: false });
  });

  it('the un-ejection came when the panel said it would', () => {
    const at = indexAtT(store, ejectT + 1000);
    const expected = hostStateAt(store, at, 'web', WEB_2)!.outlier.expectedUnejectT!;
    const unejected = indexOfFact(store, 'host.unejected', WEB_2);
    expect(store.get(unejected).t).toBe(expected);
    const h = hostStateAt(store, unejected + 1, 'web', WEB_2)!;
    expect(h.health).toBe('healthy');
    expect(h.outlier.lastUnejection?.reason).toBe('ejection time elapsed');
    expect(h.outlier.expectedUnejectT).toBeUndefined();
  });

  it('moving the cursor back forgets what happened after it', () => {
    const tracker = new ClusterTracker();
    expect(tracker.at(store, store.length - 1, 'web').hostAt(WEB_2)!.outlier.ejections).toBe(1);
    expect(tracker.at(store, ejectedAt - 1, 'web').hostAt(WEB_2)!.outlier.ejections).toBe(0);
  });

  it('the pool lists connections by state, and the circuit breakers count what is in use', () => {
    const fold = new ClusterTracker().at(store, indexAtT(store, 5000), 'web');
    const h = fold.hostAt('10.0.1.1:8080')!;
    expect(h.pools).toHaveLength(1);
    const p = h.pools[0]!;
    const ids = [...p.connecting, ...p.ready, ...p.busy];
    expect(ids.length).toBeGreaterThan(0);
    const c = clusterDetail(fold);
    const cx = c.breakers.find((b) => b.name === 'max_connections')!;
    expect(cx.limit).toBe(1024);
    const all = c.hosts.reduce((n, x) => n + x.pools.reduce((m, q) => m + q.connecting.length + q.ready.length + q.busy.length + q.draining.length, 0), 0);
    expect(cx.used).toBe(all);
    expect(cx.used).toBeGreaterThan(0);
  });
});

describe('host state: active health checks and panic (scenarios/health-checks-panic)', async () => {
  const store = await simulatedStore('health-checks-panic');

  it('web-4 down: its probes fail as network failures, and two in a row make it unhealthy', () => {
    const fold = new ClusterTracker().at(store, indexAtT(store, 3900), 'web');
    const h = fold.hostAt('10.0.1.4:8080')!;
    expect(h.health).toBe('unhealthy');
    expect(h.failedActiveHc).toBe(true);
    const [newest, previous] = h.activeHc.probes;
    expect(newest!.passed).toBe(false);
    expect(newest!.kind).toBe('network');
    expect(previous!.passed).toBe(false);
    expect(typeof newest!.latencyMs).toBe('number');
    expect(h.activeHc.toward).toEqual({ state: 'healthy', count: 0, threshold: 2 });
    const up = fold.hostAt('10.0.1.1:8080')!;
    expect(up.activeHc.probes[0]).toMatchObject({ passed: true, status: 200 });
    expect(up.activeHc.toward).toEqual({ state: 'unhealthy', count: 0, threshold: 2 });
    expect(clusterDetail(fold).panic).toMatchObject({ healthy: 3, total: 4, inPanic: false, threshold: 50 });
  });

  it('three of four down: 25% healthy is below 50%, the cluster is in panic and picks say so', () => {
    const fold = new ClusterTracker().at(store, indexAtT(store, 8000), 'web');
    const c = clusterDetail(fold);
    expect(c.panic).toMatchObject({ healthy: 1, total: 4, healthyPercent: 25, inPanic: true });
    expect(c.panic.panicPicks).toBeGreaterThan(10);
    expect(c.panic.lastPick?.reason).toContain('panic mode');
    expect(c.hosts.filter((h) => h.health === 'unhealthy').map((h) => h.hostname)).toEqual(['web-2', 'web-3', 'web-4']);
  });
});

describe('cluster state: circuit breakers (scenarios/circuit-breaker)', async () => {
  const store = await simulatedStore('circuit-breaker');
  const firstOverflow = (() => {
    for (let i = 0; i < store.length; i++) {
      const e = store.get(i);
      if (e.type === 'fact' && e.fact === 'pool.decision' && e.data.decision === 'overflow') return i;
    }
    throw new Error('no overflow');
  })();

  it('at the first overflow the pending queue is full: 8 of max_pending_requests 8, 4 of max_connections 4', () => {
    const fold = new ClusterTracker().at(store, firstOverflow, 'api');
    const c = clusterDetail(fold);
    const used = Object.fromEntries(c.breakers.map((b) => [b.name, [b.used, b.limit]]));
    expect(used.max_pending_requests).toEqual([8, 8]);
    expect(used.max_connections).toEqual([4, 4]);
    expect(c.overflows.pending).toBe(1);
    const pool = c.hosts.flatMap((h) => h.pools).find((p) => p.pendingOverflows > 0)!;
    expect(pool.lastOverflow).toMatchObject({ decision: 'overflow', limit: 'max_pending_requests', max: 8 });
    // the streams waiting are named, as many as the count
    expect(c.hosts.flatMap((h) => h.pools.flatMap((p) => p.pending))).toHaveLength(8);
  });
});
