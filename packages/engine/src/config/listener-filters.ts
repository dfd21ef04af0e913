/**
 * A listener's `listener_filters` (envoy.config.listener.v3.ListenerFilter) and the two
 * fields that bound them, `listener_filters_timeout` and `continue_on_listener_filters_timeout`.
 * As in Envoy (Config::Utility::getAndCheckFactory) an entry is identified by its
 * typed_config `@type`, by its name only without one. ProxyScope models the TLS inspector
 * (listener/tls-inspector.ts); every other listener filter loads with one warning at its
 * entry (notModelledListenerFilters) and does nothing.
 *
 * The schema building blocks are schema.ts's own, handed in (`listenerFilterSchemas(kit)`),
 * as tcp-proxy.ts does, so the two modules do not import each other at load time.
 */
import { z } from 'zod';
import type { SchemaKit } from './schema';
import { rawItems, rawListeners } from './raw-input';

export const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';
export const TLS_INSPECTOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';
/** ListenerImpl: PROTOBUF_GET_MS_OR_DEFAULT(config, listener_filters_timeout, 15000) */
export const LISTENER_FILTERS_TIMEOUT_MS = 15_000;

/** One `listener_filters` entry, as loaded. */
export interface ListenerFilter {
  /** the configured name */
  name: string;
  /** its typed_config `@type`, when it has one */
  type_url?: string;
  /** the Envoy extension this entry is, when ProxyScope models it (only the TLS inspector) */
  extension?: typeof TLS_INSPECTOR;
}

/** Listener filters Envoy ships, by config message: their canonical names. */
const KNOWN_LISTENER_FILTERS: Record<string, string> = {
  'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector': TLS_INSPECTOR,
  'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector': 'envoy.filters.listener.http_inspector',
  'envoy.extensions.filters.listener.original_dst.v3.OriginalDst': 'envoy.filters.listener.original_dst',
  'envoy.extensions.filters.listener.original_src.v3.OriginalSrc': 'envoy.filters.listener.original_src',
  'envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol': 'envoy.filters.listener.proxy_protocol',
  'envoy.extensions.filters.listener.local_ratelimit.v3.LocalRateLimit': 'envoy.filters.listener.local_ratelimit',
};
/** names older configs used before the envoy.filters.listener.* ones (ListenerImpl accepts both) */
const DEPRECATED_NAMES: Record<string, string> = { 'envoy.listener.tls_inspector': TLS_INSPECTOR };

type RawEntry = { name?: unknown; typed_config?: Record<string, unknown> } | undefined;

/** Which listener filter an entry is: its canonical name by `@type`, by name without one. */
export function identifyListenerFilter(entry: RawEntry): { name: string; type_url?: string } | undefined {
  const type = entry?.typed_config?.['@type'];
  const typeUrl = typeof type === 'string' ? type : undefined;
  const configured = typeof entry?.name === 'string' && entry.name !== '' ? entry.name : undefined;
  const known =
    typeUrl !== undefined
      ? KNOWN_LISTENER_FILTERS[typeUrl.slice(typeUrl.lastIndexOf('/') + 1)]
      : configured !== undefined
        ? (DEPRECATED_NAMES[configured] ?? Object.values(KNOWN_LISTENER_FILTERS).find((n) => n === configured))
        : undefined;
  const name = known ?? configured;
  if (name === undefined) return undefined;
  return { name, ...(typeUrl !== undefined && { type_url: typeUrl }) };
}

export function notModelledListenerFilterMessage(configured: string, typeUrl: string | undefined): string {
  const type = typeUrl !== undefined ? ` (@type ${typeUrl})` : '';
  return `listener filter '${configured}'${type} is not modelled by ProxyScope: it does nothing and connections go on without it`;
}

/** An entry ProxyScope does not model, once the preprocess has tagged it (never in YAML). */
const NOT_MODELLED = 'proxyscope.not_modelled_listener_filter';
/** where the preprocess keeps the name a TLS inspector entry was given (never in YAML) */
const CONFIGURED_NAME = 'proxyscope.configured_name';

