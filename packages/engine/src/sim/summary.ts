import type { ExpectationResult } from './expectations';
import { round3, type Group } from './ledger';
import type { Simulation } from './simulation';

/**
 * The summary of a run, as `proxyscope simulate` prints it and writes it with
 * `--summary` (docs/scenarios.md "The summary"). Key order is fixed and every list is
 * sorted, so the same run gives the same bytes.
 */

export interface LatencySummary {
  count: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface GroupSummary {
  requests: number;
  byStatusClass: Record<string, number>;
  byStatus: Record<string, number>;
  byOutcome: Record<string, number>;
  byFlag: Record<string, number>;
  /** client-side, ms, of requests that got a response */
  latencyMs: LatencySummary;
}

export interface HostSummary {
  name: string;
  clusters: string[];
  /** requests whose last attempt this host answered (the engine's %UPSTREAM_HOST%, unless the pool overflowed, the connect failed, or it timed out or reset) */
  served: number;
  /** what the host itself saw */
  received: number;
  connections: number;
  healthChecks: number;
  byStatus: Record<string, number>;
  resets: number;
  hangs: number;
  maxQueued: number;
  /** virtual ms of each ejection or health-check failure */
  failures: Array<{ at: number; reason: 'outlier' | 'health' }>;
}

export interface ClusterSummary extends GroupSummary {
  name: string;
  retries: number;
  /** pending-request and connection circuit-breaker overflows, and retry overflows */
  overflows: number;
  ejections: number;
}

export interface SecondSummary {
  t: number;
  sent: number;
  completed: number;
  byStatusClass: Record<string, number>;
  noResponse: number;
  meanLatencyMs: number | null;
  maxLatencyMs: number | null;
}

export interface SimulationSummary {
  scenario: string;
  seed: number;
  /** virtual ms the run lasted */
  virtualMs: number;
  /** events the scheduler fired */
  events: number;
  sent: number;
  all: GroupSummary;
  retries: number;
  overflows: number;
  ejections: number;
  clusters: ClusterSummary[];
  hosts: HostSummary[];
  series: SecondSummary[];
  expectations: ExpectationResult[];
  passed: boolean;
}

const num = (x: number): number | null => (Number.isNaN(x) ? null : x);

function sorted(record: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function groupSummary(g: Group): GroupSummary {
  const l = g.latency.summary();
  return {
    requests: g.requests,
    byStatusClass: sorted(g.byStatusClass),
    byStatus: sorted(g.byStatus),
    byOutcome: sorted(g.byOutcome),
    byFlag: sorted(g.byFlag),
    latencyMs: { count: l.count, mean: num(l.mean), p50: num(l.p50), p90: num(l.p90), p99: num(l.p99), max: num(l.max) },
  };
}

export function buildSummary(sim: Simulation, expectations: ExpectationResult[]): SimulationSummary {
  const { ledger, engine } = sim;
  const stat = (name: string): number => engine.stats.valueOf(name) ?? 0;
  const clusters: ClusterSummary[] = engine.config.static_resources.clusters.map((c) => {
    const p = `cluster.${c.name}.`;
    const g = ledger.clusters.get(c.name);
    const base = g
      ? groupSummary(g)
      : { requests: 0, byStatusClass: {}, byStatus: {}, byOutcome: {}, byFlag: {}, latencyMs: { count: 0, mean: null, p50: null, p90: null, p99: null, max: null } };
    return {
      name: c.name,
      ...base,
      retries: stat(`${p}upstream_rq_retry`),
      overflows: stat(`${p}upstream_rq_pending_overflow`) + stat(`${p}upstream_cx_overflow`) + stat(`${p}upstream_rq_retry_overflow`),
      ejections: stat(`${p}outlier_detection.ejections_enforced_total`),
    };
  });
  const hosts: HostSummary[] = sim.hosts.map((h) => ({
    name: h.name,
    clusters: [...h.clusters],
    served: ledger.servedBy.get(h.name) ?? 0,
    received: h.counts.requests,
    connections: h.counts.connections,
    healthChecks: h.counts.healthChecks,
    byStatus: sorted(Object.fromEntries([...h.counts.statuses].map(([s, n]) => [String(s), n]))),
    resets: h.counts.resets,
    hangs: h.counts.hangs,
    maxQueued: h.counts.maxQueued,
    failures: sim.failures.filter((f) => f.host === h.name).map((f) => ({ at: round3(f.at), reason: f.reason })),
  }));
  const series: SecondSummary[] = ledger.seconds.map((s) => ({
    t: s.t,
    sent: s.sent,
    completed: s.completed,
    byStatusClass: sorted(s.byStatusClass),
    noResponse: s.noResponse,
    meanLatencyMs: s.completed - s.noResponse > 0 ? round3(s.latencySum / (s.completed - s.noResponse)) : null,
    maxLatencyMs: s.completed - s.noResponse > 0 ? round3(s.latencyMax) : null,
  }));
  return {
    scenario: sim.options.scenario.name,
    seed: sim.seed,
    virtualMs: round3(sim.clock.now()),
    events: sim.clock.fired,
    sent: ledger.sent,
    all: groupSummary(ledger.all),
    retries: clusters.reduce((n, c) => n + c.retries, 0),
    overflows: clusters.reduce((n, c) => n + c.overflows, 0),
    ejections: clusters.reduce((n, c) => n + c.ejections, 0),
    clusters,
    hosts,
    series,
    expectations,
    passed: expectations.every((e) => e.pass),
  };
}

// ---------------------------------------------------------------------------------------
// Text

const ms = (x: number | null): string => (x === null ? '-' : `${x} ms`);

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record);
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(', ') : '-';
}

