import type { Layout, LayoutMetrics, LayoutNode } from './layout';
import { NORMAL_METRICS, nodeId } from './layout';
import type { RequestToken } from './world';

/**
 * Where a token is drawn: the node its phase puts it on, and which part of that node.
 * Hosts have two slots, the pending queue (left) and the connections (right), so a user
 * sees a request wait before it rides a connection.
 */
export interface TokenPlace {
  node: string;
  slot: 'main' | 'queue' | 'conn';
}

export function tokenPlace(r: RequestToken, layout: Layout): TokenPlace {
  const phase = r.phase === 'done' ? r.endedAt ?? 'downstream' : r.phase;
  const filters = filtersNode(r, layout);
  const route = r.route && r.routeConfig && r.vhost ? nodeId.route(r.routeConfig, r.vhost, r.route) : undefined;
  const has = (id: string | undefined): id is string => id !== undefined && layout.byId.has(id);
  const host = r.cluster && r.host ? nodeId.host(r.cluster, r.host) : undefined;
  const cluster = r.cluster ? nodeId.cluster(r.cluster) : undefined;
  switch (phase) {
    case 'downstream':
      return { node: 'downstream', slot: 'main' };
    case 'filters':
    case 'encoding':
      return { node: filters, slot: 'main' };
    case 'route':
    case 'backoff':
      return { node: has(route) ? route : filters, slot: 'main' };
    case 'cluster':
      return { node: has(cluster) ? cluster : has(route) ? route : filters, slot: 'main' };
    case 'pending':
    case 'upstream':
      if (has(host)) return { node: host, slot: phase === 'pending' ? 'queue' : 'conn' };
      return { node: has(cluster) ? cluster : filters, slot: 'main' };
  }
}

function filtersNode(r: RequestToken, layout: Layout): string {
  if (r.chain) {
    const id = nodeId.filters(r.listener, r.chain);
    if (layout.byId.has(id)) return id;
  }
  // Unknown chain (its match happened before the recording): the listener's first chain.
  const prefix = `filters:${r.listener}/`;
  return layout.nodes.find((n) => n.kind === 'filters' && n.id.startsWith(prefix))?.id ?? layout.nodes.find((n) => n.kind === 'filters')?.id ?? 'downstream';
}

/** Centre of the k-th token in a slot, packed in rows of `perRow` from the slot's origin. */
export function slotPoint(node: LayoutNode, slot: TokenPlace['slot'], k: number, m: LayoutMetrics = NORMAL_METRICS): { x: number; y: number } {
  const r = m.tokenRadius;
  const step = r * 2 + 2;
  const { x0, y0, width } = slotBox(node, slot, m);
  const perRow = Math.max(1, Math.floor(width / step));
  const col = k % perRow;
  const row = Math.floor(k / perRow);
  return { x: x0 + r + col * step, y: y0 + row * step };
}

function slotBox(node: LayoutNode, slot: TokenPlace['slot'], m: LayoutMetrics): { x0: number; y0: number; width: number } {
  if (node.kind === 'host') {
    // tokens sit in a strip in the host box: queue on the left half, connections right
    const half = node.w / 2;
    return { x0: (slot === 'conn' ? node.x + half + 4 : node.x + 4) + m.slotInset, y0: node.y + m.hostTokenY, width: half - 8 - m.slotInset };
  }
  // one row along the bottom, under the labels
  return { x0: node.x + 6, y0: node.y + node.h - (m.presenter ? 13 : 9), width: node.w - 12 };
}

/** How many tokens a slot shows one by one before it switches to a count badge. */
export function slotCapacity(node: LayoutNode, m: LayoutMetrics = NORMAL_METRICS): number {
  const step = m.tokenRadius * 2 + 2;
  const { width } = slotBox(node, 'queue', m);
  // normal hosts have two token rows; presenter hosts one
  return Math.max(1, Math.floor(width / step)) * (node.kind === 'host' && !m.presenter ? 2 : 1);
}
