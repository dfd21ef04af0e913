/** envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit (filter and per-route config alike). */
import { z } from 'zod';
import type { LocalRateLimitConfig } from '../types';
import type { FilterConfigSpec, SchemaKit } from '../http-filters';
import { httpFilterType } from '../http-filter-names';

export const LOCAL_RATELIMIT_TYPE = httpFilterType('envoy.filters.http.local_ratelimit');

export function localRateLimitSpec(k: SchemaKit): FilterConfigSpec {
  const { section, refine, reject, integer, duration, name, runtimeFraction, NEVER, headerValueOption, typeUrl } = k;
  /** Envoy refuses a fill timer below 50 ms. */
  const tokenBucket = refine(
    section({ max_tokens: integer(1), tokens_per_fill: integer(1).default(1), fill_interval: duration({ positive: true }) }),
    (b, ctx, parsed) => {
      if (parsed.ok('fill_interval') && b.fill_interval < 50) {
        reject(ctx, ['fill_interval'], `fill_interval must be at least 0.05s, got ${b.fill_interval / 1000}s`);
      }
    },
  );

  const localRateLimitConfig = section(
    {
      '@type': typeUrl(LOCAL_RATELIMIT_TYPE),
      stat_prefix: name,
      status: section({ code: integer(100, 599) }).optional(),
      token_bucket: tokenBucket.optional(),
      filter_enabled: runtimeFraction.optional(),
      filter_enforced: runtimeFraction.optional(),
      response_headers_to_add: z.array(headerValueOption).default([]),
      request_headers_to_add_when_not_enforced: z.array(headerValueOption).default([]),
    },
    {
      unsupported: [
        'descriptors', 'stage', 'local_rate_limit_per_downstream_connection', 'enable_x_ratelimit_headers',
        'vh_rate_limits', 'always_consume_default_token_bucket', 'rate_limited_as_resource_exhausted',
        'local_cluster_rate_limit', 'rate_limits', 'max_dynamic_descriptors',
      ],
    },
  ).transform(
    (l): LocalRateLimitConfig => ({
      stat_prefix: l.stat_prefix,
      // Envoy answers 429 when no status, or one below 400, is configured.
      status: l.status && l.status.code >= 400 ? l.status.code : 429,
      ...(l.token_bucket && { token_bucket: l.token_bucket }),
      // Unset means 0%: the filter does nothing until these are given (Envoy: "for safety").
      filter_enabled: l.filter_enabled ?? { runtime_key: '', default_value: NEVER },
      filter_enforced: l.filter_enforced ?? { runtime_key: '', default_value: NEVER },
      response_headers_to_add: l.response_headers_to_add,
      request_headers_to_add_when_not_enforced: l.request_headers_to_add_when_not_enforced,
    }),
  );

  return {
    extension: 'envoy.filters.http.local_ratelimit',
    type: LOCAL_RATELIMIT_TYPE,
    schema: localRateLimitConfig,
    perRoute: [
      {
        type: LOCAL_RATELIMIT_TYPE,
        schema: localRateLimitConfig,
        check: (loaded) => ((loaded as LocalRateLimitConfig).token_bucket ? undefined : 'a per-route local_ratelimit config needs a token_bucket'),
      },
    ],
  };
}
