import { topologyNodeId, type Topology } from '@proxyscope/protocol';

/**
 * Deterministic layered layout of the proxy: one column per layer of the request path, nodes
 * in topology order within a column. No force simulation, so the same topology always lands
 * on the same coordinates and a node never jumps while the user watches traffic.
 */

export type NodeKind = 'downstream' | 'listener' | 'chain' | 'filters' | 'route' | 'cluster' | 'host';

export interface LayoutNode {
  id: string;
  kind: NodeKind;
  label: string;
  sub?: string;
  /** top-left corner */
  x: number;
  y: number;
  w: number;
  h: number;
  /** host nodes: which cluster and ip:port */
  cluster?: string;
  host?: string;
  /** filters nodes: the HTTP filter names, in order */
  filters?: string[];
  /**
   * filters nodes: per filter, false when ProxyScope does not model it (it passes requests
   * through unchanged, and is drawn so it never looks as if it ran)
   */
  modelled?: boolean[];
}

export interface LayoutEdge {
  id: string;
  from: string;
  to: string;
}

export interface Layout {
  nodes: LayoutNode[];
  edges: LayoutEdge[];
  byId: Map<string, LayoutNode>;
  width: number;
  height: number;
  /** column headings, with the x of each column's centre */
  columns: Array<{ title: string; x: number }>;
  /** the sizes the drawing uses: presenter mode draws fewer, bigger things */
  metrics: LayoutMetrics;
}

/**
 * Sizes in layout units. Presenter mode is sized for a projector at 1280x720: the whole map
 * fits at a scale near 1, so 16-unit text renders at 14 px or more and tokens at 12 px or more.
 * It drops the listener and filter-chain columns (no token ever sits there) and draws one
 * pool row per host, summed over workers, so the map is short enough to fit.
 */
export interface LayoutMetrics {
  presenter: boolean;
  tokenRadius: number;
  /** host boxes: where the token strip's centre and the first pool row sit */
  hostTokenY: number;
  hostPoolTop: number;
  poolRowH: number;
  /** host boxes: x offset of the first token in each slot, after its label */
  slotInset: number;
}

export const NORMAL_METRICS: LayoutMetrics = { presenter: false, tokenRadius: 4.5, hostTokenY: 36, hostPoolTop: 66, poolRowH: 16, slotInset: 0 };
export const PRESENTER_METRICS: LayoutMetrics = { presenter: true, tokenRadius: 7, hostTokenY: 44, hostPoolTop: 76, poolRowH: 0, slotInset: 46 };

/** What events add to the static topology: hosts the header did not list, route -> cluster picks. */
export interface LayoutExtras {
  hosts: ReadonlyArray<{ cluster: string; host: string }>;
  routeClusters: ReadonlyArray<{ route: string; cluster: string }>;
  /** pool rows per host (defaults to the topology's worker count) */
  workers?: number;
}

export const COLUMN_TITLES = ['downstream', 'listeners', 'filter chains', 'HTTP filters', 'routes', 'clusters', 'hosts · pools'];
const PRESENTER_TITLES = ['downstream', 'listeners · filters', 'routes', 'clusters', 'hosts · pools'];
/** presenter mode: the layout column each normal column lands in (-1: not drawn) */
const PRESENTER_COLUMN = [0, -1, -1, 1, 2, 3, 4];

export const nodeId = topologyNodeId;

/** Sorts ip:port strings by address then port numerically, so 10.0.0.10 follows 10.0.0.9. */
export function compareHosts(a: string, b: string): number {
  const pa = a.split(/[.:]/).map((p) => (/^\d+$/.test(p) ? p.padStart(5, '0') : p));
  const pb = b.split(/[.:]/).map((p) => (/^\d+$/.test(p) ? p.padStart(5, '0') : p));
  return pa.join('.') < pb.join('.') ? -1 : pa.join('.') > pb.join('.') ? 1 : 0;
}

/** Where a host box's pool rows start: below the title, the slot labels and two token rows. */
export const HOST_POOL_TOP = 66;

