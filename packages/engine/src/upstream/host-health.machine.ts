import { assign, or, setup } from 'xstate';

/**
 * Upstream::Host's health flags as one chart. Envoy keeps them as bits on the host
 * (`FAILED_ACTIVE_HC`, `PENDING_ACTIVE_HC`, `FAILED_OUTLIER_CHECK`); each combination a
 * host can be in is a state here, so every change of health is a traced transition:
 *
 * | state               | health_flags (`/clusters`)                 | picked by the LB |
 * |---------------------|--------------------------------------------|------------------|
 * | `pending`           | `/failed_active_hc/pending_active_hc`      | only in panic    |
 * | `healthy`           | `healthy`                                  | yes              |
 * | `unhealthy`         | `/failed_active_hc`                        | only in panic    |
 * | `ejected`           | `/failed_outlier_check`                    | only in panic    |
 * | `unhealthy_ejected` | `/failed_active_hc/failed_outlier_check`   | only in panic    |
 *
 * The active health checker reports every check result (`hc.success`, `hc.failure`) and
 * the chart applies Envoy's thresholds (ActiveHealthCheckSession::handleSuccess /
 * handleFailure); the outlier detector decides ejections itself and only reports them.
 * A cluster without health checking or outlier detection starts no such actor: its hosts
 * are always healthy.
 */
export interface HostHealthInput {
  /** an active health checker watches this host: it starts `pending` (not yet checked) */
  activeHealthCheck: boolean;
  /** consecutive network failures (timeouts, resets, refused connects) that make a healthy host unhealthy */
  unhealthyThreshold: number;
  /** consecutive successes that make an unhealthy host healthy again (after the first check) */
  healthyThreshold: number;
}

export type HostHealthEvent =
  | { type: 'hc.success' }
  /**
   * `active`: the host answered, but wrongly (an unexpected status, or
   * `x-envoy-immediate-health-check-fail`): unhealthy at once. `network`: no usable answer
   * (connect failure, timeout, reset): counts toward unhealthy_threshold.
   */
  | { type: 'hc.failure'; kind: 'active' | 'network' }
  | { type: 'outlier.eject' }
  | { type: 'outlier.uneject' };

export type HostHealthState = 'pending' | 'healthy' | 'unhealthy' | 'ejected' | 'unhealthy_ejected';

/** The state carries FAILED_ACTIVE_HC (pending counts: the host has not passed a check yet). */
export function failedActiveHc(state: HostHealthState): boolean {
  return state === 'pending' || state === 'unhealthy' || state === 'unhealthy_ejected';
}

/** The state carries FAILED_OUTLIER_CHECK. */
export function isEjected(state: HostHealthState): boolean {
  return state === 'ejected' || state === 'unhealthy_ejected';
}

interface HostHealthContext {
  activeHealthCheck: boolean;
  unhealthyThreshold: number;
  healthyThreshold: number;
  /** consecutive failed checks while not failed_active_hc (Envoy's num_unhealthy_) */
  failures: number;
  /** consecutive passed checks while failed_active_hc (Envoy's num_healthy_) */
  successes: number;
}

export const hostHealthMachine = setup({
  types: {
    input: {} as HostHealthInput,
    context: {} as HostHealthContext,
    events: {} as HostHealthEvent,
  },
  guards: {
    isActivelyChecked: ({ context }) => context.activeHealthCheck,
    isImmediateFailure: ({ event }) => event.type === 'hc.failure' && event.kind === 'active',
    reachesUnhealthyThreshold: ({ context }) => context.failures + 1 >= context.unhealthyThreshold,
    reachesHealthyThreshold: ({ context }) => context.successes + 1 >= context.healthyThreshold,
  },
  actions: {
    countFailure: assign({ failures: ({ context }) => context.failures + 1, successes: 0 }),
    countSuccess: assign({ successes: ({ context }) => context.successes + 1, failures: 0 }),
    resetCounts: assign({ failures: 0, successes: 0 }),
  },
}).createMachine({
  id: 'host_health',
  context: ({ input }) => ({
    activeHealthCheck: input.activeHealthCheck,
    unhealthyThreshold: input.unhealthyThreshold,
    healthyThreshold: input.healthyThreshold,
    failures: 0,
    successes: 0,
  }),
  initial: 'added',
  states: {
    // Resolved before the first snapshot: a checked host starts pending, any other healthy.
    added: {
      always: [{ guard: 'isActivelyChecked', target: 'pending' }, { target: 'healthy' }],
    },
    pending: {
      meta: { envoy: 'HealthCheckerImplBase::addHosts (FAILED_ACTIVE_HC | PENDING_ACTIVE_HC)' },
      on: {
        // Startup: the first result decides, one success is enough (first_check_).
        'hc.success': { target: 'healthy', actions: 'resetCounts' },
        'hc.failure': { target: 'unhealthy', actions: 'resetCounts' },
        'outlier.eject': 'unhealthy_ejected',
      },
    },
    healthy: {
      meta: { envoy: 'HealthCheckerImplBase::ActiveHealthCheckSession::handleSuccess' },
      on: {
        'hc.success': { actions: 'resetCounts' },
        'hc.failure': [
          { guard: or(['isImmediateFailure', 'reachesUnhealthyThreshold']), target: 'unhealthy', actions: 'resetCounts' },
          { actions: 'countFailure' },
        ],
        'outlier.eject': 'ejected',
      },
    },
    unhealthy: {
      meta: { envoy: 'HealthCheckerImplBase::ActiveHealthCheckSession::handleFailure' },
      on: {
        'hc.success': [{ guard: 'reachesHealthyThreshold', target: 'healthy', actions: 'resetCounts' }, { actions: 'countSuccess' }],
        'hc.failure': { actions: 'resetCounts' },
        'outlier.eject': 'unhealthy_ejected',
      },
    },
    ejected: {
      meta: { envoy: 'DetectorImpl::ejectHost' },
      on: {
        'outlier.uneject': 'healthy',
        'hc.success': { actions: 'resetCounts' },
        'hc.failure': [
          { guard: or(['isImmediateFailure', 'reachesUnhealthyThreshold']), target: 'unhealthy_ejected', actions: 'resetCounts' },
          { actions: 'countFailure' },
        ],
      },
    },
    unhealthy_ejected: {
      meta: { envoy: 'DetectorImpl::ejectHost (host also FAILED_ACTIVE_HC)' },
      on: {
        'outlier.uneject': 'unhealthy',
        'hc.success': [{ guard: 'reachesHealthyThreshold', target: 'ejected', actions: 'resetCounts' }, { actions: 'countSuccess' }],
        'hc.failure': { actions: 'resetCounts' },
      },
    },
  },
});
