import type { TraceEvent } from './events';
import { countTraffic, zeroCounts, type TrafficCounts } from './traffic-counts';

/**
 * The state of a run folded from its trace events, kept in bounded memory, and given back
 * as a short list of those same events: what a viewer that folds them gets is what it
 * would have got from folding every event from the start (for what is alive now).
 *
 * Every snapshot event is a real event of the trace, with its own seq and t; the
 * snapshot only leaves events out:
 *   - a live actor that belongs to no request (listener, connection, pool, client,
 *     host_health, ...): its spawn, its latest transition (so its state is the current
 *     one), its latest few facts, and the latest fact of each name it ever stated (a
 *     host's `host.ejected` says why it is ejected however many probes came after);
 *   - a request still in flight: every event of its actors (so phase, route, cluster,
 *     host, headers and attempts fold exactly as they did), compacted to each actor's
 *     latest transition if a request grows very long;
 *   - `listener.filter_chain_match` of each open downstream connection, and the latest
 *     `cluster.hosts_changed` facts of each cluster.
 * Actors that stopped, and requests that finished, are forgotten.
 *
 * The server folds each event as it leaves its history ring, so "snapshot + history" is
 * the whole run as far as the living are concerned (docs/ws-protocol.md "Snapshot").
 */

export interface StateFoldOptions {
  /** facts kept per live actor outside requests (the newest) */
  factsPerActor?: number;
  /** a request with more events than this keeps only each actor's latest transition (and every spawn, stop and fact) */
  maxRequestEvents?: number;
  /** `cluster.hosts_changed` facts kept per cluster */
  hostsChangedPerCluster?: number;
  /** finished requests remembered, so their stragglers (an access log after the stop) are not taken for new ones */
  endedRequestsRemembered?: number;
}

interface ActorEntry {
  spawn?: TraceEvent;
  last?: TraceEvent;
  facts: TraceEvent[];
  /** the newest fact of each name that has left `facts` (an actor states few kinds of fact) */
  older?: Map<string, TraceEvent>;
}

interface RequestEntry {
  events: TraceEvent[];
  /** actors of the request spawned and not yet stopped */
  live: Set<string>;
  streamStopped: boolean;
  /** compact when events pass this (doubles when compacting frees little, so the cost stays amortized) */
  limit: number;
}

export class StateFold {
  /** events folded so far */
  folded = 0;
  /** seq of the newest event folded (0: none) */
  lastSeq = 0;
  /** the traffic counters over every event folded (the snapshot's `counts`) */
  readonly counts: TrafficCounts = zeroCounts();
  private readonly factsPerActor: number;
  private readonly maxRequestEvents: number;
  private readonly hostsChangedPerCluster: number;
  private readonly endedRemembered: number;
  private readonly actors = new Map<string, ActorEntry>();
  private readonly requests = new Map<number, RequestEntry>();
  private readonly ended = new Set<number>();
  private readonly chainOfCx = new Map<number, TraceEvent>();
  private readonly hostsChanged = new Map<string, TraceEvent[]>();

  constructor(options: StateFoldOptions = {}) {
    this.factsPerActor = options.factsPerActor ?? 8;
    this.maxRequestEvents = options.maxRequestEvents ?? 1000;
    this.hostsChangedPerCluster = options.hostsChangedPerCluster ?? 16;
    this.endedRemembered = options.endedRequestsRemembered ?? 4096;
  }

  /** Folds one event (events come in seq order). */
  apply(e: TraceEvent): void {
    this.folded++;
    this.lastSeq = e.seq;
    countTraffic(this.counts, e);
    const stream = e.ids.stream;
    if (stream !== undefined) this.applyRequest(stream, e);
    else this.applyActor(e);
  }

  /** How many requests are in flight and how many events the snapshot holds, without building it. */
  size(): { actors: number; requests: number; events: number } {
    let events = 0;
    for (const a of this.actors.values()) events += (a.spawn ? 1 : 0) + (a.last ? 1 : 0) + a.facts.length + (a.older?.size ?? 0);
    for (const r of this.requests.values()) events += r.events.length;
    events += this.chainOfCx.size;
    for (const list of this.hostsChanged.values()) events += list.length;
    return { actors: this.actors.size, requests: this.requests.size, events };
  }

