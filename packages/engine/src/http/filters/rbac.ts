/**
 * envoy.filters.http.rbac (Envoy's RoleBasedAccessControlFilter): allows or denies each
 * request by its policies.
 *
 * A policy matches when any of its permissions (what is asked: headers, url_path, method
 * through the `:method` header, destination port/IP) and any of its principals (who asks:
 * direct_remote_ip, remote_ip, headers) match; and_/or_/not_ compose them. With action ALLOW
 * a request is allowed when some policy matches; with DENY, when none does; LOG allows
 * everything. Instead of rules, a `matcher` (the matcher API, on request headers) gives the
 * first matching entry's ALLOW/DENY action, else on_no_match's, else DENY. Denied: 403
 * "RBAC: access denied". `shadow_rules` are evaluated alongside and
 * only counted. The route's RBACPerRoute replaces the filter's config (without `rbac`, the
 * filter is off for the route).
 *
 * Stats `http.<stat_prefix>.rbac.<rules_stat_prefix>{allowed,denied}` and
 * `http.<stat_prefix>.rbac.<shadow_rules_stat_prefix>{shadow_allowed,shadow_denied}`.
 */
import type { RbacConfig, RbacMatcher, RbacPerRouteConfig, RbacPermission, RbacPredicate, RbacPrincipal, RbacRules } from '../../config/filters/rbac';
import { RBAC_PER_ROUTE_TYPE } from '../../config/filters/rbac';
import type { CidrRange, HeaderMatcher, HttpFilter } from '../../config/types';
import { headerReader, headerValueTest, queryStart } from '../../router/route-matcher';
import type { Counter } from '../../stats/stats';
import type { DecoderFilterCallbacks, FilterHeadersStatus, StreamDecoderFilter } from '../filter';
import { perFilterConfig, type FilterFactoryContext } from '../filter-registry';
import type { RequestHead } from '../headers';
import { stringMatches } from './csrf';

/** What a permission or principal can look at. */
interface RequestFacts {
  head: RequestHead;
  /** path without query */
  path: string;
  directRemoteIp: string;
  remoteIp: string;
  localIp: string;
  localPort: number;
}

type Test = (r: RequestFacts) => boolean;

// Permissions and principals share these matchers (Envoy's Matchers::HeaderMatcher, PathMatcher, AndMatcher, ...).
function headerTest(header: HeaderMatcher): Test {
  const read = headerReader(header.name);
  const { test } = headerValueTest(header);
  return (r) => test(read(r.head));
}

function pathTest(matcher: Parameters<typeof stringMatches>[0]): Test {
  const test = stringMatches(matcher);
  return (r) => test(r.path);
}

const allOf = (tests: Test[]): Test => (r) => tests.every((t) => t(r));
const anyOf = (tests: Test[]): Test => (r) => tests.some((t) => t(r));
const not = (test: Test): Test => (r) => !test(r);

function compilePermission(p: RbacPermission): Test {
  if ('any' in p) return () => true;
  if ('header' in p) return headerTest(p.header);
  if ('url_path' in p) return pathTest(p.url_path);
  if ('destination_port' in p) return (r) => r.localPort === p.destination_port;
  if ('destination_ip' in p) return (r) => inCidr(r.localIp, p.destination_ip);
  if ('and_rules' in p) return allOf(p.and_rules.map(compilePermission));
  if ('or_rules' in p) return anyOf(p.or_rules.map(compilePermission));
  return not(compilePermission(p.not_rule));
}

function compilePrincipal(p: RbacPrincipal): Test {
  if ('any' in p) return () => true;
  if ('authenticated' in p) return () => false;
  if ('header' in p) return headerTest(p.header);
  if ('url_path' in p) return pathTest(p.url_path);
  if ('direct_remote_ip' in p) return (r) => inCidr(r.directRemoteIp, p.direct_remote_ip);
  if ('remote_ip' in p) return (r) => inCidr(r.remoteIp, p.remote_ip);
  if ('and_ids' in p) return allOf(p.and_ids.map(compilePrincipal));
  if ('or_ids' in p) return anyOf(p.or_ids.map(compilePrincipal));
  return not(compilePrincipal(p.not_id));
}

