import { MAX_BREAKPOINTS, STEPPABLE_MACHINES, type Breakpoint, type HeldRequest, type MachineKind, type SteppableMachine } from '@proxyscope/protocol';
import type { AnyActor } from 'xstate';
import type { Clock } from './clock';
import { StreamClock } from './stream-clock';
import type { ActorMeta, Tracer } from './tracer';

/**
 * Step mode for live traffic: a debugger for requests. A breakpoint names a machine kind
 * and a state ("router in route_matched"); a request whose machine enters that state is
 * held there: the rest of the work that would have run is parked, everything that later
 * arrives for the request (body bytes, upstream response, pool callbacks) queues behind it,
 * and its timers freeze. `step` runs the parked work until exactly one more state change of
 * that request; `resume` lets it run free again. Other requests are not affected.
 *
 * The engine's code is callback-driven, as Envoy's is, so "parking the rest" needs no
 * threads: each request-path class reports its transitions through `StreamSteps.after` and
 * passes its continuation; inputs go through `StreamSteps.run`. Without the controller
 * (or for requests that began while no breakpoint was set) both run the work at once.
 */


/** What stream-scoped code calls around its transitions and inputs. */
export interface StreamSteps {
  /** Work that arrives for the request (an input or a call that must keep its order). */
  run(work: () => void): void;
  /** `actor` just entered a state: continue with `rest` now, or hold the request here. */
  after(meta: ActorMeta, actor: AnyActor, rest?: () => void): void;
  /** The request ended: nothing parked will run. */
  end(): void;
  /** The request's clock: frozen while it is held. */
  readonly clock: Clock;
}

/** For requests no controller watches: everything runs at once, on the engine's clock. */
export function directSteps(clock: Clock): StreamSteps {
  return {
    clock,
    run: (work) => work(),
    after: (_meta, _actor, rest) => rest?.(),
    end: () => {},
  };
}

export type HeldStream = HeldRequest;

export interface StepResult {
  /** state changes the step made (0 or 1; 0 when the request waits for I/O) */
  transitions: number;
  /** what ran: parked work, or the earliest frozen timer */
  ran: 'work' | 'timer' | 'nothing';
  /** the request ended during the step */
  ended: boolean;
  held?: HeldStream;
}

/** A step-mode request refused; `field` names what was wrong (dotted, as the stream's errors do). */
export class StepError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'StepError';
  }
}

/** Requests step mode watches at once; later ones run free until some end. */
export const MAX_WATCHED_REQUESTS = 1000;


/**
 * Owns the breakpoints, the "pause all" switch and every held request of one engine.
 * Breakpoints are engine-wide (everyone watching sees the same held requests).
 */
