import type { HttpFilter } from '../config/types';
import type { EngineContext } from '../seams/actors';
import type { ActorMeta } from '../seams/tracer';
import type { StreamFilter } from './filter';

/**
 * HTTP filters by name. The router is built in; others register a factory here and are
 * then usable from `http_filters` in a config (see docs/filters.md).
 */
export interface FilterFactoryContext {
  engine: EngineContext;
  /** the stream's actor meta, for facts the filter reports */
  stream: ActorMeta;
}

export type HttpFilterFactory = (config: HttpFilter, ctx: FilterFactoryContext) => StreamFilter;

const factories = new Map<string, HttpFilterFactory>();

export function registerHttpFilter(name: string, factory: HttpFilterFactory): void {
  factories.set(name, factory);
}

export function isKnownHttpFilter(name: string): boolean {
  return name === 'envoy.filters.http.router' || factories.has(name);
}

export function createHttpFilter(config: HttpFilter, ctx: FilterFactoryContext): StreamFilter {
  const factory = factories.get(config.name);
  if (!factory) throw new Error(`unknown HTTP filter '${config.name}'`);
  return factory(config, ctx);
}
