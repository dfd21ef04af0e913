import type { ClientState, HostHealthState, TraceEvent, UpstreamRequestState } from '@proxyscope/protocol';
import { foldPhase, initialPhaseState, type Phase, type PhaseState } from '../../model/request-phase';
import type { EventStore } from '../../model/types';

/**
 * "The world at the cursor": where every request is, what each connection pool and host is
 * doing, derived only from the events up to the cursor. Pure (no React, no DOM) so it can
 * be unit-tested and reused by the topology and the benchmark.
 */

/** Where a request's token sits on the topology. */
export type TokenPhase =
  | 'filters' // decoder filters (HCM + HTTP filters)
  | 'route' // route matched
  | 'cluster' // cluster / host being chosen
  | 'pending' // waiting in the host's pool pending queue
  | 'upstream' // riding a connection to the host
  | 'backoff' // retry back-off, parked at the router's route
  | 'encoding' // back through the encoder filters
  | 'done'; // finished: lingers where it ended, then disappears

export interface RequestToken {
  stream: number;
  listener: string;
  chain?: string;
  routeConfig?: string;
  vhost?: string;
  route?: string;
  cluster?: string;
  host?: string;
  attempt: number;
  phase: TokenPhase;
  /** where a finished request ended: 'downstream' when answered normally */
  endedAt?: Exclude<TokenPhase, 'done' | 'encoding'> | 'downstream';
  /** phase before the last failure point, so a local reply ends where it happened */
  failedAt?: Exclude<TokenPhase, 'done' | 'encoding'>;
  status?: number;
  flags?: string;
  reset?: boolean;
  /** the phase it was in when its stream stopped */
  lastPhase?: TokenPhase;
  /** what its phase is folded from (model/request-phase.ts, shared with the request list) */
  machines: PhaseState;
  startT: number;
  endT?: number;
}

export interface PoolState {
  key: string; // actor path of the pool
  worker: number;
  cluster: string;
  host: string;
  /** ucx -> client machine state */
  clients: Map<number, ClientState>;
  /** upstream requests waiting in this pool's pending queue */
  pending: number;
  /** circuit-breaker limits seen in overflow decisions */
  limits: Record<string, number>;
  overflows: number;
  lastDecision?: string;
}

export interface HostState {
  cluster: string;
  host: string;
  /** host_health machine state, when the cluster has health checks or outlier detection */
  health?: HostHealthState;
  /** a DNS answer took the host out of its cluster (cluster.hosts_changed); it may come back */
  removed?: boolean;
  consecutiveFailures: number;
  lastFailT?: number;
  lastOkT?: number;
}

export interface World {
  /** index of the last event applied (-1: none) */
  index: number;
  /** seq of that event, to notice a store that was reset or reordered */
  seq: number;
  t: number;
  requests: Map<number, RequestToken>;
  /** finished requests in end order, for cheap expiry */
  finished: number[];
  pools: Map<string, PoolState>;
  hosts: Map<string, HostState>;
  /** downstream connections open */
  connections: Set<string>;
  /** route name -> clusters it sent requests to */
  routeClusters: Map<string, Set<string>>;
  /** cx -> filter chain name */
  chainOfCx: Map<number, string>;
  /** `listener` -> `routeConfig` per chain, from the topology (for route node ids) */
  routeConfigOfChain: Map<string, string>;
}

/** How long a finished request stays visible where it ended (trace ms). */
export const LINGER_MS = 600;
/** A host whose latest attempts failed within this window shows as failing. */
export const FAILING_WINDOW_MS = 3000;

export function emptyWorld(routeConfigOfChain: Map<string, string> = new Map()): World {
  return {
    index: -1,
    seq: 0,
    t: 0,
    requests: new Map(),
    finished: [],
    pools: new Map(),
    hosts: new Map(),
    connections: new Set(),
    routeClusters: new Map(),
    chainOfCx: new Map(),
    routeConfigOfChain,
  };
}

/** The topology's place for each phase of a request; a finished one is `done` once its stream stops. */
const TOKEN_PHASE: Record<Exclude<Phase, 'complete' | 'reset'>, TokenPhase> = {
  decoding: 'filters',
  route: 'route',
  cluster: 'cluster',
  pool_pending: 'pending',
  upstream: 'upstream',
  backoff: 'backoff',
  encoding: 'encoding',
};

const hostKey = (cluster: string, host: string) => `${cluster}/${host}`;

