/**
 * Retries and router timeouts on a ManualClock with the in-memory transport, where every
 * millisecond is exact: back-off bounds, per-try timeouts, scenario D of the semantics doc
 * (§9), the route timeout during a back-off, rate-limited back-off, the x-envoy-* control
 * headers of internal requests, attempt-count headers and retry body buffering.
 */
import type { TraceEvent } from '@proxyscope/protocol';
import { describe, expect, it } from 'vitest';
import type { RetryPolicy, RouteAction, VirtualHost } from '../src/config/types';
import { ManualClock, ProxyEngine } from '../src/index';
import * as b from './support/config-builders';
import { MemoryUpstream, memoryTransportTo, type MemoryAnswer, type MemoryRequest } from './support/memory-upstream';
import { parseAccessLog, parseResponses } from './support/upstreams';

/** Drain queued microtasks (the in-memory transport delivers bytes on them). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 30; i++) await Promise.resolve();
};


interface Options {
  route?: Partial<RouteAction>;
  vhost?: Partial<VirtualHost>;
  answer: (request: MemoryRequest) => MemoryAnswer;
  onHead?: boolean;
  seed?: number;
  /** the cluster's port; nothing but 8080 accepts connections */
  port?: number;
}

async function start(options: Options) {
  const clock = new ManualClock();
  const upstream = new MemoryUpstream(clock, options.answer, { onHead: options.onHead });
  const transport = memoryTransportTo(new Map([[8080, upstream]]));
  const vhost = { ...b.vhost('all', ['*'], [b.route({ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend', ...options.route } })]), ...options.vhost };
  const config = b.bootstrap(
    [b.listener(b.hcm(b.routeConfig([vhost]), { access_log: [{ name: 'envoy.access_loggers.stdout' }] }), 10000)],
    [b.cluster('backend', [options.port ?? 8080])],
  );
  const logs: string[] = [];
  const engine = new ProxyEngine({ config, transport, clock, seed: options.seed ?? 1, accessLog: (line) => logs.push(line) });
  const events: TraceEvent[] = [];
  engine.tracer.attach((e) => events.push(e));
  await engine.start();
  const stat = (name: string): number => engine.stats.valueOf(`cluster.backend.${name}`) ?? 0;
  const host = () => engine.clusterManager.get('backend')!.hosts[0]!.stats;

  /** Sends `text` on a new downstream connection. */
  const send = (text: string) => {
    const client = transport.dial('127.0.0.1', 10000);
    client.write(text);
    return client;
  };
  /** Advances the clock `ms` in 1 ms steps, letting bytes move after each step. */
  const run = async (ms: number): Promise<void> => {
    await settle();
    for (let i = 0; i < ms; i++) {
      clock.advance(1);
      await settle();
    }
  };
  /** Advances 1 ms at a time until the client has a complete response; returns it and the time. */
  const until = async (client: ReturnType<typeof send>, limit = 20_000) => {
    await settle();
    for (let i = 0; i < limit; i++) {
      const [response] = parseResponses(Buffer.from(client.text(), 'latin1'));
      if (response) return { response, at: clock.now() };
      clock.advance(1);
      await settle();
    }
    throw new Error(`no response after ${limit} ms: ${JSON.stringify(client.text())}`);
  };
  const facts = (name: string) => events.filter((e) => e.type === 'fact' && e.fact === name).map((e) => (e as { data: Record<string, unknown> }).data);
  /** Stops the engine; every pool gauge must be back at 0. */
  const finish = async (): Promise<void> => {
    await engine.stop();
    await settle();
    expect(stat('upstream_rq_active')).toBe(0);
    expect(stat('upstream_rq_pending_active')).toBe(0);
    expect(stat('upstream_cx_active')).toBe(0);
    expect(engine.clusterManager.get('backend')!.resources.retries.count).toBe(0);
  };
  return { clock, engine, upstream, logs, events, stat, host, send, run, until, facts, finish };
}

const GET = 'GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n';

describe('back-off', () => {
  it('waits random % interval before each retry: [0,25), [0,50), [0,100) ms with the defaults', async () => {
    const s = await start({ route: { retry_policy: b.retryPolicy({ num_retries: 3 }) }, answer: (r) => ({ status: r.index < 3 ? 503 : 200 }), seed: 3 });
    const client = s.send(GET);
    const { response } = await s.until(client);
    expect(response.status).toBe(200);
    const at = s.upstream.requests.map((r) => r.at);
    expect(at).toHaveLength(4);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    const planned = s.facts('retry.backoff');
    expect(planned.map((f) => f.range)).toEqual([
      [0, 25],
      [0, 50],
      [0, 100],
    ]);
    // Each retry goes out exactly when its drawn wait has elapsed.
    expect(gaps).toEqual(planned.map((f) => f.ms));
    gaps.forEach((gap, i) => expect(gap).toBeLessThan([25, 50, 100][i]!));
    expect(s.stat('upstream_rq_retry_backoff_exponential')).toBe(3);
    await s.finish();
  });

  it('a rate-limited answer waits its reset header instead, jittered to [interval, 1.5 x interval)', async () => {
    const policy = b.retryPolicy({ rate_limited_retry_back_off: { reset_headers: [{ name: 'retry-after', format: 'SECONDS' }], max_interval: 300_000 } });
    const s = await start({ route: { retry_policy: policy }, answer: (r) => (r.index === 0 ? { status: 503, headers: { 'retry-after': '2' } } : { status: 200 }) });
    const client = s.send(GET);
    const { response } = await s.until(client);
    expect(response.status).toBe(200);
    const gap = s.upstream.requests[1]!.at - s.upstream.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(2000);
    expect(gap).toBeLessThan(3000);
    expect(s.stat('upstream_rq_retry_backoff_ratelimited')).toBe(1);
    expect(s.stat('upstream_rq_retry_backoff_exponential')).toBe(0);
    await s.finish();
  });
});

describe('per-try timeout', () => {
  it('resets the attempt exactly when it elapses and retries it (5xx covers the local reset)', async () => {
    const s = await start({ route: { retry_policy: b.retryPolicy({ per_try_timeout: 1000 }) }, answer: (r) => (r.index === 0 ? 'hang' : { status: 200, body: 'second' }) });
    const client = s.send(GET);
    const { response } = await s.until(client);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('second');
    // The first attempt's connection was closed at 1000 ms; the retry followed after its back-off.
    expect(s.upstream.closedAt[0]).toBe(1000);
    expect(s.upstream.requests[1]!.at - 1000).toBeLessThan(25);
    expect(s.stat('upstream_rq_per_try_timeout')).toBe(1);
    expect(s.stat('upstream_rq_timeout')).toBe(0);
    expect(s.host().rq_timeout).toBe(1);
    expect(s.host().rq_error).toBe(1);
    expect(s.host().rq_success).toBe(1);
    await s.finish();
  });

  it('is not retried under connect-failure alone: 504 UT "upstream request timeout"', async () => {
    const s = await start({ route: { retry_policy: b.retryPolicy({ retry_on: ['connect-failure'], per_try_timeout: 1000 }) }, answer: () => 'hang' });
    const client = s.send(GET);
    const { response, at } = await s.until(client);
    expect(at).toBe(1000);
    expect(response.status).toBe(504);
    expect(response.body.toString()).toBe('upstream request timeout');
    expect(s.upstream.requests).toHaveLength(1);
    expect(s.stat('upstream_rq_per_try_timeout')).toBe(1);
    expect(s.stat('upstream_rq_retry')).toBe(0);
    expect(parseAccessLog(s.logs[0]!)).toMatchObject({ status: 504, flags: 'UT' });
    await s.finish();
  });

  it('starts only when the whole request has arrived', async () => {
    const s = await start({ route: { retry_policy: b.retryPolicy({ retry_on: [], per_try_timeout: 1000 }) }, answer: () => 'hang' });
    const client = s.send('POST /x HTTP/1.1\r\nHost: example.com\r\ncontent-length: 5\r\n\r\n');
    await s.run(500);
    client.write('hello');
    const { response, at } = await s.until(client);
    expect([response.status, at]).toEqual([504, 1500]);
    await s.finish();
  });

  it('applies without retries too: a route policy with only per_try_timeout bounds the one attempt', async () => {
    const s = await start({ route: { retry_policy: b.retryPolicy({ retry_on: [], per_try_timeout: 300 }) }, answer: () => 'hang' });
    const { response, at } = await s.until(s.send(GET));
    expect([response.status, at]).toEqual([504, 300]);
    expect(s.facts('retry.policy')).toEqual([]);
    await s.finish();
  });
});

describe('scenario D: per_try_timeout 1s, num_retries 2, upstream never answers', () => {
  it('route timeout 4s: attempts end at 1.0 s, <= 2.025 s, <= 3.075 s; 504 UT,URX; no upstream_rq_timeout', async () => {
    const s = await start({ route: { timeout: 4000, retry_policy: b.retryPolicy({ num_retries: 2, per_try_timeout: 1000 }) }, answer: () => 'hang' });
    const client = s.send(GET);
    const { response, at } = await s.until(client);
    const starts = s.upstream.requests.map((r) => r.at);
    expect(starts).toHaveLength(3);
    expect(s.upstream.closedAt.slice(0, 3)).toEqual(starts.map((t) => t + 1000));
    expect(s.upstream.closedAt[0]).toBe(1000);
    expect(s.upstream.closedAt[1]).toBeLessThanOrEqual(2025);
    expect(s.upstream.closedAt[2]).toBeLessThanOrEqual(3075);
    expect(at).toBe(starts[2]! + 1000);
    expect(response.status).toBe(504);
    expect(response.body.toString()).toBe('upstream request timeout');
    expect(s.stat('upstream_rq_per_try_timeout')).toBe(3);
    expect(s.stat('upstream_rq_retry')).toBe(2);
    expect(s.stat('upstream_rq_retry_limit_exceeded')).toBe(1);
    expect(s.stat('upstream_rq_timeout')).toBe(0);
    expect(parseAccessLog(s.logs[0]!)).toMatchObject({ status: 504, flags: 'UT,URX' });
    await s.finish();
  });

  it('route timeout 2.5s: the route timeout fires during attempt 3 at exactly 2.5 s; flags UT', async () => {
    const s = await start({ route: { timeout: 2500, retry_policy: b.retryPolicy({ num_retries: 2, per_try_timeout: 1000 }) }, answer: () => 'hang' });
    const client = s.send(GET);
    const { response, at } = await s.until(client);
    expect(at).toBe(2500);
    expect(response.status).toBe(504);
    expect(s.upstream.requests).toHaveLength(3);
    expect(s.stat('upstream_rq_timeout')).toBe(1);
    expect(s.stat('upstream_rq_per_try_timeout')).toBe(2);
    expect(s.stat('upstream_rq_retry_limit_exceeded')).toBe(0);
    expect(parseAccessLog(s.logs[0]!)).toMatchObject({ status: 504, flags: 'UT' });
    expect(s.facts('router.timeout').map((f) => [f.kind, f.during])).toEqual([
      ['per_try', undefined],
      ['per_try', undefined],
      ['global', 'attempt'],
    ]);
    await s.finish();
  });
});

describe('route timeout', () => {
  it('starts only when the whole request has arrived, and an upload slower than it is not cut short', async () => {
    const s = await start({ route: { timeout: 1000 }, answer: () => 'hang' });
    const client = s.send('POST /x HTTP/1.1\r\nHost: example.com\r\ncontent-length: 5\r\n\r\n');
    await s.run(1500);
    expect(client.text()).toBe('');
    client.write('hello');
    const { response, at } = await s.until(client);
    expect([response.status, at]).toEqual([504, 2500]);
    expect(s.stat('upstream_rq_timeout')).toBe(1);
    await s.finish();
  });

  it('a route timeout of 0 disables it: a hung upstream is waited on', async () => {
    const s = await start({ route: { timeout: 0 }, answer: () => 'hang' });
    const client = s.send(GET);
    // Well past the 15 s a route without `timeout` gets.
    await s.run(20_000);
    expect(client.text()).toBe('');
    expect(s.facts('router.timeout')).toEqual([]);
    await s.finish();
  });

  it('fires during a back-off: 504 UT, the retry never goes out, no upstream_rq_timeout', async () => {
    const policy = b.retryPolicy({ rate_limited_retry_back_off: { reset_headers: [{ name: 'retry-after', format: 'SECONDS' }], max_interval: 300_000 } });
    const s = await start({ route: { timeout: 3000, retry_policy: policy }, answer: () => ({ status: 503, headers: { 'retry-after': '10' } }) });
    const client = s.send(GET);
    const { response, at } = await s.until(client);
    expect(at).toBe(3000);
    expect(response.status).toBe(504);
    expect(s.upstream.requests).toHaveLength(1);
    expect(s.stat('upstream_rq_timeout')).toBe(0);
    expect(s.stat('upstream_rq_retry')).toBe(1);
    expect(s.facts('router.timeout')).toMatchObject([{ kind: 'global', during: 'backoff' }]);
    expect(parseAccessLog(s.logs[0]!)).toMatchObject({ status: 504, flags: 'UT' });
    await s.run(20_000);
    expect(s.upstream.requests).toHaveLength(1);
    await s.finish();
  });
});

describe('policy source', () => {
  it("a virtual host's policy applies to routes without one", async () => {
    const s = await start({ vhost: { retry_policy: b.retryPolicy() }, answer: (r) => ({ status: r.index === 0 ? 503 : 200 }) });
    const { response } = await s.until(s.send(GET));
    expect(response.status).toBe(200);
    expect(s.facts('retry.policy')).toMatchObject([{ source: 'virtual_host' }]);
    await s.finish();
  });

  it("a route's policy replaces the virtual host's whole: connect-failure alone does not retry a 503", async () => {
    const s = await start({
      vhost: { retry_policy: b.retryPolicy({ num_retries: 3 }) },
      route: { retry_policy: b.retryPolicy({ retry_on: ['connect-failure'] }) },
      answer: () => ({ status: 503 }),
    });
    const { response } = await s.until(s.send(GET));
    expect(response.status).toBe(503);
    expect(s.upstream.requests).toHaveLength(1);
    expect(s.facts('retry.decision')).toMatchObject([{ decision: 'no_retry' }]);
    expect(s.facts('retry.policy')).toMatchObject([{ source: 'route', retryOn: ['connect-failure'], numRetries: 1 }]);
    await s.finish();
  });
});

describe('downstream going away', () => {
  it('during a back-off: the retry never goes out and the retry resource is given back', async () => {
    const policy = b.retryPolicy({ rate_limited_retry_back_off: { reset_headers: [{ name: 'retry-after', format: 'SECONDS' }], max_interval: 300_000 } });
    const s = await start({ route: { retry_policy: policy }, answer: () => ({ status: 503, headers: { 'retry-after': '1' } }) });
    const client = s.send(GET);
    await s.run(10);
    expect(s.engine.clusterManager.get('backend')!.resources.retries.count).toBe(1);
    client.destroy();
    await s.run(2000);
    expect(s.upstream.requests).toHaveLength(1);
    expect(s.engine.clusterManager.get('backend')!.resources.retries.count).toBe(0);
    const retry = s.events.filter((e) => e.machine === 'retry' && e.type === 'transition').map((e) => (e as { to: string }).to);
    expect(retry).toEqual(['backoff', 'cancelled']);
    await s.finish();
  });
});

describe('x-envoy-* control headers', () => {
  it('an internal request sets retries with x-envoy-retry-on / x-envoy-max-retries; the upstream never sees them', async () => {
    const s = await start({ answer: (r) => ({ status: r.index < 2 ? 503 : 200 }) });
    const client = s.send('GET /x HTTP/1.1\r\nHost: example.com\r\nx-envoy-retry-on: 5xx\r\nx-envoy-max-retries: 2\r\n\r\n');
    const { response } = await s.until(client);
    expect(response.status).toBe(200);
    expect(s.upstream.requests).toHaveLength(3);
    for (const r of s.upstream.requests) {
      expect(r.headers['x-envoy-retry-on']).toBeUndefined();
      expect(r.headers['x-envoy-max-retries']).toBeUndefined();
    }
    expect(s.facts('retry.policy')).toMatchObject([{ source: 'request_headers', numRetries: 2, headers: ['x-envoy-retry-on', 'x-envoy-max-retries'] }]);
    await s.finish();
  });

  it('an external request (x-forwarded-for) has them removed unread', async () => {
    const s = await start({ answer: () => ({ status: 503 }) });
    const client = s.send('GET /x HTTP/1.1\r\nHost: example.com\r\nx-forwarded-for: 203.0.113.7\r\nx-envoy-retry-on: 5xx\r\nx-envoy-upstream-rq-timeout-ms: 5\r\n\r\n');
    const { response } = await s.until(client);
    expect(response.status).toBe(503);
    expect(s.upstream.requests).toHaveLength(1);
    expect(s.upstream.requests[0]!.headers['x-envoy-retry-on']).toBeUndefined();
    expect(s.upstream.requests[0]!.headers['x-envoy-upstream-rq-timeout-ms']).toBeUndefined();
    expect(s.upstream.requests[0]!.headers['x-envoy-expected-rq-timeout-ms']).toBe('15000');
    expect(s.stat('upstream_rq_retry')).toBe(0);
    await s.finish();
  });

  it('x-envoy-upstream-rq-timeout-ms replaces the route timeout; the upstream is told the new one', async () => {
    const s = await start({ answer: () => 'hang' });
    const client = s.send('GET /x HTTP/1.1\r\nHost: example.com\r\nx-envoy-upstream-rq-timeout-ms: 120\r\n\r\n');
    const { response, at } = await s.until(client);
    expect([response.status, at]).toEqual([504, 120]);
    expect(s.upstream.requests[0]!.headers['x-envoy-expected-rq-timeout-ms']).toBe('120');
    expect(s.stat('upstream_rq_timeout')).toBe(1);
    await s.finish();
  });

  it('x-envoy-upstream-rq-per-try-timeout-ms sets a per-try timeout (retried under x-envoy-retry-on: reset)', async () => {
    const s = await start({ answer: (r) => (r.index === 0 ? 'hang' : { status: 200 }) });
    const client = s.send('GET /x HTTP/1.1\r\nHost: example.com\r\nx-envoy-retry-on: reset\r\nx-envoy-upstream-rq-per-try-timeout-ms: 200\r\n\r\n');
    const { response } = await s.until(client);
    expect(response.status).toBe(200);
    expect(s.upstream.closedAt[0]).toBe(200);
    expect(s.upstream.requests[0]!.headers['x-envoy-expected-rq-timeout-ms']).toBe('200');
    expect(s.stat('upstream_rq_per_try_timeout')).toBe(1);
    await s.finish();
  });

  it('x-envoy-upstream-rq-timeout-alt-response makes a timeout a 204 with no body', async () => {
    const s = await start({ route: { timeout: 50 }, answer: () => 'hang' });
    const { response } = await s.until(s.send('GET /x HTTP/1.1\r\nHost: example.com\r\nx-envoy-upstream-rq-timeout-alt-response: 1\r\n\r\n'));
    expect(response.status).toBe(204);
    expect(response.body.length).toBe(0);
    await s.finish();
  });
});

describe('attempt count headers', () => {
  it('include_request_attempt_count numbers each attempt upstream; include_attempt_count_in_response reports the total', async () => {
    const s = await start({
      vhost: { include_request_attempt_count: true, include_attempt_count_in_response: true },
      route: { retry_policy: b.retryPolicy({ num_retries: 2 }) },
      answer: (r) => ({ status: r.index < 2 ? 503 : 200 }),
    });
    const { response } = await s.until(s.send(GET));
    expect(s.upstream.requests.map((r) => r.headers['x-envoy-attempt-count'])).toEqual(['1', '2', '3']);
    expect(response.headers['x-envoy-attempt-count']).toBe('3');
    await s.finish();
  });

  it('a local reply after retries carries the count too, and says it was retried', async () => {
    const s = await start({ port: 8081, vhost: { include_attempt_count_in_response: true }, route: { retry_policy: b.retryPolicy({ retry_on: ['connect-failure'] }) }, answer: () => ({ status: 200 }) });
    const { response } = await s.until(s.send(GET));
    expect(response.status).toBe(503);
    expect(response.headers['x-envoy-attempt-count']).toBe('2');
    expect(response.body.toString()).toBe(
      'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: 111',
    );
    expect(parseAccessLog(s.logs[0]!)).toMatchObject({ status: 503, flags: 'UF,URX' });
    await s.finish();
  });

  it('without the flags neither side sees x-envoy-attempt-count', async () => {
    const s = await start({ route: { retry_policy: b.retryPolicy() }, answer: (r) => ({ status: r.index === 0 ? 503 : 200 }) });
    const { response } = await s.until(s.send(GET));
    expect(s.upstream.requests.map((r) => r.headers['x-envoy-attempt-count'])).toEqual([undefined, undefined]);
    expect(response.headers['x-envoy-attempt-count']).toBeUndefined();
    await s.finish();
  });
});

describe('request body and retries', () => {
  it('the body is replayed to the retry', async () => {
    const s = await start({ route: { retry_policy: b.retryPolicy() }, answer: (r) => ({ status: r.index === 0 ? 503 : 200 }) });
    const { response } = await s.until(s.send('POST /x HTTP/1.1\r\nHost: example.com\r\ncontent-length: 11\r\n\r\nhello world'));
    expect(response.status).toBe(200);
    expect(s.upstream.requests.map((r) => r.body)).toEqual(['hello world', 'hello world']);
    await s.finish();
  });

  it('a body over 1 MiB abandons retries (retry_or_shadow_abandoned); the 503 passes through', async () => {
    const size = 1024 * 1024 + 10;
    const s = await start({ route: { retry_policy: b.retryPolicy() }, answer: () => ({ status: 503 }) });
    const client = s.send(`POST /x HTTP/1.1\r\nHost: example.com\r\ncontent-length: ${size}\r\n\r\n`);
    client.write('a'.repeat(size));
    const { response } = await s.until(client);
    expect(response.status).toBe(503);
    expect(s.upstream.requests).toHaveLength(1);
    expect(s.upstream.requests[0]!.body.length).toBe(size);
    expect(s.stat('retry_or_shadow_abandoned')).toBe(1);
    expect(s.stat('upstream_rq_retry')).toBe(0);
    expect(s.facts('retry.abandoned')).toHaveLength(1);
    await s.finish();
  });

  it('a body that passes 1 MiB during the back-off fails the request with 507', async () => {
    const size = 1024 * 1024 + 10;
    const policy = b.retryPolicy({ rate_limited_retry_back_off: { reset_headers: [{ name: 'retry-after', format: 'SECONDS' }], max_interval: 300_000 } });
    const s = await start({ route: { retry_policy: policy }, onHead: true, answer: () => ({ status: 503, headers: { 'retry-after': '5' } }) });
    const client = s.send(`POST /x HTTP/1.1\r\nHost: example.com\r\ncontent-length: ${size}\r\n\r\n`);
    await s.run(1);
    expect(s.facts('retry.backoff')).toHaveLength(1);
    client.write('a'.repeat(size));
    const { response } = await s.until(client);
    expect(response.status).toBe(507);
    expect(response.body.toString()).toBe('exceeded request buffer limit while retrying upstream');
    expect(s.stat('retry_or_shadow_abandoned')).toBe(1);
    expect(s.upstream.requests).toHaveLength(1);
    await s.finish();
  });
});

describe('trace', () => {
  it('reports each decision with its reason, the back-off, and the retry machine transitions', async () => {
    const s = await start({ route: { retry_policy: b.retryPolicy({ num_retries: 1 }) }, answer: () => ({ status: 503 }) });
    await s.until(s.send(GET));
    await s.run(1);
    expect(s.facts('retry.decision')).toMatchObject([
      { attempt: 1, trigger: 'response', status: 503, decision: 'retry', reason: '503 matches 5xx', retriesRemaining: 0 },
      { attempt: 2, trigger: 'response', status: 503, decision: 'limit_exceeded', reason: 'retriable, but no retries left (num_retries 1)' },
    ]);
    const retry = s.events.filter((e) => e.machine === 'retry');
    expect(retry[0]).toMatchObject({ type: 'spawn', state: 'idle' });
    expect(retry.filter((e) => e.type === 'transition').map((e) => [(e as { from: string }).from, (e as { to: string }).to, (e as { envoy?: string }).envoy])).toEqual([
      ['idle', 'backoff', 'RetryStateImpl::enableBackoffTimer'],
      ['backoff', 'retrying', 'Router::Filter::doRetry'],
      ['retrying', 'exhausted', 'RetryStateImpl::shouldRetry (RetryStatus::NoRetryLimitExceeded)'],
    ]);
    expect(retry[0]!.actor).toMatch(/\/stream:\d+\/router\/retry$/);
    const attempts = [...new Set(s.events.filter((e) => e.machine === 'upstream_request').map((e) => e.actor.replace(/.*\//, '')))];
    expect(attempts).toEqual(['upstream:1', 'upstream:2']);
    const router = s.events.filter((e) => e.machine === 'router' && e.type === 'transition').map((e) => (e as { to: string }).to);
    expect(router).toEqual(['route_matched', 'cluster_selected', 'host_selected', 'upstream_pending', 'retry_backoff', 'upstream_pending', 'response_started', 'complete']);
    await s.finish();
  });
});
