import { assign, emit, not, setup } from 'xstate';
import type { Counter } from '../stats/stats';
import type { ResourceLimit } from '../upstream/resource-manager';
import { jitteredLowerBound, type JitteredExponentialBackOff, type U32Source } from './retry-policy';

/** The counters the decisions move (`cluster.<name>.upstream_rq_retry*`). */
export interface RetryStats {
  upstream_rq_retry: Counter;
  upstream_rq_retry_success: Counter;
  upstream_rq_retry_limit_exceeded: Counter;
  upstream_rq_retry_overflow: Counter;
  upstream_rq_retry_backoff_exponential: Counter;
  upstream_rq_retry_backoff_ratelimited: Counter;
}

export interface RetryMachineInput {
  /** num_retries, or x-envoy-max-retries */
  retriesRemaining: number;
  /** the cluster's retry circuit breaker (max_retries or retry budget), shared by every request and worker */
  retries: ResourceLimit;
  backOff: JitteredExponentialBackOff;
  random: U32Source;
  stats: RetryStats;
}

interface RetryContext extends RetryMachineInput {
  /** the wait armed by the last retry decision, ms */
  backoffMs: number;
  backoffStrategy: 'exponential' | 'ratelimited' | undefined;
  /** the interval the wait was drawn from: [low, high) */
  backoffRange: [number, number];
}

/**
 * An attempt's outcome. `retriable` is the policy's verdict (`wouldRetryFromHeaders` /
 * `wouldRetryFromReset`); `rateLimitedMs` the reset interval a rate-limited response asked
 * for (`parseResetInterval`), when there is one.
 */
export type RetryEvent =
  | { type: 'retry.outcome'; trigger: 'response' | 'reset'; retriable: boolean; rateLimitedMs?: number }
  | { type: 'retry.cancel' };

/**
 * `retry.backoff.elapsed`: the back-off is over and the machine is in `retrying` (a step
 * hold point: the request may be held here, before the next pick).
 * `retry.do_retry`: the router is to make the next attempt (Router::Filter::doRetry), once
 * this step is over.
 */
export type RetryEmitted = { type: 'retry.backoff.elapsed' } | { type: 'retry.do_retry' };

/**
 * RetryStateImpl: the retries of one request. The router reports each attempt's outcome
 * (response headers or a reset); the machine decides, in Envoy's order
 * (`RetryStateImpl::shouldRetry`), whether to retry, counts the decision, holds the
 * cluster's retry resource (circuit breaker `max_retries`) while a retry is armed or in
 * flight, and waits out the back-off on the engine clock before asking the router for
 * the next attempt.
 *
 *   idle ──outcome──▶ backoff ──after(backoff)──▶ retrying ──outcome──▶ backoff ...
 *     │                  │                        │    ▲
 *     │                  │                        └────┘ after(nextIteration) / doRetry
 *     │                  │                           │
 *     └──▶ no_retry | exhausted | overflowed         └──▶ no_retry | exhausted | overflowed
 *   any non-final state ──retry.cancel──▶ cancelled
 *
 * The next attempt is asked for on a zero-delay timer of `retrying`, not in the step that
 * ends the back-off: as a timer of the state it freezes while step mode holds the request
 * in `retrying` (before the next pick), and leaving the state (a cancel) disarms it. The
 * owner makes the attempt once that timer's step is over: its outcome may be decided at
 * once (a pool overflow), and the machine must have finished its step before it hears it.
 */
