import type { AnyStateMachine } from 'xstate';
import type { ChartDef } from '../../src/views/machines/charts';

/**
 * Reads a running xstate machine definition into the static chart shape the web UI draws.
 * xstate's generated event names (`xstate.after.<delay>.<id>`, `xstate.done.actor.<n>...`)
 * carry ids that change with unrelated edits, so they are reduced to `after <delay>`,
 * `done` and `error`; self-transitions without a target change no state and are left out.
 */
export function extractChart(machine: AnyStateMachine): ChartDef {
  const root = machine.root;
  const initial = root.initial?.target?.[0]?.key ?? '';
  const states: ChartDef['states'] = [];
  const transitions: ChartDef['transitions'] = [];
  const seen = new Set<string>();
  const add = (from: string, to: string, event: string) => {
    const key = `${from}>${to}>${event}`;
    if (seen.has(key)) return;
    seen.add(key);
    transitions.push([from, to, event]);
  };
  for (const [name, node] of Object.entries(root.states)) {
    const envoy = (node.meta as { envoy?: string } | undefined)?.envoy;
    states.push(node.type === 'final' ? { name, envoy, final: true } : { name, envoy });
    for (const [eventType, defs] of node.transitions) {
      for (const def of defs) for (const target of def.target ?? []) add(name, target.key, normaliseEvent(eventType));
    }
    for (const def of node.always ?? []) for (const target of def.target ?? []) add(name, target.key, 'always');
  }
  return { initial, states, transitions };
}

function normaliseEvent(eventType: string): string {
  const after = /^xstate\.after\.([^.]+)\./.exec(eventType);
  if (after) return `after ${after[1]}`;
  if (eventType.startsWith('xstate.done.')) return 'done';
  if (eventType.startsWith('xstate.error.')) return 'error';
  return eventType;
}
