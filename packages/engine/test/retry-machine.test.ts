/**
 * The retry machine (router/retry.machine.ts) headless: RetryStateImpl::shouldRetry's
 * order of decisions, the counters each moves, the retry circuit breaker, the back-off
 * as an `after` transition on a ManualClock, and cancellation. Then by path: every final
 * state is reachable. One test per rule.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { JitteredExponentialBackOff } from '../src/router/retry-policy';
import { retryMachine, type RetryMachineInput } from '../src/router/retry.machine';
import { ManualClock } from '../src/seams/clock';
import { StatsStore } from '../src/stats/stats';
import { ResourceLimit } from '../src/upstream/resource-manager';

const RETRY_STATS = [
  'upstream_rq_retry',
  'upstream_rq_retry_success',
  'upstream_rq_retry_limit_exceeded',
  'upstream_rq_retry_overflow',
  'upstream_rq_retry_backoff_exponential',
  'upstream_rq_retry_backoff_ratelimited',
] as const;

function setup(options: { retries?: number; maxRetries?: number; resources?: ResourceLimit; random?: number } = {}) {
  const store = new StatsStore();
  const stats = Object.fromEntries(RETRY_STATS.map((n) => [n, store.counter(`cluster.c.${n}`)])) as unknown as RetryMachineInput['stats'];
  const resources = options.resources ?? retryLimit(options.maxRetries ?? 3);
  const random = { u32: () => options.random ?? 7 };
  const input: RetryMachineInput = {
    retriesRemaining: options.retries ?? 2,
    retries: resources,
    backOff: new JitteredExponentialBackOff(25, 250, random),
    random,
    stats,
  };
  const clock = new ManualClock();
  const actor = createActor(retryMachine, { input, clock } as never);
  const retries: number[] = [];
  actor.on('retry.do_retry', () => retries.push(clock.now()));
  /** the machine's state each time it announced the end of a back-off */
  const elapsed: string[] = [];
  actor.on('retry.backoff.elapsed', () => elapsed.push(actor.getSnapshot().value as string));
  actor.start();
  const count = (name: (typeof RETRY_STATS)[number]) => store.valueOf(`cluster.c.${name}`) ?? 0;
  const fail = (retriable = true, rateLimitedMs?: number) => actor.send({ type: 'retry.outcome', trigger: 'response', retriable, rateLimitedMs });
  return { actor, clock, resources, retries, elapsed, count, fail, input };
}

/** The cluster's retry circuit breaker with `max` retries, `held` of them in use already. */
function retryLimit(max: number, held = 0): ResourceLimit {
  const limit = new ResourceLimit(() => max, new StatsStore().gauge('cluster.c.circuit_breakers.default.rq_retry_open'), undefined);
  for (let i = 0; i < held; i++) limit.inc();
  return limit;
}

