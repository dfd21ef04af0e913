/**
 * envoy.filters.http.compressor (Envoy's CompressorFilter) with the gzip and brotli
 * libraries: compresses response bodies the client accepts, as they pass.
 *
 * decodeHeaders keeps the request's Accept-Encoding (and removes it with
 * remove_accept_encoding_header, so the upstream does not compress too) and registers the
 * filter's encoding for the stream. encodeHeaders compresses when the response has a body,
 * its content-length (if any) is at least min_content_length, its content-type is in
 * content_type, it has no `cache-control: no-transform`, no content-encoding, no ETag
 * with disable_on_etag_header, and Accept-Encoding picks this filter's encoding (the
 * highest q-value among the stream's compressor filters; equal q: choose_first, else the
 * first in the chain). Then content-length goes, content-encoding is set, a strong ETag
 * becomes weak, and `vary: Accept-Encoding` is added (that, for every compressible
 * response). encodeData compresses each chunk with a flush, so the client can decode what
 * has arrived (seams/compression.ts; without a compression provider, e.g. in the browser
 * build, the filter says "compressor unavailable" and sends the body as it is).
 *
 * Stats `http.<stat_prefix>.compressor.<library name>.<gzip|brotli>.` compressed,
 * not_compressed, no_accept_header, header_identity, header_compressor_used,
 * header_compressor_overshadowed, header_wildcard, header_not_valid,
 * total_uncompressed_bytes, total_compressed_bytes, content_length_too_small,
 * not_compressed_etag.
 */
import { COMPRESSOR_PER_ROUTE_TYPE, type CompressorConfig, type CompressorLibrary, type CompressorPerRouteConfig } from '../../config/filters/compressor';
import type { HttpFilter } from '../../config/types';
import type { StreamCompressor } from '../../seams/compression';
import type { Counter } from '../../stats/stats';
import type { DecoderFilterCallbacks, EncoderFilterCallbacks, FilterDataStatus, FilterHeadersStatus, StreamDecoderFilter, StreamEncoderFilter } from '../filter';
import { perFilterConfig, type FilterFactoryContext } from '../filter-registry';
import type { RequestHead, ResponseHead } from '../headers';

const STAT_NAMES = [
  'compressed', 'not_compressed', 'no_accept_header', 'header_identity', 'header_compressor_used',
  'header_compressor_overshadowed', 'header_wildcard', 'header_not_valid', 'total_uncompressed_bytes',
  'total_compressed_bytes', 'content_length_too_small', 'not_compressed_etag',
] as const;
type CompressorStats = Record<(typeof STAT_NAMES)[number], Counter>;

/** filterState key the stream's compressor filters agree through (Envoy's "envoy.compression.encoding"). */
const ENCODING_STATE = 'envoy.compression.encoding';

interface Registered {
  filter: CompressorFilter;
  encoding: string;
  chooseFirst: boolean;
}

interface EncodingChoice {
  registered: Registered[];
  /** computed by the first compressor to encode, for all of them */
  decision?: { chosen: Registered | undefined; via: 'explicit' | 'wildcard' | 'identity' | 'none' | 'no_header'; invalid: number };
}

interface Token {
  coding: string;
  q: number;
}

/** Accept-Encoding as codings with q-values (RFC 9110 §12.5.3); tokens with a bad q are counted and skipped. */
function parseAcceptEncoding(value: string): { tokens: Token[]; invalid: number } {
  const tokens: Token[] = [];
  let invalid = 0;
  for (const part of value.split(',')) {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim());
    if (coding === '') continue;
    let q = 1;
    let bad = false;
    for (const param of params) {
      const m = /^q\s*=\s*(.*)$/i.exec(param);
      if (!m) continue;
      if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(m[1]!)) bad = true;
      else q = Number(m[1]);
    }
    if (bad) invalid++;
    else tokens.push({ coding: coding.toLowerCase(), q });
  }
  return { tokens, invalid };
}

