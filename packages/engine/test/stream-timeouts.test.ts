/**
 * Stream timeouts on a ManualClock (docs/resilience.md "Filters and timeouts"): the HCM's
 * stream_idle_timeout, a route's idle_timeout replacing it, and request_timeout.
 */
import type { FactEvent, TraceEvent } from '@proxyscope/protocol';
import { describe, expect, it } from 'vitest';
import type { HttpConnectionManager, RouteAction } from '../src/config/types';
import * as b from './support/config-builders';
import { MemoryOrigin, ok, settle, startSimulated, type SimulatedProxy } from './support/memory-origin';
import { parseAccessLog, parseResponses } from './support/upstreams';

function config(hcm: Partial<HttpConnectionManager> = {}, route: Partial<RouteAction> = {}) {
  const r = b.route({ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend', timeout: 0, ...route } });
  return b.bootstrap(
    [b.listener(b.hcm(b.routeConfig([b.vhost('all', ['*'], [r])]), { access_log: [{ name: 'envoy.access_loggers.stdout' }], ...hcm }), 10000)],
    [b.cluster('backend', [8080])],
  );
}

async function start(hcm: Partial<HttpConnectionManager> = {}, route: Partial<RouteAction> = {}, respond?: ConstructorParameters<typeof MemoryOrigin>[0]) {
  const proxy = await startSimulated(config(hcm, route), new MemoryOrigin(respond));
  const events: TraceEvent[] = [];
  proxy.engine.tracer.attach((e) => events.push(e));
  return { ...proxy, events, timers: (name: string) => events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === 'timer.fired' && e.data.timer === name) };
}

/** A client that closes its side when the proxy does, like a real one. */
function client(proxy: SimulatedProxy) {
  const c = proxy.dial();
  let ended = false;
  c.setHandlers({ onData: () => {}, onEnd: () => ((ended = true), c.destroy()), onClose: () => (ended = true), onDrain: () => {} });
  return { c, responses: () => parseResponses(Buffer.from(c.text(), 'latin1'), { closed: ended }), ended: () => ended };
}

/** Stop the engine; nothing may be left: no connection, request or clock timer. */
async function finish(proxy: SimulatedProxy): Promise<void> {
  await proxy.engine.stop();
  await settle();
  expect(proxy.stat('http.ingress_http.downstream_cx_active')).toBe(0);
  expect(proxy.stat('http.ingress_http.downstream_rq_active')).toBe(0);
  expect(proxy.stat('cluster.backend.upstream_cx_active')).toBe(0);
  expect(proxy.stat('cluster.backend.upstream_rq_active')).toBe(0);
  expect(proxy.clock.pendingTimers()).toBe(0);
}

const hang = () => undefined;
const GET = 'GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n';

describe('stream_idle_timeout', () => {
  it('answers 504 "stream timeout" with flag SI once the whole request is in and nothing moves', async () => {
    const p = await start({ stream_idle_timeout: 1000 }, {}, hang);
    const { c, responses } = client(p);
    c.write(GET);
    await p.advance(999);
    expect(c.text()).toBe('');
    await p.advance(1);
    const [response] = responses();
    expect(response!.status).toBe(504);
    expect(response!.body.toString()).toBe('stream timeout');
    // A complete request keeps the HTTP/1 connection usable.
    expect(response!.headers.connection).toBeUndefined();
    expect(p.stat('http.ingress_http.downstream_rq_idle_timeout')).toBe(1);
    expect(parseAccessLog(p.logs[0]!)).toMatchObject({ status: 504, flags: 'SI' });
    expect(p.timers('stream_idle_timeout')).toMatchObject([{ machine: 'stream', data: { timer: 'stream_idle_timeout', ms: 1000 } }]);
    await finish(p);
  });

  it('answers 408 and closes the connection while the request body is still missing', async () => {
    const p = await start({ stream_idle_timeout: 1000 }, {}, hang);
    const { c, responses, ended } = client(p);
    c.write('POST /x HTTP/1.1\r\nHost: example.com\r\ncontent-length: 10\r\n\r\nhello');
    await p.advance(1000);
    const [response] = responses();
    expect(response!.status).toBe(408);
    expect(response!.headers.connection).toBe('close');
    expect(ended()).toBe(true);
    expect(parseAccessLog(p.logs[0]!)).toMatchObject({ status: 408, flags: 'SI' });
    await finish(p);
  });

  it('restarts with every byte that moves, so the timeout counts from the last activity', async () => {
    const p = await start({ stream_idle_timeout: 1000 }, {}, hang);
    const { c, responses } = client(p);
    c.write('POST /x HTTP/1.1\r\nHost: example.com\r\ncontent-length: 3\r\n\r\na');
    await p.advance(600);
    c.write('b');
    await p.advance(999);
    expect(c.text()).toBe('');
    await p.advance(1);
    expect(responses()[0]!.status).toBe(408);
    expect(p.clock.now()).toBe(1600);
    await finish(p);
  });

  it('resets the stream once the response has started: flag SI, the client sees the connection close', async () => {
    const p = await start({ stream_idle_timeout: 1000 }, {}, () => 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc');
    const { c, ended } = client(p);
    c.write(GET);
    await p.advance(999);
    expect(c.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*abc$/);
    expect(ended()).toBe(false);
    await p.advance(1);
    expect(ended()).toBe(true);
    expect(parseAccessLog(p.logs[0]!)).toMatchObject({ status: 200, flags: 'SI' });
    expect(p.stat('http.ingress_http.downstream_rq_idle_timeout')).toBe(1);
    await finish(p);
  });

  it('a route idle_timeout replaces the HCM value for its streams', async () => {
    const p = await start({ stream_idle_timeout: 1000 }, { idle_timeout: 200 }, hang);
    const { c, responses } = client(p);
    c.write(GET);
    await p.advance(200);
    expect(responses()[0]!.status).toBe(504);
    expect(p.timers('stream_idle_timeout')[0]!.data.ms).toBe(200);
    await finish(p);
  });

  it('a route idle_timeout of 0 turns it off for that route', async () => {
    const p = await start({ stream_idle_timeout: 1000 }, { idle_timeout: 0 }, hang);
    const { c } = client(p);
    c.write(GET);
    await p.advance(3_600_000);
    expect(c.text()).toBe('');
    expect(p.stat('http.ingress_http.downstream_rq_idle_timeout')).toBe(0);
    await finish(p);
  });

  it('keeps one clock timer per connection however many requests pass (no timer per request)', async () => {
    const p = await start({}, {}, () => ok());
    const { c, responses } = client(p);
    c.write(GET);
    await p.advance(1);
    expect(responses()).toHaveLength(1);
    const afterOne = p.clock.pendingTimers();
    for (let i = 2; i <= 50; i++) {
      c.write(GET);
      await p.advance(1);
      expect(responses()).toHaveLength(i);
    }
    expect(p.clock.pendingTimers()).toBe(afterOne);
    // connection idle_timeout and the upstream client's idle timer; the stream's own timers
    // end with the stream (its machine's final state cancels them)
    expect(afterOne).toBeLessThanOrEqual(2);
    await finish(p);
  });
});

describe('request_timeout', () => {
  it('answers 408 "request timeout" when the whole request has not arrived in time (no flag)', async () => {
    const p = await start({ request_timeout: 500 }, {}, hang);
    const { c, responses } = client(p);
    c.write('POST /x HTTP/1.1\r\nHost: example.com\r\ncontent-length: 10\r\n\r\nhello');
    await p.advance(499);
    expect(c.text()).toBe('');
    await p.advance(1);
    const [response] = responses();
    expect(response!.status).toBe(408);
    expect(response!.body.toString()).toBe('request timeout');
    expect(p.stat('http.ingress_http.downstream_rq_timeout')).toBe(1);
    expect(parseAccessLog(p.logs[0]!)).toMatchObject({ status: 408, flags: '-' });
    expect(p.timers('request_timeout')).toHaveLength(1);
    await finish(p);
  });

  it('stops counting once the request is complete: a slow upstream is not a slow request', async () => {
    const p = await start({ request_timeout: 500 }, {}, hang);
    const { c } = client(p);
    c.write('POST /x HTTP/1.1\r\nHost: example.com\r\ncontent-length: 5\r\n\r\nhel');
    await p.advance(300);
    c.write('lo');
    await p.advance(10_000);
    expect(c.text()).toBe('');
    expect(p.origin.requests).toHaveLength(1);
    expect(p.stat('http.ingress_http.downstream_rq_timeout')).toBe(0);
    await finish(p);
  });

  it("is frozen while step mode holds the request; a step fires it, and the 408 holds at its first state change", async () => {
    const p = await start({ request_timeout: 500 }, {}, hang);
    p.engine.stepper.setBreakpoints([{ machine: 'stream', state: 'decoding_body' }]);
    const { c, responses } = client(p);
    c.write('POST /x HTTP/1.1\r\nHost: example.com\r\ncontent-length: 10\r\n\r\nhello');
    await p.advance(5000);
    const [held] = p.engine.stepper.held();
    expect(held).toMatchObject({ machine: 'stream', state: 'decoding_body', reason: 'breakpoint' });
    expect(p.timers('request_timeout')).toEqual([]);
    expect(c.text()).toBe('');
    // Step through what is parked until only the frozen timer is left, which the step fires.
    let ran = '';
    for (let i = 0; i < 10 && ran !== 'timer'; i++) ran = p.engine.stepper.step(held!.stream).ran;
    expect(ran).toBe('timer');
    await p.advance(0);
    expect(p.timers('request_timeout')).toHaveLength(1);
    expect(p.engine.stepper.held()).toMatchObject([{ stream: held!.stream, reason: 'step' }]);
    expect(c.text()).toBe('');
    p.engine.stepper.setBreakpoints([]);
    p.engine.stepper.resume();
    await p.advance(1);
    expect(responses()[0]).toMatchObject({ status: 408 });
    expect(responses()[0]!.body.toString()).toBe('request timeout');
    await finish(p);
  });
});
