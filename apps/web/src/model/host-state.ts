import type { ClientState, CorrelationIds, HostHealthState, RetryState, TopologyCluster, TraceEvent, UpstreamRequestState } from '@proxyscope/protocol';
import type { EventStore } from './types';

/**
 * What one cluster's hosts were doing at the cursor, and why: the host-health machine's
 * state with the outlier-detection and active-health-check facts that put it there, each
 * worker's connection pool (which connections are connecting, ready, busy; who waits), and
 * the requests each host served. Pure: derived from the store's events up to the cursor and
 * the topology's cluster entry, nothing else. The host and cluster panels read it.
 */

/** One active health check, as `host.health_check` reported it. */
export interface Probe {
  t: number;
  passed: boolean;
  status?: number;
  latencyMs?: number;
  /** a failure's kind: `active` (a wrong answer: unhealthy at once) or `network` (counts toward unhealthy_threshold) */
  kind?: 'active' | 'network';
  reason?: string;
  firstCheck: boolean;
  /** host_health state before the check */
  stateBefore?: string;
}

export interface Ejection {
  t: number;
  type: string;
  /** the consecutive-error count that reached the threshold (traces since `consecutive` was reported) */
  consecutive?: number;
  threshold?: number;
  ejectionMs: number;
  timesEjected: number;
  ejectionsActive?: number;
  hosts?: number;
  /** the detector's interval: un-ejection waits for its first tick after the ejection time */
  intervalMs?: number;
}

export interface SkippedEjection {
  t: number;
  type: string;
  reason: string;
  consecutive?: number;
  threshold?: number;
  detail: string;
}

export interface Unejection {
  t: number;
  reason: string;
  ejectedForMs?: number;
}

export interface PoolOverflow {
  t: number;
  /** `overflow` (pending or requests limit) or `connection_overflow` */
  decision: string;
  limit?: string;
  max?: number;
}

/** What a pool's facts have told so far: overflows, connect failures, its latest decision. */
export interface PoolTallies {
  /** max_pending_requests / max_requests overflows */
  pendingOverflows: number;
  /** max_connections overflows */
  connectionOverflows: number;
  lastOverflow?: PoolOverflow;
  connectFailures: number;
  lastConnectFailure?: { t: number; reason: string; detail?: string };
  lastDecision?: { t: number; decision: string; why?: string };
}

/** One worker's connection pool to the host. */
export interface PoolDetail extends PoolTallies {
  worker: number;
  actor: string;
  /** upstream connection ids (ucx) by client state */
  connecting: number[];
  ready: number[];
  busy: number[];
  draining: number[];
  /** streams whose upstream request waits in this pool's pending queue */
  pending: number[];
}

/** One upstream attempt the host served (or was sent). */
export interface ServedRequest {
  stream: number;
  attempt: number;
  /** actor path of the upstream request */
  actor: string;
  t: number;
  endT?: number;
  status?: number;
  /** why it ended without a response */
  reset?: string;
  /** upstream_request state at the cursor */
  state: string;
  /** a mirrored copy, not one of the request's own attempts */
  shadow: boolean;
}

export interface HostDetail {
  cluster: string;
  host: string;
  /** the endpoint's `hostname`, when the config names it */
  hostname?: string;
  /** load_balancing_weight */
  weight?: number;
  /** host_health machine state; undefined when the cluster has neither health checks nor outlier detection (always healthy) */
  health?: HostHealthState;
  /** Envoy's `/clusters` health_flags for that state */
  healthFlags: string;
  /** a DNS answer took it out of the cluster */
  removed: boolean;
  /** the load balancer may pick it outside panic mode */
  healthy: boolean;
  ejected: boolean;
  failedActiveHc: boolean;
  outlier: {
    configured: boolean;
    last?: Ejection;
    /** when `last` is the ejection in force: the ejection time's end, and the expected un-ejection (next interval tick) */
    ejectionEndsT?: number;
    expectedUnejectT?: number;
    lastUnejection?: Unejection;
    skipped: SkippedEjection[];
    ejections: number;
    /** the router's results since the last reset, as the detector counts them (503 for a local-origin failure) */
    consecutive5xx: number;
    consecutiveGatewayFailure: number;
  };
  activeHc: {
    configured: boolean;
    /** newest first, at most PROBES_KEPT */
    probes: Probe[];
    total: number;
    passed: number;
    failed: number;
    /** consecutive results counting toward the next threshold, per the host-health chart */
    toward?: { state: 'healthy' | 'unhealthy'; count: number; threshold: number };
  };
  pools: PoolDetail[];
  /** newest first, at most SERVED_KEPT */
  served: ServedRequest[];
  servedTotal: number;
  /** attempts that got a 5xx or no response */
  servedFailed: number;
}

