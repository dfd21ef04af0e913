/**
 * How the stats charts share the strip they live in. The strip is short (170 px by default,
 * resizable), so the charts sit in one row under one line of counters and take their size
 * from the space there is; fixed 260×92 charts in a wrapping grid were cut off at every size.
 */

export interface ChartFit {
  /** svg width of each chart, in the order given by `shares` */
  widths: number[];
  /** svg height, the same for every chart */
  height: number;
}

/** the figure's border and padding around its svg, and its caption line */
export const FIGURE_PAD_X = 14;
export const FIGURE_PAD_Y = 25;
export const GAP = 8;
export const MIN_SVG_W = 120;
export const MIN_SVG_H = 40;
export const MAX_SVG_H = 220;

/** Charts sized to fill `width` × `height` (the space under the counters), by `shares` of the width. */
export function fitCharts(width: number, height: number, shares: readonly number[]): ChartFit {
  const total = shares.reduce((a, b) => a + b, 0) || 1;
  const free = Math.max(0, width - GAP * (shares.length - 1));
  const widths = shares.map((s) => Math.max(MIN_SVG_W, Math.floor((free * s) / total) - FIGURE_PAD_X));
  const svgH = Math.floor(height - FIGURE_PAD_Y);
  return { widths, height: Math.min(MAX_SVG_H, Math.max(MIN_SVG_H, svgH)) };
}
