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
  clusters: Array<{ name: string; type: string; lbPolicy: string; hosts: string[] }>;
  /**
   * Connection pools that exist right now, one per (worker, cluster, host) that has had a
   * request; `actor` is the pool's actor path. Absent in traces written before pools were listed.
   */
  pools?: Array<{ worker: number; cluster: string; host: string; actor: string }>;
}
