import { describe, expect, it } from 'vitest';
import { FIGURE_PAD_X, FIGURE_PAD_Y, GAP, fitCharts } from '../../src/views/stats/chart-fit';

describe('stats charts fit their strip', () => {
  it('fill the width of the strip without passing it, at the projector size and full HD', () => {
    for (const [width, height] of [
      [1260, 110],
      [1900, 110],
      [1900, 300],
    ] as const) {
      const fit = fitCharts(width, height, [1, 1, 1, 1, 2]);
      const used = fit.widths.reduce((a, w) => a + w + FIGURE_PAD_X, 0) + GAP * 4;
      expect(used).toBeLessThanOrEqual(width);
      expect(used).toBeGreaterThan(width - 10);
      expect(fit.height + FIGURE_PAD_Y).toBeLessThanOrEqual(height);
      expect(fit.widths[4]).toBeGreaterThan(fit.widths[0]! * 1.9);
    }
  });

  it('grow with a taller strip', () => {
    expect(fitCharts(1260, 200, [1, 1]).height).toBeGreaterThan(fitCharts(1260, 110, [1, 1]).height);
  });
});
