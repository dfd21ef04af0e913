import type { ProxyEngine } from '@proxyscope/engine';

/** GET /clusters in Envoy's `::`-separated text form (ClustersHandler). */
export function renderClustersText(engine: ProxyEngine): string {
  const lines: string[] = [];
  for (const cluster of engine.clusterManager.clusters.values()) {
    const name = cluster.name;
    lines.push(`${name}::observability_name::${name}`);
    if (cluster.outlierDetector) {
      // ClustersHandler::addOutlierInfo; success-rate detection is not implemented, so there is never an average to show.
      lines.push(`${name}::outlier::success_rate_average::-1`, `${name}::outlier::success_rate_ejection_threshold::-1`);
      lines.push(`${name}::outlier::local_origin_success_rate_average::-1`, `${name}::outlier::local_origin_success_rate_ejection_threshold::-1`);
    }
    // addCircuitBreakerSettingsAsText: each priority's own ResourceManager, as it enforces them now.
    for (const priority of ['default', 'high'] as const) {
      const rm = cluster.resourceManager(priority);
      lines.push(`${name}::${priority}_priority::max_connections::${rm.connections.max}`);
      lines.push(`${name}::${priority}_priority::max_pending_requests::${rm.pending.max}`);
      lines.push(`${name}::${priority}_priority::max_requests::${rm.requests.max}`);
      lines.push(`${name}::${priority}_priority::max_retries::${rm.retries.max}`);
    }
    lines.push(`${name}::added_via_api::false`);
    for (const host of cluster.hosts) {
      const p = `${name}::${host.key}::`;
      for (const [stat, value] of Object.entries(host.stats).sort(([a], [b]) => a.localeCompare(b))) lines.push(`${p}${stat}::${value}`);
      lines.push(`${p}hostname::${host.hostname ?? ''}`);
      lines.push(`${p}health_flags::${host.healthFlags}`);
      lines.push(`${p}weight::${host.weight}`);
      lines.push(`${p}region::`, `${p}zone::`, `${p}sub_zone::`);
      lines.push(`${p}canary::false`, `${p}priority::0`);
      lines.push(`${p}success_rate::-1.0`, `${p}local_origin_success_rate::-1.0`);
    }
  }
  return lines.join('\n') + '\n';
}

/** GET /clusters?format=json */
export function renderClustersJson(engine: ProxyEngine): unknown {
  return {
    cluster_statuses: [...engine.clusterManager.clusters.values()].map((cluster) => ({
      name: cluster.name,
      observability_name: cluster.name,
      added_via_api: false,
      // addCircuitBreakerSettingsAsJson, DEFAULT then HIGH
      circuit_breakers: {
        thresholds: (['default', 'high'] as const).map((priority) => {
          const rm = cluster.resourceManager(priority);
          return {
            priority: priority === 'high' ? 'HIGH' : 'DEFAULT',
            max_connections: rm.connections.max,
            max_pending_requests: rm.pending.max,
            max_requests: rm.requests.max,
            max_retries: rm.retries.max,
          };
        }),
      },
      host_statuses: cluster.hosts.map((host) => ({
        address: { socket_address: { address: host.address, port_value: host.port } },
        hostname: host.hostname ?? '',
        stats: Object.entries(host.stats).map(([name, value]) => ({
          name,
          value: String(value),
          type: name.endsWith('_active') ? 'GAUGE' : 'COUNTER',
        })),
        // Envoy's HostHealthStatus: EDS status plus one boolean per health flag that is set.
        health_status: {
          eds_health_status: 'HEALTHY',
          ...(host.failedActiveHealthCheck && { failed_active_health_check: true }),
          ...(host.ejected && { failed_outlier_check: true }),
          ...(host.healthState === 'pending' && { pending_active_hc: true }),
        },
        weight: host.weight,
        priority: 0,
      })),
    })),
  };
}
