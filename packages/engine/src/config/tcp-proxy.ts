/**
 * A filter chain's network filters: which extension each entry is (by its typed_config
 * `@type`, as Envoy's Config::Utility::getAndCheckFactory finds it), the tcp_proxy config
 * (envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy), and the rules for what may
 * stand where: one terminal filter, last; before it, filters ProxyScope does not model
 * pass bytes through unchanged (one warning each, notModelledNetworkFilters).
 *
 * The schema building blocks are schema.ts's own, handed in (`networkFilterSchemas(kit)`),
 * as http-filters.ts does, so the two modules do not import each other at load time.
 */
import { z } from 'zod';
import type { SchemaKit } from './schema';
import type { AccessLog, HttpConnectionManager } from './types';
import { rawFilterChains, rawItems } from './raw-input';

export const HCM_NETWORK_FILTER = 'envoy.filters.network.http_connection_manager';
export const TCP_PROXY_FILTER = 'envoy.filters.network.tcp_proxy';
export const TCP_PROXY_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

/** TcpProxy.WeightedCluster.ClusterWeight */
export interface TcpProxyWeightedCluster {
  name: string;
  weight: number;
}

/** envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, as loaded */
export interface TcpProxy {
  /** stats under `tcp.<stat_prefix>.` */
  stat_prefix: string;
  /** exactly one of cluster and weighted_clusters is set */
  cluster?: string;
  weighted_clusters?: TcpProxyWeightedCluster[];
  /** ms without bytes either way before both connections close; 0 = never (default 1h) */
  idle_timeout: number;
  /** connect attempts to upstream hosts before giving up (default 1) */
  max_connect_attempts: number;
  access_log: AccessLog[];
  /** `hash_policy: [{source_ip: {}}]`: the downstream address is the hash for ring hash / maglev clusters */
  hash_source_ip?: boolean;
}

/** A network filter before the terminal one that ProxyScope does not model. */
export interface NetworkFilterRef {
  name: string;
  /** its typed_config `@type`, when it has one */
  type_url?: string;
}

/**
 * Network filters Envoy ships (core and contrib) by config message: their canonical name
 * and whether they end a chain (NamedNetworkFilterConfigFactory::isTerminalFilterByProto).
 * Sniffers such as mysql_proxy and mongo_proxy are not terminal: they read the bytes and
 * hand them on, to tcp_proxy.
 */
