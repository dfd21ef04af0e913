/**
 * The `-c` file: an envoy.config.route.v3.RouteConfiguration (what router_check_tool
 * reads), or a v3 bootstrap, in which case every inline route_config of every HTTP
 * connection manager is checked in turn. A bootstrap's RDS-only managers have no route
 * table to test and are skipped with a note.
 */
import fs from 'node:fs';
import { parseSource, SourceError, toPlain, type Pos, type SNode } from './source-tree';

/** RouteConfiguration's fields (route.proto), so a wrong file is refused as the tool refuses it. */
const ROUTE_CONFIGURATION_FIELDS = new Set([
  'name', 'virtual_hosts', 'vhds', 'internal_only_headers', 'response_headers_to_add', 'response_headers_to_remove',
  'request_headers_to_add', 'request_headers_to_remove', 'most_specific_header_mutations_wins', 'validate_clusters',
  'max_direct_response_body_size_bytes', 'cluster_specifier_plugins', 'request_mirror_policies', 'ignore_port_in_host_matching',
  'ignore_path_parameters_in_path_matching', 'typed_per_filter_config', 'metadata',
]);
const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

export interface RouteConfigSource {
  file: string;
  /** the RouteConfiguration as plain data (YAML/JSON values) */
  config: Record<string, unknown>;
  /** its node in the file, to turn a field path back into a line */
  node: SNode;
  /** where it sits in the file: '' for a RouteConfiguration file, else its bootstrap path */
  path: string;
  /** for the output when a bootstrap holds several */
  label: string;
}

function entry(node: SNode, key: string): SNode | undefined {
  return node.kind === 'map' ? node.entries.find((e) => e.key === key || e.key === camel(key))?.value : undefined;
}

export function readRouteConfigs(file: string): RouteConfigSource[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new SourceError(file, { line: 0, column: 0 }, '', `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (/\.(pb_text|pbtxt|textproto|pb)$/i.test(file)) {
    throw new SourceError(file, { line: 1, column: 1 }, '', 'route-check reads the route configuration as YAML or JSON only (see docs/route-check.md)');
  }
  const root = parseSource(text, file);
  if (root.kind !== 'map') throw new SourceError(file, root.pos, '', 'INVALID_ARGUMENT: expected an envoy.config.route.v3.RouteConfiguration (a mapping) or a bootstrap');
  if (entry(root, 'static_resources')) return fromBootstrap(file, root);
  for (const e of root.entries) {
    if (!ROUTE_CONFIGURATION_FIELDS.has(e.key) && !ROUTE_CONFIGURATION_FIELDS.has(e.key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))) {
      throw new SourceError(file, e.pos, e.key, `INVALID_ARGUMENT: envoy.config.route.v3.RouteConfiguration has no field "${e.key}"`);
    }
  }
  return [{ file, config: toPlain(root) as Record<string, unknown>, node: root, path: '', label: String(toPlain(entry(root, 'name') ?? { kind: 'scalar', pos: root.pos, value: '' }) ?? '') }];
}

function fromBootstrap(file: string, root: SNode): RouteConfigSource[] {
  const out: RouteConfigSource[] = [];
  const listeners = entry(entry(root, 'static_resources')!, 'listeners');
  const items = listeners?.kind === 'list' ? listeners.items : [];
  items.forEach((listener, li) => {
    const lname = String(toPlain(entry(listener, 'name') ?? { kind: 'scalar', pos: listener.pos, value: `listeners[${li}]` }));
    const chains = entry(listener, 'filter_chains');
    (chains?.kind === 'list' ? chains.items : []).forEach((chain, ci) => {
      const filters = entry(chain, 'filters');
      (filters?.kind === 'list' ? filters.items : []).forEach((filter, fi) => {
        const rc = entry(entry(filter, 'typed_config') ?? { kind: 'scalar', pos: filter.pos, value: null }, 'route_config');
        if (!rc || rc.kind !== 'map') return;
        const path = `static_resources.listeners[${li}].filter_chains[${ci}].filters[${fi}].typed_config.route_config`;
        const name = String(toPlain(entry(rc, 'name') ?? { kind: 'scalar', pos: rc.pos, value: '' }) ?? '');
        out.push({ file, config: toPlain(rc) as Record<string, unknown>, node: rc, path, label: `listener ${lname}${name ? `, route_config ${name}` : ''}` });
      });
    });
  });
  if (out.length === 0) throw new SourceError(file, root.pos, 'static_resources.listeners', 'the bootstrap has no HTTP connection manager with an inline route_config to check');
  return out;
}

/** The position of `virtual_hosts[0].routes[2].match` (a path inside the route config) in its file. */
export function positionOf(source: RouteConfigSource, path: string): Pos {
  let node: SNode | undefined = source.node;
  let pos = source.node.pos;
  for (const part of path.match(/[^.[\]]+|\[\d+\]/g) ?? []) {
    if (!node) break;
    if (part.startsWith('[')) {
      const i = Number(part.slice(1, -1));
      node = node.kind === 'list' ? node.items[i] : undefined;
      if (node) pos = node.pos;
    } else if (node.kind === 'map') {
      const e = node.entries.find((x) => x.key === part || x.key === camel(part));
      node = e?.value;
      if (e) pos = e.pos;
    } else node = undefined;
  }
  return pos;
}