interface CompiledRules {
  action: RbacRules['action'];
  policies: Array<{ name: string; matches: Test }>;
}

function compilePredicate(p: RbacPredicate): Test {
  if ('header' in p) {
    const read = headerReader(p.header);
    const test = stringMatches(p.value);
    // No such header: no input, so the predicate does not match (a not_matcher then does).
    return (r) => {
      const value = read(r.head);
      return value !== undefined && test(value);
    };
  }
  if ('and' in p) {
    const all = p.and.map(compilePredicate);
    return (r) => all.every((t) => t(r));
  }
  if ('or' in p) {
    const any = p.or.map(compilePredicate);
    return (r) => any.some((t) => t(r));
  }
  const inner = compilePredicate(p.not);
  return (r) => !inner(r);
}

/** RoleBasedAccessControlMatcherEngineImpl: the first matching entry's action, else on_no_match, else DENY. */
function compileMatcher(m: RbacMatcher): (r: RequestFacts) => { allowed: boolean; policy: string | undefined } {
  const entries = m.matchers.map((e) => ({ test: compilePredicate(e.predicate), action: e.action }));
  return (r) => {
    const action = entries.find((e) => e.test(r))?.action ?? m.on_no_match;
    return action ? { allowed: action.action === 'ALLOW', policy: action.name } : { allowed: false, policy: undefined };
  };
}

function compileRules(rules: RbacRules): CompiledRules {
  return {
    action: rules.action,
    policies: rules.policies.map((p) => {
      const permissions = p.permissions.map(compilePermission);
      const principals = p.principals.map(compilePrincipal);
      return { name: p.name, matches: (r: RequestFacts) => permissions.some((t) => t(r)) && principals.some((t) => t(r)) };
    }),
  };
}

/** RoleBasedAccessControlEngineImpl::handleAction: allowed or not, and the policy that decided. */
function evaluate(rules: CompiledRules, facts: RequestFacts): { allowed: boolean; policy: string | undefined } {
  const matched = rules.policies.find((p) => p.matches(facts))?.name;
  if (rules.action === 'ALLOW') return { allowed: matched !== undefined, policy: matched };
  if (rules.action === 'DENY') return { allowed: matched === undefined, policy: matched };
  return { allowed: true, policy: matched };
}

interface RbacState {
  config: RbacConfig;
  rules: CompiledRules | undefined;
  matcher: ReturnType<typeof compileMatcher> | undefined;
  shadow: CompiledRules | undefined;
  stats: { allowed: Counter; denied: Counter; shadow_allowed: Counter; shadow_denied: Counter };
}

function stateFor(ctx: FilterFactoryContext, config: RbacConfig): RbacState {
  const p = `http.${ctx.statPrefix}.rbac.`;
  return {
    config,
    rules: config.rules && compileRules(config.rules),
    matcher: config.matcher && compileMatcher(config.matcher),
    shadow: config.shadow_rules && compileRules(config.shadow_rules),
    stats: {
      allowed: ctx.stats.counter(`${p}${config.rules_stat_prefix}allowed`),
      denied: ctx.stats.counter(`${p}${config.rules_stat_prefix}denied`),
      shadow_allowed: ctx.stats.counter(`${p}${config.shadow_rules_stat_prefix}shadow_allowed`),
      shadow_denied: ctx.stats.counter(`${p}${config.shadow_rules_stat_prefix}shadow_denied`),
    },
  };
}

export function createRbacFilter(filter: HttpFilter, ctx: FilterFactoryContext): RbacFilter {
  const config = filter.typed_config as unknown as RbacConfig;
  return new RbacFilter(filter.name, ctx, ctx.shared(config, () => stateFor(ctx, config)));
}

