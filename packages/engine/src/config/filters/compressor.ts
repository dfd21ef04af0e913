/**
 * envoy.extensions.filters.http.compressor.v3.Compressor with the gzip and brotli
 * compressor libraries, and CompressorPerRoute. The deprecated top-level fields
 * (content_length, content_type, disable_on_etag_header, remove_accept_encoding_header)
 * are read when response_direction_config does not give them, as Envoy does.
 */
import { z } from 'zod';
import type { FilterConfigSpec, SchemaKit } from '../http-filters';
import { httpFilterType } from '../http-filter-names';

export const COMPRESSOR_TYPE = httpFilterType('envoy.filters.http.compressor');
export const COMPRESSOR_PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.compressor.v3.CompressorPerRoute';
export const GZIP_TYPE = 'type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip';
export const BROTLI_TYPE = 'type.googleapis.com/envoy.extensions.compression.brotli.compressor.v3.Brotli';

/** Envoy's default content_type list (Common::Compressors::CompressorFilterConfig). */
export const DEFAULT_COMPRESSIBLE_TYPES = [
  'text/html', 'text/plain', 'text/css', 'application/javascript', 'application/x-javascript', 'text/javascript',
  'text/x-javascript', 'text/ecmascript', 'text/js', 'text/jscript', 'text/x-js', 'application/ecmascript',
  'application/x-json', 'application/xml', 'application/json', 'image/svg+xml', 'text/xml', 'application/xhtml+xml',
];

export interface GzipOptions {
  /** zlib level 1-9 (DEFAULT_COMPRESSION is zlib's 6) */
  level: number;
  memory_level: number;
  window_bits: number;
  strategy: 'DEFAULT_STRATEGY' | 'FILTERED' | 'HUFFMAN_ONLY' | 'RLE' | 'FIXED';
}

export interface BrotliOptions {
  quality: number;
  window_bits: number;
  input_block_bits: number;
  mode: 'DEFAULT' | 'GENERIC' | 'TEXT' | 'FONT';
  disable_literal_context_modeling: boolean;
}

export type CompressorLibrary =
  | { kind: 'gzip'; name: string; encoding: 'gzip'; options: GzipOptions }
  | { kind: 'brotli'; name: string; encoding: 'br'; options: BrotliOptions }
  /** another library (zstd): the filter loads but is not modelled (it passes responses through) */
  | { kind: 'unsupported'; name: string; type: string };

export const MODELLED_COMPRESSOR_LIBRARIES: readonly string[] = [GZIP_TYPE, BROTLI_TYPE];

export interface CompressorConfig {
  library: CompressorLibrary;
  /** response_direction_config.common_config.enabled.default_value (default true) */
  enabled: boolean;
  /** its runtime_key: the runtime's boolean for it wins when it has one */
  enabled_runtime_key?: string;
  /** responses with a smaller content-length are sent as they are (default 30) */
  min_content_length: number;
  /** compressible media types, lower-cased, without parameters */
  content_type: string[];
  disable_on_etag_header: boolean;
  remove_accept_encoding_header: boolean;
  /** on equal q-values, this compressor wins over others in the chain */
  choose_first: boolean;
}

export interface CompressorPerRouteConfig {
  disabled: boolean;
}

const GZIP_LEVELS: Record<string, number> = {
  DEFAULT_COMPRESSION: 6, BEST_SPEED: 1, BEST_COMPRESSION: 9,
  ...Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`COMPRESSION_LEVEL_${i + 1}`, i + 1])),
};

