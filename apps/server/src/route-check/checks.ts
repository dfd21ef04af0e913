/**
 * The tool's comparisons (router.cc's compare* functions), on what the engine did rather
 * than on a route object: the cluster the router selected, the request the upstream host
 * received (rewrites), the response the client got (redirects, direct responses, response
 * headers). Failure lines are the tool's, character for character:
 *   expected: [E], actual: [A], test type: T
 */
import { headerValueTest } from '@proxyscope/engine/router/route-matcher';
import type { HeaderMatcher, StringMatcher } from '@proxyscope/engine/config';
import type { Observation } from './harness';
import type { Coverage } from './coverage';
import type { RouteInfo, RouteTable } from './route-table';
import type { HeaderMatcherSpec, ValidationItem } from './test-file';

export interface TestResult {
  name: string;
  failures: string[];
}

type Headers = Array<[string, string]>;

function reportFailure(failures: string[], actual: string | number, expected: string | number, type: string, expectMatch = true): void {
  failures.push(`expected: [${expected}], actual: ${expectMatch ? '' : 'NOT '}[${actual}], test type: ${type}`);
}

function compare(failures: string[], actual: string | number, expected: string | number, type: string): boolean {
  if (actual === expected) return true;
  reportFailure(failures, actual, expected, type);
  return false;
}

/** All values of a header joined with ",", as HeaderUtility::matchHeaders reads them; undefined when absent. */
function joined(headers: Headers, name: string): string | undefined {
  const lower = name.toLowerCase();
  const values = headers.filter(([k]) => k === lower).map(([, v]) => v);
  return values.length ? values.join(',') : undefined;
}

/** The first value only, as the tool reads one header (`get_`); its failure lines print NULL for none. */
function first(headers: Headers, name: string, none = 'NULL'): string {
  const lower = name.toLowerCase();
  return headers.find(([k]) => k === lower)?.[1] ?? none;
}

function engineMatcher(m: HeaderMatcherSpec): HeaderMatcher {
  const out: HeaderMatcher = { name: m.name.toLowerCase(), invert_match: m.invert };
  if (m.range) out.range_match = m.range;
  else if (m.string) out.string_match = { [m.string.pattern]: m.string.value, ignore_case: m.string.ignoreCase } as StringMatcher;
  else out.present_match = m.present ?? true;
  return out;
}

/** HeaderUtility::matchHeaders, through the engine's own HeaderMatcher test. */
export function headerMatches(headers: Headers, m: HeaderMatcherSpec): boolean {
  let value = joined(headers, m.name);
  if (value === undefined && m.treatMissingAsEmpty && (m.string || m.range)) value = '';
  return headerValueTest(engineMatcher(m)).test(value);
}

function matchTestType(m: HeaderMatcherSpec): string {
  return m.specifier === 'string_match' ? `string_match.${m.string!.pattern}` : m.specifier;
}

/** RouterCheckTool::matchHeaderField: what a failed header match prints. */
function matchHeaderField(failures: string[], headers: Headers, m: HeaderMatcherSpec, prefix: string): boolean {
  if (headerMatches(headers, m)) return true;
  const type = `${prefix}.${matchTestType(m)}`;
  if (m.specifier === 'present_match') {
    reportFailure(failures, `has(${m.name}):${m.invert ? 'true' : 'false'}`, `has(${m.name}):${m.invert ? 'false' : 'true'}`, type);
  } else if (m.specifier === 'string_match' && m.string!.pattern === 'exact') {
    reportFailure(failures, `${m.name}: ${first(headers, m.name)}`, `${m.name}: ${m.string!.value}`, type, !m.invert);
  } else {
    failures.push(`actual: [${m.name}: ${first(headers, m.name)}], test type: ${type}`);
  }
  return false;
}

/** The request as the tool's finalized request headers would hold it, pseudo-headers included. */
function requestHeaders(obs: Observation): Headers {
  if (obs.upstream) {
    const u = obs.upstream;
    const host = u.headers.find(([k]) => k === 'host')?.[1] ?? '';
    const xfp = u.headers.find(([k]) => k === 'x-forwarded-proto')?.[1] ?? 'http';
    return [[':authority', host], [':path', u.path], [':method', u.method], [':scheme', xfp], ...u.headers.filter(([k]) => k !== 'host')];
  }
  const s = obs.sent;
  const xfp = s.headers.find(([k]) => k === 'x-forwarded-proto')?.[1] ?? 'http';
  return [[':authority', s.authority], [':path', s.path], [':method', s.method], [':scheme', xfp], ...s.headers.map(([k, v]) => [k.toLowerCase(), v] as [string, string])];
}

