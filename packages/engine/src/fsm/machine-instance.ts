import type { Clock, TimerId } from '../seams/clock';
import { NEVER_MS, type CompiledInvoke, type CompiledMachine, type CompiledState, type CompiledTransition, type GuardArgs, type Op } from './compile';

/**
 * Where a machine instance reports what it did. The engine's Tracer implements it; with
 * no sink attached each call is a property read and a return.
 */
export interface MachineObserver {
  /** the instance started in `state` */
  machineStarted(instance: MachineInstance, state: string): void;
  /** a step moved the instance to `to` (also called when `to` is where it was) */
  machineMoved(instance: MachineInstance, to: string, eventType: string): void;
  /** the instance reached a final state (`done`) or was stopped */
  machineEnded(instance: MachineInstance, state: string): void;
}

type Listener = (event: { type: string }) => void;

interface Deferred {
  kind: 'emit' | 'schedule' | 'cancel' | 'spawn' | 'stop' | 'custom';
  eventType: string;
  event: { type: string } | undefined;
  delay: number;
  child?: Child;
  op?: Op;
  params?: unknown;
}

interface Child {
  id: string;
  def: CompiledInvoke;
  input: unknown;
  started: boolean;
  stopped: boolean;
  dispose: (() => void) | undefined;
}

const STOP = Symbol('stop');
const INIT = Object.freeze({ type: 'xstate.init' });
const EVENTLESS_NONE = 0;
const EVENTLESS_TAKEN = 1;
const EVENTLESS_DONE = 2;

/**
 * One running machine on the engine's runtime: the interpreter half of `fsm/`. It keeps
 * xstate's semantics for the subset `compile.ts` accepts, which the differential tests
 * check state by state and event by event:
 * - run to completion: an event sent while the instance is handling one (from its own
 *   actions or a listener) waits in a queue and runs after it;
 * - a step exits states deepest first, runs the transition's actions, enters states
 *   outermost first; custom actions and assign() run while the step is computed, so
 *   `getSnapshot()` still shows the old state inside them;
 * - emit() listeners, arming `after` timers and cancelling them run once the step's
 *   state is in place, in the order the step produced them, before the tracer hears of it;
 * - a top-level final state makes the instance `done` (exit actions run, timers cancel);
 *   `stop()` runs no exit actions and cancels timers.
 * Unlike xstate, context is one object updated in place by assign(), and an action that
 * throws propagates to the caller of `send` rather than moving the actor to an error state.
 */
export class MachineInstance<TContext = any> {
  readonly compiled: CompiledMachine;
  /** xstate's snapshot shape, for the classes that read it: value, status, context */
  value: unknown;
  status: 'active' | 'done' | 'stopped' = 'active';
  context: TContext;
  /** the tracer's name of the current leaf */
  state: string;
  /** an id for errors and the tracer (the actor path) */
  readonly id: string;
  /** the observer's own record of this instance (the Tracer's ActorMeta), kept here to save a lookup per step */
  traceMeta: unknown = undefined;

  private leaf: number;
  private started = false;
  private processing = false;
  /** events waiting while one runs (allocated when first needed: most instances never queue) */
  private queue: Array<{ type: string } | typeof STOP> | undefined;
  private deferred: Deferred[] | undefined;
  private timers: Map<string, TimerId> | undefined;
  private listeners: Map<string, Set<Listener>> | undefined;
  private children: Map<string, Child> | undefined;
  private observers: Set<(snapshot: any) => void> | undefined;
  /** during start() of a machine with invoked actors: custom actions wait until the actors start */
  private initializing = false;
  /** the initial custom actions, run before the initial timers and emits as in xstate */
  private initActions: Deferred[] | undefined;

  constructor(
    compiled: CompiledMachine,
    private readonly clock: Clock,
    input: unknown,
    private readonly observer: MachineObserver | undefined,
    id: string,
  ) {
    this.compiled = compiled;
    this.id = id;
    this.context = (compiled.context ? compiled.context(input) : undefined) as TContext;
    this.leaf = compiled.initialLeaf;
    const leaf = compiled.states[this.leaf]!;
    this.value = leaf.value;
    this.state = leaf.name;
  }

