import type { RequestSummary } from './types';

/**
 * The request list's filter box: words match anywhere (method, authority, path, route,
 * cluster, host, status, flags, tag); `key:value` narrows to one field. Keys: status
 * (`5xx`, `404`, `>=400`), id (the stream id), flag, cluster, route, method, host, path, authority, phase,
 * tag, attempts (`>1`). A leading `-` negates a term. Terms combine with AND.
 */

export interface FilterTerm {
  key: string | null;
  value: string;
  negate: boolean;
}

export interface ParsedFilter {
  terms: FilterTerm[];
  /** keys that are not known, for a hint under the box */
  unknownKeys: string[];
}

const KEYS = new Set(['id', 'status', 'flag', 'flags', 'cluster', 'route', 'method', 'host', 'path', 'authority', 'phase', 'tag', 'attempts', 'vhost']);

export function parseFilter(text: string): ParsedFilter {
  const terms: FilterTerm[] = [];
  const unknownKeys: string[] = [];
  for (const raw of text.trim().split(/\s+/)) {
    if (!raw) continue;
    let word = raw;
    const negate = word.startsWith('-') && word.length > 1;
    if (negate) word = word.slice(1);
    const colon = word.indexOf(':');
    if (colon > 0) {
      const key = word.slice(0, colon).toLowerCase();
      if (KEYS.has(key)) {
        terms.push({ key: key === 'flags' ? 'flag' : key, value: word.slice(colon + 1).toLowerCase(), negate });
        continue;
      }
      unknownKeys.push(key);
    }
    terms.push({ key: null, value: word.toLowerCase(), negate });
  }
  return { terms, unknownKeys };
}

function compare(actual: number | undefined, pattern: string): boolean {
  if (actual === undefined) return false;
  const m = /^(>=|<=|>|<|=)?(\d+)$/.exec(pattern);
  if (m) {
    const n = Number(m[2]);
    switch (m[1]) {
      case '>=':
        return actual >= n;
      case '<=':
        return actual <= n;
      case '>':
        return actual > n;
      case '<':
        return actual < n;
      default:
        return actual === n;
    }
  }
  // 5xx, 4x?, 2**
  const mask = /^(\d)[x?*]{2}$/.exec(pattern);
  if (mask) return Math.floor(actual / 100) === Number(mask[1]);
  return String(actual).startsWith(pattern);
}

const has = (field: string | undefined, value: string) => field !== undefined && field.toLowerCase().includes(value);

function hosts(r: RequestSummary): string[] {
  return r.attempts.map((a) => a.host).filter((h): h is string => h !== undefined);
}

function termMatches(r: RequestSummary, term: FilterTerm): boolean {
  const v = term.value;
  switch (term.key) {
    case 'id':
      return String(r.stream) === v;
    case 'status':
      return compare(r.status, v);
    case 'flag':
      return r.flags !== undefined && r.flags.toLowerCase().split(',').some((f) => f === v || (v !== '-' && f.includes(v)));
    case 'cluster':
      return has(r.cluster, v);
    case 'route':
      return has(r.route, v);
    case 'vhost':
      return has(r.vhost, v);
    case 'method':
      return r.method?.toLowerCase() === v;
    case 'host':
      return hosts(r).some((h) => h.includes(v));
    case 'path':
      return has(r.path, v);
    case 'authority':
      return has(r.authority, v);
    case 'phase':
      return r.phase.includes(v);
    case 'tag':
      return has(r.tag, v);
    case 'attempts':
      return compare(r.attempts.length, v);
    default:
      return (
        has(r.method, v) ||
        has(r.authority, v) ||
        has(r.path, v) ||
        has(r.route, v) ||
        has(r.cluster, v) ||
        has(r.flags, v) ||
        has(r.tag, v) ||
        (r.status !== undefined && String(r.status).startsWith(v)) ||
        hosts(r).some((h) => h.includes(v)) ||
        String(r.stream) === v
      );
  }
}

export function matchesFilter(r: RequestSummary, filter: ParsedFilter): boolean {
  for (const term of filter.terms) if (termMatches(r, term) === term.negate) return false;
  return true;
}

export type SortKey = 'start' | 'method' | 'authority' | 'path' | 'status' | 'flags' | 'route' | 'cluster' | 'host' | 'attempts' | 'duration' | 'phase';

export function durationOf(r: RequestSummary, nowT: number): number {
  return (r.endT ?? nowT) - r.startT;
}

export function sortRequests(rows: RequestSummary[], key: SortKey, descending: boolean, nowT: number): RequestSummary[] {
  const value = (r: RequestSummary): string | number => {
    switch (key) {
      case 'start':
        return r.firstIndex;
      case 'status':
        return r.status ?? -1;
      case 'attempts':
        return r.attempts.length;
      case 'duration':
        return durationOf(r, nowT);
      case 'host':
        return r.attempts[r.attempts.length - 1]?.host ?? '';
      case 'flags':
        return r.flags ?? '';
      default:
        return r[key] ?? '';
    }
  };
  const sign = descending ? -1 : 1;
  return [...rows].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    if (va < vb) return -sign;
    if (va > vb) return sign;
    return a.firstIndex - b.firstIndex;
  });
}
