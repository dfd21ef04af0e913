import { ManualClock } from '../seams/clock';

/**
 * The simulation's event loop: a ManualClock (timers on a heap, ties in insertion order)
 * that is also the dispatcher. Work the engine posts (Dispatcher::post, see seams/clock.ts)
 * runs from its own queue right after the callback that posted it, as microtasks run after
 * a callback on a real event loop, so a run on virtual time is one synchronous loop that
 * never waits on the platform and is the same every time.
 */
export class SimClock extends ManualClock {
  private posted: Array<() => void> = [];
  private postedHead = 0;
  /** events fired (timers and posted work), for the speed figures */
  fired = 0;

  post(fn: () => void): void {
    this.posted.push(fn);
  }

  /** Posted work is waiting to run. */
  get hasPosted(): boolean {
    return this.postedHead < this.posted.length;
  }

  /** Run posted work, and whatever it posts, until none is left. */
  drain(): void {
    while (this.postedHead < this.posted.length) {
      const fn = this.posted[this.postedHead]!;
      this.posted[this.postedHead++] = undefined as never;
      this.fired++;
      fn();
    }
    if (this.postedHead > 0) {
      this.posted = [];
      this.postedHead = 0;
    }
  }

  override fireNext(limit = Infinity): boolean {
    this.drain();
    if (!super.fireNext(limit)) return false;
    this.fired++;
    this.drain();
    return true;
  }

  /** Fire everything due up to `time`, then stand at `time`. */
  runUntil(time: number): void {
    if (time > this.now()) this.advance(time - this.now());
    else this.drain();
  }

  /** Nothing is due and nothing is posted: the world has stopped. */
  idle(): boolean {
    return this.postedHead >= this.posted.length && this.nextDue() === undefined;
  }
}
