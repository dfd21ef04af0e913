import { bisectRight } from 'd3-array';
import { countTraffic, sameIds, StateFold, zeroCounts, type CorrelationIds, type DemoHostInfo, type FactName, type MachineKind, type Topology, type TraceEvent, type TrafficCounts } from '@proxyscope/protocol';
import { ChunkEncoder, FACT, KIND_NAMES, SPAWN, STOP, TRANSITION, type ActorEntry, type ColumnChunk } from './columns';
import { RequestFolder } from './request-fold';
import type { EventStore, RequestSummary, SourceMode } from './types';

/**
 * The one EventStore implementation. Events live in typed-array columns (columns.ts); the
 * indexes a view needs (by request, by actor path, by pool) are kept as events arrive, and
 * `requestAt` folds only the request's own events, reusing the previous fold when the
 * cursor moved forward.
 */

interface ActorInfo {
  path: string;
  machine: MachineKind;
  ids: CorrelationIds;
  /** ids.stream, or -1 */
  stream: number;
}

interface FoldCache {
  /** how many of the request's events the fold has applied */
  count: number;
  folder: RequestFolder;
  summary: RequestSummary;
}

const INITIAL_CAPACITY = 4096;
const GET_CACHE = 2048;

function grow<T extends Float64Array | Int32Array | Uint8Array>(array: T, need: number): T {
  if (need <= array.length) return array;
  let size = array.length;
  while (size < need) size *= 2;
  const next = new (array.constructor as new (n: number) => T)(size);
  next.set(array);
  return next;
}

/** One foreign encoder's numbering of strings and actors, in a store's numbering. */
export class ChunkRemap {
  readonly strings: number[] = [];
  readonly actors: number[] = [];
}

export class EventStoreImpl implements EventStore {
  version = 0;
  mode: SourceMode | null;
  topology: Topology | null = null;
  startedAt: string | null = null;
  demoHosts: readonly DemoHostInfo[] = [];
  length = 0;
  /** events refused because their seq did not follow (a re-sent history overlap) */
  skipped = 0;
  /**
   * Events with seq <= this came in a snapshot (hello.snapshot, a trace header's
   * snapshot, or this store's own when it let old events go): real events of the run,
   * picked to leave every live actor and in-flight request as it was at that seq, with
   * the events between them left out. 0: no snapshot, the store holds the run from its start.
   */
  snapshotSeq = 0;
  snapshotCounts: TrafficCounts | null = null;

  private seqs = new Float64Array(INITIAL_CAPACITY);
  private times = new Float64Array(INITIAL_CAPACITY);
  private kinds = new Uint8Array(INITIAL_CAPACITY);
  private actors = new Int32Array(INITIAL_CAPACITY);
  private colA = new Int32Array(INITIAL_CAPACITY);
  private colB = new Int32Array(INITIAL_CAPACITY);
  private colC = new Int32Array(INITIAL_CAPACITY);
  private colD = new Int32Array(INITIAL_CAPACITY);
  private data: Array<Record<string, unknown> | null> = [];

  private readonly strings: string[] = [];
  /** string -> index, built when a chunk from a second encoder first needs it */
  private stringIndex: Map<string, number> | undefined;
  /** actor path -> actor table indexes, built likewise */
  private actorsByPath: Map<string, number[]> | undefined;
  private readonly actorTable: ActorInfo[] = [];
  private readonly byActorPath = new Map<string, number[]>();
  private readonly byStream = new Map<number, number[]>();
  private readonly requestOrder: number[] = [];
  /** `worker|pool` -> path of the pool actor, to tie pool events to a request's attempts */
  private readonly poolActors = new Map<string, string>();
  private readonly folds = new Map<number, FoldCache>();
  private readonly listeners = new Set<() => void>();
  private readonly encoder = new ChunkEncoder();
  private readonly getCache: Array<TraceEvent | undefined> = new Array(GET_CACHE);
  private readonly getCacheIndex = new Int32Array(GET_CACHE).fill(-1);
  private readonly emptyList: readonly number[] = Object.freeze([]);

  constructor(mode: SourceMode | null = null) {
    this.mode = mode;
  }

  // ---------------------------------------------------------------- writing

