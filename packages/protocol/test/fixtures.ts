import type { CorrelationIds, TraceEvent, TraceHeader, UnstampedEvent } from '../src';

export const HEADER: TraceHeader = {
  format: 'proxyscope-trace',
  version: 1,
  engineVersion: '0.1.0',
  startedAt: '2026-11-21T06:00:00.000Z',
  topology: { workers: 1, listeners: [], routeConfigs: [], clusters: [] },
};

/**
 * One request's events, shaped like a real trace (docs/request-lifecycle.md): downstream
 * codec, stream, router, upstream request, pool and client, and the access log with
 * `status` and `flags`. Seq from `seq0`, 0.25 ms apart from `t0`.
 */
export function requestEvents(stream: number, options: { cx?: number; seq0?: number; t0?: number; status?: number; flags?: string; retried?: boolean } = {}): TraceEvent[] {
  const cx = options.cx ?? 1;
  const conn = `listener:ingress/cx:${cx}`;
  const s = `${conn}/stream:${stream}`;
  const host = '127.0.0.1:8081';
  const cxIds: CorrelationIds = { listener: 'ingress', worker: 0, cx };
  const sIds: CorrelationIds = { ...cxIds, stream };
  const uIds: CorrelationIds = { ...sIds, cluster: 'backend', host, pool: `backend/${host}` };
  const pIds: CorrelationIds = { worker: 0, cluster: 'backend', host, pool: `backend/${host}` };
  const raw: UnstampedEvent[] = [
    { type: 'transition', actor: `${conn}/codec`, machine: 'codec', ids: cxIds, from: 'idle', to: 'headers', event: 'codec.message.begin', envoy: 'Http1::ServerConnectionImpl::onMessageBeginBase' },
    { type: 'spawn', actor: s, machine: 'stream', ids: sIds, state: 'decoding_headers' },
    { type: 'fact', actor: s, machine: 'stream', ids: sIds, fact: 'codec.request_headers', data: { method: 'GET', path: `/r/${stream}`, headers: { host: 'x' } } },
    { type: 'spawn', actor: `${s}/router`, machine: 'router', ids: sIds, state: 'matching_route' },
    { type: 'fact', actor: s, machine: 'stream', ids: sIds, fact: 'route.match', data: { route: 'all', cluster: 'backend' }, envoy: 'VirtualHostImpl::getRouteFromEntries' },
    { type: 'transition', actor: `${s}/router`, machine: 'router', ids: sIds, from: 'matching_route', to: 'route_matched', event: 'router.route.matched', envoy: 'Router::Filter::decodeHeaders' },
    { type: 'fact', actor: `worker:0/pool:backend/${host}`, machine: 'pool', ids: pIds, fact: 'pool.decision', data: { decision: 'reuse_ready_client', client: 1 } },
    { type: 'spawn', actor: `${s}/upstream:1`, machine: 'upstream_request', ids: uIds, state: 'pending_pool' },
    { type: 'transition', actor: `${s}/upstream:1`, machine: 'upstream_request', ids: uIds, from: 'pending_pool', to: 'sending', event: 'upstream.pool.ready' },
    { type: 'transition', actor: `worker:0/pool:backend/${host}/ucx:1`, machine: 'client', ids: { ...pIds, ucx: 1 }, from: 'ready', to: 'busy', event: 'client.attach' },
  ];
  if (options.retried) {
    raw.push({ type: 'fact', actor: `${s}/router/retry`, machine: 'retry', ids: { ...sIds, cluster: 'backend' }, fact: 'retry.decision', data: { attempt: 1, decision: 'retry', status: 503 } });
  }
  raw.push(
    { type: 'stop', actor: `${s}/upstream:1`, machine: 'upstream_request', ids: uIds, state: 'done' },
    { type: 'stop', actor: s, machine: 'stream', ids: sIds, state: 'complete' },
    { type: 'fact', actor: s, machine: 'stream', ids: sIds, fact: 'stream.access_log', data: { status: options.status ?? 200, flags: options.flags ?? '-', cluster: 'backend' } },
  );
  const seq0 = options.seq0 ?? 1;
  const t0 = options.t0 ?? 10;
  return raw.map((e, i) => ({ ...e, seq: seq0 + i, t: Math.round((t0 + i * 0.25) * 1000) / 1000 }) as TraceEvent);
}

/** Several requests one after the other, seq continuing. */
export function requests(streams: number[], options: Parameters<typeof requestEvents>[1] = {}): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const s of streams) out.push(...requestEvents(s, { ...options, seq0: out.length + 1, t0: out.length }));
  return out;
}