export const PROBES_KEPT = 8;
const LB_FACTS = new Set(['lb.host_selected', 'lb.no_host']);
export const SERVED_KEPT = 12;
/** attempts followed per host (their later events still update them) */
const SERVED_TRACKED = 500;

const HEALTH_FLAGS: Record<string, string> = {
  pending: '/failed_active_hc/pending_active_hc',
  healthy: 'healthy',
  unhealthy: '/failed_active_hc',
  ejected: '/failed_outlier_check',
  unhealthy_ejected: '/failed_active_hc/failed_outlier_check',
};

interface PoolAcc extends PoolTallies {
  worker: number;
  actor: string;
  clients: Map<number, ClientState>;
  /** upstream request actor -> stream, while it waits in the pending queue */
  pending: Map<string, number>;
}

interface HostAcc {
  host: string;
  health?: HostHealthState;
  removed: boolean;
  lastEjection?: Ejection;
  lastUnejection?: Unejection;
  skipped: SkippedEjection[];
  ejections: number;
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  probes: Probe[];
  probesTotal: number;
  probesPassed: number;
  /** consecutive probe results of one kind since the last state change (the chart's counters) */
  hcRun: { passed: boolean; count: number };
  pools: Map<number, PoolAcc>;
  served: ServedRequest[];
  servedTotal: number;
  servedByActor: Map<string, ServedRequest>;
  /** attempts whose outcome already went to the outlier counters */
  reported: Set<string>;
  servedFailed: number;
}

/** The cluster-wide part: counts behind the circuit breakers and the panic decision. */
export interface ClusterCounts {
  /** retry actor -> state, for the ones holding the retry resource (backoff, retrying) */
  retries: Map<string, RetryState>;
  /** picks made in panic mode (lb.host_selected whose reason says so) */
  panicPicks: number;
  lastPick?: { t: number; host: string; reason: string };
  noHost: number;
  /** the hosts a DNS answer said the cluster has now, when one did */
  dnsHosts?: string[];
}

/**
 * One cluster's fold. `apply` takes events in store order; `hostAt` and `hosts` read it.
 * Every event of another cluster is skipped after reading its ids, so a fold over a long
 * trace stays cheap.
 */
export class ClusterFold {
  index = -1;
  seq = 0;
  t = 0;
  readonly hosts = new Map<string, HostAcc>();
  readonly counts: ClusterCounts = { retries: new Map(), panicPicks: 0, noHost: 0 };
  /** any host_health actor: the cluster has health checks or outlier detection */
  hasHealthActors = false;

  constructor(
    readonly cluster: string,
    readonly config: TopologyCluster | undefined,
  ) {
    for (const h of config?.hosts ?? []) this.hostOf(h);
  }

  hostOf(host: string): HostAcc {
    let h = this.hosts.get(host);
    if (!h) {
      h = {
        host,
        removed: false,
        skipped: [],
        ejections: 0,
        consecutive5xx: 0,
        consecutiveGatewayFailure: 0,
        probes: [],
        probesTotal: 0,
        probesPassed: 0,
        hcRun: { passed: true, count: 0 },
        pools: new Map(),
        served: [],
        servedTotal: 0,
        servedByActor: new Map(),
        reported: new Set(),
        servedFailed: 0,
      };
      this.hosts.set(host, h);
    }
    return h;
  }

