import type { HttpFilter, PerFilterConfig } from '../config/types';
import type { RouteResult } from '../router/route-matcher';
import type { EngineContext } from '../seams/actors';
import type { Random } from '../seams/random';
import type { ActorMeta } from '../seams/tracer';
import type { StatsStore } from '../stats/stats';
import type { StreamFilter } from './filter';
import { createFaultFilter } from './filters/fault';
import { createLocalRateLimitFilter } from './filters/local-ratelimit';

/**
 * HTTP filters by name. The router is built in; others register a factory here and are
 * then usable from `http_filters` in a config (see docs/filters.md).
 *
 * A factory runs once per stream (Envoy's FilterFactoryCb) and returns that stream's
 * filter instance. State that outlives a stream (stats, a token bucket) lives in
 * `ctx.shared(key, init)`, built on first use.
 */
export interface FilterFactoryContext {
  engine: EngineContext;
  /** the stream's actor meta, for facts the filter reports */
  stream: ActorMeta;
  /** the engine's one seeded Random: the same seed makes the same choices */
  random: Random;
  /** where filter stats live; look them up in `shared`, not per stream */
  stats: StatsStore;
  /** the HCM's stat_prefix: `http.<statPrefix>.` is the namespace of HCM-scoped filter stats */
  statPrefix: string;
  /**
   * State shared by every stream of this HTTP connection manager (all its connections,
   * on every worker) for `key`, usually the filter's config object or a per-route config:
   * `init` runs the first time a key is asked for.
   */
  shared<T>(key: object, init: () => T): T;
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

// Built in besides the router.
registerHttpFilter('envoy.filters.http.fault', createFaultFilter);
registerHttpFilter('envoy.filters.http.local_ratelimit', createLocalRateLimitFilter);

// ---------------------------------------------------------------------------------------
// typed_per_filter_config

/** The route's entry for a filter, else its virtual host's (none without a matched route). */
function perFilterEntry(route: RouteResult, filterName: string): PerFilterConfig | undefined {
  if (!route.matched) return undefined;
  return route.route.typed_per_filter_config?.[filterName] ?? route.vhost.typed_per_filter_config?.[filterName];
}

/**
 * Http::Utility::resolveMostSpecificPerFilterConfig: the most specific config given for
 * `filterName` (route, then virtual host), or undefined when neither has one. For the
 * built-in filters it is the loaded config (`FaultConfig`, `LocalRateLimitConfig`).
 */
export function perFilterConfig<T extends object>(route: RouteResult, filterName: string): T | undefined {
  if (!route.matched) return undefined;
  const config = route.route.typed_per_filter_config?.[filterName]?.config ?? route.vhost.typed_per_filter_config?.[filterName]?.config;
  return config as T | undefined;
}

/**
 * Whether a filter sits out this request: the most specific `FilterConfig.disabled` for it
 * decides; with none, the filter's own `disabled` (a disabled filter runs only where a
 * route or virtual host enables it).
 */
export function filterDisabled(filter: HttpFilter, route: RouteResult): boolean {
  const entry = perFilterEntry(route, filter.name);
  return entry ? entry.disabled : filter.disabled === true;
}

/** True when some request might skip a filter, so the chain must wait for the route. */
export function chainDependsOnRoute(filters: HttpFilter[], routes: Array<{ typed_per_filter_config?: Record<string, PerFilterConfig> }>): boolean {
  if (filters.some((f) => f.disabled)) return true;
  const names = new Set(filters.map((f) => f.name));
  return routes.some((r) => Object.entries(r.typed_per_filter_config ?? {}).some(([name, entry]) => entry.disabled && names.has(name)));
}
