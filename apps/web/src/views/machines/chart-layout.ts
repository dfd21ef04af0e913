import type { ChartDef, ChartTransition } from './chart-def';

/**
 * Top-to-bottom layered layout of one state chart: a state's row is its shortest distance
 * from the initial state, so the happy path reads downwards and failure exits sit beside it.
 */
export interface ChartBox {
  name: string;
  envoy?: string;
  final: boolean;
  entry?: string[];
  exit?: string[];
  invoke?: string[];
  x: number;
  y: number;
}

export interface ChartEdge {
  from: string;
  to: string;
  events: string[];
  /** one line per way along the edge: `on retry.outcome [not isRetriable] / countRetrySuccess`, `after backoff / requestRetry` */
  ways: string[];
  /** taken when a timer fires (`after <delay>`) */
  timer: boolean;
  /** goes up or sideways (a loop back, e.g. retry_backoff -> upstream_pending) */
  back: boolean;
}

export interface ChartLayout {
  boxes: Map<string, ChartBox>;
  edges: ChartEdge[];
  width: number;
  height: number;
}

export const BOX_W = 168;
export const BOX_H = 40;
const GAP_X = 22;
const GAP_Y = 26;
const PAD = 8;

export function layoutChart(chart: ChartDef): ChartLayout {
  const depth = new Map<string, number>([[chart.initial, 0]]);
  const queue = [chart.initial];
  while (queue.length) {
    const s = queue.shift()!;
    for (const { from, to } of chart.transitions) {
      if (from === s && !depth.has(to)) {
        depth.set(to, depth.get(s)! + 1);
        queue.push(to);
      }
    }
  }
  const maxDepth = Math.max(0, ...depth.values());
  // a state nothing leads to still gets a row, after the rest
  for (const st of chart.states) if (!depth.has(st.name)) depth.set(st.name, maxDepth + 1);
  const rows: string[][] = [];
  for (const st of chart.states) (rows[depth.get(st.name)!] ??= []).push(st.name);
  const widest = Math.max(...rows.filter(Boolean).map((r) => r.length));
  const width = PAD * 2 + widest * BOX_W + (widest - 1) * GAP_X;
  const boxes = new Map<string, ChartBox>();
  const byName = new Map(chart.states.map((s) => [s.name, s]));
  rows.forEach((row, r) => {
    if (!row) return;
    const rowW = row.length * BOX_W + (row.length - 1) * GAP_X;
    row.forEach((name, i) => {
      const st = byName.get(name)!;
      boxes.set(name, { name, envoy: st.envoy, final: !!st.final, entry: st.entry, exit: st.exit, invoke: st.invoke, x: (width - rowW) / 2 + i * (BOX_W + GAP_X), y: PAD + r * (BOX_H + GAP_Y) });
    });
  });
  const merged = new Map<string, ChartEdge>();
  for (const t of chart.transitions) {
    const { from, to, event } = t;
    const key = `${from}>${to}`;
    let e = merged.get(key);
    if (!e) merged.set(key, (e = { from, to, events: [], ways: [], timer: false, back: depth.get(to)! <= depth.get(from)! }));
    if (!e.events.includes(event)) e.events.push(event);
    e.ways.push(wayOf(t));
    if (event.startsWith('after ')) e.timer = true;
  }
  const nRows = rows.length;
  return { boxes, edges: [...merged.values()], width, height: PAD * 2 + nRows * BOX_H + (nRows - 1) * GAP_Y };
}

/** How a transition is taken, in the words of its definition. */
export function wayOf(t: ChartTransition): string {
  const on = t.event.startsWith('after ') || t.event === 'always' ? t.event : `on ${t.event}`;
  return `${on}${t.guard ? ` [${t.guard}]` : ''}${t.actions?.length ? ` / ${t.actions.join(', ')}` : ''}`;
}

/** Splits an Envoy function name over two lines at a `::`, for a narrow box. */
export function envoyLines(envoy: string | undefined, max = 30): string[] {
  if (!envoy) return [];
  if (envoy.length <= max) return [envoy];
  const cut = envoy.lastIndexOf('::', Math.min(envoy.length - 1, max + 2));
  if (cut <= 0) return [envoy.slice(0, max - 1) + '…'];
  const a = envoy.slice(0, cut);
  const b = envoy.slice(cut);
  return [a.length > max ? a.slice(0, max - 1) + '…' : a, b.length > max ? b.slice(0, max - 1) + '…' : b];
}
