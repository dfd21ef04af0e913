/**
 * The runtime read where Envoy reads it: a `layered_runtime` static_layer value overrides
 * the config's default for the fault filter, local_ratelimit, CORS and CSRF fractions,
 * the compressor's enabled flag, local reply filters, request mirroring, least-request's
 * active_request_bias, circuit breakers, the panic threshold and outlier detection.
 */
import type { FactEvent, TraceEvent } from '@proxyscope/protocol';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadBootstrap } from '../src/config/load';
import type { EngineOptions } from '../src/index';
import { nodeCompression } from '../src/transport/node-compression';
import { envoyConfig, faultFilter, percent, rateLimitFilter, type EnvoyConfigOptions } from './support/envoy-config';
import { rawRequest, type RawRequest } from './support/filter-proxy';
import { MemoryOrigin, ok, settle, startSimulated, type Responder } from './support/memory-origin';
import { parseResponses } from './support/upstreams';

interface Extra {
  /** the static_layer's values */
  runtime?: Record<string, unknown>;
  /** more clusters besides `backend` */
  clusters?: Record<string, unknown>[];
  /** fields merged into the `backend` cluster */
  backend?: Record<string, unknown>;
}

const endpoint = (port: number, load_balancing_weight?: number) => ({
  endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } },
  ...(load_balancing_weight !== undefined && { load_balancing_weight }),
});

/** The config of `options` with a layered_runtime, loaded with no warning. */
function load(options: EnvoyConfigOptions, extra: Extra = {}) {
  const config = envoyConfig(options) as { static_resources: { clusters: Record<string, unknown>[] } } & Record<string, unknown>;
  const [backend] = config.static_resources.clusters;
  Object.assign(backend!, extra.backend);
  config.static_resources.clusters.push(...(extra.clusters ?? []));
  if (extra.runtime) config.layered_runtime = { layers: [{ name: 'static', static_layer: extra.runtime }] };
  const loaded = loadBootstrap(stringify(config), 'test.yaml');
  expect(loaded.warnings).toEqual([]);
  return loaded.config;
}

async function proxy(options: EnvoyConfigOptions, extra: Extra = {}, respond: Responder = () => ok('upstream'), engine: Partial<EngineOptions> = {}) {
  const p = await startSimulated(load(options, extra), new MemoryOrigin(respond), 1, engine);
  const events: TraceEvent[] = [];
  p.engine.tracer.attach((e) => events.push(e));
  const c = p.dial();
  const methods: string[] = [];
  /** each request in turn on one keep-alive connection; the statuses of every response so far */
  const send = async (...requests: RawRequest[]) => {
    for (const r of requests) {
      methods.push(r.method ?? 'GET');
      c.write(rawRequest(r));
      await settle();
    }
    return parseResponses(Buffer.concat(c.received), { requestMethods: methods }).map((r) => r.status);
  };
  const facts = (name: string) => events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === name).map((e) => e.data);
  return { ...p, send, facts };
}

const times = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

