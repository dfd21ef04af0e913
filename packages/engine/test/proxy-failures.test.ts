/**
 * What the client gets when something goes wrong: upstream down, no hosts, upstream
 * resets or speaks garbage, malformed requests, oversized headers, HTTP/1.0, missing
 * Host and route timeouts (semantics doc §1.4, §2.4, §2.5, §5.1). After each failure the
 * proxy must keep serving and the pool gauges must be back at 0.
 *
 * The engine's decisions run on virtual time (support/sim-world.ts), so a timeout fires
 * at its exact virtual millisecond. Two tests stay on real sockets (at the end), because
 * their point is what a kernel does: a client closing with unread response bytes (an RST
 * under backpressure), and a proxy closing with unread request bytes.
 */
import { describe, expect, it } from 'vitest';
import type { Cluster, RouteAction } from '../src/config/types';
import { bootstrap, cluster, listener, route, vhost } from './support/config-builders';
import { SimWorld, type ScriptedUpstreamOptions, type SimClient } from './support/sim-world';
import { eventually, httpRequest, loggedHcm, onRequestHead, parseAccessLog, RawClient, startProxy, startRawServer, startUpstream, type RunningProxy, type Upstream } from './support/upstreams';

const CONNECT_ERROR = 'upstream connect error or disconnect/reset before headers. reset reason: ';
const FAILING = '127.0.0.1:9001';
const HEALTHY = '127.0.0.1:8080';

/** `/failing...` routes to cluster `failing`, everything else to cluster `backend`. */
function failureConfig(failing: Cluster, action: Partial<RouteAction> = {}) {
  return bootstrap(
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
    [failing, cluster('backend', [8080])],
  );
}

/** Cluster `failing` on 127.0.0.1:9001 behaving as `failing` says (or `endpoints: false`: none), `backend` a healthy upstream named "healthy". */
function setup(failing: ScriptedUpstreamOptions, options: { action?: Partial<RouteAction>; endpoints?: boolean } = {}): Promise<SimWorld> {
  const failingCluster = cluster('failing', options.endpoints === false ? [] : [9001]);
  return SimWorld.start(failureConfig(failingCluster, options.action), {
    upstreams: { [HEALTHY]: { name: 'healthy' }, ...(options.endpoints === false ? {} : { [FAILING]: failing }) },
  });
}

/** A normal request still works, and no pool holds an active or pending request. */
function expectStillServing(world: SimWorld): void {
  const healthy = world.upstream(HEALTHY);
  const before = healthy.requests.length;
  const res = world.request({ path: '/ok' });
  expect(res.status).toBe(200);
  expect(res.body).toBe('healthy GET /ok');
  expect(healthy.requests.length).toBe(before + 1);
  for (const name of ['failing', 'backend']) {
    expect(world.engine.stats.valueOf(`cluster.${name}.upstream_rq_active`)).toBe(0);
    expect(world.engine.stats.valueOf(`cluster.${name}.upstream_rq_pending_active`)).toBe(0);
  }
  expect(world.engine.stats.valueOf('http.ingress_http.downstream_rq_active')).toBe(0);
}

/** Writes `bytes` on a new connection and runs until the proxy closes it. */
function refused(world: SimWorld, bytes: string | string[]): SimClient {
  const client = world.connect();
  for (const piece of typeof bytes === 'string' ? [bytes] : bytes) client.write(piece);
  world.waitUntil(() => client.closed, 'the proxy to close the connection');
  world.settle();
  return client;
}

