/** envoy.extensions.filters.http.buffer.v3.Buffer and BufferPerRoute. */
import type { FilterConfigSpec, SchemaKit } from '../http-filters';
import { httpFilterType } from '../http-filter-names';

export const BUFFER_TYPE = httpFilterType('envoy.filters.http.buffer');
export const BUFFER_PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute';

export interface BufferConfig {
  /** the request body may be at most this many bytes; more is answered with 413 */
  max_request_bytes: number;
}

/** BufferPerRoute: `disabled: true`, or its own `buffer` settings. */
export interface BufferPerRouteConfig {
  disabled: boolean;
  buffer?: BufferConfig;
}

export function bufferSpec(k: SchemaKit): FilterConfigSpec {
  const { section, refine, requireOneOf, reject, typeUrl, integer, bool } = k;
  const fields = { max_request_bytes: integer(1) };
  const buffer = section({ '@type': typeUrl(BUFFER_TYPE), ...fields }).transform((b): BufferConfig => ({ max_request_bytes: b.max_request_bytes }));
  const perRoute = refine(section({ '@type': typeUrl(BUFFER_PER_ROUTE_TYPE), disabled: bool.optional(), buffer: section(fields).optional() }), (p, ctx, parsed) => {
    requireOneOf(ctx, p, ['disabled', 'buffer'], 'a BufferPerRoute');
    if (parsed.ok('disabled') && p.disabled === false) reject(ctx, ['disabled'], 'disabled must be true when set');
  }).transform((p): BufferPerRouteConfig => ({ disabled: p.disabled === true, ...(p.buffer && { buffer: p.buffer }) }));
  return { extension: 'envoy.filters.http.buffer', type: BUFFER_TYPE, schema: buffer, perRoute: [{ type: BUFFER_PER_ROUTE_TYPE, schema: perRoute }] };
}
