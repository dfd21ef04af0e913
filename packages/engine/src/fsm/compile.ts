import { fromCallback, type AnyStateMachine } from 'xstate';

/**
 * The compiler half of the engine's machine runtime: an xstate v5 machine definition
 * turned into flat tables the interpreter (`machine-instance.ts`) walks with array
 * indexes instead of xstate's snapshot objects, Sets and action resolution.
 *
 * It reads the machine exactly as xstate's interpreter does (the StateNodes xstate
 * builds from the config: `transitions`, `entry` and `exit` with the raise/cancel pairs
 * xstate adds for `after`, `initial`), so there is one definition and two ways to run it.
 * Whatever this runtime does not implement is refused here, at startup, with the machine,
 * the state and the feature named: the runtime never runs a machine differently from
 * xstate, it declines it. The differential tests (test/fsm-differential.test.ts) check
 * the rest.
 */

/**
 * The delay of a timer that is not running: the longest a clock sets (2^31-1 ms, some 24
 * days; Node fires a longer one at once). A machine whose `after` has no time to wait yet
 * gives this delay, and the runtime sets no clock timer for it: the state's exit cancels
 * it long before it could fire. (xstate's interpreter does set the 24-day timer.)
 */
export const NEVER_MS = 2 ** 31 - 1;

export class MachineCompileError extends Error {
  constructor(machineId: string, where: string, what: string) {
    super(`machine '${machineId}'${where ? ` at '${where}'` : ''}: ${what} is not supported by the engine's machine runtime`);
    this.name = 'MachineCompileError';
  }
}

export type GuardArgs = { context: any; event: any; self?: unknown };
export type Guard = (args: GuardArgs) => boolean;

/** What an action does, resolved at compile time. */
export type Op =
  /** a custom action: `fn(args, params)`, run while the transition is computed */
  | { kind: 'custom'; name: string; fn: (args: any, params: any) => void; params: unknown; paramsFn: ((args: GuardArgs) => unknown) | undefined }
  /** assign(): the partial update merged into context before the next action runs */
  | { kind: 'assign'; name: string; assignment: unknown; params: unknown; paramsFn: ((args: GuardArgs) => unknown) | undefined }
  /** emit(): delivered to `on()` listeners after the step, in order */
  | { kind: 'emit'; name: string; event: unknown; params: unknown; paramsFn: ((args: GuardArgs) => unknown) | undefined }
  /** an `after` timer armed on entry (xstate's delayed raise) */
  | { kind: 'schedule'; name: string; eventType: string; event: { type: string }; delay: number | string | ((args: GuardArgs) => number) }
  /** an `after` timer cancelled on exit */
  | { kind: 'cancel'; name: string; eventType: string };

export interface CompiledTransition {
  /** the state that declares it */
  source: number;
  guard: Guard | undefined;
  /** target state indexes; empty = a targetless transition (actions only) */
  targets: number[];
  reenter: boolean;
  actions: Op[];
  /** the guard as written, for charts and errors */
  guardName: string | undefined;
}

/** An invoked callback actor (`fromCallback`): started on entry, its cleanup run on exit. */
export interface CompiledInvoke {
  /** xstate's child id, e.g. `0.client.connecting` */
  id: string;
  callback: (args: { input: unknown; sendBack: (event: { type: string }) => void; receive: unknown; self: unknown; system: unknown; emit: unknown }) => (() => void) | void;
  input: unknown;
}

export interface CompiledState {
  index: number;
  /** xstate's id, e.g. `router.in_flight.upstream_pending` */
  id: string;
  /** the tracer's name: keys below the root joined by '.', e.g. `in_flight.upstream_pending` */
  name: string;
  key: string;
  parent: number;
  depth: number;
  type: 'atomic' | 'compound' | 'final';
  /** document order (xstate's `order`): entry runs in it, exit in reverse */
  order: number;
  /** compound: the child entered by default */
  initial: number;
  /** compound: the initial transition's own actions */
  initialActions: Op[];
  entry: Op[];
  exit: Op[];
  on: Map<string, CompiledTransition[]>;
  /** eventless transitions, taken as soon as their guard holds */
  always: CompiledTransition[];
  invoke: CompiledInvoke[];
  /** `snapshot.value` for a leaf, in xstate's shape ('a' or { a: 'b' }) */
  value: unknown;
  /** proper ancestors, nearest first, root last */
  ancestors: number[];
  envoy: string | undefined;
}