  getSnapshot(): this {
    return this;
  }

  /** xstate's `snapshot.matches` for a dotted state name or a parent. */
  matches(name: string): boolean {
    for (let i = this.leaf; i > 0; i = this.compiled.states[i]!.parent) {
      if (this.compiled.states[i]!.name === name) return true;
    }
    return false;
  }

  /** Default entry from the root: the initial states' entry actions, then the tracer's spawn. */
  start(): this {
    if (this.started) return this;
    this.started = true;
    const states = this.compiled.states;
    const args: GuardArgs = { context: this.context, event: INIT, self: this };
    this.processing = true;
    // xstate runs the initial entry actions only once the actor runs, after the initial
    // states' invoked actors have started; without invoked actors running them in place is
    // the same order (they see the context as it is where they are listed, as in xstate).
    this.initializing = this.compiled.hasInvoke;
    try {
      const root = states[0]!;
      this.runOps(root.initialActions, args);
      let s = root.initial;
      while (s >= 0) {
        this.enterState(states[s]!, args, true);
        this.leaf = s;
        s = states[s]!.type === 'compound' ? states[s]!.initial : -1;
      }
      let done = states[this.leaf]!.type === 'final';
      if (done) this.finish(args);
      else done = this.eventless(args) === EVENTLESS_DONE;
      this.initializing = false;
      // As xstate's Actor.start: the initial states' invoked actors start first, then
      // the initial entry actions, timers and emits run, all deferred until now.
      if (this.children) for (const child of this.children.values()) this.startChild(child);
      if (this.initActions) {
        const later = this.deferred;
        this.deferred = this.initActions;
        if (later) for (const d of later) this.deferred.push(d);
        this.initActions = undefined;
      }
      this.settle(done, INIT.type);
      if (done) return this;
      this.drain();
    } finally {
      this.processing = false;
    }
    return this;
  }

  send(event: { type: string }): void {
    if (this.status !== 'active') return;
    if (this.processing || !this.started) {
      (this.queue ??= []).push(event);
      return;
    }
    this.processing = true;
    try {
      this.step(event);
      this.drain();
    } finally {
      this.processing = false;
    }
  }

  /** Stops the instance: no exit actions, its timers cancelled, queued events dropped. */
  stop(): this {
    if (this.status !== 'active') return this;
    if (this.processing) {
      // As xstate's mailbox: what was queued is dropped, the stop runs after the current step.
      // (In place: a drain loop in progress holds this array.)
      const queue = (this.queue ??= []);
      queue.length = 0;
      queue.push(STOP);
      return this;
    }
    this.halt();
    return this;
  }

  /**
   * xstate's `subscribe(next)`: called once a step has moved the instance, after its
   * deferred work and before the tracer hears of it. Unlike xstate it is not called for
   * an event that changed nothing.
   */
  subscribe(next: (snapshot: this) => void): { unsubscribe(): void } {
    (this.observers ??= new Set()).add(next);
    return { unsubscribe: () => this.observers?.delete(next) };
  }

  /** Listens for the machine's emit() events ('*' for all of them). */
  on(type: string, handler: Listener): { unsubscribe(): void } {
    this.listeners ??= new Map();
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    const wrapped: Listener = (e) => handler(e);
    set.add(wrapped);
    return { unsubscribe: () => set!.delete(wrapped) };
  }

  private drain(): void {
    const queue = this.queue;
    if (!queue) return;
    while (queue.length > 0) {
      const next = queue.shift()!;
      if (next === STOP) {
        this.halt();
        return;
      }
      if (this.status !== 'active') {
        queue.length = 0;
        return;
      }
      this.step(next);
    }
  }

  private halt(): void {
    this.status = 'stopped';
    if (this.queue) this.queue.length = 0;
    if (this.children) {
      const children = [...this.children.values()];
      this.children.clear();
      for (const child of children) this.disposeChild(child);
    }
    this.cancelAllTimers();
    this.observer?.machineEnded(this, this.state);
  }

