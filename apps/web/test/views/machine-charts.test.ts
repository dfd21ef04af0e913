import { describe, expect, it } from 'vitest';
import { and, assign, emit, not, or, setup } from 'xstate';
import { CHARTS } from 'virtual:machine-charts';
import { MACHINE_KINDS } from '@proxyscope/protocol';
// Test-only: the web bundle never imports the engine; the charts it gets are compared with it here.
import { MACHINES } from '../../../../packages/engine/src/machines.ts';
import { chartOf } from '../../vite-plugin-machine-charts.ts';
import { layoutChart, wayOf } from '../../src/views/machines/chart-layout';
import type { ChartKind } from '../../src/views/machines/chart-def';

interface Node {
  path: string[];
  type: string;
  meta?: { envoy?: string };
  states: Record<string, Node>;
  after: Array<{ delay: unknown; target?: Node[] }>;
}

/** Every state the tracer can report for a machine, read straight off its definition. */
function leaves(node: Node): Node[] {
  const children = Object.values(node.states);
  return children.length === 0 ? [node] : children.flatMap(leaves);
}

function allNodes(node: Node): Node[] {
  return [node, ...Object.values(node.states).flatMap(allNodes)];
}

describe('machine charts generated from the engine', () => {
  it('has a chart for every machine kind but the admin server', () => {
    expect(Object.keys(CHARTS).sort()).toEqual(MACHINE_KINDS.filter((k) => k !== 'server').sort());
  });

  for (const { kind, machine } of MACHINES) {
    describe(kind, () => {
      const chart = CHARTS[kind as ChartKind];
      const root = machine.root as unknown as Node;
      const states = leaves(root);

      it('draws every state of the definition, by the name the tracer gives it, with its meta.envoy and final mark', () => {
        expect(chart.states.map((s) => s.name)).toEqual(states.map((n) => n.path.join('.')));
        for (const n of states) {
          const drawn = chart.states.find((s) => s.name === n.path.join('.'))!;
          expect(drawn.envoy).toBe(n.meta?.envoy);
          expect(!!drawn.final).toBe(n.type === 'final');
        }
      });

      it('starts in the initial state the definition names', () => {
        let config = machine.config as { initial?: string; states?: Record<string, unknown> };
        const path: string[] = [];
        while (config.initial !== undefined) {
          path.push(config.initial);
          config = config.states![config.initial] as typeof config;
        }
        expect(chart.initial).toBe(path.join('.'));
      });

      it('shows each `after` timer on its edges by the delay it waits for', () => {
        const delay = (event: string) => event.replace(/^after /, '').replace(/ ms$/, '');
        const drawn = chart.transitions.filter((t) => t.event.startsWith('after '));
        const defined = allNodes(root).flatMap((n) => n.after.filter((t) => t.target?.length).map((t) => String(t.delay)));
        expect(new Set(drawn.map((t) => delay(t.event)))).toEqual(new Set(defined));
        for (const n of states) for (const t of n.after) if (t.target?.length) expect(drawn.map((d) => `${d.from} ${delay(d.event)}`)).toContain(`${n.path.join('.')} ${t.delay}`);
      });

      it('joins only states it draws', () => {
        const names = new Set(chart.states.map((s) => s.name));
        for (const t of chart.transitions) {
          expect(names, `${t.from} -> ${t.to}`).toContain(t.from);
          expect(names, `${t.from} -> ${t.to}`).toContain(t.to);
        }
      });
    });
  }

  it('carries the retry back-off timer and the guards of RetryStateImpl::shouldRetry', () => {
    const retry = CHARTS.retry;
    const backoff = retry.transitions.find((t) => t.from === 'backoff' && t.to === 'retrying')!;
    expect(wayOf(backoff)).toBe('after backoff / requestRetry');
    const exhausted = retry.transitions.find((t) => t.from === 'idle' && t.to === 'exhausted')!;
    expect(exhausted.guard).toBe('not hasRetriesLeft');
    const overflowed = retry.transitions.find((t) => t.from === 'retrying' && t.to === 'overflowed')!;
    expect(overflowed.guard).toBe('not retryResourceAvailable(held: 1)');
    // the timer's own raise/cancel are xstate's plumbing, shown as the `after` edge instead
    expect(retry.states.find((s) => s.name === 'backoff')!.entry).toBeUndefined();
    expect(retry.states.find((s) => s.name === 'retrying')!.exit).toEqual(['releaseRetryResource']);
    expect(layoutChart(retry).edges.find((e) => e.from === 'backoff' && e.to === 'retrying')!.timer).toBe(true);
  });
});

describe('reading a definition into a chart', () => {
  const m = setup({
    types: { events: {} as { type: 'go' } | { type: 'stop' } | { type: 'poke' } },
    guards: { ready: () => true, allowed: (_: unknown, _p: { n: number }) => true, open: () => true },
    actions: { count: () => {}, note: () => {} },
    delays: { linger: 10 },
  }).createMachine({
    id: 'toy',
    initial: 'outer',
    states: {
      outer: {
        initial: 'first',
        on: { stop: { target: 'done', actions: 'note' }, poke: 'outer' },
        states: {
          first: {
            entry: ['count', assign({})],
            on: { go: { target: 'second', guard: and(['ready', not({ type: 'allowed', params: { n: 2 } })]) } },
          },
          second: {
            exit: emit({ type: 'left' }),
            after: { linger: 'first', 500: { target: '#toy.done', guard: or(['ready', 'open']) } },
            // handled here without a guard: the parent's `stop` never applies to this state
            on: { stop: 'first' },
          },
        },
      },
      done: { type: 'final' },
    },
  });
  const chart = chartOf(m as never);

  it('names nested states parent.child and starts in the initial leaf', () => {
    expect(chart.states.map((s) => s.name)).toEqual(['outer.first', 'outer.second', 'done']);
    expect(chart.initial).toBe('outer.first');
  });

  it('draws a parent’s transition from each child that does not handle the event itself, into the target’s initial leaf', () => {
    const stops = chart.transitions.filter((t) => t.event === 'stop').map((t) => `${t.from}>${t.to}`);
    expect(stops.sort()).toEqual(['outer.first>done', 'outer.second>outer.first']);
    const pokes = chart.transitions.filter((t) => t.event === 'poke').map((t) => `${t.from}>${t.to}`);
    expect(pokes.sort()).toEqual(['outer.first>outer.first', 'outer.second>outer.first']);
  });

  it('writes guards and actions as the definition does', () => {
    const go = chart.transitions.find((t) => t.event === 'go')!;
    expect(go.guard).toBe('ready and not allowed(n: 2)');
    expect(chart.states[0].entry).toEqual(['count', 'assign']);
    expect(chart.states[1].exit).toEqual(['emit left']);
    const stop = chart.transitions.find((t) => t.event === 'stop' && t.to === 'done')!;
    expect(stop.actions).toEqual(['note']);
  });

  it('names timers by their delay and keeps their guards', () => {
    const timers = chart.transitions.filter((t) => t.event.startsWith('after ')).map((t) => [t.from, t.to, t.event, t.guard]);
    expect(timers).toContainEqual(['outer.second', 'outer.first', 'after linger', undefined]);
    expect(timers).toContainEqual(['outer.second', 'done', 'after 500 ms', 'ready or open']);
    expect(timers).toHaveLength(2);
  });
});

function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  const [key, inner] = Object.entries(value as Record<string, unknown>)[0];
  return `${key}.${stateName(inner)}`;
}
