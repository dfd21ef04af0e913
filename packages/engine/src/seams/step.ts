import { MAX_BREAKPOINTS, STEPPABLE_MACHINES, type Breakpoint, type BreakpointCondition, type HeldRequest, type MachineKind, type SteppableMachine } from '@proxyscope/protocol';
import type { AnyActor } from 'xstate';
import type { StreamInfo } from '../http/stream-info';
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
 *
 * A breakpoint may be narrowed (`when`: route, cluster, host, path prefix, a header) and
 * may be `once`. The condition is read from the request's StreamInfo at the hold point, so
 * it sees what the request knows there: the route from `router` `route_matched` on, the
 * cluster from `cluster_selected`, the host from `host_selected`. Before that such a
 * condition does not match; where it never can (the route at `stream` `decoding_headers`)
 * the breakpoint is refused.
 */

/** What a request knows at a hold point: StreamInfo's view of it. */
export type RequestFacts = Pick<StreamInfo, 'request' | 'routeName' | 'upstreamCluster' | 'upstreamHost' | 'requestHeader'>;

/**
 * The holds that come before a fact is known, per machine: a condition on it can never
 * match there. The other states of these machines, and every state of `upstream_request`
 * and `retry`, come after the host is picked (or after a local reply that may have none).
 */
const NOT_YET_KNOWN: Partial<Record<SteppableMachine, Record<string, ReadonlyArray<'route' | 'cluster' | 'host'>>>> = {
  stream: { decoding_headers: ['route', 'cluster', 'host'] },
  router: { matching_route: ['route', 'cluster', 'host'], route_matched: ['cluster', 'host'], cluster_selected: ['host'] },
};

/** The stage that first knows each routed fact, for the refusal's hint. */
const KNOWN_AT = { route: 'router route_matched', cluster: 'router cluster_selected', host: 'router host_selected' } as const;


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

  /** other names of an upstream host (`ip:port`), such as the demo's `web-2`; set by the server */
  private hostNames: (hostKey: string) => readonly string[] = () => [];

  constructor(
    private readonly tracer: Tracer,
    /** each steppable machine's state names, to refuse a breakpoint that can never match */
    private readonly statesOf: Record<SteppableMachine, readonly string[]>,
  ) {}

  /** How a `host` condition may name a host besides its address (the demo's and a simulation's host names). */
  setHostNames(names: (hostKey: string) => readonly string[]): void {
    this.hostNames = names;
  }

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
      const early = NOT_YET_KNOWN[bp.machine]?.[bp.state] ?? [];
      for (const field of early) {
        if (bp.when?.[field] === undefined) continue;
        throw new StepError(
          `breakpoints.${i}.when.${field}`,
          `breakpoints[${i}].when.${field}: at ${bp.machine} ${bp.state} the request has no ${field} yet, so this never holds anything (the ${field} is known from ${KNOWN_AT[field]} on)`,
        );
      }
    }
    this.breakpoints = list.map(copyBreakpoint);
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
  stepsFor(stream: number, meta: ActorMeta, clock: Clock, facts?: RequestFacts): StreamSteps {
    if (!this.armed || this.gates.size >= MAX_WATCHED_REQUESTS) return directSteps(clock);
    const gate = new StreamGate(this, stream, meta, new StreamClock(clock), this.tracer, facts);
    this.gates.set(stream, gate);
    return gate;
  }

  /**
   * @internal a gate decides whether `state` of `machine` is a breakpoint for its request;
   * a `once` breakpoint that matches is removed here, so it holds this request only.
   */
  matches(machine: MachineKind, state: string, facts: RequestFacts | undefined): { reason: 'breakpoint' | 'pause_all'; by?: Breakpoint } | undefined {
    if (this.pauseAllOn) return { reason: 'pause_all' };
    for (const bp of this.breakpoints) {
      if (bp.machine !== machine || bp.state !== state) continue;
      if (bp.when && !this.conditionHolds(bp.when, facts)) continue;
      if (bp.once) {
        this.breakpoints = this.breakpoints.filter((x) => x !== bp);
        this.changed();
      }
      return { reason: 'breakpoint', by: bp };
    }
    return undefined;
  }

  /** Every field of `when` matches what the request knows now; an unknown fact matches nothing. */
  private conditionHolds(when: BreakpointCondition, facts: RequestFacts | undefined): boolean {
    if (!facts) return false;
    if (when.route !== undefined && facts.routeName !== when.route) return false;
    if (when.cluster !== undefined && facts.upstreamCluster !== when.cluster) return false;
    if (when.host !== undefined) {
      const key = facts.upstreamHost;
      if (key === undefined) return false;
      const ip = key.startsWith('[') ? key.slice(1, key.indexOf(']')) : key.slice(0, key.lastIndexOf(':'));
      if (when.host !== key && when.host !== ip && !this.hostNames(key).includes(when.host)) return false;
    }
    if (when.pathPrefix !== undefined && !(facts.request?.path ?? '').startsWith(when.pathPrefix)) return false;
    if (when.header !== undefined) {
      const value = facts.requestHeader(when.header.name.toLowerCase());
      if (value === undefined) return false;
      if (when.header.value !== undefined && value !== when.header.value) return false;
    }
    return true;
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
  /** the breakpoint that held the request (for viewers: which of several, and after a `once` one is gone) */
  private by: Breakpoint | undefined;
  private ended = false;
  private lastStep: number | undefined;

  constructor(
    private readonly controller: StepController,
    readonly stream: number,
    private readonly meta: ActorMeta,
    readonly clock: StreamClock,
    private readonly tracer: Tracer,
    private readonly facts?: RequestFacts,
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
    const hold = this.holdReason(meta.machine, state);
    if (hold === undefined) {
      if (rest) this.run(rest);
      return;
    }
    const reason = hold.reason;
    if (hold.by) this.by = copyBreakpoint(hold.by);
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
      this.tracer.fact(this.meta, 'step.held', { machine: meta.machine, state, actor: meta.actor, reason, ...(hold.by?.when ? { when: hold.by.when } : {}) });
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
    this.by = undefined;
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
      ...(this.by ? { by: this.by } : {}),
    };
  }

  private holdReason(machine: MachineKind, state: string): { reason: HeldStream['reason']; by?: Breakpoint } | undefined {
    // A step stops at the first state change it makes.
    if (this.mode === 'held') return { reason: 'step' };
    return this.controller.matches(machine, state, this.facts);
  }
}

/** A breakpoint as the controller keeps it: only the known fields, so what viewers see is what was checked. */
function copyBreakpoint(bp: Breakpoint): Breakpoint {
  const out: Breakpoint = { machine: bp.machine, state: bp.state };
  if (bp.when) {
    const when: BreakpointCondition = {};
    if (bp.when.route !== undefined) when.route = bp.when.route;
    if (bp.when.cluster !== undefined) when.cluster = bp.when.cluster;
    if (bp.when.host !== undefined) when.host = bp.when.host;
    if (bp.when.pathPrefix !== undefined) when.pathPrefix = bp.when.pathPrefix;
    if (bp.when.header !== undefined) when.header = bp.when.header.value === undefined ? { name: bp.when.header.name } : { name: bp.when.header.name, value: bp.when.header.value };
    out.when = when;
  }
  if (bp.once) out.once = true;
  return out;
}

function stateName(actor: AnyActor): string {
  const value = actor.getSnapshot().value as unknown;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