  setSource(info: { mode?: SourceMode | null; topology?: Topology | null; startedAt?: string | null; demoHosts?: readonly DemoHostInfo[]; snapshotSeq?: number; snapshotCounts?: TrafficCounts | null }): void {
    if (info.mode !== undefined) this.mode = info.mode;
    // A reconnect resends the snapshot, but events already held are the real run: the first one counts.
    if (info.snapshotSeq !== undefined && this.length === 0) {
      this.snapshotSeq = info.snapshotSeq;
      this.snapshotCounts = info.snapshotSeq > 0 ? (info.snapshotCounts ?? null) : null;
    }
    if (info.topology !== undefined) this.topology = info.topology;
    if (info.startedAt !== undefined) this.startedAt = info.startedAt;
    if (info.demoHosts !== undefined) this.demoHosts = info.demoHosts;
    this.changed();
  }

  /**
   * A new store with the newest `keep` events of this one (and its source details), for a
   * live page that must not grow without bound. Its indexes are rebuilt from those events.
   */
  newest(keep: number): EventStoreImpl {
    const next = new EventStoreImpl(this.mode);
    next.topology = this.topology;
    next.startedAt = this.startedAt;
    next.demoHosts = this.demoHosts;
    const from = Math.max(0, this.length - keep);
    const BATCH = 10_000;
    if (from > 0) {
      // What is let go is folded into a snapshot, so live actors and requests in flight keep
      // their state (the same fold the server makes for a late joiner).
      const fold = new StateFold();
      // The counters go on from this store's own snapshot's, over the events after it.
      const counts = { ...(this.snapshotCounts ?? zeroCounts()) };
      for (let i = 0; i < from; i++) {
        const e = this.get(i);
        fold.apply(e);
        if (!this.isSnapshot(i)) countTraffic(counts, e);
      }
      const snapshot = fold.events();
      for (let i = 0; i < snapshot.length; i += BATCH) next.append(snapshot.slice(i, i + BATCH));
      next.snapshotSeq = this.seqs[from - 1]!;
      next.snapshotCounts = counts;
    }
    for (let i = from; i < this.length; i += BATCH) {
      const batch: TraceEvent[] = [];
      for (let k = i; k < Math.min(this.length, i + BATCH); k++) batch.push(this.get(k));
      next.append(batch);
    }
    return next;
  }

  /** Appends events (in seq order); ones whose seq does not follow the last are skipped. */
  append(events: readonly TraceEvent[]): void {
    if (events.length === 0) return;
    const last = this.length ? this.seqs[this.length - 1]! : 0;
    let fresh = events;
    if (events[0]!.seq <= last || !increasing(events)) {
      const kept: TraceEvent[] = [];
      let prev = last;
      for (const e of events) {
        if (e.seq > prev) {
          kept.push(e);
          prev = e.seq;
        } else this.skipped++;
      }
      fresh = kept;
    }
    if (fresh.length === 0) return;
    this.appendChunk(this.encoder.encode(fresh));
  }

  /**
   * Appends a chunk made by a ChunkEncoder whose tables mirror this store's (the trace
   * worker's encoder, for a store that holds nothing else).
   */
  appendChunk(chunk: ColumnChunk): void {
    if (chunk.stringBase !== this.strings.length || chunk.actorBase !== this.actorTable.length) {
      throw new Error(`chunk tables start at ${chunk.stringBase}/${chunk.actorBase}, the store holds ${this.strings.length}/${this.actorTable.length}`);
    }
    for (const s of chunk.strings) this.addString(s);
    for (const entry of chunk.actors) this.addActor(entry);
    this.appendColumns(chunk);
  }

  /**
   * Appends a chunk from another encoder (the second half of a file, read by a second
   * worker): its strings and actors are looked up in this store's tables, `remap` keeps
   * that encoder's numbering, and the chunk's columns are renumbered in place.
   */
  appendRemapped(chunk: ColumnChunk, remap: ChunkRemap): void {
    if (chunk.stringBase !== remap.strings.length || chunk.actorBase !== remap.actors.length) {
      throw new Error(`chunk tables start at ${chunk.stringBase}/${chunk.actorBase}, the remap holds ${remap.strings.length}/${remap.actors.length}`);
    }
    this.stringIndex ??= new Map(this.strings.map((s, i) => [s, i]));
    for (const s of chunk.strings) remap.strings.push(this.stringIndex.get(s) ?? this.addString(s));
    for (const entry of chunk.actors) remap.actors.push(this.findActor(entry) ?? this.addActor(entry));
    const strings = remap.strings;
    const { a, b, c, d, actor } = chunk;
    for (let i = 0; i < chunk.n; i++) {
      actor[i] = remap.actors[actor[i]!]!;
      // -1 marks a column an event kind does not use
      if (a[i]! >= 0) a[i] = strings[a[i]!]!;
      if (b[i]! >= 0) b[i] = strings[b[i]!]!;
      if (c[i]! >= 0) c[i] = strings[c[i]!]!;
      if (d[i]! >= 0) d[i] = strings[d[i]!]!;
    }
    this.appendColumns(chunk);
  }

