/**
 * An HTTP filter ProxyScope does not implement (ext_authz, lua, jwt_authn, wasm, ...). The
 * config loads (with one warning at the filter), and the filter passes every request and
 * response through unchanged: nothing in its config, Lua source or Wasm module included,
 * is ever run. Each request's trace says so with `filter.not_modelled`, so a trace never
 * looks as if the filter had done its work.
 */
import type { HttpFilter } from '../../config/types';
import type { DecoderFilterCallbacks, FilterHeadersStatus, StreamDecoderFilter } from '../filter';
import type { FilterFactoryContext } from '../filter-registry';

export function createNotModelledFilter(filter: HttpFilter, ctx: FilterFactoryContext): NotModelledFilter {
  return new NotModelledFilter(filter, ctx);
}

export class NotModelledFilter implements StreamDecoderFilter {
  readonly name: string;

  constructor(
    private readonly filter: HttpFilter,
    private readonly ctx: FilterFactoryContext,
  ) {
    this.name = filter.name;
  }

  setDecoderFilterCallbacks(_callbacks: DecoderFilterCallbacks): void {}

  decodeHeaders(): FilterHeadersStatus {
    const tracer = this.ctx.engine.tracer;
    if (tracer.enabled) {
      tracer.fact(this.ctx.stream, 'filter.not_modelled', { filter: this.name, type_url: this.filter.type_url ?? null, action: 'passed_through' }, 'FilterManager::decodeHeaders');
    }
    return 'Continue';
  }
}
