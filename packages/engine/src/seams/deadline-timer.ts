import type { Clock, TimerId } from './clock';

/**
 * One clock timer standing for a deadline that moves often, such as "5 minutes after the
 * stream's last activity". Moving the deadline later is an assignment: the clock timer
 * still wakes at the old time, sees the new deadline and sleeps again until then. Only an
 * earlier deadline re-arms the clock timer at once. So a busy keep-alive connection costs
 * one wake-up per timeout period, not a setTimeout/clearTimeout per request or per chunk.
 *
 * (Envoy's ActiveStream::resetIdleTimer re-arms its timer on every event, with a TODO to do
 * exactly this: "only updating a timestamp here and doing periodic checks".)
 */
export class DeadlineTimer {
  /** engine-clock ms at which `onExpire` runs; Infinity = not set */
  private deadline = Infinity;
  /** when the clock timer wakes; Infinity = no clock timer */
  private wakeAt = Infinity;
  private timer: TimerId | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly onExpire: () => void,
  ) {}

  get armed(): boolean {
    return this.deadline !== Infinity;
  }

  /** Expire `ms` from now (replacing any earlier or later deadline). */
  setFromNow(ms: number): void {
    this.set(this.clock.now() + ms);
  }

  /** Expire at `deadline` on the engine clock. */
  set(deadline: number): void {
    this.deadline = deadline;
    if (deadline < this.wakeAt) this.wake(deadline);
  }

  /** No deadline. The clock timer, if any, wakes to nothing (see `stop` to free it now). */
  clear(): void {
    this.deadline = Infinity;
  }

  /** No deadline and no clock timer: for owners that are going away. */
  stop(): void {
    this.deadline = Infinity;
    this.wakeAt = Infinity;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private wake(at: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = this.clock.setTimeout(() => this.onWake(), Math.max(0, at - this.clock.now()));
  }

  private onWake(): void {
    this.timer = undefined;
    this.wakeAt = Infinity;
    if (this.deadline === Infinity) return;
    if (this.clock.now() >= this.deadline) {
      this.deadline = Infinity;
      this.onExpire();
    } else {
      // A real clock may wake a fraction of a millisecond early: sleep at least 1 ms more.
      const remaining = this.deadline - this.clock.now();
      this.wakeAt = this.deadline;
      this.timer = this.clock.setTimeout(() => this.onWake(), Math.max(1, remaining));
    }
  }
}