describe('retry machine decisions', () => {
  it('an outcome that is not retriable ends in no_retry and counts nothing', () => {
    const { actor, count, fail } = setup();
    fail(false);
    expect(actor.getSnapshot().value).toBe('no_retry');
    expect(RETRY_STATS.map(count)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('a retriable outcome arms the back-off: one retry counted, the resource taken, a retry used', () => {
    const { actor, count, fail, resources } = setup();
    fail();
    const snapshot = actor.getSnapshot();
    expect(snapshot.value).toBe('backoff');
    expect(snapshot.context.retriesRemaining).toBe(1);
    expect(resources.count).toBe(1);
    expect(count('upstream_rq_retry')).toBe(1);
    expect(count('upstream_rq_retry_backoff_exponential')).toBe(1);
  });

  it('the back-off is an `after` on the clock: random % 25 ms, then retrying and a do_retry event', () => {
    const { actor, clock, fail, retries } = setup({ random: 30 });
    fail();
    expect(actor.getSnapshot().context.backoffMs).toBe(5);
    clock.advance(4);
    expect(actor.getSnapshot().value).toBe('backoff');
    clock.advance(1);
    expect(actor.getSnapshot().value).toBe('retrying');
    expect(retries).toEqual([5]);
  });

  it('the next attempt is asked for on a zero-delay timer of retrying, not in the step that ends the back-off', () => {
    const { actor, clock, fail, retries, elapsed } = setup({ random: 30 });
    fail();
    clock.advance(4);
    // One timer fire at a time: the back-off's own...
    expect(clock.fireNext()).toBe(true);
    expect(actor.getSnapshot().value).toBe('retrying');
    expect(elapsed).toEqual(['retrying']);
    expect(retries).toEqual([]);
    expect(clock.nextDue()).toBe(5);
    // ...then the next iteration's, at the same instant, in the same state.
    expect(clock.fireNext()).toBe(true);
    expect(retries).toEqual([5]);
    expect(actor.getSnapshot().value).toBe('retrying');
    // Once per back-off: nothing is armed again while the retry is in flight.
    expect(clock.nextDue()).toBeUndefined();
    clock.advance(1000);
    expect(retries).toEqual([5]);
  });

  it('cancel after the back-off, before the next attempt is asked for, leaves nothing armed and no attempt', () => {
    const { actor, clock, fail, retries, resources } = setup({ random: 30 });
    fail();
    clock.advance(4);
    clock.fireNext();
    expect(actor.getSnapshot().value).toBe('retrying');
    actor.send({ type: 'retry.cancel' });
    expect(actor.getSnapshot().value).toBe('cancelled');
    expect(resources.count).toBe(0);
    expect(clock.nextDue()).toBeUndefined();
    clock.advance(1000);
    expect(retries).toEqual([]);
  });

  it('after a retry, an outcome that is not retriable counts upstream_rq_retry_success and gives the resource back', () => {
    const { actor, clock, fail, count, resources } = setup();
    fail();
    clock.advance(25);
    fail(false);
    expect(actor.getSnapshot().value).toBe('no_retry');
    expect(count('upstream_rq_retry_success')).toBe(1);
    expect(resources.count).toBe(0);
  });

  it('with no retries left a retriable outcome is exhausted: upstream_rq_retry_limit_exceeded', () => {
    const { actor, clock, fail, count, resources } = setup({ retries: 1 });
    fail();
    clock.advance(25);
    fail();
    expect(actor.getSnapshot().value).toBe('exhausted');
    expect(count('upstream_rq_retry')).toBe(1);
    expect(count('upstream_rq_retry_limit_exceeded')).toBe(1);
    expect(count('upstream_rq_retry_success')).toBe(0);
    expect(resources.count).toBe(0);
  });

  it('a full retry circuit breaker overflows: upstream_rq_retry_overflow, and the retry is used up', () => {
    const resources = retryLimit(1, 1);
    const { actor, fail, count } = setup({ resources });
    fail();
    expect(actor.getSnapshot().value).toBe('overflowed');
    expect(actor.getSnapshot().context.retriesRemaining).toBe(1);
    expect(count('upstream_rq_retry_overflow')).toBe(1);
    expect(count('upstream_rq_retry')).toBe(0);
    expect(resources.count).toBe(1);
  });

  it('a request holding the only retry resource may retry again: it gives it back before asking', () => {
    const { actor, clock, fail, resources } = setup({ maxRetries: 1, retries: 3 });
    fail();
    clock.advance(25);
    expect(resources.count).toBe(1);
    fail();
    expect(actor.getSnapshot().value).toBe('backoff');
    expect(resources.count).toBe(1);
  });

  it('the exponential interval doubles from retry to retry', () => {
    const { actor, clock, fail } = setup({ retries: 3, random: 1_000_003 });
    const ranges: Array<[number, number]> = [];
    for (let i = 0; i < 3; i++) {
      fail();
      ranges.push(actor.getSnapshot().context.backoffRange);
      clock.advance(250);
    }
    expect(ranges).toEqual([
      [0, 25],
      [0, 50],
      [0, 100],
    ]);
  });

  it('a rate-limited response waits [interval, 1.5 x interval) instead, counted as ratelimited', () => {
    const { actor, fail, count } = setup({ random: 700 });
    fail(true, 2000);
    expect(actor.getSnapshot().context).toMatchObject({ backoffMs: 2700, backoffStrategy: 'ratelimited', backoffRange: [2000, 3000] });
    expect(count('upstream_rq_retry_backoff_ratelimited')).toBe(1);
    expect(count('upstream_rq_retry_backoff_exponential')).toBe(0);
  });

  it('cancel during the back-off stops the timer and releases the resource', () => {
    const { actor, clock, fail, resources, retries } = setup();
    fail();
    actor.send({ type: 'retry.cancel' });
    expect(actor.getSnapshot().value).toBe('cancelled');
    expect(resources.count).toBe(0);
    clock.advance(1000);
    expect(retries).toEqual([]);
  });

  it('cancel while the retry is in flight releases the resource too', () => {
    const { actor, clock, fail, resources } = setup();
    fail();
    clock.advance(25);
    actor.send({ type: 'retry.cancel' });
    expect(actor.getSnapshot().value).toBe('cancelled');
    expect(resources.count).toBe(0);
  });
});

describe('retry machine paths', () => {
  it('reaches every state, each final state included, from idle', () => {
    const { input } = setup({ retries: 1 });
    const paths = getShortestPaths(retryMachine, {
      input,
      events: [
        { type: 'retry.outcome', trigger: 'response', retriable: true },
        { type: 'retry.outcome', trigger: 'reset', retriable: false },
        { type: 'retry.cancel' },
        { type: 'xstate.after.backoff.retry.backoff' } as never,
        { type: 'xstate.after.nextIteration.retry.retrying' } as never,
      ],
      serializeState: (snapshot) => JSON.stringify([snapshot.value, snapshot.context.retriesRemaining]),
    });
    const reached = new Set(paths.map((p) => p.state.value as string));
    for (const state of ['idle', 'backoff', 'retrying', 'no_retry', 'exhausted', 'cancelled']) expect(reached).toContain(state);
    // overflowed needs a full circuit breaker: the same walk from a cluster at its limit.
    const full = { ...input, retries: retryLimit(3, 3) };
    const overflowPaths = getShortestPaths(retryMachine, { input: full, events: [{ type: 'retry.outcome', trigger: 'response', retriable: true }] });
    expect(overflowPaths.map((p) => p.state.value)).toContain('overflowed');
  });
});
