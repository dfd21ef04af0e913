/**
 * A live page that lets old events go (EventStoreImpl.newest) keeps a snapshot of them, so
 * hosts keep their health, pools their clients and requests in flight their method, path,
 * route and host: the store after the cut draws what the whole store draws, at every seq
 * after the cut. Snapshot events are marked, and the timeline starts after them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTraceEvent, type TraceEvent } from '@proxyscope/protocol';
import { EventStoreImpl } from '../src/model/event-store';
import { applyEvent, emptyWorld } from '../src/views/topology/world';

const lines = fs.readFileSync(path.join(__dirname, 'fixtures/demo.ndjson'), 'utf8').split('\n').filter(Boolean);
const events: TraceEvent[] = lines.slice(1).map((l, i) => parseTraceEvent(l, i + 2));

function drawn(store: EventStoreImpl, seq: number) {
  const end = store.indexAtOrBefore(seq);
  const w = emptyWorld();
  for (let i = 0; i <= end; i++) applyEvent(w, store.get(i));
  const inFlight = [...w.requests.values()].filter((r) => r.phase !== 'done').sort((a, b) => a.stream - b.stream);
  return {
    tokens: inFlight.map((r) => [r.stream, r.phase, r.route, r.cluster, r.host, r.attempt]),
    rows: inFlight.map((r) => {
      const s = store.requestAt(r.stream, end)!;
      return [s.method, s.authority, s.path, s.phase, s.attempts.length];
    }),
    health: [...w.hosts.entries()].map(([k, h]) => [k, h.health ?? null]).sort(),
    pools: [...w.pools.entries()].map(([k, p]) => [k, p.pending, [...p.clients.entries()].sort()]).sort(),
    connections: [...w.connections].sort(),
  };
}

describe('EventStoreImpl.newest', () => {
  const full = new EventStoreImpl('live');
  full.append(events);

  it('keeps what is alive when it lets old events go', () => {
    let compared = 0;
    for (const keep of [1000, 700, 400, 150]) {
      const trimmed = full.newest(keep);
      const cut = full.seqAt(full.length - keep - 1);
      expect(trimmed.snapshotSeq).toBe(cut);
      expect(trimmed.snapshotLength()).toBe(trimmed.length - keep);
      expect(trimmed.snapshotLength()).toBeLessThan(full.length - keep);
      expect(trimmed.isSnapshot(0)).toBe(true);
      expect(trimmed.isSnapshot(trimmed.length - 1)).toBe(false);
      expect(trimmed.timeRange()[0]).toBe(full.tAt(full.length - keep));
      for (const at of [full.length - keep, full.length - Math.floor(keep / 2), full.length - 1]) {
        const seq = full.seqAt(at);
        const want = drawn(full, seq);
        expect(drawn(trimmed, seq)).toEqual(want);
        compared += want.tokens.length;
      }
    }
    // the fixture has requests in flight at some of those points
    expect(compared).toBeGreaterThan(0);
  });

  it('without the snapshot the cut would show: hosts without health, rows without method (the store used to do this)', () => {
    const keep = 400;
    const plain = new EventStoreImpl('live');
    plain.append(events.slice(events.length - keep));
    const seq = full.seqAt(full.length - 1);
    const a = drawn(full, seq);
    const b = drawn(plain, seq);
    expect(b).not.toEqual(a);
  });

  it('a store without a snapshot marks nothing and its timeline starts at its first event', () => {
    expect(full.snapshotLength()).toBe(0);
    expect(full.isSnapshot(0)).toBe(false);
    expect(full.timeRange()[0]).toBe(events[0]!.t);
  });
});