export const retryMachine = setup({
  types: {
    input: {} as RetryMachineInput,
    context: {} as RetryContext,
    events: {} as RetryEvent,
    emitted: {} as RetryEmitted,
  },
  delays: {
    backoff: ({ context }) => context.backoffMs,
    /** SchedulableCallback::scheduleCallbackNextIteration: no wait, but not within the current step */
    nextIteration: 0,
  },
  guards: {
    isRetriable: ({ event }) => event.type === 'retry.outcome' && event.retriable,
    hasRetriesLeft: ({ context }) => context.retriesRemaining > 0,
    /**
     * ResourceManager::retries().canCreate(). A request that holds the resource for its
     * own retry in flight gives it back before asking (`held: 1`), as resetRetry() does.
     */
    retryResourceAvailable: ({ context }, params: { held: number }) => context.retries.count - params.held < context.retries.max,
  },
  actions: {
    decrementRetries: assign({ retriesRemaining: ({ context }) => context.retriesRemaining - 1 }),
    acquireRetryResource: ({ context }) => {
      context.retries.inc();
    },
    releaseRetryResource: ({ context }) => {
      context.retries.dec();
    },
    countRetry: ({ context }) => context.stats.upstream_rq_retry.inc(),
    countRetrySuccess: ({ context }) => context.stats.upstream_rq_retry_success.inc(),
    countLimitExceeded: ({ context }) => context.stats.upstream_rq_retry_limit_exceeded.inc(),
    countOverflow: ({ context }) => context.stats.upstream_rq_retry_overflow.inc(),
    /**
     * RetryStateImpl::enableBackoffTimer: a rate-limited response's reset interval is used
     * once, jittered up to 1.5x; otherwise the exponential strategy's next wait.
     */
    chooseBackoff: assign(({ context, event }) => {
      const rateLimited = event.type === 'retry.outcome' ? event.rateLimitedMs : undefined;
      if (rateLimited !== undefined) {
        return {
          backoffMs: jitteredLowerBound(rateLimited, context.random),
          backoffStrategy: 'ratelimited' as const,
          backoffRange: [rateLimited, rateLimited + Math.floor(rateLimited / 2)] as [number, number],
        };
      }
      const interval = context.backOff.nextInterval;
      return { backoffMs: context.backOff.nextBackOffMs(), backoffStrategy: 'exponential' as const, backoffRange: [0, interval] as [number, number] };
    }),
    countBackoff: ({ context }) =>
      (context.backoffStrategy === 'ratelimited' ? context.stats.upstream_rq_retry_backoff_ratelimited : context.stats.upstream_rq_retry_backoff_exponential).inc(),
    requestRetry: emit({ type: 'retry.backoff.elapsed' }),
    doRetry: emit({ type: 'retry.do_retry' }),
  },
}).createMachine({
  id: 'retry',
  context: ({ input }) => ({ ...input, backoffMs: 0, backoffStrategy: undefined, backoffRange: [0, 0] }),
  initial: 'idle',
  states: {
    // The first attempt is in flight; no retry has been armed.
    idle: {
      meta: { envoy: 'RetryStateImpl::create' },
      on: {
        // RetryStateImpl::shouldRetry, in its order: not retriable; no retries
        // left; circuit breaker full; else arm the back-off.
        'retry.outcome': [
          { guard: not('isRetriable'), target: 'no_retry', actions: [] },
          { guard: not('hasRetriesLeft'), target: 'exhausted', actions: ['countLimitExceeded'] },
          { guard: not({ type: 'retryResourceAvailable', params: { held: 0 } }), target: 'overflowed', actions: ['decrementRetries', 'countOverflow'] },
          { target: 'backoff', actions: ['decrementRetries', 'acquireRetryResource', 'countRetry', 'chooseBackoff', 'countBackoff'] },
        ],
        'retry.cancel': 'cancelled',
      },
    },
    // A retry is armed: the resource is held and the back-off timer runs.
    backoff: {
      meta: { envoy: 'RetryStateImpl::enableBackoffTimer' },
      after: { backoff: { target: 'retrying', actions: 'requestRetry' } },
      on: { 'retry.cancel': { target: 'cancelled', actions: 'releaseRetryResource' } },
    },
    // The back-off is over: the next attempt is made on the next iteration, then is in
    // flight; its outcome releases the resource (RetryStateImpl::resetRetry).
    retrying: {
      meta: { envoy: 'Router::Filter::doRetry' },
      exit: 'releaseRetryResource',
      // A self-transition that is not re-entered: the timer runs once per back-off, and the
      // chart draws it as the loop it is.
      after: { nextIteration: { target: 'retrying', actions: 'doRetry' } },
      on: {
        // RetryStateImpl::shouldRetry, in its order: not retriable (the retry succeeded); no retries
        // left; circuit breaker full; else arm the back-off.
        'retry.outcome': [
          { guard: not('isRetriable'), target: 'no_retry', actions: ['countRetrySuccess'] },
          { guard: not('hasRetriesLeft'), target: 'exhausted', actions: ['countLimitExceeded'] },
          { guard: not({ type: 'retryResourceAvailable', params: { held: 1 } }), target: 'overflowed', actions: ['decrementRetries', 'countOverflow'] },
          { target: 'backoff', actions: ['decrementRetries', 'acquireRetryResource', 'countRetry', 'chooseBackoff', 'countBackoff'] },
        ],
        'retry.cancel': 'cancelled',
      },
    },
    no_retry: { meta: { envoy: 'RetryStateImpl::shouldRetry (RetryStatus::No)' }, type: 'final' },
    exhausted: { meta: { envoy: 'RetryStateImpl::shouldRetry (RetryStatus::NoRetryLimitExceeded)' }, type: 'final' },
    overflowed: { meta: { envoy: 'RetryStateImpl::shouldRetry (RetryStatus::NoOverflow)' }, type: 'final' },
    cancelled: { meta: { envoy: 'RetryStateImpl::~RetryStateImpl' }, type: 'final' },
  },
});