function hostOf(w: World, cluster: string, host: string): HostState {
  const key = hostKey(cluster, host);
  let h = w.hosts.get(key);
  if (!h) {
    h = { cluster, host, consecutiveFailures: 0 };
    w.hosts.set(key, h);
  }
  return h;
}

function poolOf(w: World, e: TraceEvent): PoolState | undefined {
  const { cluster, host, worker } = e.ids;
  if (cluster === undefined || host === undefined) return undefined;
  const key = `worker:${worker ?? 0}/pool:${cluster}/${host}`;
  let p = w.pools.get(key);
  if (!p) {
    p = { key, worker: worker ?? 0, cluster, host, clients: new Map(), pending: 0, limits: {}, overflows: 0 };
    w.pools.set(key, p);
    hostOf(w, cluster, host);
  }
  return p;
}

function attemptOf(actor: string): number {
  const m = /\/upstream:(\d+)$/.exec(actor);
  return m ? Number(m[1]) : 1;
}

function noteOutcome(w: World, cluster: string | undefined, host: string | undefined, ok: boolean, t: number) {
  if (!cluster || !host) return;
  const h = hostOf(w, cluster, host);
  if (ok) {
    h.consecutiveFailures = 0;
    h.lastOkT = t;
  } else {
    h.consecutiveFailures++;
    h.lastFailT = t;
  }
}

