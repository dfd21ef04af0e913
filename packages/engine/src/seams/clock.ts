/**
 * Every timer in the engine goes through a Clock, so tests and simulations can drive
 * time exactly and stepping can freeze it. The shape matches xstate's `clock` option.
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
}

export const realClock: Clock = {
  now: () => performance.now(),
  wallTime: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id as ReturnType<typeof setTimeout>),
};

/**
 * A clock that moves only when told to. Timers fire in due order, ties in the order they
 * were set, and time never goes backwards.
 */
export class ManualClock implements Clock {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { due: number; fn: () => void }>();

  /** `epochMs`: the date its time 0 stands for */
  constructor(private readonly epochMs = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.time;
  }

  wallTime(): number {
    return this.epochMs + this.time;
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): TimerId {
    const id = this.nextId++;
    this.timers.set(id, { due: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(id: TimerId): void {
    this.timers.delete(id as number);
  }

  /** Advance by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError('ManualClock cannot go back in time');
    const target = this.time + ms;
    for (;;) {
      let nextId = -1;
      let nextDue = Infinity;
      for (const [id, timer] of this.timers) {
        if (timer.due <= target && timer.due < nextDue) {
          nextDue = timer.due;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const timer = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.time = timer.due;
      timer.fn();
    }
    this.time = target;
  }

  pendingTimers(): number {
    return this.timers.size;
  }
}
