/**
 * Determinism of the simulation: the same config, scenario and seed give the same trace,
 * event for event and byte for byte, and the same summary; another seed gives another
 * trace. And the scheduler underneath: a hundred thousand pending timers fire in due
 * order, ties in the order they were set, cleared ones never.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadBootstrap } from '../src/config/load';
import type { Bootstrap } from '../src/config/types';
import { seededRandom } from '../src/seams/random';
import { SimClock } from '../src/sim/sim-clock';
import { Simulation } from '../src/sim/simulation';
import type { Scenario } from '../src/sim/scenario-types';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** Two clusters, retries with a per-try timeout and back-off, outlier detection and an active health check: every kind of timer and draw. */
const CONFIG = `static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": ${HCM}
          stat_prefix: ingress_http
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": ${ROUTER} }
          route_config:
            name: local_route
            virtual_hosts:
            - name: shop
              domains: ["*"]
              routes:
              - name: api
                match: { prefix: /api }
                route:
                  cluster: api
                  timeout: 1s
                  retry_policy: { retry_on: "5xx,reset,connect-failure", num_retries: 2, per_try_timeout: 0.2s }
              - name: web
                match: { prefix: / }
                route:
                  cluster: web
                  retry_policy: { retry_on: "5xx", num_retries: 1 }
  clusters:
  - name: web
    type: STATIC
    connect_timeout: 0.25s
    lb_policy: ROUND_ROBIN
    outlier_detection: { consecutive_5xx: 3, interval: 0.5s, base_ejection_time: 1s }
    load_assignment:
      cluster_name: web
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 10.0.0.1, port_value: 8080 } } }
        - endpoint: { address: { socket_address: { address: 10.0.0.2, port_value: 8080 } } }
        - endpoint: { address: { socket_address: { address: 10.0.0.3, port_value: 8080 } } }
  - name: api
    type: STATIC
    connect_timeout: 0.25s
    lb_policy: LEAST_REQUEST
    health_checks:
    - timeout: 0.1s
      interval: 0.3s
      interval_jitter: 0.1s
      unhealthy_threshold: 2
      healthy_threshold: 1
      http_health_check: { path: /healthz }
    load_assignment:
      cluster_name: api
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 10.0.1.1, port_value: 9090 } } }
        - endpoint: { address: { socket_address: { address: 10.0.1.2, port_value: 9090 } } }
`;

function config(): Bootstrap {
  const { config, warnings } = loadBootstrap(CONFIG, 'determinism.yaml');
  expect(warnings).toEqual([]);
  return config;
}

const SCENARIO: Scenario = {
  name: 'determinism',
  duration: 3000,
  grace: 2000,
  defaults: { serviceTime: { kind: 'lognormal', p50: 15, p99: 150 }, responseBytes: { kind: 'uniform', min: 100, max: 4000 } },
  hosts: [
    { select: { host: '10.0.0.2:8080' }, behaviour: { errors: [{ status: 503, rate: 0.4 }], closeAfter: 5 } },
    { select: { host: '10.0.1.1:9090' }, behaviour: { hangRate: 0.1, resets: [{ rate: 0.1, after: 'body' }], bodyTime: { kind: 'exponential', mean: 20 } } },
  ],
  dns: [],
  traffic: [
    {
      name: 'shop',
      arrivals: { kind: 'poisson', rate: 150 },
      connection: 'keep_alive',
      maxConnections: 16,
      start: 0,
      stop: 3000,
      timeout: 800,
      mix: [
        { weight: 3, method: 'GET', authority: 'shop.example.com', path: '/', headers: [] },
        { weight: 1, method: 'POST', authority: 'shop.example.com', path: '/api/cart', headers: [], bodyBytes: { kind: 'constant', value: 256 } },
      ],
    },
    { name: 'browsers', arrivals: { kind: 'closed', clients: 4, thinkTime: { kind: 'exponential', mean: 50 } }, connection: 'per_request', maxConnections: 4, start: 100, stop: 2500, mix: [{ weight: 1, method: 'GET', authority: 'shop.example.com', path: '/api/items', headers: [] }] },
  ],
  timeline: [
    { at: 1200, label: 'timeline[0]', action: { kind: 'host', select: { host: '10.0.1.2:9090' }, set: { down: true } } },
    { at: 2000, label: 'timeline[1]', action: { kind: 'host', select: { host: '10.0.1.2:9090' }, set: { down: false } } },
  ],
  expect: [],
  networkLatency: 1,
  series: true,
};

