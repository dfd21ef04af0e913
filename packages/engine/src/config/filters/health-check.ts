/** envoy.extensions.filters.http.health_check.v3.HealthCheck */
import { z } from 'zod';
import type { HeaderMatcher } from '../types';
import type { FilterConfigSpec, SchemaKit } from '../http-filters';
import { httpFilterType } from '../http-filter-names';

export const HEALTH_CHECK_TYPE = httpFilterType('envoy.filters.http.health_check');

export interface HealthCheckConfig {
  /** true: health checks go on to the upstream; false: the filter answers them itself */
  pass_through_mode: boolean;
  /** a request is a health check when it matches all of these */
  headers: HeaderMatcher[];
  /** cluster name -> the percentage (0-100) of its hosts that must be healthy for a 200 */
  cluster_min_healthy_percentages: Record<string, number>;
}

export function healthCheckSpec(k: SchemaKit): FilterConfigSpec {
  const { section, typeUrl, bool, headerMatcher, scalar } = k;
  const percentValue = scalar('a number 0-100', (v) => (typeof v === 'number' && v >= 0 && v <= 100 ? v : undefined));
  const config = section(
    {
      '@type': typeUrl(HEALTH_CHECK_TYPE),
      // A BoolValue Envoy requires (validate.rules message.required).
      pass_through_mode: bool,
      headers: z.array(headerMatcher).default([]),
      cluster_min_healthy_percentages: z.record(z.string(), section({ value: percentValue.default(0) })).default({}),
    },
    { unsupported: ['cache_time'] },
  ).transform(
    (c): HealthCheckConfig => ({
      pass_through_mode: c.pass_through_mode,
      headers: c.headers,
      cluster_min_healthy_percentages: Object.fromEntries(Object.entries(c.cluster_min_healthy_percentages).map(([name, p]) => [name, p.value])),
    }),
  );
  return { extension: 'envoy.filters.http.health_check', type: HEALTH_CHECK_TYPE, schema: config };
}
