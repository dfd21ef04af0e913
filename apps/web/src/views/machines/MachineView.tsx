import { useEffect, useMemo, useReducer, useRef } from 'react';
import type { ViewProps } from '../../model/types';
import { CHARTS } from 'virtual:machine-charts';
import type { ChartKind } from './chart-def';
import { BOX_H, BOX_W, envoyLines, layoutChart, type ChartBox, type ChartLayout } from './chart-layout';
import { requestMachines, type MachineRun } from './request-machines';
import '../topology/views-theme.css';
import './machines.css';

const TITLES: Partial<Record<ChartKind, string>> = {
  stream: 'stream · ActiveStream',
  filter_chain: 'filter chain · FilterManager',
  network_filter_chain: 'network filter chain · Network::FilterManagerImpl',
  http_connection_manager: 'connection manager · Http::ConnectionManagerImpl',
  router: 'router · Router::Filter',
  upstream_request: 'upstream request · UpstreamRequest',
  retry: 'retry · RetryStateImpl',
  pool: 'pool · ConnPoolImplBase',
  client: 'upstream connection · ActiveClient',
};

/** A state a lesson points at: its machine's card is scrolled to, the state ringed. */
export interface MachineHighlight {
  machine: string;
  state: string;
}

export function MachineView({ store, cursor, selected, highlight = null }: ViewProps & { highlight?: MachineHighlight | null }) {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => store.subscribe(bump), [store]);
  const version = store.version;
  const runs = useMemo(() => (selected === null ? [] : requestMachines(store, selected, cursor)), [store, version, selected, cursor]);
  if (selected === null) return <div className="psm-machines pst-empty">Select a request (click a token on the topology or a row in the list) to see its state machines.</div>;
  if (runs.length === 0) return <div className="psm-machines pst-empty">Request {selected} has no events at or before the cursor.</div>;
  return (
    // focusable: a keyboard scrolls the charts, which hold no control of their own
    <div className="psm-machines" data-testid="machine-view" data-request={selected} tabIndex={0} role="region" aria-label={`State machines of request ${selected}`}>
      <div className="psm-legend">
        <span className="psm-key psm-key-current">current state</span>
        <span className="psm-key psm-key-visited">visited</span>
        <span className="psm-key">not visited</span>
        <span className="psm-key psm-key-final">final state</span>
        <span className="psm-key psm-key-timer">dashed: on a timer</span>
        <span className="psm-legend-note">each state names the Envoy function it mirrors</span>
      </div>
      <div className="psm-grid">
        {runs.map((run) => (
          <MachineCard key={`${run.actor}|${run.role ?? ''}`} run={run} highlight={highlight?.machine === run.machine ? highlight.state : null} />
        ))}
      </div>
    </div>
  );
}

function MachineCard({ run, highlight }: { run: MachineRun; highlight: string | null }) {
  const chart = CHARTS[run.machine as ChartKind];
  const layout = useMemo(() => (chart ? layoutChart(chart) : null), [chart]);
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    if (highlight !== null) ref.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }, [highlight]);
  if (!chart || !layout) return null;
  const name = run.actor.split('/').pop();
  return (
    <section ref={ref} className="psm-card" data-machine={run.machine} data-actor={run.actor} data-current={run.current} data-highlight={highlight ?? undefined}>
      <header>
        <h4>
          {TITLES[run.machine as ChartKind] ?? run.machine} <span className="psm-actor">{name}</span>
        </h4>
        <div className="psm-sub">
          {run.role ?? run.actor} · <b>{run.current}</b>
          {run.stopped ? ' (stopped)' : ''}
        </div>
      </header>
      <ChartSvg layout={layout} run={run} highlight={highlight} />
      <ol className="psm-path" aria-label="states visited">
        {run.path.map((p, i) => (
          <li key={i} title={[p.event && `on ${p.event}`, p.envoy].filter(Boolean).join('\n')}>
            {p.state}
            <small>{p.t.toFixed(1)} ms</small>
          </li>
        ))}
      </ol>
    </section>
  );
}

function anchor(b: ChartBox, side: 'top' | 'bottom' | 'right' | 'left') {
  switch (side) {
    case 'top':
      return { x: b.x + BOX_W / 2, y: b.y };
    case 'bottom':
      return { x: b.x + BOX_W / 2, y: b.y + BOX_H };
    case 'right':
      return { x: b.x + BOX_W, y: b.y + BOX_H / 2 };
    case 'left':
      return { x: b.x, y: b.y + BOX_H / 2 };
  }
}

