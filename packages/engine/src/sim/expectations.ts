import type { StatsStore } from '../stats/stats';
import type { Ledger } from './ledger';
import type { HostFailure } from './simulation';
import type { LabelledExpectation } from './scenario-types';

/**
 * A scenario's expectations, checked at the end of a run: a scenario is then also a test,
 * and a lesson can ask "how many 503 UO did you expect?" and show the answer.
 */

export interface ExpectationResult {
  label: string;
  pass: boolean;
  /** what the run measured, in the expectation's own terms */
  actual: string;
}

const pct = (x: number): string => `${Math.round(x * 10000) / 100}%`;

function within(value: number, min: number | undefined, max: number | undefined): boolean {
  return (min === undefined || value >= min) && (max === undefined || value <= max);
}

export function evaluateExpectations(expectations: readonly LabelledExpectation[], ledger: Ledger, stats: StatsStore, failures: readonly HostFailure[]): ExpectationResult[] {
  return expectations.map(({ expectation: e, label }, i) => {
    const probe = ledger.probes[i]!;
    switch (e.kind) {
      case 'share': {
        const share = probe.total === 0 ? 0 : probe.hits / probe.total;
        return { label, pass: probe.total > 0 && within(share, e.min, e.max), actual: `${pct(share)} (${probe.hits} of ${probe.total})` };
      }
      case 'count':
        return { label, pass: within(probe.hits, e.min, e.max), actual: String(probe.hits) };
      case 'latency': {
        const value = probe.latency!.quantile(e.quantile);
        return { label, pass: !Number.isNaN(value) && within(value, e.min, e.max), actual: Number.isNaN(value) ? 'no responses' : `${value} ms (${probe.latency!.count} responses)` };
      }
      case 'stat': {
        const value = stats.valueOf(e.name);
        if (value === undefined) return { label, pass: false, actual: 'no such stat' };
        return { label, pass: within(value, e.min, e.max), actual: String(value) };
      }
      case 'request': {
        const r = ledger.kept.get(e.index);
        if (!r) return { label, pass: false, actual: `request ${e.index} was never completed` };
        const pass =
          (e.host === undefined || r.host === e.host) &&
          (e.attempt === undefined || r.attempts === e.attempt) &&
          (e.status === undefined || r.status === e.status) &&
          (e.flag === undefined || r.flags.includes(e.flag));
        const flags = r.flags.length ? ` ${r.flags.join(',')}` : '';
        return { label, pass, actual: `${r.status || r.outcome}${flags} from ${r.host || 'no host'} on attempt ${r.attempts}` };
      }
      case 'ejected': {
        const hit = failures.find((f) => f.host === e.host && f.reason === e.reason && (e.cluster === undefined || f.cluster === e.cluster));
        if (!hit) return { label, pass: false, actual: e.reason === 'outlier' ? 'never ejected' : 'never failed its health check' };
        const pass = (e.before === undefined || hit.at < e.before) && (e.after === undefined || hit.at >= e.after);
        return { label, pass, actual: `at ${Math.round(hit.at * 1000) / 1000} ms` };
      }
    }
  });
}