/** CompressorFilter::chooseEncoding over every compressor filter of the stream. */
function chooseEncoding(acceptEncoding: string | undefined, registered: Registered[]): NonNullable<EncodingChoice['decision']> {
  if (acceptEncoding === undefined) return { chosen: undefined, via: 'no_header', invalid: 0 };
  const { tokens, invalid } = parseAcceptEncoding(acceptEncoding);
  const qOf = (coding: string) => tokens.find((t) => t.coding === coding)?.q;
  const wildcard = qOf('*');
  let best: { r: Registered; q: number; via: 'explicit' | 'wildcard' } | undefined;
  for (const r of registered) {
    const explicit = qOf(r.encoding);
    const q = explicit ?? wildcard;
    if (q === undefined || q <= 0) continue;
    const better = !best || q > best.q || (q === best.q && r.chooseFirst && !best.r.chooseFirst);
    if (better) best = { r, q, via: explicit !== undefined ? 'explicit' : 'wildcard' };
  }
  const identity = qOf('identity');
  if (identity !== undefined && identity > 0 && (!best || identity > best.q)) return { chosen: undefined, via: 'identity', invalid };
  return best ? { chosen: best.r, via: best.via, invalid } : { chosen: undefined, via: 'none', invalid };
}

export function createCompressorFilter(filter: HttpFilter, ctx: FilterFactoryContext): CompressorFilter {
  const config = filter.typed_config as unknown as CompressorConfig;
  const stats = ctx.shared(config, () => {
    const p = `http.${ctx.statPrefix}.compressor.${config.library.name}.${config.library.kind}.`;
    return Object.fromEntries(STAT_NAMES.map((n) => [n, ctx.stats.counter(p + n)])) as CompressorStats;
  });
  return new CompressorFilter(filter.name, ctx, config, stats);
}

/** The registry makes this filter only for gzip and brotli; another library is not modelled. */
type ModelledLibrary = Exclude<CompressorLibrary, { kind: 'unsupported' }>;

export class CompressorFilter implements StreamDecoderFilter, StreamEncoderFilter {
  private readonly library: ModelledLibrary;
  private decoder!: DecoderFilterCallbacks;
  private encoder!: EncoderFilterCallbacks;
  private acceptEncoding: string | undefined;
  private enabled = false;
  private compressor: StreamCompressor | undefined;