export interface CompiledMachine {
  id: string;
  machine: AnyStateMachine;
  states: CompiledState[];
  /** the leaf a fresh instance starts in (after default entry from the root) */
  initialLeaf: number;
  /** context from input: xstate's config.context (object or ({ input }) => object) */
  context: ((input: unknown) => Record<string, unknown>) | undefined;
  /** every event type some state handles (plus `after` events), for tests and charts */
  eventTypes: string[];
  delays: Record<string, unknown>;
  /** some state has eventless transitions (then every event asks their guards again) */
  hasAlways: boolean;
  /** some state has invoked actors: at start they begin before the initial entry actions run */
  hasInvoke: boolean;
  /** state name -> Envoy function (from `meta.envoy`), the tracer's transition label */
  envoy: Record<string, string>;
}

/** Each definition compiled once: its tables, or why the runtime refuses it. */
const compiled = new WeakMap<AnyStateMachine, CompiledMachine | MachineCompileError>();

function compileOnce(machine: AnyStateMachine): CompiledMachine | MachineCompileError {
  let out = compiled.get(machine);
  if (!out) {
    try {
      out = compile(machine);
    } catch (err) {
      if (!(err instanceof MachineCompileError)) throw err;
      out = err;
    }
    compiled.set(machine, out);
  }
  return out;
}

/** The machine's compiled form, built once per definition. Throws MachineCompileError. */
export function compileMachine(machine: AnyStateMachine): CompiledMachine {
  const out = compileOnce(machine);
  if (out instanceof MachineCompileError) throw out;
  return out;
}

/** The machine's compiled form, or undefined when the runtime refuses it (it stays on xstate). */
export function compiledOrUndefined(machine: AnyStateMachine): CompiledMachine | undefined {
  const out = compileOnce(machine);
  return out instanceof MachineCompileError ? undefined : out;
}

/** The MachineCompileError that keeps `machine` off the runtime, or undefined. */
export function compileRefusal(machine: AnyStateMachine): MachineCompileError | undefined {
  const out = compileOnce(machine);
  return out instanceof MachineCompileError ? out : undefined;
}

type AnyNode = any;