/** `ip:port` (as StreamInfo keeps addresses) -> ip, port */
function splitAddress(address: string): { ip: string; port: number } {
  const colon = address.lastIndexOf(':');
  return colon < 0 ? { ip: address, port: 0 } : { ip: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}

export class RbacFilter implements StreamDecoderFilter {
  private callbacks!: DecoderFilterCallbacks;

  constructor(
    readonly name: string,
    private readonly ctx: FilterFactoryContext,
    private readonly defaults: RbacState,
  ) {}

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.callbacks = callbacks;
  }

  /** RoleBasedAccessControlFilter::decodeHeaders */
  decodeHeaders(head: RequestHead): FilterHeadersStatus {
    const perRoute = perFilterConfig<RbacPerRouteConfig>(this.callbacks.route(), this.name, [RBAC_PER_ROUTE_TYPE]);
    if (perRoute && !perRoute.rbac) {
      this.report({ result: 'disabled', reason: 'RBACPerRoute without rbac' });
      return 'Continue';
    }
    const state = perRoute?.rbac ? this.ctx.shared(perRoute.rbac, () => stateFor(this.ctx, perRoute.rbac!)) : this.defaults;
    const facts = this.facts(head);

    if (state.shadow) {
      const shadow = evaluate(state.shadow, facts);
      (shadow.allowed ? state.stats.shadow_allowed : state.stats.shadow_denied).inc();
      this.report({ shadow: true, result: shadow.allowed ? 'allowed' : 'denied', action: state.shadow.action, policy: shadow.policy ?? null });
    }
    if (!state.rules && !state.matcher) return 'Continue';
    const { allowed, policy } = state.rules ? evaluate(state.rules, facts) : state.matcher!(facts);
    const action = state.rules ? state.rules.action : 'matcher';
    const scope = perRoute ? 'route' : 'filter';
    if (allowed) {
      state.stats.allowed.inc();
      this.report({ result: 'allowed', action, policy: policy ?? null, config: scope });
      return 'Continue';
    }
    state.stats.denied.inc();
    this.report({ result: 'denied', action, policy: policy ?? null, config: scope });
    const details = policy !== undefined ? `rbac_access_denied_matched_policy[${policy}]` : 'rbac_access_denied_matched_policy[none]';
    this.callbacks.sendLocalReply(403, 'RBAC: access denied', { details });
    return 'StopIteration';
  }

  private facts(head: RequestHead): RequestFacts {
    const info = this.callbacks.streamInfo;
    const remote = splitAddress(info.downstreamRemoteAddress);
    const local = splitAddress(info.downstreamLocalAddress);
    // The HCM's client address: the last x-forwarded-for entry (the peer itself when
    // use_remote_address appended it), else the peer. xff_num_trusted_hops is not applied.
    const xff = head.headers.getJoined('x-forwarded-for');
    const last = xff?.split(',').pop()?.trim();
    return {
      head,
      path: head.path.slice(0, queryStart(head.path)),
      directRemoteIp: remote.ip,
      remoteIp: last || remote.ip,
      localIp: local.ip,
      localPort: local.port,
    };
  }

  private report(data: Record<string, unknown>): void {
    const tracer = this.ctx.engine.tracer;
    if (tracer.enabled) tracer.fact(this.ctx.stream, 'filter.rbac', { filter: this.name, ...data }, 'RoleBasedAccessControlFilter::decodeHeaders');
  }
}

// --- CIDR ----------------------------------------------------------------------------

/** An IP literal as a 32- or 128-bit number, or undefined. */
function ipBits(ip: string): { bits: bigint; width: 32 | 128 } | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const octets = v4.slice(1).map(Number);
    if (octets.some((o) => o > 255)) return undefined;
    return { bits: octets.reduce((n, o) => (n << 8n) | BigInt(o), 0n), width: 32 };
  }
  if (!ip.includes(':')) return undefined;
  // An IPv4-mapped address (::ffff:1.2.3.4) is its IPv4 address, as Envoy compares it.
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return ipBits(mapped[1]!);
  const [head = '', tail] = ip.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  const all = [...left, ...Array<string>(Math.max(0, fill)).fill('0'), ...right];
  if (all.length !== 8 || all.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return { bits: all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n), width: 128 };
}

export function inCidr(ip: string, range: CidrRange): boolean {
  const a = ipBits(ip);
  const b = ipBits(range.address_prefix);
  if (!a || !b || a.width !== b.width) return false;
  const shift = BigInt(a.width - Math.min(range.prefix_len, a.width));
  return a.bits >> shift === b.bits >> shift;
}
