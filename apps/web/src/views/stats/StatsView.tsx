import { useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from 'react';
import type { ViewProps } from '../../model/types';
import { BUCKET_MS, StatsTracker } from './series';
import { Sparkline, type Series } from './Sparkline';
import { fitCharts } from './chart-fit';
import '../topology/views-theme.css';
import './stats.css';

// Okabe-Ito first (the hues a colour-blind eye still tells apart), each 3:1 or more on the
// light and the dark panel; past seven hosts, the legend's names carry the rest.
const HOST_COLORS = ['#0072b2', '#d55e00', '#009e73', '#c0649a', '#3b93c4', '#b58500', '#808080', '#8a5a9e', '#2e8b57', '#a34700'];

export function StatsView({ store, cursor }: ViewProps) {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => store.subscribe(bump), [store]);
  const tracker = useRef(new StatsTracker());
  const version = store.version;
  const stats = useMemo(() => tracker.current.at(store, cursor), [store, version, cursor]);
  const times = useMemo(() => stats.buckets.map((b) => b.t), [stats]);
  const one = (name: string, color: string, pick: (b: (typeof stats.buckets)[number]) => number): Series[] => [{ name, color, values: stats.buckets.map(pick) }];
  const cxSeries: Series[] = stats.hosts.map((h, i) => ({ name: h, color: HOST_COLORS[i % HOST_COLORS.length], values: stats.buckets.map((b) => b.cx[h] ?? 0) }));
  const activeCx = Object.values(stats.cx).reduce((a, b) => a + b, 0);
  const last = stats.buckets[stats.buckets.length - 1];
  const root = useRef<HTMLDivElement>(null);
  const head = useRef<HTMLDivElement>(null);
  const [space, setSpace] = useState({ width: 1000, height: 110 });
  const empty = stats.buckets.length === 0;
  // The charts take the space the strip leaves under the counters (it can be resized).
  useLayoutEffect(() => {
    const el = root.current;
    if (!el) return;
    const measure = () => {
      const style = getComputedStyle(el);
      const padX = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
      const padY = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
      const headH = head.current ? head.current.getBoundingClientRect().height + 6 : 0;
      const next = { width: Math.floor(el.clientWidth - padX), height: Math.floor(el.clientHeight - padY - headH) };
      setSpace((s) => (s.width === next.width && s.height === next.height ? s : next));
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    if (head.current) observer.observe(head.current);
    return () => observer.disconnect();
  }, [empty]);
  // the connections chart gets twice the width: it has a line per host and their legend
  const fit = fitCharts(space.width, space.height, [1, 1, 1, 1, 2]);
  if (empty) return <div className="pss-stats pst-empty">No events yet.</div>;
  return (
    <div className="pss-stats" data-testid="stats-view" ref={root}>
      <div className="pss-head" ref={head}>
      <dl className="pss-counters">
        <Counter label="requests" value={stats.totals.rq} />
        <Counter label="2xx" value={stats.totals.s2xx} />
        <Counter label="4xx" value={stats.totals.s4xx} />
        <Counter label="5xx" value={stats.totals.s5xx} tone={stats.totals.s5xx ? 'bad' : undefined} />
        <Counter label="retries" value={stats.totals.retries} tone={stats.totals.retries ? 'warn' : undefined} />
        <Counter label="pending overflow" value={stats.totals.overflow} tone={stats.totals.overflow ? 'bad' : undefined} />
        <Counter label="upstream connections" value={activeCx} />
      </dl>
      <p className="pss-note">
        per {BUCKET_MS / 1000} s of trace time, up to t = {(stats.t / 1000).toFixed(1)} s{last ? ' (the last bucket is partial)' : ''}
      </p>
      </div>
      <div className="pss-grid">
        <Sparkline title="requests / s" times={times} bucketMs={BUCKET_MS} series={one('rq', '#0072b2', (b) => b.rq)} width={fit.widths[0]} height={fit.height} />
        <Sparkline title="5xx / s" times={times} bucketMs={BUCKET_MS} series={one('5xx', '#d55e00', (b) => b.s5xx)} width={fit.widths[1]} height={fit.height} />
        <Sparkline title="retries / s" times={times} bucketMs={BUCKET_MS} series={one('retries', '#b58500', (b) => b.retries)} width={fit.widths[2]} height={fit.height} />
        <Sparkline title="pending overflow / s" times={times} bucketMs={BUCKET_MS} series={one('overflow', '#8a5a9e', (b) => b.overflow)} width={fit.widths[3]} height={fit.height} />
        <Sparkline
          title="active upstream connections per host"
          times={times}
          bucketMs={BUCKET_MS}
          series={cxSeries.length ? cxSeries : [{ name: 'none yet', color: '#94a3b8', values: times.map(() => 0) }]}
          width={fit.widths[4]}
          height={fit.height}
        />
      </div>
    </div>
  );
}

function Counter({ label, value, tone }: { label: string; value: number; tone?: 'bad' | 'warn' }) {
  return (
    <div className={tone ? `pss-counter pss-${tone}` : 'pss-counter'} data-counter={label}>
      <dt>{label}</dt>
      <dd>{value.toLocaleString()}</dd>
    </div>
  );
}
