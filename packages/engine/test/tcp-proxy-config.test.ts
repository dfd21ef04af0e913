/**
 * tcp_proxy and the other network filters in a filter chain, loaded from YAML in the shape
 * of the envoyproxy/examples sandboxes (mysql, redis, tls passthrough): what loads, what
 * warns once at the filter's line, and what is an error at file:line.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrap, type ConfigDiagnostic } from '../src/config/index';

const FILE = 'envoy.yaml';
const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

function rejected(text: string): ConfigError {
  try {
    loadBootstrap(text, FILE);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`'${needle}' is not in the config`);
  return index + 1;
}

const where = (d: ConfigDiagnostic) => `${d.line}:${d.column}: ${d.path}: ${d.message}`;

/** A listener whose one chain has `filters` (YAML, indented for the list), and two clusters. */
function config(filters: string): string {
  return `static_resources:
  listeners:
  - name: db_listener
    address:
      socket_address: { address: 0.0.0.0, port_value: 1999 }
    filter_chains:
    - filters:
${filters}
  clusters:
  - name: mysql_cluster
    type: STATIC
    load_assignment:
      cluster_name: mysql_cluster
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 3306 } } }
  - name: replica_cluster
    type: STATIC
    load_assignment:
      cluster_name: replica_cluster
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 3307 } } }
`;
}

const tcpProxy = (fields: string) => `      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": ${TCP_PROXY}
${fields}`;

const MYSQL = `      - name: envoy.filters.network.mysql_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy
          stat_prefix: egress_mysql
`;

