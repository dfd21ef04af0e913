/**
 * What the router does to a request or response before it leaves: `*_headers_to_add/remove`
 * at route / vhost / route-config level, path rewrites, and the `Location` of redirects.
 * Follows Envoy's `HeaderParser::evaluateHeaders`, `finalizePathHeader` and
 * `Http::Utility::newUri` (semantics doc §2.3).
 */
import type { HeaderMutations, HeaderValueOption, RedirectAction, RouteAction } from '../config/types';
import type { HeaderMap, RequestHead } from '../http/headers';
import { compileFormat, type AccessLogContext, type AccessLogFormatter } from '../accesslog/format';
import { compileRe2, queryStart } from './route-matcher';

// ---------------------------------------------------------------------------------------
// Header add / remove

/**
 * Applies one level of header mutations, like Envoy's `HeaderParser::evaluateHeaders`:
 *
 * 1. every name in `remove` is removed (remove-before-add, so a level can replace a header);
 * 2. each `add` entry decides against the headers as they are *before* this level adds
 *    anything (Envoy evaluates all entries first, then writes);
 * 3. overwrites are written first, then appends.
 *
 * append_action:
 * - APPEND_IF_EXISTS_OR_ADD: add one more value (a repeated header line).
 * - ADD_IF_ABSENT: add only if the header was absent.
 * - OVERWRITE_IF_EXISTS_OR_ADD: replace all values with this one (or add).
 * - OVERWRITE_IF_EXISTS: replace only if present; otherwise do nothing.
 *
 * An empty value is skipped: Envoy only adds empty values with `keep_empty_value`, which
 * our config does not have.
 */
export function applyHeaderMutations(
  headers: HeaderMap,
  add: readonly HeaderValueOption[],
  remove: readonly string[],
  format?: (value: string) => string,
): void {
  for (const name of remove) headers.remove(name);
  if (add.length === 0) return;

  const overwrite: Array<{ key: string; value: string }> = [];
  const append: Array<{ key: string; value: string }> = [];
  for (const configured of add) {
    const option = format ? { ...configured, value: format(configured.value) } : configured;
    if (option.value === '') continue;
    switch (option.append_action) {
      case 'APPEND_IF_EXISTS_OR_ADD':
        append.push(option);
        break;
      case 'ADD_IF_ABSENT':
        if (!headers.has(option.key)) append.push(option);
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (headers.has(option.key)) overwrite.push(option);
        break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD':
        overwrite.push(option);
        break;
    }
  }
  for (const o of overwrite) headers.set(o.key, o.value);
  for (const o of append) headers.add(o.key, o.value);
}

/**
 * Applies route, then virtual host, then route-configuration mutations.
 *
 * Why this order: it is Envoy's default (`most_specific_header_mutations_wins: false`,
 * `getHeaderParsers` "sorted from most to least specific"). Each level runs its own
 * removals then additions, and a later level sees what earlier ones did, so the *least*
 * specific level wins a conflict: a route-config OVERWRITE beats a route-level value, and a
 * vhost `request_headers_to_remove` also removes a header the route just added.
 * The same order is used for responses (Envoy's `finalizeResponseHeaders`).
 * Any level may be undefined (e.g. a local reply before a route was found).
 */
export function applyLayeredHeaderMutations(
  headers: HeaderMap,
  direction: 'request' | 'response',
  levels: { route?: HeaderMutations; vhost?: HeaderMutations; routeConfig?: HeaderMutations },
  format?: (value: string) => string,
): void {
  for (const level of [levels.route, levels.vhost, levels.routeConfig]) {
    if (!level) continue;
    if (direction === 'request') applyHeaderMutations(headers, level.request_headers_to_add, level.request_headers_to_remove, format);
    else applyHeaderMutations(headers, level.response_headers_to_add, level.response_headers_to_remove, format);
  }
}

/** Header values seen so far, compiled; null: not a format Envoy would accept, so kept as text. */
const compiledValues = new Map<string, AccessLogFormatter | null>();

/**
 * HeaderParser's values are substitution formats (`%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%`,
 * `%REQ(x)%`, ...), evaluated per request; a command that comes out unset adds nothing.
 * A value without `%` is returned as is, and the context is built only if one needs it.
 */
export function headerValueFormatter(context: () => AccessLogContext): (value: string) => string {
  let ctx: AccessLogContext | undefined;
  return (value) => {
    if (!value.includes('%')) return value;
    let formatter = compiledValues.get(value);
    if (formatter === undefined) {
      try {
        formatter = compileFormat(value, { omitEmptyValues: true });
      } catch {
        formatter = null;
      }
      compiledValues.set(value, formatter);
    }
    return formatter ? formatter((ctx ??= context())) : value;
  };
}

// ---------------------------------------------------------------------------------------
// Path rewrite

interface CompiledRewrite {
  re: RegExp;
  /** substitution split into literal text and group numbers */
  parts: Array<string | number>;
  groups: number;
}

/** Compiled once per config object: rewritePath runs per request. */
const rewriteCache = new WeakMap<object, CompiledRewrite>();

/**
 * RE2 substitutions use `\1`..`\9` (and `\0` for the whole match) and `\\` for a backslash;
 * we pre-split them instead of translating to JS `$1`, which has different escaping rules.
 */
function parseSubstitution(substitution: string): Array<string | number> {
  const parts: Array<string | number> = [];
  let text = '';
  for (let i = 0; i < substitution.length; i++) {
    const c = substitution[i]!;
    const next = substitution[i + 1];
    if (c === '\\' && next !== undefined && next >= '0' && next <= '9') {
      if (text) parts.push(text);
      text = '';
      parts.push(Number(next));
      i++;
    } else if (c === '\\' && next === '\\') {
      text += '\\';
      i++;
    } else {
      text += c;
    }
  }
  if (text) parts.push(text);
  return parts;
}

