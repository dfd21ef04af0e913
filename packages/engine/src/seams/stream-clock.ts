import { post, type Clock, type TimerId } from './clock';

interface FrozenTimer {
  /** due on this clock's timeline */
  due: number;
  fn: () => void;
  /** the engine clock's timer while running */
  handle: TimerId | undefined;
}

/**
 * One held request's view of the engine clock. While paused its time stands still and its
 * timers (route and per-try timeouts, retry back-off) wait; on resume they are re-armed
 * with what was left, so a request held for a minute does not time out when released.
 * `fireNext` lets a step move a held request's time to its next timer.
 */
export class StreamClock implements Clock {
  private paused = false;
  /** engine-clock ms this clock has stood still in all */
  private offset = 0;
  private pausedAt = 0;
  private nextId = 1;
  private readonly timers = new Map<number, FrozenTimer>();

  constructor(private readonly base: Clock) {}

  now(): number {
    return (this.paused ? this.pausedAt : this.base.now()) - this.offset;
  }

  /** Dates do not stand still for a held request. */
  wallTime(): number {
    return this.base.wallTime();
  }

  /** Posted work is not a timer: it runs on the engine's dispatcher, held or not. */
  post(fn: () => void): void {
    post(this.base, fn);
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): TimerId {
    const id = this.nextId++;
    const timer: FrozenTimer = { due: this.now() + Math.max(0, ms), fn: fn as () => void, handle: undefined };
    this.timers.set(id, timer);
    if (!this.paused) this.arm(id, timer);
    return id;
  }

  clearTimeout(id: TimerId): void {
    const timer = this.timers.get(id as number);
    if (!timer) return;
    if (timer.handle !== undefined) this.base.clearTimeout(timer.handle);
    this.timers.delete(id as number);
  }

  pause(): void {
    if (this.paused) return;
    this.pausedAt = this.base.now();
    this.paused = true;
    for (const timer of this.timers.values()) {
      if (timer.handle !== undefined) this.base.clearTimeout(timer.handle);
      timer.handle = undefined;
    }
  }

  resume(): void {
    if (!this.paused) return;
    this.offset += this.base.now() - this.pausedAt;
    this.paused = false;
    for (const [id, timer] of this.timers) this.arm(id, timer);
  }

  /** While paused: move this clock to its earliest timer and fire it. False when there is none. */
  fireNext(): boolean {
    let next: [number, FrozenTimer] | undefined;
    for (const entry of this.timers) if (!next || entry[1].due < next[1].due) next = entry;
    if (!next) return false;
    const [id, timer] = next;
    this.timers.delete(id);
    if (this.paused && timer.due > this.now()) this.offset = this.pausedAt - timer.due;
    timer.fn();
    return true;
  }

  pendingTimers(): number {
    return this.timers.size;
  }

  dispose(): void {
    for (const timer of this.timers.values()) if (timer.handle !== undefined) this.base.clearTimeout(timer.handle);
    this.timers.clear();
  }

  private arm(id: number, timer: FrozenTimer): void {
    timer.handle = this.base.setTimeout(() => {
      this.timers.delete(id);
      timer.fn();
    }, Math.max(0, timer.due - this.now()));
  }
}
