import { EventBatchEncoder, EventSelector, type ServerMessage, type Subscription, type TraceEvent } from '@proxyscope/protocol';

/**
 * What a client's messages are written to: a `ws` WebSocket on the server, the worker's
 * message channel in the page. `send`'s callback runs once the peer may take more.
 */
export interface StreamSocket {
  /** 1: open (as WebSocket.OPEN) */
  readonly readyState: number;
  /** bytes written and not yet taken by the peer */
  readonly bufferedAmount: number;
  send(text: string, afterWrite: () => void): void;
}

const OPEN = 1;

export interface ClientLimits {
  /** events waiting for this client; past it the oldest are dropped (and announced) */
  maxQueuedEvents: number;
  /** bytes the socket may hold unsent before the client stops getting more */
  maxBufferedBytes: number;
  /** events in one `events` message */
  maxBatchEvents: number;
  /** about this many bytes in one `events` message (fewer events when they are big) */
  maxBatchBytes: number;
  /** other messages (acks, errors, notices) waiting; past it new ones are dropped */
  maxQueuedMessages: number;
}

export const DEFAULT_CLIENT_LIMITS: ClientLimits = {
  maxQueuedEvents: 50_000,
  maxBufferedBytes: 1024 * 1024,
  maxBatchEvents: 2048,
  maxBatchBytes: 256 * 1024,
  maxQueuedMessages: 256,
};

type Item = { kind: 'events'; events: readonly TraceEvent[]; start: number; history: boolean } | { kind: 'message'; text: string };

/** One encoder for every client: encoding is synchronous, so it is never shared at once. */
const encoder = new EventBatchEncoder();

/**
 * One WebSocket viewer: its subscription, its bounded queue and the loop that writes it.
 *
 * Events are queued by reference (the hub's event objects, shared with the ring and every
 * other client) and encoded only when the socket can take them, so a client that reads
 * slowly costs neither encoding nor memory beyond its bounds: when its queue is full the
 * oldest events go, are counted, and a `dropped` notice precedes the next batch. The socket
 * is written only while it holds less than `maxBufferedBytes` unsent; each write's
 * callback restarts the loop once the peer has read.
 */
export class StreamClient<S extends StreamSocket = StreamSocket> {
  selector: EventSelector;
  queuedEvents = 0;
  /** events sent, and characters of every message sent (bytes, for ASCII JSON) */
  sentEvents = 0;
  sentBytes = 0;
  droppedTotal = 0;
  /** messages dropped because too many were waiting (a client sending junk without reading) */
  droppedMessages = 0;
  closed = false;
  private queue: Item[] = [];
  private head = 0;
  private queuedMessages = 0;
  private droppedPending = 0;
  private droppedFrom = 0;
  private droppedTo = 0;
  private stats: string | undefined;
  private blocked = false;
  /** events per batch, adapted to their size so a batch stays near maxBatchBytes */
  private batchEvents: number;
  private pumping = false;
  private drainWaiters: Array<{ below: number; resolve: () => void }> = [];

  constructor(
    readonly ws: S,
    readonly id: number,
    subscription: Subscription | null,
    readonly limits: ClientLimits = DEFAULT_CLIENT_LIMITS,
  ) {
    this.selector = new EventSelector(subscription);
    this.batchEvents = limits.maxBatchEvents;
  }

  get subscription(): Subscription | null {
    return this.selector.subscription;
  }

  /**
   * Events the subscription selects from `events` join the queue (dropping the oldest when
   * it is full); returns how many were selected.
   */
  offer(events: readonly TraceEvent[], history = false): number {
    if (this.closed || events.length === 0) return 0;
    const picked = this.selector.select(events);
    if (picked.length === 0) return 0;
    this.enqueueEvents(picked, history);
    this.pump();
    return picked.length;
  }

  /**
   * Replaces the subscription. Events queued under the old one are discarded (not counted
   * as dropped: the client asked for something else).
   */
  resubscribe(subscription: Subscription | null): void {
    this.selector = new EventSelector(subscription);
    const kept: Item[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const item = this.queue[i]!;
      if (item.kind === 'message') kept.push(item);
    }
    this.queue = kept;
    this.head = 0;
    this.queuedEvents = 0;
    this.resolveDrainWaiters();
  }

  /** Queues a message; messages are never dropped for events, but are bounded too. */
  send(message: ServerMessage): void {
    if (this.closed) return;
    if (this.queuedMessages >= this.limits.maxQueuedMessages) {
      this.droppedMessages++;
      return;
    }
    this.queuedMessages++;
    this.queue.push({ kind: 'message', text: JSON.stringify(message) });
    this.pump();
  }

  /** The latest stats replace any not yet sent (one at most is ever waiting). */
  setStats(text: string): void {
    if (this.closed) return;
    this.stats = text;
    this.pump();
  }

  /** Resolves once fewer than `below` events wait (replay feeds the client at its pace). */
  whenQueueBelow(below: number): Promise<void> {
    if (this.queuedEvents < below || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push({ below, resolve }));
  }

  get held(): number {
    return this.selector.counts.held;
  }