describe('fault filter runtime keys', () => {
  const abortNever = faultFilter({ abort: { http_status: 503, percentage: percent(0) } });

  it('fault.http.abort.abort_percent 100 aborts every request the config aborts 0% of', async () => {
    const p = await proxy({ httpFilters: [abortNever] }, { runtime: { fault: { http: { abort: { abort_percent: 100 } } } } });
    expect(await p.send({ path: '/a' }, { path: '/b' })).toEqual([503, 503]);
    expect(p.origin.requests).toHaveLength(0);
    expect(p.facts('filter.fault')[0]).toMatchObject({ action: 'abort', status: 503, percentage: '100%', runtime: ['fault.http.abort.abort_percent'] });
    // Without the runtime value the same config lets everything through.
    const q = await proxy({ httpFilters: [abortNever] });
    expect(await q.send({ path: '/a' })).toEqual([200]);
  });

  it('abort_percent_runtime and abort_http_status_runtime name other keys; the status comes from the runtime', async () => {
    const filter = faultFilter({ abort: { http_status: 503, percentage: percent(0) }, abort_percent_runtime: 'chaos.abort', abort_http_status_runtime: 'chaos.status' });
    const p = await proxy({ httpFilters: [filter] }, { runtime: { 'chaos.abort': { numerator: 1, denominator: 'HUNDRED' }, 'chaos.status': 418, fault: { http: { abort: { abort_percent: 100 } } } } });
    // 1% by runtime, with seed 1: the default key's 100% is not read.
    const statuses = await p.send(...times(200, { path: '/x' }));
    const aborted = statuses.filter((s) => s === 418).length;
    expect(aborted).toBeGreaterThan(0);
    expect(aborted).toBeLessThan(10);
    expect(statuses.every((s) => s === 418 || s === 200)).toBe(true);
    expect(p.stat('http.ingress_http.fault.aborts_injected')).toBe(aborted);
  });

  it('fault.http.delay.fixed_duration_ms and fixed_delay_percent replace the configured delay', async () => {
    const filter = faultFilter({ delay: { fixed_delay: '5s', percentage: percent(0) } });
    const p = await proxy({ httpFilters: [filter] }, { runtime: { 'fault.http.delay.fixed_delay_percent': 100, 'fault.http.delay.fixed_duration_ms': 200 } });
    await p.send({ path: '/slow' });
    await p.advance(199);
    expect(p.origin.requests).toHaveLength(0);
    await p.advance(1);
    expect(p.origin.requests.map((r) => r.path)).toEqual(['/slow']);
    expect(p.facts('filter.fault')[0]).toMatchObject({ action: 'delay', ms: 200, percentage: '100%' });
  });

  it('a downstream cluster reads its own keys, fault.http.<cluster>.abort.*', async () => {
    const filter = faultFilter({ abort: { http_status: 503, percentage: percent(0) } });
    const p = await proxy({ httpFilters: [filter] }, { runtime: { 'fault.http.mobile.abort.abort_percent': 100, 'fault.http.mobile.abort.http_status': 429 } });
    expect(await p.send({ headers: { 'x-envoy-downstream-service-cluster': 'mobile' } }, { headers: { 'x-envoy-downstream-service-cluster': 'web' } }, {})).toEqual([429, 200, 200]);
  });

  it('fault.http.max_active_faults caps active faults below the configured max_active_faults', async () => {
    const filter = faultFilter({ delay: { fixed_delay: '1s', percentage: percent(100) }, max_active_faults: 10 });
    const p = await proxy({ httpFilters: [filter] }, { runtime: { 'fault.http.max_active_faults': 1 } });
    const first = p.dial();
    first.write(rawRequest({ path: '/first' }));
    await settle();
    await p.send({ path: '/second' });
    expect(p.origin.requests.map((r) => r.path)).toEqual(['/second']);
    expect(p.stat('http.ingress_http.fault.faults_overflow')).toBe(1);
    expect(p.facts('filter.fault')).toContainEqual({ action: 'overflow', max_active_faults: 1, active_faults: 1 });
  });
});