function responseHeaders(obs: Observation): Headers {
  return obs.response ? [[':status', String(obs.response.status)], ...obs.response.headers] : [];
}

/** VirtualHostImpl::virtualClusterFromEntries: the first whose headers all match, else "other" (if it has any). */
function virtualCluster(table: RouteTable, route: RouteInfo, headers: Headers): string {
  const vh = table.vhosts.get(route.vhost);
  if (!vh || vh.virtualClusters.length === 0) return '';
  return vh.virtualClusters.find((vc) => vc.headers.every((m) => headerMatches(headers, m)))?.name ?? 'other';
}

/**
 * Envoy's DirectResponseEntry::newUri for a route that is not a redirect: the request's
 * own URI (x-forwarded-proto://authority/path), which the tool reports as path_redirect.
 */
function requestUri(obs: Observation): string {
  const xfp = obs.sent.headers.find(([k]) => k === 'x-forwarded-proto')?.[1] ?? 'http';
  return `${xfp}://${obs.sent.authority}${obs.sent.path}`;
}

const SSL_REDIRECT: RouteInfo = { name: 'SSL_REDIRECT_ROUTE', vhost: '', kind: 'redirect', weightedClusters: 0, match: {} };

export function checkTest(test: ValidationItem, obs: Observation, table: RouteTable, coverage: Coverage): TestResult {
  const failures: string[] = [];
  const v = test.validate;
  // A route the config does not have is one the engine made: require_tls's redirect to
  // https. Envoy has one such route for every virtual host, so it is covered once.
  const route = obs.route !== undefined ? (table.routes.get(obs.route) ?? SSL_REDIRECT) : undefined;
  const routeEntry = route?.kind === 'route' ? route : undefined;
  const directEntry = route && route.kind !== 'route' ? route : undefined;
  const cluster = routeEntry ? (obs.clusterSelected?.cluster ?? obs.matchCluster ?? '') : '';
  const entryKey = routeEntry && routeEntry.weightedClusters > 0 ? `${routeEntry.name}#${cluster}` : route?.name;
  const reqHeaders = requestHeaders(obs);
  const mark = (field: Parameters<Coverage['mark']>[2]) => route && coverage.mark(entryKey!, route, field);

  if (v.cluster_name !== undefined && compare(failures, cluster, v.cluster_name, 'cluster_name') && routeEntry) mark('cluster');
  if (v.virtual_cluster_name !== undefined) {
    const actual = routeEntry ? virtualCluster(table, routeEntry, reqHeaders) : '';
    if (compare(failures, actual, v.virtual_cluster_name, 'virtual_cluster_name') && routeEntry) mark('virtual_cluster');
  }
  if (v.virtual_host_name !== undefined) {
    const actual = routeEntry ? (obs.vhost ?? '') : '';
    if (compare(failures, actual, v.virtual_host_name, 'virtual_host_name') && routeEntry) mark('virtual_host');
  }
  if (v.path_rewrite !== undefined) {
    const actual = routeEntry && obs.upstream ? obs.upstream.path : '';
    if (compare(failures, actual, v.path_rewrite, 'path_rewrite') && routeEntry) mark('path_rewrite');
  }
  if (v.host_rewrite !== undefined) {
    const actual = routeEntry && obs.upstream ? (obs.upstream.headers.find(([k]) => k === 'host')?.[1] ?? '') : '';
    if (compare(failures, actual, v.host_rewrite, 'host_rewrite') && routeEntry) mark('host_rewrite');
  }
  if (v.path_redirect !== undefined) {
    let actual = '';
    if (directEntry?.kind === 'redirect') actual = obs.response?.headers.find(([k]) => k === 'location')?.[1] ?? '';
    else if (directEntry) actual = requestUri(obs);
    if (compare(failures, actual, v.path_redirect, 'path_redirect') && directEntry) mark('redirect_path');
  }
  if (v.code_redirect !== undefined) {
    const actual = directEntry && obs.response ? obs.response.status : 0;
    if (compare(failures, actual, v.code_redirect, 'code_redirect') && directEntry) mark('redirect_code');
  }
  for (const m of v.requestHeaderMatches) matchHeaderField(failures, reqHeaders, m, 'request_header_matches');
  for (const h of v.requestHeaderFields) compare(failures, first(reqHeaders, h.key, ''), h.value, 'request_header_fields');
  const resHeaders = responseHeaders(obs);
  for (const m of v.responseHeaderMatches) matchHeaderField(failures, resHeaders, m, 'response_header_matches');
  for (const h of v.responseHeaderFields) compare(failures, first(resHeaders, h.key, ''), h.value, 'response_header_fields');
  return { name: test.testName, failures };
}
