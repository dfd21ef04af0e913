import type { HttpFilter, PerFilterConfig } from '../config/types';
import type { RouteResult } from '../router/route-matcher';
import type { EngineContext } from '../seams/actors';
import type { Random } from '../seams/random';
import type { RuntimeSnapshot } from '../runtime/runtime';
import type { ActorMeta } from '../seams/tracer';
import type { StatsStore } from '../stats/stats';
import type { StreamFilter } from './filter';
import { identifyHttpFilter, markCustomHttpFilter, ROUTER_EXTENSION } from '../config/http-filter-names';
import { createBufferFilter } from './filters/buffer';
import { createCompressorFilter } from './filters/compressor';
import { createCorsFilter } from './filters/cors';
import { createCsrfFilter } from './filters/csrf';
import { createFaultFilter } from './filters/fault';
import { createHealthCheckFilter } from './filters/health-check';
import { createLocalRateLimitFilter } from './filters/local-ratelimit';
import { createNotModelledFilter } from './filters/not-modelled';
import { createRbacFilter } from './filters/rbac';

/**
 * HTTP filters by what they are: the loader identifies each `http_filters` entry by its
 * typed_config `@type` (config/http-filter-names.ts); built-in filters are found by that
 * extension, custom ones by the type URL or name they were registered under. Any other
 * filter passes requests through and says so in the trace (see docs/filters.md).
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
  /**
   * the layered_runtime snapshot (Server::Configuration::FactoryContext::runtime()):
   * filters read their runtime keys here, with the config as the default
   */
  runtime: RuntimeSnapshot;
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

/** The built-in filters, by Envoy extension name (the router is the HCM's own). */
const builtins = new Map<string, HttpFilterFactory>([
  ['envoy.filters.http.fault', createFaultFilter],
  ['envoy.filters.http.local_ratelimit', createLocalRateLimitFilter],
  ['envoy.filters.http.cors', createCorsFilter],
  ['envoy.filters.http.compressor', createCompressorFilter],
  ['envoy.filters.http.health_check', createHealthCheckFilter],
  ['envoy.filters.http.rbac', createRbacFilter],
  ['envoy.filters.http.buffer', createBufferFilter],
  ['envoy.filters.http.csrf', createCsrfFilter],
]);

/** Custom filters, by the typed_config type URL or the filter name they were registered under. */
const custom = new Map<string, HttpFilterFactory>();

/**
 * Make a custom filter usable in `http_filters`: `key` is its typed_config type URL
 * (`type.googleapis.com/...`, as Envoy registers factories) or a filter name. Register
 * before loading the config, so the loader knows the filter is modelled.
 */
export function registerHttpFilter(key: string, factory: HttpFilterFactory): void {
  custom.set(key, factory);
  markCustomHttpFilter(key);
}

/** The extension an entry is: as the loader identified it, or (a config built in code) identified here. */
export function httpFilterExtension(filter: HttpFilter): string | undefined {
  return filter.extension ?? identifyHttpFilter(filter.name, filter.type_url);
}

export function isRouterFilter(filter: HttpFilter): boolean {
  return httpFilterExtension(filter) === ROUTER_EXTENSION;
}

function factoryFor(filter: HttpFilter): HttpFilterFactory | undefined {
  const extension = httpFilterExtension(filter);
  // A compressor with a library ProxyScope lacks (zstd) is not modelled: it passes through.
  if (extension === 'envoy.filters.http.compressor' && (filter.typed_config as { library?: { kind?: string } } | undefined)?.library?.kind === 'unsupported') return undefined;
  if (extension !== undefined) return builtins.get(extension);
  return (filter.type_url !== undefined ? custom.get(filter.type_url) : undefined) ?? custom.get(filter.name);
}

/** False for a filter that passes requests through unchanged because ProxyScope does not implement it. */
export function isModelledHttpFilter(filter: HttpFilter): boolean {
  return isRouterFilter(filter) || factoryFor(filter) !== undefined;
}

/** The stream's instance of `config`; a filter ProxyScope does not model becomes a pass-through that says so. */
export function createHttpFilter(config: HttpFilter, ctx: FilterFactoryContext): StreamFilter {
  const factory = factoryFor(config);
  return factory ? factory(config, ctx) : createNotModelledFilter(config, ctx);
}

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
export function perFilterConfig<T extends object>(route: RouteResult, filterName: string, types?: readonly string[]): T | undefined {
  return perFilterConfigs<T>(route, filterName, types)[0];
}

/**
 * Http::Utility::getAllPerFilterConfig, most specific first: the route's config for
 * `filterName`, then its virtual host's. With `types`, an entry of another `@type` does not
 * count (in Envoy the filter's cast of it fails).
 */
export function perFilterConfigs<T extends object>(route: RouteResult, filterName: string, types?: readonly string[]): T[] {
  if (!route.matched) return [];
  const entries = [route.route.typed_per_filter_config?.[filterName], route.vhost.typed_per_filter_config?.[filterName]];
  return entries.flatMap((e) => (e?.config && (!types || (e.type_url !== undefined && types.includes(e.type_url))) ? [e.config as T] : []));
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
