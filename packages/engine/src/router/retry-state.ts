import type { Actor } from 'xstate';
import type { ResponseHead } from '../http/headers';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import { post } from '../seams/clock';
import type { StreamSteps } from '../seams/step';
import type { ActorMeta } from '../seams/tracer';
import type { ClusterInfo } from '../upstream/cluster-manager';
import type { StreamResetReason } from '../upstream/codec-client';
import type { Host } from '../upstream/host';
import type { ResourceManager } from '../upstream/resource-manager';
import {
  JitteredExponentialBackOff,
  parseResetInterval,
  retryOnNames,
  wouldRetryFromHeaders,
  wouldRetryFromReset,
  type RequestRetryPolicy,
  type RetryVerdict,
  type U32Source,
} from './retry-policy';
import { retryMachine } from './retry.machine';

/** Router::RetryStatus */
export type RetryStatus = 'Yes' | 'No' | 'NoOverflow' | 'NoRetryLimitExceeded';

const STATUS_OF_STATE: Record<string, RetryStatus> = {
  backoff: 'Yes',
  no_retry: 'No',
  exhausted: 'NoRetryLimitExceeded',
  overflowed: 'NoOverflow',
};

const DECISION_OF_STATUS: Record<RetryStatus, string> = {
  Yes: 'retry',
  No: 'no_retry',
  NoRetryLimitExceeded: 'limit_exceeded',
  NoOverflow: 'overflow',
};

/**
 * Router::RetryStateImpl for one request: the policy it runs with, the retry machine
 * (decisions, circuit breaker, back-off timer) and the previous_hosts predicate. The
 * router asks `shouldRetryHeaders` / `shouldRetryReset` after each attempt; when the
 * machine's `retrying` asks for the next attempt, `doRetry` is called.
 */
export class RetryState {
  readonly actor: Actor<typeof retryMachine>;
  readonly meta: ActorMeta;
  private readonly attemptedHosts: Host[] = [];

  constructor(
    private readonly engine: EngineContext,
    steps: StreamSteps,
    readonly policy: RequestRetryPolicy,
    private readonly cluster: ClusterInfo,
    random: U32Source,
    parent: ActorMeta,
    private readonly doRetry: () => void,
    /** the circuit breakers of the request's priority (max_retries / retry budget) */
    private readonly resources: ResourceManager = cluster.resources,
  ) {
    this.meta = { actor: `${parent.actor}/retry`, machine: 'retry', ids: { ...parent.ids, cluster: cluster.name }, envoy: {} };
    const { stats } = cluster;
    this.actor = startTraced(engine, retryMachine, {
      input: {
        retriesRemaining: policy.numRetries,
        retries: resources.retries,
        backOff: new JitteredExponentialBackOff(policy.baseInterval, policy.maxInterval, random),
        random,
        stats,
      },
      path: this.meta.actor,
      kind: 'retry',
      ids: this.meta.ids,
    });
    // The back-off is over (backoff -> retrying): a breakpoint there holds the request, and
    // with it the machine's timer that asks for the next pick.
    this.actor.on('retry.backoff.elapsed', () => steps.after(this.meta, this.actor));
    this.actor.on('retry.do_retry', () => {
      // Emitted inside the machine's step, where an outcome sent back would wait its turn:
      // the attempt (which may fail at once) is made once the step is over. A cancel in
      // between has left `retrying`.
      post(engine.clock, () => {
        const snapshot = this.actor.getSnapshot();
        if (snapshot.status === 'active' && snapshot.value === 'retrying') this.doRetry();
      });
    });
    if (engine.tracer.enabled) {
      engine.tracer.fact(
        this.meta,
        'retry.policy',
        {
          source: policy.source,
          retryOn: retryOnNames(policy.retryOn),
          numRetries: policy.numRetries,
          backOff: { baseInterval: policy.baseInterval, maxInterval: policy.maxInterval },
          previousHosts: policy.previousHosts,
          headers: policy.headers,
          maxRetriesCircuitBreaker: resources.retries.max,
        },
        'RetryStateImpl::create',
      );
    }
  }

