/**
 * envoy.extensions.filters.http.rbac.v3.RBAC and RBACPerRoute: the rules
 * (envoy.config.rbac.v3.RBAC) with their policies, permissions and principals.
 */
import { z } from 'zod';
import type { CidrRange, HeaderMatcher, StringMatcher } from '../types';
import type { FilterConfigSpec, SchemaKit } from '../http-filters';
import { httpFilterType } from '../http-filter-names';

export const RBAC_TYPE = httpFilterType('envoy.filters.http.rbac');
export const RBAC_PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute';

export type RbacPermission =
  | { any: true }
  | { header: HeaderMatcher }
  | { url_path: StringMatcher }
  | { destination_port: number }
  | { destination_ip: CidrRange }
  | { and_rules: RbacPermission[] }
  | { or_rules: RbacPermission[] }
  | { not_rule: RbacPermission };

export type RbacPrincipal =
  | { any: true }
  | { header: HeaderMatcher }
  | { url_path: StringMatcher }
  /** the connection's peer address */
  | { direct_remote_ip: CidrRange }
  /** the client address the HCM settled on (x-forwarded-for with xff_num_trusted_hops) */
  | { remote_ip: CidrRange }
  /** mTLS peer identity: without TLS there is none, so it never matches */
  | { authenticated: true }
  | { and_ids: RbacPrincipal[] }
  | { or_ids: RbacPrincipal[] }
  | { not_id: RbacPrincipal };

export interface RbacPolicy {
  permissions: RbacPermission[];
  principals: RbacPrincipal[];
}

export interface RbacRules {
  action: 'ALLOW' | 'DENY' | 'LOG';
  /** in the config's order (Envoy reports the first matching policy) */
  policies: Array<{ name: string } & RbacPolicy>;
}

/** A predicate of the matcher API (xds.type.matcher.v3.Matcher.MatcherList.Predicate). */
export type RbacPredicate =
  /** single_predicate on HttpRequestHeaderMatchInput: the header's value must match */
  | { header: string; value: StringMatcher }
  | { and: RbacPredicate[] }
  | { or: RbacPredicate[] }
  | { not: RbacPredicate };

/** envoy.config.rbac.v3.Action */
export interface RbacAction {
  name: string;
  action: 'ALLOW' | 'DENY';
}

/** RBAC.matcher: the first matching entry's action, else on_no_match, else DENY (as Envoy). */
export interface RbacMatcher {
  matchers: Array<{ predicate: RbacPredicate; action: RbacAction }>;
  on_no_match?: RbacAction;
}

export interface RbacConfig {
  /** absent (and no matcher): every request is allowed */
  rules?: RbacRules;
  /** the matcher API instead of rules */
  matcher?: RbacMatcher;
  shadow_rules?: RbacRules;
  rules_stat_prefix: string;
  shadow_rules_stat_prefix: string;
}

/** RBACPerRoute: absent `rbac` turns the filter off for the route. */
export interface RbacPerRouteConfig {
  rbac?: RbacConfig;
}

const PERMISSION_KINDS = ['any', 'header', 'url_path', 'destination_port', 'destination_ip', 'and_rules', 'or_rules', 'not_rule'] as const;
const PRINCIPAL_KINDS = ['any', 'header', 'url_path', 'direct_remote_ip', 'remote_ip', 'source_ip', 'authenticated', 'and_ids', 'or_ids', 'not_id'] as const;

const HEADER_INPUT_TYPE = 'type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput';
const ACTION_TYPE = 'type.googleapis.com/envoy.config.rbac.v3.Action';
const PREDICATE_KINDS = ['single_predicate', 'or_matcher', 'and_matcher', 'not_matcher'] as const;