  constructor(
    readonly name: string,
    private readonly ctx: FilterFactoryContext,
    private readonly config: CompressorConfig,
    private readonly stats: CompressorStats,
  ) {
    this.library = config.library as ModelledLibrary;
  }

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.decoder = callbacks;
  }

  setEncoderFilterCallbacks(callbacks: EncoderFilterCallbacks): void {
    this.encoder = callbacks;
  }

  private get choice(): EncodingChoice {
    const state = this.decoder.streamInfo.filterState;
    let choice = state.get(ENCODING_STATE) as EncodingChoice | undefined;
    if (!choice) {
      choice = { registered: [] };
      state.set(ENCODING_STATE, choice);
    }
    return choice;
  }

  /** CompressorFilter::decodeHeaders */
  decodeHeaders(head: RequestHead): FilterHeadersStatus {
    const perRoute = perFilterConfig<CompressorPerRouteConfig>(this.decoder.route(), this.name, [COMPRESSOR_PER_ROUTE_TYPE]);
    // DirectionConfig::isEnabled: Runtime::FeatureFlag, getBoolean(runtime_key, default_value).
    const enabled = this.config.enabled_runtime_key ? this.ctx.runtime.getBoolean(this.config.enabled_runtime_key, this.config.enabled) : this.config.enabled;
    this.enabled = enabled && !perRoute?.disabled;
    this.acceptEncoding = head.headers.getJoined('accept-encoding');
    if (this.config.remove_accept_encoding_header) head.headers.remove('accept-encoding');
    if (this.enabled) this.choice.registered.push({ filter: this, encoding: this.library.encoding, chooseFirst: this.config.choose_first });
    return 'Continue';
  }

  /** CompressorFilter::encodeHeaders */
  encodeHeaders(head: ResponseHead, endStream: boolean): FilterHeadersStatus {
    if (!this.enabled) return this.report({ compressed: false, reason: 'disabled' });
    const s = this.stats;
    const headers = head.headers;
    const notCompressed = (reason: string, compressible = false) => {
      if (compressible) addVary(headers);
      s.not_compressed.inc();
      return this.report({ compressed: false, reason });
    };
    if (endStream) return notCompressed('the response has no body');
    // Http::Utility::isUpgrade: a tunnel's bytes are not a body to compress.
    if (head.status === 101 || headers.has('upgrade')) return notCompressed('an upgrade response');
    const length = headers.get('content-length');
    if (length !== undefined && Number(length) < this.config.min_content_length) {
      s.content_length_too_small.inc();
      return notCompressed(`content-length ${length} is below min_content_length ${this.config.min_content_length}`);
    }
    const contentType = headers.get('content-type');
    const mediaType = contentType?.split(';')[0]!.trim().toLowerCase();
    if (mediaType !== undefined && !this.config.content_type.includes(mediaType)) return notCompressed(`content-type ${mediaType} is not in content_type`);
    if (/(^|,)\s*no-transform\s*($|,)/i.test(headers.getJoined('cache-control') ?? '')) return notCompressed('cache-control: no-transform');
    if (this.config.disable_on_etag_header && headers.has('etag')) {
      s.not_compressed_etag.inc();
      return notCompressed('the response has an ETag (disable_on_etag_header)');
    }
    if (headers.has('content-encoding')) return notCompressed(`already encoded (${headers.get('content-encoding')})`);

    // Compressible: from here on the response varies by Accept-Encoding.
    const choice = this.choice;
    choice.decision ??= chooseEncoding(this.acceptEncoding, choice.registered);
    const { chosen, via, invalid } = choice.decision;
    if (invalid > 0) s.header_not_valid.inc();
    if (via === 'no_header') {
      s.no_accept_header.inc();
      return notCompressed('no accept-encoding header', true);
    }
    if (via === 'identity') {
      s.header_identity.inc();
      return notCompressed('accept-encoding prefers identity', true);
    }
    if (chosen?.filter !== this) {
      if (chosen) s.header_compressor_overshadowed.inc();
      return notCompressed(chosen ? `accept-encoding prefers ${chosen.encoding}` : `accept-encoding does not accept ${this.library.encoding}`, true);
    }
    (via === 'wildcard' ? s.header_wildcard : s.header_compressor_used).inc();

    const library = this.library;
    const compressor = this.ctx.engine.compression?.createCompressor(
      library.kind === 'gzip' ? { kind: 'gzip', options: library.options } : { kind: 'brotli', options: library.options },
    );
    if (!compressor) return notCompressed(`compressor unavailable: no ${library.kind} library in this build`, true);
    this.compressor = compressor;
    s.compressed.inc();
    headers.remove('content-length');
    headers.set('content-encoding', library.encoding);
    const etag = headers.get('etag');
    if (etag !== undefined && !etag.startsWith('W/')) headers.set('etag', `W/${etag}`);
    addVary(headers);
    return this.report({ compressed: true, encoding: library.encoding, library: library.name, via });
  }

  /** CompressorFilter::encodeData: each chunk compressed and flushed as it passes. */
  encodeData(chunk: Uint8Array, endStream: boolean): FilterDataStatus {
    if (!this.compressor) return 'Continue';
    const out = this.compressor.compress(chunk, endStream);
    this.stats.total_uncompressed_bytes.inc(chunk.byteLength);
    this.stats.total_compressed_bytes.inc(out.byteLength);
    if (out.byteLength > 0 || endStream) this.encoder.injectEncodedDataToFilterChain(out, endStream);
    return 'StopIterationNoBuffer';
  }

  private report(data: Record<string, unknown>): FilterHeadersStatus {
    const tracer = this.ctx.engine.tracer;
    if (tracer.enabled) tracer.fact(this.ctx.stream, 'filter.compressor', { filter: this.name, ...data }, 'CompressorFilter::encodeHeaders');
    return 'Continue';
  }
}

/** CompressorFilter::insertVaryHeader: `Accept-Encoding` once in Vary. */
function addVary(headers: ResponseHead['headers']): void {
  const vary = headers.getJoined('vary');
  if (vary === undefined) headers.set('vary', 'Accept-Encoding');
  else if (!vary.split(',').some((v) => v.trim().toLowerCase() === 'accept-encoding' || v.trim() === '*')) headers.set('vary', `${vary}, Accept-Encoding`);
}
