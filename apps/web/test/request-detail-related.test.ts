import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTrace, type TraceEvent } from '@proxyscope/protocol';
import { EventStoreImpl } from '../src/model/event-store';
import { relatedEvents } from '../src/model/request-detail';

/**
 * Which events the request detail lists for one request: its own, and the codec, pool and
 * upstream connection events that were for it, never another request's.
 */

const fixture = parseTrace(readFileSync(join(import.meta.dirname, 'fixtures', 'demo.ndjson'), 'utf8'));

function storeOf(events: readonly TraceEvent[]): EventStoreImpl {
  const store = new EventStoreImpl('file');
  store.append(events.map((e, k) => ({ ...e, seq: k + 1 })));
  return store;
}

describe('request detail events', () => {
  it('lists no codec event of an earlier request on the same keep-alive connection', () => {
    const store = storeOf(fixture.events);
    const end = store.length - 1;
    const byCx = new Map<string, number[]>();
    for (const id of store.requestIds()) {
      const r = store.requestAt(id, end)!;
      const key = `${r.listener}/${r.cx}`;
      byCx.set(key, [...(byCx.get(key) ?? []), id]);
    }
    const later = [...byCx.values()].filter((ids) => ids.length > 1).flatMap((ids) => ids.slice(1));
    expect(later.length).toBeGreaterThan(3);
    for (const id of later) {
      const r = store.requestAt(id, end)!;
      const codec = relatedEvents(store, r).filter((e) => e.via === 'connection');
      // The first codec event listed is this request's message beginning, and none is the
      // previous response completing (what showed as "codec complete at −199.99 ms").
      expect(store.stateAt(codec[0]!.index), `request ${id}`).toBe('headers');
      for (const e of codec) if (e.index < r.firstIndex) expect(store.stateAt(e.index), `request ${id} seq ${store.seqAt(e.index)}`).not.toBe('complete');
      expect(store.tAt(codec[0]!.index) - r.startT).toBeGreaterThan(-5);
    }
  });

  it('lists no pool decision made for another request while this one waited', () => {
    // A request waiting for its pool (queued, or held in step mode) while another request
    // gets a decision and a connection from the same pool: spliced into the demo trace.
    const events = [...fixture.events];
    const end0 = events.length - 1;
    const base = storeOf(events);
    const waiting = base.requestIds().map((id) => base.requestAt(id, end0)!).find((r) => r.attempts.length === 1 && r.attempts[0]!.ucx !== undefined && r.attempts[0]!.pool !== undefined)!;
    const attempt = waiting.attempts[0]!;
    const own = base.eventsOfActor(attempt.actor);
    const sending = own.find((i) => base.stateAt(i) === 'sending')!;
    const spawn = own[0]!;
    const pool = base.get(base.eventsOfActor(base.poolActor(waiting.worker, attempt.pool!)!)[0]!);
    // midway through the wait: after its pool decision, before its connection is ready
    const client = base.eventsOfActor(`${base.poolActor(waiting.worker, attempt.pool!)!}/ucx:${attempt.ucx}`);
    const ready = client.find((i) => base.stateAt(i) === 'ready' && i > spawn && i < sending)!;
    const at = ready - 1;
    const t = base.tAt(at);
    const other = 99_999;
    const otherActor = `listener:ingress/cx:77/stream:${other}/upstream:1`;
    const ids = { ...pool.ids, listener: 'ingress', cx: 77, stream: other };
    const poolIds = pool.ids;
    const foreign: TraceEvent[] = [
      { type: 'spawn', actor: otherActor, machine: 'upstream_request', ids, state: 'pending_pool', seq: 0, t },
      { type: 'fact', actor: pool.actor, machine: 'pool', ids: poolIds, fact: 'pool.decision', data: { decision: 'queue_pending', pending: 2 }, seq: 0, t },
      { type: 'fact', actor: pool.actor, machine: 'pool', ids: poolIds, fact: 'pool.attach', data: { client: 55, waitedMs: 1, reused: true }, seq: 0, t },
      { type: 'transition', actor: otherActor, machine: 'upstream_request', ids, from: 'pending_pool', to: 'sending', event: 'upstream.pool.ready', seq: 0, t },
    ];
    events.splice(at + 1, 0, ...foreign);
    const store = storeOf(events);
    const r = store.requestAt(waiting.stream, store.length - 1)!;
    const related = relatedEvents(store, r);
    const listed = new Set(related.map((e) => e.index));
    for (let k = 1; k <= foreign.length; k++) expect(listed.has(at + k), `foreign event ${k}`).toBe(false);
    // ...while its own pool decision and attach are still there.
    const facts = related.filter((e) => e.via === 'pool').map((e) => store.factAt(e.index));
    expect(facts).toContain('pool.decision');
    expect(facts.filter((f) => f === 'pool.attach')).toHaveLength(1);
    const attach = related.find((e) => store.factAt(e.index) === 'pool.attach')!;
    expect(store.dataAt(attach.index)!.client).toBe(attempt.ucx);
  });
});