  /** The snapshot: real events of the run, in seq order. */
  events(): TraceEvent[] {
    const out: TraceEvent[] = [];
    for (const a of this.actors.values()) {
      if (a.spawn) out.push(a.spawn);
      if (a.last) out.push(a.last);
      for (const f of a.facts) out.push(f);
      if (a.older) for (const f of a.older.values()) out.push(f);
    }
    for (const r of this.requests.values()) for (const e of r.events) out.push(e);
    for (const e of this.chainOfCx.values()) out.push(e);
    for (const list of this.hostsChanged.values()) for (const e of list) out.push(e);
    return out.sort((a, b) => a.seq - b.seq);
  }

  private applyActor(e: TraceEvent): void {
    if (e.type === 'fact') {
      if (e.fact === 'listener.filter_chain_match' && typeof e.data.cx === 'number') {
        this.chainOfCx.set(e.data.cx, e);
        return;
      }
      if (e.fact === 'cluster.hosts_changed' && e.ids.cluster !== undefined) {
        let list = this.hostsChanged.get(e.ids.cluster);
        if (!list) this.hostsChanged.set(e.ids.cluster, (list = []));
        list.push(e);
        if (list.length > this.hostsChangedPerCluster) list.shift();
        return;
      }
    }
    if (e.type === 'stop') {
      this.actors.delete(e.actor);
      if (e.machine === 'connection' && e.ids.cx !== undefined) this.chainOfCx.delete(e.ids.cx);
      return;
    }
    let entry = this.actors.get(e.actor);
    if (e.type === 'spawn') {
      // A path used again is a new actor.
      this.actors.set(e.actor, { spawn: e, facts: [] });
      return;
    }
    // An actor first seen mid-life (tracing attached after it spawned) is adopted.
    if (!entry) this.actors.set(e.actor, (entry = { facts: [] }));
    if (e.type === 'transition') entry.last = e;
    else {
      if (e.type === 'fact' && entry.older) entry.older.delete(e.fact);
      entry.facts.push(e);
      if (entry.facts.length > this.factsPerActor) {
        const gone = entry.facts.shift()!;
        // Kept only while no newer fact of its name is among the latest few.
        if (gone.type === 'fact' && !entry.facts.some((f) => f.type === 'fact' && f.fact === gone.fact)) (entry.older ??= new Map()).set(gone.fact, gone);
      }
    }
  }

  private applyRequest(stream: number, e: TraceEvent): void {
    let entry = this.requests.get(stream);
    if (!entry) {
      // Stragglers of a finished request, or a lone stop, say nothing about a live one.
      if (this.ended.has(stream) || e.type === 'stop') return;
      this.requests.set(stream, (entry = { events: [], live: new Set(), streamStopped: false, limit: this.maxRequestEvents }));
    }
    entry.events.push(e);
    if (e.type === 'spawn') entry.live.add(e.actor);
    else if (e.type === 'stop') {
      entry.live.delete(e.actor);
      if (e.machine === 'stream') entry.streamStopped = true;
      if (entry.streamStopped && entry.live.size === 0) {
        this.requests.delete(stream);
        this.ended.add(stream);
        if (this.ended.size > this.endedRemembered) this.ended.delete(this.ended.values().next().value!);
        return;
      }
    }
    if (entry.events.length > entry.limit) {
      entry.events = compact(entry.events);
      entry.limit = Math.max(entry.limit, entry.events.length * 2);
    }
  }
}

/** Every spawn, stop and fact, and each actor's latest transition. */
function compact(events: TraceEvent[]): TraceEvent[] {
  const lastTransition = new Map<string, number>();
  events.forEach((e, i) => {
    if (e.type === 'transition') lastTransition.set(e.actor, i);
  });
  return events.filter((e, i) => e.type !== 'transition' || lastTransition.get(e.actor) === i);
}