function edgePath(a: ChartBox, b: ChartBox, back: boolean): string {
  if (!back) {
    const p = anchor(a, 'bottom');
    const q = anchor(b, 'top');
    const my = (p.y + q.y) / 2;
    return `M${p.x},${p.y} C${p.x},${my} ${q.x},${my} ${q.x},${q.y - 1}`;
  }
  if (Math.abs(a.y - b.y) < 1) {
    // same row: a shallow arc over the top
    const p = anchor(a, a.x < b.x ? 'right' : 'left');
    const q = anchor(b, a.x < b.x ? 'left' : 'right');
    return `M${p.x},${p.y - 8} C${(p.x + q.x) / 2},${p.y - 30} ${(p.x + q.x) / 2},${q.y - 30} ${q.x},${q.y - 8}`;
  }
  // going up: out of the right side, back into the right side of the earlier state
  const p = anchor(a, 'right');
  const q = anchor(b, 'right');
  const bulge = Math.max(p.x, q.x) + 24;
  return `M${p.x},${p.y} C${bulge},${p.y} ${bulge},${q.y} ${q.x + 1},${q.y}`;
}

function stateTitle(b: ChartBox): string {
  const lines = [b.name, b.envoy ?? '(no Envoy function)'];
  if (b.invoke?.length) lines.push(`invokes ${b.invoke.join(', ')}`);
  if (b.entry?.length) lines.push(`entry / ${b.entry.join(', ')}`);
  if (b.exit?.length) lines.push(`exit / ${b.exit.join(', ')}`);
  return lines.join('\n');
}

function ChartSvg({ layout, run, highlight }: { layout: ChartLayout; run: MachineRun; highlight: string | null }) {
  const width = layout.width + 30;
  return (
    <svg className="psm-chart" viewBox={`0 0 ${width} ${layout.height}`} style={{ maxWidth: width }} role="img" aria-label={`${run.machine} state chart`}>
      <defs>
        <marker id="psm-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
          <path d="M0,0 L8,4 L0,8 z" className="psm-arrowhead" />
        </marker>
        <marker id="psm-arrow-taken" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
          <path d="M0,0 L8,4 L0,8 z" className="psm-arrowhead-taken" />
        </marker>
      </defs>
      {layout.edges.map((e) => {
        const a = layout.boxes.get(e.from)!;
        const b = layout.boxes.get(e.to)!;
        const taken = run.taken.has(`${e.from}>${e.to}`);
        return (
          <path key={`${e.from}>${e.to}`} d={edgePath(a, b, e.back)} className={`psm-edge${taken ? ' psm-edge-taken' : ''}${e.timer ? ' psm-edge-timer' : ''}`} markerEnd={taken ? 'url(#psm-arrow-taken)' : 'url(#psm-arrow)'}>
            <title>{`${e.from} → ${e.to}\n${e.ways.join('\n')}`}</title>
          </path>
        );
      })}
      {[...layout.boxes.values()].map((b) => {
        const state = b.name === run.current ? 'current' : run.visited.has(b.name) ? 'visited' : 'idle';
        const lines = envoyLines(b.envoy);
        return (
          <g key={b.name} className={`psm-state psm-state-${state}${b.final ? ' psm-final' : ''}${b.name === highlight ? ' psm-highlight' : ''}`} data-state={b.name} data-status={state} transform={`translate(${b.x},${b.y})`}>
            <rect width={BOX_W} height={BOX_H} rx={b.final ? 3 : 8} />
            {b.final && <rect className="psm-final-inner" x={3} y={3} width={BOX_W - 6} height={BOX_H - 6} rx={2} />}
            <text x={BOX_W / 2} y={lines.length > 1 ? 13 : 16} textAnchor="middle" className="psm-state-name">
              {b.name}
            </text>
            {lines.map((l, i) => (
              <text key={i} x={BOX_W / 2} y={(lines.length > 1 ? 24 : 29) + i * 10} textAnchor="middle" className="psm-envoy">
                {l}
              </text>
            ))}
            <title>{stateTitle(b)}</title>
          </g>
        );
      })}
    </svg>
  );
}
