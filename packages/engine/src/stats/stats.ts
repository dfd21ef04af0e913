/**
 * Envoy-style stats: counters, gauges and histograms with full Envoy names
 * (`cluster.backend.upstream_rq_total`), plus the admin renderers for `/stats`,
 * `/stats?format=json` and `/stats/prometheus`.
 *
 * Hot-path contract: look a stat up ONCE (when a listener, cluster or host is built) and
 * keep the returned object. `inc()`, `set()` and `record()` then touch only that object;
 * the name lookup (a Map get, and an allocation the first time) never runs per request.
 *
 * ```ts
 * const rqTotal = store.counter('cluster.backend.upstream_rq_total'); // at cluster build
 * rqTotal.inc();                                                     // per request
 * ```
 *
 * Renderers are pure functions of a store or of a `snapshot()`, so a snapshot can also be
 * shipped elsewhere (e.g. to the browser) and rendered there.
 */

/** Envoy's default histogram bucket bounds, in ms (`HistogramSettingsImpl::defaultBuckets`). */
export const SUPPORTED_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
  1800000, 3600000,
];

/** The quantiles Envoy reports for every histogram, as fractions. */
export const SUPPORTED_QUANTILES: readonly number[] = [
  0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1,
];

/** `P0`, `P25`, ... written out once: `100 * 0.995` is not exactly 99.5 in floating point. */
const QUANTILE_LABELS: readonly string[] = ['0', '25', '50', '75', '90', '95', '99', '99.5', '99.9', '100'];
const QUANTILE_PERCENTS: readonly number[] = QUANTILE_LABELS.map(Number);

export class Counter {
  private count = 0;
  private touched = false;

  constructor(readonly name: string) {}

  inc(n = 1): void {
    this.count += n;
    this.touched = true;
  }

  get value(): number {
    return this.count;
  }

  /** Envoy's `used()`: written at least once; `?usedonly` hides the others. */
  get used(): boolean {
    return this.touched;
  }

  /** For `/reset_counters`. Envoy keeps the used flag, so the stat stays visible. */
  reset(): void {
    this.count = 0;
  }
}

export class Gauge {
  private current = 0;
  private touched = false;

  constructor(readonly name: string) {}

  inc(n = 1): void {
    this.current += n;
    this.touched = true;
  }

  /** No clamping at 0: a negative gauge in `/stats` exposes an unbalanced inc/dec. */
  dec(n = 1): void {
    this.current -= n;
    this.touched = true;
  }

  set(value: number): void {
    this.current = value;
    this.touched = true;
  }

  get value(): number {
    return this.current;
  }

  get used(): boolean {
    return this.touched;
  }
}

/** Summary of one set of recorded values, as the admin endpoints show it. */
export interface HistogramStatistics {
  count: number;
  /** sum of recorded values, ms */
  sum: number;
  /** aligned with SUPPORTED_QUANTILES; NaN when nothing was recorded (Envoy prints `nan`) */
  quantiles: number[];
  /** aligned with SUPPORTED_BUCKETS: how many values were <= each bound (Prometheus `le`) */
  buckets: number[];
}

/**
 * Bucket counts for one span of time. Memory is fixed: one slot per supported bound plus an
 * overflow slot, whatever the number of recorded values.
 */
class BucketSet {
  readonly counts = new Float64Array(SUPPORTED_BUCKETS.length + 1);
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  add(index: number, value: number): void {
    this.counts[index]! += 1;
    this.count += 1;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  addAll(other: BucketSet): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  clear(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }

  statistics(): HistogramStatistics {
    return {
      count: this.count,
      sum: round3(this.sum),
      quantiles: SUPPORTED_QUANTILES.map((q) => this.quantile(q)),
      buckets: this.cumulativeCounts(),
    };
  }

  private cumulativeCounts(): number[] {
    const out: number[] = [];
    let running = 0;
    for (let i = 0; i < SUPPORTED_BUCKETS.length; i++) {
      running += this.counts[i]!;
      out.push(running);
    }
    return out;
  }

  /**
   * Walk the buckets to the one holding rank `q * count`, then interpolate linearly inside
   * it. Bucket edges are narrowed to the observed min/max, so P0 and P100 are exact and the
   * open-ended overflow bucket gets a finite upper edge.
   */
  private quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = q * this.count;
    let below = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const n = this.counts[i]!;
      if (n === 0) continue;
      if (below + n >= rank) {
        const lower = Math.max(i === 0 ? 0 : SUPPORTED_BUCKETS[i - 1]!, this.min);
        const upper = Math.min(i < SUPPORTED_BUCKETS.length ? SUPPORTED_BUCKETS[i]! : Infinity, this.max);
        return round3(lower + ((upper - lower) * (rank - below)) / n);
      }
      below += n;
    }
    return round3(this.max);
  }
}

/** Index of the first bound >= value; values above every bound land in the overflow slot. */
function bucketIndex(value: number): number {
  let i = 0;
  while (i < SUPPORTED_BUCKETS.length && value > SUPPORTED_BUCKETS[i]!) i++;
  return i;
}

