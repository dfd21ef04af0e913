import { Heap } from 'heap-js';

/**
 * Every timer in the engine goes through a Clock, so tests and simulations can drive
 * time exactly and stepping can freeze it. The shape matches xstate's `clock` option,
 * plus `post`: Event::Dispatcher::post, work to run once the current step is over.
 */
export type TimerId = unknown;

export interface Clock {
  /** milliseconds on this clock's own timeline */
  now(): number;
  /**
   * Milliseconds since the Unix epoch, for what a user reads as a date (an access log's
   * START_TIME, a rate-limit reset given as a timestamp). Only the real clock reads the
   * system's: a manual clock's dates follow its own time, so a run is the same every time.
   */
  wallTime(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
  /**
   * Run `fn` after the current callback returns, before anything else happens (a
   * microtask on a real event loop). A simulated clock runs its own queue instead, so a
   * run on virtual time never waits on the platform's microtask queue. Absent: a microtask.
   */
  post?(fn: () => void): void;
}

/** Dispatcher::post on `clock`: its own queue if it has one, else a microtask. */
export function post(clock: Clock, fn: () => void): void {
  if (clock.post) clock.post(fn);
  else queueMicrotask(fn);
}

export const realClock: Clock = {
  now: () => performance.now(),
  wallTime: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id as ReturnType<typeof setTimeout>),
};

interface Timer {
  due: number;
  /** insertion order: timers due at the same time fire in the order they were set */
  seq: number;
  fn: (() => void) | undefined;
}

const byDueThenSeq = (a: Timer, b: Timer): number => a.due - b.due || a.seq - b.seq;

/**
 * A clock that moves only when told to: a discrete-event scheduler on a binary heap.
 * Timers fire in due order, ties in the order they were set, and time never goes
 * backwards. A cleared timer stays in the heap, emptied, until it surfaces or the heap is
 * rebuilt: clearing is O(1) amortized and a hundred thousand pending timers cost a
 * logarithm per fire, not a scan.
 */
export class ManualClock implements Clock {
  private time = 0;
  private seq = 0;
  private live = 0;
  private readonly heap = new Heap<Timer>(byDueThenSeq);

  /** `epochMs`: the date its time 0 stands for */
  constructor(private readonly epochMs = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.time;
  }

  wallTime(): number {
    return this.epochMs + this.time;
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): TimerId {
    const timer: Timer = { due: this.time + (ms > 0 ? ms : 0), seq: this.seq++, fn: fn as () => void };
    this.heap.push(timer);
    this.live++;
    return timer;
  }

  clearTimeout(id: TimerId): void {
    const timer = id as Timer | undefined;
    if (!timer || timer.fn === undefined) return;
    timer.fn = undefined;
    this.live--;
    // Most timers are cleared long before they are due (a route timeout, an hour's idle
    // timeout); rebuilt once they outnumber the live ones, the heap stays in proportion to
    // what is pending, however long the run.
    if (this.heap.length > 1024 && this.heap.length > 4 * this.live) this.heap.init(this.heap.toArray().filter((t) => t.fn !== undefined));
  }

  /** Advance by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError('ManualClock cannot go back in time');
    const target = this.time + ms;
    while (this.fireNext(target)) {
      // each fire may set more timers, due before the target too
    }
    this.time = target;
  }

  /** When the next timer is due, or undefined when none is pending. */
  nextDue(): number | undefined {
    this.dropCleared();
    return this.heap.peek()?.due;
  }

  /**
   * Fire the earliest timer if it is due at or before `limit`, moving time to it.
   * False when there is none.
   */
  fireNext(limit = Infinity): boolean {
    this.dropCleared();
    const timer = this.heap.peek();
    if (!timer || timer.due > limit) return false;
    this.heap.pop();
    const fn = timer.fn!;
    timer.fn = undefined;
    this.live--;
    if (timer.due > this.time) this.time = timer.due;
    fn();
    return true;
  }

  pendingTimers(): number {
    return this.live;
  }

  private dropCleared(): void {
    while (this.heap.length > 0 && this.heap.peek()!.fn === undefined) this.heap.pop();
  }
}
