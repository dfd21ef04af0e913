import type { Simulation } from '@proxyscope/engine/sim';
import type { SimClock, SimSpeed } from '@proxyscope/protocol';
import type { EventHub } from './event-hub';
import type { StreamClient } from './stream-client';
import { nextTurn } from './next-turn';

/**
 * Drives a served simulation's virtual time from real time. At speed 1 or 10, every
 * ~20 ms of real time moves virtual time on by the real time that passed, times the
 * speed (a slow tick is not made up for beyond TICK_CATCH_UP_MS, so a run the CPU cannot
 * keep up with runs slower than asked instead of freezing the event loop). At max it runs
 * slices of a few ms of CPU each, yielding to the event loop between them so the
 * WebSocket keeps flowing. Before every advance it waits until each viewer's queue is
 * below half full: a run never outruns the people watching it, and nothing is dropped
 * for going fast.
 *
 * The simulation itself is one synchronous loop on virtual time; where the pacer cuts it
 * into slices does not change what happens in it, so a served run is the same run as
 * `proxyscope simulate` prints, as long as nobody injects a fault.
 */

export const TICK_MS = 20;
/** the most real time one tick accounts for (a tick that came late is not made up beyond it) */
const TICK_CATCH_UP_MS = 100;
/** CPU budget of one slice at max speed */
const SLICE_MS = 8;
/** CPU budget of one tick at 1x and 10x: a run heavier than that goes slower than asked instead of stalling the server */
const TICK_CPU_MS = 15;
/** at most this many events traced in one slice or tick, so one batch stays small */
const SLICE_EVENTS = 4096;
/** how often a running clock is announced (real ms) */
const CLOCK_EVERY_MS = 100;

export interface PacerOptions {
  sim: Simulation;
  hub: EventHub;
  /** the viewers, whose queues pace a fast run */
  clients: () => Iterable<StreamClient>;
  speed: SimSpeed;
  paused: boolean;
  /** the clock changed, or a running clock's periodic announcement is due */
  onClock(clock: SimClock): void;
  /** virtual time moved (after a tick or an advance): hosts may have changed */
  onAdvance?(): void;
  /** the run has just finished (called once) */
  onFinished(): void;
  /** running the simulation threw: the pacer stops; the server keeps serving what there is */
  onError(error: Error): void;
}

export class Pacer {
  speed: SimSpeed;
  paused: boolean;
  /** set when the simulation threw; virtual time no longer moves */
  failed: Error | undefined;
  private closed = false;
  private finishedSeen = false;
  private wake: (() => void) | undefined;
  private lastClockAt = 0;
  private loopDone: Promise<void> | undefined;

  constructor(private readonly options: PacerOptions) {
    this.speed = options.speed;
    this.paused = options.paused;
  }

  get sim(): Simulation {
    return this.options.sim;
  }

  get finished(): boolean {
    return this.sim.finished;
  }

