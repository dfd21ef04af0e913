import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '@proxyscope/protocol';
import type { Cluster, HealthCheck, OutlierDetection } from '../src/config/types';
import { SimWorld, type ScriptedUpstreamOptions } from './support/sim-world';
import { singleClusterConfig } from './support/upstreams';

/**
 * Outlier detection (Cluster.outlier_detection) on virtual time (support/sim-world.ts):
 * the router reports every attempt's result, the detector's interval timer ticks every
 * INTERVAL virtual ms from the engine's start, and ejections end at the exact tick.
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

/** `failing` upstreams (ports 8001, ...) answer every request with `status`, the `healthy` ones after them with 200. */
async function setup(options: { failing: number; healthy: number; status?: number; cluster?: Partial<Cluster>; upstreams?: Record<string, ScriptedUpstreamOptions> }) {
  const ports = Array.from({ length: options.failing + options.healthy }, (_, i) => 8001 + i);
  const upstreams: Record<string, ScriptedUpstreamOptions> = {};
  ports.forEach((port, i) => {
    upstreams[`127.0.0.1:${port}`] = i < options.failing ? { name: `bad${i}`, respond: () => ({ status: options.status ?? 500 }) } : { name: `good${i - options.failing}` };
  });
  const cluster = { outlier_detection: detection(), ...options.cluster };
  const world = await SimWorld.start(singleClusterConfig(ports, { cluster }), { upstreams: { ...upstreams, ...options.upstreams } });
  const info = world.engine.clusterManager.get('backend')!;
  const od = (name: string) => world.stat(`cluster.backend.outlier_detection.${name}`);
  /** `n` requests, one after another */
  const send = (n: number) => Array.from({ length: n }, (_, i) => world.request({ path: `/r${i}` }).status);
  const upstream = (i: number) => world.upstream(ports[i]!);
  return { world, info, hosts: info.hosts, od, send, upstream };
}

const factEvents = (world: SimWorld, fact: string) => world.events.filter((e): e is Extract<TraceEvent, { type: 'fact' }> => e.type === 'fact' && e.fact === fact);

