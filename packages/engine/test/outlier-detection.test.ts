import { describe, expect, it } from 'vitest';
import type { Cluster, HealthCheck, OutlierDetection } from '../src/config/types';
import { ManualClock } from '../src/seams/clock';
import { closedPort, eventually, httpRequest, singleClusterConfig, startProxy, startUpstream, type Upstream } from './support/upstreams';

/**
 * Outlier detection (Cluster.outlier_detection) on real loopback upstreams. The router
 * reports every attempt's result; the detector's interval timer runs on a ManualClock.
 */

const BASE = 30_000;
const INTERVAL = 10_000;

function detection(overrides: Partial<OutlierDetection> = {}): OutlierDetection {
  return {
    consecutive_5xx: 3,
    consecutive_gateway_failure: 5,
    enforcing_consecutive_5xx: 100,
    enforcing_consecutive_gateway_failure: 0,
    interval: INTERVAL,
    base_ejection_time: BASE,
    max_ejection_time: 300_000,
    max_ejection_percent: 10,
    successful_active_health_check_uneject_host: true,
    ...overrides,
  };
}

/** `failing` upstreams answer every request with `status`, the others with 200. */
async function setup(options: { failing: number; healthy: number; status?: number; cluster?: Partial<Cluster> }) {
  const failing: Upstream[] = [];
  const ok: Upstream[] = [];
  for (let i = 0; i < options.failing; i++) failing.push(await startUpstream({ name: `bad${i}`, respond: () => ({ status: options.status ?? 500 }) }));
  for (let i = 0; i < options.healthy; i++) ok.push(await startUpstream({ name: `good${i}` }));
  const clock = new ManualClock();
  const cluster = { outlier_detection: detection(), ...options.cluster };
  const proxy = await startProxy(singleClusterConfig([...failing, ...ok].map((u) => u.port), { cluster }), { clock });
  const info = proxy.engine.clusterManager.get('backend')!;
  const od = (name: string) => proxy.stat(`cluster.backend.outlier_detection.${name}`);
  const send = async (n: number) => {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) statuses.push((await httpRequest(proxy.port, { path: `/r${i}` })).status);
    return statuses;
  };
  return { failing, ok, clock, proxy, info, hosts: info.hosts, od, send };
}

