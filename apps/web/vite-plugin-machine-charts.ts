import path from 'node:path';
import { runnerImport, type Plugin } from 'vite';
import type { ChartDef, ChartState, ChartTransition, Charts } from './src/views/machines/chart-def';

/**
 * `virtual:machine-charts`: the engine's state charts, read from its xstate definitions
 * when the web UI is built, served or tested. The engine runs in Node here, in Vite's own
 * module runner, and only the chart data reaches the bundle. The machine list is the
 * engine's registry, so a machine added there is drawn without a change to the web UI.
 */
export const MACHINE_CHARTS_MODULE = 'virtual:machine-charts';
const RESOLVED = '\0' + MACHINE_CHARTS_MODULE;
const REGISTRY = path.resolve(import.meta.dirname, '../../packages/engine/src/machines.ts');

export function machineCharts(): Plugin {
  let dependencies = new Set<string>();
  return {
    name: 'proxyscope:machine-charts',
    resolveId(id) {
      return id === MACHINE_CHARTS_MODULE ? RESOLVED : undefined;
    },
    async load(id) {
      if (id !== RESOLVED) return undefined;
      const { charts, files } = await loadCharts();
      dependencies = new Set(files.map((f) => path.resolve(f)));
      for (const f of dependencies) this.addWatchFile(f);
      return `export const CHARTS = ${JSON.stringify(charts, null, 2)};\n`;
    },
    // The dev server: an edited machine redraws its chart.
    hotUpdate({ file, modules }) {
      if (!dependencies.has(path.resolve(file))) return undefined;
      const mod = this.environment.moduleGraph.getModuleById(RESOLVED);
      if (!mod) return undefined;
      this.environment.moduleGraph.invalidateModule(mod);
      return [...modules, mod];
    },
  };
}

/** Loads the engine's registry and reads every machine's chart. */
export async function loadCharts(): Promise<{ charts: Charts; files: string[] }> {
  const { module, dependencies } = await runnerImport<{ MACHINES: ReadonlyArray<{ kind: string; machine: MachineLike }> }>(REGISTRY, {
    // A machine may import values from the protocol package, whose entry is TypeScript.
    environments: { inline: { resolve: { noExternal: ['@proxyscope/protocol'] } } },
    logLevel: 'warn',
  });
  const charts: Record<string, ChartDef> = {};
  for (const { kind, machine } of module.MACHINES) charts[kind] = chartOf(machine);
  return { charts: charts as Charts, files: [REGISTRY, ...dependencies] };
}

// The parts of an xstate v5 StateNode the chart reads. Typed here rather than imported:
// the web package does not depend on xstate.
interface NodeLike {
  key: string;
  path: string[];
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  meta?: unknown;
  states: Record<string, NodeLike>;
  initial?: { target?: readonly NodeLike[] };
  transitions: Map<string, readonly TransitionLike[]>;
  always?: readonly TransitionLike[];
  after: ReadonlyArray<TransitionLike & { delay: unknown }>;
  entry: readonly unknown[];
  exit: readonly unknown[];
  invoke: ReadonlyArray<{ src: unknown; id?: string }>;
}
interface TransitionLike {
  eventType: string;
  target?: readonly NodeLike[];
  guard?: unknown;
  actions: readonly unknown[];
}
export interface MachineLike {
  root: NodeLike;
}

/**
 * One machine's chart. Compound states are not boxes of their own: what the tracer reports
 * is always a leaf (`parent.child`), so a compound state's children are listed under their
 * full names, a transition into it lands on its initial leaf, and a transition it handles is
 * drawn from each of its leaves that does not handle the same event itself.
 */
