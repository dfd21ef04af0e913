/**
 * Client -> server controls on a real proxy (127.0.0.1): `send_request` through the proxy's
 * own listener (result, stream id, the stream's events), its refusals, and `host_fault` on
 * the built-in demo's upstream hosts (down / up, fail, reset, latency, clear), with what the
 * demo config makes of each: 503 UF, retries to the other api host, outlier ejection.
 */
import { describe, expect, it } from 'vitest';
import type { ProxyEngine } from '@proxyscope/engine';
import { REQUEST_TAG_HEADER, SEND_REQUEST_LIMITS, type FactEvent, type RequestResultMessage, type ServerMessage, type TraceEvent } from '@proxyscope/protocol';
import { closedPort, patternBytes, sha256 } from '../../../packages/engine/test/support/upstreams';
import { EventHub, RequestSender } from '@proxyscope/serve';
import { nodeSendTransport } from '../src/stream/node-send-transport';
import { startDemoLive, startLive, until, WsProbe, type DemoLive } from './support/stream';

type Result = RequestResultMessage;
let nextId = 1;

/** Sends a send_request and waits for its ack and its request_result. */
async function send(probe: WsProbe, request: Record<string, unknown>): Promise<{ ack: Extract<ServerMessage, { type: 'ack' }>; result: Result }> {
  const id = `rq-${nextId++}`;
  const from = probe.messages.length;
  const ack = await probe.request({ type: 'send_request', method: 'GET', authority: 'shop.example.com', path: '/', ...request, id });
  if (ack.type !== 'ack') throw new Error(`send_request refused: ${JSON.stringify(ack)}`);
  const result = await until('the request_result', () => probe.messages.slice(from).find((m): m is Result => m.type === 'request_result' && m.id === id), 15_000);
  // The ack comes before the result.
  expect(probe.messages.indexOf(ack)).toBeLessThan(probe.messages.indexOf(result));
  return { ack: ack as Extract<ServerMessage, { type: 'ack' }>, result };
}

const facts = (events: TraceEvent[], stream: number, fact: string) => events.filter((e): e is FactEvent => e.type === 'fact' && e.ids.stream === stream && e.fact === fact);

