/**
 * envoy.filters.http.buffer (Envoy's BufferFilter): the whole request body is read before
 * the filters after it (the router) see the request, so the upstream gets it in one go.
 *
 * decodeHeaders: a request without a body goes on at once; otherwise, unless the route's
 * BufferPerRoute says `disabled`, header iteration stops and the stream's buffer limit
 * becomes `max_request_bytes` (the route's `buffer`, else the filter's). decodeData keeps
 * every chunk (StopIterationAndBuffer) until the last, which lets the request go on; a body
 * over the limit is answered with 413 "Payload Too Large" (by the stream while chunks are
 * held, as in Envoy's FilterManager; by the filter when the last chunk crosses it).
 */
import { BUFFER_PER_ROUTE_TYPE, type BufferConfig, type BufferPerRouteConfig } from '../../config/filters/buffer';
import type { HttpFilter } from '../../config/types';
import type { DecoderFilterCallbacks, FilterDataStatus, FilterHeadersStatus, StreamDecoderFilter } from '../filter';
import { perFilterConfig, type FilterFactoryContext } from '../filter-registry';

export function createBufferFilter(filter: HttpFilter, ctx: FilterFactoryContext): BufferFilter {
  return new BufferFilter(filter.name, ctx, filter.typed_config as unknown as BufferConfig);
}

export class BufferFilter implements StreamDecoderFilter {
  private callbacks!: DecoderFilterCallbacks;
  private buffering = false;
  private bytes = 0;
  private max = 0;

  constructor(
    readonly name: string,
    private readonly ctx: FilterFactoryContext,
    private readonly config: BufferConfig,
  ) {}

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.callbacks = callbacks;
  }

  /** BufferFilter::decodeHeaders */
  decodeHeaders(_head: unknown, endStream: boolean): FilterHeadersStatus {
    // A header-only request has nothing to buffer.
    if (endStream) return 'Continue';
    const perRoute = perFilterConfig<BufferPerRouteConfig>(this.callbacks.route(), this.name, [BUFFER_PER_ROUTE_TYPE]);
    if (perRoute?.disabled) {
      this.report({ action: 'disabled', reason: 'BufferPerRoute disabled' });
      return 'Continue';
    }
    const max = perRoute?.buffer?.max_request_bytes ?? this.config.max_request_bytes;
    this.max = max;
    this.callbacks.setDecoderBufferLimit(max);
    this.buffering = true;
    this.report({ action: 'buffer', max_request_bytes: max, config: perRoute ? 'route' : 'filter' });
    return 'StopIteration';
  }

  /** BufferFilter::decodeData */
  decodeData(chunk: Uint8Array, endStream: boolean): FilterDataStatus {
    if (!this.buffering) return 'Continue';
    this.bytes += chunk.byteLength;
    if (!endStream) return 'StopIterationAndBuffer';
    this.buffering = false;
    if (this.bytes > this.max) {
      // The last chunk took the body over the limit: the same answer as the stream's.
      this.callbacks.sendLocalReply(413, 'Payload Too Large', { details: 'request_payload_too_large' });
      return 'StopIterationNoBuffer';
    }
    this.report({ action: 'complete', bytes: this.bytes });
    return 'Continue';
  }

  private report(data: Record<string, unknown>): void {
    const tracer = this.ctx.engine.tracer;
    if (tracer.enabled) tracer.fact(this.ctx.stream, 'filter.buffer', { filter: this.name, ...data }, 'BufferFilter::decodeHeaders');
  }
}
