/** The static shape of a running proxy, sent before any event so views can lay it out. */
export interface Topology {
  workers: number;
  listeners: Array<{
    name: string;
    address: string;
    filterChains: Array<{ name: string; statPrefix: string; routeConfig: string; httpFilters: string[] }>;
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
