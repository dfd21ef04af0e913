import { describe, expect, it } from 'vitest';
import { CHARTS } from 'virtual:machine-charts';
import { layoutChart } from '../../src/views/machines/chart-layout';
import { requestMachines } from '../../src/views/machines/request-machines';
import { indexOf, loadFixture } from './test-store';

const store = loadFixture();

describe('machines of a request', () => {
  // stream 27: 503 on attempt 1, retried on another host, 200
  const end = indexOf(store, (e) => e.ids.stream === 27 && e.type === 'fact' && e.fact === 'stream.access_log');
  it('lists the stream, router, retry and both upstream attempts with the pools and connections they used', () => {
    const runs = requestMachines(store, 27, end);
    const kinds = runs.map((r) => r.machine);
    expect(kinds.filter((k) => k === 'upstream_request')).toHaveLength(2);
    for (const k of ['stream', 'router', 'retry', 'pool', 'client'] as const) expect(kinds).toContain(k);
    const router = runs.find((r) => r.machine === 'router')!;
    expect(router.current).toBe('complete');
    expect(router.taken.has('upstream_pending>retry_backoff')).toBe(true);
    expect(router.taken.has('retry_backoff>upstream_pending')).toBe(true);
    const attempts = runs.filter((r) => r.machine === 'upstream_request');
    expect(attempts.map((a) => a.current)).toEqual(['failed', 'done']);
    const pools = runs.filter((r) => r.machine === 'pool');
    expect(new Set(pools.map((p) => p.actor)).size).toBe(2);
  });
  it('shows only what happened up to the cursor', () => {
    const backoff = indexOf(store, (e) => e.ids.stream === 27 && e.machine === 'router' && e.type === 'transition' && e.to === 'retry_backoff');
    const runs = requestMachines(store, 27, backoff);
    expect(runs.find((r) => r.machine === 'router')!.current).toBe('retry_backoff');
    expect(runs.filter((r) => r.machine === 'upstream_request')).toHaveLength(1);
    expect(runs.find((r) => r.machine === 'stream')!.visited.has('encoding_headers')).toBe(false);
  });
  it('every state a request visits exists in the static charts', () => {
    for (const stream of store.requestIds()) {
      for (const run of requestMachines(store, stream, store.length - 1)) {
        const names = new Set(CHARTS[run.machine as keyof typeof CHARTS].states.map((s) => s.name));
        for (const s of run.visited) expect(names, `${run.machine} ${s}`).toContain(s);
      }
    }
  });
});

describe('chart layout', () => {
  it('puts the initial state on top and every state in a box that does not overlap another', () => {
    for (const chart of Object.values(CHARTS)) {
      const l = layoutChart(chart);
      const boxes = [...l.boxes.values()];
      expect(boxes).toHaveLength(chart.states.length);
      expect(l.boxes.get(chart.initial)!.y).toBe(Math.min(...boxes.map((b) => b.y)));
      for (const a of boxes) for (const b of boxes) if (a !== b) expect(a.x === b.x && a.y === b.y).toBe(false);
    }
  });
});

describe('shared machines', () => {
  it('lists pools and connections in attempt order', () => {
    const end = indexOf(store, (e) => e.ids.stream === 27 && e.type === 'fact' && e.fact === 'stream.access_log');
    const runs = requestMachines(store, 27, end);
    const attempts = runs.filter((r) => r.machine === 'upstream_request');
    const pools = runs.filter((r) => r.machine === 'pool');
    const hostOf = (i: number) => store.get(store.eventsOfActor(attempts[i].actor)[0]).ids.host!;
    expect(pools[0].actor.endsWith(hostOf(0))).toBe(true);
    expect(pools[1].actor.endsWith(hostOf(1))).toBe(true);
  });
});