export function chartOf(machine: MachineLike): ChartDef {
  const states: ChartState[] = [];
  const transitions: ChartTransition[] = [];
  const seen = new Set<string>();
  const add = (t: ChartTransition) => {
    const key = JSON.stringify([t.from, t.to, t.event, t.guard ?? '', t.actions ?? []]);
    if (seen.has(key)) return;
    seen.add(key);
    transitions.push(t);
  };

  const visit = (node: NodeLike, inherited: Array<{ event: string; defs: readonly TransitionLike[]; delays: Map<string, unknown> }>) => {
    const delays = delaysOf(node);
    const handled = [...node.transitions].map(([event, defs]) => ({ event, defs, delays }));
    if (node.always?.length) handled.push({ event: 'always', defs: node.always, delays });
    if (Object.keys(node.states).length > 0 && node.type !== 'history') {
      // An event the state handles without a guard is never seen by its parent.
      const shadowed = new Set(handled.filter((h) => h.defs.some((d) => d.guard === undefined)).map((h) => h.event));
      const passOn = [...handled, ...inherited.filter((h) => !shadowed.has(h.event))];
      for (const child of Object.values(node.states)) if (child.type !== 'history') visit(child, passOn);
      return;
    }
    const name = node.path.join('.');
    const state: ChartState = { name };
    const envoy = (node.meta as { envoy?: unknown } | undefined)?.envoy;
    if (typeof envoy === 'string') state.envoy = envoy;
    if (node.type === 'final') state.final = true;
    const entry = node.entry.filter((a) => !isTimer(a)).map(actionName);
    const exit = node.exit.filter((a) => !isTimer(a)).map(actionName);
    const invoke = node.invoke.map((i) => (typeof i.src === 'string' ? i.src : (i.id ?? 'actor')));
    if (entry.length) state.entry = entry;
    if (exit.length) state.exit = exit;
    if (invoke.length) state.invoke = invoke;
    states.push(state);
    const shadowed = new Set(handled.filter((h) => h.defs.some((d) => d.guard === undefined)).map((h) => h.event));
    for (const h of [...handled, ...inherited.filter((i) => !shadowed.has(i.event))]) {
      for (const def of h.defs) {
        for (const target of def.target ?? []) {
          const t: ChartTransition = { from: name, to: leafOf(target).path.join('.'), event: eventLabel(h.event, h.delays) };
          if (def.guard !== undefined) t.guard = guardName(def.guard);
          const actions = def.actions.map(actionName);
          if (actions.length) t.actions = actions;
          add(t);
        }
      }
    }
  };
  visit(machine.root, []);
  return { initial: leafOf(machine.root).path.join('.'), states, transitions };
}

/** The leaf a transition into `node` ends in: its initial child, all the way down. */
function leafOf(node: NodeLike): NodeLike {
  let n = node;
  for (let target = n.initial?.target?.[0]; target; target = n.initial?.target?.[0]) n = target;
  return n;
}

function delaysOf(node: NodeLike): Map<string, unknown> {
  return new Map(node.after.map((t) => [t.eventType, t.delay]));
}

function eventLabel(eventType: string, delays: Map<string, unknown>): string {
  if (delays.has(eventType)) {
    const delay = delays.get(eventType);
    return typeof delay === 'number' ? `after ${delay} ms` : `after ${String(delay)}`;
  }
  if (eventType.startsWith('xstate.done.')) return 'done';
  if (eventType.startsWith('xstate.error.')) return 'error';
  return eventType;
}

type Builtin = ((...args: never[]) => unknown) & {
  type?: string;
  check?: unknown;
  guards?: unknown[];
  stateValue?: unknown;
  event?: unknown;
  id?: unknown;
  sendId?: unknown;
  src?: unknown;
};

/** A guard as written: by name, with its params, or xstate's not / and / or / stateIn around others. */
export function guardName(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const g = guard as Builtin;
    const inner = (g.guards ?? []).map((x) => {
      const s = guardName(x);
      return / (and|or) /.test(s) ? `(${s})` : s;
    });
    // xstate's guard builtins are functions named for what they do, carrying a `check`
    if (typeof g.check === 'function') {
      switch (g.name) {
        case 'not':
          return `not ${inner[0]}`;
        case 'and':
          return inner.join(' and ');
        case 'or':
          return inner.join(' or ');
        case 'stateIn':
          return `in ${typeof g.stateValue === 'string' ? g.stateValue : JSON.stringify(g.stateValue)}`;
      }
    }
    return g.name && g.name !== 'guard' ? g.name : 'inline guard';
  }
  if (guard && typeof guard === 'object' && 'type' in guard) {
    const { type, params } = guard as { type: string; params?: unknown };
    if (params && typeof params === 'object') {
      const args = Object.entries(params).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
      return `${type}(${args.join(', ')})`;
    }
    return type;
  }
  return String(guard);
}

/** The raise / cancel xstate adds to a state's entry / exit for each of its `after` timers. */
function isTimer(action: unknown): boolean {
  if (typeof action !== 'function') return false;
  const a = action as Builtin;
  const id = a.type === 'xstate.raise' ? a.id : a.type === 'xstate.cancel' ? a.sendId : undefined;
  return typeof id === 'string' && id.startsWith('xstate.after.');
}

/** An action by name; xstate's own (assign, emit, raise, ...) by what they are. */
export function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') {
    const a = action as Builtin;
    if (a.type?.startsWith('xstate.')) {
      const what = a.type.slice('xstate.'.length);
      const event = a.event as { type?: unknown } | undefined;
      if (event && typeof event === 'object' && typeof event.type === 'string') return `${what} ${event.type}`;
      if (what === 'spawnChild' && typeof a.src === 'string') return `${what} ${a.src}`;
      return what;
    }
    // an arrow function written in place is named after the key it sits under
    return a.name && !['actions', 'entry', 'exit'].includes(a.name) ? a.name : 'inline action';
  }
  if (action && typeof action === 'object' && 'type' in action) return String((action as { type: unknown }).type);
  return String(action);
}
