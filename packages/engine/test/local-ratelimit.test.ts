/**
 * envoy.filters.http.local_ratelimit: the token bucket on the engine clock, enabled and
 * enforced fractions, per-route buckets, and one bucket shared by all connections and workers.
 */
import type { FactEvent, TraceEvent } from '@proxyscope/protocol';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../src/http/filters/local-ratelimit';
import { ManualClock } from '../src/seams/clock';
import { FILTER_CONFIG_TYPE, LOCAL_RATELIMIT_TYPE, loadEnvoy, percent, rateLimitFilter, type EnvoyConfigOptions } from './support/envoy-config';
import { MemoryOrigin, ok, settle, startSimulated, type SimulatedProxy } from './support/memory-origin';
import { eventually, httpRequest, parseAccessLog, parseResponses, startProxy, startUpstream } from './support/upstreams';

const GET = (path = '/x') => `GET ${path} HTTP/1.1\r\nHost: example.com\r\n\r\n`;
const bucket = (max_tokens: number, fill_interval = '1s', tokens_per_fill = 1) => ({ max_tokens, tokens_per_fill, fill_interval });
const always = { default_value: percent(100) };
const limited = (stat_prefix: string, extra: Record<string, unknown> = {}) => ({ stat_prefix, token_bucket: bucket(2), filter_enabled: always, filter_enforced: always, ...extra });
const counters = (p: { stat(name: string): number }, prefix: string) =>
  Object.fromEntries(['enabled', 'ok', 'rate_limited', 'enforced'].map((s) => [s, p.stat(`${prefix}.http_local_rate_limit.${s}`)]));

async function simulated(options: EnvoyConfigOptions) {
  const proxy = await startSimulated(loadEnvoy(options), new MemoryOrigin(() => ok()));
  const events: TraceEvent[] = [];
  proxy.engine.tracer.attach((e) => events.push(e));
  const c = proxy.dial();
  /** sends each path in turn on one keep-alive connection; returns every status so far */
  const send = async (...paths: string[]) => {
    for (const path of paths) {
      c.write(GET(path));
      await settle();
    }
    return parseResponses(Buffer.from(c.text(), 'latin1'));
  };
  const facts = () => events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === 'filter.ratelimit').map((e) => e.data);
  return { ...proxy, send, facts };
}

async function finish(p: SimulatedProxy): Promise<void> {
  await p.engine.stop();
  await settle();
  expect(p.stat('http.ingress_http.downstream_cx_active')).toBe(0);
  expect(p.clock.pendingTimers()).toBe(0);
}

