/**
 * Retries on virtual time (support/sim-world.ts): the worked scenarios A, B, C and E of
 * the semantics doc (§9) with their exact stat deltas, the previous_hosts predicate, the
 * back-off waits to the virtual millisecond, and the pool gauges back at 0 after every test.
 */
import { describe, expect, it } from 'vitest';
import type { Bootstrap, Cluster, RetryPolicy } from '../src/config/types';
import { bootstrap, cluster, listener, retryPolicy as defaultRetryPolicy, route, vhost } from './support/config-builders';
import { SimWorld, type ScriptedAnswer, type ScriptedUpstreamOptions } from './support/sim-world';
import { loggedHcm } from './support/upstreams';

/** The scenarios of §9 use two retries. */
const retryPolicy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => defaultRetryPolicy({ num_retries: 2, ...overrides });

const PORT = 8001;
const UP = `127.0.0.1:${PORT}`;

/** One `*` virtual host routing everything to cluster `backend` with `policy`. */
function config(backend: Cluster, policy: RetryPolicy, vhostExtra: { include_attempt_count_in_response?: boolean } = {}): Bootstrap {
  const vh = { ...vhost('all', ['*'], [route({ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend', retry_policy: policy } })]), ...vhostExtra };
  return bootstrap([listener(loggedHcm([vh]))], [backend]);
}

/** An upstream answering from a list, in order (the last answer repeats). */
function scripted(answers: ScriptedAnswer[], name?: string): ScriptedUpstreamOptions {
  let n = 0;
  return { name, respond: () => answers[Math.min(n++, answers.length - 1)]! };
}

/** Weighted round robin 100:1:... on `ports`: the balancer picks the first about a hundred times in a row. */
function weighted(ports: number[]): Cluster {
  return cluster('backend', [], { endpoints: ports.map((port, i) => ({ address: { address: '127.0.0.1', port_value: port }, load_balancing_weight: i === 0 ? 100 : 1 })) });
}

/** At the instant of the response: nothing active or pending; once stopped, no upstream connection either. */
async function expectGaugesAtZero(world: SimWorld): Promise<void> {
  expect(world.stat('cluster.backend.upstream_rq_active')).toBe(0);
  expect(world.stat('cluster.backend.upstream_rq_pending_active')).toBe(0);
  expect(world.engine.clusterManager.get('backend')!.resources.retries.count).toBe(0);
  await world.stop();
  expect(world.stat('cluster.backend.upstream_cx_active')).toBe(0);
}

const hostStats = (world: SimWorld, i = 0) => world.engine.clusterManager.get('backend')!.hosts[i]!.stats;
const backoffs = (world: SimWorld) => world.facts('retry.backoff') as Array<{ attempt: number; ms: number; range: [number, number] }>;

describe('scenario A: retry_on 5xx, num_retries 2; the upstream answers 503, 503, 200', () => {
  it('the client gets the 200; retries and response codes are counted as Envoy does', async () => {
    const world = await SimWorld.start(config(cluster('backend', [PORT]), retryPolicy(), { include_attempt_count_in_response: true }), {
      upstreams: { [UP]: scripted([{ status: 503, body: 'busy' }, { status: 503, body: 'busy' }, { status: 200, body: 'ok' }]) },
    });
    const up = world.upstream(UP);
    const t0 = world.now();
    const res = world.request({ path: '/a' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
    expect(res.headers['x-envoy-attempt-count']).toBe('3');
    expect(up.requests).toHaveLength(3);
    const s = (n: string) => world.stat(`cluster.backend.${n}`);
    expect(s('upstream_rq_total')).toBe(3);
    expect(s('upstream_rq_retry')).toBe(2);
    expect(s('upstream_rq_retry_success')).toBe(1);
    expect(s('retry.upstream_rq_503')).toBe(2);
    expect(s('retry.upstream_rq_5xx')).toBe(2);
    expect(s('upstream_rq_200')).toBe(1);
    expect(s('upstream_rq_503')).toBe(0);
    expect(s('upstream_rq_completed')).toBe(1);
    expect(s('upstream_rq_retry_backoff_exponential')).toBe(2);
    expect(hostStats(world)).toMatchObject({ rq_error: 2, rq_success: 1 });
    expect(world.accessLog()).toMatchObject([{ status: 200, flags: '-' }]);

    // Each retry waits exactly its jittered back-off (25 ms base: [0, 25), then [0, 50)), and nothing else.
    const waits = backoffs(world);
    expect(waits.map((w) => w.range)).toEqual([[0, 25], [0, 50]]);
    for (const w of waits) expect(w.ms).toBeGreaterThanOrEqual(0);
    expect(waits[0]!.ms).toBeLessThan(25);
    expect(waits[1]!.ms).toBeLessThan(50);
    expect(up.requests.map((r) => r.at - t0)).toEqual([0, waits[0]!.ms, waits[0]!.ms + waits[1]!.ms]);
    expect(res.at - t0).toBe(waits[0]!.ms + waits[1]!.ms);
    await expectGaugesAtZero(world);
  });

  it('with previous_hosts and 3 hosts each attempt goes to a different host, even when the balancer prefers one', async () => {
    const ports = [8001, 8002, 8003];
    const world = await SimWorld.start(config(weighted(ports), retryPolicy({ previous_hosts: true, host_selection_retry_max_attempts: 300 })), {
      upstreams: Object.fromEntries(ports.map((port, i) => [`127.0.0.1:${port}`, { name: `h${i}`, respond: () => ({ status: i === 2 ? 200 : 503 }) }])),
    });
    const res = world.request({ path: '/a' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('h2 GET /a');
    expect(ports.map((p) => world.upstream(p).requests.length)).toEqual([1, 1, 1]);
    const picks = world.facts('lb.host_selected') as Array<{ host: string; reason: string }>;
    expect(picks.map((p) => p.host)).toEqual(['127.0.0.1:8001', '127.0.0.1:8002', '127.0.0.1:8003']);
    expect(picks[1]!.reason).toContain('previous_hosts rejected 127.0.0.1:8001');
    expect(world.stat('cluster.backend.upstream_rq_retry')).toBe(2);
    expect(world.accessLog()).toMatchObject([{ status: 200, flags: '-', upstreamHost: '127.0.0.1:8003' }]);
    await expectGaugesAtZero(world);
  });

  it('when every pick is a previous host (host_selection_retry_max_attempts 1), the last pick is used anyway', async () => {
    const world = await SimWorld.start(config(weighted([8001, 8002]), retryPolicy({ num_retries: 1, previous_hosts: true })), {
      upstreams: { '127.0.0.1:8001': scripted([{ status: 503 }, { status: 200 }]), '127.0.0.1:8002': scripted([{ status: 503 }, { status: 200 }]) },
    });
    const res = world.request();
    expect(res.status).toBe(200);
    expect([world.upstream(8001).requests.length, world.upstream(8002).requests.length]).toEqual([2, 0]);
    await expectGaugesAtZero(world);
  });
});

describe('scenario B: the upstream answers 503 three times', () => {
  it("the client gets the third 503 with the upstream's body; URX", async () => {
    let n = 0;
    const world = await SimWorld.start(config(cluster('backend', [PORT]), retryPolicy()), { upstreams: { [UP]: { respond: () => ({ status: 503, body: `attempt ${++n}` }) } } });
    const res = world.request();
    expect(res.status).toBe(503);
    expect(res.body).toBe('attempt 3');
    const s = (name: string) => world.stat(`cluster.backend.${name}`);
    expect(s('upstream_rq_retry')).toBe(2);
    expect(s('upstream_rq_retry_limit_exceeded')).toBe(1);
    expect(s('upstream_rq_retry_success')).toBe(0);
    expect(s('retry.upstream_rq_503')).toBe(2);
    expect(s('upstream_rq_503')).toBe(1);
    expect(hostStats(world)).toMatchObject({ rq_error: 3, rq_success: 0 });
    expect(world.accessLog()).toMatchObject([{ status: 503, flags: 'URX' }]);
    await expectGaugesAtZero(world);
  });
});

describe('scenario C: circuit breaker max_retries 1', () => {
  it('a second request failing while the first one holds the only retry gets its 503 with UO', async () => {
    let first = 0;
    const limited = cluster('backend', [PORT], { circuit_breakers: { max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 1 } });
    const world = await SimWorld.start(config(limited, retryPolicy()), {
      upstreams: {
        [UP]: {
          respond: (req) => {
            if (req.path === '/two') return { status: 503, body: 'two' };
            if (first++ === 0) return { status: 503, body: 'one' };
            // Request 1's retry stays in flight (holding the retry resource) while request 2 fails.
            return { status: 200, body: 'one retried', delayMs: 400 };
          },
        },
      },
    });
    const up = world.upstream(UP);
    const one = world.send({ path: '/one' });
    world.waitUntil(() => up.requests.length === 2, "request 1's retry at the upstream");
    const retriedAt = world.now();
    expect(world.engine.clusterManager.get('backend')!.resources.retries.count).toBe(1);
    const two = world.request({ path: '/two' });
    expect(two.status).toBe(503);
    expect(two.body).toBe('two');
    // Request 2's 503 was not retried: it came back at the instant it was sent.
    expect(two.at).toBe(retriedAt);
    const oneRes = world.response(one);
    expect(oneRes.body).toBe('one retried');
    expect(oneRes.at).toBe(retriedAt + 400);
    const s = (name: string) => world.stat(`cluster.backend.${name}`);
    expect(s('upstream_rq_retry_overflow')).toBe(1);
    expect(s('upstream_rq_retry')).toBe(1);
    expect(s('upstream_rq_retry_success')).toBe(1);
    expect(world.accessLog().map((l) => [l.path, l.status, l.flags])).toEqual([
      ['/two', 503, 'UO'],
      ['/one', 200, '-'],
    ]);
    await expectGaugesAtZero(world);
  });
});

describe('scenario E: retry_on connect-failure only, nothing accepts connections', () => {
  it('every attempt fails to connect and is retried; then 503 UF,URX, "retried and the latest reset reason"', async () => {
    const world = await SimWorld.start(config(cluster('backend', [PORT]), retryPolicy({ retry_on: ['connect-failure'] })), { upstreams: { [UP]: { refuse: true } } });
    const res = world.request();
    expect(res.status).toBe(503);
    expect(res.body).toBe(
      'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: 111',
    );
    expect(world.upstream(UP).refused).toBe(3);
    const s = (name: string) => world.stat(`cluster.backend.${name}`);
    expect(s('upstream_cx_connect_fail')).toBe(3);
    expect(s('upstream_cx_total')).toBe(3);
    expect(s('upstream_rq_pending_failure_eject')).toBe(3);
    expect(s('upstream_rq_retry')).toBe(2);
    expect(s('upstream_rq_retry_limit_exceeded')).toBe(1);
    expect(s('upstream_rq_total')).toBe(0);
    expect(s('upstream_rq_503')).toBe(1);
    expect(world.accessLog()).toMatchObject([{ status: 503, flags: 'UF,URX' }]);
    await expectGaugesAtZero(world);
  });
});

describe('connections of retried attempts', () => {
  it('a retried 503 whose body had not arrived closes its connection; a finished one leaves it for reuse', async () => {
    const withBody = await SimWorld.start(config(cluster('backend', [PORT]), retryPolicy()), { upstreams: { [UP]: scripted([{ status: 503, body: 'not now' }, { status: 200 }]) } });
    expect(withBody.request().status).toBe(200);
    expect(withBody.upstream(UP).requests.map((r) => r.connection)).toEqual([0, 1]);
    await expectGaugesAtZero(withBody);

    const empty = await SimWorld.start(config(cluster('backend', [PORT]), retryPolicy()), { upstreams: { [UP]: scripted([{ status: 503, body: '' }, { status: 200 }]) } });
    expect(empty.request().status).toBe(200);
    expect(empty.upstream(UP).requests.map((r) => r.connection)).toEqual([0, 0]);
    await expectGaugesAtZero(empty);
  });

  it('an upstream that closes the connection before answering is retried under reset', async () => {
    const world = await SimWorld.start(config(cluster('backend', [PORT]), retryPolicy({ retry_on: ['reset'] })), {
      upstreams: {
        [UP]: { respond: (req) => (req.connection === 0 ? 'close' : { raw: 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok', then: { action: 'close' } }) },
      },
    });
    const res = world.request();
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
    expect(world.upstream(UP).connections).toBe(2);
    const decisions = world.facts('retry.decision');
    expect(decisions[0]).toMatchObject({ trigger: 'reset', reset: 'ConnectionTermination', decision: 'retry', reason: 'ConnectionTermination matches reset' });
    expect(hostStats(world)).toMatchObject({ rq_error: 1, rq_success: 1 });
    await expectGaugesAtZero(world);
  });
});

describe('what is never retried', () => {
  it('a reset after the response started downstream: the client sees the reset, no retry', async () => {
    const world = await SimWorld.start(config(cluster('backend', [PORT]), retryPolicy({ retry_on: ['5xx', 'reset'] })), {
      upstreams: { [UP]: { respond: () => ({ raw: 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial', then: { action: 'close', afterMs: 20 } }) } },
    });
    const t0 = world.now();
    const client = world.send();
    world.waitUntil(() => client.closed, 'the proxy to close the client connection');
    expect(client.text).toContain('HTTP/1.1 200 OK');
    expect(client.partial).toEqual({ status: 200, body: 'partial' });
    // Closed when the upstream went away, 20 ms in, not at some later timeout.
    expect(client.closedAt! - t0).toBe(20);
    expect(world.upstream(UP).connections).toBe(1);
    world.settle();
    expect(world.stat('cluster.backend.upstream_rq_retry')).toBe(0);
    expect(world.accessLog()).toMatchObject([{ status: 200, flags: 'UC' }]);
    await expectGaugesAtZero(world);
  });

  it('an RST right after the response head: the client gets the head, then the close; no retry', async () => {
    const world = await SimWorld.start(config(cluster('backend', [PORT]), retryPolicy({ retry_on: ['5xx', 'reset'] })), { upstreams: { [UP]: { respond: () => 'reset-after-headers' } } });
    const client = world.send();
    world.waitUntil(() => client.closed, 'the proxy to close the client connection');
    world.settle();
    expect(client.partial).toEqual({ status: 200, body: '' });
    expect(client.responses).toHaveLength(0);
    expect(world.upstream(UP).connections).toBe(1);
    expect(world.stat('cluster.backend.upstream_rq_retry')).toBe(0);
    expect(world.accessLog()).toMatchObject([{ status: 200, flags: 'UC' }]);
    await expectGaugesAtZero(world);
  });

  it('a pool overflow (max_pending_requests): 503 UO even under 5xx', async () => {
    const tight = cluster('backend', [PORT], { circuit_breakers: { max_connections: 1, max_pending_requests: 0, max_requests: 1, max_retries: 3 } });
    const world = await SimWorld.start(config(tight, retryPolicy({ retry_on: ['5xx', 'reset'] })), { upstreams: { [UP]: { respond: () => 'hang' } } });
    const res = world.request();
    expect(res.status).toBe(503);
    expect(res.headers['x-envoy-overloaded']).toBe('true');
    expect(world.upstream(UP).connections).toBe(0);
    expect(world.stat('cluster.backend.upstream_rq_retry')).toBe(0);
    expect(world.accessLog()).toMatchObject([{ status: 503, flags: 'UO' }]);
    await expectGaugesAtZero(world);
  });
});