  private poolOf(h: HostAcc, e: TraceEvent): PoolAcc {
    const worker = e.ids.worker ?? 0;
    let p = h.pools.get(worker);
    if (!p) {
      p = { worker, actor: `worker:${worker}/pool:${this.cluster}/${h.host}`, clients: new Map(), pending: new Map(), pendingOverflows: 0, connectionOverflows: 0, connectFailures: 0 };
      h.pools.set(worker, p);
    }
    if (e.machine === 'pool') p.actor = e.actor;
    return p;
  }

  /** Applies one event (one of another cluster is ignored); the tracker keeps `index`, `seq` and `t`. */
  apply(e: TraceEvent): void {
    // the router's actor has no cluster id: its picks name the cluster in their data
    if (e.ids.cluster !== this.cluster && !(e.machine === 'router' && e.type === 'fact' && e.data.cluster === this.cluster)) return;
    switch (e.machine) {
      case 'host_health':
        return this.applyHealth(e);
      case 'pool':
        return this.applyPool(e);
      case 'client': {
        if (e.ids.host === undefined || e.ids.ucx === undefined) return;
        const p = this.poolOf(this.hostOf(e.ids.host), e);
        if (e.type === 'spawn') p.clients.set(e.ids.ucx, e.state as ClientState);
        else if (e.type === 'transition') p.clients.set(e.ids.ucx, e.to as ClientState);
        else if (e.type === 'stop') p.clients.delete(e.ids.ucx);
        return;
      }
      case 'upstream_request':
        return this.applyAttempt(e);
      case 'retry':
        if (e.type === 'transition' || e.type === 'spawn') {
          const state = (e.type === 'spawn' ? e.state : e.to) as RetryState;
          // RetryStateImpl holds the cluster's retry resource while a retry is armed or in flight.
          if (state === 'backoff' || state === 'retrying') this.counts.retries.set(e.actor, state);
          else this.counts.retries.delete(e.actor);
        } else if (e.type === 'stop') this.counts.retries.delete(e.actor);
        return;
      case 'router':
        if (e.type !== 'fact') return;
        if (e.fact === 'lb.host_selected' && typeof e.data.host === 'string') {
          const reason = String(e.data.reason ?? '');
          if (reason.includes('panic mode')) this.counts.panicPicks++;
          this.counts.lastPick = { t: e.t, host: e.data.host, reason };
        } else if (e.fact === 'lb.no_host') this.counts.noHost++;
        return;
      case 'dns_resolution':
        if (e.type === 'fact' && e.fact === 'cluster.hosts_changed') {
          for (const host of (e.data.removed as string[] | undefined) ?? []) this.hostOf(host).removed = true;
          for (const host of (e.data.added as string[] | undefined) ?? []) this.hostOf(host).removed = false;
          if (Array.isArray(e.data.hosts)) this.counts.dnsHosts = e.data.hosts as string[];
        }
        return;
    }
  }

