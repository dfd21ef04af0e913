/**
 * The HTTP connection manager's connection-level machine (http/connection-manager.machine.ts,
 * actor `<connection>/hcm`): its drain state and timers as the trace shows them, on a
 * ManualClock.
 */
import type { FactEvent, TraceEvent } from '@proxyscope/protocol';
import { describe, expect, it } from 'vitest';
import type { HttpConnectionManager } from '../src/config/types';
import * as b from './support/config-builders';
import { MemoryOrigin, ok, settle, startSimulated, type SimulatedProxy } from './support/memory-origin';
import { parseResponses } from './support/upstreams';

const HCM = 'listener:ingress/cx:1/hcm';
const GET = 'GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n';

async function start(hcm: Partial<HttpConnectionManager>, respond?: ConstructorParameters<typeof MemoryOrigin>[0]) {
  const r = b.route({ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend', timeout: 0 } });
  const config = b.bootstrap([b.listener(b.hcm(b.routeConfig([b.vhost('all', ['*'], [r])]), hcm), 10000)], [b.cluster('backend', [8080])]);
  const proxy = await startSimulated(config, new MemoryOrigin(respond));
  const events: TraceEvent[] = [];
  proxy.engine.tracer.attach((e) => events.push(e));
  return { ...proxy, events };
}

/** The states the connection's HCM actor went through, as the trace reports them: its spawn, each transition, its stop. */
function hcmStates(events: TraceEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.actor !== HCM) continue;
    if (e.type === 'spawn') out.push(e.state);
    else if (e.type === 'transition') out.push(e.to);
    else if (e.type === 'stop') out.push(`stop:${e.state}`);
  }
  return out;
}

function hcmTransitions(events: TraceEvent[]): Array<{ from: string; to: string; event: string; t: number }> {
  return events.flatMap((e) => (e.actor === HCM && e.type === 'transition' ? [{ from: e.from, to: e.to, event: e.event, t: e.t }] : []));
}

function client(proxy: SimulatedProxy) {
  const c = proxy.dial();
  let ended = false;
  c.setHandlers({ onData: () => {}, onEnd: () => ((ended = true), c.destroy()), onClose: () => (ended = true), onDrain: () => {} });
  return { c, responses: () => parseResponses(Buffer.from(c.text(), 'latin1'), { closed: ended }), ended: () => ended };
}

async function finish(proxy: SimulatedProxy): Promise<void> {
  await proxy.engine.stop();
  await settle();
  expect(proxy.clock.pendingTimers()).toBe(0);
}

