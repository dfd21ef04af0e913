import { assign, fromCallback, not, setup } from 'xstate';
import type { DnsError, DnsLookupFamily, DnsResponse, Resolver } from '../seams/resolver';
import type { Counter } from '../stats/stats';

/**
 * DnsClusterImpl::ResolveTarget (StrictDnsClusterImpl::ResolveTarget and LogicalDnsCluster
 * in older Envoys): one name of a STRICT_DNS or LOGICAL_DNS cluster, resolved again and
 * again on the engine clock.
 *
 *   resolving ──answer──▶ resolved ──after(dnsRefreshRate)──▶ resolving ...
 *       │
 *       └──failure──▶ failed ──after(dnsFailureRefreshRate)──▶ resolving ...
 *
 * A success waits `dns_refresh_rate` (or the answer's smallest TTL with respect_dns_ttl);
 * a failure waits the cluster's failure back-off
 * (dns_failure_refresh_rate, jittered exponential; else dns_refresh_rate again). What the
 * answer does to the host set is the owner's business (dns-cluster.ts); a failure leaves
 * the hosts as they were.
 */

/** The `cluster.<name>.update_*` counters (Envoy's ClusterInfo::configUpdateStats). */
export interface DnsUpdateStats {
  update_attempt: Counter;
  update_success: Counter;
  update_failure: Counter;
}

/** BackOffStrategy: JitteredExponentialBackOffStrategy or FixedBackOffStrategy. */
export interface BackOffStrategy {
  nextBackOffMs(): number;
  reset(): void;
}

export interface DnsResolutionOwner {
  /** a usable answer: rebuild this target's hosts; `refreshMs` is when the next query goes out */
  onResolved(responses: DnsResponse[], refreshMs: number): void;
  /** no usable answer; the hosts stay as they were */
  onFailed(error: DnsError, refreshMs: number): void;
  /** Dispatcher::post: run once the machine's current step is over */
  post(fn: () => void): void;
}

export interface DnsResolutionInput {
  resolver: Resolver;
  /** the name to resolve (socket_address.address) */
  dnsAddress: string;
  family: DnsLookupFamily;
  /** dns_refresh_rate, ms */
  refreshRate: number;
  respectDnsTtl: boolean;
  /** LOGICAL_DNS: an empty answer counts as a failure (it needs an address to connect to) */
  logical: boolean;
  /** shared by every target of the cluster, as Envoy's failure_backoff_strategy_ is */
  failureBackOff: BackOffStrategy;
  stats: DnsUpdateStats;
  owner: DnsResolutionOwner;
}

export type DnsResolutionEvent = { type: 'dns.resolve.ok'; responses: DnsResponse[] } | { type: 'dns.resolve.fail'; error: DnsError };

interface DnsResolutionContext extends DnsResolutionInput {
  /** the wait armed after the last answer, ms */
  refreshMs: number;
}

/** For LOGICAL_DNS an empty answer is a failure; its error says so. */
const NO_ADDRESS: DnsError = { code: 'ENODATA', message: 'the name has no address; a LOGICAL_DNS cluster needs one' };

export const dnsResolutionMachine = setup({
  types: {
    input: {} as DnsResolutionInput,
    context: {} as DnsResolutionContext,
    events: {} as DnsResolutionEvent,
  },
  actors: {
    // The query lives only in `resolving`; stopping the target cancels it (ActiveDnsQuery::cancel).
    resolve: fromCallback<DnsResolutionEvent, { resolver: Resolver; name: string; family: DnsLookupFamily; ttl: boolean }>(({ input, sendBack }) => {
      const query = input.resolver.resolve(
        input.name,
        input.family,
        {
          onResolved: (responses) => sendBack({ type: 'dns.resolve.ok', responses }),
          onFailure: (error) => sendBack({ type: 'dns.resolve.fail', error }),
        },
        { ttl: input.ttl },
      );
      return () => query.cancel();
    }),
  },
  delays: {
    dnsRefreshRate: ({ context }) => context.refreshMs,
    dnsFailureRefreshRate: ({ context }) => context.refreshMs,
  },
  guards: {
    /** ResolveTarget::isSuccessfulResponse: STRICT_DNS takes an empty answer as "no hosts"; LOGICAL_DNS does not */
    isSuccessfulResponse: ({ context, event }) => event.type === 'dns.resolve.ok' && (!context.logical || event.responses.length > 0),
  },
  actions: {
    countAttempt: ({ context }) => context.stats.update_attempt.inc(),
    countSuccess: ({ context }) => context.stats.update_success.inc(),
    countFailure: ({ context }) => context.stats.update_failure.inc(),
    resetFailureBackOff: ({ context }) => context.failureBackOff.reset(),
    /** dns_refresh_rate, or the smallest TTL (respect_dns_ttl, when the answer has one and it is not 0) */
    chooseRefreshRate: assign({
      refreshMs: ({ context, event }) => {
        let ms = context.refreshRate;
        if (context.respectDnsTtl && event.type === 'dns.resolve.ok' && event.responses.length > 0) {
          const ttl = Math.min(...event.responses.map((r) => r.ttl));
          if (ttl > 0) ms = ttl * 1000;
        }
        return ms;
      },
    }),
    chooseFailureRefreshRate: assign({ refreshMs: ({ context }) => context.failureBackOff.nextBackOffMs() }),
    // The owner's reaction (host set changes, health machines for new hosts, pools
    // draining) drives other actors; it runs once this step is over rather than inside it.
    applyResponse: ({ context, event }) => {
      if (event.type !== 'dns.resolve.ok') return;
      const { owner, refreshMs } = context;
      owner.post(() => owner.onResolved(event.responses, refreshMs));
    },
    reportFailure: ({ context, event }) => {
      const { owner, refreshMs } = context;
      const error = event.type === 'dns.resolve.fail' ? event.error : NO_ADDRESS;
      owner.post(() => owner.onFailed(error, refreshMs));
    },
  },
}).createMachine({
  id: 'dns_resolution',
  context: ({ input }) => ({ ...input, refreshMs: input.refreshRate }),
  initial: 'resolving',
  states: {
    resolving: {
      meta: { envoy: 'DnsClusterImpl::ResolveTarget::startResolve' },
      entry: 'countAttempt',
      invoke: {
        src: 'resolve',
        input: ({ context }) => ({ resolver: context.resolver, name: context.dnsAddress, family: context.family, ttl: context.respectDnsTtl }),
      },
      on: {
        'dns.resolve.ok': [
          { guard: 'isSuccessfulResponse', target: 'resolved', actions: ['countSuccess', 'resetFailureBackOff', 'chooseRefreshRate', 'applyResponse'] },
          { guard: not('isSuccessfulResponse'), target: 'failed', actions: ['countFailure', 'chooseFailureRefreshRate', 'reportFailure'] },
        ],
        'dns.resolve.fail': { target: 'failed', actions: ['countFailure', 'chooseFailureRefreshRate', 'reportFailure'] },
      },
    },
    // The answer is applied; resolve_timer_ is armed with the refresh rate.
    resolved: {
      meta: { envoy: 'DnsClusterImpl::ResolveTarget::onResolutionComplete (update_success)' },
      after: { dnsRefreshRate: 'resolving' },
    },
    // No usable answer; resolve_timer_ is armed with the failure back-off.
    failed: {
      meta: { envoy: 'DnsClusterImpl::ResolveTarget::onResolutionComplete (update_failure)' },
      after: { dnsFailureRefreshRate: 'resolving' },
    },
  },
});
