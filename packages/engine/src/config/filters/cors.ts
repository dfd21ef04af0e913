/**
 * envoy.extensions.filters.http.cors.v3.Cors (the filter: no fields) and its CorsPolicy,
 * given per route or virtual host in typed_per_filter_config, or in the deprecated
 * route/virtual host `cors` field (envoy.config.route.v3.CorsPolicy, the same fields).
 */
import { z } from 'zod';
import type { RuntimeFractionalPercent, StringMatcher } from '../types';
import type { FilterConfigSpec, SchemaKit } from '../http-filters';
import { httpFilterType } from '../http-filter-names';

export const CORS_TYPE = httpFilterType('envoy.filters.http.cors');
export const CORS_POLICY_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
/** the route-level message, also accepted in typed_per_filter_config */
export const ROUTE_CORS_POLICY_TYPE = 'type.googleapis.com/envoy.config.route.v3.CorsPolicy';

/** Router::CorsPolicy: each field absent when not configured, so a less specific policy can supply it. */
export interface CorsPolicyConfig {
  allow_origin_string_match: StringMatcher[];
  allow_methods?: string;
  allow_headers?: string;
  expose_headers?: string;
  max_age?: string;
  allow_credentials?: boolean;
  allow_private_network_access?: boolean;
  forward_not_matching_preflights?: boolean;
  /** absent: 100% (CORS is on wherever a policy exists) */
  filter_enabled?: RuntimeFractionalPercent;
  /** absent: no shadow evaluation */
  shadow_enabled?: RuntimeFractionalPercent;
}

export function corsSpec(k: SchemaKit): { spec: FilterConfigSpec; policy: z.ZodType<CorsPolicyConfig> } {
  const { section, typeUrl, text, bool, stringMatcher, runtimeFraction } = k;
  const fields = {
    allow_origin_string_match: z.array(stringMatcher).default([]),
    allow_methods: text.optional(),
    allow_headers: text.optional(),
    expose_headers: text.optional(),
    max_age: text.optional(),
    allow_credentials: bool.optional(),
    allow_private_network_access: bool.optional(),
    forward_not_matching_preflights: bool.optional(),
    filter_enabled: runtimeFraction.optional(),
    shadow_enabled: runtimeFraction.optional(),
  };
  const unsupported = ['allow_origin', 'allow_origin_regex', 'enabled'];
  const clean = <T extends Record<string, unknown>>(p: T) =>
    Object.fromEntries(Object.entries(p).filter(([key, v]) => v !== undefined && key !== '@type')) as unknown as CorsPolicyConfig;
  const policy = section(fields, { unsupported }).transform(clean);
  const typedPolicy = (type: string) => section({ '@type': typeUrl(type), ...fields }, { unsupported }).transform(clean);
  return {
    spec: {
      extension: 'envoy.filters.http.cors',
      type: CORS_TYPE,
      schema: section({ '@type': typeUrl(CORS_TYPE) }).transform(() => ({})),
      perRoute: [
        { type: CORS_POLICY_TYPE, schema: typedPolicy(CORS_POLICY_TYPE) },
        { type: ROUTE_CORS_POLICY_TYPE, schema: typedPolicy(ROUTE_CORS_POLICY_TYPE) },
      ],
    },
    policy,
  };
}
