import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTrace, type TraceEvent } from '@proxyscope/protocol';
import { EventStoreImpl } from '../src/model/event-store';
import { ChunkEncoder } from '../src/model/columns';

// Recorded from the built-in demo (`proxyscope --demo-rps 20 --record`), cut after 1299 events.
const fixture = parseTrace(readFileSync(join(import.meta.dirname, 'fixtures', 'demo.ndjson'), 'utf8'));

function loaded(events: readonly TraceEvent[] = fixture.events): EventStoreImpl {
  const store = new EventStoreImpl('file');
  store.append(events);
  return store;
}

function findStream(predicate: (events: TraceEvent[]) => boolean): number {
  const store = loaded();
  for (const stream of store.requestIds()) {
    const events = store.eventsOfRequest(stream).map((i) => store.get(i));
    if (predicate(events)) return stream;
  }
  throw new Error('no such request in the fixture');
}

const hasFact = (name: string) => (events: TraceEvent[]) => events.some((e) => e.type === 'fact' && e.fact === name);

describe('EventStoreImpl', () => {
  it('gives back every event exactly as appended', () => {
    const store = loaded();
    expect(store.length).toBe(fixture.events.length);
    for (let i = 0; i < store.length; i += 37) expect(store.get(i)).toEqual(fixture.events[i]);
    expect(store.get(store.length - 1)).toEqual(fixture.events[fixture.events.length - 1]);
  });

  it('keeps the newest events of a live store, indexed as if they had come alone', () => {
    const store = loaded();
    store.setSource({ mode: 'live', topology: fixture.header.topology, startedAt: fixture.header.startedAt });
    const keep = 500;
    const newest = store.newest(keep);
    const tail = fixture.events.slice(-keep);
    // What was let go is folded into a snapshot that goes first (event-store-snapshot.test.ts).
    const snap = newest.snapshotLength();
    expect(newest.length).toBe(snap + keep);
    expect(newest.mode).toBe('live');
    expect(newest.topology).toEqual(fixture.header.topology);
    expect(newest.get(snap)).toEqual(tail[0]);
    expect(newest.get(snap + keep - 1)).toEqual(tail[keep - 1]);
    // Requests are those with events among the kept ones, and those in flight at the cut.
    const streams = new Set(tail.map((e) => e.ids.stream).filter((s): s is number => s !== undefined));
    const inSnapshot = new Set(Array.from({ length: snap }, (_, i) => newest.streamAt(i)).filter((s) => s >= 0));
    expect(new Set(newest.requestIds())).toEqual(new Set([...streams, ...inSnapshot]));
    const last = tail[keep - 1]!;
    if (last.ids.stream !== undefined) expect(newest.requestAt(last.ids.stream, snap + keep - 1)?.stream).toBe(last.ids.stream);
    // New events go on after it as on the old store.
    const more = { ...last, seq: last.seq + 1, t: last.t + 1 } as TraceEvent;
    newest.append([more]);
    expect(newest.length).toBe(snap + keep + 1);
  });

  it('finds the index of a seq by binary search', () => {
    const store = loaded();
    const e = fixture.events[100]!;
    expect(store.indexAtOrBefore(e.seq)).toBe(100);
    expect(store.indexAtOrBefore(0)).toBe(-1);
    expect(store.indexAtOrBefore(Number.MAX_SAFE_INTEGER)).toBe(store.length - 1);
  });

  it('indexes events by request and by actor', () => {
    const store = loaded();
    const stream = store.requestIds()[3]!;
    const own = fixture.events.map((e, i) => [e, i] as const).filter(([e]) => e.ids.stream === stream).map(([, i]) => i);
    expect(store.eventsOfRequest(stream)).toEqual(own);
    const actor = fixture.events[own[0]!]!.actor;
    expect(store.eventsOfActor(actor).every((i) => store.get(i).actor === actor)).toBe(true);
    expect(store.eventsOfRequest(999_999)).toEqual([]);
  });

  it('lists requests in order of their first event', () => {
    const store = loaded();
    const ids = store.requestIds();
    const firsts = ids.map((s) => store.eventsOfRequest(s)[0]!);
    expect([...firsts].sort((a, b) => a - b)).toEqual(firsts);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('skips events whose seq does not follow (an overlapping history after a reconnect)', () => {
    const store = loaded(fixture.events.slice(0, 50));
    store.append(fixture.events.slice(40, 60));
    expect(store.length).toBe(60);
    expect(store.skipped).toBe(10);
    expect(store.get(59)).toEqual(fixture.events[59]);
  });

  it('notifies subscribers and bumps the version on every append', () => {
    const store = new EventStoreImpl('live');
    let calls = 0;
    const off = store.subscribe(() => calls++);
    store.append(fixture.events.slice(0, 10));
    store.append(fixture.events.slice(10, 20));
    off();
    store.append(fixture.events.slice(20, 30));
    expect(calls).toBe(2);
    expect(store.version).toBe(3);
  });

  it('takes chunks encoded elsewhere (the trace worker) with the same tables', () => {
    const encoder = new ChunkEncoder();
    const store = new EventStoreImpl('file');
    for (let i = 0; i < fixture.events.length; i += 128) store.appendChunk(encoder.encode(fixture.events.slice(i, i + 128)));
    expect(store.length).toBe(fixture.events.length);
    expect(store.get(500)).toEqual(fixture.events[500]);
    expect(store.requestIds()).toEqual(loaded().requestIds());
  });
});

describe('requestAt', () => {
  it('derives a proxied request: method, path, route, cluster, attempt, status, flags, duration', () => {
    const stream = findStream((events) => hasFact('stream.access_log')(events) && hasFact('upstream.response_headers')(events) && !hasFact('retry.backoff')(events));
    const store = loaded();
    const events = store.eventsOfRequest(stream);
    const s = store.requestAt(stream, store.length - 1)!;
    const headers = store.get(events.find((i) => store.factAt(i) === 'codec.request_headers')!);
    const log = store.get(events.find((i) => store.factAt(i) === 'stream.access_log')!);
    if (headers.type !== 'fact' || log.type !== 'fact') throw new Error('fixture');
    expect(s.method).toBe(headers.data.method);
    expect(s.path).toBe(headers.data.path);
    expect(s.authority).toBe(headers.data.authority);
    expect(s.status).toBe(log.data.status);
    expect(s.flags).toBe(log.data.flags);
    expect(s.route).toBe(log.data.route);
    expect(s.cluster).toBe(log.data.cluster);
    expect(s.vhost).toBe('shop');
    expect(s.attempts).toHaveLength(1);
    expect(s.attempts[0]!.host).toBe(log.data.upstreamHost);
    expect(s.attempts[0]!.state).toBe('done');
    expect(typeof s.attempts[0]!.ucx).toBe('number');
    expect(s.phase).toBe('complete');
    expect(s.done).toBe(true);
    expect(s.endT! - s.startT).toBeGreaterThan(0);
    expect(s.firstIndex).toBe(events[0]);
  });

  it('follows a request through its phases as the cursor moves', () => {
    const stream = findStream((events) => hasFact('upstream.response_headers')(events) && hasFact('stream.access_log')(events));
    const store = loaded();
    const phases: string[] = [];
    for (const i of store.eventsOfRequest(stream)) {
      const phase = store.requestAt(stream, i)!.phase;
      if (phases[phases.length - 1] !== phase) phases.push(phase);
    }
    expect(phases[0]).toBe('decoding');
    expect(phases).toContain('routing');
    expect(phases).toContain('pool_pending');
    expect(phases).toContain('upstream');
    expect(phases).toContain('encoding');
    expect(phases[phases.length - 1]).toBe('complete');
    // Before its first event the request does not exist yet.
    expect(store.requestAt(stream, store.eventsOfRequest(stream)[0]! - 1)).toBeUndefined();
  });

  it('gives the same answer moving backwards as computing afresh', () => {
    const store = loaded();
    const stream = store.requestIds()[5]!;
    const events = store.eventsOfRequest(stream);
    const mid = events[Math.floor(events.length / 2)]!;
    const atEnd = store.requestAt(stream, store.length - 1);
    const atMid = store.requestAt(stream, mid);
    expect(atMid).toEqual(loaded().requestAt(stream, mid));
    expect(atMid).not.toEqual(atEnd);
    expect(store.requestAt(stream, store.length - 1)).toEqual(atEnd);
  });

  it('shows a retried request: two attempts, backoff in between, the final status', () => {
    const stream = findStream(hasFact('retry.backoff'));
    const store = loaded();
    const events = store.eventsOfRequest(stream);
    const final = store.requestAt(stream, store.length - 1)!;
    expect(final.attempts.map((a) => a.n)).toEqual([1, 2]);
    expect(final.attempts[0]!.status).toBeGreaterThanOrEqual(500);
    expect(final.attempts[0]!.state).toBe('failed');
    expect(final.attempts[1]!.status).toBe(200);
    expect(final.status).toBe(200);
    const backoff = events.find((i) => store.machineAt(i) === 'retry' && store.stateAt(i) === 'backoff')!;
    expect(store.requestAt(stream, backoff)!.phase).toBe('backoff');
  });

  it('shows a local reply with its flag (no route: 404 NR)', () => {
    const stream = findStream((events) => events.some((e) => e.type === 'fact' && e.fact === 'stream.local_reply' && e.data.flag === 'NR'));
    const store = loaded();
    const s = store.requestAt(stream, store.length - 1)!;
    expect(s.localReply).toEqual({ status: 404, flag: 'NR', details: 'route_not_found' });
    expect(s.status).toBe(404);
    expect(s.flags).toBe('NR');
    expect(s.attempts).toHaveLength(0);
  });

  it('picks up the request tag sent from the UI', () => {
    const base = fixture.events.filter((e) => e.ids.stream === fixture.events.find((x) => x.type === 'fact' && x.fact === 'codec.request_headers')!.ids.stream);
    const tagged = base.map((e) =>
      e.type === 'fact' && e.fact === 'codec.request_headers' ? { ...e, data: { ...e.data, headers: { ...(e.data.headers as object), 'x-proxyscope-tag': 'ui-7' } } } : e,
    );
    const store = loaded(tagged);
    expect(store.requestAt(tagged[0]!.ids.stream!, store.length - 1)!.tag).toBe('ui-7');
  });
});
