import { describe, expect, it } from 'vitest';
import { ManualClock, ProxyEngine } from '@proxyscope/engine';
import * as b from '../../../packages/engine/test/support/config-builders';
import { MemoryTransport } from '../../../packages/engine/test/support/memory-transport';
import { renderClustersJson, renderClustersText } from '../src/admin/clusters';

/** GET /clusters prints each priority's circuit breakers (ClustersHandler::addCircuitBreakerSettingsAs*). */

async function engineWith(clusters: ReturnType<typeof b.cluster>[]) {
  const route = b.route({ match: { prefix: '/' }, route: { cluster: clusters[0]!.name } });
  const config = b.bootstrap([b.listener(b.hcm(b.routeConfig([b.vhost('all', ['*'], [route])])), 10000)], clusters);
  const engine = new ProxyEngine({ config, transport: new MemoryTransport(), clock: new ManualClock() });
  await engine.start();
  return engine;
}

const breakerLines = (text: string) => text.split('\n').filter((l) => l.includes('_priority::'));

describe('/clusters circuit breakers per priority', () => {
  it('DEFAULT thresholds only: high_priority shows Envoy defaults', async () => {
    const engine = await engineWith([b.cluster('backend', [8080], { circuit_breakers: { max_connections: 7, max_pending_requests: 8, max_requests: 9, max_retries: 1 } })]);
    expect(breakerLines(renderClustersText(engine))).toEqual([
      'backend::default_priority::max_connections::7',
      'backend::default_priority::max_pending_requests::8',
      'backend::default_priority::max_requests::9',
      'backend::default_priority::max_retries::1',
      'backend::high_priority::max_connections::1024',
      'backend::high_priority::max_pending_requests::1024',
      'backend::high_priority::max_requests::1024',
      'backend::high_priority::max_retries::3',
    ]);
    const json = renderClustersJson(engine) as { cluster_statuses: Array<{ circuit_breakers: { thresholds: unknown[] } }> };
    expect(json.cluster_statuses[0]!.circuit_breakers.thresholds).toEqual([
      { priority: 'DEFAULT', max_connections: 7, max_pending_requests: 8, max_requests: 9, max_retries: 1 },
      { priority: 'HIGH', max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3 },
    ]);
    await engine.stop();
  });

  it('HIGH thresholds given: high_priority shows them', async () => {
    const engine = await engineWith([
      b.cluster('backend', [8080], { circuit_breakers_high: { max_connections: 50, max_pending_requests: 60, max_requests: 70, max_retries: 10 } }),
    ]);
    expect(breakerLines(renderClustersText(engine)).filter((l) => l.includes('high_priority'))).toEqual([
      'backend::high_priority::max_connections::50',
      'backend::high_priority::max_pending_requests::60',
      'backend::high_priority::max_requests::70',
      'backend::high_priority::max_retries::10',
    ]);
    const json = renderClustersJson(engine) as { cluster_statuses: Array<{ circuit_breakers: { thresholds: Array<{ priority: string }> } }> };
    expect(json.cluster_statuses[0]!.circuit_breakers.thresholds.map((t) => t.priority)).toEqual(['DEFAULT', 'HIGH']);
    expect(json.cluster_statuses[0]!.circuit_breakers.thresholds[1]).toMatchObject({ max_connections: 50, max_retries: 10 });
    await engine.stop();
  });
});