  clock(): SimClock {
    const next = this.sim.clock.nextDue();
    return {
      t: round(this.sim.now()),
      paused: this.paused,
      speed: this.speed,
      finished: this.sim.finished,
      ...(next !== undefined && !this.sim.finished ? { nextEventT: round(next) } : {}),
    };
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  pause(): void {
    this.paused = true;
    this.changed();
  }

  resume(): void {
    this.paused = false;
    this.changed();
  }

  setSpeed(speed: SimSpeed): void {
    this.speed = speed;
    this.changed();
  }

  /**
   * Runs virtual time forward: by `ms`, or to the next scheduled event (to the end of the
   * run when nothing is scheduled). As fast as it can, in slices that wait for the viewers
   * like max speed does, so a long advance neither drops events nor stalls the server.
   * Resolves once virtual time is there (or the run is over), its events handed out.
   */
  async advance(ms?: number): Promise<{ from: number; to: number }> {
    const { sim, hub } = this.options;
    const from = sim.now();
    const target = ms === undefined ? (sim.clock.nextDue() ?? Infinity) : from + ms;
    while (!this.closed && !sim.finished && !this.failed && sim.now() < target) {
      await this.viewersCaughtUp();
      this.run(() => this.runTo(target, SLICE_MS));
      hub.flush();
      if (sim.now() >= target || sim.finished || this.failed) break;
      this.afterAdvance();
      await new Promise<void>((resolve) => nextTurn(resolve));
    }
    hub.flush();
    this.afterAdvance();
    this.changed();
    return { from: round(from), to: round(sim.now()) };
  }

  /** Work done for a viewer (a step, a fault) may have posted more: run it now, as a microtask would run live. */
  settle(): void {
    this.run(() => this.sim.clock.drain());
    this.options.hub.flush();
  }

  /** Stops moving time. The loop ends at its next turn (one waiting on a stalled viewer ends when the viewer is closed). */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  private changed(): void {
    this.lastClockAt = performance.now();
    this.options.onClock(this.clock());
    this.wake?.();
  }

  private run(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.failed = error as Error;
      this.options.onError(this.failed);
    }
  }

  private afterAdvance(): void {
    this.options.onAdvance?.();
    if (this.sim.finished && !this.finishedSeen) {
      this.finishedSeen = true;
      this.options.onFinished();
    }
  }

  private idle(): boolean {
    return this.paused || this.sim.finished || this.failed !== undefined;
  }

  private async loop(): Promise<void> {
    const { sim, hub } = this.options;
    let last = performance.now();
    while (!this.closed) {
      if (this.idle()) {
        await this.sleep(Infinity);
        last = performance.now();
        continue;
      }
      await this.viewersCaughtUp();
      if (this.closed || this.idle()) continue;
      if (this.speed === 'max') {
        this.run(() => this.runTo(Infinity, SLICE_MS));
        await new Promise<void>((resolve) => nextTurn(resolve));
      } else {
        await this.sleep(TICK_MS);
        if (this.closed || this.idle()) {
          last = performance.now();
          continue;
        }
        const now = performance.now();
        const elapsed = Math.min(now - last, TICK_CATCH_UP_MS);
        last = now;
        const target = sim.now() + elapsed * this.speed;
        this.run(() => this.runTo(target, TICK_CPU_MS));
      }
      hub.flush();
      this.afterAdvance();
      if (this.sim.finished || this.failed || performance.now() - this.lastClockAt >= CLOCK_EVERY_MS) this.changed();
    }
  }

  /**
   * Runs whole instants of virtual time up to `target`, until the CPU budget or the event
   * budget is spent (then virtual time stops short of `target`: the run goes slower than
   * asked). Every advance starts with each viewer's queue below half full and adds at most
   * a quarter of the smallest queue (plus what one instant makes), so it never overflows one.
   */
  private runTo(target: number, cpuMs: number): void {
    const { sim, hub } = this.options;
    const start = performance.now();
    const received = hub.received;
    let budget = SLICE_EVENTS;
    for (const client of this.options.clients()) budget = Math.min(budget, Math.max(1, Math.floor(client.limits.maxQueuedEvents / 4)));
    while (!sim.finished) {
      if (hub.received - received >= budget || performance.now() - start >= cpuMs) return;
      const next = sim.clock.nextDue();
      if (next === undefined || next > target) break;
      sim.runUntil(next);
    }
    // Nothing more is due before the target: stand there.
    if (!sim.finished && sim.now() < target) sim.runUntil(target);
  }

  /** Waits until every viewer's queue is below half full. */
  private async viewersCaughtUp(): Promise<void> {
    for (const client of this.options.clients()) {
      if (this.closed) return;
      await client.whenQueueBelow(client.limits.maxQueuedEvents / 2);
    }
  }

  /** Sleeps `ms` of real time, or until the clock's state changes. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      const self = this;
      function done(): void {
        if (timer) clearTimeout(timer);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