  private appendColumns(chunk: ColumnChunk): void {
    const start = this.length;
    const end = start + chunk.n;
    this.seqs = grow(this.seqs, end);
    this.times = grow(this.times, end);
    this.kinds = grow(this.kinds, end);
    this.actors = grow(this.actors, end);
    this.colA = grow(this.colA, end);
    this.colB = grow(this.colB, end);
    this.colC = grow(this.colC, end);
    this.colD = grow(this.colD, end);
    this.seqs.set(chunk.seq, start);
    this.times.set(chunk.t, start);
    this.kinds.set(chunk.kind, start);
    this.actors.set(chunk.actor, start);
    this.colA.set(chunk.a, start);
    this.colB.set(chunk.b, start);
    this.colC.set(chunk.c, start);
    this.colD.set(chunk.d, start);
    const data = this.data;
    for (let i = 0; i < chunk.n; i++) {
      const index = start + i;
      data.push(chunk.data[i] ?? null);
      const actor = this.actorTable[chunk.actor[i]!]!;
      let list = this.byActorPath.get(actor.path);
      if (!list) this.byActorPath.set(actor.path, (list = []));
      list.push(index);
      if (actor.stream >= 0) {
        let events = this.byStream.get(actor.stream);
        if (!events) {
          this.byStream.set(actor.stream, (events = []));
          this.requestOrder.push(actor.stream);
        }
        events.push(index);
      }
    }
    this.length = end;
    this.changed();
  }

  private addString(s: string): number {
    const i = this.strings.push(s) - 1;
    this.stringIndex?.set(s, i);
    return i;
  }

  private addActor([path, machine, ids]: ActorEntry): number {
    const i = this.actorTable.push({ path, machine, ids, stream: typeof ids.stream === 'number' ? ids.stream : -1 }) - 1;
    if (machine === 'pool' && ids.pool !== undefined) this.poolActors.set(`${ids.worker ?? ''}|${ids.pool}`, path);
    const list = this.actorsByPath?.get(path);
    if (list) list.push(i);
    else this.actorsByPath?.set(path, [i]);
    return i;
  }

  /** The actor table's entry for this actor (same path, machine and ids), if there is one. */
  private findActor([path, machine, ids]: ActorEntry): number | undefined {
    if (!this.actorsByPath) {
      this.actorsByPath = new Map();
      this.actorTable.forEach((a, i) => {
        const list = this.actorsByPath!.get(a.path);
        if (list) list.push(i);
        else this.actorsByPath!.set(a.path, [i]);
      });
    }
    return this.actorsByPath.get(path)?.find((i) => this.actorTable[i]!.machine === machine && sameIds(this.actorTable[i]!.ids, ids));
  }

  private changed(): void {
    this.version++;
    for (const listener of [...this.listeners]) listener();
  }

  // ---------------------------------------------------------------- EventStore

