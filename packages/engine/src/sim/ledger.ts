import { build, type Histogram as Hdr } from 'hdr-histogram-js';
import type { StreamInfo } from '../http/stream-info';
import { formatResponseFlags } from '../stats/response-flags';
import type { ClientOutcome, ClientResult } from './traffic';
import type { Expectation, LabelledExpectation, RequestFilter } from './scenario-types';

/**
 * What a run did, request by request, kept in bounded memory: every request is joined
 * (client's view: outcome and latency; engine's view: status, response flags, cluster,
 * host, attempts) and folded into counters and HDR histograms, then dropped. Only the
 * requests an expectation names are kept whole.
 */

export interface RequestRecord {
  id: number;
  source: string;
  sentAt: number;
  outcome: ClientOutcome;
  /** the status the client got; 0 for no response */
  status: number;
  latencyMs: number;
  flags: string[];
  cluster: string;
  /** display name of the host that served the last attempt ('' = none) */
  host: string;
  attempts: number;
  route: string;
}

interface EngineView {
  status: number;
  flags: string[];
  cluster: string;
  host: string;
  attempts: number;
  route: string;
}

/** Latency in µs, 3 significant digits: p99 within 0.1% whatever the count. */
function histogram(): Hdr {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 2, autoResize: true, numberOfSignificantValueDigits: 3, bitBucketSize: 32, useWebAssembly: false });
}

export class LatencyStats {
  private readonly hdr = histogram();
  count = 0;

  record(ms: number): void {
    this.count++;
    this.hdr.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  /** q in [0, 1]; ms; NaN when empty */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    // An HDR bucket reports its highest equivalent value; no quantile is above the largest value seen.
    const max = this.hdr.maxValue;
    return round3((q >= 1 ? max : Math.min(max, this.hdr.getValueAtPercentile(q * 100))) / 1000);
  }

  summary(): { count: number; mean: number; p50: number; p90: number; p99: number; max: number } {
    return {
      count: this.count,
      mean: this.count ? round3(this.hdr.mean / 1000) : NaN,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      max: this.quantile(1),
    };
  }
}

export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export function statusClass(status: number): string {
  return status > 0 ? `${Math.floor(status / 100)}xx` : 'none';
}

export function matches(filter: RequestFilter | undefined, r: RequestRecord): boolean {
  if (!filter) return true;
  if (filter.status !== undefined && r.status !== filter.status) return false;
  if (filter.statusClass !== undefined && statusClass(r.status) !== filter.statusClass) return false;
  if (filter.flag !== undefined && !r.flags.includes(filter.flag)) return false;
  if (filter.cluster !== undefined && r.cluster !== filter.cluster) return false;
  if (filter.source !== undefined && r.source !== filter.source) return false;
  if (filter.host !== undefined && (r.host !== filter.host || !servedBy(r))) return false;
  if (filter.sentAfter !== undefined && r.sentAt < filter.sentAfter) return false;
  if (filter.sentBefore !== undefined && r.sentAt >= filter.sentBefore) return false;
  return true;
}

export interface Group {
  requests: number;
  byStatusClass: Record<string, number>;
  byStatus: Record<string, number>;
  byOutcome: Record<string, number>;
  byFlag: Record<string, number>;
  latency: LatencyStats;
}

function group(): Group {
  return { requests: 0, byStatusClass: {}, byStatus: {}, byOutcome: {}, byFlag: {}, latency: new LatencyStats() };
}

