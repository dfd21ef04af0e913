/**
 * The route configuration as route-check hands it to the engine, prepared as
 * router_check_tool prepares it (router.cc): every route gets a unique name
 * (`<name>-<uuid>`), so the engine's `route.match` fact names exactly one route and the
 * coverage report can name the ones no test reached; and a runtime_fraction whose
 * default numerator is 0 gets 1, so a test can still enable it with `runtime`.
 */
import { randomUUID } from 'node:crypto';
import { positionOf, type RouteConfigSource } from './route-config';
import { readHeaderMatcher, type HeaderMatcherSpec, type ValidationItem } from './test-file';
import type { SNode } from './source-tree';

export type RouteKind = 'route' | 'redirect' | 'direct_response';

export interface RouteInfo {
  /** the unique name given to the engine */
  name: string;
  vhost: string;
  kind: RouteKind;
  /** a route action with weighted_clusters: each cluster is covered on its own */
  weightedClusters: number;
  /** route.match, as configured (for "Missing test for host" lines) */
  match: Record<string, unknown>;
}

export interface VirtualHostInfo {
  name: string;
  /** absent: the virtual host has none (then a route's virtual cluster is "") */
  virtualClusters: Array<{ name: string; headers: HeaderMatcherSpec[] }>;
}

export interface RouteTable {
  config: Record<string, unknown>;
  routes: Map<string, RouteInfo>;
  /** in config order, for the coverage report */
  ordered: RouteInfo[];
  vhosts: Map<string, VirtualHostInfo>;
  clusters: string[];
  runtimeKeys: string[];
}

const asRecord = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function child(node: SNode | undefined, key: string | number): SNode | undefined {
  if (!node) return undefined;
  if (typeof key === 'number') return node.kind === 'list' ? node.items[key] : undefined;
  return node.kind === 'map' ? node.entries.find((e) => e.key === key)?.value : undefined;
}

export function prepareRouteTable(source: RouteConfigSource, tests: ValidationItem[]): RouteTable {
  const config = structuredClone(source.config);
  const routes = new Map<string, RouteInfo>();
  const ordered: RouteInfo[] = [];
  const vhosts = new Map<string, VirtualHostInfo>();
  const clusters = new Set<string>();
  const runtimeKeys = new Set<string>();
  const add = (name: unknown) => {
    if (typeof name === 'string' && name !== '') clusters.add(name);
  };

  asList(config.virtual_hosts).forEach((vh, vi) => {
    const vhost = asRecord(vh);
    const vname = String(vhost.name ?? '');
    const vnode = child(child(source.node, 'virtual_hosts'), vi);
    const vcs = asList(vhost.virtual_clusters).map((vc, ci) => {
      const vcNode = child(child(vnode, 'virtual_clusters'), ci);
      const headersNode = child(vcNode, 'headers');
      return {
        name: String(asRecord(vc).name ?? ''),
        headers: asList(asRecord(vc).headers).map((_, hi) => {
          const path = `${source.path ? `${source.path}.` : ''}virtual_hosts[${vi}].virtual_clusters[${ci}].headers[${hi}]`;
          return readHeaderMatcher(source.file, child(headersNode, hi)!, path);
        }),
      };
    });
    vhosts.set(vname, { name: vname, virtualClusters: vcs });
    for (const r of asList(vhost.routes)) {
      const route = asRecord(r);
      route.name = `${typeof route.name === 'string' ? route.name : ''}-${randomUUID()}`;
      const match = asRecord(route.match);
      const fraction = asRecord(match.runtime_fraction);
      if (match.runtime_fraction !== undefined) {
        if (typeof fraction.runtime_key === 'string') runtimeKeys.add(fraction.runtime_key);
        const dv = asRecord(fraction.default_value);
        if (Number(dv.numerator ?? 0) === 0) fraction.default_value = { ...dv, numerator: 1 };
      }
      const action = asRecord(route.route);
      const weighted = asList(asRecord(action.weighted_clusters).clusters);
      add(action.cluster);
      for (const w of weighted) add(asRecord(w).name);
      for (const m of asList(action.request_mirror_policies)) add(asRecord(m).cluster);
      const kind: RouteKind = route.route !== undefined ? 'route' : route.redirect !== undefined ? 'redirect' : 'direct_response';
      const info: RouteInfo = { name: route.name as string, vhost: vname, kind, weightedClusters: weighted.length, match };
      routes.set(info.name, info);
      ordered.push(info);
    }
  });
  for (const m of asList(config.request_mirror_policies)) add(asRecord(m).cluster);
  // cluster_header names its cluster per request: the names the tests expect get hosts too,
  // so those requests reach an upstream and their rewrites can be seen.
  for (const t of tests) add(t.validate.cluster_name);
  return { config, routes, ordered, vhosts, clusters: [...clusters], runtimeKeys: [...runtimeKeys] };
}

/** A diagnostic path inside the wrapped bootstrap, as a path and position in the user's file. */
export function userPosition(source: RouteConfigSource, enginePath: string): { path: string; line: number; column: number } | undefined {
  const marker = 'typed_config.route_config';
  const at = enginePath.indexOf(marker);
  if (at < 0) return undefined;
  const inner = enginePath.slice(at + marker.length).replace(/^\./, '');
  const pos = positionOf(source, inner);
  return { path: [source.path, inner].filter(Boolean).join('.'), line: pos.line, column: pos.column };
}
