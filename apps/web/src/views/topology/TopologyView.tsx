import { useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from 'react';
import { select } from 'd3-selection';
import { zoom, zoomIdentity, zoomTransform, type ZoomBehavior } from 'd3-zoom';
import type { ViewProps } from '../../model/types';
import { CatalogTracker } from './catalog';
import { HOST_POOL_TOP, layoutTopology, type Layout, type LayoutNode } from './layout';
import { HELD_COLOR, LEGEND, tokenShape, traceToken } from './palette';
import { TokenCanvas } from './token-canvas';
import { isFailing, WorldTracker, type PoolState, type RequestToken, type World } from './world';
import './topology.css';

/** Re-renders when the store changes (live appends, a new file). */
function useStoreVersion(store: ViewProps['store']): number {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => store.subscribe(bump), [store]);
  return store.version;
}

const NO_HELD: ReadonlySet<number> = new Set();

/** Presenter mode: at a scale below this, 16-unit labels would render under 14 px. */
const PRESENTER_MIN_SCALE = 14 / 16;
/** Presenter mode: how close a click zooms in to the request it follows. */
const FOLLOW_SCALE = 1.6;

/** A host or cluster node the user clicked: the App opens its panel. */
export type OpenedNode = { kind: 'host'; cluster: string; host: string } | { kind: 'cluster'; cluster: string };

