import { countTraffic, StateFold, zeroCounts, type SnapshotInfo, type StateFoldOptions, type TraceEvent, type TrafficCounts } from '@proxyscope/protocol';
import { nextTurn, unref, warn } from './next-turn';

/** What the hub needs of the engine's Tracer: one sink, attached and detached. */
export interface TracerPort {
  attach(sink: (event: TraceEvent) => void): void;
  detach(): void;
}

export interface EventHubOptions {
  /** absent: the owner calls `sink` itself (replay, benchmarks) */
  tracer?: TracerPort;
  /** events kept for late joiners (ring buffer); 0 keeps none */
  historySize?: number;
  /** longest time an event waits before consumers get it */
  batchMs?: number;
  /** a batch this big is handed out at once, without waiting for the timer */
  maxBatchEvents?: number;
  /** bounds of the state kept for the snapshot (StateFold); false keeps none */
  snapshot?: StateFoldOptions | false;
}

export type HubConsumer = (events: readonly TraceEvent[]) => void;

/**
 * THE tracer sink of a running engine, while anyone listens: WebSocket clients, a
 * recording, or (in "always" tracing mode) the history ring alone. The engine's tracer
 * costs work only while a sink is attached, so the hub attaches it on the first
 * `retain()` and detaches it when the last holder releases.
 *
 * The sink itself only appends to an array. Every `batchMs` (or sooner, on the next
 * turn of the event loop, once `maxBatchEvents` are waiting) the batch goes to the
 * history ring and to every consumer, which select, queue, encode and write on their own
 * terms; nothing a consumer does runs inside the engine's call stack.
 */
export class EventHub {
  readonly batchMs: number;
  readonly maxBatchEvents: number;
  readonly historySize: number;
  /** events received since the hub was made */
  received = 0;
  /** seq of the newest event handed to consumers (and to the ring) */
  lastFlushedSeq = 0;
  private pending: TraceEvent[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  /** a flush is due on the next turn (a full batch) */
  private flushQueued = false;
  private readonly ring: Array<TraceEvent | undefined>;
  private ringNext = 0;
  private ringCount = 0;
  private readonly consumers = new Set<HubConsumer>();
  private holders = 0;
  private closed = false;
  /** the state of the run just before the ring's oldest event: events leaving the ring are folded into it */
  private fold: StateFold | undefined;
  /** events up to this seq were traced before the tracer was last detached: they no longer describe what is alive */
  private staleThroughSeq = 0;

  constructor(private readonly options: EventHubOptions = {}) {
    this.batchMs = options.batchMs ?? 20;
    this.maxBatchEvents = options.maxBatchEvents ?? 2048;
    this.historySize = Math.max(0, options.historySize ?? 10_000);
    this.ring = new Array(this.historySize);
    this.fold = options.snapshot === false ? undefined : new StateFold(options.snapshot || {});
  }

  /** Whether the engine's tracer is attached (someone holds the hub). */
  get tracing(): boolean {
    return this.holders > 0;
  }

  /** The tracer sink. Cheap on purpose: it runs inside the engine for every event. */
  readonly sink = (event: TraceEvent): void => {
    this.received++;
    const n = this.pending.push(event);
    if (n === 1) {
      this.timer = setTimeout(this.flush, this.batchMs);
      unref(this.timer);
    } else if (n === this.maxBatchEvents && !this.flushQueued) {
      this.flushQueued = true;
      nextTurn(this.flushIfQueued);
    }
  };

  /**
   * Keeps the tracer attached until the returned function is called (once). A WebSocket
   * client, a recording and "always" tracing each hold the hub.
   */
  retain(): () => void {
    if (this.closed) return () => {};
    if (this.holders++ === 0) {
      // While detached, actors moved and stopped unseen: the state folded so far (and the
      // ring's older events, as they leave) would bring back the dead. Start over.
      if (this.fold && this.received > 0) {
        this.fold = new StateFold(this.options.snapshot || {});
        this.staleThroughSeq = this.lastFlushedSeq;
      }
      this.options.tracer?.attach(this.sink);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holders === 0 && !this.closed) {
        this.flush();
        this.options.tracer?.detach();
      }
    };
  }

  /** Receives every batch, in seq order, from now on; returns the function that removes it. */
  addConsumer(consumer: HubConsumer): () => void {
    this.consumers.add(consumer);
    return () => this.consumers.delete(consumer);
  }

  private readonly flushIfQueued = (): void => {
    if (this.flushQueued) this.flush();
  };

