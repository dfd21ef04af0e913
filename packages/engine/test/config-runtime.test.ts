/**
 * `layered_runtime`: static layers flattened into a runtime snapshot (Envoy's ProtoLayer /
 * SnapshotImpl), and route `match.runtime_fraction` decided by it with the request's random
 * value, as RouteEntryImplBase::matchRoute does.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrap, type Bootstrap, type ConfigDiagnostic } from '../src/config/index';
import { HeaderMap, type RequestHead } from '../src/http/headers';
import { RouteMatcher } from '../src/router/route-matcher';
import { RuntimeSnapshot } from '../src/runtime/runtime';
import { seededRandom } from '../src/seams/random';
import { httpRequest, startProxy, startUpstream } from './support/upstreams';

const FILE = 'envoy.yaml';

interface Options {
  /** the `layered_runtime:` block, indented as at top level; '' = none */
  runtime?: string;
  /** match.runtime_fraction of the canary route */
  fraction?: string;
  ports?: { canary: number; main: number };
}

/** A front-proxy style bootstrap: a canary route taking a runtime_fraction of `/`, then a catch-all. */
function yaml({ runtime = '', fraction = '{ default_value: { numerator: 30 } }', ports = { canary: 8001, main: 8002 } }: Options = {}): string {
  return `static_resources:
  listeners:
  - name: ingress
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config:
            name: local_route
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes:
              - name: canary
                match:
                  prefix: "/"
                  runtime_fraction: ${fraction}
                route: { cluster: canary }
              - name: main
                match: { prefix: "/" }
                route: { cluster: main }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: canary
    load_assignment:
      cluster_name: canary
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${ports.canary} } } }
  - name: main
    load_assignment:
      cluster_name: main
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${ports.main} } } }
${runtime}`;
}

function load(text: string) {
  return loadBootstrap(text, FILE);
}