export class StepController {
  private breakpoints: Breakpoint[] = [];
  private pauseAllOn = false;
  private readonly gates = new Map<number, StreamGate>();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly tracer: Tracer,
    /** each steppable machine's state names, to refuse a breakpoint that can never match */
    private readonly statesOf: Record<SteppableMachine, readonly string[]>,
  ) {}

  /** New requests get a gate only while something could hold them: no cost otherwise. */
  get armed(): boolean {
    return this.pauseAllOn || this.breakpoints.length > 0;
  }

  get pauseAll(): boolean {
    return this.pauseAllOn;
  }

  get breakpointList(): readonly Breakpoint[] {
    return this.breakpoints;
  }

  /** Replace the breakpoints (validated: steppable machine, a state it has). */
  setBreakpoints(list: readonly Breakpoint[]): void {
    if (list.length > MAX_BREAKPOINTS) throw new StepError('breakpoints', `at most ${MAX_BREAKPOINTS} breakpoints (got ${list.length})`);
    for (const [i, bp] of list.entries()) {
      const states = this.statesOf[bp.machine as SteppableMachine];
      if (!states) {
        throw new StepError(`breakpoints.${i}.machine`, `breakpoints[${i}].machine: ${bp.machine} is not one of a request's machines (${STEPPABLE_MACHINES.join(', ')})`);
      }
      if (!states.includes(bp.state)) {
        throw new StepError(`breakpoints.${i}.state`, `breakpoints[${i}].state: ${bp.machine} has no state "${bp.state}" (it has ${states.join(', ')})`);
      }
    }
    this.breakpoints = list.map((bp) => ({ machine: bp.machine, state: bp.state }));
    this.changed();
  }

  /** Hold every watched request at its next state change (and every new one as it starts). */
  setPauseAll(on: boolean): void {
    this.pauseAllOn = on;
    this.changed();
  }

  /** No breakpoints, no pause all, nothing held: the state with nobody at the controls. */
  clear(): void {
    this.breakpoints = [];
    this.pauseAllOn = false;
    this.resume();
    this.changed();
  }

  held(): HeldStream[] {
    const out: HeldStream[] = [];
    for (const gate of this.gates.values()) {
      const h = gate.describe();
      if (h) out.push(h);
    }
    return out;
  }

  step(stream: number): StepResult {
    return this.gateOf(stream).step();
  }

  /** Let one held request (or, without `stream`, all of them) run free. */
  resume(stream?: number): number {
    if (stream !== undefined) {
      this.gateOf(stream).resume();
      return 1;
    }
    let n = 0;
    for (const gate of [...this.gates.values()]) {
      if (gate.isHeld) {
        gate.resume();
        n++;
      }
    }
    return n;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A gate for a new request, or direct steps when nothing could hold it. Past
   * MAX_WATCHED_REQUESTS watched at once (pause all left on under load), new requests run
   * free: held requests keep their connections, and that must not grow without bound.
   */
  stepsFor(stream: number, meta: ActorMeta, clock: Clock): StreamSteps {
    if (!this.armed || this.gates.size >= MAX_WATCHED_REQUESTS) return directSteps(clock);
    const gate = new StreamGate(this, stream, meta, new StreamClock(clock), this.tracer);
    this.gates.set(stream, gate);
    return gate;
  }

  /** @internal a gate decides whether `state` of `machine` is a breakpoint */
  matches(machine: MachineKind, state: string): 'breakpoint' | 'pause_all' | undefined {
    if (this.pauseAllOn) return 'pause_all';
    for (const bp of this.breakpoints) if (bp.machine === machine && bp.state === state) return 'breakpoint';
    return undefined;
  }

  /** @internal */
  forget(stream: number): void {
    if (this.gates.delete(stream)) this.changed();
  }

  /** @internal */
  changed(): void {
    for (const l of this.listeners) l();
  }

  private gateOf(stream: number): StreamGate {
    const gate = this.gates.get(stream);
    if (!gate || !gate.isHeld) throw new StepError('stream', `request ${stream} is not held`);
    return gate;
  }
}

type Mode = 'free' | 'held';

/**
 * One request's gate. `queue` is what waits while the request is held, in order; while a
 * step runs, work parked by that step goes to `parkedNow` and is put in front of the older
 * queue afterwards, so a continuation always runs before inputs that arrived later.
 */
export class StreamGate implements StreamSteps {
  private mode: Mode = 'free';
  private queue: Array<() => void> = [];
  /** set while `step` (or `resume`) runs queued work */
  private parkedNow: Array<() => void> | null = null;
  private transitionsNow = 0;
  private stepping = false;
  private at: { machine: MachineKind; state: string; actor: string; reason: HeldStream['reason'] } | undefined;
  private ended = false;
  private lastStep: number | undefined;

  constructor(
    private readonly controller: StepController,
    readonly stream: number,
    private readonly meta: ActorMeta,
    readonly clock: StreamClock,
    private readonly tracer: Tracer,
  ) {}

  get isHeld(): boolean {
    return this.mode === 'held' && !this.ended;
  }

