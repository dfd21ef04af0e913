import { describe, expect, it } from 'vitest';
import { BUCKET_MS, StatsTracker } from '../../src/views/stats/series';
import { ArrayStore, loadFixture } from './test-store';

const store = loadFixture();
const events = Array.from({ length: store.length }, (_, i) => store.get(i));

describe('stats series', () => {
  it('counts every access log, 5xx, retry and connection up to the cursor', () => {
    const s = new StatsTracker().at(store, store.length - 1);
    const logs = events.filter((e) => e.type === 'fact' && e.fact === 'stream.access_log');
    expect(s.totals.rq).toBe(logs.length);
    expect(s.totals.retries).toBe(events.filter((e) => e.type === 'fact' && e.fact === 'retry.decision' && e.data.decision === 'retry').length);
    expect(s.totals.retries).toBeGreaterThan(0);
    expect(s.buckets.reduce((a, b) => a + b.rq, 0)).toBe(logs.length);
    const spawned = events.filter((e) => e.machine === 'client' && e.type === 'spawn').length;
    const stopped = events.filter((e) => e.machine === 'client' && e.type === 'stop').length;
    expect(Object.values(s.cx).reduce((a, b) => a + b, 0)).toBe(spawned - stopped);
  });

  it('buckets by trace time', () => {
    const s = new StatsTracker().at(store, store.length - 1);
    for (let i = 1; i < s.buckets.length; i++) expect(s.buckets[i].t - s.buckets[i - 1].t).toBe(BUCKET_MS);
    expect(s.buckets[s.buckets.length - 1].t).toBe(Math.floor(events[events.length - 1].t / BUCKET_MS) * BUCKET_MS);
  });

  it('shows only what happened up to the cursor, the same when moving back as when computed fresh', () => {
    const tracker = new StatsTracker();
    tracker.at(store, store.length - 1);
    const mid = Math.floor(store.length / 2);
    const back = tracker.at(store, mid);
    const fresh = new StatsTracker().at(store, mid);
    expect(back).toEqual(fresh);
    const logsBefore = events.slice(0, mid + 1).filter((e) => e.type === 'fact' && e.fact === 'stream.access_log').length;
    expect(back.totals.rq).toBe(logsBefore);
  });

  it('is the same live (events arriving in pieces) as replayed', () => {
    const live = new ArrayStore(store.topology, events.slice(0, 40));
    const tracker = new StatsTracker();
    tracker.at(live, live.length - 1);
    for (let i = 40; i < events.length; i += 37) {
      live.append(...events.slice(i, i + 37));
      tracker.at(live, live.length - 1);
    }
    expect(tracker.at(live, live.length - 1)).toEqual(new StatsTracker().at(store, store.length - 1));
  });
});
