/** envoy.extensions.filters.http.csrf.v3.CsrfPolicy (filter and per-route config alike). */
import { z } from 'zod';
import type { RuntimeFractionalPercent, StringMatcher } from '../types';
import type { FilterConfigSpec, SchemaKit } from '../http-filters';
import { httpFilterType } from '../http-filter-names';

export const CSRF_TYPE = httpFilterType('envoy.filters.http.csrf');

export interface CsrfConfig {
  filter_enabled: RuntimeFractionalPercent;
  /** absent: no shadow evaluation */
  shadow_enabled?: RuntimeFractionalPercent;
  /** source origins accepted besides the request's own Host */
  additional_origins: StringMatcher[];
}

export function csrfSpec(k: SchemaKit): FilterConfigSpec {
  const { section, typeUrl, runtimeFraction, stringMatcher } = k;
  const policy = section({
    '@type': typeUrl(CSRF_TYPE),
    // Required in Envoy's proto: a CsrfPolicy without it is rejected.
    filter_enabled: runtimeFraction,
    shadow_enabled: runtimeFraction.optional(),
    additional_origins: z.array(stringMatcher).default([]),
  }).transform(
    (p): CsrfConfig => ({ filter_enabled: p.filter_enabled, ...(p.shadow_enabled && { shadow_enabled: p.shadow_enabled }), additional_origins: p.additional_origins }),
  );
  return { extension: 'envoy.filters.http.csrf', type: CSRF_TYPE, schema: policy, perRoute: [{ type: CSRF_TYPE, schema: policy }] };
}
