import type { TraceEvent, Topology, TrafficCounts } from '@proxyscope/protocol';
import type { EventStore, RequestSummary } from '../../src/model/types';

/**
 * A plain array-backed EventStore for the view tests, so they exercise
 * the views' own derivations on real events without depending on the app's store.
 */
export class ArrayStore implements EventStore {
  version = 1;
  mode = 'file' as const;
  startedAt = '2026-01-01T00:00:00.000Z';
  demoHosts = [];
  /** events with seq <= this came in a snapshot whose counts are `snapshotCounts` */
  snapshotSeq = 0;
  snapshotCounts: TrafficCounts | null = null;
  private byRequest: Map<number, number[]> | null = null;
  private byActor: Map<string, number[]> | null = null;
  private listeners = new Set<() => void>();
  constructor(
    public topology: Topology | null,
    private events: TraceEvent[],
  ) {}
  get length() {
    return this.events.length;
  }
  get(i: number) {
    return this.events[i];
  }
  isSnapshot(i: number) {
    return this.events[i]!.seq <= this.snapshotSeq;
  }
  append(...events: TraceEvent[]) {
    for (const e of events) this.events.push(e);
    this.byRequest = null;
    this.byActor = null;
    this.version++;
    for (const l of this.listeners) l();
  }
  indexAtOrBefore(seq: number) {
    let lo = 0;
    let hi = this.events.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid].seq <= seq) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }
  requestIds() {
    return [...new Set(this.events.filter((e) => e.ids.stream !== undefined).map((e) => e.ids.stream!))];
  }
  eventsOfRequest(stream: number): readonly number[] {
    if (!this.byRequest) this.byRequest = group(this.events, (e) => e.ids.stream);
    return this.byRequest.get(stream) ?? [];
  }
  eventsOfActor(actor: string): readonly number[] {
    if (!this.byActor) this.byActor = group(this.events, (e) => e.actor);
    return this.byActor.get(actor) ?? [];
  }
  requestAt(): RequestSummary | undefined {
    return undefined;
  }
  subscribe(l: () => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}


function group<K>(events: TraceEvent[], key: (e: TraceEvent) => K | undefined): Map<K, number[]> {
  const m = new Map<K, number[]>();
  events.forEach((e, i) => {
    const k = key(e);
    if (k === undefined) return;
    const list = m.get(k);
    if (list) list.push(i);
    else m.set(k, [i]);
  });
  return m;
}