describe('outlier detection', () => {
  it('ejects a host after consecutive_5xx errors and stops routing to it', async () => {
    const { ok, proxy, hosts, od, send } = await setup({ failing: 1, healthy: 1 });
    // Round robin alternates: the failing host sees its third 500 on the fifth or sixth request.
    await send(6);
    expect(hosts[0]!.healthState).toBe('ejected');
    expect(hosts[0]!.healthFlags).toBe('/failed_outlier_check');
    expect([od('ejections_active'), od('ejections_enforced_total'), od('ejections_enforced_consecutive_5xx'), od('ejections_detected_consecutive_5xx')]).toEqual([1, 1, 1, 1]);

    const before = ok[0]!.requests.length;
    expect(await send(4)).toEqual([200, 200, 200, 200]);
    expect(ok[0]!.requests.length).toBe(before + 4);

    const ejected = proxy.events.find((e) => e.type === 'fact' && e.fact === 'host.ejected');
    expect(ejected).toMatchObject({ actor: `cluster:backend/host:${hosts[0]!.key}`, envoy: 'DetectorImpl::ejectHost', data: { type: 'consecutive_5xx', ejectionMs: BASE, timesEjected: 1 } });
    const transition = proxy.events.find((e) => e.type === 'transition' && e.machine === 'host_health');
    expect(transition).toMatchObject({ from: 'healthy', to: 'ejected', event: 'outlier.eject', envoy: 'DetectorImpl::ejectHost' });
    // Its pooled connection was drained like on a failed health check.
    await eventually(() => hosts[0]!.stats.cx_active === 0, 'the ejected host to lose its connections');
  });

  it('un-ejects at the first interval tick after base_ejection_time', async () => {
    const { clock, proxy, hosts, od, send } = await setup({ failing: 1, healthy: 1 });
    await send(6);
    expect(hosts[0]!.ejected).toBe(true);
    clock.advance(BASE - 1); // ticks at 10 s and 20 s: not yet
    expect(hosts[0]!.healthState).toBe('ejected');
    clock.advance(1); // the 30 s tick
    expect(hosts[0]!.healthState).toBe('healthy');
    expect(od('ejections_active')).toBe(0);
    const fact = proxy.events.find((e) => e.type === 'fact' && e.fact === 'host.unejected');
    expect(fact).toMatchObject({ envoy: 'DetectorImpl::unejectHost', data: { reason: 'ejection time elapsed', ejectedForMs: BASE } });
  });

  it('makes each ejection longer (base × times ejected) and decays the multiplier while healthy', async () => {
    const { clock, proxy, hosts, send } = await setup({ failing: 1, healthy: 1 });
    const ejectionTimes = () => proxy.events.filter((e) => e.type === 'fact' && e.fact === 'host.ejected').map((e) => (e.type === 'fact' ? e.data.ejectionMs : undefined));
    await send(6);
    clock.advance(BASE);
    expect(hosts[0]!.healthState).toBe('healthy');
    await send(6); // ejected again before any tick: twice as long
    expect(ejectionTimes()).toEqual([BASE, 2 * BASE]);
    clock.advance(2 * BASE - 1);
    expect(hosts[0]!.ejected).toBe(true);
    clock.advance(1);
    expect(hosts[0]!.ejected).toBe(false);
    clock.advance(2 * INTERVAL); // two healthy ticks: the multiplier is back to 0
    await send(6);
    expect(ejectionTimes()).toEqual([BASE, 2 * BASE, BASE]);
  });

  it('counts connect failures as 5xx (local origin, non-split mode)', async () => {
    const good = await startUpstream();
    const refused = await closedPort();
    const clock = new ManualClock();
    const proxy = await startProxy(singleClusterConfig([refused, good.port], { cluster: { outlier_detection: detection() } }), { clock });
    for (let i = 0; i < 6; i++) await httpRequest(proxy.port);
    const host = proxy.engine.clusterManager.get('backend')!.hosts[0]!;
    expect(host.healthState).toBe('ejected');
    expect(proxy.stat('cluster.backend.outlier_detection.ejections_enforced_consecutive_5xx')).toBe(1);
  });

  it('allows the first ejection in a small cluster, then refuses past max_ejection_percent', async () => {
    const { hosts, od, send } = await setup({ failing: 3, healthy: 0 });
    await send(9);
    expect(hosts.filter((h) => h.ejected)).toHaveLength(1);
    expect(od('ejections_enforced_total')).toBe(1);
    // 1 of 3 ejected is 33%, not below 10%: the next detections overflow.
    await send(9);
    expect(hosts.filter((h) => h.ejected)).toHaveLength(1);
    expect(od('ejections_overflow')).toBeGreaterThanOrEqual(1);
    expect(od('ejections_active')).toBe(1);
  });

  it('detects consecutive gateway failures but does not enforce them by default', async () => {
    const { proxy, hosts, od, send } = await setup({ failing: 1, healthy: 1, status: 503, cluster: { outlier_detection: detection({ consecutive_5xx: 100, consecutive_gateway_failure: 3 }) } });
    await send(6);
    expect(hosts[0]!.ejected).toBe(false);
    expect(od('ejections_detected_consecutive_gateway_failure')).toBe(1);
    expect(od('ejections_enforced_total')).toBe(0);
    const skipped = proxy.events.find((e) => e.type === 'fact' && e.fact === 'host.ejection_skipped');
    expect(skipped).toMatchObject({ data: { type: 'consecutive_gateway_failure', reason: 'not_enforced', enforcingPercent: 0 } });
  });

  it('ejects on consecutive gateway failures when enforcing_consecutive_gateway_failure is 100', async () => {
    const outlier = detection({ consecutive_5xx: 100, consecutive_gateway_failure: 3, enforcing_consecutive_gateway_failure: 100 });
    const { hosts, od, send } = await setup({ failing: 1, healthy: 1, status: 502, cluster: { outlier_detection: outlier } });
    await send(6);
    expect(hosts[0]!.ejected).toBe(true);
    expect(od('ejections_enforced_consecutive_gateway_failure')).toBe(1);
  });

  it('resets the count on any non-5xx answer', async () => {
    let n = 0;
    const flaky = await startUpstream({ respond: () => ({ status: ++n % 3 === 0 ? 200 : 500 }) });
    const proxy = await startProxy(singleClusterConfig([flaky.port], { cluster: { outlier_detection: detection() } }), { clock: new ManualClock() });
    for (let i = 0; i < 12; i++) await httpRequest(proxy.port);
    expect(proxy.engine.clusterManager.get('backend')!.hosts[0]!.ejected).toBe(false);
  });

  it('un-ejects a host that passes an active health check', async () => {
    const check: HealthCheck = {
      timeout: 1000, interval: 5000, interval_jitter: 0, unhealthy_threshold: 3, healthy_threshold: 1, reuse_connection: true,
      http_health_check: { path: '/healthz', expected_statuses: [{ start: 200, end: 201 }] },
    };
    const bad = await startUpstream({ respond: (r) => ({ status: r.url === '/healthz' ? 200 : 500 }) });
    const good = await startUpstream();
    const clock = new ManualClock();
    const proxy = await startProxy(singleClusterConfig([bad.port, good.port], { cluster: { outlier_detection: detection(), health_checks: [check] } }), { clock });
    for (let i = 0; i < 6; i++) await httpRequest(proxy.port);
    const host = proxy.engine.clusterManager.get('backend')!.hosts[0]!;
    expect(host.healthState).toBe('ejected');
    clock.advance(5000);
    await eventually(() => host.healthState === 'healthy', 'the passed check to un-eject the host');
    const fact = proxy.events.find((e) => e.type === 'fact' && e.fact === 'host.unejected');
    expect(fact).toMatchObject({ data: { reason: 'successful active health check' } });
  });
});

