/**
 * What the client gets when something goes wrong, through real sockets: upstream down,
 * no hosts, upstream resets or speaks garbage, malformed requests, oversized headers,
 * HTTP/1.0, missing Host and route timeouts (semantics doc §1.4, §2.4, §2.5, §5.1).
 * After each failure the proxy must keep serving and the pool gauges must return to 0.
 */
import { describe, expect, it } from 'vitest';
import type { Cluster, RouteAction } from '../src/config/types';
import { bootstrap, cluster, listener, route, vhost } from './support/config-builders';
import {
  closedPort,
  eventually,
  httpRequest,
  loggedHcm,
  onRequestHead,
  parseAccessLog,
  RawClient,
  startProxy,
  startRawServer,
  startUpstream,
  type ParsedResponse,
  type RunningProxy,
  type Upstream,
} from './support/upstreams';

const CONNECT_ERROR = 'upstream connect error or disconnect/reset before headers. reset reason: ';

interface Setup {
  proxy: RunningProxy;
  /** the healthy upstream behind cluster `backend` */
  healthy: Upstream;
}

/**
 * `/failing...` goes to cluster `failing` (made by `makeFailing`), everything else to the
 * healthy cluster `backend`.
 */
async function setup(failing: Cluster, action: Partial<RouteAction> = {}): Promise<Setup> {
  const healthy = await startUpstream({ name: 'healthy' });
  const config = bootstrap(
    [
      listener(
        loggedHcm([
          vhost('all', ['*'], [
            route({ name: 'failing', match: { prefix: '/failing' }, route: { cluster: 'failing', ...action } }),
            route({ name: 'healthy', match: { prefix: '/' }, route: { cluster: 'backend' } }),
          ]),
        ]),
      ),
    ],
    [failing, cluster('backend', [healthy.port])],
  );
  const proxy = await startProxy(config);
  return { proxy, healthy };
}

/** The last access-log line, once the failed request has been logged. */
async function lastLog(proxy: RunningProxy, count: number): Promise<ReturnType<typeof parseAccessLog>> {
  await eventually(() => proxy.logs.length >= count, `${count} access log line(s)`);
  return parseAccessLog(proxy.logs[count - 1]!);
}

/**
 * Sends `bytes` on a new connection and waits until the proxy closes it (failing after
 * 5 s if it never does); returns every response that arrived.
 */
async function refused(port: number, bytes: string): Promise<ParsedResponse[]> {
  const client = await RawClient.connect(port);
  client.write(bytes);
  await client.waitForClose();
  return client.responses();
}

/** A normal request still works, and no pool holds an active or pending request. */
async function expectStillServing({ proxy, healthy }: Setup): Promise<void> {
  const before = healthy.requests.length;
  const res = await httpRequest(proxy.port, { path: '/ok' });
  expect(res.status).toBe(200);
  expect(res.text).toBe('healthy GET /ok');
  expect(healthy.requests.length).toBe(before + 1);
  for (const name of ['failing', 'backend']) {
    await eventually(() => proxy.engine.stats.valueOf(`cluster.${name}.upstream_rq_active`) === 0, `cluster.${name}.upstream_rq_active back to 0`);
    expect(proxy.engine.stats.valueOf(`cluster.${name}.upstream_rq_active`)).toBe(0);
    expect(proxy.engine.stats.valueOf(`cluster.${name}.upstream_rq_pending_active`)).toBe(0);
  }
  expect(proxy.engine.stats.valueOf('http.ingress_http.downstream_rq_active')).toBe(0);
}

