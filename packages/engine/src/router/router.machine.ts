import { NEVER_MS } from '../fsm/compile';
import { emit, setup } from 'xstate';

/**
 * What the router machine asks of its Router::Filter: the filter holds the data (the
 * route's timeouts, when the request was complete, the attempt in flight) and does what
 * Envoy's filter does when the machine's timer fires.
 */
export interface RouterOwner {
  /**
   * ms left of the route timeout (Router::Filter::response_timeout_), or undefined while it
   * is not running: disabled (`timeout: 0s`), or the request is still arriving (the timer
   * starts in Router::Filter::onRequestComplete).
   */
  routeTimeLeft(): number | undefined;
  /**
   * Router::Filter::onResponseTimeout up to its reply: the attempt in flight is reset and
   * counted, retries end, and the reply (504 UT, or 204 with the alt-response header) is
   * made ready. Runs while the machine moves to `local_reply` or `reset`.
   */
  onResponseTimeout(): void;
}

export interface RouterMachineInput {
  owner: RouterOwner;
}

/**
 * Router::Filter, the terminal HTTP filter: route lookup, cluster, host, then an
 * upstream request whose response it passes back through the encoder filters; with a
 * retry policy, failed attempts loop through `retry_backoff` to a new upstream request.
 */
export type RouterEvent =
  | { type: 'router.route.matched' }
  | { type: 'router.cluster.selected' }
  | { type: 'router.host.selected' }
  | { type: 'router.upstream.created' }
  | { type: 'router.upstream.headers' }
  | { type: 'router.upstream.complete' }
  /** the upstream accepted the upgrade (101): the router relays raw bytes both ways */
  | { type: 'router.upgrade' }
  /** the attempt failed and a retry is armed (RetryStateImpl::enableBackoffTimer) */
  | { type: 'router.retry' }
  /** Router::Filter::onRequestComplete: the whole request is in, so the route timeout runs from now */
  | { type: 'router.request.complete' }
  | { type: 'router.local_reply'; status: number; flag?: string }
  | { type: 'router.reset' };

/**
 * What the filter does once a route timeout has moved the machine: send the reply it made
 * ready (held at `local_reply` in step mode, as a reply the filter decides is), or, when
 * the response had started, reset the downstream stream.
 */
export type RouterEmitted = { type: 'router.send_local_reply' } | { type: 'router.reset_stream' };

/**
 * The route timeout spans every attempt and back-off, so it is an `after` on each state
 * the request can be in while it runs, with the time left of the one deadline (set at
 * Router::Filter::onRequestComplete) as its delay: the states stay flat, keeping the names
 * breakpoints, the protocol's RouterState and the web use. The runtime contract has no
 * conditional `after`; while the timeout does not run, its delay is NEVER_MS and
 * `isRouteTimeoutRunning` refuses it, and `router.request.complete` re-enters the state (a
 * re-entry the trace does not show: the state does not change) so the real timer starts.
 */
const routeTimeout = {
  /** Router::Filter::onResponseTimeout, before the response started: 504 UT */
  beforeResponse: {
    guard: 'isRouteTimeoutRunning',
    target: 'local_reply',
    actions: ['onResponseTimeout', 'sendLocalReply'],
  },
  /** after it started: the downstream stream is reset */
  afterResponseStarted: {
    guard: 'isRouteTimeoutRunning',
    target: 'reset',
    actions: ['onResponseTimeout', 'resetStream'],
  },
} as const;

export const routerMachine = setup({
  types: {
    input: {} as RouterMachineInput,
    context: {} as RouterMachineInput,
    events: {} as RouterEvent,
    emitted: {} as RouterEmitted,
  },
  delays: {
    // A timeout that is not running waits NEVER_MS, which the runtime sets no timer for
    // and the guard would refuse anyway.
    routeTimeout: ({ context }) => context.owner.routeTimeLeft() ?? NEVER_MS,
  },
  guards: {
    isRouteTimeoutRunning: ({ context }) => context.owner.routeTimeLeft() !== undefined,
  },
  actions: {
    onResponseTimeout: ({ context }) => context.owner.onResponseTimeout(),
    sendLocalReply: emit({ type: 'router.send_local_reply' as const }),
    resetStream: emit({ type: 'router.reset_stream' as const }),
  },
}).createMachine({
  id: 'router',
  context: ({ input }) => ({ owner: input.owner }),
  initial: 'matching_route',
  states: {
    matching_route: {
      meta: { envoy: 'RouteMatcher::route' },
      on: { 'router.route.matched': 'route_matched', 'router.local_reply': 'local_reply', 'router.reset': 'reset' },
    },
    route_matched: {
      meta: { envoy: 'Router::Filter::decodeHeaders' },
      on: { 'router.cluster.selected': 'cluster_selected', 'router.local_reply': 'local_reply', 'router.reset': 'reset' },
    },
    cluster_selected: {
      meta: { envoy: 'ClusterManagerImpl::getThreadLocalCluster' },
      on: { 'router.host.selected': 'host_selected', 'router.local_reply': 'local_reply', 'router.reset': 'reset' },
    },
    host_selected: {
      meta: { envoy: 'ClusterEntry::httpConnPoolImpl (LoadBalancer::chooseHost)' },
      on: { 'router.upstream.created': 'upstream_pending', 'router.local_reply': 'local_reply', 'router.reset': 'reset' },
    },
    upstream_pending: {
      meta: { envoy: 'UpstreamRequest::acceptHeadersFromRouter' },
      after: { routeTimeout: routeTimeout.beforeResponse },
      on: {
        'router.request.complete': { target: 'upstream_pending', reenter: true },
        'router.upstream.headers': 'response_started',
        'router.retry': 'retry_backoff',
        'router.local_reply': 'local_reply',
        'router.reset': 'reset',
      },
    },
    // An attempt failed and will be retried: waiting out the back-off (the retry machine's timer).
    retry_backoff: {
      meta: { envoy: 'Router::Filter::doRetry (pending)' },
      after: { routeTimeout: routeTimeout.beforeResponse },
      on: {
        'router.request.complete': { target: 'retry_backoff', reenter: true },
        'router.upstream.created': 'upstream_pending',
        'router.local_reply': 'local_reply',
        'router.reset': 'reset',
      },
    },
    response_started: {
      meta: { envoy: 'Router::Filter::onUpstreamHeaders' },
      after: { routeTimeout: routeTimeout.afterResponseStarted },
      on: {
        // The upstream may answer before the request is all in; the timeout covers the response's end.
        'router.request.complete': { target: 'response_started', reenter: true },
        'router.upstream.complete': 'complete',
        'router.upgrade': 'upgraded',
        'router.reset': 'reset',
      },
    },
    // The upgrade tunnel: request bytes go to the upstream as they come, response bytes to
    // the client; the upstream connection is this stream's until it closes. An upgrade
    // request does not end, so its route timeout seldom runs; if it had, it still does.
    upgraded: {
      meta: { envoy: 'Router::Filter::onUpstreamHeaders (101: upgrade tunnel)' },
      after: { routeTimeout: routeTimeout.afterResponseStarted },
      on: {
        'router.request.complete': { target: 'upgraded', reenter: true },
        'router.upstream.complete': 'complete',
        'router.reset': 'reset',
      },
    },
    complete: { meta: { envoy: 'Router::Filter::onUpstreamComplete' }, type: 'final' },
    local_reply: { meta: { envoy: 'StreamDecoderFilterCallbacks::sendLocalReply' }, type: 'final' },
    reset: { meta: { envoy: 'Router::Filter::onDestroy' }, type: 'final' },
  },
});