  private applyHealth(e: TraceEvent): void {
    if (!e.ids.host) return;
    const h = this.hostOf(e.ids.host);
    this.hasHealthActors = true;
    if (e.type === 'spawn') h.health = e.state as HostHealthState;
    else if (e.type === 'transition') {
      // a state change resets the chart's counters (resetCounts)
      if (e.from !== e.to) h.hcRun = { passed: true, count: 0 };
      h.health = e.to as HostHealthState;
    } else if (e.type === 'fact') {
      const d = e.data;
      if (e.fact === 'host.ejected') {
        h.ejections++;
        h.lastEjection = {
          t: e.t,
          type: String(d.type),
          consecutive: num(d.consecutive),
          threshold: num(d.threshold),
          ejectionMs: num(d.ejectionMs) ?? 0,
          timesEjected: num(d.timesEjected) ?? h.ejections,
          ejectionsActive: num(d.ejectionsActive),
          hosts: num(d.hosts),
          intervalMs: num(d.intervalMs),
        };
        // onConsecutiveErrorWorker resets the counter that tripped
        if (d.type === 'consecutive_5xx') h.consecutive5xx = 0;
        else h.consecutiveGatewayFailure = 0;
      } else if (e.fact === 'host.ejection_skipped') {
        const reason = String(d.reason);
        const detail =
          reason === 'max_ejection_percent'
            ? `${fmtPercent(num(d.ejectedPercent))} of hosts already ejected, max_ejection_percent ${num(d.maxEjectionPercent) ?? '?'}%`
            : reason === 'not_enforced'
              ? `enforcing ${num(d.enforcingPercent) ?? '?'}%: the roll said no`
              : reason;
        h.skipped.push({ t: e.t, type: String(d.type), reason, consecutive: num(d.consecutive), threshold: num(d.threshold), detail });
        if (h.skipped.length > 5) h.skipped.shift();
        if (d.type === 'consecutive_5xx') h.consecutive5xx = 0;
        else h.consecutiveGatewayFailure = 0;
      } else if (e.fact === 'host.unejected') {
        h.lastUnejection = { t: e.t, reason: String(d.reason), ejectedForMs: num(d.ejectedForMs) };
        h.consecutive5xx = 0;
        h.consecutiveGatewayFailure = 0;
      } else if (e.fact === 'host.health_check') {
        const passed = d.result === 'success';
        const probe: Probe = {
          t: e.t,
          passed,
          status: num(d.status),
          latencyMs: num(d.latencyMs),
          kind: d.kind === 'active' || d.kind === 'network' ? d.kind : undefined,
          reason: typeof d.reason === 'string' ? d.reason : undefined,
          firstCheck: d.firstCheck === true,
          stateBefore: typeof d.state === 'string' ? d.state : undefined,
        };
        h.probes.unshift(probe);
        if (h.probes.length > PROBES_KEPT) h.probes.pop();
        h.probesTotal++;
        if (passed) h.probesPassed++;
        h.hcRun = h.hcRun.passed === passed ? { passed, count: h.hcRun.count + 1 } : { passed, count: 1 };
      }
    }
  }

  private applyPool(e: TraceEvent): void {
    if (!e.ids.host || e.type !== 'fact') return;
    const h = this.hostOf(e.ids.host);
    const p = this.poolOf(h, e);
    const d = e.data;
    if (e.fact === 'pool.decision') {
      const decision = String(d.decision);
      p.lastDecision = { t: e.t, decision, why: typeof d.why === 'string' ? d.why : undefined };
      if (decision === 'overflow' || decision === 'connection_overflow') {
        if (decision === 'overflow') p.pendingOverflows++;
        else p.connectionOverflows++;
        // A request refused by max_pending_requests never joined the queue, though its
        // attempt was spawned waiting for the pool (newStream decides after the spawn).
        if (d.limit === 'max_pending_requests') {
          const refused = [...p.pending.keys()].at(-1);
          if (refused !== undefined) p.pending.delete(refused);
        }
        p.lastOverflow = { t: e.t, decision, limit: typeof d.limit === 'string' ? d.limit : undefined, max: num(d.max) };
      }
    } else if (e.fact === 'pool.connect_failure') {
      p.connectFailures++;
      p.lastConnectFailure = { t: e.t, reason: String(d.reason), detail: typeof d.detail === 'string' ? d.detail : undefined };
    }
  }