/** Height of a host box: a title line, a two-row token strip, and one pool row per worker. */
export function hostHeight(workers: number): number {
  return HOST_POOL_TOP + 16 * Math.max(1, workers) - 8;
}

export function layoutTopology(topology: Topology, extras: LayoutExtras = { hosts: [], routeClusters: [] }, options: { presenter?: boolean } = {}): Layout {
  const presenter = options.presenter === true;
  const metrics = presenter ? PRESENTER_METRICS : NORMAL_METRICS;
  const titles = presenter ? PRESENTER_TITLES : COLUMN_TITLES;
  const COL_W = presenter ? 270 : 210;
  const NODE_W = presenter ? 244 : 170;
  const GAP = presenter ? 10 : 14;
  const TOP = presenter ? 34 : 40;
  // plain boxes: a label, a sub line, and (presenter) a row of tokens under them
  const BOX_H = presenter ? 70 : 48;
  const FILTER_LINE = presenter ? 20 : 14;
  const columns: LayoutNode[][] = titles.map(() => []);
  const edges: LayoutEdge[] = [];
  const edgeIds = new Set<string>();
  const dropped = new Map<string, string>();
  const addEdge = (from: string, to: string) => {
    // presenter mode: an edge into a column that is not drawn continues from that node's source
    if (dropped.has(to)) return;
    from = dropped.get(from) ?? from;
    const id = `${from}->${to}`;
    if (edgeIds.has(id)) return;
    edgeIds.add(id);
    edges.push({ id, from, to });
  };
  const node = (col: number, n: Omit<LayoutNode, 'x' | 'y' | 'w'> & { w?: number }, via?: string) => {
    const c = presenter ? PRESENTER_COLUMN[col]! : col;
    if (c < 0) {
      dropped.set(n.id, dropped.get(via ?? 'downstream') ?? via ?? 'downstream');
      return;
    }
    columns[c].push({ ...n, x: 0, y: 0, w: n.w ?? NODE_W });
  };

  node(0, { id: 'downstream', kind: 'downstream', label: 'downstream clients', h: BOX_H });
  const routeConfigs = new Map(topology.routeConfigs.map((rc) => [rc.name, rc]));
  const routeIdsByName = new Map<string, string[]>();
  const seenRoutes = new Set<string>();
  const routeActions = new Map<string, string>();
  const tcpClusters: Array<[chain: string, cluster: string]> = [];
  for (const l of topology.listeners) {
    node(1, { id: nodeId.listener(l.name), kind: 'listener', label: l.name, sub: l.address, h: BOX_H }, 'downstream');
    addEdge('downstream', nodeId.listener(l.name));
    for (const fc of l.filterChains) {
      const chainId = nodeId.chain(l.name, fc.name);
      if (fc.tcpProxy) {
        // tcp_proxy: no HTTP filters or routes; bytes go straight to the cluster (edges added below).
        if (presenter) {
          // no HTTP filters column entry to stand in for it: the chain itself goes in that column
          columns[1].push({ id: chainId, kind: 'chain', label: `${l.name} · ${fc.name}`, sub: `TCP proxy · ${fc.statPrefix}`, h: BOX_H, x: 0, y: 0, w: NODE_W });
          addEdge('downstream', chainId);
        } else {
          node(2, { id: chainId, kind: 'chain', label: fc.name, sub: `TCP proxy · ${fc.statPrefix}`, h: BOX_H });
          addEdge(nodeId.listener(l.name), chainId);
        }
        for (const c of fc.tcpProxy.clusters) tcpClusters.push([chainId, c]);
        continue;
      }
      node(2, { id: chainId, kind: 'chain', label: fc.name, sub: `HCM · ${fc.statPrefix}`, h: BOX_H }, nodeId.listener(l.name));
      addEdge(nodeId.listener(l.name), chainId);
      const filtersId = nodeId.filters(l.name, fc.name);
      // Traces from before httpFilterDetails know nothing of modelling: every filter counts as modelled.
      const modelled = fc.httpFilters.map((_, i) => fc.httpFilterDetails?.[i]?.modelled ?? true);
      const filtersLabel = presenter ? l.name : 'HTTP filters';
      node(3, { id: filtersId, kind: 'filters', label: filtersLabel, filters: fc.httpFilters, modelled, h: (presenter ? 50 : 34) + FILTER_LINE * Math.max(1, fc.httpFilters.length) });
      addEdge(chainId, filtersId);
      const rc = routeConfigs.get(fc.routeConfig);
      for (const vh of rc?.virtualHosts ?? []) {
        for (const r of vh.routes) {
          const id = nodeId.route(rc!.name, vh.name, r.name);
          addEdge(filtersId, id);
          if (seenRoutes.has(id)) continue;
          seenRoutes.add(id);
          // '›', not '→': the fonts Debian's Chromium falls back to have no arrows
          node(4, { id, kind: 'route', label: `${vh.name} / ${r.name}`, sub: `${r.match} › ${r.action}`, h: BOX_H });
          routeActions.set(id, r.action);
          const list = routeIdsByName.get(r.name) ?? [];
          list.push(id);
          routeIdsByName.set(r.name, list);
        }
      }
    }
  }

  const clusterNames = topology.clusters.map((c) => c.name);
  for (const h of extras.hosts) if (!clusterNames.includes(h.cluster)) clusterNames.push(h.cluster);
  for (const rcl of extras.routeClusters) if (!clusterNames.includes(rcl.cluster)) clusterNames.push(rcl.cluster);
  for (const c of clusterNames) {
    const def = topology.clusters.find((x) => x.name === c);
    node(5, { id: nodeId.cluster(c), kind: 'cluster', label: c, sub: def ? `${def.type} · ${def.lbPolicy}` : 'seen in events', h: BOX_H });
  }

  // Route -> cluster: the topology's action names the cluster for plain routes; weighted
  // routes only show their clusters through events.
  for (const [id, action] of routeActions) if (clusterNames.includes(action)) addEdge(id, nodeId.cluster(action));
  for (const rcl of extras.routeClusters) for (const id of routeIdsByName.get(rcl.route) ?? []) addEdge(id, nodeId.cluster(rcl.cluster));
  for (const [chain, c] of tcpClusters) if (clusterNames.includes(c)) addEdge(chain, nodeId.cluster(c));

  const workers = Math.max(1, extras.workers ?? topology.workers ?? 1);
  const hostsByCluster = new Map<string, Set<string>>(clusterNames.map((c) => [c, new Set<string>()]));
  for (const c of topology.clusters) for (const h of c.hosts) hostsByCluster.get(c.name)!.add(h);
  for (const p of topology.pools ?? []) hostsByCluster.get(p.cluster)?.add(p.host);
  for (const h of extras.hosts) hostsByCluster.get(h.cluster)?.add(h.host);
  for (const c of clusterNames) {
    for (const h of [...hostsByCluster.get(c)!].sort(compareHosts)) {
      const id = nodeId.host(c, h);
      node(6, { id, kind: 'host', label: h, cluster: c, host: h, h: presenter ? 88 : hostHeight(workers), w: NODE_W + (presenter ? 12 : 30) });
      addEdge(nodeId.cluster(c), id);
    }
  }

  const heights = columns.map((col) => col.reduce((s, n) => s + n.h, 0) + GAP * Math.max(0, col.length - 1));
  const maxH = Math.max(...heights);
  columns.forEach((col, i) => {
    let y = TOP + (maxH - heights[i]) / 2;
    for (const n of col) {
      n.x = i * COL_W + (COL_W - n.w) / 2;
      n.y = y;
      y += n.h + GAP;
    }
  });
  const nodes = columns.flat();
  return {
    nodes,
    edges,
    byId: new Map(nodes.map((n) => [n.id, n])),
    width: titles.length * COL_W,
    height: TOP + maxH + (presenter ? 8 : 20),
    columns: titles.map((title, i) => ({ title, x: i * COL_W + COL_W / 2 })),
    metrics,
  };
}
