/**
 * Retries through real sockets on loopback: the worked scenarios A, B, C and E of the
 * semantics doc (§9) with their exact stat deltas, the previous_hosts predicate, and the
 * pool gauges back at 0 after every test.
 */
import { describe, expect, it } from 'vitest';
import type { Bootstrap, Cluster, RetryPolicy } from '../src/config/types';
import { bootstrap, cluster, listener, retryPolicy as defaultRetryPolicy, route, vhost } from './support/config-builders';
import {
  closedPort,
  eventually,
  httpRequest,
  loggedHcm,
  parseAccessLog,
  startProxy,
  startUpstream,
  type RecordedRequest,
  type RunningProxy,
  type Upstream,
  type UpstreamResponse,
} from './support/upstreams';

/** The scenarios of §9 use two retries. */
const retryPolicy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => defaultRetryPolicy({ num_retries: 2, ...overrides });

/** One `*` virtual host routing everything to cluster `backend` with `policy`. */
function config(backend: Cluster, policy: RetryPolicy, vhostExtra: { include_attempt_count_in_response?: boolean } = {}): Bootstrap {
  const vh = { ...vhost('all', ['*'], [route({ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend', retry_policy: policy } })]), ...vhostExtra };
  return bootstrap([listener(loggedHcm([vh]))], [backend]);
}

/** An upstream answering from a list, in order (the last answer repeats). */
function scripted(answers: UpstreamResponse[], name?: string): Promise<Upstream> {
  let n = 0;
  return startUpstream({ name, respond: () => answers[Math.min(n++, answers.length - 1)]! });
}

/** After the request: nothing active or pending; once stopped, no upstream connection either. */
async function expectGaugesAtZero(proxy: RunningProxy): Promise<void> {
  await eventually(() => proxy.stat('cluster.backend.upstream_rq_active') === 0, 'upstream_rq_active back to 0');
  expect(proxy.stat('cluster.backend.upstream_rq_pending_active')).toBe(0);
  expect(proxy.engine.clusterManager.get('backend')!.resources.retries.count).toBe(0);
  await proxy.stop();
  await eventually(() => proxy.stat('cluster.backend.upstream_cx_active') === 0, 'upstream_cx_active back to 0');
}

async function lastLog(proxy: RunningProxy, count = 1) {
  await eventually(() => proxy.logs.length >= count, `${count} access log line(s)`);
  return parseAccessLog(proxy.logs[count - 1]!);
}

const hostStats = (proxy: RunningProxy, i = 0) => proxy.engine.clusterManager.get('backend')!.hosts[i]!.stats;

describe('scenario A: retry_on 5xx, num_retries 2; the upstream answers 503, 503, 200', () => {
  it('the client gets the 200; retries and response codes are counted as Envoy does', async () => {
    const up = await scripted([{ status: 503, body: 'busy' }, { status: 503, body: 'busy' }, { status: 200, body: 'ok' }]);
    const proxy = await startProxy(config(cluster('backend', [up.port]), retryPolicy(), { include_attempt_count_in_response: true }));
    const res = await httpRequest(proxy.port, { path: '/a' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('ok');
    expect(res.headers['x-envoy-attempt-count']).toBe('3');
    expect(up.requests).toHaveLength(3);
    const s = (n: string) => proxy.stat(`cluster.backend.${n}`);
    expect(s('upstream_rq_total')).toBe(3);
    expect(s('upstream_rq_retry')).toBe(2);
    expect(s('upstream_rq_retry_success')).toBe(1);
    expect(s('retry.upstream_rq_503')).toBe(2);
    expect(s('retry.upstream_rq_5xx')).toBe(2);
    expect(s('upstream_rq_200')).toBe(1);
    expect(s('upstream_rq_503')).toBe(0);
    expect(s('upstream_rq_completed')).toBe(1);
    expect(hostStats(proxy)).toMatchObject({ rq_error: 2, rq_success: 1 });
    expect(await lastLog(proxy)).toMatchObject({ status: 200, flags: '-' });
    await expectGaugesAtZero(proxy);
  });

  it('with previous_hosts and 3 hosts each attempt goes to a different host, even when the balancer prefers one', async () => {
    const names = ['h0', 'h1', 'h2'];
    const ups = await Promise.all(names.map((name, i) => startUpstream({ name, respond: () => ({ status: i === 2 ? 200 : 503 }) })));
    // Weighted round robin 100:1:1 picks h0 about a hundred times in a row.
    const weighted = cluster('backend', [], {
      endpoints: ups.map((u, i) => ({ address: { address: '127.0.0.1', port_value: u.port }, load_balancing_weight: i === 0 ? 100 : 1 })),
    });
    const proxy = await startProxy(config(weighted, retryPolicy({ previous_hosts: true, host_selection_retry_max_attempts: 300 })));
    const res = await httpRequest(proxy.port, { path: '/a' });
    expect(res.status).toBe(200);
    expect(ups.map((u) => u.requests.length)).toEqual([1, 1, 1]);
    const picks = proxy.events.filter((e) => e.type === 'fact' && e.fact === 'lb.host_selected').map((e) => (e as unknown as { data: { host: string; reason: string } }).data);
    expect(new Set(picks.map((p) => p.host)).size).toBe(3);
    expect(picks[1]!.reason).toContain(`previous_hosts rejected 127.0.0.1:${ups[0]!.port}`);
    expect(proxy.stat('cluster.backend.upstream_rq_retry')).toBe(2);
    await expectGaugesAtZero(proxy);
  });

  it('when every pick is a previous host (host_selection_retry_max_attempts 1), the last pick is used anyway', async () => {
    const ups = await Promise.all([0, 1].map(() => scripted([{ status: 503 }, { status: 200 }])));
    const weighted = cluster('backend', [], {
      endpoints: ups.map((u, i) => ({ address: { address: '127.0.0.1', port_value: u.port }, load_balancing_weight: i === 0 ? 100 : 1 })),
    });
    const proxy = await startProxy(config(weighted, retryPolicy({ num_retries: 1, previous_hosts: true })));
    const res = await httpRequest(proxy.port);
    expect(res.status).toBe(200);
    expect(ups.map((u) => u.requests.length)).toEqual([2, 0]);
    await expectGaugesAtZero(proxy);
  });
});

describe('scenario B: the upstream answers 503 three times', () => {
  it("the client gets the third 503 with the upstream's body; URX", async () => {
    let n = 0;
    const up = await startUpstream({ respond: () => ({ status: 503, body: `attempt ${++n}` }) });
    const proxy = await startProxy(config(cluster('backend', [up.port]), retryPolicy()));
    const res = await httpRequest(proxy.port);
    expect(res.status).toBe(503);
    expect(res.text).toBe('attempt 3');
    const s = (name: string) => proxy.stat(`cluster.backend.${name}`);
    expect(s('upstream_rq_retry')).toBe(2);
    expect(s('upstream_rq_retry_limit_exceeded')).toBe(1);
    expect(s('upstream_rq_retry_success')).toBe(0);
    expect(s('retry.upstream_rq_503')).toBe(2);
    expect(s('upstream_rq_503')).toBe(1);
    expect(hostStats(proxy)).toMatchObject({ rq_error: 3, rq_success: 0 });
    expect(await lastLog(proxy)).toMatchObject({ status: 503, flags: 'URX' });
    await expectGaugesAtZero(proxy);
  });
});

describe('scenario C: circuit breaker max_retries 1', () => {
  it('a second request failing while the first one holds the only retry gets its 503 with UO', async () => {
    let slowRetry: () => void = () => {};
    const retryArrived = new Promise<void>((resolve) => (slowRetry = resolve));
    let first = 0;
    const up = await startUpstream({
      respond: (req: RecordedRequest) => {
        if (req.url === '/two') return { status: 503, body: 'two' };
        if (first++ === 0) return { status: 503, body: 'one' };
        slowRetry();
        // Request 1's retry stays in flight (holding the retry resource) while request 2 fails.
        return { status: 200, body: 'one retried', delayMs: 400 };
      },
    });
    const limited = cluster('backend', [up.port], { circuit_breakers: { max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 1 } });
    const proxy = await startProxy(config(limited, retryPolicy()));
    const one = httpRequest(proxy.port, { path: '/one' });
    await retryArrived;
    expect(proxy.engine.clusterManager.get('backend')!.resources.retries.count).toBe(1);
    const two = await httpRequest(proxy.port, { path: '/two' });
    expect(two.status).toBe(503);
    expect(two.text).toBe('two');
    expect((await one).text).toBe('one retried');
    const s = (name: string) => proxy.stat(`cluster.backend.${name}`);
    expect(s('upstream_rq_retry_overflow')).toBe(1);
    expect(s('upstream_rq_retry')).toBe(1);
    expect(s('upstream_rq_retry_success')).toBe(1);
    await eventually(() => proxy.logs.length === 2, 'two access log lines');
    const logs = proxy.logs.map(parseAccessLog);
    expect(logs.find((l) => l.path === '/two')).toMatchObject({ status: 503, flags: 'UO' });
    expect(logs.find((l) => l.path === '/one')).toMatchObject({ status: 200, flags: '-' });
    await expectGaugesAtZero(proxy);
  });
});

describe('scenario E: retry_on connect-failure only, the upstream port is closed', () => {
  it('every attempt fails to connect and is retried; then 503 UF,URX, "retried and the latest reset reason"', async () => {
    const proxy = await startProxy(config(cluster('backend', [await closedPort()]), retryPolicy({ retry_on: ['connect-failure'] })));
    const res = await httpRequest(proxy.port);
    expect(res.status).toBe(503);
    expect(res.text).toBe(
      'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: 111',
    );
    const s = (name: string) => proxy.stat(`cluster.backend.${name}`);
    expect(s('upstream_cx_connect_fail')).toBe(3);
    expect(s('upstream_cx_total')).toBe(3);
    expect(s('upstream_rq_pending_failure_eject')).toBe(3);
    expect(s('upstream_rq_retry')).toBe(2);
    expect(s('upstream_rq_retry_limit_exceeded')).toBe(1);
    expect(s('upstream_rq_total')).toBe(0);
    expect(s('upstream_rq_503')).toBe(1);
    expect(await lastLog(proxy)).toMatchObject({ status: 503, flags: 'UF,URX' });
    await expectGaugesAtZero(proxy);
  });
});

describe('connections of retried attempts', () => {
  it('a retried 503 whose body had not arrived closes its connection; a finished one leaves it for reuse', async () => {
    const withBody = await scripted([{ status: 503, body: 'not now' }, { status: 200 }]);
    const proxy = await startProxy(config(cluster('backend', [withBody.port]), retryPolicy()));
    expect((await httpRequest(proxy.port)).status).toBe(200);
    expect(withBody.connectionPorts()).toHaveLength(2);
    await expectGaugesAtZero(proxy);

    const empty = await scripted([{ status: 503, body: '' }, { status: 200 }]);
    const proxy2 = await startProxy(config(cluster('backend', [empty.port]), retryPolicy()));
    expect((await httpRequest(proxy2.port)).status).toBe(200);
    expect(empty.connectionPorts()).toHaveLength(1);
    await expectGaugesAtZero(proxy2);
  });

  it('an upstream that closes the connection before answering is retried under reset', async () => {
    const { startRawServer, onRequestHead } = await import('./support/upstreams');
    const raw = await startRawServer((socket) =>
      onRequestHead(socket, () => {
        if (raw.accepted() === 1) socket.destroy();
        else socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }),
    );
    const proxy = await startProxy(config(cluster('backend', [raw.port]), retryPolicy({ retry_on: ['reset'] })));
    const res = await httpRequest(proxy.port);
    expect(res.status).toBe(200);
    expect(res.text).toBe('ok');
    expect(raw.accepted()).toBe(2);
    const decisions = proxy.events.filter((e) => e.type === 'fact' && e.fact === 'retry.decision').map((e) => (e as unknown as { data: Record<string, unknown> }).data);
    expect(decisions[0]).toMatchObject({ trigger: 'reset', reset: 'ConnectionTermination', decision: 'retry', reason: 'ConnectionTermination matches reset' });
    expect(hostStats(proxy)).toMatchObject({ rq_error: 1, rq_success: 1 });
    await expectGaugesAtZero(proxy);
  });
});

describe('what is never retried', () => {
  it('a reset after the response started downstream: the client sees the reset, no retry', async () => {
    const { startRawServer, onRequestHead, RawClient } = await import('./support/upstreams');
    const raw = await startRawServer((socket) =>
      onRequestHead(socket, () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
        setTimeout(() => socket.destroy(), 20);
      }),
    );
    const proxy = await startProxy(config(cluster('backend', [raw.port]), retryPolicy({ retry_on: ['5xx', 'reset'] })));
    const client = await RawClient.connect(proxy.port);
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await client.waitForClose();
    expect(client.text).toContain('HTTP/1.1 200 OK');
    expect(raw.accepted()).toBe(1);
    expect(proxy.stat('cluster.backend.upstream_rq_retry')).toBe(0);
    expect(await lastLog(proxy)).toMatchObject({ status: 200, flags: 'UC' });
    await expectGaugesAtZero(proxy);
  });

  it('a pool overflow (max_pending_requests): 503 UO even under 5xx', async () => {
    const up = await startUpstream({ respond: () => ({ hang: true }) });
    const tight = cluster('backend', [up.port], { circuit_breakers: { max_connections: 1, max_pending_requests: 0, max_requests: 1, max_retries: 3 } });
    const proxy = await startProxy(config(tight, retryPolicy({ retry_on: ['5xx', 'reset'] })));
    const res = await httpRequest(proxy.port);
    expect(res.status).toBe(503);
    expect(res.headers['x-envoy-overloaded']).toBe('true');
    expect(proxy.stat('cluster.backend.upstream_rq_retry')).toBe(0);
    expect(await lastLog(proxy)).toMatchObject({ status: 503, flags: 'UO' });
    await expectGaugesAtZero(proxy);
  });
});