  /** Events the queue keeps alive: the queued ones, plus the already sent or dropped part of a partly used batch. */
  get retainedEvents(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) {
      const item = this.queue[i];
      if (item?.kind === 'events') n += item.events.length;
    }
    return n;
  }

  private enqueueEvents(events: readonly TraceEvent[], history: boolean): void {
    const max = this.limits.maxQueuedEvents;
    let start = 0;
    if (events.length > max) {
      this.countDropped(events, 0, events.length - max);
      start = events.length - max;
    }
    let over = this.queuedEvents + (events.length - start) - max;
    if (over > 0) {
      // Drop the oldest queued events first: a viewer that catches up sees the newest.
      // Emptied items leave the queue at once, so nothing keeps dropped events alive.
      const kept: Item[] = [];
      for (let i = this.head; i < this.queue.length; i++) {
        const item = this.queue[i]!;
        if (item.kind === 'events' && over > 0) {
          const n = Math.min(item.events.length - item.start, over);
          this.countDropped(item.events, item.start, item.start + n);
          item.start += n;
          this.queuedEvents -= n;
          over -= n;
          if (item.start >= item.events.length) continue;
        }
        kept.push(item);
      }
      this.queue = kept;
      this.head = 0;
    }
    this.queue.push({ kind: 'events', events, start, history });
    this.queuedEvents += events.length - start;
  }

  /** Takes the head item off the queue (its slot no longer holds it, so its events can go). */
  private shift(): void {
    this.queue[this.head] = undefined as never;
    this.head++;
  }

  private countDropped(events: readonly TraceEvent[], from: number, to: number): void {
    if (to <= from) return;
    const n = to - from;
    if (this.droppedPending === 0) this.droppedFrom = events[from]!.seq;
    this.droppedFrom = Math.min(this.droppedFrom, events[from]!.seq);
    this.droppedTo = Math.max(this.droppedTo, events[to - 1]!.seq);
    this.droppedPending += n;
    this.droppedTotal += n;
  }

  /** Writes while the socket takes it. */
  pump(): void {
    if (this.pumping || this.closed) return;
    const ws = this.ws;
    if (ws.readyState !== OPEN) return;
    this.pumping = true;
    try {
      while (ws.bufferedAmount < this.limits.maxBufferedBytes) {
        if (this.stats !== undefined) {
          this.write(this.stats);
          this.stats = undefined;
          continue;
        }
        if (this.droppedPending > 0) {
          this.write(
            JSON.stringify({
              type: 'dropped',
              count: this.droppedPending,
              total: this.droppedTotal,
              fromSeq: this.droppedFrom,
              toSeq: this.droppedTo,
              reason: 'slow_client',
            } satisfies ServerMessage),
          );
          this.droppedPending = 0;
          this.droppedTo = 0;
          continue;
        }
        const item = this.nextItem();
        if (!item) break;
        if (item.kind === 'message') {
          this.shift();
          this.queuedMessages--;
          this.write(item.text);
        } else {
          this.writeBatch(item);
          this.nextItem(); // let go of what was just sent
        }
      }
      this.blocked = ws.bufferedAmount >= this.limits.maxBufferedBytes;
    } finally {
      this.pumping = false;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.resolveDrainWaiters();
  }

  private nextItem(): Item | undefined {
    while (this.head < this.queue.length) {
      const item = this.queue[this.head]!;
      if (item.kind === 'events' && item.start >= item.events.length) {
        this.shift();
        continue;
      }
      return item;
    }
    if (this.head > 0) {
      this.queue = [];
      this.head = 0;
    }
    return undefined;
  }

  /** One `events` message: from this item and the event items right after it, same kind. */
  private writeBatch(first: Extract<Item, { kind: 'events' }>): void {
    const max = this.batchEvents;
    let message;
    if (first.events.length - first.start >= max || !this.nextIsEvents(first)) {
      const end = Math.min(first.events.length, first.start + max);
      message = encoder.encode(first.events, first.start, end, first.history);
      this.queuedEvents -= end - first.start;
      first.start = end;
    } else {
      // Small batches queued while the socket was busy go out together.
      const merged: TraceEvent[] = [];
      for (let i = this.head; i < this.queue.length && merged.length < max; i++) {
        const item = this.queue[i]!;
        if (item.kind !== 'events' || item.history !== first.history) break;
        const end = Math.min(item.events.length, item.start + (max - merged.length));
        for (let j = item.start; j < end; j++) merged.push(item.events[j]!);
        this.queuedEvents -= end - item.start;
        item.start = end;
      }
      message = encoder.encode(merged, 0, merged.length, first.history);
    }
    const text = JSON.stringify(message);
    const n = message.events.length;
    this.sentEvents += n;
    this.write(text);
    // Size the next batch from this one's bytes per event.
    this.batchEvents = Math.max(1, Math.min(this.limits.maxBatchEvents, Math.floor(this.limits.maxBatchBytes / Math.max(1, text.length / n))));
  }

  private nextIsEvents(first: Extract<Item, { kind: 'events' }>): boolean {
    const next = this.queue[this.head + 1];
    return next !== undefined && next.kind === 'events' && next.history === first.history;
  }

  private write(text: string): void {
    this.sentBytes += text.length;
    this.ws.send(text, this.afterWrite);
  }

  private readonly afterWrite = (): void => {
    if (this.blocked && !this.closed) this.pump();
  };

  private resolveDrainWaiters(): void {
    if (this.drainWaiters.length === 0) return;
    const waiting = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiting) {
      if (this.closed || this.queuedEvents < w.below) w.resolve();
      else this.drainWaiters.push(w);
    }
  }

  /** Stops queueing; what is queued is released. */
  dispose(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.queuedEvents = 0;
    this.stats = undefined;
    const waiting = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiting) w.resolve();
  }
}