const KNOWN_NETWORK_FILTERS: Record<string, { name: string; terminal: boolean; contrib?: true }> = {
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager': { name: HCM_NETWORK_FILTER, terminal: true },
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy': { name: TCP_PROXY_FILTER, terminal: true },
  'envoy.extensions.filters.network.redis_proxy.v3.RedisProxy': { name: 'envoy.filters.network.redis_proxy', terminal: true },
  'envoy.extensions.filters.network.thrift_proxy.v3.ThriftProxy': { name: 'envoy.filters.network.thrift_proxy', terminal: true },
  'envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy': { name: 'envoy.filters.network.dubbo_proxy', terminal: true },
  'envoy.extensions.filters.network.direct_response.v3.Config': { name: 'envoy.filters.network.direct_response', terminal: true },
  'envoy.extensions.filters.network.echo.v3.Echo': { name: 'envoy.filters.network.echo', terminal: true },
  'envoy.extensions.filters.network.generic_proxy.v3.GenericProxy': { name: 'envoy.filters.network.generic_proxy', terminal: true },
  'envoy.extensions.filters.network.mongo_proxy.v3.MongoProxy': { name: 'envoy.filters.network.mongo_proxy', terminal: false },
  'envoy.extensions.filters.network.zookeeper_proxy.v3.ZooKeeperProxy': { name: 'envoy.filters.network.zookeeper_proxy', terminal: false },
  'envoy.extensions.filters.network.ext_authz.v3.ExtAuthz': { name: 'envoy.filters.network.ext_authz', terminal: false },
  'envoy.extensions.filters.network.rbac.v3.RBAC': { name: 'envoy.filters.network.rbac', terminal: false },
  'envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit': { name: 'envoy.filters.network.local_ratelimit', terminal: false },
  'envoy.extensions.filters.network.ratelimit.v3.RateLimit': { name: 'envoy.filters.network.ratelimit', terminal: false },
  'envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit': { name: 'envoy.filters.network.connection_limit', terminal: false },
  'envoy.extensions.filters.network.sni_cluster.v3.SniCluster': { name: 'envoy.filters.network.sni_cluster', terminal: false },
  'envoy.extensions.filters.network.sni_dynamic_forward_proxy.v3.FilterConfig': { name: 'envoy.filters.network.sni_dynamic_forward_proxy', terminal: false },
  'envoy.extensions.filters.network.set_filter_state.v3.Config': { name: 'envoy.filters.network.set_filter_state', terminal: false },
  'envoy.extensions.filters.network.wasm.v3.Wasm': { name: 'envoy.filters.network.wasm', terminal: false },
  // contrib (the envoyproxy/envoy-contrib image the database sandboxes run)
  'envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy': { name: 'envoy.filters.network.mysql_proxy', terminal: false, contrib: true },
  'envoy.extensions.filters.network.postgres_proxy.v3alpha.PostgresProxy': { name: 'envoy.filters.network.postgres_proxy', terminal: false, contrib: true },
  'envoy.extensions.filters.network.kafka_broker.v3.KafkaBroker': { name: 'envoy.filters.network.kafka_broker', terminal: false, contrib: true },
  'envoy.extensions.filters.network.kafka_mesh.v3alpha.KafkaMesh': { name: 'envoy.filters.network.kafka_mesh', terminal: true, contrib: true },
  'envoy.extensions.filters.network.rocketmq_proxy.v3.RocketmqProxy': { name: 'envoy.filters.network.rocketmq_proxy', terminal: true, contrib: true },
  'envoy.extensions.filters.network.sip_proxy.v3alpha.SipProxy': { name: 'envoy.filters.network.sip_proxy', terminal: true, contrib: true },
  // The golang filter says itself whether it ends the chain (is_terminal_filter); see isTerminal.
  'envoy.extensions.filters.network.golang.v3alpha.Config': { name: 'envoy.filters.network.golang', terminal: false, contrib: true },
};

const typeNameOf = (typeUrl: string) => typeUrl.slice(typeUrl.lastIndexOf('/') + 1);

/**
 * An Envoy contrib network filter's config message: not in ProxyScope's copy of Envoy's API
 * (that copy is the core API), yet Envoy's contrib build accepts it. The proto checker lets
 * it through unchecked and silent: the filter's own warning or error here speaks for it.
 */
export function isContribNetworkFilterType(typeName: string): boolean {
  return KNOWN_NETWORK_FILTERS[typeName]?.contrib === true;
}

interface Identified {
  /** canonical extension name (the configured one when the @type is not known) */
  name: string;
  type_url?: string;
  terminal: boolean;
}

type RawEntry = { name?: unknown; typed_config?: Record<string, unknown> } | undefined;

/** Which network filter an entry is: by its `@type` first, by its name without one. */
export function identifyNetworkFilter(entry: RawEntry): Identified | undefined {
  const type = entry?.typed_config?.['@type'];
  const typeUrl = typeof type === 'string' ? type : undefined;
  const known = typeUrl !== undefined ? KNOWN_NETWORK_FILTERS[typeNameOf(typeUrl)] : Object.values(KNOWN_NETWORK_FILTERS).find((k) => k.name === entry?.name);
  const configured = typeof entry?.name === 'string' && entry.name !== '' ? entry.name : undefined;
  const name = known?.name ?? configured;
  if (name === undefined) return undefined;
  const terminal = (known?.terminal ?? false) || (name === 'envoy.filters.network.golang' && entry?.typed_config?.is_terminal_filter === true);
  return { name, ...(typeUrl !== undefined && { type_url: typeUrl }), terminal };
}