describe('RuntimeFractionalPercent in filters', () => {
  const limited = (extra: Record<string, unknown> = {}) =>
    rateLimitFilter({
      stat_prefix: 'rl',
      token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: '3600s' },
      filter_enabled: { default_value: percent(100), runtime_key: 'rl.enabled' },
      filter_enforced: { default_value: percent(100), runtime_key: 'rl.enforced' },
      ...extra,
    });

  it('local_ratelimit filter_enabled 0% by runtime lets everything through, uncounted', async () => {
    const p = await proxy({ httpFilters: [limited()] }, { runtime: { 'rl.enabled': 0 } });
    expect(await p.send({}, {}, {})).toEqual([200, 200, 200]);
    expect(p.stat('rl.http_local_rate_limit.enabled')).toBe(0);
    expect(p.facts('filter.ratelimit')[0]).toMatchObject({ result: 'not_enabled', filter_enabled: '0% (runtime rl.enabled)' });
    // The config alone limits the second request.
    const q = await proxy({ httpFilters: [limited()] });
    expect(await q.send({}, {})).toEqual([200, 429]);
  });

  it('local_ratelimit filter_enforced 0% by runtime counts rate_limited but does not refuse', async () => {
    const p = await proxy({ httpFilters: [limited()] }, { runtime: { rl: { enforced: { numerator: 0, denominator: 'HUNDRED' } } } });
    expect(await p.send({}, {})).toEqual([200, 200]);
    expect(p.stat('rl.http_local_rate_limit.rate_limited')).toBe(1);
    expect(p.stat('rl.http_local_rate_limit.enforced')).toBe(0);
  });

  const CSRF_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.csrf.v3.CsrfPolicy';
  const csrf = { name: 'envoy.filters.http.csrf', typed_config: { '@type': CSRF_TYPE, filter_enabled: { default_value: percent(0), runtime_key: 'csrf.on' } } };
  const crossOrigin = { method: 'POST', path: '/form', headers: { host: 'shop.example.com', origin: 'https://evil.example' } };

  it('csrf filter_enabled 100% by runtime refuses the cross-origin POST the config (0%) lets in', async () => {
    const p = await proxy({ httpFilters: [csrf] }, { runtime: { 'csrf.on': 100 } });
    expect(await p.send(crossOrigin)).toEqual([403]);
    const q = await proxy({ httpFilters: [csrf] });
    expect(await q.send(crossOrigin)).toEqual([200]);
  });

  it('cors filter_enabled 0% by runtime: no preflight answer, the OPTIONS goes upstream', async () => {
    const CORS = { name: 'envoy.filters.http.cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } };
    const policy = {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
      allow_origin_string_match: [{ exact: 'https://app.example' }],
      filter_enabled: { default_value: percent(100), runtime_key: 'cors.on' },
    };
    const preflight = { method: 'OPTIONS', path: '/api', headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' } };
    const options = { httpFilters: [CORS], vhost: { typed_per_filter_config: { 'envoy.filters.http.cors': policy } } };
    const p = await proxy(options, { runtime: { 'cors.on': 0 } });
    await p.send(preflight);
    expect(p.origin.requests.map((r) => r.method)).toEqual(['OPTIONS']);
    const q = await proxy(options);
    await q.send(preflight);
    expect(q.origin.requests).toHaveLength(0);
  });
});

describe('request mirroring', () => {
  const mirrorCluster = { name: 'mirror', connect_timeout: '1s', load_assignment: { cluster_name: 'mirror', endpoints: [{ lb_endpoints: [endpoint(8081)] }] } };
  const routes = [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend', request_mirror_policies: [{ cluster: 'mirror', runtime_fraction: { default_value: percent(100), runtime_key: 'mirror.share' } }] } }];
  const shadows = (p: { origin: MemoryOrigin }) => p.origin.requests.filter((r) => r.headers.host!.endsWith('-shadow')).length;

  it('runtime_fraction 0 by runtime sends no copy; without the key every request is copied', async () => {
    const p = await proxy({ routes }, { clusters: [mirrorCluster], runtime: { 'mirror.share': 0 } });
    expect(await p.send({ path: '/a' }, { path: '/b' })).toEqual([200, 200]);
    await settle();
    expect(shadows(p)).toBe(0);
    expect(p.facts('router.shadow').map((d) => d.decision)).toEqual(['not_sampled', 'not_sampled']);
    const q = await proxy({ routes }, { clusters: [mirrorCluster] });
    await q.send({ path: '/a' }, { path: '/b' });
    await settle();
    expect(shadows(q)).toBe(2);
  });
});

describe('least_request active_request_bias', () => {
  /** which port each of `n` hanging requests (one connection each) went to */
  async function picks(runtime: Record<string, unknown> | undefined, n = 12): Promise<number[]> {
    const backend = {
      lb_policy: 'LEAST_REQUEST',
      least_request_lb_config: { active_request_bias: { default_value: 1, runtime_key: 'lb.bias' } },
      load_assignment: { cluster_name: 'backend', endpoints: [{ lb_endpoints: [endpoint(8080, 1), endpoint(8081, 3)] }] },
    };
    const p = await proxy({}, { backend, ...(runtime && { runtime }) }, () => undefined);
    for (let i = 0; i < n; i++) {
      p.dial().write(rawRequest({ path: `/${i}` }));
      await settle();
    }
    return p.facts('lb.host_selected').map((d) => Number(String(d.host).split(':')[1]));
  }
  const count = (ports: number[], port: number) => ports.filter((p) => p === port).length;

  it('bias 0 from the runtime ignores active requests: picks follow the weights alone', async () => {
    const byConfig = await picks(undefined);
    const byRuntime = await picks({ lb: { bias: 0 } });
    expect(byRuntime).toHaveLength(12);
    // Weights 1:3 with no regard to load: 3 and 9.
    expect([count(byRuntime, 8080), count(byRuntime, 8081)]).toEqual([3, 9]);
    // Bias 1 (the config): the busy heavy host loses picks to the idle light one.
    expect(count(byConfig, 8080)).toBeGreaterThan(3);
    expect(byConfig).not.toEqual(byRuntime);
  });
});

describe('outlier detection', () => {
  const backend = { outlier_detection: { consecutive_5xx: 5, interval: '10s' } };
  const fail = () => 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n';

  it('outlier_detection.consecutive_5xx and enforcing_consecutive_5xx come from the runtime', async () => {
    const p = await proxy({}, { backend, runtime: { outlier_detection: { consecutive_5xx: 2, enforcing_consecutive_5xx: 0 } } }, fail);
    expect(await p.send({}, {})).toEqual([503, 503]);
    // Detected after 2 (not 5) errors, and not enforced (0% by runtime, 100% by default).
    expect(p.stat('cluster.backend.outlier_detection.ejections_detected_consecutive_5xx')).toBe(1);
    expect(p.stat('cluster.backend.outlier_detection.ejections_enforced_total')).toBe(0);
    const q = await proxy({}, { backend, runtime: { outlier_detection: { consecutive_5xx: 2 } } }, fail);
    await q.send({}, {});
    expect(q.stat('cluster.backend.outlier_detection.ejections_enforced_consecutive_5xx')).toBe(1);
  });
});

describe('compressor enabled (RuntimeFeatureFlag)', () => {
  it('enabled false by runtime sends the response uncompressed', async () => {
    const gzip = {
      name: 'envoy.filters.http.compressor',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor',
        response_direction_config: { common_config: { enabled: { default_value: true, runtime_key: 'gzip.on' } } },
        compressor_library: { name: 'text', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip' } },
      },
    };
    const page = 'compress me '.repeat(100);
    const html = () => `HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: ${page.length}\r\n\r\n${page}`;
    const encodings = async (runtime?: Record<string, unknown>) => {
      const p = await proxy({ httpFilters: [gzip] }, runtime ? { runtime } : {}, html, { compression: nodeCompression });
      await p.send({ headers: { 'accept-encoding': 'gzip' } });
      return p.stat('http.ingress_http.compressor.text.gzip.compressed');
    };
    expect(await encodings({ gzip: { on: false } })).toBe(0);
    expect(await encodings()).toBe(1);
  });
});

describe('local reply mapper filters', () => {
  const hcm = {
    local_reply_config: { mappers: [{ filter: { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 503, runtime_key: 'lr.status' } } } }, status_code: 418 }] },
  };
  const routes = [{ name: 'api', match: { prefix: '/api' }, route: { cluster: 'backend' } }];

  it('a status_code_filter compares against the runtime value of its runtime_key', async () => {
    const p = await proxy({ hcm, routes }, { runtime: { 'lr.status': 404 } });
    expect(await p.send({ path: '/nowhere' })).toEqual([418]);
    const q = await proxy({ hcm, routes });
    expect(await q.send({ path: '/nowhere' })).toEqual([404]);
  });

  it('a runtime_filter samples at the runtime percent of its runtime_key', async () => {
    const sampled = { local_reply_config: { mappers: [{ filter: { runtime_filter: { runtime_key: 'lr.sample', percent_sampled: percent(0) } }, status_code: 418 }] } };
    const p = await proxy({ hcm: sampled, routes }, { runtime: { 'lr.sample': 100 } });
    expect(await p.send({ path: '/nowhere' })).toEqual([418]);
    const q = await proxy({ hcm: sampled, routes });
    expect(await q.send({ path: '/nowhere' })).toEqual([404]);
  });
});