/** Microsecond resolution is plenty for ms timings and keeps float noise out of the output. */
function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * Envoy reports two views of every histogram: `interval` (values from the last completed
 * flush interval) and `cumulative` (everything since start). Envoy latches both at each
 * stats flush; here cumulative is live so a single request shows up at once, and interval
 * moves only when the host calls `StatsStore.mergeHistograms()` on its flush timer.
 */
export class Histogram {
  private readonly pending = new BucketSet();
  private readonly lastInterval = new BucketSet();
  private readonly total = new BucketSet();
  private touched = false;

  constructor(readonly name: string) {}

  /** Record one value in ms. Non-finite values are dropped; negatives count as 0. */
  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const value = ms < 0 ? 0 : ms;
    const index = bucketIndex(value);
    this.pending.add(index, value);
    this.total.add(index, value);
    this.touched = true;
  }

  get used(): boolean {
    return this.touched;
  }

  /** Close the current interval: what was recorded since the last merge becomes `interval`. */
  merge(): void {
    this.lastInterval.clear();
    this.lastInterval.addAll(this.pending);
    this.pending.clear();
  }

  intervalStatistics(): HistogramStatistics {
    return this.lastInterval.statistics();
  }

  cumulativeStatistics(): HistogramStatistics {
    return this.total.statistics();
  }
}

export interface NumericStat {
  name: string;
  value: number;
  used: boolean;
}

export interface HistogramSnapshot {
  name: string;
  used: boolean;
  interval: HistogramStatistics;
  cumulative: HistogramStatistics;
}

/** Every stat, each list sorted by name (byte order, as Envoy sorts). */
export interface StatsSnapshot {
  counters: NumericStat[];
  gauges: NumericStat[];
  histograms: HistogramSnapshot[];
}

export class StatsStore {
  private readonly counters = new Map<string, Counter>();
  private readonly gauges = new Map<string, Gauge>();
  private readonly histograms = new Map<string, Histogram>();

  /** Find or create. Call at setup time and keep the result (see the file comment). */
  counter(name: string): Counter {
    let stat = this.counters.get(name);
    if (!stat) {
      stat = new Counter(name);
      this.counters.set(name, stat);
    }
    return stat;
  }

  gauge(name: string): Gauge {
    let stat = this.gauges.get(name);
    if (!stat) {
      stat = new Gauge(name);
      this.gauges.set(name, stat);
    }
    return stat;
  }

  histogram(name: string): Histogram {
    let stat = this.histograms.get(name);
    if (!stat) {
      stat = new Histogram(name);
      this.histograms.set(name, stat);
    }
    return stat;
  }

  /** Read a counter or gauge without creating it (tests, admin). */
  valueOf(name: string): number | undefined {
    return (this.counters.get(name) ?? this.gauges.get(name))?.value;
  }

  /** Envoy's periodic stats flush (5 s by default): closes every histogram's interval. */
  mergeHistograms(): void {
    for (const h of this.histograms.values()) h.merge();
  }

  /** `POST /reset_counters`: zero every counter; gauges and histograms are untouched. */
  resetCounters(): void {
    for (const c of this.counters.values()) c.reset();
  }