describe('TokenBucket', () => {
  it('starts full, gains tokens_per_fill every fill_interval up to max_tokens, without a timer', () => {
    const clock = new ManualClock();
    const b = new TokenBucket(clock, 2, 1, 1000);
    expect([b.consume(), b.consume(), b.consume()]).toEqual([true, true, false]);
    clock.advance(999);
    expect(b.consume()).toBe(false);
    clock.advance(1);
    expect(b.consume()).toBe(true);
    clock.advance(10_000);
    expect(b.remaining).toBe(2);
    // Fills land on the bucket's own schedule (every 1000 ms from its start), not from the last request.
    clock.advance(500);
    b.consume();
    b.consume();
    clock.advance(500);
    expect(b.remaining).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('local rate limit', () => {
  it('answers 429 "local_rate_limited" with flag RL and response_headers_to_add once the bucket is empty; a fill lets one more through', async () => {
    const p = await simulated({
      httpFilters: [rateLimitFilter(limited('web', { response_headers_to_add: [{ header: { key: 'x-local-rate-limit', value: 'true' } }] }))],
    });
    const responses = await p.send('/1', '/2', '/3');
    expect(responses.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(responses[2]!.body.toString()).toBe('local_rate_limited');
    expect(responses[2]!.headers['x-local-rate-limit']).toBe('true');
    expect(responses[0]!.headers['x-local-rate-limit']).toBeUndefined();
    expect(parseAccessLog(p.logs[2]!)).toMatchObject({ status: 429, flags: 'RL' });
    expect(counters(p, 'web')).toEqual({ enabled: 3, ok: 2, rate_limited: 1, enforced: 1 });
    expect(p.origin.requests.map((r) => r.path)).toEqual(['/1', '/2']);
    expect(p.facts()[2]).toMatchObject({ result: 'rate_limited', enforced: true, status: 429, stat_prefix: 'web' });
    await p.advance(1000);
    expect((await p.send('/4')).map((r) => r.status)).toEqual([200, 200, 429, 200]);
    await finish(p);
  });

  it('does nothing while filter_enabled is unset (0%, as in Envoy)', async () => {
    const p = await simulated({ httpFilters: [rateLimitFilter({ stat_prefix: 'web', token_bucket: bucket(1) })] });
    expect((await p.send('/1', '/2', '/3')).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(counters(p, 'web')).toEqual({ enabled: 0, ok: 0, rate_limited: 0, enforced: 0 });
    expect(p.facts()[0]).toMatchObject({ result: 'not_enabled', filter_enabled: '0%' });
    await finish(p);
  });

  it('when not enforced, counts rate_limited but lets the request through with request_headers_to_add_when_not_enforced', async () => {
    const p = await simulated({
      httpFilters: [
        rateLimitFilter({
          stat_prefix: 'shadow',
          token_bucket: bucket(1),
          filter_enabled: always,
          request_headers_to_add_when_not_enforced: [{ header: { key: 'x-would-be-limited', value: 'yes' } }],
        }),
      ],
    });
    expect((await p.send('/1', '/2')).map((r) => r.status)).toEqual([200, 200]);
    expect(p.origin.requests.map((r) => r.headers['x-would-be-limited'])).toEqual([undefined, 'yes']);
    expect(counters(p, 'shadow')).toEqual({ enabled: 2, ok: 1, rate_limited: 1, enforced: 0 });
    await finish(p);
  });

  it('uses the configured status, and 429 for one below 400', async () => {
    const p = await simulated({ httpFilters: [rateLimitFilter(limited('a', { status: { code: 503 }, token_bucket: bucket(1) }))] });
    expect((await p.send('/1', '/2')).map((r) => r.status)).toEqual([200, 503]);
    const q = await simulated({ httpFilters: [rateLimitFilter(limited('b', { status: { code: 200 }, token_bucket: bucket(1) }))] });
    expect((await q.send('/1', '/2')).map((r) => r.status)).toEqual([200, 429]);
    await finish(p);
    await finish(q);
  });

  it('a route or virtual host config has its own bucket and stats; FilterConfig disabled turns the filter off for a route', async () => {
    const perRoute = (stat_prefix: string, max: number) => ({ '@type': LOCAL_RATELIMIT_TYPE, ...limited(stat_prefix, { token_bucket: bucket(max, '60s') }) });
    const p = await simulated({
      // The filter itself limits nothing: no token bucket (only routes do).
      httpFilters: [rateLimitFilter({ stat_prefix: 'global', filter_enabled: always, filter_enforced: always })],
      vhost: { typed_per_filter_config: { 'envoy.filters.http.local_ratelimit': perRoute('vhost', 1) } },
      routes: [
        { name: 'api', match: { prefix: '/api' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.local_ratelimit': perRoute('api', 2) } },
        { name: 'health', match: { prefix: '/health' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.local_ratelimit': { '@type': FILTER_CONFIG_TYPE, disabled: true } } },
        { name: 'rest', match: { prefix: '/' }, route: { cluster: 'backend' } },
      ],
    });
    const statuses = (await p.send('/api', '/api', '/api', '/other', '/other', '/health', '/health', '/health')).map((r) => r.status);
    expect(statuses).toEqual([200, 200, 429, 200, 429, 200, 200, 200]);
    expect(counters(p, 'api')).toEqual({ enabled: 3, ok: 2, rate_limited: 1, enforced: 1 });
    expect(counters(p, 'vhost')).toEqual({ enabled: 2, ok: 1, rate_limited: 1, enforced: 1 });
    expect(counters(p, 'global')).toEqual({ enabled: 0, ok: 0, rate_limited: 0, enforced: 0 });
    await finish(p);
  });

  it('shares one bucket across connections and workers (real sockets, 2 workers)', async () => {
    const up = await startUpstream();
    const config = loadEnvoy({
      listenerPort: 0,
      clusterPort: up.port,
      httpFilters: [rateLimitFilter({ stat_prefix: 'edge', token_bucket: bucket(3, '3600s'), filter_enabled: always, filter_enforced: always })],
    });
    const proxy = await startProxy(config, { concurrency: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await httpRequest(proxy.port, { path: `/${i}` })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    // Six connections, round robin over both workers.
    const workers = new Set(proxy.events.filter((e) => e.type === 'fact' && e.fact === 'connection.worker_assigned').map((e) => e.ids.worker));
    expect(workers).toEqual(new Set([0, 1]));
    expect(up.requests).toHaveLength(3);
    await eventually(() => proxy.logs.length === 6, 'six access log lines');
    expect(proxy.logs.filter((l) => parseAccessLog(l).flags === 'RL')).toHaveLength(3);
  });
});
