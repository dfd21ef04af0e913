/**
 * Route lookup: virtual host by Host, then the first matching route, then the cluster.
 * Follows Envoy's `RouteMatcher` / `RouteEntryImplBase` (semantics doc §2.1–2.3).
 *
 * Everything that can be decided from the config alone (lower-casing, wildcard tables,
 * regexes, trace descriptions) is done once in the constructor, so a lookup per request
 * only does string compares and map lookups.
 */
import type {
  HeaderMatcher,
  Route,
  RouteAction,
  RouteConfiguration,
  RouteMatch,
  StringMatcher,
  VirtualHost,
  WeightedCluster,
} from '../config/types';
import type { RequestHead } from '../http/headers';
import { EMPTY_RUNTIME, type RuntimeSnapshot } from '../runtime/runtime';

// ---------------------------------------------------------------------------------------
// Public result types

export interface VirtualHostLookup {
  vhost: VirtualHost | undefined;
  /** short explanation for the trace */
  reason: string;
}

export interface ClusterChoice {
  /** '' when `cluster_header` was missing: the router then answers "cluster not found" */
  name: string;
  reason: string;
}

export interface RouteMatched {
  matched: true;
  vhost: VirtualHost;
  vhostReason: string;
  route: Route;
  /** e.g. `route "api" matched prefix "/api"` */
  reason: string;
  /** the criteria that matched, e.g. `prefix "/api" + header "x-canary" present` */
  matchedOn: string;
  /**
   * The part of `:path` that `prefix_rewrite` replaces: the configured prefix/path, or the
   * whole path without query for `safe_regex` (as Envoy's `currentUrlPathAfterRewrite`).
   */
  matchedPrefix: string;
  /** only for `route` actions; undefined for redirect / direct_response */
  cluster?: ClusterChoice;
}

export interface RouteNotMatched {
  matched: false;
  /** set when a vhost was found but none of its routes matched */
  vhost: VirtualHost | undefined;
  vhostReason: string;
  route: undefined;
  reason: string;
  matchedOn?: undefined;
  matchedPrefix?: undefined;
  cluster?: undefined;
}

export type RouteResult = RouteMatched | RouteNotMatched;

/** How the virtual host was found (Envoy's lookup order: exact, suffix, prefix wildcard, then `*`). */
export type VirtualHostMatchKind = 'exact' | 'suffix_wildcard' | 'prefix_wildcard' | 'default' | 'none';

/** Which test of a route rejected the request (RouteEntryImplBase::matchRoute order). */
export type RouteCandidateFailure = 'runtime_fraction' | 'path' | 'header';

/** A route tried before the winner, and why it did not match. */
export interface RouteCandidate {
  route: string;
  /** position in the virtual host's route list */
  index: number;
  failed: RouteCandidateFailure;
  /** in words, e.g. `prefix "/api" does not match "/"` */
  reason: string;
  /** path: the specifier kind (`prefix`, `path`, `safe_regex`, `path_separated_prefix`) and its value */
  specifier?: string;
  want?: string;
  /** path: the request's path (prefix: with query; others: without) */
  got?: string;
  /** header: the matcher's header name, the matcher in words, the request's value or null when absent */
  header?: string;
  matcher?: string;
  value?: string | null;
  /** runtime_fraction: `random % denominator` drawn for the request, the numerator it had to be below */
  drawn?: number;
  numerator?: number;
  denominator?: number;
}

/** The weighted_clusters pick, for the trace: `drawn = random % total`, each cluster's [begin, end). */
export interface WeightedDraw {
  random: string;
  drawn: number;
  total: number;
  clusters: Array<{ name: string; weight: number; range: [number, number] }>;
  picked: string;
}

/**
 * What the trace explains about one lookup; computed only while traced, by re-running the
 * same compiled tests on the same request and random value, so it cannot disagree.
 */
