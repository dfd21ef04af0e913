/**
 * StateFold keeps what is alive and forgets what is not: a long run's snapshot stays the
 * size of what is in flight, every snapshot event is a real event of the run, and folding
 * the snapshot gives each live actor its current state.
 */
import { describe, expect, it } from 'vitest';
import { StateFold, type TraceEvent } from '../src/index';

let seq = 0;
const at = () => ({ seq: ++seq, t: seq / 10 });
const spawn = (actor: string, machine: TraceEvent['machine'], ids: TraceEvent['ids'], state: string): TraceEvent => ({ type: 'spawn', ...at(), actor, machine, ids, state });
const stop = (actor: string, machine: TraceEvent['machine'], ids: TraceEvent['ids'], state: string): TraceEvent => ({ type: 'stop', ...at(), actor, machine, ids, state });
const move = (actor: string, machine: TraceEvent['machine'], ids: TraceEvent['ids'], from: string, to: string): TraceEvent => ({ type: 'transition', ...at(), actor, machine, ids, from, to, event: 'x' });
const fact = (actor: string, machine: TraceEvent['machine'], ids: TraceEvent['ids'], name: string, data: Record<string, unknown>): TraceEvent =>
  ({ type: 'fact', ...at(), actor, machine, ids, fact: name, data }) as TraceEvent;

function request(stream: number, finish: boolean): TraceEvent[] {
  const ids = { listener: 'l', cx: 1, stream };
  const a = `listener:l/cx:1/stream:${stream}`;
  const out = [
    spawn(a, 'stream', ids, 'decoding_headers'),
    fact(a, 'stream', ids, 'codec.request_headers', { method: 'GET', path: `/${stream}`, authority: 'a' }),
    spawn(`${a}/router`, 'router', ids, 'matching_route'),
    move(`${a}/router`, 'router', ids, 'matching_route', 'route_matched'),
  ];
  if (finish) out.push(stop(`${a}/router`, 'router', ids, 'done'), stop(a, 'stream', ids, 'complete'), fact(a, 'stream', ids, 'stream.access_log', { status: 200 }));
  return out;
}

describe('StateFold', () => {
  it('keeps live actors at their current state and requests in flight whole, and forgets the rest', () => {
    const fold = new StateFold();
    const all: TraceEvent[] = [];
    const push = (events: TraceEvent[]) => {
      for (const e of events) {
        all.push(e);
        fold.apply(e);
      }
    };
    const host = { cluster: 'web', host: 'h1' };
    push([spawn('hc:web/h1', 'host_health', host, 'healthy')]);
    for (let i = 0; i < 50; i++) push([move('hc:web/h1', 'host_health', host, i % 2 ? 'unhealthy' : 'healthy', i % 2 ? 'healthy' : 'unhealthy')]);
    push([spawn('listener:l/cx:1', 'connection', { listener: 'l', cx: 1 }, 'open')]);
    for (let s = 1; s <= 1000; s++) push(request(s, true));
    push(request(1001, false));
    push([spawn('listener:l/cx:2', 'connection', { listener: 'l', cx: 2 }, 'open'), stop('listener:l/cx:2', 'connection', { listener: 'l', cx: 2 }, 'closed')]);
    // A straggler of a finished request does not bring it back.
    push([fact('listener:l/cx:1/stream:7', 'stream', { listener: 'l', cx: 1, stream: 7 }, 'stream.access_log', { status: 200 })]);

    const snapshot = fold.events();
    expect(fold.size()).toMatchObject({ requests: 1, events: snapshot.length });
    // host health spawn + latest transition, the open connection, the request in flight (4 events)
    expect(snapshot.length).toBe(2 + 1 + 4);
    // real events of the run, in seq order
    for (const e of snapshot) expect(all).toContain(e);
    expect(snapshot.map((e) => e.seq)).toEqual([...snapshot.map((e) => e.seq)].sort((a, b) => a - b));
    const health = snapshot.filter((e) => e.machine === 'host_health');
    expect(health.at(-1)).toBe(all.filter((e) => e.machine === 'host_health').at(-1));
    expect(snapshot.filter((e) => e.ids.stream !== undefined).every((e) => e.ids.stream === 1001)).toBe(true);
    expect(snapshot.some((e) => e.type === 'fact' && e.fact === 'codec.request_headers')).toBe(true);
    expect(snapshot.some((e) => e.actor === 'listener:l/cx:2')).toBe(false);
  });

  it('compacts a very long request to each actor\'s latest transition, keeping its facts', () => {
    const fold = new StateFold({ maxRequestEvents: 20 });
    const ids = { cx: 1, stream: 5 };
    for (const e of request(5, false)) fold.apply(e);
    for (let i = 0; i < 100; i++) fold.apply(move('listener:l/cx:1/stream:5/router', 'router', ids, `s${i}`, `s${i + 1}`));
    const events = fold.events();
    expect(events.length).toBeLessThanOrEqual(20);
    const transitions = events.filter((e) => e.type === 'transition');
    expect(transitions.at(-1)).toMatchObject({ to: 's100' });
    // only the newest transitions are left, in order
    expect(transitions.length).toBeLessThan(20);
    expect(events.filter((e) => e.type === 'spawn').length).toBe(2);
    expect(events.some((e) => e.type === 'fact' && e.fact === 'codec.request_headers')).toBe(true);
  });
  it("keeps a live actor's newest fact of each name, so an ejection's reason outlives the probes after it", () => {
    const fold = new StateFold({ factsPerActor: 4 });
    const host = { cluster: 'web', host: 'h1' };
    const actor = 'cluster:web/host:h1/health';
    const events: TraceEvent[] = [spawn(actor, 'host_health', host, 'healthy'), fact(actor, 'host_health', host, 'host.ejected', { type: 'consecutive_5xx', n: 1 })];
    events.push(fact(actor, 'host_health', host, 'host.ejected', { type: 'consecutive_5xx', n: 2 }));
    for (let i = 0; i < 20; i++) events.push(fact(actor, 'host_health', host, 'host.health_check', { i }));
    for (const e of events) fold.apply(e);
    const facts = fold.events().filter((e) => e.type === 'fact');
    const named = (name: string) => facts.filter((e) => e.type === 'fact' && e.fact === name);
    // the latest ejection, not the first, and the four latest probes
    expect(named('host.ejected')).toEqual([events[2]]);
    expect(named('host.health_check')).toEqual(events.slice(-4));
    expect(fold.size().events).toBe(fold.events().length);
  });
});
