/**
 * Connection timeouts on a ManualClock (docs/resilience.md "Filters and timeouts"): the
 * HCM's idle_timeout and max_connection_duration (with drain_timeout), and the cluster's
 * upstream idle_timeout and max_connection_duration.
 */
import type { FactEvent, TraceEvent } from '@proxyscope/protocol';
import { describe, expect, it } from 'vitest';
import type { Cluster, HttpConnectionManager } from '../src/config/types';
import * as b from './support/config-builders';
import { MemoryOrigin, ok, settle, startSimulated, type SimulatedProxy } from './support/memory-origin';
import { parseResponses } from './support/upstreams';

function config(hcm: Partial<HttpConnectionManager> = {}, cluster: Partial<Cluster> = {}) {
  const r = b.route({ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend', timeout: 0 } });
  return b.bootstrap([b.listener(b.hcm(b.routeConfig([b.vhost('all', ['*'], [r])]), hcm), 10000)], [b.cluster('backend', [8080], cluster)]);
}

async function start(hcm: Partial<HttpConnectionManager> = {}, cluster: Partial<Cluster> = {}, respond?: ConstructorParameters<typeof MemoryOrigin>[0]) {
  const proxy = await startSimulated(config(hcm, cluster), new MemoryOrigin(respond));
  const events: TraceEvent[] = [];
  proxy.engine.tracer.attach((e) => events.push(e));
  const timers = (name: string) => events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === 'timer.fired' && e.data.timer === name);
  return { ...proxy, events, timers };
}

/** A client that closes its side when the proxy does, like a real one. */
function client(proxy: SimulatedProxy) {
  const c = proxy.dial();
  let ended = false;
  c.setHandlers({ onData: () => {}, onEnd: () => ((ended = true), c.destroy()), onClose: () => (ended = true), onDrain: () => {} });
  return { c, responses: () => parseResponses(Buffer.from(c.text(), 'latin1'), { closed: ended }), ended: () => ended };
}

async function finish(proxy: SimulatedProxy): Promise<void> {
  await proxy.engine.stop();
  await settle();
  expect(proxy.stat('http.ingress_http.downstream_cx_active')).toBe(0);
  expect(proxy.stat('http.ingress_http.downstream_rq_active')).toBe(0);
  expect(proxy.stat('cluster.backend.upstream_cx_active')).toBe(0);
  expect(proxy.clock.pendingTimers()).toBe(0);
}

const GET = 'GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n';

describe('HCM idle_timeout (downstream connections)', () => {
  it('starts draining after idle_timeout with no stream, and closes drain_timeout later', async () => {
    const p = await start({ idle_timeout: 1000, drain_timeout: 500 });
    const { c, responses, ended } = client(p);
    c.write(GET);
    await settle();
    // The exchange ended at t=0: the idle period runs from there.
    expect(responses()).toHaveLength(1);
    await p.advance(999);
    expect(p.stat('http.ingress_http.downstream_cx_idle_timeout')).toBe(0);
    await p.advance(1);
    expect(p.stat('http.ingress_http.downstream_cx_idle_timeout')).toBe(1);
    expect(p.timers('idle_timeout')).toMatchObject([{ machine: 'connection', data: { ms: 1000, then: 'drain' } }]);
    expect(ended()).toBe(false);
    await p.advance(499);
    expect(ended()).toBe(false);
    await p.advance(1);
    expect(ended()).toBe(true);
    expect(p.timers('drain_timeout')).toMatchObject([{ data: { ms: 500, then: 'close' } }]);
    expect(p.stat('http.ingress_http.downstream_cx_active')).toBe(0);
    await finish(p);
  });

  it('counts from the end of the last stream, not from the connection start', async () => {
    const p = await start({ idle_timeout: 1000, drain_timeout: 0 }, {}, () => undefined);
    const { c, ended } = client(p);
    c.write(GET);
    await p.advance(5000);
    expect(p.stat('http.ingress_http.downstream_cx_idle_timeout')).toBe(0);
    p.origin.connections[0]!.write(ok());
    await p.advance(999);
    expect(ended()).toBe(false);
    await p.advance(1);
    expect(ended()).toBe(true);
    await finish(p);
  });

  it('closes a connection that never sent a byte at once, without draining', async () => {
    const p = await start({ idle_timeout: 1000 });
    const { ended } = client(p);
    await p.advance(1000);
    expect(ended()).toBe(true);
    expect(p.timers('idle_timeout')[0]!.data.then).toBe('close');
    expect(p.timers('drain_timeout')).toHaveLength(0);
    await finish(p);
  });

  it('a request that arrives while draining is served with connection: close', async () => {
    const p = await start({ idle_timeout: 1000, drain_timeout: 5000 });
    const { c, responses, ended } = client(p);
    c.write(GET);
    await p.advance(1001);
    c.write(GET);
    await p.advance(1);
    const all = responses();
    expect(all).toHaveLength(2);
    expect(all[0]!.headers.connection).toBeUndefined();
    expect(all[1]!.headers.connection).toBe('close');
    expect(ended()).toBe(true);
    await finish(p);
  });
});

describe('HCM max_connection_duration', () => {
  it('drains a connection with a stream in flight: its response says connection: close, then it closes', async () => {
    const p = await start({ max_connection_duration: 1000 }, {}, () => undefined);
    const { c, responses, ended } = client(p);
    c.write(GET);
    await p.advance(1000);
    expect(p.stat('http.ingress_http.downstream_cx_max_duration_reached')).toBe(1);
    expect(p.timers('max_connection_duration')).toMatchObject([{ data: { ms: 1000, then: 'drain' } }]);
    expect(ended()).toBe(false);
    p.origin.connections[0]!.write(ok());
    await p.advance(1);
    expect(responses()[0]!.headers.connection).toBe('close');
    expect(ended()).toBe(true);
    await finish(p);
  });

  it('is unlimited by default', async () => {
    const p = await start({}, {}, () => ok());
    const { c, responses, ended } = client(p);
    c.write(GET);
    await p.advance(1000);
    c.write(GET);
    await p.advance(1);
    expect(responses().map((r) => r.headers.connection)).toEqual([undefined, undefined]);
    expect(ended()).toBe(false);
    await finish(p);
  });
});

describe('cluster idle_timeout (upstream connections)', () => {
  it('closes a ready upstream connection after idle_timeout without a stream: a client transition named after the timer', async () => {
    const p = await start({}, { idle_timeout: 1000 });
    const { c, responses } = client(p);
    c.write(GET);
    await p.advance(1);
    expect(responses()).toHaveLength(1);
    await p.advance(998);
    expect(p.origin.open).toBe(1);
    await p.advance(1);
    expect(p.origin.open).toBe(0);
    expect(p.stat('cluster.backend.upstream_cx_idle_timeout')).toBe(1);
    expect(p.stat('cluster.backend.upstream_cx_destroy_local')).toBe(1);
    const closed = p.events.find((e) => e.type === 'transition' && e.machine === 'client' && e.to === 'closed');
    expect(closed).toMatchObject({ from: 'ready', event: 'xstate.after.idleTimeout.client.ready' });
    expect(p.timers('idle_timeout')).toMatchObject([{ machine: 'client', data: { ms: 1000 } }]);
    await finish(p);
  });

  it('starts over each time the connection is reused', async () => {
    const p = await start({}, { idle_timeout: 1000 });
    const { c, responses } = client(p);
    for (let i = 1; i <= 3; i++) {
      c.write(GET);
      await p.advance(700);
      expect(responses()).toHaveLength(i);
    }
    expect(p.origin.connections).toHaveLength(1);
    expect(p.origin.open).toBe(1);
    await p.advance(300);
    expect(p.origin.open).toBe(0);
    await finish(p);
  });
});

describe('cluster max_connection_duration', () => {
  it('closes an idle upstream connection when it is reached', async () => {
    const p = await start({}, { max_connection_duration: 1000 });
    const { c } = client(p);
    c.write(GET);
    await p.advance(999);
    expect(p.origin.open).toBe(1);
    await p.advance(1);
    expect(p.origin.open).toBe(0);
    expect(p.stat('cluster.backend.upstream_cx_max_duration_reached')).toBe(1);
    expect(p.timers('max_connection_duration')).toMatchObject([{ machine: 'client', data: { ms: 1000, then: 'close' } }]);
    await finish(p);
  });

  it('drains a busy one: the response completes, then the connection closes and the next request opens another', async () => {
    const p = await start({}, { max_connection_duration: 1000 }, () => undefined);
    const { c, responses } = client(p);
    c.write(GET);
    await p.advance(1000);
    expect(p.events.some((e) => e.type === 'transition' && e.machine === 'client' && e.from === 'busy' && e.to === 'draining' && e.event === 'client.drain')).toBe(true);
    expect(p.origin.open).toBe(1);
    p.origin.connections[0]!.write(ok('late'));
    await p.advance(1);
    expect(responses()[0]!.body.toString()).toBe('late');
    expect(p.origin.open).toBe(0);
    p.origin.respond = () => ok();
    c.write(GET);
    await p.advance(1);
    expect(responses()).toHaveLength(2);
    expect(p.origin.connections).toHaveLength(2);
    expect(p.stat('cluster.backend.upstream_cx_max_duration_reached')).toBe(1);
    await finish(p);
  });
});
