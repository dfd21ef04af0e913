/**
 * Every id the web UI's topology view gives its nodes, worked out from a topology, so a
 * lesson's `{node}` highlight can be checked against the config it runs rather than found
 * missing when the page draws. The id forms are the protocol's `topologyNodeId`, which the
 * view uses too.
 */
import { topologyNodeId, type Topology } from '@proxyscope/protocol';

export { topologyNodeId };

/** Every node id the topology view draws for `topology` (hosts as `ip:port`). */
export function topologyNodeIds(topology: Topology): Set<string> {
  const ids = new Set<string>(['downstream']);
  const routeConfigs = new Map(topology.routeConfigs.map((rc) => [rc.name, rc]));
  for (const l of topology.listeners) {
    ids.add(topologyNodeId.listener(l.name));
    for (const fc of l.filterChains) {
      ids.add(topologyNodeId.chain(l.name, fc.name));
      // A tcp_proxy chain has no HTTP filters box and no routes.
      if (fc.tcpProxy) continue;
      ids.add(topologyNodeId.filters(l.name, fc.name));
      for (const vh of routeConfigs.get(fc.routeConfig)?.virtualHosts ?? []) {
        for (const r of vh.routes) ids.add(topologyNodeId.route(fc.routeConfig, vh.name, r.name));
      }
    }
  }
  for (const c of topology.clusters) {
    ids.add(topologyNodeId.cluster(c.name));
    for (const h of c.hosts) ids.add(topologyNodeId.host(c.name, h));
  }
  return ids;
}