function latencyLine(l: LatencySummary): string {
  return `p50 ${ms(l.p50)}, p90 ${ms(l.p90)}, p99 ${ms(l.p99)}, max ${ms(l.max)}`;
}

/** The summary as `proxyscope simulate` prints it. */
export function formatSummary(s: SimulationSummary): string {
  const out: string[] = [];
  out.push(`scenario ${s.scenario}, seed ${s.seed}: ${s.sent} requests over ${round3(s.virtualMs / 1000)} s of virtual time (${s.events} events)`);
  out.push(`  status:    ${counts(s.all.byStatusClass)}`);
  const failed = Object.fromEntries(Object.entries(s.all.byOutcome).filter(([k]) => k !== 'response'));
  if (Object.keys(failed).length) out.push(`  no answer: ${counts(failed)}`);
  out.push(`  flags:     ${counts(s.all.byFlag)}`);
  out.push(`  latency:   ${latencyLine(s.all.latencyMs)}`);
  out.push(`  retries ${s.retries}, overflows ${s.overflows}, ejections ${s.ejections}`);
  out.push('');
  out.push('clusters');
  for (const c of s.clusters) {
    out.push(`  ${c.name}: ${c.requests} requests; ${counts(c.byStatusClass)}; flags ${counts(c.byFlag)}; retries ${c.retries}, overflows ${c.overflows}, ejections ${c.ejections}`);
    if (c.latencyMs.count > 0) out.push(`    latency ${latencyLine(c.latencyMs)}`);
  }
  out.push('');
  out.push('hosts');
  for (const h of s.hosts) {
    const failures = h.failures.length ? `; ${h.failures.map((f) => `${f.reason === 'outlier' ? 'ejected' : 'failed health check'} at ${round3(f.at / 1000)} s`).join(', ')}` : '';
    out.push(`  ${h.name} (${h.clusters.join(', ')}): served ${h.served}, received ${h.received}; ${counts(h.byStatus)}; ${h.connections} connections${h.resets ? `, ${h.resets} resets` : ''}${h.hangs ? `, ${h.hangs} hung` : ''}${h.maxQueued ? `, queue up to ${h.maxQueued}` : ''}${failures}`);
  }
  if (s.series.length) {
    out.push('');
    out.push('per second   sent  done   2xx   3xx   4xx   5xx  none   mean ms    max ms');
    for (const x of s.series) {
      const c = (k: string) => String(x.byStatusClass[k] ?? 0).padStart(5);
      out.push(
        `  ${String(x.t).padStart(4)} s  ${String(x.sent).padStart(5)} ${String(x.completed).padStart(5)} ${c('2xx')} ${c('3xx')} ${c('4xx')} ${c('5xx')} ${String(x.noResponse).padStart(5)} ${String(x.meanLatencyMs ?? '-').padStart(9)} ${String(x.maxLatencyMs ?? '-').padStart(9)}`,
      );
    }
  }
  if (s.expectations.length) {
    out.push('');
    out.push('expectations');
    for (const e of s.expectations) out.push(`  ${e.pass ? 'PASS' : 'FAIL'}  ${e.label}: ${e.actual}`);
  }
  return out.join('\n') + '\n';
}
