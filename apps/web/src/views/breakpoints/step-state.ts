import { STEPPABLE_MACHINES, type Breakpoint, type HeldRequest, type StepStateMessage, type SteppableMachine } from '@proxyscope/protocol';
import { CHARTS } from '../machines/charts';

/** Step mode as the server last told it (`hello.step`, then each `step_state`). */
export type StepState = Omit<StepStateMessage, 'type'>;

export const EMPTY_STEP_STATE: StepState = { breakpoints: [], pauseAll: false, held: [] };

/** The states a breakpoint may name, from the machine charts (the same names the engine checks). */
export function statesOf(machine: SteppableMachine): string[] {
  return CHARTS[machine].states.map((s) => s.name);
}

/** The Envoy function a state mirrors, for labels. */
export function envoyOf(machine: string, state: string): string | undefined {
  const chart = (CHARTS as Record<string, { states: Array<{ name: string; envoy?: string }> }>)[machine];
  return chart?.states.find((s) => s.name === state)?.envoy;
}

/** One-click breakpoints for the questions people ask in workshops. */
export const PRESETS: Array<{ label: string; breakpoint: Breakpoint }> = [
  { label: 'before the filters run', breakpoint: { machine: 'stream', state: 'decoding_headers' } },
  { label: 'router chose a route', breakpoint: { machine: 'router', state: 'route_matched' } },
  { label: 'host picked', breakpoint: { machine: 'router', state: 'host_selected' } },
  { label: 'waiting for a pool connection', breakpoint: { machine: 'upstream_request', state: 'pending_pool' } },
  { label: 'retry enters back-off', breakpoint: { machine: 'retry', state: 'backoff' } },
  { label: 'response headers through the encoders', breakpoint: { machine: 'stream', state: 'encoding_headers' } },
];

export const MACHINES: readonly SteppableMachine[] = STEPPABLE_MACHINES;

export function sameBreakpoint(a: Breakpoint, b: Breakpoint): boolean {
  return a.machine === b.machine && a.state === b.state;
}

/** The list with `bp` added (no duplicates) or removed. */
export function toggleBreakpoint(list: readonly Breakpoint[], bp: Breakpoint): Breakpoint[] {
  return list.some((x) => sameBreakpoint(x, bp)) ? list.filter((x) => !sameBreakpoint(x, bp)) : [...list, bp];
}

export function describeHeld(h: HeldRequest): string {
  const why = h.reason === 'breakpoint' ? 'breakpoint' : h.reason === 'pause_all' ? 'pause all' : 'stepped';
  return `${h.machine} · ${h.state} (${why})`;
}
