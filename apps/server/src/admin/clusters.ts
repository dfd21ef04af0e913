import type { ProxyEngine } from '@proxyscope/engine';

/** GET /clusters in Envoy's `::`-separated text form (ClustersHandler). */
export function renderClustersText(engine: ProxyEngine): string {
  const lines: string[] = [];
  for (const cluster of engine.clusterManager.clusters.values()) {
    const name = cluster.name;
    const cb = cluster.config.circuit_breakers;
    lines.push(`${name}::observability_name::${name}`);
    if (cluster.outlierDetector) {
      // ClustersHandler::addOutlierInfo; success-rate detection is not implemented, so there is never an average to show.
      lines.push(`${name}::outlier::success_rate_average::-1`, `${name}::outlier::success_rate_ejection_threshold::-1`);
      lines.push(`${name}::outlier::local_origin_success_rate_average::-1`, `${name}::outlier::local_origin_success_rate_ejection_threshold::-1`);
    }
    for (const priority of ['default_priority', 'high_priority']) {
      lines.push(`${name}::${priority}::max_connections::${cb.max_connections}`);
      lines.push(`${name}::${priority}::max_pending_requests::${cb.max_pending_requests}`);
      lines.push(`${name}::${priority}::max_requests::${cb.max_requests}`);
      lines.push(`${name}::${priority}::max_retries::${cb.max_retries}`);
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
      circuit_breakers: {
        thresholds: [
          {
            priority: 'DEFAULT',
            max_connections: cluster.config.circuit_breakers.max_connections,
            max_pending_requests: cluster.config.circuit_breakers.max_pending_requests,
            max_requests: cluster.config.circuit_breakers.max_requests,
            max_retries: cluster.config.circuit_breakers.max_retries,
          },
        ],
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
