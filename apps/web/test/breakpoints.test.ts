/**
 * The breakpoint panel's choices are the states the engine accepts: every preset and
 * every listed state names a real state of the machine (the engine refuses any other).
 */
import { describe, expect, it } from 'vitest';
import { STEPPABLE_MACHINES } from '@proxyscope/protocol';
import { MACHINES } from '../../../packages/engine/src/machines';
import type { TraceEvent } from '@proxyscope/protocol';
import { breakpointFromDraft, describeCondition, describeStep, EMPTY_DRAFT, PRESETS, statesOf, toggleBreakpoint } from '../src/views/breakpoints/step-state';

const engineStates = Object.fromEntries(MACHINES.map(({ kind, machine }) => [kind, Object.keys(machine.config.states ?? {})])) as Record<string, string[]>;

describe('breakpoint choices', () => {
  it('offers exactly the states of each steppable machine', () => {
    for (const machine of STEPPABLE_MACHINES) expect(statesOf(machine)).toEqual(engineStates[machine]);
  });

  it('has presets that all name real states', () => {
    for (const p of PRESETS) expect(engineStates[p.breakpoint.machine]).toContain(p.breakpoint.state);
  });

  it('adds a breakpoint once and removes it again', () => {
    const bp = { machine: 'retry' as const, state: 'backoff' };
    const once = toggleBreakpoint([], bp);
    expect(once).toEqual([bp]);
    expect(toggleBreakpoint(once, { ...bp })).toEqual([]);
  });
});

describe('narrowed breakpoints in the panel', () => {
  it('builds the condition from the form: blank fields left out, the header name lower-cased', () => {
    expect(breakpointFromDraft('router', 'route_matched', EMPTY_DRAFT)).toEqual({ machine: 'router', state: 'route_matched' });
    const bp = breakpointFromDraft('router', 'host_selected', { ...EMPTY_DRAFT, route: ' api ', headerName: 'X-User', headerValue: 'ann', once: true });
    expect(bp).toEqual({ machine: 'router', state: 'host_selected', when: { route: 'api', header: { name: 'x-user', value: 'ann' } }, once: true });
    expect(describeCondition(bp)).toBe('route api · header x-user = ann · once');
  });

  it('toggles a conditioned breakpoint apart from the plain one at the same state', () => {
    const plain = { machine: 'router' as const, state: 'route_matched' };
    const api = { ...plain, when: { route: 'api' } };
    const both = toggleBreakpoint(toggleBreakpoint([], plain), api);
    expect(both).toEqual([plain, api]);
    expect(toggleBreakpoint(both, { ...plain, when: { route: 'api' } })).toEqual([plain]);
    expect(toggleBreakpoint(both, { ...api, once: true })).toHaveLength(3);
  });
});

describe('the step log', () => {
  let seq = 0;
  const ids = { stream: 7 };
  const fact = (name: string, data: Record<string, unknown>, extra: Partial<TraceEvent> = {}): TraceEvent =>
    ({ type: 'fact', seq: ++seq, t: seq, actor: 'x', machine: 'router', ids, fact: name, data, ...extra }) as TraceEvent;
  const move = (machine: string, from: string, to: string): TraceEvent => ({ type: 'transition', seq: ++seq, t: seq, actor: 'x', machine, ids, from, to, event: 'e' }) as TraceEvent;
  const ctx = {
    hostNames: new Map([['10.0.1.2:8080', 'web-2']]),
    topology: { workers: 1, listeners: [], routeConfigs: [], clusters: [{ name: 'web', type: 'STATIC', lbPolicy: 'ROUND_ROBIN', hosts: ['10.0.1.2:8080'] }] },
  };

  it('says what each step did, from its events', () => {
    const pick = describeStep(7, { transitions: 1, ran: 'work', ended: false, events: [fact('lb.host_selected', { cluster: 'web', host: '10.0.1.2:8080', reason: 'round robin 2 of 3' }), move('router', 'cluster_selected', 'host_selected')] }, ctx);
    expect(pick).toEqual({ stream: 7, words: ['picked web-2 by ROUND_ROBIN'], change: 'router: cluster_selected → host_selected' });
    const pool = describeStep(7, { transitions: 1, ran: 'work', ended: false, events: [fact('pool.decision', { decision: 'queue_pending' }, { ids: { cluster: 'web' } }), fact('pool.decision', { decision: 'open_connection', client: 3 }, { ids: { cluster: 'web' } })] }, ctx);
    expect(pool.words).toEqual(['pool: no ready client, connecting ucx:3']);
    const route = describeStep(7, { transitions: 1, ran: 'work', ended: false, events: [fact('route.match', { route: 'default', cluster: 'backend' })] }, ctx);
    expect(route.words).toEqual(['route `default` matched → cluster `backend`']);
    const upstream = describeStep(7, { transitions: 1, ran: 'work', ended: false, events: [fact('upstream.response_headers', { status: 503 }), fact('retry.backoff', { attempt: 2, ms: 25.4 })] }, ctx);
    expect(upstream.words).toEqual(['upstream responded 503', 'retry back-off 25 ms']);
  });

  it('says when a step could do nothing, or the request ended', () => {
    expect(describeStep(7, { transitions: 0, ran: 'nothing', ended: false, events: [] }, ctx).words).toEqual(['waits for the network: nothing to step yet']);
    expect(describeStep(7, { transitions: 1, ran: 'work', ended: true, events: [fact('stream.access_log', { status: 200 })] }, ctx).words).toEqual(['finished with 200', 'the request ended']);
  });
});