  /**
   * One event, one macrostep: its transition, then any eventless ones enabled. As in
   * xstate, eventless guards are asked again after every event, handled or not.
   */
  private step(event: { type: string }): void {
    // One argument object for the step's guards, actions and delays (xstate makes one per call).
    const args: GuardArgs = { context: this.context, event, self: this };
    const transition = this.select(event.type, args);
    let done = false;
    if (transition) done = this.microstep(transition, args);
    else if (!this.compiled.hasAlways) return;
    let moved = transition !== undefined;
    if (!done) {
      const after = this.eventless(args);
      done = after === EVENTLESS_DONE;
      moved ||= after !== EVENTLESS_NONE;
    }
    if (!moved) return;
    this.settle(done, event.type);
  }

  /** The macrostep's end: the state in place, deferred work run, then the tracer told. */
  private settle(done: boolean, eventType: string): void {
    const leaf = this.compiled.states[this.leaf]!;
    this.value = leaf.value;
    this.state = leaf.name;
    if (done) this.stopChildren();
    this.flushDeferred();
    if (this.observers) for (const observer of [...this.observers]) observer(this);
    if (done) {
      if (this.queue) this.queue.length = 0;
      this.cancelAllTimers();
    }
    if (eventType === INIT.type) this.observer?.machineStarted(this, this.state);
    else this.observer?.machineMoved(this, this.state, eventType);
    if (done) this.observer?.machineEnded(this, this.state);
  }

  /** Eventless transitions, as long as one is enabled (xstate's macrostep loop). */
  private eventless(args: GuardArgs): number {
    if (!this.compiled.hasAlways) return EVENTLESS_NONE;
    const states = this.compiled.states;
    let result = EVENTLESS_NONE;
    for (let guard = 0; ; guard++) {
      if (guard > 1000) throw new Error(`machine '${this.compiled.id}': eventless transitions did not settle after 1000 steps`);
      let taken: CompiledTransition | undefined;
      search: for (let s = this.leaf; s >= 0; s = states[s]!.parent) {
        const always = states[s]!.always;
        for (let i = 0; i < always.length; i++) {
          const t = always[i]!;
          if (t.guard === undefined || t.guard(args)) {
            taken = t;
            break search;
          }
        }
      }
      if (!taken) return result;
      result = EVENTLESS_TAKEN;
      if (this.microstep(taken, args)) return EVENTLESS_DONE;
    }
  }

  /** One transition: exit, transition actions, entry. True when it reached a final state. */
  private microstep(transition: CompiledTransition, args: GuardArgs): boolean {
    const states = this.compiled.states;
    if (transition.targets.length === 0) {
      this.runOps(transition.actions, args);
      return false;
    }
    const source = transition.source;
    const target = transition.targets[0]!;
    const domain = this.domain(transition, source, target);
    // Exit: the current chain below the domain, deepest first.
    for (let s = this.leaf; s !== domain && s >= 0; s = states[s]!.parent) this.exitState(states[s]!, args);
    this.runOps(transition.actions, args);
    // Enter: from below the domain down to the target, then the target's default chain.
    // A target that is the source itself, not re-entered, is not entered again.
    const enterTarget = target !== source || source !== domain || transition.reenter;
    if (target !== domain) {
      const chain: number[] = [];
      for (let s = states[target]!.parent; s >= 0 && s !== domain; s = states[s]!.parent) chain.push(s);
      for (let i = chain.length - 1; i >= 0; i--) this.enterState(states[chain[i]!]!, args, false);
    }
    let s = target;
    if (enterTarget) this.enterState(states[s]!, args, true);
    while (states[s]!.type === 'compound') {
      s = states[s]!.initial;
      this.enterState(states[s]!, args, true);
    }
    this.leaf = s;
    if (states[s]!.type !== 'final') return false;
    this.finish(args);
    return true;
  }

  /** Entry actions, then the state's invoked actors, then (default entry) its initial actions. */
  private enterState(state: CompiledState, args: GuardArgs, defaultEntry: boolean): void {
    this.runOps(state.entry, args);
    for (let i = 0; i < state.invoke.length; i++) this.spawn(state.invoke[i]!, args);
    if (defaultEntry && state.type === 'compound') this.runOps(state.initialActions, args);
  }

