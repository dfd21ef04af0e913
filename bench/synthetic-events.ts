/**
 * Trace events shaped like a real proxied GET on a reused keep-alive connection (the
 * sequence, actor paths, correlation ids and fact payloads of a recorded demo request),
 * for measuring the event stream faster than the proxy itself can produce events.
 */
import type { CorrelationIds, TraceEvent, UnstampedEvent } from '@proxyscope/protocol';

const CLUSTER = 'bench_upstream';
const HOSTS = ['127.0.0.1:18081', '127.0.0.1:18082', '127.0.0.1:18083'];

/** The unstamped events of request `stream` on downstream connection `cx`. */
export function requestEvents(stream: number, cx: number): UnstampedEvent[] {
  const host = HOSTS[stream % HOSTS.length]!;
  const pool = `${CLUSTER}/${host}`;
  const ucx = (stream % 50) + 1;
  const conn = `listener:bench/cx:${cx}`;
  const s = `${conn}/stream:${stream}`;
  const poolActor = `worker:0/pool:${pool}`;
  const client = `${poolActor}/ucx:${ucx}`;
  const cxIds: CorrelationIds = { listener: 'bench', worker: 0, cx };
  const sIds: CorrelationIds = { ...cxIds, stream };
  const uIds: CorrelationIds = { ...sIds, cluster: CLUSTER, host, pool };
  const pIds: CorrelationIds = { worker: 0, cluster: CLUSTER, host, pool };
  const cIds: CorrelationIds = { ...pIds, ucx };
  const tr = (actor: string, machine: TraceEvent['machine'], ids: CorrelationIds, from: string, to: string, event: string, envoy: string): UnstampedEvent => ({
    type: 'transition',
    actor,
    machine,
    ids,
    from,
    to,
    event,
    envoy,
  });
  const fact = (actor: string, machine: TraceEvent['machine'], ids: CorrelationIds, name: Extract<TraceEvent, { type: 'fact' }>['fact'], data: Record<string, unknown>, envoy?: string): UnstampedEvent =>
    envoy ? { type: 'fact', actor, machine, ids, fact: name, data, envoy } : { type: 'fact', actor, machine, ids, fact: name, data };
  return [
    fact(conn, 'connection', cxIds, 'connection.bytes_read', { bytes: 96 }, 'Network::ConnectionImpl::onReadReady'),
    tr(`${conn}/codec`, 'codec', cxIds, 'complete', 'headers', 'codec.message.begin', 'Http1::ServerConnectionImpl::onMessageBeginBase'),
    tr(`${conn}/codec`, 'codec', cxIds, 'headers', 'headers_complete', 'codec.headers.complete', 'Http1::ServerConnectionImpl::onHeadersCompleteBase'),
    { type: 'spawn', actor: s, machine: 'stream', ids: sIds, state: 'decoding_headers' },
    fact(s, 'stream', sIds, 'codec.request_headers', { method: 'GET', path: '/bench', authority: '127.0.0.1:10000', protocol: 'HTTP/1.1', headers: { host: '127.0.0.1:10000' } }),
    { type: 'spawn', actor: `${s}/router`, machine: 'router', ids: sIds, state: 'matching_route' },
    fact(s, 'stream', sIds, 'stream.decoder_filter', { filter: 'envoy.filters.http.router', index: 0, phase: 'headers', call: 'enter' }, 'ActiveStreamDecoderFilter::decodeHeaders'),
    fact(s, 'stream', sIds, 'route.virtual_host', { vhost: 'bench', reason: 'wildcard "*"' }, 'RouteMatcher::findVirtualHost'),
    fact(s, 'stream', sIds, 'route.match', { route: 'route_0', reason: 'route "route_0" matched prefix "/"', matchedOn: 'prefix "/"', cluster: CLUSTER, clusterReason: `cluster "${CLUSTER}"` }, 'VirtualHostImpl::getRouteFromEntries'),
    tr(`${s}/router`, 'router', sIds, 'matching_route', 'route_matched', 'router.route.matched', 'Router::Filter::decodeHeaders'),
    fact(`${s}/router`, 'router', sIds, 'cluster.selected', { cluster: CLUSTER, found: true, reason: `cluster "${CLUSTER}"` }, 'ClusterManagerImpl::getThreadLocalCluster'),
    tr(`${s}/router`, 'router', sIds, 'route_matched', 'cluster_selected', 'router.cluster.selected', 'ClusterManagerImpl::getThreadLocalCluster'),
    fact(`${s}/router`, 'router', sIds, 'lb.host_selected', { cluster: CLUSTER, host, reason: `round robin ${(stream % 3) + 1} of 3` }, 'LoadBalancer::chooseHost'),
    tr(`${s}/router`, 'router', sIds, 'cluster_selected', 'host_selected', 'router.host.selected', 'ClusterEntry::httpConnPoolImpl (LoadBalancer::chooseHost)'),
    { type: 'spawn', actor: `${s}/upstream:1`, machine: 'upstream_request', ids: uIds, state: 'pending_pool' },
    tr(`${s}/router`, 'router', sIds, 'host_selected', 'upstream_pending', 'router.upstream.created', 'UpstreamRequest::acceptHeadersFromRouter'),
    fact(poolActor, 'pool', pIds, 'pool.decision', { decision: 'reuse_ready_client', client: ucx, connecting: 0, ready: 1, busy: 0, pending: 0 }, 'ConnPoolImplBase::newStreamImpl'),
    tr(client, 'client', cIds, 'ready', 'busy', 'client.attach', 'ConnPoolImplBase::attachStreamToClient'),
    fact(poolActor, 'pool', pIds, 'pool.attach', { client: ucx, waitedMs: 0, reused: true }, 'ConnPoolImplBase::attachStreamToClient'),
    tr(`${s}/upstream:1`, 'upstream_request', uIds, 'pending_pool', 'sending', 'upstream.pool.ready', 'UpstreamRequest::onPoolReady'),
    fact(`${s}/upstream:1`, 'upstream_request', uIds, 'upstream.request_sent', { bytes: 187 }, 'UpstreamRequest::encodeData'),
    tr(`${s}/upstream:1`, 'upstream_request', uIds, 'sending', 'awaiting_headers', 'upstream.request.sent', 'UpstreamRequest::encodeData (end_stream)'),
    fact(s, 'stream', sIds, 'stream.decoder_filter', { filter: 'envoy.filters.http.router', index: 0, phase: 'headers', call: 'return', status: 'StopIteration' }, 'ActiveStreamDecoderFilter::decodeHeaders'),
    tr(s, 'stream', sIds, 'decoding_headers', 'awaiting_response', 'stream.decode.headers.done', 'Router::Filter::onRequestComplete'),
    tr(`${conn}/codec`, 'codec', cxIds, 'headers_complete', 'complete', 'codec.message.complete', 'Http1::ServerConnectionImpl::onMessageCompleteBase'),
    tr(`${client}/codec`, 'client_codec', cIds, 'complete', 'headers', 'codec.message.begin', 'Http1::ClientConnectionImpl::onMessageBegin'),
    tr(`${client}/codec`, 'client_codec', cIds, 'headers', 'body', 'codec.headers.complete', 'Http1::ClientConnectionImpl::onHeadersComplete'),
    fact(`${s}/upstream:1`, 'upstream_request', uIds, 'upstream.response_headers', { status: 200, endStream: false }, 'UpstreamRequest::decodeHeaders'),
    tr(`${s}/upstream:1`, 'upstream_request', uIds, 'awaiting_headers', 'receiving_body', 'upstream.headers', 'UpstreamRequest::decodeHeaders'),
    tr(`${s}/router`, 'router', sIds, 'upstream_pending', 'response_started', 'router.upstream.headers', 'Router::Filter::onUpstreamHeaders'),
    tr(s, 'stream', sIds, 'awaiting_response', 'encoding_headers', 'stream.encode.headers', 'FilterManager::encodeHeaders'),
    tr(s, 'stream', sIds, 'encoding_headers', 'encoding_body', 'stream.encode.headers.done', 'FilterManager::encodeData'),
    tr(`${client}/codec`, 'client_codec', cIds, 'body', 'complete', 'codec.message.complete', 'Http1::ClientConnectionImpl::onMessageComplete'),
    tr(`${s}/upstream:1`, 'upstream_request', uIds, 'receiving_body', 'done', 'upstream.complete', 'UpstreamRequest::decodeData (end_stream)'),
    { type: 'stop', actor: `${s}/upstream:1`, machine: 'upstream_request', ids: uIds, state: 'done' },
    tr(`${s}/router`, 'router', sIds, 'response_started', 'complete', 'router.upstream.complete', 'Router::Filter::onUpstreamComplete'),
    { type: 'stop', actor: `${s}/router`, machine: 'router', ids: sIds, state: 'complete' },
    tr(s, 'stream', sIds, 'encoding_body', 'complete', 'stream.encode.complete', 'ConnectionManagerImpl::doEndStream'),
    { type: 'stop', actor: s, machine: 'stream', ids: sIds, state: 'complete' },
    fact(s, 'stream', sIds, 'stream.access_log', { status: 200, flags: '-', durationMs: 1, upstreamHost: host, cluster: CLUSTER, route: 'route_0', bytesReceived: 0, bytesSent: 30 }, 'ConnectionManagerImpl::ActiveStream::log'),
    tr(client, 'client', cIds, 'busy', 'ready', 'client.release', 'ConnPoolImplBase::onUpstreamReady'),
  ];
}

/** An endless source of stamped events: request after request over 50 connections. */
export class SyntheticTrace {
  private seq = 0;
  private stream = 0;
  private buffer: UnstampedEvent[] = [];
  private readonly t0 = performance.now();

  next(): TraceEvent {
    if (this.buffer.length === 0) {
      this.stream++;
      this.buffer = requestEvents(this.stream, (this.stream % 50) + 1).reverse();
    }
    const e = this.buffer.pop()! as TraceEvent;
    e.seq = ++this.seq;
    e.t = Math.round((performance.now() - this.t0) * 1000) / 1000;
    return e;
  }

  get produced(): number {
    return this.seq;
  }
}