describe('outlier detection', () => {
  it('ejects a host after consecutive_5xx errors and stops routing to it', async () => {
    const { world, hosts, od, send, upstream } = await setup({ failing: 1, healthy: 1 });
    // Round robin alternates between the two hosts: the failing one sees its third 500 within six requests.
    const statuses = send(6);
    expect(statuses.filter((s) => s === 500)).toHaveLength(3);
    for (let i = 1; i < 6; i++) expect(statuses[i]).not.toBe(statuses[i - 1]);
    expect(hosts[0]!.healthState).toBe('ejected');
    expect(hosts[0]!.healthFlags).toBe('/failed_outlier_check');
    expect([od('ejections_active'), od('ejections_enforced_total'), od('ejections_enforced_consecutive_5xx'), od('ejections_detected_consecutive_5xx')]).toEqual([1, 1, 1, 1]);

    const before = upstream(1).requests.length;
    expect(send(4)).toEqual([200, 200, 200, 200]);
    expect(upstream(1).requests.length).toBe(before + 4);
    expect(upstream(0).requests).toHaveLength(3);

    const ejected = world.events.find((e) => e.type === 'fact' && e.fact === 'host.ejected');
    expect(ejected).toMatchObject({ actor: `cluster:backend/host:${hosts[0]!.key}`, envoy: 'DetectorImpl::ejectHost', data: { type: 'consecutive_5xx', ejectionMs: BASE, timesEjected: 1 } });
    const transition = world.events.find((e) => e.type === 'transition' && e.machine === 'host_health');
    expect(transition).toMatchObject({ from: 'healthy', to: 'ejected', event: 'outlier.eject', envoy: 'DetectorImpl::ejectHost' });
    // Its pooled connection was drained like on a failed health check.
    expect(hosts[0]!.stats.cx_active).toBe(0);
    expect(upstream(0).openConnections()).toBe(0);
  });

  it('un-ejects at the first interval tick after base_ejection_time', async () => {
    const { world, hosts, od, send } = await setup({ failing: 1, healthy: 1 });
    const t0 = world.now();
    send(6); // all at virtual time t0: the upstreams answer at once
    expect(hosts[0]!.ejected).toBe(true);
    world.runFor(BASE - 1); // ticks at 10 s and 20 s: not yet
    expect(hosts[0]!.healthState).toBe('ejected');
    world.runFor(1); // the 30 s tick
    expect(hosts[0]!.healthState).toBe('healthy');
    expect(od('ejections_active')).toBe(0);
    const [fact] = factEvents(world, 'host.unejected');
    expect(fact).toMatchObject({ envoy: 'DetectorImpl::unejectHost', data: { reason: 'ejection time elapsed', ejectedForMs: BASE } });
    expect(fact!.t).toBe(t0 + BASE);
  });

  it('a host ejected between ticks is un-ejected at the first tick at least base_ejection_time later', async () => {
    const { world, hosts, send } = await setup({ failing: 1, healthy: 1 });
    const t0 = world.now();
    world.runFor(INTERVAL / 2);
    send(6); // ejected at 5 s
    expect(hosts[0]!.ejected).toBe(true);
    world.runFor(BASE); // ticks at 10, 20, 30 s have passed; 30 s is only 25 s after the ejection
    expect(hosts[0]!.ejected).toBe(true);
    world.runFor(INTERVAL); // the 40 s tick
    expect(hosts[0]!.ejected).toBe(false);
    const [fact] = factEvents(world, 'host.unejected');
    expect(fact!.t - t0).toBe(4 * INTERVAL);
    expect(fact!.data).toMatchObject({ ejectedForMs: 4 * INTERVAL - INTERVAL / 2 });
  });

  it('makes each ejection longer (base × times ejected) and decays the multiplier while healthy', async () => {
    const { world, hosts, send } = await setup({ failing: 1, healthy: 1 });
    const ejectionTimes = () => factEvents(world, 'host.ejected').map((e) => e.data.ejectionMs);
    send(6);
    world.runFor(BASE);
    expect(hosts[0]!.healthState).toBe('healthy');
    send(6); // ejected again before any tick: twice as long
    expect(ejectionTimes()).toEqual([BASE, 2 * BASE]);
    world.runFor(2 * BASE - 1);
    expect(hosts[0]!.ejected).toBe(true);
    world.runFor(1);
    expect(hosts[0]!.ejected).toBe(false);
    world.runFor(2 * INTERVAL); // two healthy ticks: the multiplier is back to 0
    send(6);
    expect(ejectionTimes()).toEqual([BASE, 2 * BASE, BASE]);
  });

  it('counts connect failures as 5xx (local origin, non-split mode)', async () => {
    const { world, hosts, upstream, send } = await setup({ failing: 0, healthy: 2, upstreams: { '127.0.0.1:8001': { refuse: true } } });
    const statuses = send(6);
    expect(statuses.filter((s) => s === 503)).toHaveLength(3);
    expect(upstream(0).refused).toBe(3);
    expect(hosts[0]!.healthState).toBe('ejected');
    expect(world.stat('cluster.backend.outlier_detection.ejections_enforced_consecutive_5xx')).toBe(1);
    expect(world.accessLog().filter((l) => l.flags === 'UF')).toHaveLength(3);
  });

  it('allows the first ejection in a small cluster, then refuses past max_ejection_percent', async () => {
    const { hosts, od, send } = await setup({ failing: 3, healthy: 0 });
    send(9);
    expect(hosts.filter((h) => h.ejected)).toHaveLength(1);
    expect(od('ejections_enforced_total')).toBe(1);
    // 1 of 3 ejected is 33%, not below 10%: the next detections overflow.
    send(9);
    expect(hosts.filter((h) => h.ejected)).toHaveLength(1);
    expect(od('ejections_overflow')).toBeGreaterThanOrEqual(1);
    expect(od('ejections_active')).toBe(1);
  });

  it('detects consecutive gateway failures but does not enforce them by default', async () => {
    const { world, hosts, od, send } = await setup({ failing: 1, healthy: 1, status: 503, cluster: { outlier_detection: detection({ consecutive_5xx: 100, consecutive_gateway_failure: 3 }) } });
    send(6);
    expect(hosts[0]!.ejected).toBe(false);
    expect(od('ejections_detected_consecutive_gateway_failure')).toBe(1);
    expect(od('ejections_enforced_total')).toBe(0);
    const skipped = world.events.find((e) => e.type === 'fact' && e.fact === 'host.ejection_skipped');
    expect(skipped).toMatchObject({ data: { type: 'consecutive_gateway_failure', reason: 'not_enforced', enforcingPercent: 0 } });
  });

  it('ejects on consecutive gateway failures when enforcing_consecutive_gateway_failure is 100', async () => {
    const outlier = detection({ consecutive_5xx: 100, consecutive_gateway_failure: 3, enforcing_consecutive_gateway_failure: 100 });
    const { hosts, od, send } = await setup({ failing: 1, healthy: 1, status: 502, cluster: { outlier_detection: outlier } });
    send(6);
    expect(hosts[0]!.ejected).toBe(true);
    expect(od('ejections_enforced_consecutive_gateway_failure')).toBe(1);
  });

  it('resets the count on any non-5xx answer', async () => {
    let n = 0;
    const { world, hosts, send } = await setup({ failing: 0, healthy: 1, upstreams: { '127.0.0.1:8001': { respond: () => ({ status: ++n % 3 === 0 ? 200 : 500 }) } } });
    expect(send(12)).toEqual([500, 500, 200, 500, 500, 200, 500, 500, 200, 500, 500, 200]);
    expect(hosts[0]!.ejected).toBe(false);
    expect(world.stat('cluster.backend.outlier_detection.ejections_detected_consecutive_5xx')).toBe(0);
  });

  it('un-ejects a host that passes an active health check', async () => {
    const check: HealthCheck = {
      timeout: 1000, interval: 5000, interval_jitter: 0, unhealthy_threshold: 3, healthy_threshold: 1, reuse_connection: true,
      http_health_check: { path: '/healthz', expected_statuses: [{ start: 200, end: 201 }] },
    };
    const { world, hosts, send } = await setup({
      failing: 0,
      healthy: 2,
      cluster: { outlier_detection: detection(), health_checks: [check] },
      upstreams: { '127.0.0.1:8001': { respond: (r) => ({ status: r.path === '/healthz' ? 200 : 500 }) } },
    });
    const t0 = world.now();
    send(6);
    const host = hosts[0]!;
    expect(host.healthState).toBe('ejected');
    world.runFor(5000 - 1);
    expect(host.healthState).toBe('ejected');
    world.runFor(1); // the next round of checks, 5 s after the first
    expect(host.healthState).toBe('healthy');
    const [fact] = factEvents(world, 'host.unejected');
    expect(fact).toMatchObject({ data: { reason: 'successful active health check' } });
    expect(fact!.t - t0).toBe(5000);
  });
});

