import { addCounts, countTraffic, zeroCounts, type TraceEvent, type TrafficCounts } from '@proxyscope/protocol';
import type { EventStore } from '../../model/types';

/**
 * Traffic counters bucketed by trace time, from events only (access logs, retry decisions,
 * pool overflows, upstream connection spawn/stop), so live and replay show the same thing.
 * Whole buckets are computed once as events arrive; only the bucket holding the cursor is
 * recomputed, from that bucket's first event, when the cursor moves.
 */

export const BUCKET_MS = 1000;

export type Counts = TrafficCounts;

export interface Bucket extends Counts {
  /** bucket start, trace ms */
  t: number;
  /** index of the bucket's first event in the store */
  startIndex: number;
  /** active upstream connections per host (cluster/host) at the end of the bucket, or at the cursor */
  cx: Record<string, number>;
}

export interface StatsAt {
  buckets: Bucket[];
  totals: Counts;
  /** upstream connections open at the cursor, per host */
  cx: Record<string, number>;
  hosts: string[];
  t: number;
}

const zero = zeroCounts;

/**
 * What one event adds to the counters; `cx` is the per-host connection gauge. A snapshot's
 * events move only the gauge (its live connections): the counters over the run before it
 * come from the snapshot's own counts, and its events are a sample of that run.
 */
export function countEvent(c: Counts, cx: Record<string, number>, e: TraceEvent, inSnapshot = false): void {
  if (!inSnapshot) countTraffic(c, e);
  if (e.machine === 'client' && (e.type === 'spawn' || e.type === 'stop') && e.ids.host) {
    const k = `${e.ids.cluster ?? '?'}/${e.ids.host}`;
    cx[k] = Math.max(0, (cx[k] ?? 0) + (e.type === 'spawn' ? 1 : -1));
  }
}

const add = addCounts;

export class StatsTracker {
  private store: EventStore | null = null;
  private firstSeq = 0;
  private scanned = 0;
  /** complete and in-progress buckets over the whole store */
  private buckets: Bucket[] = [];
  /** totals before each bucket */
  private before: Counts[] = [];
  /** connection gauge before each bucket */
  private cxBefore: Array<Record<string, number>> = [];
  private cx: Record<string, number> = {};
  private hostSet = new Set<string>();

  private sync(store: EventStore) {
    if (store !== this.store || store.length < this.scanned || (store.length > 0 && store.get(0).seq !== this.firstSeq)) {
      this.store = store;
      this.firstSeq = store.length > 0 ? store.get(0).seq : 0;
      this.scanned = 0;
      this.buckets = [];
      this.before = [];
      this.cxBefore = [];
      this.cx = {};
      this.hostSet.clear();
    }
    for (let i = this.scanned; i < store.length; i++) {
      const e = store.get(i);
      const t = Math.floor(e.t / BUCKET_MS) * BUCKET_MS;
      let b = this.buckets[this.buckets.length - 1];
      if (!b || t > b.t) {
        // the finished bucket keeps the gauge as it was at its end
        if (b) b.cx = { ...this.cx };
        const prevTotals = b ? add(this.before[this.before.length - 1], b) : zero();
        // empty buckets in a quiet spell still show as zero on the chart
        for (let gap = b ? b.t + BUCKET_MS : t; gap < t; gap += BUCKET_MS) {
          this.before.push(prevTotals);
          this.cxBefore.push({ ...this.cx });
          this.buckets.push({ t: gap, startIndex: i, ...zero(), cx: { ...this.cx } });
        }
        this.before.push(prevTotals);
        this.cxBefore.push({ ...this.cx });
        b = { t, startIndex: i, ...zero(), cx: {} };
        this.buckets.push(b);
      }
      countEvent(b, this.cx, e, store.isSnapshot(i));
      // the open bucket shares the live gauge until the next one starts
      b.cx = this.cx;
      if (e.machine === 'client' && e.ids.host) this.hostSet.add(`${e.ids.cluster ?? '?'}/${e.ids.host}`);
    }
    this.scanned = store.length;
  }

  /** Buckets up to the cursor (the last one partial), at most `window` of them. */
  at(store: EventStore, cursor: number, window = 60): StatsAt {
    this.sync(store);
    const last = Math.min(cursor, store.length - 1);
    if (last < 0 || this.buckets.length === 0) return { buckets: [], totals: zero(), cx: {}, hosts: [], t: 0 };
    const t = store.get(last).t;
    // the bucket holding the cursor: the last whose first event is at or before it
    let lo = 0;
    let hi = this.buckets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.buckets[mid].startIndex <= last && this.buckets[mid].t <= t) lo = mid;
      else hi = mid - 1;
    }
    const k = lo;
    const partial: Bucket = { t: this.buckets[k].t, startIndex: this.buckets[k].startIndex, ...zero(), cx: { ...this.cxBefore[k] } };
    for (let i = partial.startIndex; i <= last; i++) countEvent(partial, partial.cx, store.get(i), store.isSnapshot(i));
    const from = Math.max(0, k - window + 1);
    const buckets = [...this.buckets.slice(from, k), partial];
    // the run before the snapshot, as its counts say, then what the store holds after it
    return { buckets, totals: add(add(store.snapshotCounts ?? zero(), this.before[k]), partial), cx: partial.cx, hosts: [...this.hostSet].sort(), t };
  }
}