describe('upstream failures', () => {
  it('upstream down (connection refused) → 503 UF with the reset reason in the body', async () => {
    const world = await setup({ refuse: true });
    const res = world.request({ path: '/failing/x' });
    expect(res.status).toBe(503);
    expect(res.body).toBe(`${CONNECT_ERROR}remote connection failure, transport failure reason: delayed connect error: 111`);
    expect(res.headers['server']).toBe('envoy');
    expect(world.accessLog()).toMatchObject([{ status: 503, flags: 'UF', upstreamHost: FAILING }]);
    expect(world.stat('cluster.failing.upstream_cx_connect_fail')).toBe(1);
    expect(world.stat('cluster.failing.upstream_rq_pending_failure_eject')).toBe(1);
    expect(world.stat('cluster.failing.upstream_rq_503')).toBe(1);
    expect(world.stat('http.ingress_http.downstream_rq_5xx')).toBe(1);
    expectStillServing(world);
  });

  it('a cluster with no endpoints → 503 "no healthy upstream", UH', async () => {
    const world = await setup({}, { endpoints: false });
    const res = world.request({ path: '/failing' });
    expect(res.status).toBe(503);
    expect(res.body).toBe('no healthy upstream');
    expect(world.accessLog()).toMatchObject([{ status: 503, flags: 'UH', upstreamHost: '-' }]);
    expect(world.stat('cluster.failing.upstream_cx_none_healthy')).toBe(1);
    expect(world.stat('cluster.failing.upstream_cx_total')).toBe(0);
    expectStillServing(world);
  });

  it('upstream closes the connection in the middle of the response headers → 503 UC', async () => {
    const world = await setup({ respond: () => ({ raw: 'HTTP/1.1 200 OK\r\nContent-Ty', then: { action: 'close', afterMs: 20 } }) });
    const t0 = world.now();
    const res = world.request({ path: '/failing/reset' });
    expect(res.status).toBe(503);
    expect(res.body).toBe(`${CONNECT_ERROR}connection termination`);
    // Answered when the upstream went away, not before.
    expect(res.at - t0).toBe(20);
    expect(world.accessLog()).toMatchObject([{ status: 503, flags: 'UC', upstreamHost: FAILING }]);
    expect(world.upstream(FAILING).connections).toBe(1);
    expect(world.stat('cluster.failing.upstream_cx_destroy_remote_with_active_rq')).toBe(1);
    expectStillServing(world);
  });

  it('upstream closes the connection right after reading the request → 503 UC', async () => {
    const world = await setup({ respond: () => 'close' });
    const res = world.request({ path: '/failing/drop' });
    expect(res.status).toBe(503);
    expect(res.body).toBe(`${CONNECT_ERROR}connection termination`);
    expect(world.accessLog()).toMatchObject([{ flags: 'UC' }]);
    expect(world.stat('cluster.failing.upstream_cx_destroy_remote_with_active_rq')).toBe(1);
    expectStillServing(world);
  });

  it('upstream resets the connection right after reading the request → 503 UC, ECONNRESET as the transport failure', async () => {
    const world = await setup({ respond: () => 'reset' });
    const res = world.request({ path: '/failing/rst' });
    expect(res.status).toBe(503);
    expect(res.body).toBe(`${CONNECT_ERROR}connection termination, transport failure reason: read ECONNRESET`);
    expect(world.accessLog()).toMatchObject([{ status: 503, flags: 'UC' }]);
    expect(world.stat('cluster.failing.upstream_cx_destroy_remote_with_active_rq')).toBe(1);
    expectStillServing(world);
  });

  it('upstream answers with garbage → 502 UPE', async () => {
    const world = await setup({ respond: () => ({ raw: 'SSH-2.0-OpenSSH_9.6\r\n\r\n' }) });
    const res = world.request({ path: '/failing/garbage' });
    expect(res.status).toBe(502);
    expect(res.body).toBe(`${CONNECT_ERROR}protocol error, transport failure reason: HPE_INVALID_CONSTANT: Expected HTTP/, RTSP/ or ICE/`);
    expect(world.accessLog()).toMatchObject([{ status: 502, flags: 'UPE' }]);
    expect(world.stat('cluster.failing.upstream_cx_protocol_error')).toBe(1);
    expectStillServing(world);
  });

  it('route timeout: an upstream that never answers → 504 "upstream request timeout", UT, exactly at the timeout', async () => {
    const world = await setup({ respond: () => 'hang' }, { action: { timeout: 200 } });
    const t0 = world.now();
    const res = world.request({ path: '/failing/slow' });
    expect(res.status).toBe(504);
    expect(res.body).toBe('upstream request timeout');
    expect(res.at - t0).toBe(200);
    const failing = world.upstream(FAILING);
    expect(failing.arrivals.map((a) => [a.path, a.at - t0])).toEqual([['/failing/slow', 0]]);
    expect(world.accessLog()).toMatchObject([{ status: 504, flags: 'UT' }]);
    expect(world.stat('cluster.failing.upstream_rq_timeout')).toBe(1);
    expect(world.stat('cluster.failing.upstream_rq_504')).toBe(1);
    // HTTP/1 cannot cancel one request: the upstream connection is closed at the timeout.
    expect(world.stat('cluster.failing.upstream_cx_destroy_local_with_active_rq')).toBe(1);
    expect(failing.closedAt).toEqual([t0 + 200]);
    expectStillServing(world);
  });

  it('route timeout 199 ms: not a millisecond later', async () => {
    const world = await setup({ respond: () => ({ body: 'late', delayMs: 200 }) }, { action: { timeout: 199 } });
    const res = world.request({ path: '/failing/late' });
    expect([res.status, res.at]).toEqual([504, 199]);
    const onTime = await setup({ respond: () => ({ body: 'on time', delayMs: 200 }) }, { action: { timeout: 201 } });
    const ok = onTime.request({ path: '/failing/late' });
    expect([ok.status, ok.body, ok.at]).toEqual([200, 'on time', 200]);
  });
});