export function compressorSpec(k: SchemaKit): FilterConfigSpec {
  const { section, refine, typeUrl, bool, name, text, integer, uint32, codeOf, oneOf } = k;

  const gzip = section(
    {
      '@type': typeUrl(GZIP_TYPE),
      memory_level: integer(1, 9).default(5),
      compression_level: codeOf(GZIP_LEVELS).default(6),
      compression_strategy: oneOf(['DEFAULT_STRATEGY', 'FILTERED', 'HUFFMAN_ONLY', 'RLE', 'FIXED']).default('DEFAULT_STRATEGY'),
      window_bits: integer(9, 15).default(12),
    },
    { unsupported: ['chunk_size'] },
  ).transform((g): GzipOptions => ({ level: g.compression_level, memory_level: g.memory_level, window_bits: g.window_bits, strategy: g.compression_strategy }));

  const brotli = section(
    {
      '@type': typeUrl(BROTLI_TYPE),
      quality: integer(0, 11).default(3),
      encoder_mode: oneOf(['DEFAULT', 'GENERIC', 'TEXT', 'FONT']).default('DEFAULT'),
      window_bits: integer(10, 24).default(18),
      input_block_bits: integer(16, 24).default(24),
      disable_literal_context_modeling: bool.default(false),
    },
    { unsupported: ['chunk_size'] },
  ).transform(
    (b): BrotliOptions => ({
      quality: b.quality,
      window_bits: b.window_bits,
      input_block_bits: b.input_block_bits,
      mode: b.encoder_mode,
      disable_literal_context_modeling: b.disable_literal_context_modeling,
    }),
  );

  const libraryConfig = z.looseObject({ '@type': name });
  const library = refine(section({ name, typed_config: libraryConfig }), (l, ctx, parsed) => {
    if (!parsed.ok('typed_config')) return;
    const type = l.typed_config['@type'];
    if (type === GZIP_TYPE) checkInto(gzip, l.typed_config, ctx);
    else if (type === BROTLI_TYPE) checkInto(brotli, l.typed_config, ctx);
    // Any other library loads; the loader warns that the filter is not modelled (notModelledHttpFilters).
  }).transform((l): CompressorLibrary => {
    const type = l.typed_config['@type'];
    if (type !== GZIP_TYPE && type !== BROTLI_TYPE) return { kind: 'unsupported', name: l.name, type };
    // safeParse: while the loader's first pass still holds ignored keys (chunk_size) the
    // library schema refuses them; the defaults stand in until the second pass.
    if (l.typed_config['@type'] === GZIP_TYPE) {
      const g = gzip.safeParse(l.typed_config);
      return { kind: 'gzip', name: l.name, encoding: 'gzip', options: g.success ? g.data : gzip.parse({ '@type': GZIP_TYPE }) };
    }
    const b = brotli.safeParse(l.typed_config);
    return { kind: 'brotli', name: l.name, encoding: 'br', options: b.success ? b.data : brotli.parse({ '@type': BROTLI_TYPE }) };
  });

  /** Report `schema`'s issues on `value` at typed_config (below the library being refined). */
  function checkInto(schema: z.ZodType, value: unknown, ctx: z.core.$RefinementCtx<unknown>) {
    const result = schema.safeParse(value, { reportInput: true });
    if (result.success) return;
    for (const issue of result.error.issues) {
      const { message: _message, ...rest } = issue;
      ctx.addIssue({ ...(issue.code === 'custom' ? issue : rest), path: ['typed_config', ...issue.path] } as Parameters<typeof ctx.addIssue>[0]);
    }
  }

  const mediaType = text.transform((t) => t.split(';')[0]!.trim().toLowerCase());
  const commonConfig = section(
    {
      enabled: section({ default_value: bool, runtime_key: text.optional() }).optional(),
      min_content_length: uint32.optional(),
      content_type: z.array(mediaType).optional(),
    },
  );
  const responseDirection = section(
    { common_config: commonConfig.optional(), disable_on_etag_header: bool.optional(), remove_accept_encoding_header: bool.optional() },
    { unsupported: ['uncompressible_response_codes', 'status_header_enabled'] },
  );

  const config = section(
    {
      '@type': typeUrl(COMPRESSOR_TYPE),
      compressor_library: library,
      response_direction_config: responseDirection.optional(),
      choose_first: bool.default(false),
      // deprecated, still read
      content_length: uint32.optional(),
      content_type: z.array(mediaType).optional(),
      disable_on_etag_header: bool.optional(),
      remove_accept_encoding_header: bool.optional(),
    },
    { unsupported: ['request_direction_config', 'runtime_enabled'] },
  ).transform((c): CompressorConfig => {
    const r = c.response_direction_config;
    const common = r?.common_config;
    return {
      library: c.compressor_library,
      enabled: common?.enabled?.default_value ?? true,
      ...(common?.enabled?.runtime_key && { enabled_runtime_key: common.enabled.runtime_key }),
      min_content_length: common?.min_content_length ?? c.content_length ?? 30,
      content_type: common?.content_type ?? c.content_type ?? DEFAULT_COMPRESSIBLE_TYPES,
      disable_on_etag_header: r?.disable_on_etag_header ?? c.disable_on_etag_header ?? false,
      remove_accept_encoding_header: r?.remove_accept_encoding_header ?? c.remove_accept_encoding_header ?? false,
      choose_first: c.choose_first,
    };
  });

  const perRoute = section({ '@type': typeUrl(COMPRESSOR_PER_ROUTE_TYPE), disabled: bool.default(false) }, { unsupported: ['overrides'] }).transform(
    (p): CompressorPerRouteConfig => ({ disabled: p.disabled }),
  );

  return { extension: 'envoy.filters.http.compressor', type: COMPRESSOR_TYPE, schema: config, perRoute: [{ type: COMPRESSOR_PER_ROUTE_TYPE, schema: perRoute }] };
}