  get retriesRemaining(): number {
    return this.actor.getSnapshot().context.retriesRemaining;
  }

  /** RetryStateImpl::shouldRetryHeaders: an attempt answered with `head`. */
  shouldRetryHeaders(head: ResponseHead, attempt: number): RetryStatus {
    const verdict = wouldRetryFromHeaders(this.policy, head);
    let rateLimitedMs: number | undefined;
    if (verdict.retry && this.policy.resetHeaders.length > 0) {
      // Only a response that will be retried is asked when to come back; a 1 ms answer is no answer.
      const interval = parseResetInterval(head.headers, this.policy.resetHeaders, this.policy.rateLimitedMaxInterval, this.engine.clock.wallTime());
      if (interval !== undefined && interval > 1) rateLimitedMs = interval;
    }
    return this.decide({ type: 'retry.outcome', trigger: 'response', retriable: verdict.retry, rateLimitedMs }, verdict, attempt, { status: head.status }, 'RetryStateImpl::shouldRetryHeaders');
  }

  /** RetryStateImpl::shouldRetryReset: an attempt was reset (or its pool failed, or its per-try timer fired). */
  shouldRetryReset(reason: StreamResetReason, requestStarted: boolean, attempt: number): RetryStatus {
    const verdict = wouldRetryFromReset(this.policy.retryOn, reason, requestStarted);
    return this.decide({ type: 'retry.outcome', trigger: 'reset', retriable: verdict.retry }, verdict, attempt, { reset: reason }, 'RetryStateImpl::shouldRetryReset');
  }

  /** The previous_hosts predicate: a retry should not go back to a host already tried. */
  shouldSelectAnotherHost(host: Host): boolean {
    return this.policy.previousHosts && this.attemptedHosts.includes(host);
  }

  onHostAttempted(host: Host): void {
    if (this.policy.previousHosts) this.attemptedHosts.push(host);
  }

  /** The router is done with this request (answered, reset or timed out): stop, giving back any retry resource. */
  cancel(): void {
    // Leaving any state for `cancelled` disarms its timers: the back-off, or the pick after it.
    if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'retry.cancel' });
    stopTraced(this.engine, this.actor);
  }

  private decide(
    event: { type: 'retry.outcome'; trigger: 'response' | 'reset'; retriable: boolean; rateLimitedMs?: number },
    verdict: RetryVerdict,
    attempt: number,
    outcome: Record<string, unknown>,
    envoy: string,
  ): RetryStatus {
    const before = this.actor.getSnapshot();
    // Outcomes count only while an attempt is in flight (idle or retrying).
    if (before.status !== 'active' || before.value === 'backoff') return 'No';
    const retriesBefore = before.context.retriesRemaining;
    this.actor.send(event);
    const after = this.actor.getSnapshot();
    const status = STATUS_OF_STATE[after.value as string] ?? 'No';
    const tracer = this.engine.tracer;
    if (tracer.enabled) {
      const why =
        status === 'NoRetryLimitExceeded'
          ? `retriable, but no retries left (num_retries ${this.policy.numRetries})`
          : status === 'NoOverflow'
            ? `retriable, but the retry circuit breaker is full (${this.resources.thresholds.retry_budget ? 'retry budget' : 'max_retries'} ${this.resources.retries.max}, ${this.resources.retries.count} in use)`
            : verdict.reason;
      tracer.fact(
        this.meta,
        'retry.decision',
        {
          attempt,
          trigger: event.trigger,
          ...outcome,
          decision: DECISION_OF_STATUS[status],
          reason: why,
          // the retry_on condition that made the outcome retriable, even when the limit or breaker then refused
          retryOn: verdict.condition ?? null,
          retriesRemaining: after.context.retriesRemaining,
          retriesBefore,
        },
        envoy,
      );
      if (status === 'Yes') {
        const { backoffMs, backoffStrategy, backoffRange } = after.context;
        tracer.fact(this.meta, 'retry.backoff', { attempt: attempt + 1, ms: backoffMs, strategy: backoffStrategy, range: backoffRange }, 'RetryStateImpl::enableBackoffTimer');
      }
    }
    return status;
  }
}