/** How a filter is named in messages: its configured name, and its extension when that differs. */
function describe(entry: RawEntry, id: Identified): string {
  const configured = typeof entry?.name === 'string' ? entry.name : id.name;
  const type = id.type_url !== undefined ? ` (${id.type_url})` : '';
  return `network filter '${configured}'${type}`;
}

export function notModelledNetworkFilterMessage(entry: RawEntry, id: Identified): string {
  return `${describe(entry, id)} is not modelled by ProxyScope: bytes pass through it unchanged`;
}

/** An entry ProxyScope does not model, once the preprocess has tagged it (never in YAML). */
const PASSTHROUGH = 'proxyscope.passthrough';

export function networkFilterSchemas(kit: SchemaKit, parts: { httpConnectionManager: z.ZodType<HttpConnectionManager>; accessLog: z.ZodType<AccessLog> }) {
  const { section, refine, reject, name, integer, duration } = kit;

  const clusterWeight = section({ name, weight: integer(1) }, { unsupported: ['metadata_match'] });
  const weightedClusters = section({ clusters: z.array(clusterWeight).min(1) });
  // envoy.type.v3.HashPolicy: only source_ip hashes a connection here.
  const hashPolicy = section({ source_ip: section({}).optional() }, { unsupported: ['filter_state'] });

  const tcpProxyFields = section(
    {
      '@type': kit.typeUrl(TCP_PROXY_TYPE),
      stat_prefix: name,
      cluster: name.optional(),
      weighted_clusters: weightedClusters.optional(),
      idle_timeout: duration().default(3_600_000),
      max_connect_attempts: integer(1).default(1),
      access_log: z.array(parts.accessLog).default([]),
      hash_policy: z.array(hashPolicy).max(1).default([]),
    },
    {
      unsupported: [
        'on_demand', 'metadata_match', 'downstream_idle_timeout', 'upstream_idle_timeout', 'tunneling_config',
        'max_downstream_connection_duration', 'access_log_flush_interval', 'flush_access_log_on_connected', 'access_log_options',
        'backoff_options', 'proxy_protocol_tlvs',
      ],
    },
  );

  const tcpProxy = refine(tcpProxyFields, (t, ctx) => kit.requireOneOf(ctx, t, ['cluster', 'weighted_clusters'], 'tcp_proxy')).transform(
    (t): TcpProxy => ({
      stat_prefix: t.stat_prefix,
      ...(t.cluster !== undefined && { cluster: t.cluster }),
      ...(t.weighted_clusters && { weighted_clusters: t.weighted_clusters.clusters }),
      idle_timeout: t.idle_timeout,
      max_connect_attempts: t.max_connect_attempts,
      access_log: t.access_log,
      ...(t.hash_policy.some((h) => h.source_ip !== undefined) && { hash_source_ip: true }),
    }),
  );

  /** Any other filter: kept by name and @type; its config is not read. */
  const passthrough = section({
    name: z.literal(PASSTHROUGH),
    filter: z.object({ name: z.string(), type_url: z.string().optional(), terminal: z.boolean() }),
  });

  const networkFilter = z.preprocess(
    (input: unknown) => {
      if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
      const entry = input as RawEntry & Record<string, unknown>;
      const id = identifyNetworkFilter(entry);
      if (id === undefined) return input; // no name: the schema says what is missing
      if (id.name === HCM_NETWORK_FILTER || id.name === TCP_PROXY_FILTER) return { ...entry, name: id.name };
      return { name: PASSTHROUGH, filter: { name: typeof entry.name === 'string' && entry.name !== '' ? entry.name : id.name, ...(id.type_url && { type_url: id.type_url }), terminal: id.terminal } };
    },
    z.discriminatedUnion('name', [
      section({ name: z.literal(HCM_NETWORK_FILTER), typed_config: parts.httpConnectionManager }, { unsupported: ['config_discovery'] }),
      section({ name: z.literal(TCP_PROXY_FILTER), typed_config: tcpProxy }, { unsupported: ['config_discovery'] }),
      passthrough,
    ], { error: (iss) => (iss.code === 'invalid_union' ? 'missing required field' : undefined) }),
  );

  type Entry = z.output<typeof networkFilter>;

  /**
   * The chain's rules (Envoy's FilterChainUtility / checkTerminalFilter): a terminal filter,
   * last; nothing after it. Messages point at the entry's name.
   */
  function checkNetworkFilters(filters: Entry[], ctx: z.core.$RefinementCtx<unknown>, ok: (i: number) => boolean): void {
    const supported = `ProxyScope proxies HTTP and TCP (${HCM_NETWORK_FILTER}, ${TCP_PROXY_FILTER})`;
    if (filters.length === 0) {
      reject(ctx, ['filters'], `a filter chain needs a terminal network filter: ${HCM_NETWORK_FILTER} or ${TCP_PROXY_FILTER}`);
      return;
    }
    const last = filters.length - 1;
    filters.forEach((f, i) => {
      if (!ok(i)) return;
      const terminal = f.name === PASSTHROUGH ? f.filter.terminal : true;
      const label = f.name === PASSTHROUGH ? `network filter '${f.filter.name}'${f.filter.type_url ? ` (${f.filter.type_url})` : ''}` : f.name;
      if (i < last && terminal) {
        reject(ctx, ['filters', i, 'name'], `${label} is a terminal filter and must be the last network filter; filters after it would never run`);
      } else if (i === last && f.name === PASSTHROUGH) {
        reject(ctx, ['filters', i, 'name'], terminal ? `${label} is not supported: ${supported}` : `the last network filter must be a terminal filter (${HCM_NETWORK_FILTER} or ${TCP_PROXY_FILTER}); ${label} is not one`);
      }
    });
  }

  /** The loaded chain's terminal filter and the filters before it that bytes pass through. */
  function terminalOf(filters: Entry[]): { hcm: HttpConnectionManager } | { tcp_proxy: TcpProxy; passthrough_filters?: NetworkFilterRef[] } {
    const before = filters.slice(0, -1).flatMap((f): NetworkFilterRef[] => (f.name === PASSTHROUGH ? [{ name: f.filter.name, ...(f.filter.type_url && { type_url: f.filter.type_url }) }] : []));
    const last = filters[filters.length - 1]!;
    const more = before.length > 0 ? { passthrough_filters: before } : {};
    if (last.name === HCM_NETWORK_FILTER) return { hcm: last.typed_config, ...more };
    if (last.name === TCP_PROXY_FILTER) return { tcp_proxy: last.typed_config, ...more };
    throw new Error('unreachable: checkNetworkFilters requires a terminal filter last');
  }

  return { networkFilter, checkNetworkFilters, terminalOf };
}