describe('http_connection_manager machine', () => {
  it('a keep-alive connection that goes idle after requests drains on idle_timeout, closes on drain_timeout', async () => {
    const p = await start({ idle_timeout: 1000, drain_timeout: 500 });
    const { c, responses, ended } = client(p);
    // Three requests, 600 ms apart: each idle period is shorter than idle_timeout.
    for (let i = 1; i <= 3; i++) {
      c.write(GET);
      await p.advance(600);
      expect(responses()).toHaveLength(i);
    }
    // The last response ended at t=1200: the idle period runs from there.
    expect(p.stat('http.ingress_http.downstream_cx_idle_timeout')).toBe(0);
    await p.advance(399);
    expect(p.stat('http.ingress_http.downstream_cx_idle_timeout')).toBe(0);
    await p.advance(1);
    expect(p.stat('http.ingress_http.downstream_cx_idle_timeout')).toBe(1);
    expect(ended()).toBe(false);
    await p.advance(500);
    expect(ended()).toBe(true);
    await settle();
    expect(hcmStates(p.events)).toEqual([
      'awaiting_data',
      'open.idle',
      'open.active',
      'open.idle',
      'open.active',
      'open.idle',
      'open.active',
      'open.idle',
      'draining.idle',
      'closing.flushing',
      'closed',
      'stop:closed',
    ]);
    const moves = hcmTransitions(p.events);
    expect(moves.find((m) => m.to === 'draining.idle')).toMatchObject({ from: 'open.idle', event: expect.stringContaining('idle_timeout'), t: 2200 });
    expect(moves.find((m) => m.to === 'closing.flushing')).toMatchObject({ from: 'draining.idle', event: expect.stringContaining('drain_timeout'), t: 2700 });
    expect(moves.find((m) => m.to === 'closed')).toMatchObject({ event: 'hcm.closed' });
    const fired = p.events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === 'timer.fired').map((e) => [e.data.timer, e.data.then]);
    expect(fired).toEqual([
      ['idle_timeout', 'drain'],
      ['drain_timeout', 'close'],
    ]);
    await finish(p);
  });

  it('a connection that never sent a byte closes at once on idle_timeout, without draining', async () => {
    const p = await start({ idle_timeout: 1000 });
    const { ended } = client(p);
    await p.advance(1000);
    expect(ended()).toBe(true);
    await settle();
    expect(hcmStates(p.events)).toEqual(['awaiting_data', 'closing.flushing', 'closed', 'stop:closed']);
    expect(hcmTransitions(p.events)[0]).toMatchObject({ from: 'awaiting_data', to: 'closing.flushing', event: expect.stringContaining('idle_timeout'), t: 1000 });
    await finish(p);
  });

  it('a request that arrives while draining closes the connection after its response', async () => {
    const p = await start({ idle_timeout: 1000, drain_timeout: 5000 });
    const { c, responses, ended } = client(p);
    c.write(GET);
    await p.advance(1001);
    c.write(GET);
    await p.advance(1);
    expect(responses().map((r) => r.headers.connection)).toEqual([undefined, 'close']);
    expect(ended()).toBe(true);
    expect(hcmStates(p.events).slice(-6)).toEqual(['draining.idle', 'draining.active', 'closing.active', 'closing.flushing', 'closed', 'stop:closed']);
    await finish(p);
  });

  it('a `connection: close` request makes its stream the last: closing until its response is written', async () => {
    const p = await start({}, () => undefined);
    const { c, responses, ended } = client(p);
    c.write('GET /x HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n');
    await p.advance(1);
    expect(hcmStates(p.events)).toEqual(['awaiting_data', 'open.idle', 'open.active', 'closing.active']);
    expect(ended()).toBe(false);
    p.origin.connections[0]!.write(ok());
    await p.advance(1);
    expect(responses()[0]!.headers.connection).toBe('close');
    expect(ended()).toBe(true);
    expect(hcmStates(p.events).slice(4)).toEqual(['closing.flushing', 'closed', 'stop:closed']);
    await finish(p);
  });

  it('max_connection_duration with a stream in flight drains; the response closes the connection', async () => {
    const p = await start({ max_connection_duration: 1000 }, () => undefined);
    const { c, responses, ended } = client(p);
    c.write(GET);
    await p.advance(1000);
    expect(hcmStates(p.events)).toEqual(['awaiting_data', 'open.idle', 'open.active', 'draining.active']);
    p.origin.connections[0]!.write(ok());
    await p.advance(1);
    expect(responses()[0]!.headers.connection).toBe('close');
    expect(ended()).toBe(true);
    expect(hcmStates(p.events).slice(4)).toEqual(['closing.active', 'closing.flushing', 'closed', 'stop:closed']);
    await finish(p);
  });

  it('drain_timeout with a stream in flight waits for it: closing, then closed after the response', async () => {
    const p = await start({ idle_timeout: 1000, drain_timeout: 100 }, () => undefined);
    const { c, responses, ended } = client(p);
    c.write(GET);
    await p.advance(1);
    p.origin.connections[0]!.write(ok());
    await p.advance(1);
    // Idle from t=2: draining at 1002; a request at 1050 is still in flight at 1102.
    p.origin.respond = () => undefined;
    await p.advance(1048);
    c.write(GET);
    await p.advance(100);
    const fired = p.events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === 'timer.fired' && e.data.timer === 'drain_timeout');
    expect(fired).toMatchObject([{ data: { ms: 100, then: 'close after the stream' } }]);
    expect(hcmStates(p.events).slice(-3)).toEqual(['draining.idle', 'draining.active', 'closing.active']);
    expect(ended()).toBe(false);
    p.origin.connections[0]!.write(ok());
    await p.advance(1);
    expect(responses().map((r) => r.headers.connection)).toEqual([undefined, 'close']);
    expect(ended()).toBe(true);
    await finish(p);
  });
});