describe('send_request', () => {
  it('sends a tagged request through the listener; the result names the stream whose events are in the stream', async () => {
    const live = await startLive();
    const probe = await WsProbe.connect(live.wsUrl);
    const hello = await probe.next('hello', 0);
    expect(hello.controls).toEqual(['drain_listeners', 'healthcheck_fail', 'healthcheck_ok', 'send_request', 'breakpoints', 'step', 'resume']);
    expect(hello.limits.sendRequest).toEqual(SEND_REQUEST_LIMITS);
    expect(hello.hosts).toBeUndefined();
    await probe.next('history_end', 0);

    const { ack, result } = await send(probe, {
      method: 'POST',
      path: '/orders?x=1',
      headers: { 'X-Trace-Me': 'yes', accept: 'application/json' },
      body: '{"qty":2}',
      tag: 'my-tag',
    });
    expect(ack).toMatchObject({ request: 'send_request', detail: { tag: 'my-tag', listener: 'ingress', address: `127.0.0.1:${live.proxy.port}` } });
    expect(result).toMatchObject({ tag: 'my-tag', listener: 'ingress', status: 200, body: 'POST /orders?x=1', bodyEncoding: 'utf8', bodyBytes: 16, truncated: false });
    expect(result.error).toBeUndefined();
    expect(result.durationMs).toBeGreaterThan(0);
    expect(result.headers).toContainEqual(['content-length', '16']);
    expect(result.accessLog).toEqual({
      status: 200,
      flags: '-',
      durationMs: expect.any(Number),
      upstreamHost: `127.0.0.1:${live.upstream.port}`,
      cluster: 'backend',
      route: expect.anything(),
    });

    // The upstream got it as sent, with the tag.
    const seen = live.upstream.requests[0]!;
    expect(seen).toMatchObject({ method: 'POST', url: '/orders?x=1', bodyLength: 9 });
    expect(seen.headers).toMatchObject({ host: 'shop.example.com', [REQUEST_TAG_HEADER]: 'my-tag', 'x-trace-me': 'yes', 'content-length': '9' });

    // The stream id is the engine's: its events are in the event stream, the tag in its request headers.
    const stream = result.stream!;
    expect(stream).toBeGreaterThan(0);
    const headers = await until('the stream events', () => facts(probe.events, stream, 'codec.request_headers')[0]);
    expect(headers.ids.cx).toBe(result.cx);
    expect(headers.data).toMatchObject({ method: 'POST', path: '/orders?x=1', authority: 'shop.example.com', headers: { [REQUEST_TAG_HEADER]: 'my-tag' } });
    expect(facts(probe.events, stream, 'stream.access_log')).toHaveLength(1);

    // Subscribing to that request gets its machines, from the history.
    const follower = await WsProbe.connect(`${live.wsUrl}?subscribe=none`);
    await follower.request({ type: 'subscribe', id: 'follow', filter: { requests: [stream] }, history: true });
    await follower.next('history_end', 0);
    expect(follower.events.length).toBeGreaterThan(10);
    expect(follower.events.every((e) => e.ids.stream === stream)).toBe(true);
    expect(new Set(follower.events.map((e) => e.machine))).toEqual(new Set(['stream', 'filter_chain', 'router', 'upstream_request']));

    // Without a tag the server makes one up.
    const untagged = await send(probe, { path: '/plain' });
    expect(untagged.ack.detail!.tag).toMatch(/^ps-[0-9a-f]{12}$/);
    expect(untagged.result).toMatchObject({ tag: untagged.ack.detail!.tag, status: 200, body: 'GET /plain' });
    expect(untagged.result.stream).toBeGreaterThan(stream);
    expect(live.upstream.requests[1]!.headers[REQUEST_TAG_HEADER]).toBe(untagged.ack.detail!.tag);
  });

  it('carries binary bodies as base64 and cuts long responses', async () => {
    const live = await startLive({ upstream: { respond: (req) => (req.url === '/big' ? { bodySize: 100_000 } : {}) } });
    const probe = await WsProbe.connect(`${live.wsUrl}?subscribe=none`);
    const bytes = patternBytes(0, 300_000);
    const upload = await send(probe, { method: 'PUT', path: '/upload', body: bytes.toString('base64'), bodyEncoding: 'base64' });
    expect(upload.result.status).toBe(200);
    expect(live.upstream.requests[0]).toMatchObject({ bodyLength: 300_000, bodySha256: sha256(bytes) });

    const big = await send(probe, { path: '/big' });
    expect(big.result).toMatchObject({ status: 200, bodyEncoding: 'base64', bodyBytes: 100_000, truncated: true });
    const body = Buffer.from(big.result.body!, 'base64');
    expect(body.equals(patternBytes(0, SEND_REQUEST_LIMITS.maxResponseBodyBytes))).toBe(true);
    // Without a subscription the sender still finds the stream (it holds the tracer meanwhile).
    expect(big.result.stream).toBeGreaterThan(0);
    expect(big.result.accessLog).toMatchObject({ status: 200, flags: '-' });
  });

  it('refuses a too large body, a bad header name, a reserved header and an unknown listener; the connection stays usable', async () => {
    const live = await startLive();
    const probe = await WsProbe.connect(`${live.wsUrl}?subscribe=none`);
    const base = { type: 'send_request', method: 'GET', authority: 'shop.example.com', path: '/' };
    const refused = (id: string, extra: Record<string, unknown>) => probe.request({ ...base, ...extra, id });

    expect(await refused('big', { method: 'POST', body: 'x'.repeat(SEND_REQUEST_LIMITS.maxBodyBytes + 1) })).toMatchObject({
      type: 'error',
      code: 'invalid_message',
      field: 'body',
      message: expect.stringContaining('larger than 1048576'),
    });
    expect(await refused('name', { headers: { 'bad name': 'x' } })).toMatchObject({ code: 'invalid_message', field: 'headers.bad name' });
    expect(await refused('crlf', { headers: { 'x-ok': 'a\r\nx-injected: 1' } })).toMatchObject({ code: 'invalid_message', field: 'headers.x-ok' });
    expect(await refused('host', { headers: { Host: 'evil.example' } })).toMatchObject({ code: 'invalid_message', field: 'headers.Host' });
    expect(await refused('tag', { headers: { [REQUEST_TAG_HEADER]: 'x' } })).toMatchObject({ code: 'invalid_message' });
    expect(await refused('many', { headers: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`x-h${i}`, 'v'])) })).toMatchObject({ code: 'invalid_message', field: 'headers' });
    expect(await refused('listener', { listener: 'nope' })).toMatchObject({ code: 'invalid_message', field: 'listener', message: expect.stringContaining('listeners: ingress') });
    expect(await refused('method', { method: 'CONNECT' })).toMatchObject({ code: 'invalid_message', field: 'method' });
    expect(await refused('path', { path: 'http://elsewhere/' })).toMatchObject({ code: 'invalid_message', field: 'path' });
    expect(await refused('authority', { authority: 'a b' })).toMatchObject({ code: 'invalid_message', field: 'authority' });
    expect(await refused('b64', { body: 'not base64!', bodyEncoding: 'base64' })).toMatchObject({ code: 'invalid_message', field: 'body' });
    expect(await refused('extra', { url: '/x' })).toMatchObject({ code: 'invalid_message' });
    // Only send_request may be larger than maxMessageBytes.
    expect(await probe.request({ type: 'ping', id: 'fat', pad: 'x'.repeat(70_000) })).toMatchObject({ code: 'too_large' });

    expect(live.upstream.requests).toHaveLength(0);
    expect(await probe.request({ type: 'ping', id: 'still-there' })).toMatchObject({ type: 'ack', request: 'ping' });
    const ok = await send(probe, { path: '/after' });
    expect(ok.result.status).toBe(200);
    expect(probe.closed).toBeUndefined();
  });

  it('reports a timeout as a result with an error, and bounds the requests in flight', async () => {
    const live = await startLive({ upstream: { respond: (req) => (req.url.startsWith('/hang') ? { hang: true } : {}) } });
    const probe = await WsProbe.connect(`${live.wsUrl}?subscribe=none`);
    const slow = await send(probe, { path: '/hang/1', timeoutMs: 200 });
    expect(slow.result.error).toEqual({ code: 'timeout', message: 'no complete response within 200 ms' });
    expect(slow.result.status).toBeUndefined();
    expect(slow.result.durationMs).toBeGreaterThanOrEqual(199);
    // It reached the engine: the stream is known, and logged once the client went away.
    expect(slow.result.stream).toBeGreaterThan(0);

    const from = probe.messages.length;
    for (let i = 0; i < SEND_REQUEST_LIMITS.maxInFlight; i++) probe.send({ type: 'send_request', id: `h${i}`, method: 'GET', authority: 'a.example', path: `/hang/${i}`, timeoutMs: 500 });
    expect(await probe.request({ type: 'send_request', id: 'one-too-many', method: 'GET', authority: 'a.example', path: '/' })).toMatchObject({ type: 'error', code: 'busy' });
    await until('every timeout', () => probe.messages.slice(from).filter((m) => m.type === 'request_result').length === SEND_REQUEST_LIMITS.maxInFlight, 5000);
    expect((await send(probe, { path: '/fine' })).result.status).toBe(200);
  });

  it('reports a refused connection as a result with an error', async () => {
    const port = await closedPort();
    const hub = new EventHub();
    const engine = { listeners: [{ config: { name: 'gone' }, boundAddress: `0.0.0.0:${port}` }] } as unknown as ProxyEngine;
    const sender = new RequestSender(engine, hub, {}, nodeSendTransport);
    const result = await new Promise<Result>((resolve) => {
      const ack = sender.send({ type: 'send_request', method: 'GET', authority: 'a.example', path: '/', tag: 't1' }, {}, resolve);
      expect(ack).toEqual({ tag: 't1', listener: 'gone', address: `127.0.0.1:${port}` });
    });
    expect(result).toMatchObject({ type: 'request_result', tag: 't1', listener: 'gone', error: { code: 'connection_refused' } });
    expect(result.stream).toBeUndefined();
    expect(sender.inFlight).toBe(0);
    expect(hub.tracing).toBe(false);
    hub.close();
  });

  it('refuses host_fault without the built-in demo', async () => {
    const live = await startLive();
    const probe = await WsProbe.connect(`${live.wsUrl}?subscribe=none`);
    expect(await probe.request({ type: 'host_fault', id: 'f', host: 'web-2', fault: { down: true } })).toMatchObject({
      type: 'error',
      code: 'not_supported',
      id: 'f',
      message: expect.stringContaining('--config'),
    });
  });
});