export function listenerFilterSchemas(kit: SchemaKit) {
  const { section, bool, duration } = kit;
  // TlsInspector's own options change nothing ProxyScope shows (JA3 hashes, read buffer size).
  const tlsInspectorConfig = section(
    { '@type': kit.typeUrl(TLS_INSPECTOR_TYPE) },
    { unsupported: ['enable_ja3_fingerprinting', 'enable_ja4_fingerprinting', 'initial_read_buffer_size', 'max_client_hello_size'] },
  );
  const notModelled = section({
    name: z.literal(NOT_MODELLED),
    filter: z.object({ name: z.string(), type_url: z.string().optional() }),
  });
  const listenerFilter = z
    .preprocess(
      (input: unknown) => {
        if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
        const entry = input as RawEntry & Record<string, unknown>;
        const id = identifyListenerFilter(entry);
        if (id === undefined) return input; // no name: the schema says what is missing
        if (id.name === TLS_INSPECTOR) return { ...entry, name: TLS_INSPECTOR, [CONFIGURED_NAME]: entry.name };
        return { name: NOT_MODELLED, filter: { name: typeof entry.name === 'string' && entry.name !== '' ? entry.name : id.name, ...(id.type_url && { type_url: id.type_url }) } };
      },
      z.union(
        [
          section(
            {
              name: z.literal(TLS_INSPECTOR),
              [CONFIGURED_NAME]: z.unknown(),
              typed_config: tlsInspectorConfig.optional(),
            },
            // filter_disabled is a match predicate over the connection; ProxyScope always runs the inspector
            { unsupported: ['filter_disabled', 'config_discovery'] },
          ),
          notModelled,
        ],
        { error: () => 'missing required field' },
      ),
    )
    .transform((f): ListenerFilter => {
      if (f.name === NOT_MODELLED) return { name: f.filter.name, ...(f.filter.type_url !== undefined && { type_url: f.filter.type_url }) };
      const written = f[CONFIGURED_NAME];
      const configured = typeof written === 'string' && written !== '' ? written : TLS_INSPECTOR;
      return { name: configured, ...(f.typed_config && { type_url: TLS_INSPECTOR_TYPE }), extension: TLS_INSPECTOR };
    });
  /** The Listener fields, to spread into its section. */
  const listenerFilterFields = {
    listener_filters: z.array(listenerFilter).default([]),
    // 0 disables the timer (ActiveTcpSocket::startTimer)
    listener_filters_timeout: duration().default(LISTENER_FILTERS_TIMEOUT_MS),
    continue_on_listener_filters_timeout: bool.default(false),
  };
  return { listenerFilterFields };
}

/**
 * One warning per `listener_filters` entry ProxyScope does not model, at the entry. Read
 * from the raw input, as notModelledNetworkFilters is.
 */
export function notModelledListenerFilters(input: unknown): { path: PropertyKey[]; message: string }[] {
  const found: { path: PropertyKey[]; message: string }[] = [];
  for (const [listenerPath, l] of rawListeners(input)) {
    for (const [path, f] of rawItems(listenerPath, l, 'listener_filters')) {
      const id = identifyListenerFilter(f);
      if (!id || id.name === TLS_INSPECTOR) continue;
      const configured = typeof f?.name === 'string' && f.name !== '' ? f.name : id.name;
      found.push({ path, message: notModelledListenerFilterMessage(configured, id.type_url) });
    }
  }
  return found;
}

/**
 * Whether the TLS inspector runs on a listener's connections: when it is configured, or
 * when a chain's match needs what only it reads. The second is ListenerImpl's
 * needTlsInspector (buildTlsInspectorListenerFilter), which injected it in older Envoys
 * (until the runtime guard envoy.reloadable_features.disable_tls_inspector_injection
 * turned it off) and which ProxyScope keeps: transport_protocol "tls", or no
 * transport_protocol with server_names or application_protocols.
 */
export function runsTlsInspector(listener: {
  listener_filters?: readonly ListenerFilter[];
  filter_chains: readonly { filter_chain_match: { transport_protocol?: string; server_names?: readonly string[]; application_protocols?: readonly string[] } }[];
}): boolean {
  if ((listener.listener_filters ?? []).some((f) => f.extension === TLS_INSPECTOR)) return true;
  return listener.filter_chains.some(({ filter_chain_match: m }) =>
    m.transport_protocol === 'tls' || (m.transport_protocol === undefined && ((m.server_names?.length ?? 0) > 0 || (m.application_protocols?.length ?? 0) > 0)),
  );
}