describe('upstream failures', () => {
  it('upstream down (connection refused) → 503 UF with the reset reason in the body', async () => {
    const s = await setup(cluster('failing', [await closedPort()]));
    const res = await httpRequest(s.proxy.port, { path: '/failing/x' });
    expect(res.status).toBe(503);
    expect(res.text.startsWith(`${CONNECT_ERROR}remote connection failure`)).toBe(true);
    expect(res.headers['server']).toBe('envoy');
    const log = await lastLog(s.proxy, 1);
    expect(log).toMatchObject({ status: 503, flags: 'UF' });
    expect(s.proxy.stat('cluster.failing.upstream_cx_connect_fail')).toBe(1);
    expect(s.proxy.stat('cluster.failing.upstream_rq_pending_failure_eject')).toBe(1);
    expect(s.proxy.stat('cluster.failing.upstream_rq_503')).toBe(1);
    expect(s.proxy.stat('http.ingress_http.downstream_rq_5xx')).toBe(1);
    await expectStillServing(s);
  });

  it('a cluster with no endpoints → 503 "no healthy upstream", UH', async () => {
    const s = await setup(cluster('failing', []));
    const res = await httpRequest(s.proxy.port, { path: '/failing' });
    expect(res.status).toBe(503);
    expect(res.text).toBe('no healthy upstream');
    expect(await lastLog(s.proxy, 1)).toMatchObject({ status: 503, flags: 'UH', upstreamHost: '-' });
    expect(s.proxy.stat('cluster.failing.upstream_cx_none_healthy')).toBe(1);
    expect(s.proxy.stat('cluster.failing.upstream_cx_total')).toBe(0);
    await expectStillServing(s);
  });

  it('upstream closes the connection in the middle of the response headers → 503 UC', async () => {
    const raw = await startRawServer((socket) =>
      onRequestHead(socket, () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Ty');
        setTimeout(() => socket.destroy(), 20);
      }),
    );
    const s = await setup(cluster('failing', [raw.port]));
    const res = await httpRequest(s.proxy.port, { path: '/failing/reset' });
    expect(res.status).toBe(503);
    expect(res.text.startsWith(`${CONNECT_ERROR}connection termination`)).toBe(true);
    expect(await lastLog(s.proxy, 1)).toMatchObject({ status: 503, flags: 'UC', upstreamHost: `127.0.0.1:${raw.port}` });
    expect(raw.accepted()).toBe(1);
    expect(s.proxy.stat('cluster.failing.upstream_cx_destroy_remote_with_active_rq')).toBe(1);
    await expectStillServing(s);
  });

  it('upstream closes the connection right after reading the request → 503 UC', async () => {
    const raw = await startRawServer((socket) => onRequestHead(socket, () => socket.destroy()));
    const s = await setup(cluster('failing', [raw.port]));
    const res = await httpRequest(s.proxy.port, { path: '/failing/drop' });
    expect(res.status).toBe(503);
    expect(res.text.startsWith(`${CONNECT_ERROR}connection termination`)).toBe(true);
    expect((await lastLog(s.proxy, 1)).flags).toBe('UC');
    await expectStillServing(s);
  });

  it('upstream answers with garbage → 502 UPE', async () => {
    const raw = await startRawServer((socket) => onRequestHead(socket, () => socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n')));
    const s = await setup(cluster('failing', [raw.port]));
    const res = await httpRequest(s.proxy.port, { path: '/failing/garbage' });
    expect(res.status).toBe(502);
    expect(res.text.startsWith(`${CONNECT_ERROR}protocol error`)).toBe(true);
    expect((await lastLog(s.proxy, 1)).flags).toBe('UPE');
    expect(s.proxy.stat('cluster.failing.upstream_cx_protocol_error')).toBe(1);
    await expectStillServing(s);
  });

  it('route timeout: an upstream that never answers → 504 "upstream request timeout", UT', async () => {
    const hanging = await startUpstream({ respond: () => ({ hang: true }) });
    const s = await setup(cluster('failing', [hanging.port]), { timeout: 200 });
    const started = Date.now();
    const res = await httpRequest(s.proxy.port, { path: '/failing/slow' });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(504);
    expect(res.text).toBe('upstream request timeout');
    // The route timeout is the one timing this test is about.
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2000);
    expect(hanging.arrivals).toHaveLength(1);
    expect(hanging.arrivals[0]!.url).toBe('/failing/slow');
    expect((await lastLog(s.proxy, 1)).flags).toBe('UT');
    expect(s.proxy.stat('cluster.failing.upstream_rq_timeout')).toBe(1);
    expect(s.proxy.stat('cluster.failing.upstream_rq_504')).toBe(1);
    // HTTP/1 cannot cancel one request: the upstream connection is closed.
    await eventually(() => s.proxy.stat('cluster.failing.upstream_cx_destroy_local_with_active_rq') === 1, 'the upstream connection to be closed');
    await expectStillServing(s);
  });
});