export function rbacSpec(k: SchemaKit): FilterConfigSpec {
  const { section, refine, requireOneOf, reject, typeUrl, bool, text, name, integer, oneOf, headerMatcher, stringMatcher, cidrRange, headerName } = k;
  const pathMatcher = section({ path: stringMatcher }).transform((p) => p.path);
  const trueOnly = refine(bool, (v, ctx) => {
    if (v !== true) reject(ctx, [], 'any must be true when set');
  });

  const only = <T extends Record<string, unknown>>(value: T): Record<string, unknown> =>
    Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));

  const permission: z.ZodType<RbacPermission> = z.lazy(() =>
    refine(
      section(
        {
          any: trueOnly.optional(),
          header: headerMatcher.optional(),
          url_path: pathMatcher.optional(),
          destination_port: integer(0, 65535).optional(),
          destination_ip: cidrRange.optional(),
          and_rules: section({ rules: z.array(permission).min(1) }).transform((s) => s.rules).optional(),
          or_rules: section({ rules: z.array(permission).min(1) }).transform((s) => s.rules).optional(),
          not_rule: permission.optional(),
        },
        { unsupported: ['metadata', 'requested_server_name', 'matcher', 'destination_port_range', 'uri_template', 'sourced_metadata'] },
      ),
      (p, ctx) => requireOneOf(ctx, p, PERMISSION_KINDS, 'a permission'),
    ).transform((p) => only(p) as RbacPermission),
  );

  const principal: z.ZodType<RbacPrincipal> = z.lazy(() =>
    refine(
      section(
        {
          any: trueOnly.optional(),
          header: headerMatcher.optional(),
          url_path: pathMatcher.optional(),
          direct_remote_ip: cidrRange.optional(),
          remote_ip: cidrRange.optional(),
          // deprecated: the connection's peer, as direct_remote_ip
          source_ip: cidrRange.optional(),
          authenticated: section({}, { unsupported: ['principal_name'] }).optional(),
          and_ids: section({ ids: z.array(principal).min(1) }).transform((s) => s.ids).optional(),
          or_ids: section({ ids: z.array(principal).min(1) }).transform((s) => s.ids).optional(),
          not_id: principal.optional(),
        },
        { unsupported: ['metadata', 'filter_state', 'custom', 'sourced_metadata'] },
      ),
      (p, ctx) => requireOneOf(ctx, p, PRINCIPAL_KINDS, 'a principal'),
    ).transform((p): RbacPrincipal => {
      if (p.source_ip) return { direct_remote_ip: p.source_ip };
      if (p.authenticated) return { authenticated: true };
      return only(p) as RbacPrincipal;
    }),
  );

  const policy = section(
    { permissions: z.array(permission).min(1), principals: z.array(principal).min(1) },
    { unsupported: ['condition', 'checked_condition', 'cel_config'] },
  );

  const rules = section(
    {
      action: oneOf(['ALLOW', 'DENY', 'LOG']).default('ALLOW'),
      policies: z.record(z.string(), policy).default({}),
    },
    { unsupported: ['audit_logging_options'] },
  ).transform((r): RbacRules => ({ action: r.action, policies: Object.entries(r.policies).map(([name, p]) => ({ name, ...p })) }));

  // The matcher API, as far as RBAC's request-header matching goes.
  const headerInput = section({ name, typed_config: section({ '@type': typeUrl(HEADER_INPUT_TYPE), header_name: headerName }) }).transform((i) => i.typed_config.header_name);
  const singlePredicate = section({ input: headerInput, value_match: stringMatcher }, { unsupported: ['custom_match'] });
  const predicate: z.ZodType<RbacPredicate> = z.lazy(() =>
    refine(
      section({
        single_predicate: singlePredicate.optional(),
        or_matcher: section({ predicate: z.array(predicate).min(2) }).optional(),
        and_matcher: section({ predicate: z.array(predicate).min(2) }).optional(),
        not_matcher: predicate.optional(),
      }),
      (p, ctx) => requireOneOf(ctx, p, PREDICATE_KINDS, 'a predicate'),
    ).transform((p): RbacPredicate => {
      if (p.single_predicate) return { header: p.single_predicate.input, value: p.single_predicate.value_match };
      if (p.or_matcher) return { or: p.or_matcher.predicate };
      if (p.and_matcher) return { and: p.and_matcher.predicate };
      return { not: p.not_matcher! };
    }),
  );
  const onMatch = section(
    { action: section({ name, typed_config: section({ '@type': typeUrl(ACTION_TYPE), name, action: oneOf(['ALLOW', 'DENY']) }) }) },
    { unsupported: ['matcher', 'keep_matching'] },
  ).transform((m): RbacAction => ({ name: m.action.typed_config.name, action: m.action.typed_config.action }));
  const matcher = section(
    {
      matcher_list: section({ matchers: z.array(section({ predicate, on_match: onMatch })).min(1) }).optional(),
      on_no_match: onMatch.optional(),
    },
    { unsupported: ['matcher_tree'] },
  ).transform(
    (m): RbacMatcher => ({
      matchers: (m.matcher_list?.matchers ?? []).map((e) => ({ predicate: e.predicate, action: e.on_match })),
      ...(m.on_no_match && { on_no_match: m.on_no_match }),
    }),
  );

  const rbacFields = {
    rules: rules.optional(),
    matcher: matcher.optional(),
    shadow_rules: rules.optional(),
    rules_stat_prefix: text.default(''),
    shadow_rules_stat_prefix: text.default(''),
  };
  const rbacUnsupported = ['shadow_matcher', 'track_per_rule_stats'];
  const load = (r: { rules?: RbacRules; matcher?: RbacMatcher; shadow_rules?: RbacRules; rules_stat_prefix: string; shadow_rules_stat_prefix: string }): RbacConfig => ({
    ...(r.rules && { rules: r.rules }),
    ...(r.matcher && { matcher: r.matcher }),
    ...(r.shadow_rules && { shadow_rules: r.shadow_rules }),
    rules_stat_prefix: r.rules_stat_prefix,
    shadow_rules_stat_prefix: r.shadow_rules_stat_prefix,
  });
  const oneEngine = <S extends z.ZodType<{ rules?: unknown; matcher?: unknown }>>(schema: S) =>
    refine(schema, (r, ctx) => {
      if (r.rules !== undefined && r.matcher !== undefined) reject(ctx, ['matcher'], 'set either rules or matcher, not both');
    });
  const config = oneEngine(section({ '@type': typeUrl(RBAC_TYPE), ...rbacFields }, { unsupported: rbacUnsupported })).transform(load);
  const perRoute = section({
    '@type': typeUrl(RBAC_PER_ROUTE_TYPE),
    rbac: oneEngine(section(rbacFields, { unsupported: rbacUnsupported })).transform(load).optional(),
  }).transform((p): RbacPerRouteConfig => (p.rbac ? { rbac: p.rbac } : {}));

  return { extension: 'envoy.filters.http.rbac', type: RBAC_TYPE, schema: config, perRoute: [{ type: RBAC_PER_ROUTE_TYPE, schema: perRoute }] };
}