  private applyAttempt(e: TraceEvent): void {
    const hostKey = e.ids.host;
    const stream = e.ids.stream;
    if (!hostKey || stream === undefined) return;
    const h = this.hostOf(hostKey);
    let r = h.servedByActor.get(e.actor);
    if (e.type === 'spawn') {
      const m = /\/upstream:(\d+)$/.exec(e.actor);
      r = { stream, attempt: m ? Number(m[1]) : 1, actor: e.actor, t: e.t, state: e.state, shadow: e.actor.includes('/shadow:') };
      h.servedByActor.set(e.actor, r);
      h.served.push(r);
      h.servedTotal++;
      // a long live run must not grow this without bound: the oldest attempts are let go
      if (h.served.length > SERVED_TRACKED) {
        const old = h.served.shift()!;
        h.servedByActor.delete(old.actor);
        h.reported.delete(old.actor);
      }
      if ((e.state as UpstreamRequestState) === 'pending_pool') this.poolOf(h, e).pending.set(e.actor, stream);
      return;
    }
    if (!r) return;
    if (e.type === 'transition') {
      r.state = e.to;
      const from = e.from as UpstreamRequestState;
      const to = e.to as UpstreamRequestState;
      if (from === 'pending_pool') this.poolOf(h, e).pending.delete(e.actor);
      if (to === 'failed' && r.status === undefined && r.reset === undefined) r.reset = from === 'pending_pool' ? 'pool failure' : 'failed';
      if (to === 'failed') this.report(h, r, 503);
    } else if (e.type === 'fact') {
      if (e.fact === 'upstream.response_headers' && typeof e.data.status === 'number') {
        r.status = e.data.status;
        this.report(h, r, e.data.status);
      } else if (e.fact === 'upstream.reset') {
        r.reset = String(e.data.reason ?? 'reset');
        this.report(h, r, /timeout/i.test(r.reset) ? 504 : 503);
      }
    } else if (e.type === 'stop') {
      r.state = e.state;
      r.endT = e.t;
      for (const p of h.pools.values()) p.pending.delete(e.actor);
    }
  }

  /** DetectorHostMonitorImpl::putHttpResponseCode, once per attempt (a local-origin failure counts as 503/504). */
  private report(h: HostAcc, r: ServedRequest, code: number): void {
    if (h.reported.has(r.actor) || r.shadow) return;
    h.reported.add(r.actor);
    if (code >= 500) h.servedFailed++;
    if (code < 500 || code > 599) {
      h.consecutive5xx = 0;
      h.consecutiveGatewayFailure = 0;
      return;
    }
    if (code === 502 || code === 503 || code === 504) h.consecutiveGatewayFailure++;
    else h.consecutiveGatewayFailure = 0;
    h.consecutive5xx++;
  }