describe('tcp_proxy config', () => {
  it('loads the mysql sandbox shape: the sniffer passes bytes and gets exactly one warning, at its line', () => {
    const text = config(MYSQL + tcpProxy('          stat_prefix: mysql_tcp\n          cluster: mysql_cluster'));
    const { config: loaded, warnings } = loadBootstrap(text, FILE);
    const chain = loaded.static_resources.listeners[0]!.filter_chains[0]!;
    expect(chain.hcm).toBeUndefined();
    expect(chain.tcp_proxy).toEqual({ stat_prefix: 'mysql_tcp', cluster: 'mysql_cluster', idle_timeout: 3_600_000, max_connect_attempts: 1, access_log: [] });
    expect(chain.passthrough_filters).toEqual([{ name: 'envoy.filters.network.mysql_proxy', type_url: 'type.googleapis.com/envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy' }]);
    expect(warnings.map(where)).toEqual([
      `${lineOf(text, 'name: envoy.filters.network.mysql_proxy')}:9: static_resources.listeners[0].filter_chains[0].filters[0]: ` +
        "network filter 'envoy.filters.network.mysql_proxy' (type.googleapis.com/envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy) is not modelled by ProxyScope: bytes pass through it unchanged",
    ]);
  });

  it('reads weighted_clusters, idle_timeout, max_connect_attempts, access_log and a source_ip hash_policy', () => {
    const text = config(
      tcpProxy(`          stat_prefix: split
          weighted_clusters:
            clusters:
            - { name: mysql_cluster, weight: 3 }
            - { name: replica_cluster, weight: 1 }
          idle_timeout: 30s
          max_connect_attempts: 3
          hash_policy: [{ source_ip: {} }]
          access_log:
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog`),
    );
    const { config: loaded, warnings } = loadBootstrap(text, FILE);
    expect(warnings).toEqual([]);
    expect(loaded.static_resources.listeners[0]!.filter_chains[0]!.tcp_proxy).toEqual({
      stat_prefix: 'split',
      weighted_clusters: [{ name: 'mysql_cluster', weight: 3 }, { name: 'replica_cluster', weight: 1 }],
      idle_timeout: 30_000,
      max_connect_attempts: 3,
      access_log: [{ name: 'envoy.access_loggers.stdout' }],
      hash_source_ip: true,
    });
  });

  it('warns about tcp_proxy fields it does not model and loads the rest', () => {
    const text = config(tcpProxy('          stat_prefix: t\n          cluster: mysql_cluster\n          max_downstream_connection_duration: 60s'));
    const { warnings } = loadBootstrap(text, FILE);
    expect(warnings.map((w) => `${w.line}: ${w.message}`)).toEqual([`${lineOf(text, 'max_downstream_connection_duration')}: unsupported field 'max_downstream_connection_duration' is ignored`]);
  });

  it('refuses redis_proxy, a terminal filter it does not proxy, at its line', () => {
    const text = config(`      - name: envoy.filters.network.redis_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy
          stat_prefix: egress_redis
          settings: { op_timeout: 5s }
          prefix_routes: { catch_all_route: { cluster: mysql_cluster } }`);
    const error = rejected(text);
    expect(error.diagnostics.map(where)).toEqual([
      `${lineOf(text, 'name: envoy.filters.network.redis_proxy')}:15: static_resources.listeners[0].filter_chains[0].filters[0].name: ` +
        "network filter 'envoy.filters.network.redis_proxy' (type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy) is not supported: " +
        'ProxyScope proxies HTTP and TCP (envoy.filters.network.http_connection_manager, envoy.filters.network.tcp_proxy)',
    ]);
    expect(error.message).toContain(`${FILE}:${lineOf(text, 'name: envoy.filters.network.redis_proxy')}:15:`);
  });

  it('refuses a chain whose last filter is a sniffer, and a terminal filter before another', () => {
    const sniffer = rejected(config(MYSQL));
    expect(sniffer.diagnostics.map((d) => d.message)).toEqual([
      "the last network filter must be a terminal filter (envoy.filters.network.http_connection_manager or envoy.filters.network.tcp_proxy); network filter 'envoy.filters.network.mysql_proxy' (type.googleapis.com/envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy) is not one",
    ]);
    const twice = rejected(config(tcpProxy('          stat_prefix: a\n          cluster: mysql_cluster\n') + tcpProxy('          stat_prefix: b\n          cluster: mysql_cluster')));
    expect(twice.diagnostics.map((d) => [d.path, d.message])).toEqual([
      ['static_resources.listeners[0].filter_chains[0].filters[0].name', 'envoy.filters.network.tcp_proxy is a terminal filter and must be the last network filter; filters after it would never run'],
    ]);
  });

  it('names a tcp_proxy cluster that does not exist', () => {
    const text = config(tcpProxy('          stat_prefix: t\n          cluster: nosuch'));
    expect(rejected(text).diagnostics.map(where)).toEqual([
      `${lineOf(text, 'cluster: nosuch')}:20: static_resources.listeners[0].filter_chains[0].filters[0].typed_config.cluster: unknown cluster 'nosuch' (known clusters: mysql_cluster, replica_cluster)`,
    ]);
    const weighted = config(tcpProxy('          stat_prefix: t\n          weighted_clusters: { clusters: [{ name: mysql_cluster, weight: 1 }, { name: gone, weight: 1 }] }'));
    expect(rejected(weighted).diagnostics.map((d) => [d.path, d.message])).toEqual([
      ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config.weighted_clusters.clusters[1].name', "unknown cluster 'gone' (known clusters: mysql_cluster, replica_cluster)"],
    ]);
  });

  it('needs one of cluster and weighted_clusters', () => {
    const at = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
    const both = rejected(config(tcpProxy('          stat_prefix: t\n          cluster: mysql_cluster\n          weighted_clusters: { clusters: [{ name: mysql_cluster, weight: 1 }] }')));
    expect(both.diagnostics.map((d) => [d.path, d.message])).toEqual([[`${at}.weighted_clusters`, 'tcp_proxy takes only one of cluster, weighted_clusters, got cluster and weighted_clusters']]);
    const neither = rejected(config(tcpProxy('          stat_prefix: t')));
    expect(neither.diagnostics.map((d) => [d.path, d.message])).toEqual([[at, 'tcp_proxy needs one of cluster, weighted_clusters']]);
  });

  it('lets a not-modelled network filter stand before the HCM too, whose routes are still checked where they are', () => {
    const rbac = `      - name: envoy.filters.network.rbac
        typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC, stat_prefix: net_rbac }
`;
    const hcm = (cluster: string) => `      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
          route_config:
            virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: ${cluster} } }] }]`;
    expect(rejected(config(rbac + hcm('nosuch'))).diagnostics.map((d) => d.path)).toEqual([
      'static_resources.listeners[0].filter_chains[0].filters[1].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster',
    ]);
    const { config: loaded, warnings } = loadBootstrap(config(rbac + hcm('mysql_cluster')), FILE);
    expect(warnings.map((w) => w.path)).toEqual(['static_resources.listeners[0].filter_chains[0].filters[0]']);
    const chain = loaded.static_resources.listeners[0]!.filter_chains[0]!;
    expect(chain.hcm?.stat_prefix).toBe('ingress_http');
    expect(chain.passthrough_filters).toEqual([{ name: 'envoy.filters.network.rbac', type_url: 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC' }]);
  });

  it('loads a listener with an HCM chain and a tcp_proxy chain; only the HCM has routes', () => {
    const text = `static_resources:
  listeners:
  - address: { socket_address: { address: 0.0.0.0, port_value: 10000 } }
    filter_chains:
    - filter_chain_match: { server_names: [db.example.com] }
      filters:
${tcpProxy('          stat_prefix: passthrough\n          cluster: mysql_cluster')}
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
          route_config:
            virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: nosuch } }] }]
  clusters:
  - name: mysql_cluster
    load_assignment: { cluster_name: mysql_cluster, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 3306 } } } }] }] }
`;
    // The HCM's route is still checked, at its own path (the HCM is filter 0 of chain 1).
    expect(rejected(text).diagnostics.map((d) => d.path)).toEqual([
      'static_resources.listeners[0].filter_chains[1].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster',
    ]);
    const { config: loaded } = loadBootstrap(text.replace('cluster: nosuch', 'cluster: mysql_cluster'), FILE);
    const [tcp, http] = loaded.static_resources.listeners[0]!.filter_chains;
    expect(tcp!.tcp_proxy?.cluster).toBe('mysql_cluster');
    expect(tcp!.filter_chain_match.server_names).toEqual(['db.example.com']);
    expect(http!.hcm?.stat_prefix).toBe('ingress_http');
  });
});
