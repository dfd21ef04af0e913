/**
 * Which HTTP filter an `http_filters` entry is. Envoy picks a filter's factory by the type
 * URL of its `typed_config` (Config::Utility::getAndCheckFactory), not by its `name`: the
 * name is only the filter's display and stat name, and the key of its
 * `typed_per_filter_config` entries. Only an entry without an `@type` is looked up by name.
 *
 * No zod here: the engine reads this table too, for configs built in code.
 */

export const HTTP_FILTER_TYPE_PREFIX = 'type.googleapis.com/';

interface ModelledFilter {
  /** Envoy's extension name */
  extension: string;
  /** the typed_config type URL */
  type: string;
  /** older names Envoy accepted for an entry without typed_config */
  legacyNames?: readonly string[];
}

const t = (message: string) => HTTP_FILTER_TYPE_PREFIX + message;

export const ROUTER_EXTENSION = 'envoy.filters.http.router';

/** The HTTP filters ProxyScope implements. */
export const MODELLED_HTTP_FILTERS: readonly ModelledFilter[] = [
  { extension: ROUTER_EXTENSION, type: t('envoy.extensions.filters.http.router.v3.Router'), legacyNames: ['envoy.router'] },
  { extension: 'envoy.filters.http.fault', type: t('envoy.extensions.filters.http.fault.v3.HTTPFault'), legacyNames: ['envoy.fault'] },
  { extension: 'envoy.filters.http.local_ratelimit', type: t('envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit') },
  { extension: 'envoy.filters.http.cors', type: t('envoy.extensions.filters.http.cors.v3.Cors'), legacyNames: ['envoy.cors'] },
  { extension: 'envoy.filters.http.compressor', type: t('envoy.extensions.filters.http.compressor.v3.Compressor') },
  { extension: 'envoy.filters.http.health_check', type: t('envoy.extensions.filters.http.health_check.v3.HealthCheck'), legacyNames: ['envoy.health_check'] },
  { extension: 'envoy.filters.http.rbac', type: t('envoy.extensions.filters.http.rbac.v3.RBAC') },
  { extension: 'envoy.filters.http.buffer', type: t('envoy.extensions.filters.http.buffer.v3.Buffer'), legacyNames: ['envoy.buffer'] },
  { extension: 'envoy.filters.http.csrf', type: t('envoy.extensions.filters.http.csrf.v3.CsrfPolicy'), legacyNames: ['envoy.csrf'] },
];

const byType = new Map(MODELLED_HTTP_FILTERS.map((f) => [f.type, f.extension]));
const byName = new Map(MODELLED_HTTP_FILTERS.flatMap((f) => [f.extension, ...(f.legacyNames ?? [])].map((n) => [n, f.extension] as const)));

/** The type URL of a modelled extension. */
export function httpFilterType(extension: string): string {
  const found = MODELLED_HTTP_FILTERS.find((f) => f.extension === extension);
  if (!found) throw new Error(`unknown HTTP filter extension '${extension}'`);
  return found.type;
}

/**
 * The modelled extension an entry is: by its `@type` when it has one, else by its name
 * (an absent or empty typed_config, as in `typed_config: {}`); undefined when ProxyScope
 * does not model it.
 */
export function identifyHttpFilter(name: string, typeUrl: string | undefined): string | undefined {
  if (typeUrl !== undefined && typeUrl !== '') return byType.get(typeUrl);
  return byName.get(name);
}

// Custom filters (registerHttpFilter) are known to the loader too, so it does not call
// them "not modelled"; keyed by the type URL or the name they were registered under.
const customKeys = new Set<string>();

export function markCustomHttpFilter(key: string): void {
  customKeys.add(key);
}

export function isCustomHttpFilter(name: string, typeUrl: string | undefined): boolean {
  return (typeUrl !== undefined && customKeys.has(typeUrl)) || customKeys.has(name);
}

/** The warning for a compressor whose library ProxyScope does not implement (zstd). */
export function notModelledLibraryMessage(name: string, libraryType: string): string {
  return `HTTP filter '${name}' uses compressor library ${libraryType}, which is not modelled by ProxyScope: responses pass through it uncompressed`;
}

/** The warning for an entry ProxyScope does not model (one per entry, at the entry). */
export function notModelledMessage(name: string, typeUrl: string | undefined): string {
  const type = typeUrl ? `@type ${typeUrl}` : 'no @type';
  return `HTTP filter '${name}' (${type}) is not modelled by ProxyScope: requests pass through it unchanged`;
}