/** The cluster names a loaded chain's tcp_proxy refers to, with the path (below the chain) of each. */
export function tcpProxyClusterRefs(chain: { tcp_proxy?: TcpProxy; passthrough_filters?: NetworkFilterRef[] }): [PropertyKey[], string][] {
  const tcp = chain.tcp_proxy;
  if (!tcp) return [];
  const at = ['filters', chain.passthrough_filters?.length ?? 0, 'typed_config'];
  if (tcp.cluster !== undefined) return [[[...at, 'cluster'], tcp.cluster]];
  return (tcp.weighted_clusters ?? []).map((w, k): [PropertyKey[], string] => [[...at, 'weighted_clusters', 'clusters', k, 'name'], w.name]);
}

/**
 * One warning per network filter ProxyScope does not model that stands before a chain's
 * terminal filter, at the entry. Read from the raw input, as notModelledHttpFilters is.
 */
export function notModelledNetworkFilters(input: unknown): { path: PropertyKey[]; message: string }[] {
  const found: { path: PropertyKey[]; message: string }[] = [];
  for (const [chainPath, chain] of rawFilterChains(input)) {
    const filters = rawItems(chainPath, chain, 'filters');
    // the last one is terminal, or an error the schema reports
    for (const [path, f] of filters.slice(0, -1)) {
      const id = identifyNetworkFilter(f);
      if (id && !id.terminal) found.push({ path, message: notModelledNetworkFilterMessage(f, id) });
    }
  }
  return found;
}