describe('panic mode', () => {
  const everyone = detection({ max_ejection_percent: 100 });

  it('routes to ejected hosts when fewer than healthy_panic_threshold% are healthy', async () => {
    const { world, hosts, send } = await setup({ failing: 2, healthy: 0, cluster: { outlier_detection: everyone } });
    send(6);
    expect(hosts.every((h) => h.ejected)).toBe(true);
    const panics = world.stat('cluster.backend.lb_healthy_panic');
    expect(send(2)).toEqual([500, 500]); // still proxied, to the ejected hosts
    expect(world.stat('cluster.backend.lb_healthy_panic')).toBe(panics + 2);
    const selected = world.facts('lb.host_selected').at(-1);
    expect(selected).toMatchObject({ reason: expect.stringContaining('panic mode: 0 of 2 healthy is below 50%') });
  });

  it('answers 503 no healthy upstream (UH) when healthy_panic_threshold is 0', async () => {
    const { world, send } = await setup({ failing: 2, healthy: 0, cluster: { outlier_detection: everyone, common_lb_config: { healthy_panic_threshold: 0 } } });
    send(6);
    const response = world.request();
    expect(response.status).toBe(503);
    expect(response.body).toBe('no healthy upstream');
    expect(world.accessLog().at(-1)).toMatchObject({ status: 503, flags: 'UH', upstreamHost: '-' });
    expect(world.stat('cluster.backend.upstream_cx_none_healthy')).toBe(1);
    expect(world.stat('cluster.backend.lb_healthy_panic')).toBe(0);
  });
});