describe('the client goes away', () => {
  it('in the middle of the response body → DC, the upstream connection is closed, the proxy keeps serving', async () => {
    const big = await startUpstream({ respond: () => ({ bodySize: 64 * 1024 * 1024 }) });
    const s = await setup(cluster('failing', [big.port]));
    const client = await RawClient.connect(s.proxy.port);
    client.write('GET /failing/big HTTP/1.1\r\nHost: test.local\r\n\r\n');
    await client.waitFor(() => client.data.length > 256 * 1024, 'part of the body');
    client.destroy();
    const log = await lastLog(s.proxy, 1);
    expect(log).toMatchObject({ status: 200, flags: 'DC' });
    await eventually(() => s.proxy.stat('cluster.failing.upstream_cx_active') === 0, 'the upstream connection to be closed');
    expect(s.proxy.stat('http.ingress_http.downstream_cx_destroy_active_rq')).toBe(1);
    await expectStillServing(s);
  });

  it('before the upstream answered → DC at once and the upstream request is abandoned', async () => {
    // Envoy's HTTP connection manager does not keep half-closed downstream connections:
    // the client's FIN closes the connection, resets the stream (DC, status 0) and the
    // router resets the upstream request (envoyproxy/envoy#2066, #17160).
    const hanging = await startUpstream({ respond: () => ({ hang: true }) });
    const s = await setup(cluster('failing', [hanging.port]));
    const client = await RawClient.connect(s.proxy.port);
    client.write('GET /failing/slow HTTP/1.1\r\nHost: test.local\r\n\r\n');
    await eventually(() => hanging.arrivals.length === 1, 'the request to reach the upstream');
    client.destroy();
    // Well before the route's 15 s timeout.
    expect(await lastLog(s.proxy, 1)).toMatchObject({ status: 0, flags: 'DC' });
    await eventually(() => s.proxy.stat('cluster.failing.upstream_cx_destroy_local_with_active_rq') === 1, 'the upstream connection to be closed');
    await expectStillServing(s);
  });

  it('the upstream answers before reading the whole request body → the client gets that answer and the connection closes', async () => {
    const early = await startRawServer((socket) => onRequestHead(socket, () => socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nnope')));
    const s = await setup(cluster('failing', [early.port]));
    const client = await RawClient.connect(s.proxy.port);
    client.write(`POST /failing/upload HTTP/1.1\r\nHost: test.local\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(1000)}`);
    await client.waitForClose();
    const [res] = client.responses();
    expect(res!.status).toBe(413);
    expect(res!.body.toString()).toBe('nope');
    // The rest of the request body would be read as the next request: HTTP/1 must close.
    expect(res!.headers['connection']).toBe('close');
    expect(s.proxy.stat('http.ingress_http.downstream_rq_response_before_rq_complete')).toBe(1);
    await expectStillServing(s);
  });
});

describe('requests the proxy refuses', () => {
  const malformed: Array<[string, string]> = [
    ['bad method token', 'G@T / HTTP/1.1\r\nHost: test.local\r\n\r\n'],
    ['invalid header line (no colon)', 'GET / HTTP/1.1\r\nHost: test.local\r\nthis is not a header\r\n\r\n'],
    ['space before the header colon', 'GET / HTTP/1.1\r\nHost: test.local\r\nX-Bad : value\r\n\r\n'],
    ['Content-Length together with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['bad chunk size', 'POST / HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
    ['two different Content-Length values', 'POST / HTTP/1.1\r\nHost: test.local\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
  ];

  it.each(malformed)('%s → 400, connection closed, nothing reaches the upstream', async (_label, bytes) => {
    const s = await setup(cluster('failing', [await closedPort()]));
    const responses = await refused(s.proxy.port, bytes);
    expect(responses).toHaveLength(1);
    expect(responses[0]!.status).toBe(400);
    expect(responses[0]!.headers['connection']).toBe('close');
    expect(s.healthy.arrivals).toHaveLength(0);
    expect((await lastLog(s.proxy, 1))).toMatchObject({ status: 400, flags: 'DPE' });
    expect(s.proxy.stat('http.ingress_http.downstream_cx_protocol_error')).toBe(1);
    await expectStillServing(s);
  });

  it('a bad chunk after the request went upstream → 400 to the client, the upstream request is abandoned', async () => {
    const s = await setup(cluster('failing', [await closedPort()]));
    const client = await RawClient.connect(s.proxy.port);
    client.write('POST /upload HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    await eventually(() => s.healthy.arrivals.length === 1, 'the request head to reach the upstream');
    client.write('zz\r\nworld\r\n0\r\n\r\n');
    await client.waitForClose();
    const responses = client.responses();
    expect(responses.map((r) => r.status)).toEqual([400]);
    // The upstream never got a complete request: its connection was closed under it.
    expect(s.healthy.requests).toHaveLength(0);
    await eventually(() => s.proxy.stat('cluster.backend.upstream_cx_destroy_local_with_active_rq') === 1, 'the upstream connection to be closed');
    expect((await lastLog(s.proxy, 1))).toMatchObject({ status: 400, flags: 'DPE' });
    await expectStillServing(s);
  });

  it('70 KB of request headers → 431 and the connection is closed', async () => {
    const s = await setup(cluster('failing', [await closedPort()]));
    const big = Array.from({ length: 10 }, (_, i) => `X-Filler-${i}: ${'a'.repeat(7 * 1024)}\r\n`).join('');
    const responses = await refused(s.proxy.port, `GET / HTTP/1.1\r\nHost: test.local\r\n${big}\r\n`);
    expect(responses[0]!.status).toBe(431);
    expect(s.healthy.arrivals).toHaveLength(0);
    expect(s.proxy.stat('http.ingress_http.downstream_rq_too_large')).toBe(1);
    await expectStillServing(s);
  });

  it('more than 100 headers → 431', async () => {
    const s = await setup(cluster('failing', [await closedPort()]));
    const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const responses = await refused(s.proxy.port, `GET / HTTP/1.1\r\nHost: test.local\r\n${many}\r\n`);
    expect(responses[0]!.status).toBe(431);
    expect(s.healthy.arrivals).toHaveLength(0);
    await expectStillServing(s);
  });

  it('an HTTP/1.0 request → 426 (accept_http_10 is false) and the connection is closed', async () => {
    const s = await setup(cluster('failing', [await closedPort()]));
    const responses = await refused(s.proxy.port, 'GET / HTTP/1.0\r\nHost: test.local\r\n\r\n');
    expect(responses[0]!.status).toBe(426);
    expect(s.healthy.arrivals).toHaveLength(0);
    await expectStillServing(s);
  });

  it('an HTTP/1.1 request without Host → 400 and the connection is closed', async () => {
    const s = await setup(cluster('failing', [await closedPort()]));
    const responses = await refused(s.proxy.port, 'GET / HTTP/1.1\r\nUser-Agent: test\r\n\r\n');
    expect(responses[0]!.status).toBe(400);
    expect(s.healthy.arrivals).toHaveLength(0);
    await expectStillServing(s);
  });

  it('a good request pipelined behind a bad one is not served', async () => {
    const s = await setup(cluster('failing', [await closedPort()]));
    const responses = await refused(s.proxy.port, 'G@T / HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(responses.map((r) => r.status)).toEqual([400]);
    expect(s.healthy.arrivals).toHaveLength(0);
  });
});
