import type { Layout, LayoutNode } from './layout';
import { nodeId } from './layout';
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
export function slotPoint(node: LayoutNode, slot: TokenPlace['slot'], k: number): { x: number; y: number } {
  const r = 4.5;
  const step = r * 2 + 2;
  let x0: number;
  let y0: number;
  let width: number;
  if (node.kind === 'host') {
    // tokens sit in a strip just above the host box: queue on the left half, connections right
    width = node.w / 2 - 8;
    x0 = slot === 'conn' ? node.x + node.w / 2 + 4 : node.x + 4;
    y0 = node.y + 36;
  } else {
    // one row along the bottom, under the labels
    width = node.w - 12;
    x0 = node.x + 6;
    y0 = node.y + node.h - 9;
  }
  const perRow = Math.max(1, Math.floor(width / step));
  const col = k % perRow;
  const row = Math.floor(k / perRow);
  return { x: x0 + r + col * step, y: y0 + row * step };
}

/** How many tokens a slot shows one by one before it switches to a count badge. */
export function slotCapacity(node: LayoutNode): number {
  const step = 11;
  const width = node.kind === 'host' ? node.w / 2 - 8 : node.w - 12;
  return Math.max(1, Math.floor(width / step)) * (node.kind === 'host' ? 2 : 1);
}
