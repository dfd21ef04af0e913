import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTrace } from '@proxyscope/protocol';
import { EventStoreImpl } from '../src/model/event-store';
import { relatedEvents } from '../src/model/request-detail';
import { attemptOutcome, decisions, resetWords } from '../src/model/decisions';
import type { RequestSummary } from '../src/model/types';

/**
 * The request detail's "Decisions" in words, from a recorded simulation
 * (`proxyscope simulate --scenario e2e/fixtures/decisions/scenario.yaml --record
 * apps/web/test/fixtures/decisions.ndjson`): /api and a header route fail before the
 * storefront, a 90/10 weighted split, retries on 5xx and resets with previous_hosts, and
 * web-2 failing until outlier detection ejects it.
 */

const trace = parseTrace(readFileSync(join(import.meta.dirname, 'fixtures', 'decisions.ndjson'), 'utf8'));
const store = new EventStoreImpl('file');
store.append(trace.events);
const end = store.length - 1;
const requests: RequestSummary[] = store.requestIds().map((id) => store.requestAt(id, end)!);
const relatedOf = (r: RequestSummary) => relatedEvents(store, r);
const factsOf = (r: RequestSummary, fact: string) => relatedOf(r).filter((e) => store.factAt(e.index) === fact).map((e) => ({ index: e.index, data: store.dataAt(e.index)! }));

// Requests picked by what happened to them, not by number.
const retriedTwice = requests.find((r) => r.attempts.length === 3)!;
const resetRetried = requests.find((r) => factsOf(r, 'retry.decision').some((f) => f.data.trigger === 'reset' && f.data.decision === 'retry'))!;
const afterEjection = requests.find((r) => factsOf(r, 'lb.host_selected').some((f) => (f.data.hosts as Array<{ health: string }>).some((h) => h.health === 'ejected')))!;