  run(work: () => void): void {
    if (this.ended) return work();
    if (this.parkedNow !== null) {
      // Inside a step: once something parked, later work waits behind it.
      if (this.parkedNow.length > 0 || this.stepping) this.parkedNow.push(work);
      else work();
      return;
    }
    if (this.mode === 'held') this.queue.push(work);
    else work();
  }

  after(meta: ActorMeta, actor: AnyActor, rest?: () => void): void {
    if (this.ended) return rest?.();
    const state = stateName(actor);
    this.transitionsNow++;
    const reason = this.holdReason(meta.machine, state);
    if (reason === undefined) {
      if (rest) this.run(rest);
      return;
    }
    this.at = { machine: meta.machine, state, actor: meta.actor, reason };
    if (this.parkedNow !== null) {
      this.stepping = true;
      if (rest) this.parkedNow.push(rest);
    } else {
      if (rest) this.queue.push(rest);
    }
    if (this.mode !== 'held') {
      this.mode = 'held';
      this.clock.pause();
      this.tracer.fact(this.meta, 'step.held', { machine: meta.machine, state, actor: meta.actor, reason });
    }
    if (this.parkedNow === null) this.controller.changed();
  }

  /** Run parked work until one state change (or nothing is left); fire a frozen timer when only time would move it on. */
  step(): StepResult {
    const before = this.transitionsNow;
    let ran: StepResult['ran'] = 'nothing';
    this.parkedNow = [];
    this.stepping = false;
    try {
      while (this.queue.length > 0 && this.transitionsNow === before && !this.ended) {
        const work = this.queue.shift()!;
        ran = 'work';
        work();
        this.queue = this.parkedNow.concat(this.queue);
        this.parkedNow = [];
        this.stepping = false;
      }
      if (ran === 'nothing' && !this.ended && this.clock.fireNext()) {
        ran = 'timer';
        this.queue = this.parkedNow.concat(this.queue);
      }
    } finally {
      this.parkedNow = null;
      this.stepping = false;
    }
    const transitions = this.transitionsNow - before;
    this.lastStep = transitions;
    if (this.at && transitions > 0 && this.at.reason !== 'step' && !this.ended) this.at = { ...this.at, reason: 'step' };
    this.controller.changed();
    return { transitions, ran, ended: this.ended, held: this.describe() };
  }

  resume(): void {
    if (this.mode !== 'held') return;
    this.mode = 'free';
    this.at = undefined;
    this.clock.resume();
    if (!this.ended) this.tracer.fact(this.meta, 'step.released', { parked: this.queue.length });
    // Work runs in order; a breakpoint met on the way holds the request again, and what
    // was still waiting stays behind the new hold.
    const waiting = this.queue;
    this.queue = [];
    while (waiting.length > 0 && !this.ended) {
      const work = waiting.shift()!;
      work();
      // `work` may have met a breakpoint (narrowing cannot see that)
      if ((this.mode as Mode) === 'held') {
        this.queue = this.queue.concat(waiting);
        break;
      }
    }
    this.controller.changed();
  }

  /** The request ended (completed, reset, connection closed): nothing parked will run. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue = [];
    this.clock.dispose();
    this.controller.forget(this.stream);
  }

  describe(): HeldStream | undefined {
    if (!this.isHeld || !this.at) return undefined;
    return {
      stream: this.stream,
      actor: this.meta.actor,
      machine: this.at.machine,
      state: this.at.state,
      machineActor: this.at.actor,
      reason: this.at.reason,
      parked: this.queue.length,
      timers: this.clock.pendingTimers(),
      ...(this.lastStep !== undefined ? { lastStep: this.lastStep } : {}),
    };
  }

  private holdReason(machine: MachineKind, state: string): HeldStream['reason'] | undefined {
    // A step stops at the first state change it makes.
    if (this.parkedNow !== null) return this.mode === 'held' ? 'step' : this.controller.matches(machine, state);
    if (this.mode === 'held') return 'step';
    return this.controller.matches(machine, state);
  }
}

function stateName(actor: AnyActor): string {
  const value = actor.getSnapshot().value as unknown;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