  snapshot(): StatsSnapshot {
    const numeric = (s: Counter | Gauge): NumericStat => ({ name: s.name, value: s.value, used: s.used });
    return {
      counters: sortByName([...this.counters.values()].map(numeric)),
      gauges: sortByName([...this.gauges.values()].map(numeric)),
      histograms: sortByName(
        [...this.histograms.values()].map((h) => ({
          name: h.name,
          used: h.used,
          interval: h.intervalStatistics(),
          cumulative: h.cumulativeStatistics(),
        })),
      ),
    };
  }
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function sortByName<T extends { name: string }>(items: T[]): T[] {
  return items.sort(byName);
}

// ---------------------------------------------------------------------------------------
// Renderers

export interface StatsRenderOptions {
  /** `?filter=`: partial match, like Envoy's `std::regex_search`. */
  filter?: RegExp;
  /** `?usedonly`: hide stats never written. */
  usedOnly?: boolean;
  /** `?type=`: one kind only; absent means all. */
  type?: 'Counters' | 'Gauges' | 'Histograms';
}

type StatsSource = StatsStore | StatsSnapshot;

function toSnapshot(source: StatsSource): StatsSnapshot {
  return source instanceof StatsStore ? source.snapshot() : source;
}

/** `String.search` ignores `lastIndex`, so a /g or /y filter still behaves. */
function shown(stat: { name: string; used: boolean }, opts: StatsRenderOptions): boolean {
  if (opts.usedOnly && !stat.used) return false;
  return !opts.filter || stat.name.search(opts.filter) !== -1;
}

interface Selected {
  /** counters and gauges merged and sorted, as Envoy's "Counters and Gauges" phase does */
  numeric: NumericStat[];
  histograms: HistogramSnapshot[];
}

function select(source: StatsSource, opts: StatsRenderOptions): Selected {
  const snap = toSnapshot(source);
  const numeric: NumericStat[] = [];
  if (opts.type === undefined || opts.type === 'Counters') numeric.push(...snap.counters);
  if (opts.type === undefined || opts.type === 'Gauges') numeric.push(...snap.gauges);
  const histograms = opts.type === undefined || opts.type === 'Histograms' ? snap.histograms : [];
  return {
    numeric: numeric.filter((s) => shown(s, opts)).sort(byName),
    histograms: histograms.filter((h) => shown(h, opts)),
  };
}

/** fmt's `{}` for a double: shortest round-trip form, `nan` for NaN. */
function formatQuantile(value: number): string {
  return Number.isNaN(value) ? 'nan' : String(value);
}

/** `P0(interval,cumulative) P25(...) ...` (Envoy `ParentHistogramImpl::quantileSummary`). */
function quantileSummary(h: HistogramSnapshot): string {
  if (!h.used) return 'No recorded values';
  return QUANTILE_LABELS.map(
    (label, i) => `P${label}(${formatQuantile(h.interval.quantiles[i]!)},${formatQuantile(h.cumulative.quantiles[i]!)})`,
  ).join(' ');
}

/** `GET /stats`: `name: value` lines, counters and gauges by name, then histograms. */
export function renderStatsText(source: StatsSource, opts: StatsRenderOptions = {}): string {
  const { numeric, histograms } = select(source, opts);
  let out = '';
  for (const s of numeric) out += `${s.name}: ${s.value}\n`;
  for (const h of histograms) out += `${h.name}: ${quantileSummary(h)}\n`;
  return out;
}

export interface StatsJson {
  stats: Array<{ name: string; value: number } | { histograms: HistogramsJson }>;
}

export interface HistogramsJson {
  supported_quantiles: number[];
  computed_quantiles: Array<{
    name: string;
    values: Array<{ cumulative: number | null; interval: number | null }>;
  }>;
}

/** JSON has no NaN; Envoy's streamer writes `null`. */
function jsonNumber(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}

function histogramJson(h: HistogramSnapshot): HistogramsJson['computed_quantiles'][number] {
  return {
    name: h.name,
    values: SUPPORTED_QUANTILES.map((_, i) => ({
      cumulative: jsonNumber(h.cumulative.quantiles[i]!),
      interval: jsonNumber(h.interval.quantiles[i]!),
    })),
  };
}

/**
 * Object form of `GET /stats?format=json`. The histograms entry appears only when at least
 * one histogram is selected, and then last, as in Envoy.
 */
export function statsJson(source: StatsSource, opts: StatsRenderOptions = {}): StatsJson {
  const { numeric, histograms } = select(source, opts);
  const stats: StatsJson['stats'] = numeric.map((s) => ({ name: s.name, value: s.value }));
  if (histograms.length > 0) {
    stats.push({
      histograms: {
        supported_quantiles: [...QUANTILE_PERCENTS],
        computed_quantiles: histograms.map(histogramJson),
      },
    });
  }
  return { stats };
}

/** `GET /stats?format=json`, compact like Envoy's streamer. */
export function renderStatsJson(source: StatsSource, opts: StatsRenderOptions = {}): string {
  return JSON.stringify(statsJson(source, opts));
}

/** Prometheus allows `[a-zA-Z0-9_]`; Envoy replaces everything else with `_`. */
function prometheusName(statName: string): string {
  return `envoy_${statName.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

function prometheusHistogram(name: string, h: HistogramSnapshot): string {
  const stats = h.cumulative;
  let out = '';
  SUPPORTED_BUCKETS.forEach((bound, i) => {
    out += `${name}_bucket{le="${bound}"} ${stats.buckets[i]}\n`;
  });
  out += `${name}_bucket{le="+Inf"} ${stats.count}\n`;
  out += `${name}_sum{} ${stats.sum}\n`;
  out += `${name}_count{} ${stats.count}\n`;
  return out;
}

/**
 * `GET /stats/prometheus`: counters, then gauges, then histograms (cumulative buckets), each
 * metric as a `# TYPE` line, its samples and a blank line, like Envoy.
 *
 * Simplification: Envoy first runs tag extraction, so `cluster.backend.upstream_rq_total`
 * becomes `envoy_cluster_upstream_rq_total{envoy_cluster_name="backend"}`. This version does
 * not extract tags: the whole name becomes the metric name
 * (`envoy_cluster_backend_upstream_rq_total{} 5`), with Envoy's empty `{}` label set.
 */
export function renderStatsPrometheus(
  source: StatsSource,
  opts: Omit<StatsRenderOptions, 'type'> = {},
): string {
  const snap = toSnapshot(source);
  let out = '';
  const numericGroup = (stats: NumericStat[], type: 'counter' | 'gauge'): void => {
    for (const s of stats) {
      if (!shown(s, opts)) continue;
      const name = prometheusName(s.name);
      out += `# TYPE ${name} ${type}\n${name}{} ${s.value}\n\n`;
    }
  };
  numericGroup(snap.counters, 'counter');
  numericGroup(snap.gauges, 'gauge');
  for (const h of snap.histograms) {
    if (!shown(h, opts)) continue;
    const name = prometheusName(h.name);
    out += `# TYPE ${name} histogram\n${prometheusHistogram(name, h)}\n`;
  }
  return out;
}