  private exitState(state: CompiledState, args: GuardArgs): void {
    this.runOps(state.exit, args);
    for (let i = 0; i < state.invoke.length; i++) {
      const child = this.children?.get(state.invoke[i]!.id);
      if (child) this.stopChild(child);
    }
  }

  /** A top-level final state: the instance is done; every active state's exit actions run. */
  private finish(args: GuardArgs): void {
    this.status = 'done';
    const states = this.compiled.states;
    for (let s = this.leaf; s > 0; s = states[s]!.parent) this.runOps(states[s]!.exit, args);
  }

  /** spawnChild: the input is read now; the callback starts with the step's deferred work. */
  private spawn(def: CompiledInvoke, args: GuardArgs): void {
    const input = typeof def.input === 'function' ? (def.input as (a: unknown) => unknown)(args) : def.input;
    const child: Child = { id: def.id, def, input, started: false, stopped: false, dispose: undefined };
    (this.children ??= new Map()).set(def.id, child);
    (this.deferred ??= []).push({ kind: 'spawn', eventType: def.id, event: undefined, delay: 0, child });
  }

  /** stopChild: a child that never started is stopped at once, a running one after the step. */
  private stopChild(child: Child): void {
    if (this.children?.get(child.id) === child) this.children.delete(child.id);
    if (!child.started) {
      child.stopped = true;
      return;
    }
    (this.deferred ??= []).push({ kind: 'stop', eventType: child.id, event: undefined, delay: 0, child });
  }

  private stopChildren(): void {
    if (!this.children) return;
    for (const child of [...this.children.values()]) this.stopChild(child);
  }

  private startChild(child: Child): void {
    if (child.stopped || child.started) return;
    child.started = true;
    const dispose = child.def.callback({
      input: child.input,
      sendBack: (event) => {
        if (!child.stopped) this.send(event);
      },
      receive: () => {
        throw new Error(`machine '${this.compiled.id}': an invoked callback's receive() is not supported by the engine's machine runtime`);
      },
      self: undefined,
      system: undefined,
      emit: () => {},
    });
    if (typeof dispose === 'function') child.dispose = dispose;
  }

  private disposeChild(child: Child): void {
    if (child.stopped) return;
    child.stopped = true;
    child.dispose?.();
  }

  /** xstate's transition selection: the deepest active state first, candidates in order. */
  private select(type: string, args: GuardArgs): CompiledTransition | undefined {
    const states = this.compiled.states;
    for (let s = this.leaf; s >= 0; s = states[s]!.parent) {
      const candidates = states[s]!.on.get(type);
      if (!candidates) continue;
      for (let i = 0; i < candidates.length; i++) {
        const t = candidates[i]!;
        if (t.guard === undefined || t.guard(args)) return t;
      }
    }
    return undefined;
  }

  /** getTransitionDomain: the state whose descendants the transition exits and enters. */
  private domain(t: CompiledTransition, source: number, target: number): number {
    const states = this.compiled.states;
    if (!t.reenter && (target === source || isDescendant(states, target, source))) return source;
    // findLeastCommonAncestor(target, source): the nearest proper ancestor of the target
    // that has the source strictly below it.
    for (const anc of states[target]!.ancestors) {
      if (isDescendant(states, source, anc)) return anc;
    }
    return 0;
  }

