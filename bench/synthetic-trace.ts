import type { CorrelationIds, MachineKind, Topology, TraceEvent } from '@proxyscope/protocol';

/**
 * A generated trace with a steady population of requests in flight (arrival rate x mean
 * duration), shaped like the demo's: for the frame-time benchmark (bench/browser-frames.ts).
 * Deterministic: the same options give the same events.
 */
export interface SyntheticOptions {
  /** requests in flight at steady state */
  inFlight: number;
  /** trace length, seconds */
  seconds: number;
  seed?: number;
}

export const SYNTHETIC_TOPOLOGY: Topology = {
  workers: 2,
  listeners: [{ name: 'ingress', address: '127.0.0.1:10000', filterChains: [{ name: 'filter_chain_0', statPrefix: 'ingress_http', routeConfig: 'shop_routes', httpFilters: ['envoy.filters.http.fault', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.router'] }] }],
  routeConfigs: [
    {
      name: 'shop_routes',
      virtualHosts: [
        {
          name: 'shop',
          domains: ['shop.example.com'],
          routes: [
            { name: 'api', match: 'prefix /api/', action: 'api' },
            { name: 'static', match: 'prefix /static/', action: 'web' },
            { name: 'storefront', match: 'prefix /', action: 'weighted_clusters' },
          ],
        },
      ],
    },
  ],
  clusters: [
    { name: 'web', type: 'STATIC', lbPolicy: 'ROUND_ROBIN', hosts: ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080'] },
    { name: 'web_canary', type: 'STATIC', lbPolicy: 'ROUND_ROBIN', hosts: ['10.0.1.1:8080'] },
    { name: 'api', type: 'STATIC', lbPolicy: 'LEAST_REQUEST', hosts: ['10.0.2.1:9000', '10.0.2.2:9000'] },
  ],
};

function mulberry32(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Unstamped = { t: number; order: number } & Record<string, unknown>;

export function syntheticTrace(opts: SyntheticOptions): { topology: Topology; events: TraceEvent[] } {
  const rnd = mulberry32(opts.seed ?? 42);
  const meanMs = 4000;
  const rate = opts.inFlight / meanMs; // per ms
  const end = opts.seconds * 1000;
  const out: Unstamped[] = [];
  let order = 0;
  const push = (t: number, actor: string, machine: MachineKind, ids: CorrelationIds, rest: Record<string, unknown>) => out.push({ t, order: order++, actor, machine, ids, ...rest });
  // every host gets a few upstream connections per worker, busy for the whole run
  for (const c of SYNTHETIC_TOPOLOGY.clusters)
    for (const host of c.hosts)
      for (let worker = 0; worker < 2; worker++) {
        const pool = `${c.name}/${host}`;
        const ids = { worker, cluster: c.name, host, pool };
        push(0, `worker:${worker}/pool:${pool}`, 'pool', ids, { type: 'spawn', state: 'active' });
        for (let u = 1; u <= 4; u++) {
          const actor = `worker:${worker}/pool:${pool}/ucx:${u}`;
          push(1, actor, 'client', { ...ids, ucx: u }, { type: 'spawn', state: 'connecting' });
          push(5, actor, 'client', { ...ids, ucx: u }, { type: 'transition', from: 'connecting', to: 'ready', event: 'client.connect.ok' });
          push(6, actor, 'client', { ...ids, ucx: u }, { type: 'transition', from: 'ready', to: 'busy', event: 'client.attach' });
        }
      }
  const routes = [
    { route: 'api', cluster: 'api', p: 0.4 },
    { route: 'static', cluster: 'web', p: 0.3 },
    { route: 'storefront', cluster: 'web', p: 0.27 },
    { route: 'storefront', cluster: 'web_canary', p: 0.03 },
  ];
  // start already at steady state: the first requests began before t=0
  let stream = 0;
  for (let t0 = -meanMs; t0 < end; t0 += -Math.log(1 - rnd()) / rate) {
    stream++;
    const cx = Math.ceil(stream / 4);
    const worker = cx % 2;
    const base = { listener: 'ingress', worker, cx, stream };
    const sa = `listener:ingress/cx:${cx}/stream:${stream}`;
    let x = rnd();
    const r = routes.find((rt) => (x -= rt.p) < 0) ?? routes[0];
    const hosts = SYNTHETIC_TOPOLOGY.clusters.find((c) => c.name === r.cluster)!.hosts;
    const host = hosts[stream % hosts.length];
    const pool = `${r.cluster}/${host}`;
    const span = meanMs * (0.5 + rnd());
    const tDecode = t0;
    const tRoute = t0 + span * 0.1;
    const tPending = t0 + span * 0.25;
    const tSend = t0 + span * 0.45;
    const tHeaders = t0 + span * 0.8;
    const tEnd = t0 + span;
    const status = rnd() < 0.05 ? 503 : rnd() < 0.05 ? 404 : 200;
    const ua = `${sa}/upstream:1`;
    const uids = { ...base, cluster: r.cluster, host, pool };
    push(tDecode, sa, 'stream', base, { type: 'spawn', state: 'decoding_headers' });
    push(tDecode, sa, 'stream', base, { type: 'fact', fact: 'codec.request_headers', data: { method: 'GET', path: `/${r.route}`, authority: 'shop.example.com' } });
    push(tDecode, `${sa}/router`, 'router', base, { type: 'spawn', state: 'matching_route' });
    push(tRoute, sa, 'stream', base, { type: 'fact', fact: 'route.virtual_host', data: { vhost: 'shop' } });
    push(tRoute, sa, 'stream', base, { type: 'fact', fact: 'route.match', data: { route: r.route, cluster: r.cluster } });
    push(tRoute, `${sa}/router`, 'router', base, { type: 'transition', from: 'matching_route', to: 'route_matched', event: 'router.route.matched' });
    push(tRoute + 1, `${sa}/router`, 'router', base, { type: 'fact', fact: 'cluster.selected', data: { cluster: r.cluster, found: true } });
    push(tRoute + 1, `${sa}/router`, 'router', base, { type: 'transition', from: 'route_matched', to: 'cluster_selected', event: 'router.cluster.selected' });
    push(tPending, `${sa}/router`, 'router', base, { type: 'fact', fact: 'lb.host_selected', data: { cluster: r.cluster, host } });
    push(tPending, `${sa}/router`, 'router', base, { type: 'transition', from: 'cluster_selected', to: 'host_selected', event: 'router.host.selected' });
    push(tPending, ua, 'upstream_request', uids, { type: 'spawn', state: 'pending_pool' });
    push(tPending, `${sa}/router`, 'router', base, { type: 'transition', from: 'host_selected', to: 'upstream_pending', event: 'router.upstream.created' });
    push(tPending, sa, 'stream', base, { type: 'transition', from: 'decoding_headers', to: 'awaiting_response', event: 'stream.decode.headers.done' });
    push(tSend, ua, 'upstream_request', uids, { type: 'transition', from: 'pending_pool', to: 'sending', event: 'upstream.pool.ready' });
    push(tSend, ua, 'upstream_request', uids, { type: 'transition', from: 'sending', to: 'awaiting_headers', event: 'upstream.request.sent' });
    push(tHeaders, ua, 'upstream_request', uids, { type: 'fact', fact: 'upstream.response_headers', data: { status } });
    push(tHeaders, ua, 'upstream_request', uids, { type: 'transition', from: 'awaiting_headers', to: 'receiving_body', event: 'upstream.headers' });
    push(tHeaders, `${sa}/router`, 'router', base, { type: 'transition', from: 'upstream_pending', to: 'response_started', event: 'router.upstream.headers' });
    push(tHeaders, sa, 'stream', base, { type: 'transition', from: 'awaiting_response', to: 'encoding_headers', event: 'stream.encode.headers' });
    push(tHeaders, sa, 'stream', base, { type: 'transition', from: 'encoding_headers', to: 'encoding_body', event: 'stream.encode.headers.done' });
    push(tEnd, ua, 'upstream_request', uids, { type: 'transition', from: 'receiving_body', to: 'done', event: 'upstream.complete' });
    push(tEnd, ua, 'upstream_request', uids, { type: 'stop', state: 'done' });
    push(tEnd, `${sa}/router`, 'router', base, { type: 'transition', from: 'response_started', to: 'complete', event: 'router.upstream.complete' });
    push(tEnd, `${sa}/router`, 'router', base, { type: 'stop', state: 'complete' });
    push(tEnd, sa, 'stream', base, { type: 'transition', from: 'encoding_body', to: 'complete', event: 'stream.encode.complete' });
    push(tEnd, sa, 'stream', base, { type: 'stop', state: 'complete' });
    push(tEnd, sa, 'stream', base, { type: 'fact', fact: 'stream.access_log', data: { status, flags: '-', durationMs: span, upstreamHost: host, cluster: r.cluster, route: r.route } });
  }
  out.sort((a, b) => a.t - b.t || a.order - b.order);
  // events before t=0 only build the steady state; keep them, shifted so time starts at 0
  const shift = -Math.min(0, out[0]?.t ?? 0);
  return {
    topology: SYNTHETIC_TOPOLOGY,
    events: out.map(({ order: _order, t, ...rest }, i) => ({ ...rest, t: Math.round((t + shift) * 1000) / 1000, seq: i + 1 }) as unknown as TraceEvent),
  };
}