function compile(machine: AnyStateMachine): CompiledMachine {
  const id = machine.id;
  const impl = machine.implementations as { actions: Record<string, any>; guards: Record<string, any>; delays: Record<string, any>; actors: Record<string, any> };
  const refuse = (where: string, what: string): never => {
    throw new MachineCompileError(id, where, what);
  };
  const config = machine.config as Record<string, unknown>;
  for (const key of ['invoke', 'always', 'after', 'entry', 'exit', 'onDone', 'output']) {
    if (config[key] !== undefined) refuse('', `'${key}' on the machine's root`);
  }

  const nodes: AnyNode[] = [];
  const indexOf = new Map<AnyNode, number>();
  const visit = (node: AnyNode): void => {
    indexOf.set(node, nodes.length);
    nodes.push(node);
    for (const child of Object.values(node.states ?? {}) as AnyNode[]) visit(child);
  };
  visit(machine.root);

  const states: CompiledState[] = nodes.map((node, index) => {
    const where = node.path.join('.');
    if (node.type === 'parallel') refuse(where, 'a parallel state');
    if (node.type === 'history') refuse(where, 'a history state');
    if (node.config.onDone) refuse(where, "'onDone'");
    if (node.type === 'final' && node.parent && node.parent !== machine.root) refuse(where, 'a final state below the top level');
    if (node.config.tags && node.config.tags.length) refuse(where, "'tags'");
    const parent = node.parent ? indexOf.get(node.parent)! : -1;
    const ancestors: number[] = [];
    for (let p = node.parent; p; p = p.parent) ancestors.push(indexOf.get(p)!);
    return {
      index,
      id: node.id,
      name: node.path.join('.'),
      key: node.key,
      parent,
      depth: node.path.length,
      type: node.type === 'final' ? 'final' : node.type === 'compound' ? 'compound' : 'atomic',
      order: node.order,
      initial: -1,
      initialActions: [],
      entry: [],
      exit: [],
      on: new Map(),
      always: [],
      invoke: [],
      value: leafValue(node.path),
      ancestors,
      envoy: (node.meta as { envoy?: string } | undefined)?.envoy,
    };
  });

  const compileGuard = (guard: unknown, where: string): Guard | undefined => {
    if (guard === undefined) return undefined;
    if (typeof guard === 'function') {
      const g = guard as any;
      if ('check' in g) {
        const parts = ((g.guards ?? []) as unknown[]).map((inner) => compileGuard(inner, where)!);
        if (g.name === 'not' && parts.length === 1) {
          const [inner] = parts;
          return (args) => !inner!(args);
        }
        if (g.name === 'and') return (args) => parts.every((p) => p(args));
        if (g.name === 'or') return (args) => parts.some((p) => p(args));
        return refuse(where, `the built-in guard '${g.name}'`);
      }
      return (args) => g(args, undefined) as boolean;
    }
    const type = typeof guard === 'string' ? guard : (guard as { type?: string }).type;
    if (typeof type !== 'string') return refuse(where, 'a guard without a type');
    const resolved = impl.guards[type];
    if (resolved === undefined) return refuse(where, `the unimplemented guard '${type}'`);
    if (typeof resolved !== 'function' || 'check' in resolved) {
      // A guard defined as another guard (or a built-in) takes no params of its own.
      return compileGuard(resolved, where);
    }
    const params = typeof guard === 'object' && guard !== null && 'params' in guard ? (guard as { params: unknown }).params : undefined;
    if (typeof params === 'function') return (args) => resolved(args, params(args)) as boolean;
    return (args) => resolved(args, params) as boolean;
  };

  const guardLabel = (guard: unknown): string | undefined => {
    if (guard === undefined) return undefined;
    if (typeof guard === 'string') return guard;
    if (typeof guard === 'function') {
      const g = guard as any;
      if ('check' in g) {
        const inner = ((g.guards ?? []) as unknown[]).map((x) => guardLabel(x));
        return g.name === 'not' ? `!${inner[0]}` : inner.join(g.name === 'and' ? ' && ' : ' || ');
      }
      return g.name || 'guard';
    }
    return (guard as { type: string }).type;
  };

  const compileActions = (actions: unknown[], where: string): Op[] => {
    const ops: Op[] = [];
    for (const action of actions) {
      const inline = typeof action === 'function';
      const name = inline ? (action as { type?: string; name?: string }).type ?? ((action as { name?: string }).name || '(anonymous)') : typeof action === 'string' ? action : (action as { type: string }).type;
      const resolved: any = inline ? action : impl.actions[name];
      if (resolved === undefined) refuse(where, `the unimplemented action '${name}'`);
      const rawParams = !inline && typeof action === 'object' && action !== null && 'params' in action ? (action as { params: unknown }).params : undefined;
      const paramsFn = typeof rawParams === 'function' ? (rawParams as (args: GuardArgs) => unknown) : undefined;
      const params = paramsFn ? undefined : rawParams;
      if (!('resolve' in resolved)) {
        ops.push({ kind: 'custom', name, fn: resolved, params, paramsFn });
        continue;
      }
      switch (resolved.type) {
        case 'xstate.assign':
          ops.push({ kind: 'assign', name, assignment: resolved.assignment, params, paramsFn });
          break;
        case 'xstate.emit':
          ops.push({ kind: 'emit', name, event: resolved.event, params, paramsFn });
          break;
        case 'xstate.raise': {
          // Only the delayed raise xstate itself adds for `after`.
          const event = resolved.event as { type?: string };
          if (resolved.delay === undefined || typeof event !== 'object' || !event.type?.startsWith('xstate.after.') || resolved.id !== event.type) {
            refuse(where, 'raise()');
          }
          const delay = resolved.delay as number | string | ((args: GuardArgs) => number);
          if (typeof delay === 'string' && impl.delays[delay] === undefined) refuse(where, `the unimplemented delay '${delay}'`);
          ops.push({ kind: 'schedule', name: event.type!, eventType: event.type!, event: { type: event.type! }, delay });
          break;
        }
        case 'xstate.cancel': {
          const sendId = resolved.sendId as unknown;
          if (typeof sendId !== 'string' || !sendId.startsWith('xstate.after.')) refuse(where, 'cancel()');
          ops.push({ kind: 'cancel', name: sendId as string, eventType: sendId as string });
          break;
        }
        default:
          refuse(where, `the action ${resolved.type}`);
      }
    }
    return ops;
  };

  const compileTransition = (t: any, index: number, where: string): CompiledTransition => {
    const targets = ((t.target ?? []) as AnyNode[]).map((target) => {
      const i = indexOf.get(target);
      if (i === undefined) refuse(where, 'a target outside the machine');
      return i!;
    });
    if (targets.length > 1) refuse(where, 'a transition with several targets');
    if (t.reenter === true && index === 0) refuse(where, "a re-entering transition on the machine's root");
    return {
      source: index,
      guard: compileGuard(t.guard, where),
      guardName: guardLabel(t.guard),
      targets,
      reenter: t.reenter === true,
      actions: compileActions(t.actions ?? [], where),
    };
  };

  // fromCallback's logic, to recognise invoked callback actors (the only kind the runtime starts).
  const callbackTransition = String(fromCallback(() => {}).transition);
  const compileInvoke = (def: any, where: string): CompiledInvoke => {
    for (const key of ['onDone', 'onError', 'onSnapshot', 'systemId']) if (def[key] !== undefined) refuse(where, `invoke with '${key}'`);
    const logic = typeof def.src === 'string' ? impl.actors?.[def.src] : def.src;
    if (!logic || typeof logic.config !== 'function' || String(logic.transition) !== callbackTransition) {
      refuse(where, `invoking '${typeof def.src === 'string' ? def.src : 'an inline actor'}', which is not a fromCallback actor`);
    }
    return { id: def.id, callback: logic.config, input: def.input };
  };

  const eventTypes = new Set<string>();
  nodes.forEach((node, index) => {
    const state = states[index]!;
    const where = node.path.join('.') || '(root)';
    state.entry = compileActions(node.entry ?? [], where);
    state.exit = compileActions(node.exit ?? [], where);
    if (node.type === 'compound') {
      const initial = node.initial;
      const [target] = initial?.target ?? [];
      if (!target || target.parent !== node) refuse(where, 'an initial state that is not a direct child');
      state.initial = indexOf.get(target)!;
      state.initialActions = compileActions(initial.actions ?? [], where);
    }
    for (const [eventType, candidates] of node.transitions as Map<string, any[]>) {
      if (eventType === '*' || eventType.endsWith('.*')) refuse(where, `the wildcard event '${eventType}'`);
      eventTypes.add(eventType);
      state.on.set(
        eventType,
        candidates.map((t) => compileTransition(t, index, where)),
      );
    }
    for (const t of node.always ?? []) {
      const compiledT = compileTransition(t, index, where);
      // xstate stops taking eventless transitions once one changes nothing; the runtime
      // would loop, so a targetless one is refused.
      if (compiledT.targets.length === 0) refuse(where, "a targetless 'always' transition");
      state.always.push(compiledT);
    }
    state.invoke = (node.invoke ?? []).map((def: unknown) => compileInvoke(def, where));
  });

  // The leaf default entry reaches from the root.
  let leaf = 0;
  while (states[leaf]!.type === 'compound') leaf = states[leaf]!.initial;

  const contextConfig = config.context as unknown;
  const context =
    contextConfig === undefined
      ? undefined
      : typeof contextConfig === 'function'
        ? (input: unknown) => (contextConfig as (args: { input: unknown }) => Record<string, unknown>)({ input })
        : () => ({ ...(contextConfig as Record<string, unknown>) });

  const envoy: Record<string, string> = {};
  for (const state of states) if (state.envoy && state.index !== 0) envoy[state.name] = state.envoy;

  const hasAlways = states.some((state) => state.always.length > 0);
  const hasInvoke = states.some((state) => state.invoke.length > 0);
  return { id, machine, states, initialLeaf: leaf, context, eventTypes: [...eventTypes], delays: impl.delays ?? {}, hasAlways, hasInvoke, envoy };
}

function leafValue(path: string[]): unknown {
  if (path.length === 0) return {};
  let value: unknown = path[path.length - 1];
  for (let i = path.length - 2; i >= 0; i--) value = { [path[i]!]: value };
  return Object.freeze(value);
}