describe('the client goes away', () => {
  it('in the middle of the response body → DC, the upstream connection is closed, the proxy keeps serving', async () => {
    // The head and half of a 1000-byte body; the rest never comes.
    const world = await setup({ respond: () => ({ raw: `HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n${'a'.repeat(500)}` }) });
    const client = world.send({ path: '/failing/big' });
    world.waitUntil(() => client.partial?.body.length === 500, 'half of the body');
    // A client closing with unread bytes makes its kernel send an RST.
    client.abort();
    world.settle();
    expect(world.accessLog()).toMatchObject([{ status: 200, flags: 'DC' }]);
    expect(world.stat('cluster.failing.upstream_cx_active')).toBe(0);
    expect(world.upstream(FAILING).closedAt).toEqual([world.now()]);
    expect(world.stat('http.ingress_http.downstream_cx_destroy_active_rq')).toBe(1);
    expectStillServing(world);
  });

  it('before the upstream answered → DC at once and the upstream request is abandoned', async () => {
    // Envoy's HTTP connection manager does not keep half-closed downstream connections:
    // the client's FIN closes the connection, resets the stream (DC, status 0) and the
    // router resets the upstream request (envoyproxy/envoy#2066, #17160).
    const world = await setup({ respond: () => 'hang' });
    const failing = world.upstream(FAILING);
    const client = world.send({ path: '/failing/slow' });
    world.waitUntil(() => failing.arrivals.length === 1, 'the request to reach the upstream');
    world.runFor(1000);
    const goneAt = world.now();
    client.destroy();
    world.settle();
    // At that instant, well before the route's 15 s timeout.
    expect(world.accessLog()).toMatchObject([{ status: 0, flags: 'DC' }]);
    expect(world.stat('cluster.failing.upstream_cx_destroy_local_with_active_rq')).toBe(1);
    expect(failing.closedAt).toEqual([goneAt]);
    expectStillServing(world);
  });

  it('the upstream answers before reading the whole request body → the client gets that answer and the connection closes', async () => {
    const world = await setup({ onHead: true, respond: () => ({ raw: 'HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nnope' }) });
    const client = world.connect();
    client.write(`POST /failing/upload HTTP/1.1\r\nHost: test.local\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(1000)}`);
    world.waitUntil(() => client.closed, 'the proxy to close the connection');
    world.settle();
    const [res] = client.responses;
    expect(res!.status).toBe(413);
    expect(res!.body).toBe('nope');
    // The rest of the request body would be read as the next request: HTTP/1 must close.
    expect(res!.headers['connection']).toBe('close');
    expect(world.stat('http.ingress_http.downstream_rq_response_before_rq_complete')).toBe(1);
    expectStillServing(world);
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
    const world = await setup({ refuse: true });
    const client = refused(world, bytes);
    expect(client.responses).toHaveLength(1);
    expect(client.responses[0]!.status).toBe(400);
    expect(client.responses[0]!.headers['connection']).toBe('close');
    expect(world.upstream(HEALTHY).arrivals).toHaveLength(0);
    expect(world.accessLog()).toMatchObject([{ status: 400, flags: 'DPE' }]);
    expect(world.stat('http.ingress_http.downstream_cx_protocol_error')).toBe(1);
    expectStillServing(world);
  });

  it('a bad chunk after the request went upstream → 400 to the client, the upstream request is abandoned', async () => {
    const world = await setup({ refuse: true });
    const healthy = world.upstream(HEALTHY);
    const client = world.connect();
    client.write('POST /upload HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    world.waitUntil(() => healthy.arrivals.length === 1, 'the request head to reach the upstream');
    client.write('zz\r\nworld\r\n0\r\n\r\n');
    world.waitUntil(() => client.closed, 'the proxy to close the connection');
    world.settle();
    expect(client.responses.map((r) => r.status)).toEqual([400]);
    // The upstream never got a complete request: its connection was closed under it.
    expect(healthy.requests).toHaveLength(0);
    expect(healthy.closedAt).toEqual([world.now()]);
    expect(world.stat('cluster.backend.upstream_cx_destroy_local_with_active_rq')).toBe(1);
    expect(world.accessLog()).toMatchObject([{ status: 400, flags: 'DPE' }]);
    expectStillServing(world);
  });

  it('70 KB of request headers, arriving in 8 KiB pieces → 431 and the connection is closed', async () => {
    const world = await setup({ refuse: true });
    const big = Array.from({ length: 10 }, (_, i) => `X-Filler-${i}: ${'a'.repeat(7 * 1024)}\r\n`).join('');
    const bytes = `GET / HTTP/1.1\r\nHost: test.local\r\n${big}\r\n`;
    const pieces = Array.from({ length: Math.ceil(bytes.length / 8192) }, (_, i) => bytes.slice(i * 8192, (i + 1) * 8192));
    const client = refused(world, pieces);
    expect(client.responses[0]!.status).toBe(431);
    expect(world.upstream(HEALTHY).arrivals).toHaveLength(0);
    expect(world.stat('http.ingress_http.downstream_rq_too_large')).toBe(1);
    expectStillServing(world);
  });

  it('more than 100 headers → 431', async () => {
    const world = await setup({ refuse: true });
    const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const client = refused(world, `GET / HTTP/1.1\r\nHost: test.local\r\n${many}\r\n`);
    expect(client.responses[0]!.status).toBe(431);
    expect(world.upstream(HEALTHY).arrivals).toHaveLength(0);
    expectStillServing(world);
  });

  it('an HTTP/1.0 request → 426 (accept_http_10 is false) and the connection is closed', async () => {
    const world = await setup({ refuse: true });
    const client = refused(world, 'GET / HTTP/1.0\r\nHost: test.local\r\n\r\n');
    expect(client.responses[0]!.status).toBe(426);
    expect(world.upstream(HEALTHY).arrivals).toHaveLength(0);
    expectStillServing(world);
  });

  it('an HTTP/1.1 request without Host → 400 and the connection is closed', async () => {
    const world = await setup({ refuse: true });
    const client = refused(world, 'GET / HTTP/1.1\r\nUser-Agent: test\r\n\r\n');
    expect(client.responses[0]!.status).toBe(400);
    expect(world.upstream(HEALTHY).arrivals).toHaveLength(0);
    expectStillServing(world);
  });

  it('a good request pipelined behind a bad one is not served', async () => {
    const world = await setup({ refuse: true });
    const client = refused(world, 'G@T / HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(client.responses.map((r) => r.status)).toEqual([400]);
    expect(world.upstream(HEALTHY).arrivals).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------
// On real sockets: what the kernel does is the point of these two.

interface RealSetup {
  proxy: RunningProxy;
  healthy: Upstream;
}

async function realSetup(failingPort: number): Promise<RealSetup> {
  const healthy = await startUpstream({ name: 'healthy' });
  const config = failureConfig(cluster('failing', [failingPort]));
  config.static_resources.clusters[1] = cluster('backend', [healthy.port]);
  return { proxy: await startProxy(config), healthy };
}

async function realLastLog(proxy: RunningProxy, count: number): Promise<ReturnType<typeof parseAccessLog>> {
  await eventually(() => proxy.logs.length >= count, `${count} access log line(s)`);
  return parseAccessLog(proxy.logs[count - 1]!);
}

async function expectStillServingReal({ proxy, healthy }: RealSetup): Promise<void> {
  const res = await httpRequest(proxy.port, { path: '/ok' });
  expect(res.status).toBe(200);
  expect(res.text).toBe('healthy GET /ok');
  for (const name of ['failing', 'backend']) {
    await eventually(() => proxy.engine.stats.valueOf(`cluster.${name}.upstream_rq_active`) === 0, `cluster.${name}.upstream_rq_active back to 0`);
    expect(proxy.engine.stats.valueOf(`cluster.${name}.upstream_rq_pending_active`)).toBe(0);
  }
  expect(proxy.engine.stats.valueOf('http.ingress_http.downstream_rq_active')).toBe(0);
}

describe('on real sockets', () => {
  it('a client that closes with 64 MiB of response unread (its kernel resets, the proxy is under backpressure) → DC, the upstream connection is closed', async () => {
    const big = await startUpstream({ respond: () => ({ bodySize: 64 * 1024 * 1024 }) });
    const s = await realSetup(big.port);
    const client = await RawClient.connect(s.proxy.port);
    client.write('GET /failing/big HTTP/1.1\r\nHost: test.local\r\n\r\n');
    await client.waitFor(() => client.data.length > 256 * 1024, 'part of the body');
    client.destroy();
    expect(await realLastLog(s.proxy, 1)).toMatchObject({ status: 200, flags: 'DC' });
    await eventually(() => s.proxy.stat('cluster.failing.upstream_cx_active') === 0, 'the upstream connection to be closed');
    expect(s.proxy.stat('http.ingress_http.downstream_cx_destroy_active_rq')).toBe(1);
    await expectStillServingReal(s);
  });

  it('an early 413 while the proxy holds unread request bytes still reaches the client before the close', async () => {
    const early = await startRawServer((socket) => onRequestHead(socket, () => socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nnope')));
    const s = await realSetup(early.port);
    const client = await RawClient.connect(s.proxy.port);
    client.write(`POST /failing/upload HTTP/1.1\r\nHost: test.local\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(1000)}`);
    await client.waitForClose();
    const [res] = client.responses();
    expect(res!.status).toBe(413);
    expect(res!.body.toString()).toBe('nope');
    expect(res!.headers['connection']).toBe('close');
    expect(s.proxy.stat('http.ingress_http.downstream_rq_response_before_rq_complete')).toBe(1);
    await expectStillServingReal(s);
  });
});
