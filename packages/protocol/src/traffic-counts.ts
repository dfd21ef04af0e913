import type { TraceEvent } from './events';

/**
 * The traffic counters the UI's stats strip shows (requests by status class, retries,
 * pending overflows), counted from events alone so live, replay and simulation agree.
 *
 * A snapshot leaves most of the run's events out, so it carries these counts for every
 * event up to its `lastSeq` (`SnapshotInfo.counts`): a viewer that joins late, or a store
 * that let old events go, starts from them and counts only what follows, and shows the
 * totals a viewer there from the start shows.
 */
export interface TrafficCounts {
  /** finished requests (their access log) */
  rq: number;
  s2xx: number;
  s4xx: number;
  s5xx: number;
  /** retries the router decided on */
  retries: number;
  /** pending-request overflows (the pool's circuit breaker) */
  overflow: number;
}

export function zeroCounts(): TrafficCounts {
  return { rq: 0, s2xx: 0, s4xx: 0, s5xx: 0, retries: 0, overflow: 0 };
}

export function addCounts(a: TrafficCounts, b: TrafficCounts): TrafficCounts {
  return { rq: a.rq + b.rq, s2xx: a.s2xx + b.s2xx, s4xx: a.s4xx + b.s4xx, s5xx: a.s5xx + b.s5xx, retries: a.retries + b.retries, overflow: a.overflow + b.overflow };
}

/** What one event adds to the counters. */
export function countTraffic(c: TrafficCounts, e: TraceEvent): void {
  if (e.type !== 'fact') return;
  switch (e.fact) {
    case 'stream.access_log': {
      c.rq++;
      const s = Number(e.data.status);
      if (s >= 500) c.s5xx++;
      else if (s >= 400) c.s4xx++;
      else if (s >= 200 && s < 300) c.s2xx++;
      return;
    }
    case 'retry.decision':
      if (e.data.decision === 'retry') c.retries++;
      return;
    case 'pool.decision':
      if (e.data.decision === 'overflow') c.overflow++;
      return;
    case 'pool.pending_failed':
      if (e.data.reason === 'overflow') c.overflow++;
      return;
  }
}
