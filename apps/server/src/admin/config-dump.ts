import type { ProxyEngine } from '@proxyscope/engine';

/** GET /config_dump: the bootstrap as loaded, split the way Envoy's ConfigDump is. */
export function renderConfigDump(engine: ProxyEngine, raw: unknown, loadedAt: string): unknown {
  const resources = engine.config.static_resources;
  return {
    configs: [
      { '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap: raw, last_updated: loadedAt },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
        version_info: '',
        static_clusters: resources.clusters.map((cluster) => ({ cluster, last_updated: loadedAt })),
        dynamic_active_clusters: [],
        dynamic_warming_clusters: [],
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
        version_info: '',
        static_listeners: resources.listeners.map((listener) => ({ listener, last_updated: loadedAt })),
        dynamic_listeners: [],
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
        static_route_configs: resources.listeners.flatMap((l) => l.filter_chains.flatMap((c) => (c.hcm ? [{ route_config: c.hcm.route_config, last_updated: loadedAt }] : []))),
        dynamic_route_configs: [],
      },
    ],
  };
}