  /** Hands out what is waiting now (also called on the timer). */
  readonly flush = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushQueued = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.lastFlushedSeq = batch[batch.length - 1]!.seq;
    if (this.historySize > 0) this.remember(batch);
    else if (this.fold) for (const e of batch) this.fold.apply(e);
    for (const consumer of this.consumers) {
      try {
        consumer(batch);
      } catch (err) {
        // A consumer's bug must not stop the others (or reach the engine).
        warn(`proxyscope: event consumer failed: ${(err as Error).stack ?? err}`);
      }
    }
  };

  private remember(batch: TraceEvent[]): void {
    const size = this.historySize;
    const start = batch.length > size ? batch.length - size : 0;
    const fold = this.fold;
    if (fold) {
      // What leaves the ring (or never fits in it) goes into the snapshot's state.
      const leaving = Math.min(this.ringCount, Math.max(0, this.ringCount + batch.length - start - size));
      let at = (this.ringNext - this.ringCount + size) % size;
      for (let k = 0; k < leaving; k++) {
        const e = this.ring[at]!;
        if (e.seq > this.staleThroughSeq) fold.apply(e);
        at = at + 1 === size ? 0 : at + 1;
      }
      for (let i = 0; i < start; i++) fold.apply(batch[i]!);
    }
    for (let i = start; i < batch.length; i++) {
      this.ring[this.ringNext] = batch[i];
      this.ringNext = this.ringNext + 1 === size ? 0 : this.ringNext + 1;
    }
    this.ringCount = Math.min(size, this.ringCount + batch.length - start);
  }

  /** The history ring, oldest first: every event handed out so far, up to `historySize`. */
  history(): TraceEvent[] {
    const out: TraceEvent[] = new Array(this.ringCount);
    let at = (this.ringNext - this.ringCount + this.historySize) % Math.max(1, this.historySize);
    for (let i = 0; i < this.ringCount; i++) {
      out[i] = this.ring[at]!;
      at = at + 1 === this.historySize ? 0 : at + 1;
    }
    return out;
  }

  /**
   * The snapshot that goes before `history()`: the real events (in seq order, all older
   * than the ring's) that leave every live actor and in-flight request as folding the
   * whole run would. Empty while the ring still holds everything.
   */
  snapshot(): TraceEvent[] {
    return this.fold ? this.fold.events() : [];
  }

  /** The same snapshot as of the newest event handed out (snapshot and ring folded together), for a recording starting now. */
  snapshotNow(): TraceEvent[] {
    if (!this.fold) return [];
    const now = new StateFold(this.options.snapshot || {});
    for (const e of this.fold.events()) now.apply(e);
    for (const e of this.history()) if (e.seq > this.staleThroughSeq) now.apply(e);
    return now.events();
  }

  /**
   * The traffic counters over every event handed out so far (what left the ring, and the
   * ring), for a recording starting now: its snapshot leaves most of those events out.
   */
  countsNow(): TrafficCounts {
    const counts = this.fold ? { ...this.fold.counts } : zeroCounts();
    for (const e of this.history()) if (e.seq > this.staleThroughSeq) countTraffic(counts, e);
    return counts;
  }

  /** What `snapshot()` would give now (for `hello`), without building it; undefined while nothing has left the ring. */
  snapshotInfo(): SnapshotInfo | undefined {
    if (!this.fold || this.fold.folded === 0) return undefined;
    // size() counts what events() will give
    return { events: this.fold.size().events, lastSeq: this.fold.lastSeq, counts: { ...this.fold.counts } };
  }

  /** Live actors, in-flight requests and events the snapshot holds now, and events folded so far. */
  snapshotSize(): { actors: number; requests: number; events: number; folded: number } {
    return this.fold ? { ...this.fold.size(), folded: this.fold.folded } : { actors: 0, requests: 0, events: 0, folded: 0 };
  }

  /** How many events the ring holds and their seq range, without copying it. */
  historyRange(): { events: number; firstSeq?: number; lastSeq?: number } {
    if (this.ringCount === 0) return { events: 0 };
    const oldest = (this.ringNext - this.ringCount + this.historySize) % this.historySize;
    const newest = (this.ringNext - 1 + this.historySize) % this.historySize;
    return { events: this.ringCount, firstSeq: this.ring[oldest]!.seq, lastSeq: this.ring[newest]!.seq };
  }

  /** Flushes, detaches the tracer, forgets consumers. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.holders > 0) this.options.tracer?.detach();
    this.holders = 0;
    this.consumers.clear();
  }
}