interface Run {
  /** one JSON text per trace event, in order */
  events: string[];
  summary: string;
}

async function run(seed: number): Promise<Run> {
  const events: string[] = [];
  const sim = new Simulation({ config: config(), scenario: SCENARIO, seed, sink: (event) => events.push(JSON.stringify(event)) });
  const summary = await sim.run();
  return { events, summary: JSON.stringify(summary) };
}

const digest = (lines: readonly string[]): string => createHash('sha256').update(lines.join('\n')).digest('hex');

/** The first place two traces part, for a readable failure instead of two huge arrays. */
function firstDifference(a: readonly string[], b: readonly string[]): { index: number; a: string | undefined; b: string | undefined } | undefined {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return { index: i, a: a[i], b: b[i] };
  return undefined;
}

describe('a simulated run is the same every time', () => {
  it('the same scenario and seed give a byte-identical trace and an identical summary', async () => {
    const first = await run(11);
    const second = await run(11);
    // The run did something worth repeating: requests, retries, failures of every kind.
    const summary = JSON.parse(first.summary) as { sent: number; retries: number; all: { byOutcome: Record<string, number>; byFlag: Record<string, number> } };
    expect(summary.sent).toBeGreaterThan(300);
    expect(summary.retries).toBeGreaterThan(0);
    expect(Object.keys(summary.all.byFlag).length).toBeGreaterThan(1);
    expect(first.events.length).toBeGreaterThan(10_000);
    expect(firstDifference(first.events, second.events)).toBeUndefined();
    expect(digest(second.events)).toBe(digest(first.events));
    expect(second.summary).toBe(first.summary);
  });

  it('another seed gives another trace', async () => {
    const a = await run(11);
    const b = await run(12);
    expect(digest(b.events)).not.toBe(digest(a.events));
    const diff = firstDifference(a.events, b.events);
    expect(diff).toBeDefined();
  });
});

describe('SimClock', () => {
  it('fires 100,000 pending timers in due order, ties in the order they were set, and never a cleared one', () => {
    const clock = new SimClock();
    const random = seededRandom(5);
    const count = 100_000;
    // Few distinct due times, so most timers share theirs with many others.
    const due = Array.from({ length: count }, () => random.int(500));
    const fired: number[] = [];
    const ids = due.map((ms, i) => clock.setTimeout(() => fired.push(i), ms));
    const cleared = new Set<number>();
    for (let i = 0; i < count; i += 7) {
      clock.clearTimeout(ids[i]);
      cleared.add(i);
    }
    // Clearing twice, or a timer that is gone, changes nothing.
    clock.clearTimeout(ids[0]);
    clock.clearTimeout(undefined);
    expect(clock.pendingTimers()).toBe(count - cleared.size);
    clock.runUntil(1000);
    const expected = due
      .map((ms, i) => ({ ms, i }))
      .filter(({ i }) => !cleared.has(i))
      .sort((a, b) => a.ms - b.ms || a.i - b.i)
      .map(({ i }) => i);
    expect(fired).toEqual(expected);
    expect(clock.pendingTimers()).toBe(0);
    expect(clock.now()).toBe(1000);
  });

  it('a timer set while firing, for the same time, fires after those already due then; posted work runs before the next timer', () => {
    const clock = new SimClock();
    const order: string[] = [];
    clock.setTimeout(() => {
      order.push('a');
      clock.setTimeout(() => order.push('c (set by a, due now)'), 0);
      clock.post(() => {
        order.push('a posted');
        clock.post(() => order.push('a posted, posted again'));
      });
    }, 10);
    clock.setTimeout(() => order.push('b'), 10);
    const late = clock.setTimeout(() => order.push('never'), 10);
    clock.setTimeout(() => clock.clearTimeout(late), 5);
    clock.runUntil(20);
    expect(order).toEqual(['a', 'a posted', 'a posted, posted again', 'b', 'c (set by a, due now)']);
    expect(clock.idle()).toBe(true);
  });
});