  private runOps(ops: Op[], args: GuardArgs): void {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      switch (op.kind) {
        case 'custom': {
          const params = op.paramsFn ? op.paramsFn(args) : op.params;
          if (this.initializing) (this.initActions ??= []).push({ kind: 'custom', eventType: op.name, event: args.event as { type: string }, delay: 0, op, params });
          else op.fn(args, params);
          break;
        }
        case 'assign': {
          const params = op.paramsFn ? op.paramsFn(args) : op.params;
          const assignment = op.assignment as ((a: unknown, p: unknown) => object) | Record<string, unknown>;
          if (typeof assignment === 'function') {
            Object.assign(this.context as object, assignment(args, params));
          } else {
            // Every property is computed from the context before any of them is written.
            const update: Record<string, unknown> = {};
            for (const key in assignment) {
              const value = assignment[key];
              update[key] = typeof value === 'function' ? (value as (a: unknown, p: unknown) => unknown)(args, params) : value;
            }
            Object.assign(this.context as object, update);
          }
          break;
        }
        case 'emit': {
          const params = op.paramsFn ? op.paramsFn(args) : op.params;
          const e = op.event as { type: string } | ((a: unknown, p: unknown) => { type: string });
          const event = typeof e === 'function' ? e(args, params) : e;
          (this.deferred ??= []).push({ kind: 'emit', eventType: event.type, event, delay: 0 });
          break;
        }
        case 'schedule': {
          const delay = this.resolveDelay(op.delay, args);
          (this.deferred ??= []).push({ kind: 'schedule', eventType: op.eventType, event: op.event, delay });
          break;
        }
        case 'cancel':
          (this.deferred ??= []).push({ kind: 'cancel', eventType: op.eventType, event: undefined, delay: 0 });
          break;
      }
    }
  }

  private resolveDelay(delay: number | string | ((args: GuardArgs) => number), args: GuardArgs): number {
    let ms: unknown = delay;
    if (typeof delay === 'string') {
      const configured = this.compiled.delays[delay];
      ms = typeof configured === 'function' ? (configured as (a: GuardArgs, p: unknown) => number)(args, undefined) : configured;
    } else if (typeof delay === 'function') {
      ms = delay(args);
    }
    if (typeof ms !== 'number') throw new Error(`machine '${this.compiled.id}': delay ${String(delay)} gave ${String(ms)}, not a number of ms`);
    return ms;
  }

  private flushDeferred(): void {
    const work = this.deferred;
    if (work === undefined || work.length === 0) return;
    this.deferred = undefined;
    for (const d of work) {
      switch (d.kind) {
        case 'emit':
          this.deliver(d.event!);
          break;
        case 'schedule':
          this.arm(d.eventType, d.event!, d.delay);
          break;
        case 'cancel':
          this.disarm(d.eventType);
          break;
        case 'spawn':
          this.startChild(d.child!);
          break;
        case 'custom':
          (d.op as Extract<Op, { kind: 'custom' }>).fn({ context: this.context, event: d.event, self: this }, d.params);
          break;
        case 'stop':
          this.disposeChild(d.child!);
          break;
      }
    }
  }

  private deliver(event: { type: string }): void {
    const listeners = this.listeners;
    if (!listeners) return;
    const exact = listeners.get(event.type);
    const any = listeners.get('*');
    if (!exact && !any) return;
    for (const handler of [...(exact ?? []), ...(any ?? [])]) handler(event);
  }

  private arm(eventType: string, event: { type: string }, delay: number): void {
    this.timers ??= new Map();
    if (delay >= NEVER_MS) {
      // A timer that is not running (compile.ts NEVER_MS): armed in name only.
      this.timers.delete(eventType);
      return;
    }
    // As xstate's scheduler: a second arm under the same id replaces the map entry only.
    this.timers.set(
      eventType,
      this.clock.setTimeout(() => {
        this.timers?.delete(eventType);
        this.send(event);
      }, delay),
    );
  }

  private disarm(eventType: string): void {
    const timers = this.timers;
    if (!timers) return;
    const id = timers.get(eventType);
    if (id === undefined) return;
    timers.delete(eventType);
    this.clock.clearTimeout(id);
  }

  private cancelAllTimers(): void {
    const timers = this.timers;
    if (!timers || timers.size === 0) return;
    for (const id of timers.values()) this.clock.clearTimeout(id);
    timers.clear();
  }

  /** The compiled state the instance is in (tests, charts). */
  get current(): CompiledState {
    return this.compiled.states[this.leaf]!;
  }
}

function isDescendant(states: CompiledState[], node: number, of: number): boolean {
  for (let p = states[node]!.parent; p >= 0; p = states[p]!.parent) if (p === of) return true;
  return false;
}
