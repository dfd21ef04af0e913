import type { StateMachineKind } from '@proxyscope/protocol';

/**
 * The shape of one engine machine's state chart as the machine view draws it. The charts
 * themselves are not written by hand: `virtual:machine-charts` is generated at build time
 * from the engine's definitions (apps/web/vite-plugin-machine-charts.ts), so the web bundle
 * carries the real charts without carrying the engine (xstate, llhttp-wasm).
 */
export interface ChartState {
  /** as the tracer names it: a state nested in a compound state is `parent.child` */
  name: string;
  /** meta.envoy: the Envoy function the state mirrors */
  envoy?: string;
  final?: true;
  /** entry / exit actions by name (`assign`, `emit retry.do_retry` for xstate's own) */
  entry?: string[];
  exit?: string[];
  /** actors the state invokes, by their `src` */
  invoke?: string[];
}

export interface ChartTransition {
  from: string;
  to: string;
  /**
   * The event type. xstate's generated events (`xstate.after.<delay>.<id>`,
   * `xstate.done.actor.<id>`) carry ids that change with unrelated edits, so they are
   * reduced to `after <delay>`, `done`, `error`; eventless transitions are `always`.
   */
  event: string;
  /** the guard as written: `isRetriable`, `not hasRetriesLeft`, `a and b`, `retryResourceAvailable(held: 0)` */
  guard?: string;
  actions?: string[];
}

export interface ChartDef {
  initial: string;
  states: ChartState[];
  transitions: ChartTransition[];
}

/** `server` is the admin server's own actor, not a state machine: it has no chart. */
export type ChartKind = StateMachineKind;

export type Charts = Record<ChartKind, ChartDef>;
