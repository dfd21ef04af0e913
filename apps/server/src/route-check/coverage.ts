/**
 * Route coverage as router_check_tool counts it (coverage.cc). A route entry (each cluster
 * of a weighted_clusters route counts as one) is covered once a passing check marked it;
 * `--covall` weighs each by the share of its fields checked: cluster, virtual cluster,
 * virtual host, path rewrite and host rewrite for a route; redirect path and code for a
 * redirect or direct response.
 */
import type { RouteInfo, RouteTable } from './route-table';

export type CoverageField = 'cluster' | 'virtual_cluster' | 'virtual_host' | 'path_rewrite' | 'host_rewrite' | 'redirect_path' | 'redirect_code';

const ROUTE_FIELDS: CoverageField[] = ['cluster', 'virtual_cluster', 'virtual_host', 'path_rewrite', 'host_rewrite'];
const DIRECT_FIELDS: CoverageField[] = ['redirect_path', 'redirect_code'];

export class Coverage {
  private readonly covered = new Map<string, { route: RouteInfo; fields: Set<CoverageField> }>();

  constructor(private readonly table: RouteTable) {}

  mark(entry: string, route: RouteInfo, field: CoverageField): void {
    let c = this.covered.get(entry);
    if (!c) this.covered.set(entry, (c = { route, fields: new Set() }));
    c.fields.add(field);
  }

  private routeCount(): number {
    let n = 0;
    for (const r of this.table.ordered) n += r.weightedClusters > 0 ? r.weightedClusters : 1;
    return n;
  }

  private missing(): RouteInfo[] {
    const names = new Set([...this.covered.values()].map((c) => c.route.name));
    return this.table.ordered.filter((r) => !names.has(r.name));
  }

  /** Coverage::report; with `detailed`, first the routes no test reached (by name). */
  report(detailed: boolean, log: (line: string) => void): number {
    if (detailed) for (const r of this.missing()) log(`Missing test for host: ${r.vhost}, route name: ${r.name}`);
    return (100 * this.covered.size) / this.routeCount();
  }

  /** Coverage::comprehensiveReport; first the routes no test reached, by their match in proto text. */
  comprehensiveReport(log: (line: string) => void): number {
    let sum = 0;
    for (const c of this.covered.values()) {
      const fields = c.route.kind === 'route' ? ROUTE_FIELDS : DIRECT_FIELDS;
      sum += fields.filter((f) => c.fields.has(f)).length / fields.length;
    }
    for (const r of this.missing()) log(`Missing test for host: ${r.vhost}, route: ${printRouteMatch(r.match)}`);
    return (100 * sum) / this.routeCount();
  }
}

// ---------------------------------------------------------------------------------------
// TextFormat::PrintToString of a RouteMatch, from the configured YAML: fields in field
// number order, proto3 defaults left out, two-space indents, a newline after each field.

/** field numbers, for the print order (route_components.proto and its imports) */
const FIELD_ORDER: Record<string, number> = {
  // RouteMatch
  prefix: 1, path: 2, case_sensitive: 4, headers: 6, query_parameters: 7, grpc: 8, runtime_fraction: 9, safe_regex: 10,
  tls_context: 11, connect_matcher: 12, dynamic_metadata: 13, path_separated_prefix: 14, path_match_policy: 15, filter_state: 16, cookies: 17,
  // HeaderMatcher
  name: 1, exact_match: 4, range_match: 6, present_match: 7, invert_match: 8, prefix_match: 9, suffix_match: 10,
  safe_regex_match: 11, contains_match: 12, string_match: 13, treat_missing_header_as_empty: 14,
  // RuntimeFractionalPercent, FractionalPercent, RegexMatcher, Int64Range
  default_value: 1, runtime_key: 2, numerator: 1, denominator: 2, google_re2: 1, regex: 2, start: 1, end: 2,
};
/** messages whose YAML value is a scalar (wrappers) */
const WRAPPERS = new Set(['case_sensitive', 'presented', 'validated']);
const ENUMS = new Set(['denominator']);

function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\${c.toString(8).padStart(3, '0')}`;
    else if (c > 0x7f) for (const b of new TextEncoder().encode(ch)) out += `\\${b.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function printFields(value: Record<string, unknown>, indent: string): string {
  const keys = Object.keys(value).sort((a, b) => (FIELD_ORDER[a] ?? 99) - (FIELD_ORDER[b] ?? 99));
  let out = '';
  for (const key of keys) {
    const v = value[key];
    for (const item of Array.isArray(v) ? v : [v]) out += printField(key, item, indent);
  }
  return out;
}

function printField(key: string, v: unknown, indent: string): string {
  if (v === null || v === undefined) return '';
  if (WRAPPERS.has(key) && typeof v !== 'object') {
    return `${indent}${key} {\n${printField('value', v, `${indent}  `)}${indent}}\n`;
  }
  if (typeof v === 'object') return `${indent}${key} {\n${printFields(v as Record<string, unknown>, `${indent}  `)}${indent}}\n`;
  // proto3 scalars at their default are not printed
  if (v === false || v === 0 || v === '') return '';
  if (typeof v === 'string') return `${indent}${key}: ${ENUMS.has(key) ? v : quote(v)}\n`;
  return `${indent}${key}: ${String(v)}\n`;
}

export function printRouteMatch(match: Record<string, unknown>): string {
  return printFields(match, '');
}

/** A double as C++'s `std::cout << double` writes it (%g, 6 significant digits). */
export function formatDouble(v: number): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 6) {
    const [m, e] = v.toExponential(5).split('e');
    const mant = m!.includes('.') ? m!.replace(/0+$/, '').replace(/\.$/, '') : m!;
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = v.toPrecision(6);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}