  /** The host as of the last event applied. */
  hostAt(host: string): HostDetail | undefined {
    const h = this.hosts.get(host);
    if (!h) return undefined;
    const cfg = this.config;
    const health = h.health;
    const ejected = health === 'ejected' || health === 'unhealthy_ejected';
    const failedActiveHc = health === 'pending' || health === 'unhealthy' || health === 'unhealthy_ejected';
    const last = h.lastEjection;
    let ejectionEndsT: number | undefined;
    let expectedUnejectT: number | undefined;
    if (ejected && last) {
      ejectionEndsT = last.t + last.ejectionMs;
      const interval = last.intervalMs ?? cfg?.outlierDetection?.intervalMs;
      // The detector's timer is armed at start and re-armed at each tick, so its ticks fall
      // on multiples of the interval from t = 0 (to within the engine's start).
      expectedUnejectT = interval ? Math.ceil(ejectionEndsT / interval - 1e-9) * interval : ejectionEndsT;
    }
    const hc = cfg?.healthCheck;
    let toward: HostDetail['activeHc']['toward'];
    if (hc && health !== undefined && h.probesTotal > 0) {
      // the host-health chart: while failed_active_hc, passes count toward healthy_threshold;
      // otherwise network failures count toward unhealthy_threshold
      if (failedActiveHc && health !== 'pending') toward = { state: 'healthy', count: h.hcRun.passed ? h.hcRun.count : 0, threshold: hc.healthyThreshold };
      else if (!failedActiveHc) toward = { state: 'unhealthy', count: h.hcRun.passed ? 0 : h.hcRun.count, threshold: hc.unhealthyThreshold };
    }
    const pools = [...h.pools.values()]
      .sort((a, b) => a.worker - b.worker)
      .map((p): PoolDetail => {
        const by = (...states: ClientState[]) => [...p.clients].filter(([, s]) => states.includes(s)).map(([ucx]) => ucx).sort((a, b) => a - b);
        return {
          worker: p.worker,
          actor: p.actor,
          // a client in its TLS handshake is still connecting, as the pool counts it
          connecting: by('connecting', 'handshaking'),
          ready: by('ready'),
          busy: by('busy'),
          draining: by('draining'),
          pending: [...p.pending.values()],
          pendingOverflows: p.pendingOverflows,
          connectionOverflows: p.connectionOverflows,
          lastOverflow: p.lastOverflow,
          connectFailures: p.connectFailures,
          lastConnectFailure: p.lastConnectFailure,
          lastDecision: p.lastDecision,
        };
      });
    return {
      cluster: this.cluster,
      host,
      hostname: cfg?.hostnames?.[host],
      weight: cfg?.weights?.[host],
      health,
      healthFlags: health !== undefined ? (HEALTH_FLAGS[health] ?? health) : 'healthy',
      removed: h.removed,
      healthy: !h.removed && (health === undefined || health === 'healthy'),
      ejected,
      failedActiveHc,
      outlier: {
        configured: cfg?.outlierDetection !== undefined || h.ejections > 0,
        last,
        ejectionEndsT,
        expectedUnejectT,
        lastUnejection: h.lastUnejection,
        skipped: [...h.skipped].reverse(),
        ejections: h.ejections,
        consecutive5xx: h.consecutive5xx,
        consecutiveGatewayFailure: h.consecutiveGatewayFailure,
      },
      activeHc: {
        configured: hc !== undefined || h.probesTotal > 0,
        probes: [...h.probes],
        total: h.probesTotal,
        passed: h.probesPassed,
        failed: h.probesTotal - h.probesPassed,
        toward,
      },
      pools,
      served: h.served.slice(-SERVED_KEPT).reverse().map((r) => ({ ...r })),
      servedTotal: h.servedTotal,
      servedFailed: h.servedFailed,
    };
  }
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function fmtPercent(v: number | undefined): string {
  return v === undefined ? '?' : `${Math.round(v)}%`;
}

/** The topology's entry for a cluster. */
export function clusterConfig(store: Pick<EventStore, 'topology'>, cluster: string): TopologyCluster | undefined {
  return store.topology?.clusters.find((c) => c.name === cluster);
}

/**
 * Keeps one fold per cluster and moves it with the cursor: forward moves apply only the new
 * events; a move back folds again from the start.
 */
export class ClusterTracker {
  private store: EventStore | null = null;
  private topology: unknown = null;
  private readonly folds = new Map<string, ClusterFold>();

  at(store: EventStore, cursor: number, cluster: string): ClusterFold {
    if (this.store !== store || this.topology !== store.topology) {
      this.store = store;
      this.topology = store.topology;
      this.folds.clear();
    }
    const last = Math.min(cursor, store.length - 1);
    let fold = this.folds.get(cluster);
    const stale = fold && (fold.index > last || (fold.index >= 0 && (fold.index >= store.length || store.get(fold.index).seq !== fold.seq)));
    if (!fold || stale) {
      fold = new ClusterFold(cluster, clusterConfig(store, cluster));
      this.folds.set(cluster, fold);
    }
    // The store's columns give an event's ids without building the event: most are skipped.
    const columns = store as Partial<{ idsAt(i: number): CorrelationIds; factAt(i: number): string | undefined }>;
    const fast = columns.idsAt && columns.factAt ? { idsAt: columns.idsAt.bind(store), factAt: columns.factAt.bind(store) } : undefined;
    for (let i = fold.index + 1; i <= last; i++) {
      if (!fast || fast.idsAt(i).cluster === cluster || LB_FACTS.has(fast.factAt(i) ?? '')) fold.apply(store.get(i));
    }
    if (last > fold.index) {
      const e = store.get(last);
      fold.index = last;
      fold.seq = e.seq;
      fold.t = e.t;
    }
    return fold;
  }
}

/** A host as of the cursor (undefined: the cluster has no such host yet). */
export function hostStateAt(store: EventStore, cursor: number, cluster: string, host: string, tracker = new ClusterTracker()): HostDetail | undefined {
  return tracker.at(store, cursor, cluster).hostAt(host);
}
