// Two custom HTTP filters: the worked example of docs/filters.md (the docs quote this file).
import { registerHttpFilter } from '@proxyscope/engine';
import type {
  Counter,
  DecoderFilterCallbacks,
  FilterDataStatus,
  FilterFactoryContext,
  FilterHeadersStatus,
  HttpFilterFactory,
  RequestHead,
  ResponseHead,
  StreamFilter,
  TimerId,
} from '@proxyscope/engine';

/** Sets a request header on the way in and names itself in a response header on the way out. */
class AddHeaderFilter implements StreamFilter {
  readonly name = 'example.add_header';

  constructor(
    private readonly header: string,
    private readonly value: string,
  ) {}

  decodeHeaders(head: RequestHead): FilterHeadersStatus {
    head.headers.set(this.header, this.value);
    return 'Continue';
  }

  encodeHeaders(head: ResponseHead): FilterHeadersStatus {
    head.headers.set('x-filtered-by', this.name);
    return 'Continue';
  }
}

/** typed_config: { header, value } (without "@type", which the loader keeps apart) */
const addHeader: HttpFilterFactory = (config) => {
  const { header = 'x-hello', value = 'world' } = (config.typed_config ?? {}) as { header?: string; value?: string };
  return new AddHeaderFilter(header, value);
};

/** Holds each request for `hold_ms` on the engine clock, then lets it go on. */
class HoldFilter implements StreamFilter {
  readonly name = 'example.hold';
  private callbacks!: DecoderFilterCallbacks;
  private timer: TimerId | undefined;

  constructor(
    private readonly ctx: FilterFactoryContext,
    private readonly holdMs: number,
    private readonly held: Counter,
  ) {}

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.callbacks = callbacks;
  }

  decodeHeaders(): FilterHeadersStatus {
    this.held.inc();
    this.ctx.engine.tracer.fact(this.ctx.stream, 'filter.custom', { filter: this.name, action: 'hold', ms: this.holdMs });
    this.timer = this.ctx.engine.clock.setTimeout(() => {
      this.timer = undefined;
      this.callbacks.continueDecoding();
    }, this.holdMs);
    // Later filters (the router) see nothing until continueDecoding().
    return 'StopIteration';
  }

  decodeData(): FilterDataStatus {
    // Body that arrives meanwhile waits in the stream; past 1 MiB the client is not read.
    return this.timer === undefined ? 'Continue' : 'StopIterationAndWatermark';
  }

  onDestroy(): void {
    // The stream can end while we hold it (client gone, stream idle timeout).
    if (this.timer !== undefined) this.ctx.engine.clock.clearTimeout(this.timer);
  }
}

/** typed_config: { hold_ms }; one `held` counter per HCM, looked up once, not per request. */
const hold: HttpFilterFactory = (config, ctx) => {
  const { hold_ms = 100 } = (config.typed_config ?? {}) as { hold_ms?: number };
  const held = ctx.shared(config, () => ctx.stats.counter(`http.${ctx.statPrefix}.example_hold.held`));
  return new HoldFilter(ctx, hold_ms, held);
};

/** Call before loading the config: a filter nobody registered only passes requests through. */
export function registerExampleFilters(): void {
  registerHttpFilter('example.add_header', addHeader);
  registerHttpFilter('example.hold', hold);
}