/** Applies one event to the world (mutates it). */
export function applyEvent(w: World, e: TraceEvent): void {
  w.t = e.t;
  w.seq = e.seq;
  switch (e.machine) {
    case 'connection':
      if (e.type === 'spawn') w.connections.add(e.actor);
      else if (e.type === 'stop') w.connections.delete(e.actor);
      return;
    case 'listener':
      if (e.type === 'fact' && e.fact === 'listener.filter_chain_match') {
        const cx = e.data.cx as number | undefined;
        if (typeof cx === 'number' && typeof e.data.chain === 'string') w.chainOfCx.set(cx, e.data.chain);
      }
      return;
    case 'dns_resolution':
      if (e.type === 'fact' && e.fact === 'cluster.hosts_changed' && e.ids.cluster) {
        for (const host of (e.data.removed as string[] | undefined) ?? []) hostOf(w, e.ids.cluster, host).removed = true;
        for (const host of (e.data.added as string[] | undefined) ?? []) hostOf(w, e.ids.cluster, host).removed = false;
      }
      return;
    case 'tcp_proxy':
      // A TCP connection's upstream connect counts for its host like a pool's does.
      if (e.type === 'fact' && (e.fact === 'tcp_proxy.upstream_connected' || e.fact === 'tcp_proxy.connect_failed') && typeof e.data.host === 'string') {
        noteOutcome(w, e.ids.cluster, e.data.host, e.fact === 'tcp_proxy.upstream_connected', e.t);
      }
      return;
    case 'host_health':
      if (e.ids.cluster && e.ids.host) {
        const h = hostOf(w, e.ids.cluster, e.ids.host);
        if (e.type === 'spawn') h.health = e.state as HostHealthState;
        else if (e.type === 'transition') h.health = e.to as HostHealthState;
      }
      return;
    case 'pool': {
      const p = poolOf(w, e);
      if (!p || e.type !== 'fact') return;
      if (e.fact === 'pool.decision') {
        const decision = String(e.data.decision);
        p.lastDecision = decision;
        if (decision === 'overflow' || decision === 'connection_overflow') {
          p.overflows++;
          if (typeof e.data.limit === 'string' && typeof e.data.max === 'number') p.limits[e.data.limit] = e.data.max;
        }
      } else if (e.fact === 'pool.connect_failure') {
        noteOutcome(w, p.cluster, p.host, false, e.t);
      }
      return;
    }
    case 'client': {
      const p = poolOf(w, e);
      const ucx = e.ids.ucx;
      if (!p || ucx === undefined) return;
      if (e.type === 'spawn') p.clients.set(ucx, e.state as ClientState);
      else if (e.type === 'transition') p.clients.set(ucx, e.to as ClientState);
      else if (e.type === 'stop') p.clients.delete(ucx);
      return;
    }
  }

  const stream = e.ids.stream;
  if (stream === undefined) return;
  let r = w.requests.get(stream);
  if (!r) {
    // A request whose spawn came before the recording started is adopted from its first
    // event seen, so it is still drawn; a lone stop says nothing worth drawing.
    if (e.type === 'stop') return;
    const cx = e.ids.cx;
    const chain = cx !== undefined ? w.chainOfCx.get(cx) : undefined;
    const listener = e.ids.listener ?? '';
    r = {
      stream,
      listener,
      chain,
      routeConfig: chain ? w.routeConfigOfChain.get(`${listener}/${chain}`) : undefined,
      attempt: 1,
      phase: 'filters',
      machines: initialPhaseState(),
      startT: e.t,
    };
    w.requests.set(stream, r);
  }
  // The access log is written after the stream stops; it still settles status and flags.
  if (r.phase === 'done' && !(e.type === 'fact' && e.fact === 'stream.access_log')) return;
  if (r.phase !== 'done') {
    const state = e.type === 'transition' ? e.to : e.type === 'fact' ? undefined : e.state;
    const phase = foldPhase(r.machines, { machine: e.machine, type: e.type, actor: e.actor, state, fact: e.type === 'fact' ? e.fact : undefined });
    // the token stays where it is until its stream stops (finish, below)
    if (phase !== 'complete' && phase !== 'reset') r.phase = TOKEN_PHASE[phase];
  }

  switch (e.machine) {
    case 'stream':
      if (e.type === 'fact') {
        if (e.fact === 'route.virtual_host') r.vhost = String(e.data.vhost ?? '');
        else if (e.fact === 'route.match') {
          r.route = String(e.data.route ?? '');
          if (typeof e.data.cluster === 'string') addRouteCluster(w, r.route, e.data.cluster);
        } else if (e.fact === 'stream.local_reply') {
          r.failedAt = r.phase === 'encoding' ? r.failedAt : (r.phase as RequestToken['failedAt']);
          r.status = e.data.status as number;
        } else if (e.fact === 'stream.access_log') {
          r.status = e.data.status as number;
          r.flags = String(e.data.flags ?? '-');
          if (r.phase === 'done') r.endedAt = endPlace(r, r.lastPhase);
        }
      } else if (e.type === 'stop') {
        finish(w, r, e.state === 'reset', e.t);
      }
      return;
    case 'router':
      if (e.type === 'fact') {
        if (e.fact === 'cluster.selected' && typeof e.data.cluster === 'string') {
          r.cluster = e.data.cluster;
          if (r.route) addRouteCluster(w, r.route, e.data.cluster);
        } else if (e.fact === 'lb.host_selected' && typeof e.data.host === 'string') {
          r.host = e.data.host;
        }
      }
      return;
    case 'upstream_request': {
      // A mirrored copy (`<stream>/shadow:<n>/upstream:1`) is not one of the request's attempts.
      if (e.actor.includes('/shadow:')) return;
      const p = poolOf(w, e);
      // trace events carry state names as strings; these are the protocol's, checked by tsc
      const from = e.type === 'transition' ? (e.from as UpstreamRequestState) : undefined;
      const state = (e.type === 'transition' ? e.to : e.type === 'fact' ? undefined : e.state) as UpstreamRequestState | undefined;
      if (e.type === 'spawn') {
        r.attempt = attemptOf(e.actor);
        r.cluster = e.ids.cluster ?? r.cluster;
        r.host = e.ids.host ?? r.host;
        // a new attempt: the previous one's status no longer describes where the request is
        r.failedAt = undefined;
        r.status = undefined;
        if (state === 'pending_pool' && p) p.pending++;
      } else if (e.type === 'transition') {
        if (from === 'pending_pool' && p) p.pending = Math.max(0, p.pending - 1);
        if (state === 'failed') r.failedAt = from === 'pending_pool' ? 'pending' : 'upstream';
      } else if (e.type === 'fact') {
        if (e.fact === 'upstream.response_headers') {
          const status = e.data.status as number;
          r.status = status;
          noteOutcome(w, e.ids.cluster, e.ids.host, status < 500, e.t);
          if (status >= 500) r.failedAt = 'upstream';
        } else if (e.fact === 'upstream.reset') {
          noteOutcome(w, e.ids.cluster, e.ids.host, false, e.t);
          r.failedAt = 'upstream';
        }
      } else if (e.type === 'stop' && state === 'pending_pool' && p) {
        p.pending = Math.max(0, p.pending - 1);
      }
      return;
    }
  }
}

function addRouteCluster(w: World, route: string, cluster: string) {
  let set = w.routeClusters.get(route);
  if (!set) w.routeClusters.set(route, (set = new Set()));
  set.add(cluster);
}