function errorsOf(text: string): ConfigDiagnostic[] {
  try {
    load(text);
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

const RUNTIME = `layered_runtime:
  layers:
  - name: static_layer_0
    static_layer:
      routing:
        canary: 10
        label: blue
        flag: TRUE
        share: { numerator: 25, denominator: TEN_THOUSAND }
      envoy.resource_limits.listener.ingress.connection_limit: 10000
      upstream:
        healthy_panic_threshold: 42.5
  - name: static_layer_1
    static_layer:
      routing.label: green
`;

function head(path = '/'): RequestHead {
  return { method: 'GET', path, authority: 'example.com', scheme: 'http', protocol: 'HTTP/1.1', headers: new HeaderMap() };
}

/** How many of `draws` requests the canary route takes, with the engine's seeded random source. */
function canaryCount(config: Bootstrap, seed: number, draws = 10_000): number {
  const hcm = config.static_resources.listeners[0].filter_chains[0].hcm!;
  const matcher = new RouteMatcher(hcm.route_config, new RuntimeSnapshot(config.runtime ?? {}));
  const random = seededRandom(seed);
  let canary = 0;
  for (let i = 0; i < draws; i++) {
    const result = matcher.route(head(), random.u32());
    if (result.matched && result.route.name === 'canary') canary++;
  }
  return canary;
}

describe('layered_runtime', () => {
  it('flattens static layers into one snapshot, later layers overriding earlier ones', () => {
    const { config, warnings } = load(yaml({ runtime: RUNTIME }));
    expect(warnings).toEqual([]);
    expect(config.layered_runtime?.layers).toMatchObject([
      { name: 'static_layer_0', kind: 'static_layer' },
      { name: 'static_layer_1', kind: 'static_layer' },
    ]);
    const runtime = new RuntimeSnapshot(config.runtime);
    expect(runtime.getInteger('routing.canary', 0)).toBe(10);
    expect(runtime.get('routing.label')).toBe('green');
    expect(runtime.getBoolean('routing.flag', false)).toBe(true);
    expect(runtime.getInteger('envoy.resource_limits.listener.ingress.connection_limit', 0)).toBe(10000);
    expect(runtime.getDouble('upstream.healthy_panic_threshold', 0)).toBe(42.5);
    // Envoy's uint form of a double is floored.
    expect(runtime.getInteger('upstream.healthy_panic_threshold', 0)).toBe(42);
    expect(runtime.fractionalPercent('routing.share', { numerator: 0, denominator: 100 })).toEqual({ numerator: 25, denominator: 10_000 });
    expect(runtime.get('routing.missing')).toBeUndefined();
  });

  it('accepts rtds, admin and disk layers with one warning each: only static_layer values are read', () => {
    const text = yaml({
      runtime: `layered_runtime:
  layers:
  - name: static
    static_layer: { routing.canary: 5 }
  - name: admin
    admin_layer: {}
  - name: disk
    disk_layer: { symlink_root: /srv/runtime }
`,
    });
    const { config, warnings } = load(text);
    expect(warnings.map((w) => [w.line, w.path])).toEqual([
      [text.split('\n').findIndex((l) => l.includes('admin_layer')) + 1, 'layered_runtime.layers[1].admin_layer'],
      [text.split('\n').findIndex((l) => l.includes('disk_layer')) + 1, 'layered_runtime.layers[2].disk_layer'],
    ]);
    expect(warnings[0].message).toMatch(/only static_layer/);
    expect(new RuntimeSnapshot(config.runtime).getInteger('routing.canary', 0)).toBe(5);
  });

  it('refuses what Envoy refuses: duplicate layer names, list values, a layer with no kind', () => {
    const dup = errorsOf(yaml({ runtime: 'layered_runtime:\n  layers:\n  - { name: a, static_layer: {} }\n  - { name: a, static_layer: {} }\n' }));
    expect(dup.map((d) => d.message)).toEqual(["duplicate runtime layer name 'a' (also layers[0])"]);
    const list = errorsOf(yaml({ runtime: 'layered_runtime:\n  layers:\n  - name: a\n    static_layer: { routing: { hosts: [a, b] } }\n' }));
    expect(list.map((d) => d.message)).toEqual([expect.stringContaining("invalid runtime entry value for 'routing.hosts'")]);
    const none = errorsOf(yaml({ runtime: 'layered_runtime:\n  layers:\n  - name: a\n' }));
    expect(none.map((d) => d.message)).toEqual([expect.stringContaining('a runtime layer needs one of static_layer')]);
  });
});

describe('route runtime_fraction', () => {
  it('matches close to 30% of 10,000 requests, the same count for the same seed', () => {
    const { config } = load(yaml());
    expect(config.static_resources.listeners[0].filter_chains[0].hcm!.route_config.virtual_hosts[0].routes[0].match.runtime_fraction).toEqual({
      runtime_key: '',
      default_value: { numerator: 30, denominator: 100 },
    });
    const first = canaryCount(config, 7);
    expect(canaryCount(config, 7)).toBe(first);
    // Binomial(10000, 0.3): sd ~ 45.8; five sd either side is [2771, 3229].
    expect(first).toBeGreaterThanOrEqual(2771);
    expect(first).toBeLessThanOrEqual(3229);
  });

  it('reads runtime_key from the static layer, falling back to default_value when the key is absent', () => {
    const fraction = '{ runtime_key: routing.canary, default_value: { numerator: 30 } }';
    const withoutKey = load(yaml({ fraction })).config;
    const withKey = load(yaml({ fraction, runtime: RUNTIME })).config; // routing.canary: 10
    const share30 = canaryCount(withoutKey, 7);
    const share10 = canaryCount(withKey, 7);
    expect(share30).toBeGreaterThanOrEqual(2771);
    expect(share30).toBeLessThanOrEqual(3229);
    // Binomial(10000, 0.1): sd = 30; five sd either side is [850, 1150].
    expect(share10).toBeGreaterThanOrEqual(850);
    expect(share10).toBeLessThanOrEqual(1150);
  });

  it('takes a FractionalPercent runtime value, and an integer above 100 as always', () => {
    const share = load(yaml({ fraction: '{ runtime_key: routing.share, default_value: { numerator: 100 } }', runtime: RUNTIME })).config;
    // 25 / 10000 = 0.25%: Binomial(10000, 0.0025) has sd ~ 5; five sd either side is [0, 50].
    expect(canaryCount(share, 7)).toBeLessThanOrEqual(50);
    const always = load(yaml({ fraction: '{ runtime_key: routing.big, default_value: { numerator: 0 } }', runtime: 'layered_runtime:\n  layers:\n  - { name: s, static_layer: { routing.big: 500 } }\n' })).config;
    expect(canaryCount(always, 7, 1000)).toBe(1000);
  });

  it('sends requests by the runtime through a running proxy', async () => {
    const canary = await startUpstream({ name: 'canary' });
    const main = await startUpstream({ name: 'main' });
    const ports = { canary: canary.port, main: main.port };
    const fraction = '{ runtime_key: routing.canary, default_value: { numerator: 0 } }';
    // default 0%: every request falls through to main; the static layer's 100 sends all to the canary.
    const off = await startProxy(load(yaml({ fraction, ports })).config);
    for (let i = 0; i < 5; i++) expect((await httpRequest(off.port, { path: `/off/${i}` })).status).toBe(200);
    await off.stop();
    const on = await startProxy(load(yaml({ fraction, ports, runtime: 'layered_runtime:\n  layers:\n  - { name: s, static_layer: { routing.canary: 100 } }\n' })).config);
    for (let i = 0; i < 5; i++) expect((await httpRequest(on.port, { path: `/on/${i}` })).status).toBe(200);
    expect(main.requests.map((r) => r.url)).toEqual(['/off/0', '/off/1', '/off/2', '/off/3', '/off/4']);
    expect(canary.requests.map((r) => r.url)).toEqual(['/on/0', '/on/1', '/on/2', '/on/3', '/on/4']);
    await Promise.all([canary.close(), main.close()]);
  });
});
