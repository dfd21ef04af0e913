import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTrace } from '@proxyscope/protocol';
import { EventStoreImpl } from '../src/model/event-store';
import { foldPhase, initialPhaseState, listPhase, type Phase, type PhaseStep } from '../src/model/request-phase';
import type { RequestPhase } from '../src/model/types';
import { WorldTracker, type TokenPhase } from '../src/views/topology/world';

/** The phases a request goes through, one per event (repeats dropped). */
function phases(steps: PhaseStep[]): Phase[] {
  const s = initialPhaseState();
  const out: Phase[] = [];
  for (const step of steps) {
    const p = foldPhase(s, step);
    if (out.at(-1) !== p) out.push(p);
  }
  return out;
}

const S = '/stream:1';
const stream = (type: PhaseStep['type'], state?: string, fact?: string): PhaseStep => ({ machine: 'stream', type, actor: S, state, fact });
const router = (type: PhaseStep['type'], state?: string, fact?: string): PhaseStep => ({ machine: 'router', type, actor: `${S}/router`, state, fact });
const retry = (state: string): PhaseStep => ({ machine: 'retry', type: 'transition', actor: `${S}/retry`, state });
const attempt = (n: number, type: PhaseStep['type'], state: string, actor = `${S}/upstream:${n}`): PhaseStep => ({ machine: 'upstream_request', type, actor, state });

const routed = [stream('spawn', 'decoding_headers'), router('spawn', 'matching_route'), stream('fact', undefined, 'route.match'), router('transition', 'route_matched'), router('fact', undefined, 'cluster.selected'), router('transition', 'cluster_selected')];

describe('a request’s phase, folded from its machines', () => {
  it('follows the happy path: filters, routing, the pool, the upstream, the encoders', () => {
    expect(
      phases([
        ...routed,
        router('transition', 'host_selected'),
        attempt(1, 'spawn', 'pending_pool'),
        router('transition', 'upstream_pending'),
        attempt(1, 'transition', 'sending'),
        stream('transition', 'awaiting_response'),
        attempt(1, 'transition', 'receiving_body'),
        stream('transition', 'encoding_headers'),
        attempt(1, 'transition', 'done'),
        stream('transition', 'complete'),
        stream('stop', 'complete'),
      ]),
    ).toEqual(['decoding', 'route', 'cluster', 'pool_pending', 'upstream', 'encoding', 'complete']);
  });

  it('stays in back-off from the retry decision until the next attempt, even between the retry timer and that attempt', () => {
    const s = initialPhaseState();
    for (const e of [...routed, attempt(1, 'spawn', 'pending_pool'), router('transition', 'upstream_pending'), attempt(1, 'transition', 'receiving_body')]) foldPhase(s, e);
    expect(foldPhase(s, retry('backoff'))).toBe('backoff');
    expect(foldPhase(s, attempt(1, 'transition', 'failed'))).toBe('backoff');
    expect(foldPhase(s, router('transition', 'retry_backoff'))).toBe('backoff');
    // the back-off has elapsed; the router has not made the new attempt yet
    expect(foldPhase(s, retry('retrying'))).toBe('backoff');
    expect(foldPhase(s, router('fact', undefined, 'lb.host_selected'))).toBe('backoff');
    expect(foldPhase(s, attempt(2, 'spawn', 'pending_pool'))).toBe('pool_pending');
    expect(foldPhase(s, attempt(2, 'transition', 'sending'))).toBe('upstream');
  });

  it('keeps a local reply where it happened until the response goes back through the encoders', () => {
    // no healthy host: the cluster was chosen, no host was
    const s = initialPhaseState();
    for (const e of routed) foldPhase(s, e);
    expect(foldPhase(s, router('transition', 'local_reply'))).toBe('cluster');
    expect(foldPhase(s, router('stop', 'local_reply'))).toBe('cluster');
    expect(foldPhase(s, stream('transition', 'encoding_headers'))).toBe('encoding');
    // the pool overflowed: the attempt never left the queue
    const q = initialPhaseState();
    for (const e of [...routed, attempt(1, 'spawn', 'pending_pool'), router('transition', 'upstream_pending'), attempt(1, 'transition', 'failed')]) foldPhase(q, e);
    expect(foldPhase(q, router('transition', 'local_reply'))).toBe('upstream');
  });

  it('counts an upgraded stream as riding its upstream connection', () => {
    expect(phases([...routed, attempt(1, 'spawn', 'pending_pool'), attempt(1, 'transition', 'sending'), stream('transition', 'encoding_headers'), stream('transition', 'upgraded'), attempt(1, 'transition', 'tunneling')]).slice(-2)).toEqual(['encoding', 'upstream']);
  });

  it('ignores a mirrored copy of the request', () => {
    const s = initialPhaseState();
    for (const e of routed) foldPhase(s, e);
    expect(foldPhase(s, attempt(1, 'spawn', 'pending_pool', `${S}/shadow:1/upstream:1`))).toBe('cluster');
  });

  it('ends reset when the stream is reset', () => {
    expect(phases([...routed, stream('transition', 'reset'), stream('stop', 'reset')]).at(-1)).toBe('reset');
  });
});

describe('the request list and the topology agree', () => {
  // how each view names the same phase
  const SAME: Record<TokenPhase, RequestPhase[]> = {
    filters: ['decoding'],
    route: ['routing'],
    cluster: ['routing'],
    pending: ['pool_pending'],
    upstream: ['upstream'],
    backoff: ['backoff'],
    // the stream's move to `complete` comes just before it stops, which is when the token finishes
    encoding: ['encoding', 'complete', 'reset'],
    done: ['complete', 'reset'],
  };

  for (const name of ['demo.ndjson', 'decisions.ndjson']) {
    it(`on every event of every request (${name})`, () => {
      const trace = parseTrace(readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8'));
      const store = new EventStoreImpl('file');
      store.append(trace.events);
      const tracker = new WorldTracker();
      let compared = 0;
      const seen = new Set<RequestPhase>();
      for (let i = 0; i < store.length; i++) {
        const world = tracker.at(store, i);
        const s = store.get(i).ids.stream;
        const token = s === undefined ? undefined : world.requests.get(s);
        if (s === undefined || !token) continue;
        const row = store.requestAt(s, i)!;
        expect(SAME[token.phase], `stream ${s} at event ${i}: list ${row.phase}, token ${token.phase}`).toContain(row.phase);
        seen.add(row.phase);
        compared++;
      }
      expect(compared).toBeGreaterThan(100);
      expect([...seen].sort()).toEqual(expect.arrayContaining(['decoding', 'routing', 'pool_pending', 'upstream', 'encoding', 'complete']));
    });
  }

  it('names the list’s phases from the one fold', () => {
    expect(listPhase('route')).toBe('routing');
    expect(listPhase('cluster')).toBe('routing');
    expect(listPhase('pool_pending')).toBe('pool_pending');
  });
});