function compiledRewrite(rewrite: { pattern: string; substitution: string }): CompiledRewrite {
  let compiled = rewriteCache.get(rewrite);
  if (!compiled) {
    const re = compileRe2(rewrite.pattern, 'global');
    // Number of capture groups: an alternative that matches '' exposes them all.
    const groups = new RegExp(`${re.source}|`, re.flags.replace('g', '')).exec('')!.length - 1;
    compiled = { re, parts: parseSubstitution(rewrite.substitution), groups };
    rewriteCache.set(rewrite, compiled);
  }
  return compiled;
}

function regexReplaceAll(input: string, rw: CompiledRewrite): string {
  return input.replace(rw.re, (match: string, ...rest: unknown[]) => {
    let out = '';
    for (const part of rw.parts) {
      if (typeof part === 'string') out += part;
      else if (part === 0) out += match;
      else if (part <= rw.groups) out += (rest[part - 1] as string | undefined) ?? '';
    }
    return out;
  });
}

/**
 * The upstream :path after `prefix_rewrite` or `regex_rewrite` (Envoy
 * `currentUrlPathAfterRewriteWithMatchedPath`):
 * - prefix_rewrite replaces the first `matchedPrefix.length` characters (the part the route
 *   matched); the rest, query included, is kept. An empty prefix_rewrite means "not set",
 *   as in the proto.
 * - regex_rewrite replaces every match in the path without its query; the query is kept.
 * Returns `path` unchanged when neither applies.
 */
export function rewritePath(
  path: string,
  matchedPrefix: string | undefined,
  action: Pick<RouteAction, 'prefix_rewrite' | 'regex_rewrite'>,
): string {
  if (action.prefix_rewrite && matchedPrefix !== undefined) {
    return action.prefix_rewrite + path.slice(matchedPrefix.length);
  }
  if (action.regex_rewrite) {
    const q = queryStart(path);
    return regexReplaceAll(path.slice(0, q), compiledRewrite(action.regex_rewrite)) + path.slice(q);
  }
  return path;
}

// ---------------------------------------------------------------------------------------
// Redirect Location

/**
 * The request's Host for the new URI, dropping its port when the redirect sets a port, or
 * when the scheme changes and the port was the old scheme's default (`:80` for http,
 * `:443` for https). Envoy compares against x-forwarded-proto, which the HCM has always
 * set by the time the router runs; we fall back to the request scheme.
 */
function redirectHost(head: RequestHead, newScheme: string, newPort: string): string {
  const host = head.authority;
  if (host === '') return host;
  // IPv6 literal: only a ':' right after ']' starts a port.
  let portAt: number;
  if (host.startsWith('[')) {
    const end = host.lastIndexOf(']:');
    portAt = end < 0 ? -1 : end + 1;
  } else {
    portAt = host.lastIndexOf(':');
  }
  if (portAt < 0) return host;
  const port = host.slice(portAt);
  const requestProto = head.headers.get('x-forwarded-proto') ?? head.scheme;
  let removePort = newPort !== '';
  if (newScheme !== requestProto) {
    removePort ||= (requestProto === 'https' && port === ':443') || (requestProto === 'http' && port === ':80');
  }
  return removePort ? host.slice(0, portAt) : host;
}

/**
 * The `Location` of a redirect route (Envoy `Http::Utility::newUri`):
 * - scheme: scheme_redirect, else https if https_redirect, else the request's scheme;
 * - host: host_redirect (the request port is not kept), else the request Host with the port
 *   rules of `redirectHost`;
 * - port: `:<port_redirect>` when set;
 * - path: path_redirect (its own query wins and is never stripped; without one the request
 *   query is kept), else prefix_rewrite applied to the matched prefix, else the request path;
 *   a missing leading "/" is added;
 * - strip_query removes the query unless path_redirect brought its own.
 */
export function buildRedirectLocation(head: RequestHead, redirect: RedirectAction, matchedPrefix?: string): string {
  // RouteEntryImplBase::newUri takes the scheme from x-forwarded-proto (which the HCM always
  // sets), so a plain-text hop behind a TLS edge still redirects to https.
  const scheme = redirect.scheme_redirect || (redirect.https_redirect ? 'https' : (head.headers.get('x-forwarded-proto') ?? head.scheme));
  const port = redirect.port_redirect ? `:${redirect.port_redirect}` : '';
  const host = redirect.host_redirect || redirectHost(head, scheme, port);

  const pathRedirect = redirect.path_redirect;
  const pathRedirectHasQuery = pathRedirect !== undefined && pathRedirect !== '' && pathRedirect.includes('?');
  let path: string;
  if (pathRedirect) {
    if (pathRedirectHasQuery) {
      path = pathRedirect;
    } else {
      const q = head.path.indexOf('?');
      path = q >= 0 ? pathRedirect + head.path.slice(q) : pathRedirect;
    }
  } else if (redirect.prefix_rewrite && matchedPrefix !== undefined) {
    path = redirect.prefix_rewrite + head.path.slice(matchedPrefix.length);
  } else {
    path = head.path;
  }
  if (!path.startsWith('/')) path = `/${path}`;
  if (redirect.strip_query && !pathRedirectHasQuery) {
    const q = path.indexOf('?');
    if (q >= 0) path = path.slice(0, q);
  }
  return `${scheme}://${host}${port}${path}`;
}