export interface RouteExplanation {
  vhostMatch: VirtualHostMatchKind;
  /** the domain that matched (`*` for the default), absent when none did */
  domain?: string;
  /** how many virtual hosts the route config has */
  vhosts: number;
  /** routes tried before the winner (or all of them when none matched), first MAX_CANDIDATES */
  candidates: RouteCandidate[];
  /** candidates left off past MAX_CANDIDATES */
  more: number;
  /** how many routes the virtual host has */
  routes: number;
  weighted?: WeightedDraw;
}

/** Caps the candidate list a trace fact carries: a 500-route vhost must not make 500-entry facts. */
export const MAX_CANDIDATES = 32;

// ---------------------------------------------------------------------------------------
// RE2-ish patterns on JavaScript RegExp

/**
 * Compiles an Envoy (RE2) pattern to a JS RegExp. The two syntaxes agree on everything a
 * route config normally uses; we translate the two RE2-only forms that show up in practice:
 * a leading flag group such as `(?i)` and named groups `(?P<name>...)`.
 *
 * `full` anchors the pattern so it must match the whole input (Envoy's `safe_regex`
 * semantics); `global` is for `regex_rewrite`, which replaces every match.
 */
export function compileRe2(pattern: string, mode: 'full' | 'global'): RegExp {
  let source = pattern;
  let flags = mode === 'global' ? 'g' : '';
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(source);
  if (lead) {
    for (const f of lead[1]!) {
      // `m` is left out on purpose: with it our ^...$ anchors would match per line.
      if (f !== 'i' && f !== 's') throw new Error(`unsupported regex flag "(?${f})" in ${JSON.stringify(pattern)}`);
      if (!flags.includes(f)) flags += f;
    }
    source = source.slice(lead[0].length);
  }
  source = source.replace(/\(\?P</g, '(?<');
  try {
    return new RegExp(mode === 'full' ? `^(?:${source})$` : source, flags);
  } catch (err) {
    throw new Error(`invalid regex ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------
// Small helpers shared by the matchers

/** Index where query (or fragment) starts, or the length. Envoy's `removeQueryAndFragment`. */
export function queryStart(path: string): number {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return path.length;
}

/**
 * Where the `:port` of a Host value starts, or -1. Same rule as Envoy's
 * `HeaderUtility::getPortStart`: the last ':' unless it sits inside an IPv6 `[...]`.
 * The port is not checked to be numeric (Envoy does not either).
 */
export function hostPortStart(host: string): number {
  const colon = host.lastIndexOf(':');
  if (colon < 0) return -1;
  const v6End = host.lastIndexOf(']');
  return v6End < 0 || v6End < colon ? colon : -1;
}

function startsWithIgnoreCase(value: string, lowerPrefix: string): boolean {
  return value.length >= lowerPrefix.length && value.slice(0, lowerPrefix.length).toLowerCase() === lowerPrefix;
}

/** Reads a header the way route matching sees it: pseudo-headers from the head, repeated headers joined with ",". */
export type HeaderReader = (head: RequestHead) => string | undefined;

export function headerReader(name: string): HeaderReader {
  switch (name) {
    case ':authority':
      return (head) => head.authority;
    case ':method':
      return (head) => head.method;
    case ':path':
      return (head) => head.path;
    case ':scheme':
      return (head) => head.scheme;
    default:
      return (head) => head.headers.getJoined(name);
  }
}

/** Same, but first value only: what `cluster_header` uses (Envoy takes entry [0]). */
function firstHeaderValue(head: RequestHead, name: string): string | undefined {
  switch (name) {
    case ':authority':
      return head.authority;
    case ':method':
      return head.method;
    case ':path':
      return head.path;
    case ':scheme':
      return head.scheme;
    default:
      return head.headers.get(name);
  }
}

// ---------------------------------------------------------------------------------------
// Header matchers

interface CompiledHeaderMatcher {
  describe: string;
  /** lower-cased header name */
  name: string;
  read: HeaderReader;
  matches(head: RequestHead): boolean;
}

/** The value test of a StringMatcher. ignore_case does not apply to safe_regex (Envoy proto). */
export function stringTest(m: StringMatcher): { test: (v: string) => boolean; describe: string } {
  const ic = m.ignore_case;
  const suffix = ic ? ' (ignore case)' : '';
  if ('exact' in m) {
    const want = ic ? m.exact.toLowerCase() : m.exact;
    return { test: ic ? (v) => v.toLowerCase() === want : (v) => v === want, describe: `exact ${JSON.stringify(m.exact)}${suffix}` };
  }
  if ('prefix' in m) {
    const want = ic ? m.prefix.toLowerCase() : m.prefix;
    return { test: ic ? (v) => startsWithIgnoreCase(v, want) : (v) => v.startsWith(want), describe: `prefix ${JSON.stringify(m.prefix)}${suffix}` };
  }
  if ('suffix' in m) {
    const want = ic ? m.suffix.toLowerCase() : m.suffix;
    return { test: ic ? (v) => v.toLowerCase().endsWith(want) : (v) => v.endsWith(want), describe: `suffix ${JSON.stringify(m.suffix)}${suffix}` };
  }
  if ('contains' in m) {
    const want = ic ? m.contains.toLowerCase() : m.contains;
    return { test: ic ? (v) => v.toLowerCase().includes(want) : (v) => v.includes(want), describe: `contains ${JSON.stringify(m.contains)}${suffix}` };
  }
  const re = compileRe2(m.safe_regex, 'full');
  return { test: (v) => re.test(v), describe: `regex ${JSON.stringify(m.safe_regex)}` };
}

/**
 * absl::SimpleAtoi accepts surrounding ASCII whitespace and one sign; anything else
 * (decimals, hex, trailing text) makes the range matcher fail.
 */
const BASE10_INT = /^\s*[+-]?\d+\s*$/;

function compileHeaderMatcher(m: HeaderMatcher): CompiledHeaderMatcher {
  const name = m.name.toLowerCase();
  const read = headerReader(name);
  const { describe, test } = headerValueTest(m);
  return { describe, name, read, matches: (head) => test(read(head)) };
}

/**
 * A HeaderMatcher as a test of one header's value (`undefined` when the header is absent),
 * so routes (request headers) and retry policies (response headers) match alike.
 */
export function headerValueTest(m: HeaderMatcher): { describe: string; test: (value: string | undefined) => boolean } {
  const name = m.name.toLowerCase();
  const invert = m.invert_match;
  const not = invert ? 'not ' : '';

  // Presence: explicit present_match, or no specifier at all (treated as present_match: true).
  // Envoy: (present == wanted) != invert, so an inverted presence check matches absence.
  if (m.string_match === undefined && m.range_match === undefined) {
    const wanted = m.present_match ?? true;
    return {
      describe: `header "${name}" ${not}${wanted ? 'present' : 'absent'}`,
      test: (value) => ((value !== undefined) === wanted) !== invert,
    };
  }

  let test: (v: string) => boolean;
  let what: string;
  if (m.range_match !== undefined) {
    const { start, end } = m.range_match;
    test = (v) => {
      if (!BASE10_INT.test(v)) return false;
      const n = Number(v.trim());
      return n >= start && n < end;
    };
    what = `in range [${start}, ${end})`;
  } else {
    const s = stringTest(m.string_match!);
    test = s.test;
    what = s.describe;
  }
  return {
    describe: `header "${name}" ${not}${what}`,
    // A missing header never matches a value matcher, inverted or not (Envoy
    // HeaderUtility::matchHeaders without treat_missing_header_as_empty).
    test: (value) => value !== undefined && test(value) !== invert,
  };
}

// ---------------------------------------------------------------------------------------
// Path specifiers

/** Returns the matched part of the path (see RouteMatched.matchedPrefix) or undefined. */
type PathTest = (path: string, pathOnly: string) => string | undefined;

interface CompiledPathTest {
  test: PathTest;
  describe: string;
  /** for the trace: the specifier's kind and value */
  kind: string;
  value: string;
}

function compilePathTest(match: RouteMatch): CompiledPathTest {
  const cs = match.case_sensitive;
  const ci = cs ? '' : ' (case-insensitive)';
  if (match.prefix !== undefined) {
    // Prefix is compared against the full :path, query included (so "/api" matches "/api?x").
    const prefix = match.prefix;
    const lower = prefix.toLowerCase();
    return {
      test: cs ? (path) => (path.startsWith(prefix) ? prefix : undefined) : (path) => (startsWithIgnoreCase(path, lower) ? prefix : undefined),
      describe: `prefix ${JSON.stringify(prefix)}${ci}`,
      kind: 'prefix',
      value: prefix,
    };
  }
  if (match.path !== undefined) {
    const exact = match.path;
    const lower = exact.toLowerCase();
    return {
      test: cs ? (_p, only) => (only === exact ? exact : undefined) : (_p, only) => (only.toLowerCase() === lower ? exact : undefined),
      describe: `path ${JSON.stringify(exact)}${ci}`,
      kind: 'path',
      value: exact,
    };
  }
  if (match.safe_regex !== undefined) {
    // case_sensitive does not apply to regexes; the whole path without query must match.
    const re = compileRe2(match.safe_regex, 'full');
    return { test: (_p, only) => (re.test(only) ? only : undefined), describe: `safe_regex ${JSON.stringify(match.safe_regex)}`, kind: 'safe_regex', value: match.safe_regex };
  }
  if (match.path_separated_prefix !== undefined) {
    // Envoy matches it on the path without query and honours case_sensitive here too.
    const prefix = match.path_separated_prefix;
    const lower = prefix.toLowerCase();
    const n = prefix.length;
    return {
      test: (_p, only) => {
        if (only.length < n) return undefined;
        if (cs ? !only.startsWith(prefix) : !startsWithIgnoreCase(only, lower)) return undefined;
        return only.length === n || only.charCodeAt(n) === 47 /* / */ ? prefix : undefined;
      },
      describe: `path_separated_prefix ${JSON.stringify(prefix)}${ci}`,
      kind: 'path_separated_prefix',
      value: prefix,
    };
  }
  // The loader guarantees one specifier; a route without one would match nothing.
  return { test: () => undefined, describe: 'no path specifier', kind: 'none', value: '' };
}

// ---------------------------------------------------------------------------------------
// Weighted clusters

/** Envoy's random value is a uint64; any number or bigint is folded into that range. */
function randomModulo(randomValue: bigint | number, total: number): number {
  const r = typeof randomValue === 'bigint' ? randomValue : BigInt(Number.isFinite(randomValue) ? Math.trunc(randomValue) : 0);
  return Number(BigInt.asUintN(64, r) % BigInt(total));
}

/**
 * Picks one of `weighted.clusters`: `v = random % total`, then walk the list in order and
 * take the entry whose half-open interval [begin, begin + weight) contains v.
 * `total` is the sum of the weights (newer Envoy; older Envoy required it to equal
 * `total_weight`, so both agree on any valid config).
 */
export function pickWeightedCluster(
  weighted: { clusters: readonly WeightedCluster[] },
  randomValue: bigint | number,
): ClusterChoice {
  let total = 0;
  for (const c of weighted.clusters) total += c.weight;
  if (total <= 0) return { name: '', reason: 'weighted_clusters: total weight is 0, no cluster' };
  const v = randomModulo(randomValue, total);
  let begin = 0;
  for (const c of weighted.clusters) {
    const end = begin + c.weight;
    if (v >= begin && v < end) {
      return { name: c.name, reason: `weighted_clusters: ${randomValue} % ${total} = ${v} → "${c.name}" [${begin}, ${end})` };
    }
    begin = end;
  }
  // Unreachable: v < total and the intervals cover [0, total).
  return { name: '', reason: `weighted_clusters: ${v} outside [0, ${total})` };
}

/** The same pick as pickWeightedCluster, with every cluster's range: only for the trace. */
export function weightedDraw(weighted: { clusters: readonly WeightedCluster[] }, randomValue: bigint | number): WeightedDraw | undefined {
  let total = 0;
  for (const c of weighted.clusters) total += c.weight;
  if (total <= 0) return undefined;
  const drawn = randomModulo(randomValue, total);
  let begin = 0;
  let picked = '';
  const clusters: WeightedDraw['clusters'] = [];
  for (const c of weighted.clusters) {
    const end = begin + c.weight;
    if (picked === '' && drawn >= begin && drawn < end) picked = c.name;
    clusters.push({ name: c.name, weight: c.weight, range: [begin, end] });
    begin = end;
  }
  return { random: String(randomValue), drawn, total, clusters, picked };
}

function chooseCluster(action: RouteAction, head: RequestHead, randomValue: bigint | number): ClusterChoice {
  if (action.cluster !== undefined) return { name: action.cluster, reason: `cluster "${action.cluster}"` };
  if (action.cluster_header !== undefined) {
    const header = action.cluster_header.toLowerCase();
    const value = firstHeaderValue(head, header);
    return value === undefined
      ? { name: '', reason: `cluster_header "${header}" missing → empty cluster name` }
      : { name: value, reason: `cluster_header "${header}" = "${value}"` };
  }
  if (action.weighted_clusters !== undefined) return pickWeightedCluster(action.weighted_clusters, randomValue);
  return { name: '', reason: 'route action names no cluster' };
}

// ---------------------------------------------------------------------------------------
// The matcher

interface CompiledRoute {
  route: Route;
  path: PathTest;
  /** the path specifier, for the trace */
  pathSpec: { kind: string; value: string; describe: string };
  /** the share runtime_fraction gives (the runtime snapshot is static), for the trace */
  share?: { numerator: number; denominator: number } | 'always';
  headers: CompiledHeaderMatcher[];
  /** match.runtime_fraction as a test of the request's random value; absent = every request */
  runtime?: (randomValue: bigint | number) => boolean;
  /** precomputed trace text */
  matchedOn: string;
}

interface CompiledVhost {
  vhost: VirtualHost;
  routes: CompiledRoute[];
  /** require_tls ALL / EXTERNAL_ONLY: the redirect to https that comes before every route */
  sslRedirect?: Route;
}

/**
 * VirtualHostImpl's SSL_REDIRECT_ROUTE: a 301 to the same host and path over https.
 * No route config has it; it is named after its virtual host for stats and traces.
 */
function sslRedirectRoute(vhost: VirtualHost): Route {
  return {
    name: `${vhost.name}/require_tls`,
    match: { prefix: '', case_sensitive: true, headers: [] },
    redirect: { https_redirect: true, response_code: 301, strip_query: false },
    request_headers_to_add: [],
    request_headers_to_remove: [],
    response_headers_to_add: [],
    response_headers_to_remove: [],
  };
}

interface WildcardEntry {
  vhost: CompiledVhost;
  /** the domain as configured (lower-cased), for the trace */
  domain: string;
}

/** Wildcards of one key length. Lookup = one substring + one map get per length. */
interface WildcardBucket {
  length: number;
  byKey: Map<string, WildcardEntry>;
}

export class RouteMatcher {
  private readonly exact = new Map<string, CompiledVhost>();
  /** `*.foo.com` → key ".foo.com"; buckets sorted longest key first */
  private readonly suffixes: WildcardBucket[];
  /** `foo.*` → key "foo."; buckets sorted longest key first */
  private readonly prefixes: WildcardBucket[];
  private readonly defaultVhost: CompiledVhost | undefined;
  private readonly ignorePort: boolean;
  private readonly vhostCount: number;

  constructor(config: RouteConfiguration, runtime: RuntimeSnapshot = EMPTY_RUNTIME) {
    this.ignorePort = config.ignore_port_in_host_matching;
    this.vhostCount = config.virtual_hosts.length;
    const compileRoute = (route: Route) => compileRouteWith(route, runtime);
    const suffixes = new Map<number, Map<string, WildcardEntry>>();
    const prefixes = new Map<number, Map<string, WildcardEntry>>();
    let defaultVhost: CompiledVhost | undefined;

    for (const vhost of config.virtual_hosts) {
      const compiled: CompiledVhost = { vhost, routes: vhost.routes.map(compileRoute) };
      if (vhost.require_tls === 'ALL' || vhost.require_tls === 'EXTERNAL_ONLY') compiled.sslRedirect = sslRedirectRoute(vhost);
      for (const raw of vhost.domains) {
        const domain = raw.toLowerCase();
        const dup = (): never => {
          throw new Error(`route config "${config.name}": domain "${domain}" appears more than once (virtual host "${vhost.name}")`);
        };
        if (domain === '*') {
          if (defaultVhost) dup();
          defaultVhost = compiled;
        } else if (domain.startsWith('*')) {
          addWildcard(suffixes, domain.slice(1), { vhost: compiled, domain }, dup);
        } else if (domain.endsWith('*')) {
          addWildcard(prefixes, domain.slice(0, -1), { vhost: compiled, domain }, dup);
        } else {
          if (this.exact.has(domain)) dup();
          this.exact.set(domain, compiled);
        }
      }
    }
    this.suffixes = toBuckets(suffixes);
    this.prefixes = toBuckets(prefixes);
    this.defaultVhost = defaultVhost;
  }

  findVirtualHost(head: RequestHead): VirtualHostLookup {
    const { compiled, reason } = this.lookupVhost(head);
    return { vhost: compiled?.vhost, reason };
  }

  /**
   * Full lookup. `randomValue` is the per-request random number (Envoy uses the stream id);
   * it decides weighted clusters.
   */
  route(head: RequestHead, randomValue: bigint | number): RouteResult {
    const { compiled, reason: vhostReason } = this.lookupVhost(head);
    if (!compiled) return { matched: false, vhost: undefined, vhostReason, route: undefined, reason: vhostReason };

    const path = head.path;
    // VirtualHostImpl::getRouteFromEntries checks the TLS requirement before any route; the
    // scheme is x-forwarded-proto's, and x-envoy-internal exempts EXTERNAL_ONLY.
    if (compiled.sslRedirect) {
      const proto = head.headers.get('x-forwarded-proto') ?? head.scheme;
      const tls = compiled.vhost.require_tls;
      if (proto !== 'https' && (tls === 'ALL' || head.headers.get('x-envoy-internal') !== 'true')) {
        return {
          matched: true,
          vhost: compiled.vhost,
          vhostReason,
          route: compiled.sslRedirect,
          reason: `require_tls ${tls}: ${proto} request redirected to https`,
          matchedOn: `require_tls ${tls}`,
          matchedPrefix: '',
          cluster: undefined,
        };
      }
    }
    const pathOnly = path.slice(0, queryStart(path));
    for (const r of compiled.routes) {
      // RouteEntryImplBase::matchRoute tests the runtime fraction before anything else.
      if (r.runtime && !r.runtime(randomValue)) continue;
      const matchedPrefix = r.path(path, pathOnly);
      if (matchedPrefix === undefined) continue;
      if (!allMatch(r.headers, head)) continue;
      const action = r.route.route;
      return {
        matched: true,
        vhost: compiled.vhost,
        vhostReason,
        route: r.route,
        reason: `route "${r.route.name}" matched ${r.matchedOn}`,
        matchedOn: r.matchedOn,
        matchedPrefix,
        cluster: action ? chooseCluster(action, head, randomValue) : undefined,
      };
    }
    return {
      matched: false,
      vhost: compiled.vhost,
      vhostReason,
      route: undefined,
      reason: `no route in virtual host "${compiled.vhost.name}" matches ${head.method} ${path}`,
    };
  }

  /**
   * Why `route()` decided as it did, for the trace only: how the virtual host was found,
   * each route tried before the winner with the test that rejected it, and the weighted
   * draw. Re-runs the compiled tests (the fast path keeps no record), so callers guard it
   * with `tracer.enabled`.
   */
  explain(head: RequestHead, randomValue: bigint | number, result: RouteResult): RouteExplanation {
    const { compiled, kind, domain } = this.lookupVhost(head);
    const out: RouteExplanation = { vhostMatch: kind, vhosts: this.vhostCount, candidates: [], more: 0, routes: compiled?.routes.length ?? 0 };
    if (domain !== undefined) out.domain = domain;
    // The require_tls redirect comes before every route: none was tried.
    if (!compiled || (compiled.sslRedirect !== undefined && result.route === compiled.sslRedirect)) return out;
    const path = head.path;
    const pathOnly = path.slice(0, queryStart(path));
    const winner = result.route;
    for (let index = 0; index < compiled.routes.length; index++) {
      const r = compiled.routes[index]!;
      if (r.route === winner) break;
      const why = rejection(r, head, path, pathOnly, randomValue);
      // Only reachable if the config changed between the two calls: say nothing rather than lie.
      if (!why) break;
      if (out.candidates.length < MAX_CANDIDATES) out.candidates.push({ route: r.route.name || `#${index}`, index, ...why });
      else out.more++;
    }
    const weighted = result.matched ? result.route.route?.weighted_clusters : undefined;
    if (weighted) {
      const draw = weightedDraw(weighted, randomValue);
      if (draw) out.weighted = draw;
    }
    return out;
  }

  private lookupVhost(head: RequestHead): { compiled: CompiledVhost | undefined; reason: string; kind: VirtualHostMatchKind; domain?: string } {
    // Only a "*" vhost: Envoy does not even look at Host.
    if (this.defaultVhost && this.exact.size === 0 && this.suffixes.length === 0 && this.prefixes.length === 0) {
      return { compiled: this.defaultVhost, reason: 'default virtual host "*" (the only virtual host)', kind: 'default', domain: '*' };
    }

    let host = head.authority;
    if (this.ignorePort) {
      const port = hostPortStart(host);
      if (port >= 0) host = host.slice(0, port);
    }
    host = host.toLowerCase();

    const exact = this.exact.get(host);
    if (exact) return { compiled: exact, reason: `exact domain "${host}"`, kind: 'exact', domain: host };

    const suffix = findWildcard(this.suffixes, host, (h, n) => h.slice(h.length - n));
    if (suffix) return { compiled: suffix.entry.vhost, reason: wildcardReason('suffix', suffix), kind: 'suffix_wildcard', domain: suffix.entry.domain };

    const prefix = findWildcard(this.prefixes, host, (h, n) => h.slice(0, n));
    if (prefix) return { compiled: prefix.entry.vhost, reason: wildcardReason('prefix', prefix), kind: 'prefix_wildcard', domain: prefix.entry.domain };

    if (this.defaultVhost) return { compiled: this.defaultVhost, reason: 'default virtual host "*"', kind: 'default', domain: '*' };
    return { compiled: undefined, reason: `no virtual host matches "${head.authority}"`, kind: 'none' };
  }
}

function compileRouteWith(route: Route, runtime: RuntimeSnapshot): CompiledRoute {
  const path = compilePathTest(route.match);
  const headers = route.match.headers.map(compileHeaderMatcher);
  const fraction = route.match.runtime_fraction;
  const described = [path.describe, ...headers.map((h) => h.describe)];
  const pathSpec = { kind: path.kind, value: path.value, describe: path.describe };
  if (!fraction) return { route, path: path.test, pathSpec, headers, matchedOn: described.join(' + ') };
  // Described as loaded: the snapshot is static, so the share a route gets never changes.
  const share = runtime.fractionalPercent(fraction.runtime_key, fraction.default_value);
  const key = fraction.runtime_key ? ` (runtime ${JSON.stringify(fraction.runtime_key)})` : '';
  described.push(`runtime_fraction ${share === 'always' ? '100%' : `${share.numerator}/${share.denominator}`}${key}`);
  return {
    route,
    path: path.test,
    pathSpec,
    share,
    headers,
    // Envoy: evaluateRuntimeMatch -> Snapshot::featureEnabled(runtime_key, default_value, random_value),
    // the stream's random value, so every route of one request sees the same draw.
    runtime: (randomValue) => runtime.featureEnabled(fraction.runtime_key, fraction.default_value, randomValue),
    matchedOn: described.join(' + '),
  };
}

const MAX_VALUE = 64;

function clip(value: string): string {
  return value.length > MAX_VALUE ? `${value.slice(0, MAX_VALUE)}…` : value;
}

/** The first test of `r` the request fails, in matchRoute's order; undefined when it matches. */
function rejection(
  r: CompiledRoute,
  head: RequestHead,
  path: string,
  pathOnly: string,
  randomValue: bigint | number,
): Omit<RouteCandidate, 'route' | 'index'> | undefined {
  if (r.runtime && !r.runtime(randomValue)) {
    const share = r.share;
    if (share === undefined || share === 'always') return { failed: 'runtime_fraction', reason: 'runtime_fraction draw lost' };
    const drawn = randomModulo(randomValue, share.denominator);
    return {
      failed: 'runtime_fraction',
      reason: `runtime_fraction: drew ${drawn} of ${share.denominator}, needed < ${share.numerator}`,
      drawn,
      numerator: share.numerator,
      denominator: share.denominator,
    };
  }
  if (r.path(path, pathOnly) === undefined) {
    const spec = r.pathSpec;
    // A prefix is tested on the whole :path; the other specifiers on the path without query.
    const got = clip(spec.kind === 'prefix' ? path : pathOnly);
    return { failed: 'path', reason: `${spec.describe} does not match ${JSON.stringify(got)}`, specifier: spec.kind, want: spec.value, got };
  }
  for (const h of r.headers) {
    if (h.matches(head)) continue;
    const raw = h.read(head);
    const value = raw === undefined ? null : clip(raw);
    const seen = value === null ? 'absent' : `is ${JSON.stringify(value)}`;
    return { failed: 'header', reason: `${h.describe} failed: header ${seen}`, header: h.name, matcher: h.describe, value };
  }
  return undefined;
}

function allMatch(matchers: CompiledHeaderMatcher[], head: RequestHead): boolean {
  for (const m of matchers) if (!m.matches(head)) return false;
  return true;
}

function addWildcard(
  table: Map<number, Map<string, WildcardEntry>>,
  key: string,
  entry: WildcardEntry,
  dup: () => never,
): void {
  let byKey = table.get(key.length);
  if (!byKey) table.set(key.length, (byKey = new Map()));
  if (byKey.has(key)) dup();
  byKey.set(key, entry);
}

function toBuckets(table: Map<number, Map<string, WildcardEntry>>): WildcardBucket[] {
  return [...table].map(([length, byKey]) => ({ length, byKey })).sort((a, b) => b.length - a.length);
}

/**
 * Longest wildcard wins. A wildcard is only tried when the host is strictly longer than
 * its key, so `*` always stands for at least one character (`*.foo.com` ≠ `.foo.com`).
 * After the winner we keep counting the shorter matches, only to say so in the trace.
 */
function findWildcard(
  buckets: WildcardBucket[],
  host: string,
  cut: (host: string, n: number) => string,
): { entry: WildcardEntry; matching: number } | undefined {
  let winner: WildcardEntry | undefined;
  let matching = 0;
  for (const bucket of buckets) {
    if (bucket.length >= host.length) continue;
    const hit = bucket.byKey.get(cut(host, bucket.length));
    if (!hit) continue;
    winner ??= hit;
    matching++;
  }
  return winner && { entry: winner, matching };
}

function wildcardReason(kind: 'suffix' | 'prefix', found: { entry: WildcardEntry; matching: number }): string {
  const more = found.matching > 1 ? ` (longest of ${found.matching} matching)` : '';
  return `${kind} wildcard "${found.entry.domain}"${more}`;
}
