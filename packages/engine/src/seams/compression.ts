/**
 * The engine's door to compression libraries (Envoy's Compression::Compressor). The
 * compressor filter asks for one compressor per response; in Node the implementation
 * is node:zlib (transport/node-compression.ts, injected like the transport), and a build
 * without one (the browser) says the compressor is unavailable instead of compressing.
 *
 * Synchronous on purpose: a chunk is compressed while it passes through the filter, so a
 * simulated run stays byte-for-byte repeatable.
 */
import type { BrotliOptions, GzipOptions } from '../config/filters/compressor';

export interface StreamCompressor {
  /**
   * Compressor::compress: `chunk` in, what can be sent now out. `finish` ends the stream
   * (Envoy's State::Finish); otherwise the output is flushed (State::Flush) so every
   * byte the client receives can be decoded as it arrives.
   */
  compress(chunk: Uint8Array, finish: boolean): Uint8Array;
}

export type CompressorRequest = { kind: 'gzip'; options: GzipOptions } | { kind: 'brotli'; options: BrotliOptions };

export interface CompressionProvider {
  /** undefined when this library is not available here */
  createCompressor(request: CompressorRequest): StreamCompressor | undefined;
}