function finish(w: World, r: RequestToken, reset: boolean, t: number) {
  r.reset = reset;
  r.endT = t;
  r.lastPhase = r.phase;
  r.endedAt = endPlace(r, r.phase);
  r.phase = 'done';
  w.finished.push(r.stream);
}

/** A request answered normally ends back at the downstream; a failure ends where it happened. */
function endPlace(r: RequestToken, lastPhase: TokenPhase | undefined): RequestToken['endedAt'] {
  const failed = r.reset || (r.status !== undefined && r.status >= 400);
  if (!failed) return 'downstream';
  if (r.failedAt) return r.failedAt;
  return lastPhase && lastPhase !== 'encoding' && lastPhase !== 'done' ? lastPhase : 'filters';
}

/** Drops finished requests that ended more than LINGER_MS before the world's time. */
export function expireFinished(w: World): void {
  let i = 0;
  while (i < w.finished.length) {
    const r = w.requests.get(w.finished[i]);
    if (r && r.endT !== undefined && w.t - r.endT <= LINGER_MS) break;
    w.requests.delete(w.finished[i]);
    i++;
  }
  if (i > 0) w.finished.splice(0, i);
}

export function isFailing(h: HostState, t: number): boolean {
  return h.consecutiveFailures > 0 && h.lastFailT !== undefined && t - h.lastFailT <= FAILING_WINDOW_MS;
}

/** Map "listener/chain" -> route config name, from the topology. */
export function routeConfigsOf(store: Pick<EventStore, 'topology'>): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of store.topology?.listeners ?? []) for (const fc of l.filterChains) m.set(`${l.name}/${fc.name}`, fc.routeConfig);
  return m;
}

/**
 * Keeps one world per store and moves it with the cursor: forward moves apply only the new
 * events; moving back restarts from the nearest checkpoint (taken every CHECKPOINT_EVERY
 * events) instead of the start, so scrubbing a long trace stays cheap.
 */
export class WorldTracker {
  private world: World | null = null;
  private store: EventStore | null = null;
  private topology: unknown = null;
  private checkpoints: World[] = [];
  static readonly CHECKPOINT_EVERY = 5000;

  at(store: EventStore, cursor: number): World {
    const last = Math.min(cursor, store.length - 1);
    if (this.store !== store || this.topology !== store.topology || !this.world || !this.consistent(store)) this.reset(store);
    let w = this.world!;
    if (last < w.index) {
      const cp = this.checkpointBefore(last);
      w = cp ? cloneWorld(cp) : emptyWorld(routeConfigsOf(store));
    }
    for (let i = w.index + 1; i <= last; i++) {
      applyEvent(w, store.get(i));
      w.index = i;
      if ((i + 1) % WorldTracker.CHECKPOINT_EVERY === 0 && !this.checkpoints.some((c) => c.index === i)) {
        expireFinished(w);
        this.checkpoints.push(cloneWorld(w));
        this.checkpoints.sort((a, b) => a.index - b.index);
      }
    }
    expireFinished(w);
    this.world = w;
    return w;
  }

  private consistent(store: EventStore): boolean {
    const w = this.world!;
    if (w.index < 0) return true;
    if (w.index >= store.length) return false;
    if (store.get(w.index).seq !== w.seq) return false;
    return this.checkpoints.every((c) => c.index < store.length && store.get(c.index).seq === c.seq);
  }

  private reset(store: EventStore) {
    this.store = store;
    this.topology = store.topology;
    this.checkpoints = [];
    this.world = emptyWorld(routeConfigsOf(store));
  }

  private checkpointBefore(index: number): World | undefined {
    let best: World | undefined;
    for (const c of this.checkpoints) if (c.index <= index) best = c;
    return best;
  }
}

export function cloneWorld(w: World): World {
  const requests = new Map<number, RequestToken>();
  for (const [k, v] of w.requests) requests.set(k, { ...v, machines: { ...v.machines } });
  const pools = new Map<string, PoolState>();
  for (const [k, v] of w.pools) pools.set(k, { ...v, clients: new Map(v.clients), limits: { ...v.limits } });
  const hosts = new Map<string, HostState>();
  for (const [k, v] of w.hosts) hosts.set(k, { ...v });
  const routeClusters = new Map<string, Set<string>>();
  for (const [k, v] of w.routeClusters) routeClusters.set(k, new Set(v));
  return {
    ...w,
    requests,
    finished: [...w.finished],
    pools,
    hosts,
    connections: new Set(w.connections),
    routeClusters,
    chainOfCx: new Map(w.chainOfCx),
  };
}