describe('decisions of a request', () => {
  it('the fixture has the requests the tests need', () => {
    expect(retriedTwice).toBeDefined();
    expect(resetRetried).toBeDefined();
    expect(afterEjection).toBeDefined();
  });

  it('names the virtual host, each route that failed and why, and the winner', () => {
    const route = decisions(store, relatedOf(retriedTwice), end).find((d) => d.kind === 'route')!;
    expect(route.text).toBe(
      'virtual host `shop` (domain `shop.example.com`); route `api` did not match: path prefix `/api` ≠ `/`; ' +
        'route `canary` did not match: header `x-canary` absent; matched route `storefront` (prefix `/`)',
    );
    expect(route.envoy).toBe('VirtualHostImpl::getRouteFromEntries');
    expect(store.factAt(route.index)).toBe('route.match');
  });

  it('says what the weighted draw drew and which range it fell in', () => {
    for (const r of requests) {
      const weighted = decisions(store, relatedOf(r), end).find((d) => d.kind === 'weighted')!;
      const { drawn, picked } = store.dataAt(weighted.index)!.weighted as { drawn: number; picked: string };
      expect(weighted.text).toBe(`weighted clusters: drew ${drawn} of 100 → \`${picked}\`; ranges \`web\` (0–89), \`web_b\` (90–99)`);
      // and the cluster it names is the one the request went to
      expect(r.cluster).toBe(picked);
    }
  });

  it('names the host picked, the policy, the other hosts with their health and previous_hosts refusals', () => {
    const ejectedPick = factsOf(afterEjection, 'lb.host_selected').find((f) => (f.data.hosts as Array<{ health: string }>).some((h) => h.health === 'ejected'))!;
    const row = decisions(store, relatedOf(afterEjection), end).find((d) => d.index === ejectedPick.index)!;
    expect(row.kind).toBe('host');
    expect(row.text).toMatch(/^picked `web-[13]` \(10\.0\.1\.[13]:8080\) by ROUND_ROBIN from 2 of 3 hosts \(.*web-2 ejected.*\)$/);
    const third = decisions(store, relatedOf(retriedTwice), end).filter((d) => d.kind === 'host');
    expect(third.map((d) => d.label)).toEqual(['host', 'host #2', 'host #3']);
    const refused = factsOf(retriedTwice, 'lb.host_selected')[2]!.data.previousHostsRejected as string[] | undefined;
    if (refused?.length) expect(third[2]!.text).toContain('previous_hosts refused');
    expect(third[2]!.envoy).toBe('LoadBalancer::chooseHost');
  });

  it('gives each retry its condition and the back-off with the range it was drawn from', () => {
    const rows = decisions(store, relatedOf(retriedTwice), end).filter((d) => d.kind === 'attempt');
    const backoffs = factsOf(retriedTwice, 'retry.backoff').map((f) => f.data as { ms: number; range: [number, number] });
    expect(rows).toHaveLength(2);
    rows.forEach((row, k) => {
      const { ms, range } = backoffs[k]!;
      expect(row.text).toContain(`→ retry on \`5xx\``);
      expect(row.text).toContain(`back-off ${ms} ms (drawn from ${range[0]}–${range[1]} ms)`);
    });
    // the second back-off is drawn from a doubled interval
    expect(backoffs[1]!.range[1]).toBe(backoffs[0]!.range[1] * 2);
  });

  it('words a reset by who did it, and a reset retried under 5xx says a reset counts', () => {
    const row = decisions(store, relatedOf(resetRetried), end).find((d) => d.kind === 'attempt' && d.text.includes('failed'))!;
    expect(row.text).toContain('the upstream connection closed or was reset before the response (upstream reset: connection termination');
    expect(row.text).toContain('retry on `5xx` (a reset counts as one)');
    expect(row.text).not.toContain('the upstream reset the stream');
    expect(row.envoy).toBe('RetryStateImpl::shouldRetryReset');
  });

  it('lists only what was decided by the cursor', () => {
    const related = relatedOf(retriedTwice);
    const firstRetry = factsOf(retriedTwice, 'retry.decision')[0]!.index;
    const before = decisions(store, related, firstRetry - 1);
    expect(before.some((d) => d.kind === 'attempt')).toBe(false);
    expect(before.filter((d) => d.kind === 'host')).toHaveLength(1);
    for (const d of decisions(store, related, end)) expect(related.some((r) => r.index === d.index)).toBe(true);
  });

  it('describes a pool that had to connect', () => {
    const first = requests[0]!;
    const pool = decisions(store, relatedOf(first), end).find((d) => d.kind === 'pool')!;
    expect(pool.text).toMatch(/^pool: no ready connection, connecting a new one, `ucx:\d+` \(\d+ connecting, \d+ ready, 1 pending\)$/);
  });
});

describe('attempt outcome', () => {
  it('an answered attempt the router reset to retry is not called an upstream reset', () => {
    const a = retriedTwice.attempts.find((x) => x.status === 503)!;
    expect(a.reset).toBeDefined();
    expect(attemptOutcome(store, relatedOf(retriedTwice), a, end)).toBe('answered 503, reset by the router to retry');
  });

  it('a reset attempt says what reset it', () => {
    const a = resetRetried.attempts.find((x) => x.status === undefined && x.state === 'failed')!;
    expect(attemptOutcome(store, relatedOf(resetRetried), a, end)).toMatch(/^failed: the upstream connection closed or was reset before the response \(upstream reset: connection termination/);
  });

  it('a finished attempt is its state and status', () => {
    const a = retriedTwice.attempts.at(-1)!;
    expect(attemptOutcome(store, relatedOf(retriedTwice), a, end)).toBe('done 200');
  });
});

describe('reset words', () => {
  it('tells the proxy, the upstream and a failed connect apart', () => {
    expect(resetWords('LocalReset')).toBe('the proxy reset the stream itself before the response (upstream reset: local reset)');
    expect(resetWords('RemoteReset', null, true)).toBe('the upstream reset the stream during the response (upstream reset: remote reset)');
    expect(resetWords('RemoteConnectionFailure', 'delayed connect error: 111')).toBe('the upstream refused the connection (upstream reset: remote connection failure; delayed connect error: 111)');
    expect(resetWords('Overflow')).toContain('circuit breaker');
  });
});
