import { useEffect, useRef } from 'react';
import { axisBottom, axisLeft } from 'd3-axis';
import { scaleLinear } from 'd3-scale';
import { select } from 'd3-selection';
import { area, curveMonotoneX, line } from 'd3-shape';

export interface Series {
  name: string;
  color: string;
  values: number[];
}

interface Props {
  title: string;
  /** bucket start times, trace ms */
  times: number[];
  bucketMs: number;
  series: Series[];
  unit?: string;
  width?: number;
  height?: number;
}

const M = { top: 6, right: 8, bottom: 18, left: 30 };

/** A small time-series chart with axes; d3 owns the SVG's insides, React only the frame. */
export function Sparkline({ title, times, bucketMs, series, unit, width = 260, height = 92 }: Props) {
  const ref = useRef<SVGSVGElement>(null);
  // Several series: their legend sits beside the chart, so the figure keeps its height.
  const legendW = series.length > 1 ? Math.round(Math.min(150, width * 0.38)) : 0;
  const svgW = width - legendW;
  useEffect(() => {
    const svg = ref.current;
    if (!svg) return;
    const root = select(svg);
    root.selectAll('*').remove();
    const w = svgW - M.left - M.right;
    const h = height - M.top - M.bottom;
    const g = root.append('g').attr('transform', `translate(${M.left},${M.top})`);
    const t0 = times[0] ?? 0;
    const t1 = Math.max(t0 + bucketMs, (times[times.length - 1] ?? 0) + bucketMs);
    const x = scaleLinear().domain([t0 / 1000, t1 / 1000]).range([0, w]);
    const max = Math.max(1, ...series.flatMap((s) => s.values));
    const y = scaleLinear().domain([0, max]).nice().range([h, 0]);
    g.append('g').attr('class', 'pss-axis').attr('transform', `translate(0,${h})`).call(axisBottom(x).ticks(4).tickSizeOuter(0).tickFormat((d) => `${d}s`));
    g.append('g').attr('class', 'pss-axis').call(axisLeft(y).ticks(3).tickSizeOuter(0));
    // each value is plotted at its bucket's middle
    const px = (i: number) => x((times[i] + bucketMs / 2) / 1000);
    for (const s of series) {
      if (series.length === 1) {
        g.append('path')
          .datum(s.values)
          .attr('class', 'pss-area')
          .attr('fill', s.color)
          .attr('d', area<number>().x((_, i) => px(i)).y0(h).y1((v) => y(v)).curve(curveMonotoneX));
      }
      g.append('path')
        .datum(s.values)
        .attr('class', 'pss-line')
        .attr('stroke', s.color)
        .attr('d', line<number>().x((_, i) => px(i)).y((v) => y(v)).curve(curveMonotoneX));
    }
  }, [times, bucketMs, series, svgW, height]);
  const latest = series.length === 1 ? series[0].values[series[0].values.length - 1] : undefined;
  return (
    <figure className="pss-chart" data-chart={title}>
      <figcaption>
        <span>{title}</span>
        {latest !== undefined && (
          <b>
            {latest}
            {unit ? ` ${unit}` : ''}
          </b>
        )}
      </figcaption>
      <div className="pss-chart-body">
      <svg ref={ref} width={svgW} height={height} role="img" aria-label={title} />
      {series.length > 1 && (
        <ul className="pss-series-legend" style={{ width: legendW, maxHeight: height }}>
          {series.map((s) => (
            <li key={s.name}>
              <span style={{ background: s.color }} />
              {s.name} <b>{s.values[s.values.length - 1] ?? 0}</b>
            </li>
          ))}
        </ul>
      )}
      </div>
    </figure>
  );
}