describe('panic mode', () => {
  const everyone = detection({ max_ejection_percent: 100 });

  it('routes to ejected hosts when fewer than healthy_panic_threshold% are healthy', async () => {
    const { proxy, hosts, send } = await setup({ failing: 2, healthy: 0, cluster: { outlier_detection: everyone } });
    await send(6);
    expect(hosts.every((h) => h.ejected)).toBe(true);
    const panics = proxy.stat('cluster.backend.lb_healthy_panic');
    expect(await send(2)).toEqual([500, 500]); // still proxied, to the ejected hosts
    expect(proxy.stat('cluster.backend.lb_healthy_panic')).toBe(panics + 2);
    const selected = proxy.events.filter((e) => e.type === 'fact' && e.fact === 'lb.host_selected').at(-1);
    expect(selected).toMatchObject({ data: { reason: expect.stringContaining('panic mode: 0 of 2 healthy is below 50%') } });
  });

  it('answers 503 no healthy upstream (UH) when healthy_panic_threshold is 0', async () => {
    const { proxy, send } = await setup({ failing: 2, healthy: 0, cluster: { outlier_detection: everyone, common_lb_config: { healthy_panic_threshold: 0 } } });
    await send(6);
    const response = await httpRequest(proxy.port);
    expect(response.status).toBe(503);
    expect(response.text).toBe('no healthy upstream');
    expect(proxy.stat('cluster.backend.upstream_cx_none_healthy')).toBe(1);
    expect(proxy.stat('cluster.backend.lb_healthy_panic')).toBe(0);
  });
});
