import { describe, expect, it } from 'vitest';
import { ManualClock, ProxyEngine } from '@proxyscope/engine';
import * as b from '../../../packages/engine/test/support/config-builders';
import { MemoryTransport } from '../../../packages/engine/test/support/memory-transport';
import { renderClustersJson, renderClustersText } from '../src/admin/clusters';

/** GET /clusters shows each host's health flags and the outlier detector's lines. */

async function engineWithHealth() {
  const clock = new ManualClock();
  const route = b.route({ match: { prefix: '/' }, route: { cluster: 'backend' } });
  const config = b.bootstrap([b.listener(b.hcm(b.routeConfig([b.vhost('all', ['*'], [route])])), 10000)], [
    b.cluster('backend', [8080, 8081], {
      health_checks: [
        {
          timeout: 1000,
          interval: 5000,
          interval_jitter: 0,
          unhealthy_threshold: 1,
          healthy_threshold: 1,
          reuse_connection: true,
          http_health_check: { path: '/healthz', expected_statuses: [{ start: 200, end: 201 }] },
        },
      ],
      outlier_detection: {
        consecutive_5xx: 5,
        consecutive_gateway_failure: 5,
        enforcing_consecutive_5xx: 100,
        enforcing_consecutive_gateway_failure: 0,
        interval: 10_000,
        base_ejection_time: 30_000,
        max_ejection_time: 300_000,
        max_ejection_percent: 10,
        successful_active_health_check_uneject_host: true,
      },
    }),
  ]);
  const engine = new ProxyEngine({ config, transport: new MemoryTransport(), clock });
  const started = engine.start();
  return { engine, clock, started };
}

const flags = (text: string) => text.split('\n').filter((l) => l.includes('::health_flags::'));

describe('/clusters health flags', () => {
  it('shows pending, failed active health check and outlier ejection', async () => {
    const { engine, clock, started } = await engineWithHealth();
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(flags(renderClustersText(engine))).toEqual([
      'backend::127.0.0.1:8080::health_flags::/failed_active_hc/pending_active_hc',
      'backend::127.0.0.1:8081::health_flags::/failed_active_hc/pending_active_hc',
    ]);

    clock.advance(1000); // the first checks time out
    await started;
    const cluster = engine.clusterManager.get('backend')!;
    for (let i = 0; i < 5; i++) cluster.outlierDetector!.reportResult(cluster.hosts[1]!, 500);
    const text = renderClustersText(engine);
    expect(flags(text)).toEqual([
      'backend::127.0.0.1:8080::health_flags::/failed_active_hc',
      'backend::127.0.0.1:8081::health_flags::/failed_active_hc/failed_outlier_check',
    ]);
    expect(text).toContain('backend::outlier::success_rate_average::-1\n');

    const json = renderClustersJson(engine) as { cluster_statuses: Array<{ host_statuses: Array<{ health_status: unknown }> }> };
    expect(json.cluster_statuses[0]!.host_statuses.map((h) => h.health_status)).toEqual([
      { eds_health_status: 'HEALTHY', failed_active_health_check: true },
      { eds_health_status: 'HEALTHY', failed_active_health_check: true, failed_outlier_check: true },
    ]);
    await engine.stop();
  });
});