describe('host_fault on the built-in demo', () => {
  /** Sends requests one after another until `want` holds for a result (bounded). */
  async function sendUntil(probe: WsProbe, request: Record<string, unknown>, want: (r: Result) => boolean, max = 12): Promise<{ hit: Result; all: Result[] }> {
    const all: Result[] = [];
    for (let i = 0; i < max; i++) {
      const { result } = await send(probe, request);
      all.push(result);
      if (want(result)) return { hit: result, all };
    }
    throw new Error(`no result matched in ${max} requests: ${JSON.stringify(all.map((r) => [r.status, r.accessLog?.flags, r.accessLog?.upstreamHost]))}`);
  }
  const servedBy = (demo: DemoLive, name: string) => (r: Result) => r.accessLog?.upstreamHost === demo.host(name).address;
  const fault = (probe: WsProbe, host: string, f: Record<string, unknown>) => probe.request({ type: 'host_fault', id: `f-${nextId++}`, host, fault: f });

  it('lists the demo hosts in hello and tells every client when one changes', async () => {
    const demo = await startDemoLive();
    const probe = await WsProbe.connect(`${demo.wsUrl}?subscribe=none`);
    const other = await WsProbe.connect(`${demo.wsUrl}?subscribe=none`);
    const hello = await probe.next('hello', 0);
    expect(hello.controls).toContain('host_fault');
    expect(hello.hosts!.map((h) => [h.name, h.service])).toEqual([
      ['web-1', 'web'],
      ['web-2', 'web'],
      ['web-3', 'web'],
      ['web-canary-1', 'web_canary'],
      ['api-1', 'api'],
      ['api-2', 'api'],
    ]);
    const web2 = demo.host('web-2');
    expect(hello.hosts![1]).toEqual({
      name: 'web-2',
      service: 'web',
      port: web2.port,
      address: `127.0.0.1:${web2.port}`,
      behaviour: { latencyMs: 5, errorRate: 0, errorStatus: 503, reset: false, down: false },
      faulted: false,
    });
    // The hosts are the topology's cluster hosts.
    expect(hello.topology.clusters.find((c) => c.name === 'web')!.hosts).toContain(web2.address);

    const ack = await fault(probe, 'web-2', { fail: { status: 500, rate: 0.5 } });
    expect(ack).toMatchObject({ type: 'ack', request: 'host_fault', detail: { host: { name: 'web-2', behaviour: { errorStatus: 500, errorRate: 0.5 }, faulted: true } } });
    for (const client of [probe, other]) {
      const hosts = await client.next('hosts', 0);
      expect(hosts.hosts.find((h) => h.name === 'web-2')).toMatchObject({ behaviour: { errorStatus: 500, errorRate: 0.5 }, faulted: true });
    }
    await fault(probe, 'web-2', { clear: true });
    await until('the cleared hosts', () => other.of('hosts').at(-1)!.hosts.every((h) => !h.faulted));

    expect(await fault(probe, 'db-1', { down: true })).toMatchObject({ type: 'error', code: 'invalid_message', field: 'host', message: expect.stringContaining('web-1, web-2') });
    expect(await probe.request({ type: 'host_fault', id: 'two', host: 'web-2', fault: { down: true, up: true } })).toMatchObject({ code: 'invalid_message', field: 'fault' });
    expect(await probe.request({ type: 'host_fault', id: 'rate', host: 'web-2', fault: { fail: { status: 503, rate: 2 } } })).toMatchObject({ code: 'invalid_message', field: 'fault.fail.rate' });
    expect(await probe.request({ type: 'ping', id: 'ok' })).toMatchObject({ type: 'ack' });
  });

  it('down: the web cluster answers 503 UF for web-2; up: web-2 serves again', async () => {
    const demo = await startDemoLive();
    const probe = await WsProbe.connect(demo.wsUrl);
    await probe.next('history_end', 0);
    const web2 = demo.host('web-2');
    expect(await fault(probe, 'web-2', { down: true })).toMatchObject({ type: 'ack', detail: { host: { behaviour: { down: true }, faulted: true } } });
    expect(web2.down).toBe(true);

    // /static/ goes to the web cluster (round robin over three hosts, no retries).
    const { hit, all } = await sendUntil(probe, { path: '/static/logo.png' }, servedBy(demo, 'web-2'));
    expect(hit).toMatchObject({ status: 503, accessLog: { status: 503, flags: 'UF', cluster: 'web' } });
    expect(hit.body).toContain('upstream connect error');
    for (const other of all.slice(0, -1)) expect(other).toMatchObject({ status: 200, accessLog: { flags: '-' } });
    // The trace of that stream shows the refused connect.
    await until('the connect failure in the trace', () => probe.events.some((e) => e.type === 'fact' && e.fact === 'pool.connect_failure' && e.ids.host === web2.address));

    expect(await fault(probe, 'web-2', { up: true })).toMatchObject({ type: 'ack', detail: { host: { port: web2.port, behaviour: { down: false }, faulted: false } } });
    const back = await sendUntil(probe, { path: '/static/logo.png' }, servedBy(demo, 'web-2'));
    expect(back.hit).toMatchObject({ status: 200, accessLog: { flags: '-' } });
    expect(JSON.parse(back.hit.body!)).toMatchObject({ host: 'web-2', service: 'web' });
    expect(back.all.every((r) => r.status === 200)).toBe(true);
  });

  it('down on api-1: /api/ requests are retried on api-2 (previous_hosts) and the trace shows the retry', async () => {
    const demo = await startDemoLive();
    const probe = await WsProbe.connect(demo.wsUrl);
    await probe.next('history_end', 0);
    await fault(probe, 'api-1', { down: true });
    const api2 = demo.host('api-2').address;
    const retried = (r: Result) => r.stream !== undefined && facts(probe.events, r.stream, 'retry.decision').some((d) => d.data.decision === 'retry');
    const { hit, all } = await sendUntil(probe, { path: '/api/products' }, (r) => r.status === 200 && retried(r));
    expect(hit.accessLog).toMatchObject({ status: 200, flags: '-', upstreamHost: api2, cluster: 'api' });
    // The trace: api-1 picked, its connect refused, a retry decided, api-2 picked.
    expect(facts(probe.events, hit.stream!, 'retry.decision')[0]!.data).toMatchObject({ attempt: 1, trigger: 'reset', reset: 'RemoteConnectionFailure', decision: 'retry' });
    const picks = facts(probe.events, hit.stream!, 'lb.host_selected').map((f) => f.data.host);
    expect(picks[0]).toBe(demo.host('api-1').address);
    expect(picks.at(-1)).toBe(api2);
    for (const r of all) {
      // Served by api-2 at once or after a retry; or, since previous_hosts re-picks at most
      // once (host_selection_retry_max_attempts 1), every attempt landed on api-1: 503 UF.
      if (r.status === 200) expect(r.accessLog).toMatchObject({ upstreamHost: api2 });
      else expect(r.accessLog).toMatchObject({ status: 503, flags: expect.stringContaining('UF'), upstreamHost: demo.host('api-1').address });
    }
    expect(demo.proxy.stat('cluster.api.upstream_rq_retry')).toBeGreaterThanOrEqual(1);

    await fault(probe, 'api-1', { up: true });
    const served = await sendUntil(probe, { path: '/api/products' }, servedBy(demo, 'api-1'), 20);
    expect(served.hit.status).toBe(200);
  });

  it('fail 503 rate 1: web-2 answers 503 itself; after three in a row outlier detection ejects it; clear restores it', async () => {
    const demo = await startDemoLive();
    const probe = await WsProbe.connect(demo.wsUrl);
    await probe.next('history_end', 0);
    const web2 = demo.host('web-2');
    await fault(probe, 'web-2', { fail: { status: 503, rate: 1 } });

    const failures: Result[] = [];
    const requests: Result[] = [];
    for (let i = 0; i < 9; i++) {
      const { result } = await send(probe, { path: `/static/${i}` });
      requests.push(result);
      if (result.status !== 200) failures.push(result);
    }
    // Round robin: every third request went to web-2, which answered 503 (no local flag: the host replied).
    expect(failures).toHaveLength(3);
    for (const f of failures) {
      expect(f).toMatchObject({ status: 503, accessLog: { flags: '-', upstreamHost: web2.address } });
      expect(f.headers).toContainEqual(['x-demo-host', 'web-2']);
      expect(JSON.parse(f.body!)).toMatchObject({ host: 'web-2', status: 503 });
    }
    // consecutive_5xx: 3 -> web-2 is ejected (max_ejection_percent 34 allows one of three).
    await until('the ejection', () => probe.events.find((e) => e.type === 'fact' && e.fact === 'host.ejected' && e.ids.host === web2.address));
    expect(demo.proxy.stat('cluster.web.outlier_detection.ejections_active')).toBe(1);
    for (let i = 0; i < 4; i++) {
      const { result } = await send(probe, { path: `/static/after/${i}` });
      expect(result).toMatchObject({ status: 200 });
      expect(result.accessLog!.upstreamHost).not.toBe(web2.address);
    }

    // clear: the host answers 200 again (the proxy keeps it ejected until base_ejection_time passes).
    await fault(probe, 'web-2', { clear: true });
    expect(web2.info()).toMatchObject({ behaviour: { errorRate: 0, errorStatus: 503 }, faulted: false });
    const direct = await fetch(`http://${web2.address}/static/x`);
    expect(direct.status).toBe(200);
  });

  it('fail on web-2 without ejection, then clear: 503 from web-2, then 200 from web-2', async () => {
    const demo = await startDemoLive();
    const probe = await WsProbe.connect(`${demo.wsUrl}?subscribe=none`);
    await fault(probe, 'web-2', { fail: { status: 503, rate: 1 } });
    const failed = await sendUntil(probe, { path: '/static/a' }, servedBy(demo, 'web-2'));
    expect(failed.hit.status).toBe(503);
    await fault(probe, 'web-2', { clear: true });
    const ok = await sendUntil(probe, { path: '/static/b' }, servedBy(demo, 'web-2'));
    expect(ok.hit.status).toBe(200);
  });

  it('reset: web-2 resets each request (503 UC on web); api-1 resets are retried on api-2; clear restores', async () => {
    const demo = await startDemoLive();
    const probe = await WsProbe.connect(demo.wsUrl);
    await probe.next('history_end', 0);
    expect(await fault(probe, 'web-2', { reset: true })).toMatchObject({ detail: { host: { behaviour: { reset: true }, faulted: true } } });
    const reset = await sendUntil(probe, { path: '/static/r' }, servedBy(demo, 'web-2'));
    expect(reset.hit).toMatchObject({ status: 503, accessLog: { flags: 'UC' } });
    expect(reset.hit.body).toContain('connection termination');
    await until('the upstream reset in the trace', () => facts(probe.events, reset.hit.stream!, 'upstream.reset')[0]);

    await fault(probe, 'api-1', { reset: true });
    const api2 = demo.host('api-2').address;
    const retried = await sendUntil(
      probe,
      { path: '/api/cart', method: 'POST', body: '{}' },
      (r) => r.status === 200 && r.stream !== undefined && facts(probe.events, r.stream, 'retry.decision').some((d) => d.data.decision === 'retry'),
    );
    expect(retried.hit.accessLog).toMatchObject({ flags: '-', upstreamHost: api2 });
    expect(facts(probe.events, retried.hit.stream!, 'upstream.reset').length).toBeGreaterThan(0);
    expect(demo.host('api-1').requests).toBeGreaterThan(0);

    await fault(probe, 'web-2', { clear: true });
    const ok = await sendUntil(probe, { path: '/static/r' }, servedBy(demo, 'web-2'));
    expect(ok.hit.status).toBe(200);
  });

  it('latency: web-2 answers slower; clear makes it fast again', async () => {
    const demo = await startDemoLive();
    const probe = await WsProbe.connect(`${demo.wsUrl}?subscribe=none`);
    expect(await fault(probe, 'web-2', { latency: { ms: 800 } })).toMatchObject({ detail: { host: { behaviour: { latencyMs: 800 } } } });
    const slow = await sendUntil(probe, { path: '/static/slow' }, servedBy(demo, 'web-2'));
    // 800 ms ± 50%
    expect(slow.hit.status).toBe(200);
    expect(slow.hit.durationMs).toBeGreaterThanOrEqual(400);
    for (const r of slow.all.slice(0, -1)) expect(r.durationMs).toBeLessThan(400);

    await fault(probe, 'web-2', { clear: true });
    const fast = await sendUntil(probe, { path: '/static/fast' }, servedBy(demo, 'web-2'));
    expect(fast.hit.durationMs).toBeLessThan(400);
  });
});