function add(g: Group, r: RequestRecord): void {
  g.requests++;
  bump(g.byStatusClass, statusClass(r.status));
  if (r.status > 0) bump(g.byStatus, String(r.status));
  bump(g.byOutcome, r.outcome);
  for (const flag of r.flags) bump(g.byFlag, flag);
  if (r.outcome === 'response') g.latency.record(r.latencyMs);
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export interface SecondBucket {
  t: number;
  sent: number;
  completed: number;
  byStatusClass: Record<string, number>;
  noResponse: number;
  latencySum: number;
  latencyMax: number;
}

/** One expectation's running count or histogram, fed as requests complete. */
interface Probe {
  where?: RequestFilter;
  of?: RequestFilter;
  hits: number;
  total: number;
  latency?: LatencyStats;
}

/**
 * Flags that mean the host the balancer picked did not answer the last attempt (the pool
 * overflowed, the connect failed, it timed out or reset): %UPSTREAM_HOST% still names it,
 * but it did not serve the request.
 */
const NOT_SERVED = new Set(['UO', 'UF', 'UH', 'UT', 'UC', 'UR', 'DC', 'UMSDR']);

/** The request's host answered its last attempt. */
function servedBy(r: RequestRecord): boolean {
  return r.host !== '' && !r.flags.some((f) => NOT_SERVED.has(f));
}

export class Ledger {
  readonly all = group();
  readonly clusters = new Map<string, Group>();
  /** host display name -> requests whose last attempt it served */
  readonly servedBy = new Map<string, number>();
  readonly seconds: SecondBucket[] = [];
  /** the requests an expectation names, kept whole */
  readonly kept = new Map<number, RequestRecord>();
  private readonly keep: Set<number>;
  readonly probes: Probe[];
  private readonly client = new Map<number, ClientResult>();
  private readonly engine = new Map<number, EngineView>();
  sent = 0;

  constructor(
    expectations: readonly LabelledExpectation[],
    /** `address:port` -> the name a user knows the host by */
    private readonly hostName: (key: string) => string,
    private readonly series: boolean,
  ) {
    this.keep = new Set(expectations.flatMap(({ expectation: e }) => (e.kind === 'request' ? [e.index] : [])));
    this.probes = expectations.map(({ expectation: e }) => probeFor(e));
  }

  onSent(at: number): void {
    this.sent++;
    if (this.series) this.second(at).sent++;
  }

  /** the engine finished a stream (the access log's view) */
  onStream(info: StreamInfo, id: number | undefined): void {
    if (id === undefined) return;
    const view: EngineView = {
      status: info.responseCode,
      flags: info.responseFlags.size ? formatResponseFlags(info.responseFlags).split(',') : [],
      cluster: info.upstreamCluster ?? '',
      host: info.upstreamHost ? this.hostName(info.upstreamHost) : '',
      attempts: info.attemptCount,
      route: info.routeName ?? '',
    };
    const client = this.client.get(id);
    if (client) {
      this.client.delete(id);
      this.fold(client, view);
    } else {
      this.engine.set(id, view);
    }
  }

  /** the client is done with a request */
  onClient(result: ClientResult): void {
    const view = this.engine.get(result.id);
    if (view) {
      this.engine.delete(result.id);
      this.fold(result, view);
    } else if (result.outcome === 'refused') {
      this.fold(result, undefined);
    } else {
      // The engine reports when its stream ends, which may be after the client gave up.
      this.client.set(result.id, result);
    }
  }

  /** At the end: requests the engine never reported (their connection never made a stream). */
  flush(): void {
    for (const result of this.client.values()) this.fold(result, undefined);
    this.client.clear();
    this.engine.clear();
  }

  get inFlightJoins(): number {
    return this.client.size + this.engine.size;
  }

  private fold(client: ClientResult, view: EngineView | undefined): void {
    const r: RequestRecord = {
      id: client.id,
      source: client.source,
      sentAt: client.sentAt,
      outcome: client.outcome,
      status: client.outcome === 'response' ? client.status : 0,
      latencyMs: round3(client.latencyMs),
      flags: view?.flags ?? [],
      cluster: view?.cluster ?? '',
      host: view?.host ?? '',
      attempts: view?.attempts ?? 0,
      route: view?.route ?? '',
    };
    add(this.all, r);
    if (r.cluster) {
      let g = this.clusters.get(r.cluster);
      if (!g) this.clusters.set(r.cluster, (g = group()));
      add(g, r);
    }
    if (servedBy(r)) this.servedBy.set(r.host, (this.servedBy.get(r.host) ?? 0) + 1);
    if (this.keep.has(r.id)) this.kept.set(r.id, r);
    for (const probe of this.probes) {
      if (probe.of && !matches(probe.of, r)) continue;
      probe.total++;
      if (!matches(probe.where, r)) continue;
      probe.hits++;
      if (r.outcome === 'response') probe.latency?.record(r.latencyMs);
    }
    if (this.series) {
      const s = this.second(client.sentAt + client.latencyMs);
      s.completed++;
      if (r.status > 0) bump(s.byStatusClass, statusClass(r.status));
      else s.noResponse++;
      if (r.outcome === 'response') {
        s.latencySum += r.latencyMs;
        if (r.latencyMs > s.latencyMax) s.latencyMax = r.latencyMs;
      }
    }
  }

  private second(at: number): SecondBucket {
    const index = Math.max(0, Math.floor(at / 1000));
    while (this.seconds.length <= index) {
      this.seconds.push({ t: this.seconds.length, sent: 0, completed: 0, byStatusClass: {}, noResponse: 0, latencySum: 0, latencyMax: 0 });
    }
    return this.seconds[index]!;
  }
}

function probeFor(e: Expectation): Probe {
  switch (e.kind) {
    case 'share':
      return { where: e.where, ...(e.of && { of: e.of }), hits: 0, total: 0 };
    case 'count':
      return { where: e.where, hits: 0, total: 0 };
    case 'latency':
      return { ...(e.where && { where: e.where }), hits: 0, total: 0, latency: new LatencyStats() };
    default:
      return { where: { status: -1 }, hits: 0, total: 0 };
  }
}