  get(i: number): TraceEvent {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`event index ${i} is outside 0..${this.length - 1}`);
    const slot = i % GET_CACHE;
    if (this.getCacheIndex[slot] === i) return this.getCache[slot]!;
    const actor = this.actorTable[this.actors[i]!]!;
    const base = { seq: this.seqs[i]!, t: this.times[i]!, actor: actor.path, machine: actor.machine, ids: actor.ids };
    const kind = this.kinds[i]!;
    const envoy = this.colD[i]! >= 0 ? this.strings[this.colD[i]!] : undefined;
    let event: TraceEvent;
    if (kind === SPAWN || kind === STOP) event = { type: KIND_NAMES[kind] as 'spawn' | 'stop', ...base, state: this.strings[this.colA[i]!]! };
    else if (kind === TRANSITION) {
      event = { type: 'transition', ...base, from: this.strings[this.colA[i]!]!, to: this.strings[this.colB[i]!]!, event: this.strings[this.colC[i]!]! };
      if (envoy !== undefined) event.envoy = envoy;
    } else {
      event = { type: 'fact', ...base, fact: this.strings[this.colA[i]!] as FactName, data: this.data[i] ?? {} };
      if (envoy !== undefined) event.envoy = envoy;
    }
    this.getCache[slot] = event;
    this.getCacheIndex[slot] = i;
    return event;
  }

  indexAtOrBefore(seq: number): number {
    return bisectRight(this.seqs, seq, 0, this.length) - 1;
  }

  requestIds(): readonly number[] {
    return this.requestOrder;
  }

  eventsOfRequest(stream: number): readonly number[] {
    return this.byStream.get(stream) ?? this.emptyList;
  }

  eventsOfActor(actor: string): readonly number[] {
    return this.byActorPath.get(actor) ?? this.emptyList;
  }

  requestAt(stream: number, at: number): RequestSummary | undefined {
    const events = this.byStream.get(stream);
    if (!events || events.length === 0 || events[0]! > at) return undefined;
    const count = countAtOrBefore(events, at);
    let cache = this.folds.get(stream);
    if (cache && cache.count === count) return cache.summary;
    if (!cache || cache.count > count) {
      cache = { count: 0, folder: new RequestFolder(stream, this), summary: undefined as unknown as RequestSummary };
      this.folds.set(stream, cache);
    }
    for (let k = cache.count; k < count; k++) cache.folder.apply(events[k]!);
    cache.count = count;
    cache.summary = cache.folder.snapshot();
    return cache.summary;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---------------------------------------------------------------- cheap column access (no event object)

  seqAt(i: number): number {
    return this.seqs[i]!;
  }
  tAt(i: number): number {
    return this.times[i]!;
  }
  kindAt(i: number): number {
    return this.kinds[i]!;
  }
  machineAt(i: number): MachineKind {
    return this.actorTable[this.actors[i]!]!.machine;
  }
  actorAt(i: number): string {
    return this.actorTable[this.actors[i]!]!.path;
  }
  idsAt(i: number): CorrelationIds {
    return this.actorTable[this.actors[i]!]!.ids;
  }
  /** ids.stream of the i-th event, -1 for none */
  streamAt(i: number): number {
    return this.actorTable[this.actors[i]!]!.stream;
  }
  /** fact name of a fact event, or undefined */
  factAt(i: number): FactName | undefined {
    return this.kinds[i] === FACT ? (this.strings[this.colA[i]!] as FactName) : undefined;
  }
  dataAt(i: number): Record<string, unknown> | null {
    return this.data[i] ?? null;
  }
  /** the state an event leaves its actor in (spawn/stop: state, transition: to) */
  stateAt(i: number): string | undefined {
    const kind = this.kinds[i];
    if (kind === TRANSITION) return this.strings[this.colB[i]!];
    if (kind === SPAWN || kind === STOP) return this.strings[this.colA[i]!];
    return undefined;
  }
  /** path of the pool actor of `pool` on `worker` */
  poolActor(worker: number | undefined, pool: string): string | undefined {
    return this.poolActors.get(`${worker ?? ''}|${pool}`);
  }
  /** index of the last event with t <= `t`, or -1 */
  indexAtOrBeforeT(t: number): number {
    return bisectRight(this.times, t, 0, this.length) - 1;
  }
  /** how many of the first events are snapshot events (see `snapshotSeq`) */
  snapshotLength(): number {
    return this.snapshotSeq > 0 ? this.indexAtOrBefore(this.snapshotSeq) + 1 : 0;
  }
  /** whether the i-th event came in a snapshot */
  isSnapshot(i: number): boolean {
    return this.seqs[i]! <= this.snapshotSeq;
  }
  /**
   * The first and last event time held. A snapshot's events keep their own (older) times,
   * but the run is known only from the snapshot on: the range starts at the first event
   * after it, where every snapshot event has happened.
   */
  timeRange(): [number, number] {
    if (!this.length) return [0, 0];
    const end = this.times[this.length - 1]!;
    const after = this.snapshotSeq > 0 ? this.snapshotLength() : 0;
    const start = after > 0 ? this.times[Math.min(after, this.length - 1)]! : this.times[0]!;
    return [start, end];
  }
}

function increasing(events: readonly TraceEvent[]): boolean {
  for (let i = 1; i < events.length; i++) if (!(events[i]!.seq > events[i - 1]!.seq)) return false;
  return true;
}

/** how many entries of an ascending list are <= at */
export function countAtOrBefore(list: readonly number[], at: number): number {
  return bisectRight(list, at);
}
