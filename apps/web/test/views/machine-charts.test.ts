import { describe, expect, it } from 'vitest';
import { CHARTS, type ChartKind } from '../../src/views/machines/charts';
import { ENGINE_MACHINES } from './engine-machines';
import { extractChart } from './extract-chart';

describe('static machine charts', () => {
  it('cover every engine machine kind', () => {
    expect(Object.keys(CHARTS).sort()).toEqual(Object.keys(ENGINE_MACHINES).sort());
  });

  for (const [kind, machine] of Object.entries(ENGINE_MACHINES)) {
    describe(kind, () => {
      const engine = extractChart(machine);
      const chart = CHARTS[kind as ChartKind];
      it('has the same initial state and states, in the same order, with the same meta.envoy', () => {
        expect(chart.initial).toBe(engine.initial);
        expect(chart.states).toEqual(engine.states);
      });
      it('has the same transitions', () => {
        const key = (t: [string, string, string]) => t.join(' > ');
        expect(chart.transitions.map(key).sort()).toEqual(engine.transitions.map(key).sort());
      });
    });
  }
});
