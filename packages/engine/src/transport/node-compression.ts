/**
 * The compression seam on node:zlib. Node-only: imported where the node transport is
 * (apps/server), never on the browser path.
 *
 * gzip streams chunk by chunk: each chunk is deflated by zlib with a sync flush, with the
 * bytes before it as the preset dictionary, so the pieces join into one DEFLATE stream
 * (back-references reach across chunks as in one zlib stream); the gzip header and the
 * CRC-32/size trailer frame it (RFC 1952). zlib's stream objects are asynchronous only,
 * and the seam must be synchronous (seams/compression.ts).
 *
 * brotli has no such join, so its output is written when the body ends (one
 * brotliCompressSync of the whole body), flushing nothing before.
 */
import zlib from 'node:zlib';
import type { BrotliOptions, GzipOptions } from '../config/filters/compressor';
import type { CompressionProvider, StreamCompressor } from '../seams/compression';

const GZIP_HEADER = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3);

const STRATEGY: Record<GzipOptions['strategy'], number> = {
  DEFAULT_STRATEGY: zlib.constants.Z_DEFAULT_STRATEGY,
  FILTERED: zlib.constants.Z_FILTERED,
  HUFFMAN_ONLY: zlib.constants.Z_HUFFMAN_ONLY,
  RLE: zlib.constants.Z_RLE,
  FIXED: zlib.constants.Z_FIXED,
};

class GzipCompressor implements StreamCompressor {
  private history: Buffer = Buffer.alloc(0);
  private crc = 0;
  private size = 0;
  private started = false;
  private readonly options: zlib.ZlibOptions;
  private readonly window: number;

  constructor(o: GzipOptions) {
    this.window = 1 << o.window_bits;
    this.options = { level: o.level, memLevel: o.memory_level, windowBits: o.window_bits, strategy: STRATEGY[o.strategy] };
  }

  compress(chunk: Uint8Array, finish: boolean): Uint8Array {
    const parts: Uint8Array[] = [];
    if (!this.started) {
      this.started = true;
      parts.push(GZIP_HEADER);
    }
    if (chunk.byteLength > 0 || finish) {
      const input = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const options: zlib.ZlibOptions = { ...this.options, ...(finish ? {} : { finishFlush: zlib.constants.Z_SYNC_FLUSH }) };
      if (this.history.length > 0) options.dictionary = this.history;
      parts.push(zlib.deflateRawSync(input, options));
      // zlib.crc32 of an empty buffer does not keep the running value on every Node version.
      if (input.length > 0) this.crc = zlib.crc32(input, this.crc);
      this.size = (this.size + input.length) >>> 0;
      this.history = Buffer.concat([this.history, input]).subarray(-this.window);
    }
    if (finish) {
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.crc >>> 0, 0);
      trailer.writeUInt32LE(this.size, 4);
      parts.push(trailer);
    }
    return Buffer.concat(parts);
  }
}

const MODE: Record<BrotliOptions['mode'], number> = {
  DEFAULT: zlib.constants.BROTLI_MODE_GENERIC,
  GENERIC: zlib.constants.BROTLI_MODE_GENERIC,
  TEXT: zlib.constants.BROTLI_MODE_TEXT,
  FONT: zlib.constants.BROTLI_MODE_FONT,
};

class BrotliCompressor implements StreamCompressor {
  private body: Buffer[] = [];

  constructor(private readonly o: BrotliOptions) {}

  compress(chunk: Uint8Array, finish: boolean): Uint8Array {
    if (chunk.byteLength > 0) this.body.push(Buffer.from(chunk));
    if (!finish) return new Uint8Array(0);
    const c = zlib.constants;
    const out = zlib.brotliCompressSync(Buffer.concat(this.body), {
      params: {
        [c.BROTLI_PARAM_QUALITY]: this.o.quality,
        [c.BROTLI_PARAM_LGWIN]: this.o.window_bits,
        [c.BROTLI_PARAM_LGBLOCK]: this.o.input_block_bits,
        [c.BROTLI_PARAM_MODE]: MODE[this.o.mode],
        [c.BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING]: this.o.disable_literal_context_modeling ? 1 : 0,
      },
    });
    this.body = [];
    return out;
  }
}

export const nodeCompression: CompressionProvider = {
  createCompressor: (request) => (request.kind === 'gzip' ? new GzipCompressor(request.options) : new BrotliCompressor(request.options)),
};
