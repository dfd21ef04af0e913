import { setup } from 'xstate';

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
  | { type: 'router.local_reply'; status: number; flag?: string }
  | { type: 'router.reset' };

export const routerMachine = setup({
  types: { events: {} as RouterEvent },
}).createMachine({
  id: 'router',
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
      on: { 'router.upstream.headers': 'response_started', 'router.retry': 'retry_backoff', 'router.local_reply': 'local_reply', 'router.reset': 'reset' },
    },
    // An attempt failed and will be retried: waiting out the back-off (the retry machine's timer).
    retry_backoff: {
      meta: { envoy: 'Router::Filter::doRetry (pending)' },
      on: { 'router.upstream.created': 'upstream_pending', 'router.local_reply': 'local_reply', 'router.reset': 'reset' },
    },
    response_started: {
      meta: { envoy: 'Router::Filter::onUpstreamHeaders' },
      on: { 'router.upstream.complete': 'complete', 'router.upgrade': 'upgraded', 'router.reset': 'reset' },
    },
    // The upgrade tunnel: request bytes go to the upstream as they come, response bytes to
    // the client; the upstream connection is this stream's until it closes.
    upgraded: {
      meta: { envoy: 'Router::Filter::onUpstreamHeaders (101: upgrade tunnel)' },
      on: { 'router.upstream.complete': 'complete', 'router.reset': 'reset' },
    },
    complete: { meta: { envoy: 'Router::Filter::onUpstreamComplete' }, type: 'final' },
    local_reply: { meta: { envoy: 'StreamDecoderFilterCallbacks::sendLocalReply' }, type: 'final' },
    reset: { meta: { envoy: 'Router::Filter::onDestroy' }, type: 'final' },
  },
});
