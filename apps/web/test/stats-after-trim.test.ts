/**
 * A live page keeps a bounded store: old events are let go into a snapshot (EventStoreImpl
 * .newest). The stats strip's totals must not drop with them: the snapshot carries the
 * counters of the run before it, and they go on from there.
 */
import { describe, expect, it } from 'vitest';
import { StatsTracker } from '../src/views/stats/series';
import { simulatedStore } from './support/sim-store';

describe('stats totals across a store that let old events go', () => {
  it('are the whole run\'s, once and twice trimmed, with overflows, retries and 5xx among them', async () => {
    const store = await simulatedStore('circuit-breaker');
    const whole = new StatsTracker().at(store, store.length - 1).totals;
    expect(whole.rq).toBeGreaterThan(100);
    expect(whole.overflow).toBeGreaterThan(0);
    expect(whole.s5xx).toBeGreaterThan(0);

    const once = store.newest(Math.floor(store.length / 3));
    expect(once.snapshotSeq).toBeGreaterThan(0);
    expect(new StatsTracker().at(once, once.length - 1).totals).toEqual(whole);
    // trimmed again: the second snapshot's counts build on the first's
    const twice = once.newest(Math.floor(once.length / 2));
    expect(new StatsTracker().at(twice, twice.length - 1).totals).toEqual(whole);
    // (the held events alone count far fewer)
    twice.snapshotCounts = null;
    expect(new StatsTracker().at(twice, twice.length - 1).totals.rq).toBeLessThan(whole.rq / 2);
  });
});
