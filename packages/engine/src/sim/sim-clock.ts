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

  /**
   * Await one of the engine's few promises (start, stop) on virtual time: between platform
   * turns (its continuations need them) fire one event at a time (its progress needs them).
   * Posted work is run, then the platform gets a turn before time moves on, since it may
   * settle what is awaited (a DNS cluster's first answer). Throws when nothing is left to
   * happen and the promise is still pending.
   */
  async settle<T>(promise: Promise<T>, what: string): Promise<T> {
    let settled = false;
    let value: T | undefined;
    let failure: unknown;
    promise.then(
      (v) => {
        settled = true;
        value = v;
      },
      (error: unknown) => {
        settled = true;
        failure = error ?? new Error(`${what} failed`);
      },
    );
    let idleTurns = 0;
    while (!settled) {
      await platformTurn();
      if (settled) break;
      if (this.hasPosted) {
        this.drain();
        idleTurns = 0;
      } else if (this.fireNext()) {
        idleTurns = 0;
      } else if (++idleTurns > 50) {
        throw new Error(`nothing left to happen at ${this.now()} ms of virtual time, and still waiting for ${what}`);
      }
    }
    if (failure !== undefined) throw failure;
    return value as T;
  }
}

/** One turn of the platform's event loop, so promise continuations run. */
function platformTurn(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => void }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : globalThis.setTimeout(resolve, 0)));
}
