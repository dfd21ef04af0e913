/**
 * envoy.filters.http.health_check: health checks answered at the proxy (200, or 503 with
 * flag LH while POST /healthcheck/fail is in force), pass_through_mode, and
 * cluster_min_healthy_percentages.
 */
import { describe, expect, it } from 'vitest';
import { filterProxy } from './support/filter-proxy';
import { parseAccessLog } from './support/upstreams';

const HC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck';
const healthCheck = (config: Record<string, unknown>) => ({
  name: 'envoy.filters.http.health_check',
  typed_config: { '@type': HC_TYPE, headers: [{ name: ':path', string_match: { exact: '/healthz' } }], ...config },
});

describe('health check filter', () => {
  it('answers /healthz itself with 200; other requests go upstream', async () => {
    const p = await filterProxy({ httpFilters: [healthCheck({ pass_through_mode: false })] });
    const [hc, other] = await p.send({ path: '/healthz' }, { path: '/app' });
    expect(hc!.status).toBe(200);
    expect(hc!.headers['x-envoy-upstream-healthchecked-cluster']).toBe('');
    expect(other!.status).toBe(200);
    expect(p.origin.requests.map((r) => r.path)).toEqual(['/app']);
  });

  it('answers 503 with flag LH while the server fails health checks, and marks other responses x-envoy-immediate-health-check-fail', async () => {
    const p = await filterProxy({ httpFilters: [healthCheck({ pass_through_mode: true })] });
    const [passed] = await p.send({ path: '/healthz' });
    expect(passed!.status).toBe(200);
    expect(p.origin.requests.map((r) => r.path)).toEqual(['/healthz']);
    p.engine.setHealthCheckFailed(true);
    const [, failing, app] = await p.send({ path: '/healthz' }, { path: '/app' });
    expect(failing!.status).toBe(503);
    expect(parseAccessLog(p.logs[1]!)).toMatchObject({ status: 503, flags: 'LH' });
    expect(app!.headers['x-envoy-immediate-health-check-fail']).toBe('true');
    p.engine.setHealthCheckFailed(false);
    const [, , , again] = await p.send({ path: '/healthz' });
    expect(again!.status).toBe(200);
    // In pass-through mode only the failing check was answered locally.
    expect(p.origin.requests.map((r) => r.path)).toEqual(['/healthz', '/app', '/healthz']);
  });

  it('cluster_min_healthy_percentages: 200 while enough of the cluster is healthy, 503 for an unknown cluster', async () => {
    const p = await filterProxy({ httpFilters: [healthCheck({ pass_through_mode: false, cluster_min_healthy_percentages: { backend: { value: 100 } } })] });
    const [ok] = await p.send({ path: '/healthz' });
    expect(ok!.status).toBe(200);
    const q = await filterProxy({ httpFilters: [healthCheck({ pass_through_mode: false, cluster_min_healthy_percentages: { nowhere: { value: 50 } } })] });
    const [bad] = await q.send({ path: '/healthz' });
    expect(bad!.status).toBe(503);
    expect(q.facts('filter.health_check').at(-1)).toMatchObject({ answered: 503, reason: "cluster 'nowhere' does not exist" });
  });

  it('requires pass_through_mode, as Envoy does', async () => {
    const { loadBootstrap } = await import('../src/config/load');
    const { envoyYaml } = await import('./support/envoy-config');
    expect(() => loadBootstrap(envoyYaml({ httpFilters: [healthCheck({})] }), 'envoy.yaml')).toThrow(/http_filters\[0\]\.typed_config\.pass_through_mode: missing required field/);
  });
});