describe('cluster runtime keys', () => {
  it('circuit_breakers.<cluster>.default.max_requests caps concurrent requests below the configured limit', async () => {
    const statuses = async (runtime?: Record<string, unknown>) => {
      const p = await proxy({}, runtime ? { runtime } : {}, () => undefined);
      p.dial().write(rawRequest({ path: '/first' }));
      await settle();
      const c = p.dial();
      c.write(rawRequest({ path: '/second' }));
      await settle();
      return { upstream: p.origin.requests.length, overflow: p.stat('cluster.backend.upstream_rq_pending_overflow') };
    };
    expect(await statuses({ circuit_breakers: { backend: { default: { max_requests: 1 } } } })).toEqual({ upstream: 1, overflow: 1 });
    expect(await statuses()).toEqual({ upstream: 2, overflow: 0 });
  });

  it('upstream.healthy_panic_threshold from the runtime decides whether an all-unhealthy cluster panics', async () => {
    const backend = {
      health_checks: [{ timeout: '1s', interval: '10s', unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: '/healthz' } }],
      common_lb_config: { healthy_panic_threshold: { value: 0 } },
    };
    const down = (req: { path: string }) => (req.path === '/healthz' ? 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n' : ok('upstream'));
    // Panic threshold 0 (the config): no healthy host, no panic, 503. 50 by runtime: panic routes to the unhealthy host.
    const q = await proxy({}, { backend }, down);
    expect(await q.send({ path: '/x' })).toEqual([503]);
    const p = await proxy({}, { backend, runtime: { upstream: { healthy_panic_threshold: 50 } } }, down);
    expect(await p.send({ path: '/x' })).toEqual([200]);
    expect(p.stat('cluster.backend.lb_healthy_panic')).toBe(1);
  });
});
