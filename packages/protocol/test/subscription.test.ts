import { describe, expect, it } from 'vitest';
import { EventSelector, matchesFilter, requestOutcome, sampledIn, type TraceEvent } from '../src';
import { requestEvents, requests } from './fixtures';

const streamsOf = (events: readonly TraceEvent[]) => [...new Set(events.filter((e) => e.ids.stream !== undefined).map((e) => e.ids.stream))];

describe('filters', () => {
  const events = [...requestEvents(1, { cx: 1 }), ...requestEvents(2, { cx: 2, seq0: 100 })];

  it('AND across fields, OR within one; a missing id does not match; an empty list matches nothing', () => {
    expect(events.filter((e) => matchesFilter(e, { requests: [2] })).every((e) => e.ids.stream === 2)).toBe(true);
    expect(events.filter((e) => matchesFilter(e, { connections: [1] })).map((e) => e.ids.cx)).toEqual(events.filter((e) => e.ids.cx === 1).map(() => 1));
    // Pool events carry no cx: a connection filter leaves them out.
    expect(events.filter((e) => matchesFilter(e, { connections: [1, 2] })).some((e) => e.machine === 'pool')).toBe(false);
    const both = events.filter((e) => matchesFilter(e, { machines: ['router', 'stream'], requests: [1] }));
    expect(both.length).toBeGreaterThan(0);
    expect(both.every((e) => (e.machine === 'router' || e.machine === 'stream') && e.ids.stream === 1)).toBe(true);
    expect(events.filter((e) => matchesFilter(e, { clusters: ['backend'], hosts: ['127.0.0.1:8081'] })).map((e) => e.machine)).toContain('client');
    expect(events.filter((e) => matchesFilter(e, { machines: [] }))).toEqual([]);
  });

  it('the selector applies the same filter, and passes everything untouched without one', () => {
    const all = new EventSelector({});
    expect(all.passesAll).toBe(true);
    expect(all.select(events)).toBe(events);
    const filtered = new EventSelector({ filter: { machines: ['upstream_request'] } });
    expect(filtered.select(events)).toEqual(events.filter((e) => e.machine === 'upstream_request'));
    expect(new EventSelector(null).select(events)).toEqual([]);
  });
});

describe('sampling', () => {
  it('keeps about `percent` of requests, the same ones for everyone', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => i + 1);
    for (const percent of [1, 10, 50, 90]) {
      const kept = ids.filter((id) => sampledIn(id, percent)).length / ids.length;
      expect(kept).toBeGreaterThan(percent / 100 - 0.01);
      expect(kept).toBeLessThan(percent / 100 + 0.01);
    }
    expect(ids.every((id) => sampledIn(id, 100))).toBe(true);
    expect(ids.some((id) => sampledIn(id, 0))).toBe(false);
    // A request kept at 10% is kept at 50%.
    expect(ids.filter((id) => sampledIn(id, 10)).every((id) => sampledIn(id, 50))).toBe(true);
  });

  it('delivers whole sampled requests and passes events of no request', () => {
    const events = requests(Array.from({ length: 40 }, (_, i) => i + 1));
    const selector = new EventSelector({ sample: { percent: 30 } });
    const out = selector.select(events);
    const kept = Array.from({ length: 40 }, (_, i) => i + 1).filter((s) => sampledIn(s, 30));
    expect(streamsOf(out)).toEqual(kept);
    for (const s of kept) expect(out.filter((e) => e.ids.stream === s)).toEqual(events.filter((e) => e.ids.stream === s));
    expect(out.filter((e) => e.ids.stream === undefined)).toEqual(events.filter((e) => e.ids.stream === undefined));
  });

  it('with keepFailures, holds a request back until its end and keeps it if it failed, retried or overflowed', () => {
    const selector = new EventSelector({ sample: { percent: 0, keepFailures: true } });
    const ok = requestEvents(1, { seq0: 1 });
    const failed = requestEvents(2, { seq0: 100, status: 503 });
    const flagged = requestEvents(3, { seq0: 200, status: 200, flags: 'UO' });
    const retried = requestEvents(4, { seq0: 300, retried: true });

    // Nothing of a request comes out before its outcome is known.
    const half = failed.slice(0, 8);
    expect(streamsOf(selector.select(half))).toEqual([]);
    expect(selector.counts.held).toBe(half.filter((e) => e.ids.stream !== undefined).length);
    // Its end: the whole request, in order.
    const rest = selector.select(failed.slice(8));
    expect(rest.filter((e) => e.ids.stream === 2)).toEqual(failed.filter((e) => e.ids.stream === 2));
    expect(selector.counts.held).toBe(0);

    expect(streamsOf(selector.select(ok))).toEqual([]);
    expect(streamsOf(selector.select(flagged))).toEqual([3]);
    // A retry decision releases the request at once, before its end.
    const untilRetry = retried.findIndex((e) => requestOutcome(e) === 'failed') + 1;
    expect(streamsOf(selector.select(retried.slice(0, untilRetry)))).toEqual([4]);
    expect(selector.select(retried.slice(untilRetry)).filter((e) => e.ids.stream === 4)).toEqual(retried.slice(untilRetry).filter((e) => e.ids.stream === 4));
    expect(selector.counts).toMatchObject({ held: 0, keptFailures: 3, sampledOut: 1 });
  });

  it('filters inside a held request but decides on all its events', () => {
    const selector = new EventSelector({ filter: { machines: ['router'] }, sample: { percent: 0, keepFailures: true } });
    const out = selector.select(requestEvents(9, { status: 502 }));
    expect(out.length).toBeGreaterThan(0);
    expect(out.every((e) => e.machine === 'router')).toBe(true);
  });

  it('bounds what it holds and remembers', () => {
    const selector = new EventSelector({ sample: { percent: 0, keepFailures: true } }, { maxHeldEvents: 100, maxTrackedRequests: 50, maxHeldPerRequest: 256 });
    // Requests that never end: only their first events arrive.
    for (let s = 1; s <= 200; s++) selector.select(requestEvents(s, { seq0: s * 100 }).slice(0, 6));
    expect(selector.counts.held).toBeLessThanOrEqual(100);
    // A request too long to hold is kept.
    const long = new EventSelector({ sample: { percent: 0, keepFailures: true } }, { maxHeldPerRequest: 5 });
    expect(streamsOf(long.select(requestEvents(1)))).toEqual([1]);
  });
});