/** @param highlight a node id (`listener:ingress`, `cluster:web`, `host:web/10.0.0.1:8080`) a lesson points at: drawn with a ring */
export function TopologyView({ store, cursor, selected, onSelect, presenter = false, onOpenNode, strip, held = NO_HELD, highlight }: ViewProps & { presenter?: boolean; onOpenNode?: (node: OpenedNode) => void; strip?: React.ReactNode; held?: ReadonlySet<number>; highlight?: string | null }) {
  const version = useStoreVersion(store);
  const trackers = useRef({ world: new WorldTracker(), catalog: new CatalogTracker() });
  const catalog = useMemo(() => trackers.current.catalog.update(store), [store, version]);
  const topology = store.topology;
  const layout = useMemo(
    () => (topology ? layoutTopology(topology, { hosts: catalog.hosts, routeClusters: catalog.routeClusters, workers: Math.max(topology.workers, catalog.workers) }, { presenter }) : null),
    // catalog.key changes only when a host or route->cluster pair appears
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [topology, catalog.key, presenter],
  );
  const world = useMemo(() => trackers.current.world.at(store, cursor), [store, version, cursor]);
  // The built-in demo names its hosts (web-2, api-1): show the names the fault controls use.
  const hostNames = useMemo(() => new Map(store.demoHosts.map((h) => [h.address, h.name])), [store, store.demoHosts]);

  const wrapRef = useRef<HTMLDivElement>(null);
  const gRef = useRef<SVGGElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const tokensRef = useRef<TokenCanvas | null>(null);
  const zoomRef = useRef<ZoomBehavior<HTMLDivElement, unknown> | null>(null);
  const [size, setSize] = useState({ w: 800, h: 500 });

  useLayoutEffect(() => {
    const wrap = wrapRef.current;
    const canvas = canvasRef.current;
    if (!wrap || !canvas) return;
    const tokens = new TokenCanvas(canvas);
    tokensRef.current = tokens;
    const ro = new ResizeObserver(() => {
      const r = wrap.getBoundingClientRect();
      setSize({ w: r.width, h: r.height });
      tokens.resize(r.width, r.height);
    });
    ro.observe(wrap);
    const z = zoom<HTMLDivElement, unknown>()
      .scaleExtent([0.2, 4])
      .on('zoom', (ev) => {
        gRef.current?.setAttribute('transform', ev.transform.toString());
        tokens.setTransform(ev.transform);
      });
    zoomRef.current = z;
    select(wrap).call(z).on('dblclick.zoom', null);
    return () => {
      ro.disconnect();
      select(wrap).on('.zoom', null);
      tokens.dispose();
      tokensRef.current = null;
    };
  }, []);

  // Presenter mode: a click on a token zooms to it, and the view keeps it centred as it moves.
  const [following, setFollowing] = useState(false);
  useEffect(() => {
    if (selected === null || !presenter) setFollowing(false);
  }, [selected, presenter]);

  const fit = () => {
    const wrap = wrapRef.current;
    if (!layout || !wrap || !zoomRef.current) return;
    let k = Math.min(1.4, Math.min(size.w / layout.width, (size.h - 10) / layout.height));
    // Legible beats complete in front of a room: past this scale the map pans instead of shrinking.
    const clipped = presenter && k < PRESENTER_MIN_SCALE;
    if (clipped) k = PRESENTER_MIN_SCALE;
    // too wide to fit: start at the left, where requests come in
    const tx = clipped && layout.width * k > size.w ? 0 : (size.w - layout.width * k) / 2;
    const ty = clipped ? 0 : Math.max(0, (size.h - layout.height * k) / 2);
    select(wrap).call(zoomRef.current.transform, zoomIdentity.translate(tx, ty).scale(k));
  };
  const fitRef = useRef(fit);
  fitRef.current = fit;
  // fit the whole map when the layout's extent or the panel's size changes
  const fitKey = layout ? `${layout.width}x${layout.height}@${Math.round(size.w)}x${Math.round(size.h)}` : '';
  useEffect(() => {
    if (!following) fitRef.current();
  }, [fitKey, following]);

  useEffect(() => {
    if (layout) tokensRef.current?.update(world, layout);
  }, [world, layout, cursor, version]);
  useEffect(() => tokensRef.current?.setSelected(selected), [selected]);
  // step mode's held requests get a mark on their tokens (the canvas lists them in data-held)
  useEffect(() => {
    const tokens = tokensRef.current;
    if (!tokens) return;
    tokens.setHeld(held);
    if (layout) tokens.update(world, layout);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [held]);

  useEffect(() => {
    const wrap = wrapRef.current;
    const target = following && selected !== null ? tokensRef.current?.targetOf(selected) : null;
    if (!wrap || !zoomRef.current || !target) return;
    const z = zoomRef.current;
    const from = zoomTransform(wrap);
    const to = { k: FOLLOW_SCALE, x: size.w / 2 - target.x * FOLLOW_SCALE, y: size.h / 2 - target.y * FOLLOW_SCALE };
    // glide with the token (it moves for 260 ms) rather than jump ahead of it
    const start = performance.now();
    let raf = 0;
    const tick = (now: number) => {
      const u = Math.min(1, (now - start) / 300);
      const e = u * (2 - u);
      const k = from.k + (to.k - from.k) * e;
      select(wrap).call(z.transform, zoomIdentity.translate(from.x + (to.x - from.x) * e, from.y + (to.y - from.y) * e).scale(k));
      if (u < 1) raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, [following, selected, world, layout, size.w, size.h]);

  const onClick = (ev: React.MouseEvent) => {
    const tokens = tokensRef.current;
    const wrap = wrapRef.current;
    if (!tokens || !wrap) return;
    const r = wrap.getBoundingClientRect();
    const hit = tokens.hit(ev.clientX - r.left, ev.clientY - r.top);
    if (hit !== null) {
      onSelect(hit);
      if (presenter) setFollowing(true);
    } else if (onOpenNode) openNodeAt(ev.target, layout, onOpenNode);
  };

  const inFlight = countInFlight(world);
  const selectedToken = selected !== null ? world.requests.get(selected) : undefined;
  return (
    <div className={presenter ? 'pst-topology pst-presenter' : 'pst-topology'} data-inflight={inFlight} data-following={following ? selected ?? '' : ''}>
      <div className="pst-topology-bar">
        <span className="pst-topology-stat">
          <b>{inFlight}</b> in flight · t = {(world.t / 1000).toFixed(2)} s
        </span>
        <Legend held={held.size > 0} />
        {presenter && selected !== null && (
          <button type="button" className="pst-btn" aria-pressed={following} onClick={() => setFollowing((f) => !f)} title="Keep the selected request centred as it moves" data-testid="follow">
            follow #{selected}
          </button>
        )}
        <button
          type="button"
          className="pst-btn"
          onClick={() => {
            setFollowing(false);
            fit();
          }}
          title="Drag to pan, scroll to zoom; this fits the whole map"
        >
          fit
        </button>
      </div>
      <div className="pst-topology-map" ref={wrapRef} onClick={onClick} onFocus={(e) => panToFocused(e.target, wrapRef.current, zoomRef.current)} data-testid="topology-map">
        {!layout && <div className="pst-empty">No topology yet: connect to a server or load a trace file.</div>}
        <svg className="pst-topology-svg" width="100%" height="100%" role="group" aria-label="proxy topology: Tab moves through its nodes">
          <defs>
            <marker id="pst-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
              <path d="M0,0 L8,4 L0,8 z" className="pst-arrowhead" />
            </marker>
          </defs>
          <g ref={gRef}>{layout && <TopologyMap layout={layout} world={world} hostNames={hostNames} highlight={highlight ?? null} />}</g>
        </svg>
        <canvas ref={canvasRef} className="pst-topology-canvas" data-testid="token-canvas" />
      </div>
      {/* an opened host or cluster takes the strip (HostStrip, ClusterStrip) */}
      {presenter && (strip ?? <PresenterStrip store={store} cursor={cursor} t={world.t} stream={selected} token={selectedToken} />)}
    </div>
  );
}

const PHASE_WORDS: Record<RequestToken['phase'], string> = {
  filters: 'HTTP filters: decoding',
  route: 'router: matching a route',
  cluster: 'router: picking a host in the cluster',
  pending: 'pool: waiting for a connection',
  upstream: 'upstream: on a connection',
  backoff: 'retry back-off',
  encoding: 'HTTP filters: encoding the response',
  done: 'done',
};

/** Presenter mode's detail: one line about the request being followed, large enough to read. */
function PresenterStrip({ store, cursor, t, stream, token }: { store: ViewProps['store']; cursor: number; t: number; stream: number | null; token?: RequestToken }) {
  const r = stream !== null ? store.requestAt(stream, cursor) : undefined;
  if (stream === null || !r) {
    return (
      <div className="pst-strip" data-testid="presenter-strip">
        <span className="pst-strip-hint">
          {/* key names in words: the projector's fonts may have no arrow glyphs */}
          Click a token to follow it · <kbd>Space</kbd> play · <kbd>Left</kbd>/<kbd>Right</kbd> step · <kbd>Shift</kbd>+<kbd>Right</kbd> its next event · <kbd>Esc</kbd> fit · <kbd>P</kbd> leave
        </span>
      </div>
    );
  }
  // A finished request says how it ended, whether or not its token still lingers on the map.
  const ended = r.status !== undefined ? `done · ${r.status}${r.flags && r.flags !== '-' ? ` ${r.flags}` : ''}` : 'done';
  const phase = token && token.phase !== 'done' ? PHASE_WORDS[token.phase] : token || r.done ? ended : r.phase;
  const host = token?.host ?? r.attempts.at(-1)?.host;
  const ms = Math.max(0, (r.endT ?? t) - r.startT).toFixed(1);
  return (
    <div className="pst-strip" data-testid="presenter-strip">
      <b>#{stream}</b>
      <span className="pst-strip-req">
        {r.method ?? '?'} {r.authority ?? ''}
        {r.path ?? ''}
      </span>
      <span className="pst-strip-phase" data-testid="presenter-phase">
        {phase}
      </span>
      {r.route && <span>route {r.route}</span>}
      {r.cluster && <span>cluster {r.cluster}</span>}
      {host && <span>host {host}</span>}
      {r.attempts.length > 1 && <span>attempt {r.attempts.length}</span>}
      <span className="pst-strip-t">{r.endT !== undefined ? `${ms} ms` : `${ms} ms so far`}</span>
    </div>
  );
}

function countInFlight(world: World): number {
  let n = 0;
  for (const r of world.requests.values()) if (r.phase !== 'done') n++;
  return n;
}

/** `held`: step mode holds requests now, so the map draws held marks and the legend names them. */
function Legend({ held }: { held: boolean }) {
  return (
    <ul className="pst-legend" aria-label="legend">
      {LEGEND.map((l) => (
        <li key={l.label}>
          {l.ring ? <span className="pst-swatch pst-swatch-ring" style={{ borderColor: l.color }} /> : <TokenSwatch color={l.color} />}
          {l.label}
        </li>
      ))}
      <li>
        <span className="pst-swatch pst-swatch-selected" />
        selected
      </li>
      {held && (
        <li>
          <span className="pst-swatch pst-swatch-ring pst-swatch-held" style={{ borderColor: HELD_COLOR }} />
          held
        </li>
      )}
      <li className="pst-legend-sep">
        <span className="pst-dot pst-cx-connecting" />
        connecting
        <span className="pst-dot pst-cx-ready" />
        ready
        <span className="pst-dot pst-cx-busy" />
        busy
      </li>
    </ul>
  );
}

/** A legend entry's token, drawn with the shape the map gives it. */
function TokenSwatch({ color }: { color: string }) {
  let d = '';
  traceToken(
    {
      moveTo: (x, y) => void (d += `M${x.toFixed(2)},${y.toFixed(2)}`),
      lineTo: (x, y) => void (d += `L${x.toFixed(2)},${y.toFixed(2)}`),
      arc: (x, y, r) => void (d += `M${x - r},${y}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0`),
      closePath: () => void (d += 'Z'),
    },
    tokenShape(color),
    6,
    6,
    4.6,
  );
  return (
    <svg className="pst-swatch-shape" width={12} height={12} viewBox="0 0 12 12" aria-hidden="true">
      <path d={d} fill={color} />
    </svg>
  );
}

function edgePath(a: LayoutNode, b: LayoutNode): string {
  const x1 = a.x + a.w;
  const y1 = a.y + a.h / 2;
  const x2 = b.x;
  const y2 = b.y + Math.min(b.h / 2, 20);
  const mx = (x1 + x2) / 2;
  return `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 2},${y2}`;
}

function TopologyMap({ layout, world, hostNames, highlight }: { layout: Layout; world: World; hostNames: ReadonlyMap<string, string>; highlight: string | null }) {
  const poolsByHost = useMemo(() => {
    const m = new Map<string, PoolState[]>();
    for (const p of world.pools.values()) {
      const k = `${p.cluster}/${p.host}`;
      const list = m.get(k) ?? [];
      list.push(p);
      m.set(k, list);
    }
    for (const list of m.values()) list.sort((a, b) => a.worker - b.worker);
    return m;
  }, [world, world.index]);
  // requests in flight per host, for the hosts' accessible names: one pass, not one per host
  const activeByHost = useMemo(() => {
    const m = new Map<string, number>();
    for (const r of world.requests.values()) if (r.phase !== 'done' && r.host) m.set(`${r.cluster}/${r.host}`, (m.get(`${r.cluster}/${r.host}`) ?? 0) + 1);
    return m;
  }, [world, world.index]);
  return (
    <>
      {layout.columns.map((c) => (
        <text key={c.title} x={c.x} y={layout.metrics.presenter ? 20 : 18} className="pst-col-title" textAnchor="middle">
          {c.title}
        </text>
      ))}
      {layout.edges.map((e) => {
        const a = layout.byId.get(e.from);
        const b = layout.byId.get(e.to);
        return a && b ? <path key={e.id} d={edgePath(a, b)} className="pst-edge" markerEnd="url(#pst-arrow)" /> : null;
      })}
      {layout.nodes.map((n) =>
        n.kind === 'host' ? (
          <HostNode key={n.id} node={n} world={world} pools={poolsByHost.get(`${n.cluster}/${n.host}`) ?? []} active={activeByHost.get(`${n.cluster}/${n.host}`) ?? 0} name={hostNames.get(n.host ?? '')} presenter={layout.metrics.presenter} />
        ) : (
          <PlainNode key={n.id} node={n} world={world} presenter={layout.metrics.presenter} />
        ),
      )}
      <HighlightRing node={highlight === null ? undefined : layout.byId.get(highlight)} />
    </>
  );
}

/** Drawn after the nodes so no neighbour covers it; it takes no clicks. */
function HighlightRing({ node }: { node: LayoutNode | undefined }) {
  if (!node) return null;
  const pad = 6;
  return <rect className="pst-highlight-ring" data-testid="topology-highlight" data-node={node.id} x={node.x - pad} y={node.y - pad} width={node.w + 2 * pad} height={node.h + 2 * pad} rx={10} pointerEvents="none" />;
}

function PlainNode({ node, world, presenter }: { node: LayoutNode; world: World; presenter: boolean }) {
  // presenter mode: 16-unit text, so lines are further apart and fewer characters fit
  const [y1, y2, line, chars] = presenter ? [21, 44, 20, 22] : [15, 29, 14, 30];
  return (
    <g className={`pst-node pst-node-${node.kind}`} data-node={node.id} transform={`translate(${node.x},${node.y})`} {...nodeA11y(node.kind, plainNodeLabel(node, world))}>
      <rect width={node.w} height={node.h} rx={6} />
      <text x={8} y={y1} className="pst-node-label">
        {clip(node.label, chars - 4)}
      </text>
      {node.kind === 'downstream' && world.connections.size > 0 && (
        <text x={8} y={y2} className="pst-node-sub">
          {world.connections.size} open connection{world.connections.size === 1 ? '' : 's'}
        </text>
      )}
      {node.sub && (
        <text x={8} y={y2} className="pst-node-sub">
          {clip(node.sub, chars)}
        </text>
      )}
      {node.filters?.map((f, i) =>
        node.modelled?.[i] === false ? (
          // Not modelled: a dashed outline and the words, so it never reads as a filter that ran.
          <g key={f} className="pst-filter-not-modelled" data-filter={f}>
            <rect x={4} y={y2 - 10 + i * line} width={node.w - 8} height={line - 1} rx={3} />
            <text x={8} y={y2 + i * line} className="pst-node-sub">
              {i + 1}. {clip(f.replace(/^envoy\.filters\.http\./, ''), presenter ? 9 : 13)} · not modelled
            </text>
          </g>
        ) : (
          <text key={f} x={8} y={y2 + i * line} className="pst-node-sub">
            {i + 1}. {clip(f.replace(/^envoy\.filters\.http\./, ''), chars - 6)}
          </text>
        ),
      )}
      <title>
        {[node.label, node.sub, ...(node.filters ?? []).map((f, i) => (node.modelled?.[i] === false ? `${f} (not modelled: requests pass through it unchanged)` : f))]
          .filter(Boolean)
          .join('\n')}
      </title>
    </g>
  );
}

function HostNode({ node, world, pools, active, name, presenter }: { node: LayoutNode; world: World; pools: PoolState[]; active: number; name?: string; presenter: boolean }) {
  const h = world.hosts.get(`${node.cluster}/${node.host}`);
  const ejected = h?.health === 'ejected' || h?.health === 'unhealthy_ejected';
  const unhealthy = h?.health === 'unhealthy' || h?.health === 'unhealthy_ejected';
  const failing = h ? isFailing(h, world.t) : false;
  const removed = h?.removed === true;
  const status = removed ? 'removed' : ejected ? 'ejected' : unhealthy ? 'unhealthy' : failing ? 'failing' : h?.health === 'pending' ? 'pending HC' : 'healthy';
  const statusClass = removed || ejected || unhealthy ? 'bad' : failing ? 'warn' : 'ok';
  const workers = Math.max(1, Math.round((node.h - HOST_POOL_TOP + 8) / 16));
  const label = `host ${name ?? node.host}, cluster ${node.cluster}, ${status}, ${active} active request${active === 1 ? '' : 's'}`;
  const title = (
    <title>
      {`${node.cluster} / ${node.host}${removed ? '\nremoved from the cluster by a DNS answer' : ''}\nhealth: ${h?.health ?? 'no health checks'}${failing ? `\n${h!.consecutiveFailures} failed attempt(s) in a row` : ''}`}
    </title>
  );
  if (presenter) {
    return (
      <g className={`pst-node pst-node-host pst-host-${statusClass}`} data-node={node.id} data-health={status} transform={`translate(${node.x},${node.y})`} {...nodeA11y('host', label)}>
        <rect width={node.w} height={node.h} rx={6} />
        <text x={8} y={21} className="pst-node-label">
          {name ?? clip(node.host ?? '', 15)}
        </text>
        <text x={node.w - 26} y={21} className={`pst-health pst-health-${statusClass}`} textAnchor="end">
          {status}
        </text>
        <HealthGlyph state={statusClass} x={node.w - 22} y={8} size={14} />
        <text x={6} y={49} className="pst-slot-label">
          wait
        </text>
        <text x={node.w / 2 + 4} y={49} className="pst-slot-label">
          conn
        </text>
        <line x1={node.w / 2} x2={node.w / 2} y1={30} y2={58} className="pst-pool-sep" />
        <SummedPoolRow pools={pools} y={80} width={node.w} />
        {title}
      </g>
    );
  }
  return (
    <g className={`pst-node pst-node-host pst-host-${statusClass}`} data-node={node.id} data-health={status} transform={`translate(${node.x},${node.y})`} {...nodeA11y('host', label)}>
      <rect width={node.w} height={node.h} rx={6} />
      <text x={8} y={15} className="pst-node-label">
        {name ? `${name} :${node.host?.split(':').at(-1)}` : node.host}
        <title>{name ? `${name}: ${node.host}` : node.host}</title>
      </text>
      <text x={node.w - 20} y={15} className={`pst-health pst-health-${statusClass}`} textAnchor="end">
        {status}
      </text>
      <HealthGlyph state={statusClass} x={node.w - 17} y={6} size={9} />
      <text x={6} y={27} className="pst-slot-label">
        pending
      </text>
      <text x={node.w / 2 + 4} y={27} className="pst-slot-label">
        on a connection
      </text>
      <line x1={node.w / 2} x2={node.w / 2} y1={20} y2={HOST_POOL_TOP - 14} className="pst-pool-sep" />
      {Array.from({ length: workers }, (_, w) => {
        const p = pools.find((x) => x.worker === w);
        return <PoolRow key={w} pool={p} worker={w} y={HOST_POOL_TOP + w * 16} width={node.w} />;
      })}
      {title}
    </g>
  );
}

/** Presenter mode's one pool line per host: every worker's clients summed, as dots and words. */
function SummedPoolRow({ pools, y, width }: { pools: PoolState[]; y: number; width: number }) {
  const counts = { connecting: 0, ready: 0, busy: 0 };
  let pending = 0;
  for (const p of pools) {
    pending += p.pending;
    for (const st of p.clients.values()) {
      const state = st === 'handshaking' ? 'connecting' : st;
      if (state in counts) counts[state as keyof typeof counts]++;
    }
  }
  const dots = (['connecting', 'ready', 'busy'] as const).flatMap((state) => Array.from({ length: Math.min(counts[state], 5) }, () => state));
  return (
    <g transform={`translate(0,${y})`} className="pst-pool-row">
      <line x1={4} x2={width - 4} y1={-18} y2={-18} className="pst-pool-sep" />
      {pools.length === 0 ? (
        <text x={8} y={0} className="pst-pool-label pst-muted">
          no pool yet
        </text>
      ) : (
        <>
          {dots.map((state, i) => (
            <circle key={i} cx={14 + i * 13} cy={-6} r={5} className={`pst-dot pst-cx-${state}`} />
          ))}
          <text x={width - 8} y={0} textAnchor="end" className={pending > 0 ? 'pst-pool-label pst-pending' : 'pst-pool-label'}>
            {pending > 0 ? `${pending} pending` : `${counts.busy} busy · ${counts.ready} ready`}
          </text>
        </>
      )}
    </g>
  );
}

function PoolRow({ pool, worker, y, width }: { pool?: PoolState; worker: number; y: number; width: number }) {
  const counts = { connecting: 0, ready: 0, busy: 0, draining: 0 };
  // A client in its TLS handshake is still connecting, as the pool counts it.
  for (const s of pool?.clients.values() ?? []) {
    const state = s === 'handshaking' ? 'connecting' : s;
    if (state in counts) counts[state as keyof typeof counts]++;
  }
  const cb = pool && Object.entries(pool.limits).map(([k, v]) => `${k.replace(/^max_/, '')} ≤ ${v}`).join(', ');
  const dots: Array<[string, number]> = [
    ['connecting', counts.connecting],
    ['ready', counts.ready],
    ['busy', counts.busy],
    ['draining', counts.draining],
  ];
  let x = 34;
  return (
    <g transform={`translate(0,${y})`} className="pst-pool-row">
      <line x1={4} x2={width - 4} y1={-11} y2={-11} className="pst-pool-sep" />
      <text x={6} y={0} className="pst-pool-label">
        w{worker}
      </text>
      {pool ? (
        <>
          {dots.map(([state, n]) => {
            const shown = Math.min(n, 6);
            const el = (
              <g key={state}>
                {Array.from({ length: shown }, (_, i) => (
                  <circle key={i} cx={x + i * 8} cy={-4} r={3} className={`pst-dot pst-cx-${state}`} />
                ))}
                {n > 6 && (
                  <text x={x + shown * 8} y={0} className="pst-pool-label">
                    +{n - 6}
                  </text>
                )}
              </g>
            );
            x += shown * 8 + (n > 6 ? 18 : 0) + (shown ? 4 : 0);
            return el;
          })}
          <text x={width - 6} y={0} textAnchor="end" className={pool.pending > 0 ? 'pst-pool-label pst-pending' : 'pst-pool-label'}>
            {pool.pending > 0 ? `${pool.pending} pending` : `${pool.clients.size} cx`}
            {pool.overflows > 0 ? ` · ${pool.overflows} overflow` : ''}
          </text>
          <title>{`worker ${worker} pool: ${counts.connecting} connecting, ${counts.ready} ready, ${counts.busy} busy, ${counts.draining} draining; ${pool.pending} pending${cb ? `; circuit breakers ${cb}` : ''}${pool.lastDecision ? `; last decision ${pool.lastDecision}` : ''}`}</title>
        </>
      ) : (
        <text x={34} y={0} className="pst-pool-label pst-muted">
          no pool yet
        </text>
      )}
    </g>
  );
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/**
 * Keyboard and screen-reader access for a node: in the Tab order, named for what it is, and
 * Enter or Space does what a click does (the click goes to the node itself, so whatever
 * listens for it answers). Stopping the key keeps Space from also pausing playback.
 */
function nodeA11y(kind: LayoutNode['kind'], label: string) {
  // hosts and clusters open their panel on a click; the others only describe themselves
  const clickable = kind === 'host' || kind === 'cluster';
  return {
    tabIndex: 0,
    role: clickable ? 'button' : 'img',
    'aria-label': label,
    onPointerDown: (e: React.PointerEvent<SVGGElement>) => {
      e.currentTarget.dataset.pointerFocus = '1';
    },
    onBlur: (e: React.FocusEvent<SVGGElement>) => {
      delete e.currentTarget.dataset.pointerFocus;
    },
    onKeyDown: (e: React.KeyboardEvent<SVGGElement>) => {
      if (e.key !== 'Enter' && e.key !== ' ') return;
      // A node a click focused (a click on a token over it, say) leaves Space to play/pause.
      if (e.key === ' ' && e.currentTarget.dataset.pointerFocus) return;
      e.preventDefault();
      e.stopPropagation();
      // no pointer position: the map's own click (select the token under the pointer) finds none
      e.currentTarget.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true }));
    },
  };
}

function plainNodeLabel(node: LayoutNode, world: World): string {
  switch (node.kind) {
    case 'downstream':
      return `downstream clients, ${world.connections.size} open connection${world.connections.size === 1 ? '' : 's'}`;
    case 'filters':
      return `HTTP filters: ${(node.filters ?? []).map((f, i) => `${i + 1}. ${f.replace(/^envoy\.filters\.http\./, '')}${node.modelled?.[i] === false ? ' (not modelled)' : ''}`).join(', ')}`;
    case 'chain':
      return `filter chain ${node.label}${node.sub ? `, ${node.sub}` : ''}`;
    case 'route':
      return `route ${node.label}${node.sub ? `, ${node.sub}` : ''}`;
    default:
      return `${node.kind} ${node.label}${node.sub ? `, ${node.sub}` : ''}`;
  }
}

/**
 * A shape with the health word, so the state reads without its colour: a ring when healthy,
 * a triangle when failing, a crossed square when out of rotation.
 */
function HealthGlyph({ state, x, y, size }: { state: 'ok' | 'warn' | 'bad'; x: number; y: number; size: number }) {
  const k = size / 10;
  return (
    <g transform={`translate(${x},${y}) scale(${k})`} className={`pst-health-glyph pst-health-${state}`} aria-hidden="true">
      {state === 'ok' ? (
        <circle cx={5} cy={5} r={3.6} fill="none" stroke="currentColor" strokeWidth={1.8} />
      ) : state === 'warn' ? (
        <path d="M5 0.6 L9.6 9.2 H0.4 Z" />
      ) : (
        <>
          <rect x={0.5} y={0.5} width={9} height={9} rx={1.5} />
          <path d="M3 3l4 4M7 3l-4 4" className="pst-health-glyph-cross" />
        </>
      )}
    </g>
  );
}

/** A click (or Enter) on a host or cluster node, not on a token: open its panel. */
function openNodeAt(target: EventTarget, layout: Layout | null, open: (node: OpenedNode) => void) {
  const id = target instanceof Element ? target.closest<SVGGElement>('[data-node]')?.dataset.node : undefined;
  const node = id !== undefined ? layout?.byId.get(id) : undefined;
  if (node?.kind === 'host' && node.cluster && node.host) open({ kind: 'host', cluster: node.cluster, host: node.host });
  else if (node?.kind === 'cluster') open({ kind: 'cluster', cluster: node.label });
}

/** Tab may land on a node panned out of view: bring it back in, as a browser scrolls to focus. */
function panToFocused(target: EventTarget, wrap: HTMLDivElement | null, z: ZoomBehavior<HTMLDivElement, unknown> | null) {
  if (!wrap || !z || !(target instanceof SVGGElement) || !target.dataset.node) return;
  const box = target.getBoundingClientRect();
  const view = wrap.getBoundingClientRect();
  const margin = 16;
  const dx = box.left < view.left + margin ? view.left + margin - box.left : box.right > view.right - margin ? Math.max(view.right - margin - box.right, view.left + margin - box.left) : 0;
  const dy = box.top < view.top + margin ? view.top + margin - box.top : box.bottom > view.bottom - margin ? Math.max(view.bottom - margin - box.bottom, view.top + margin - box.top) : 0;
  if (dx === 0 && dy === 0) return;
  const k = zoomTransform(wrap).k;
  // translateBy works in the map's units: divide the screen offset by the scale
  select(wrap).call(z.translateBy, dx / k, dy / k);
}
