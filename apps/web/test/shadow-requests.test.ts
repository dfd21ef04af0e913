/**
 * A mirrored copy of a request (request_mirror_policies) runs as `<stream>/shadow:<n>/upstream:1`
 * with the request's ids: the request's summary and its topology token must not take it for
 * one of the request's own attempts.
 */
import { describe, expect, it } from 'vitest';
import type { TraceEvent, UnstampedEvent } from '@proxyscope/protocol';
import { EventStoreImpl } from '../src/model/event-store';
import { applyEvent, emptyWorld } from '../src/views/topology/world';

const ids = { worker: 0, listener: 'ingress', cx: 1, stream: 1 };
const stream = 'listener:ingress/cx:1/stream:1';
let seq = 0;
const ev = (e: UnstampedEvent): TraceEvent => ({ seq: ++seq, t: seq, ...e }) as TraceEvent;
const events: TraceEvent[] = [
  ev({ type: 'spawn', actor: stream, machine: 'stream', ids, state: 'decoding_headers' }),
  ev({ type: 'spawn', actor: `${stream}/upstream:1`, machine: 'upstream_request', ids: { ...ids, cluster: 'backend', host: '10.0.0.1:80', pool: 'backend/10.0.0.1:80' }, state: 'pending_pool' }),
  ev({ type: 'transition', actor: `${stream}/upstream:1`, machine: 'upstream_request', ids: { ...ids, cluster: 'backend', host: '10.0.0.1:80' }, from: 'pending_pool', to: 'sending', event: 'upstream.pool.ready' }),
  ev({ type: 'spawn', actor: `${stream}/shadow:1/upstream:1`, machine: 'upstream_request', ids: { ...ids, cluster: 'mirror', host: '10.0.0.9:80', pool: 'mirror/10.0.0.9:80' }, state: 'pending_pool' }),
];

describe('mirrored requests in the views', () => {
  it('the request summary lists only its own attempts', () => {
    const store = new EventStoreImpl('file');
    store.append(events);
    const summary = store.requestAt(1, store.length - 1)!;
    expect(summary.attempts.map((a) => [a.actor, a.host])).toEqual([[`${stream}/upstream:1`, '10.0.0.1:80']]);
  });

  it('the topology token stays on the main cluster and host', () => {
    const world = emptyWorld();
    for (const e of events) applyEvent(world, e);
    const token = world.requests.get(1)!;
    expect([token.cluster, token.host, token.phase]).toEqual(['backend', '10.0.0.1:80', 'upstream']);
  });
});
