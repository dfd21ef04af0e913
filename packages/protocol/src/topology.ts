/** The static shape of a running proxy, sent before any event so views can lay it out. */
export interface Topology {
  workers: number;
  listeners: Array<{
    name: string;
    address: string;
    filterChains: Array<{
      name: string;
      statPrefix: string;
      routeConfig: string;
      /** the HTTP filter names, in order */
      httpFilters: string[];
      /**
       * The same filters with their typed_config `@type`; `modelled: false` for one ProxyScope
       * does not implement, which requests pass through unchanged (fact `filter.not_modelled`).
       * Absent in traces written before it was listed.
       */
      httpFilterDetails?: Array<{ name: string; typeUrl?: string; modelled: boolean }>;
      /**
       * Set when the chain ends in tcp_proxy rather than the HCM (then routeConfig is '' and
       * httpFilters is empty): the clusters it connects to (one, or its weighted_clusters).
       */
      tcpProxy?: { clusters: string[] };
      /** network filters before the terminal one that ProxyScope does not model (absent = none) */
      passthroughFilters?: string[];
    }>;
  }>;
  routeConfigs: Array<{
    name: string;
    virtualHosts: Array<{ name: string; domains: string[]; routes: Array<{ name: string; match: string; action: string }> }>;
  }>;
  clusters: Array<TopologyCluster>;
  /**
   * Connection pools that exist right now, one per (worker, cluster, host) that has had a
   * request; `actor` is the pool's actor path. Absent in traces written before pools were listed.
   */
  pools?: Array<{ worker: number; cluster: string; host: string; actor: string }>;
}

/**
 * One cluster. Everything after `hosts` is the cluster's resilience config, for the UI's
 * host and cluster panels (circuit breakers and the panic threshold with runtime overrides
 * applied, as the engine enforces them); absent in traces written before it was listed.
 */
export interface TopologyCluster {
  name: string;
  type: string;
  lbPolicy: string;
  hosts: string[];
  /** load_balancing_weight by host (`ip:port`) */
  weights?: Record<string, number>;
  /** the endpoints' `hostname` by host, where the config gives one */
  hostnames?: Record<string, string>;
  /** DEFAULT priority circuit breakers; `maxRetries` is null when a retry budget replaces it */
  circuitBreakers?: { maxConnections: number; maxPendingRequests: number; maxRequests: number; maxRetries: number | null; retryBudget?: { budgetPercent: number; minRetryConcurrency: number } };
  /** healthy_panic_threshold, percent (0 disables panic mode) */
  panicThreshold?: number;
  /** the active health check (durations in ms) */
  healthCheck?: { path: string; intervalMs: number; timeoutMs: number; healthyThreshold: number; unhealthyThreshold: number };
  /** outlier detection (durations in ms, percents 0-100) */
  outlierDetection?: {
    consecutive5xx: number;
    consecutiveGatewayFailure: number;
    intervalMs: number;
    baseEjectionMs: number;
    maxEjectionMs: number;
    maxEjectionPercent: number;
  };
}

/**
 * The ids of the topology view's nodes (`data-node`), shared by the view that draws them
 * and by the lessons that point at them (`highlight: { node }`), so the two cannot drift.
 */
export const topologyNodeId = {
  listener: (listener: string) => `listener:${listener}`,
  chain: (listener: string, chain: string) => `chain:${listener}/${chain}`,
  filters: (listener: string, chain: string) => `filters:${listener}/${chain}`,
  route: (routeConfig: string, virtualHost: string, route: string) => `route:${routeConfig}/${virtualHost}/${route}`,
  cluster: (cluster: string) => `cluster:${cluster}`,
  host: (cluster: string, host: string) => `host:${cluster}/${host}`,
};
