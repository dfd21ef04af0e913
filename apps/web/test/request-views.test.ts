import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTrace } from '@proxyscope/protocol';
import { EventStoreImpl } from '../src/model/event-store';
import { matchesFilter, parseFilter, sortRequests } from '../src/model/request-filter';
import { relatedEvents, waterfall } from '../src/model/request-detail';
import { formatUrlState, readUrlState } from '../src/app/url-state';
import type { RequestSummary } from '../src/model/types';

const fixture = parseTrace(readFileSync(join(import.meta.dirname, 'fixtures', 'demo.ndjson'), 'utf8'));
const store = new EventStoreImpl('file');
store.append(fixture.events);
const end = store.length - 1;
const all = store.requestIds().map((id) => store.requestAt(id, end)!);

const filtered = (text: string) => all.filter((r) => matchesFilter(r, parseFilter(text)));

describe('request list filter', () => {
  it('narrows by status class, exact status and comparisons', () => {
    expect(filtered('status:4xx').every((r) => r.status! >= 400 && r.status! < 500)).toBe(true);
    expect(filtered('status:4xx').length).toBeGreaterThan(0);
    expect(filtered('status:302').every((r) => r.status === 302)).toBe(true);
    expect(filtered('status:>=300').length).toBe(all.filter((r) => (r.status ?? 0) >= 300).length);
  });

  it('narrows by flag, cluster, method and route, and negates with -', () => {
    expect(filtered('flag:NR').map((r) => r.localReply?.flag)).toEqual(filtered('flag:NR').map(() => 'NR'));
    expect(filtered('flag:NR').length).toBeGreaterThan(0);
    expect(filtered('cluster:api').every((r) => r.cluster === 'api')).toBe(true);
    expect(filtered('method:POST').every((r) => r.method === 'POST')).toBe(true);
    const healthz = filtered('route:healthz').length;
    expect(healthz).toBeGreaterThan(0);
    expect(filtered('-route:healthz').length).toBe(all.length - healthz);
  });

  it('matches free text anywhere and combines terms with AND', () => {
    const products = filtered('/api/products');
    expect(products.length).toBeGreaterThan(0);
    expect(products.every((r) => r.path === '/api/products')).toBe(true);
    expect(filtered('/api/products status:2xx').every((r) => r.path === '/api/products' && r.status! < 300)).toBe(true);
    expect(filtered(`id:${all[3]!.stream}`).map((r) => r.stream)).toEqual([all[3]!.stream]);
  });

  it('reports keys it does not know and searches them as text', () => {
    expect(parseFilter('colour:red').unknownKeys).toEqual(['colour']);
    expect(filtered('colour:red')).toEqual([]);
  });

  it('sorts by a column, ties by start', () => {
    const byStatus = sortRequests(all, 'status', true, 0);
    for (let i = 1; i < byStatus.length; i++) expect((byStatus[i - 1]!.status ?? -1) >= (byStatus[i]!.status ?? -1)).toBe(true);
    const byDuration = sortRequests(all, 'duration', false, store.tAt(end));
    const d = (r: RequestSummary) => (r.endT ?? store.tAt(end)) - r.startT;
    for (let i = 1; i < byDuration.length; i++) expect(d(byDuration[i - 1]!) <= d(byDuration[i]!)).toBe(true);
  });
});

describe('request detail', () => {
  const proxied = all.find((r) => r.attempts.length === 1 && r.attempts[0]!.state === 'done' && r.done)!;

  it('ties the pool decision, the attach and the upstream connection to the request', () => {
    const related = relatedEvents(store, proxied);
    const facts = related.filter((r) => r.via === 'pool').map((r) => store.factAt(r.index));
    expect(facts).toContain('pool.decision');
    expect(facts).toContain('pool.attach');
    const attach = related.find((r) => store.factAt(r.index) === 'pool.attach')!;
    expect(store.dataAt(attach.index)!.client).toBe(proxied.attempts[0]!.ucx);
    expect(related.some((r) => r.via === 'upstream connection' && store.actorAt(r.index).endsWith(`/ucx:${proxied.attempts[0]!.ucx}`))).toBe(true);
    expect(related.some((r) => r.via === 'connection' && store.machineAt(r.index) === 'codec')).toBe(true);
    // Every event of the request itself, in order.
    const own = related.filter((r) => !r.via).map((r) => r.index);
    expect(own).toEqual(store.eventsOfRequest(proxied.stream));
    expect(related.map((r) => r.index)).toEqual([...related.map((r) => r.index)].sort((a, b) => a - b));
  });

  it('computes the waterfall in the order a request lives it, each phase within the request', () => {
    const related = relatedEvents(store, proxied);
    const bars = waterfall(store, proxied, related, end);
    const phases = bars.map((b) => b.phase);
    expect(phases).toEqual(expect.arrayContaining(['decoder filters', 'route', 'pool wait', 'upstream request', 'response', 'encode']));
    expect(phases.indexOf('decoder filters')).toBeLessThan(phases.indexOf('route'));
    expect(phases.indexOf('route')).toBeLessThan(phases.indexOf('pool wait'));
    expect(phases.indexOf('pool wait')).toBeLessThan(phases.indexOf('upstream request'));
    expect(phases.indexOf('response')).toBeLessThan(phases.indexOf('encode'));
    for (const b of bars) {
      expect(b.endT, b.label).toBeDefined();
      expect(b.endT!).toBeGreaterThanOrEqual(b.startT);
    }
    const upstream = bars.find((b) => b.phase === 'upstream request')!;
    expect(upstream.endT! - upstream.startT).toBeGreaterThan(0);
  });

  it('shows a phase still running at a cursor inside it', () => {
    const related = relatedEvents(store, proxied);
    const sent = related.find((r) => store.machineAt(r.index) === 'upstream_request' && store.stateAt(r.index) === 'sending')!;
    const bars = waterfall(store, proxied, related, sent.index);
    const upstream = bars.find((b) => b.phase === 'upstream request')!;
    expect(upstream.endT).toBeUndefined();
    expect(bars.some((b) => b.phase === 'encode')).toBe(false);
  });

  it('shows the backoff of a retried request', () => {
    const retried = all.find((r) => r.attempts.length === 2)!;
    const bars = waterfall(store, retried, relatedEvents(store, retried), end);
    expect(bars.map((b) => b.label)).toEqual(expect.arrayContaining(['pool wait #1', 'retry backoff', 'pool wait #2', 'upstream request #2']));
  });
});

describe('address state', () => {
  it('round-trips the selected request and the cursor seq', () => {
    expect(readUrlState(formatUrlState({ req: 42, seq: 1234 }))).toEqual({ req: 42, seq: 1234 });
    expect(formatUrlState({ req: null, seq: null })).toBe('');
    expect(readUrlState('#req=abc&seq=-3')).toEqual({ req: null, seq: null });
  });
});
