/** envoy.extensions.filters.http.fault.v3.HTTPFault (filter and per-route config alike). */
import { z } from 'zod';
import type { FaultConfig } from '../types';
import type { FilterConfigSpec, SchemaKit } from '../http-filters';
import { httpFilterType } from '../http-filter-names';

export const FAULT_TYPE = httpFilterType('envoy.filters.http.fault');

export function faultSpec(k: SchemaKit): FilterConfigSpec {
  const { section, refine, requireOneOf, duration, integer, uint32, name, text, fractionalPercent, NEVER, headerMatcher, typeUrl } = k;
  const faultDelay = refine(
    section({ fixed_delay: duration().optional(), header_delay: section({}).optional(), percentage: fractionalPercent.optional() }),
    (d, ctx) => requireOneOf(ctx, d, ['fixed_delay', 'header_delay'], 'a fault delay'),
  ).transform((d) => ({
    ...(d.fixed_delay !== undefined && { fixed_delay: d.fixed_delay }),
    header_delay: d.header_delay !== undefined,
    percentage: d.percentage ?? NEVER,
  }));

  const faultAbort = refine(
    section(
      { http_status: integer(200, 599).optional(), header_abort: section({}).optional(), percentage: fractionalPercent.optional() },
      { unsupported: ['grpc_status'] },
    ),
    (a, ctx) => requireOneOf(ctx, a, ['http_status', 'header_abort'], 'a fault abort'),
  ).transform((a) => ({
    ...(a.http_status !== undefined && { http_status: a.http_status }),
    header_abort: a.header_abort !== undefined,
    percentage: a.percentage ?? NEVER,
  }));

  const faultConfig = section(
    {
      '@type': typeUrl(FAULT_TYPE),
      delay: faultDelay.optional(),
      abort: faultAbort.optional(),
      max_active_faults: uint32.optional(),
      headers: z.array(headerMatcher).default([]),
      upstream_cluster: name.optional(),
      downstream_nodes: z.array(name).default([]),
      // Runtime keys; unset or '' = Envoy's (fault.http.delay.fixed_delay_percent, ...).
      delay_percent_runtime: text.optional(),
      abort_percent_runtime: text.optional(),
      delay_duration_runtime: text.optional(),
      abort_http_status_runtime: text.optional(),
      max_active_faults_runtime: text.optional(),
    },
    {
      unsupported: [
        'response_rate_limit', 'abort_grpc_status_runtime', 'response_rate_limit_percent_runtime',
        'disable_downstream_cluster_stats', 'filter_metadata',
      ],
    },
  ).transform(({ '@type': _type, ...f }): FaultConfig => f) satisfies z.ZodType<FaultConfig>;

  return { extension: 'envoy.filters.http.fault', type: FAULT_TYPE, schema: faultConfig, perRoute: [{ type: FAULT_TYPE, schema: faultConfig }] };
}
