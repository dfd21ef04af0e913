import type { EventStoreImpl } from './event-store';
import type { RelatedEvent } from './request-detail';
import type { AttemptSummary } from './types';

/**
 * The request detail's "Decisions": what the proxy decided for one request and why, in
 * plain words, from the facts of its related events (docs/trace-format.md). Code-like
 * names are in `backticks`; the panel sets them in the mono font. Each decision points at
 * the event it comes from, so clicking it moves the cursor there.
 */

export type DecisionKind = 'route' | 'weighted' | 'cluster' | 'host' | 'pool' | 'attempt' | 'timeout' | 'reply' | 'other';

export interface Decision {
  /** the event it comes from (the cursor moves there on click) */
  index: number;
  kind: DecisionKind;
  /** short label for the row, e.g. `route`, `host #2`, `attempt 1` */
  label: string;
  text: string;
  /** the Envoy function the fact names */
  envoy?: string;
}

type Store = Pick<EventStoreImpl, 'factAt' | 'dataAt' | 'actorAt' | 'get'>;
type Data = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const code = (v: unknown): string => `\`${String(v)}\``;
/** `prefix "/api"` → prefix `/api`: the engine's quoted strings as code spans. */
const quotedToCode = (s: string): string => s.replace(/"((?:[^"\\]|\\.)*)"/g, (_m, inner: string) => `\`${inner.replace(/\\"/g, '"')}\``);

// ---------------------------------------------------------------------------------------
// Resets, in words that say who did it

/**
 * Envoy's StreamResetReason, as `upstream_reset_before_response_started{...}` names it,
 * and what it means for the request. Only `RemoteReset` is the upstream resetting the
 * stream; a terminated connection may have been closed by either side; the others are
 * the proxy's own doing or a connect that never succeeded.
 */
const RESETS: Record<string, { envoy: string; words: string; early?: true }> = {
  ConnectionTermination: { envoy: 'connection termination', words: 'the upstream connection closed or was reset' },
  RemoteReset: { envoy: 'remote reset', words: 'the upstream reset the stream' },
  LocalReset: { envoy: 'local reset', words: 'the proxy reset the stream itself' },
  Overflow: { envoy: 'overflow', words: 'the connection pool was full (circuit breaker), nothing was sent', early: true },
  LocalConnectionFailure: { envoy: 'local connection failure', words: 'the proxy could not connect to the upstream', early: true },
  RemoteConnectionFailure: { envoy: 'remote connection failure', words: 'the upstream refused the connection', early: true },
  ConnectionFailure: { envoy: 'connection failure', words: 'the connection to the upstream failed', early: true },
  ConnectionTimeout: { envoy: 'connection timeout', words: 'connecting to the upstream timed out', early: true },
  Timeout: { envoy: 'connection timeout', words: 'connecting to the upstream timed out', early: true },
  ProtocolError: { envoy: 'protocol error', words: 'the upstream broke the HTTP protocol' },
};

/** `the upstream connection closed or was reset before the response (upstream reset: connection termination)` */
export function resetWords(reason: string, detail?: string | null, responseStarted = false): string {
  const known = RESETS[reason];
  const when = responseStarted ? 'during the response' : 'before the response';
  const tail = detail ? `; ${detail}` : '';
  if (!known) return `reset ${when} (${reason}${tail})`;
  // Connect failures and overflow happen before anything is sent: "before the response" says nothing.
  const timed = known.early ? known.words : `${known.words} ${when}`;
  return `${timed} (upstream reset: ${known.envoy}${tail})`;
}

// ---------------------------------------------------------------------------------------
// Route

const SPECIFIER_WORDS: Record<string, string> = {
  prefix: 'path prefix',
  path: 'path',
  safe_regex: 'path regex',
  path_separated_prefix: 'path-separated prefix',
};

function candidateWords(c: Data): string {
  const failed = str(c.failed);
  if (failed === 'path') {
    const spec = str(c.specifier) ?? 'path';
    const what = SPECIFIER_WORDS[spec] ?? spec;
    return spec === 'safe_regex' ? `${what} ${code(c.want)} does not match ${code(c.got)}` : `${what} ${code(c.want)} ≠ ${code(c.got)}`;
  }
  if (failed === 'header') {
    const name = str(c.header) ?? '?';
    const matcher = str(c.matcher) ?? '';
    // `header "x" exact "yes"` → the wanted part only
    const wanted = quotedToCode(matcher.replace(/^header "(?:[^"\\]|\\.)*" /, ''));
    if (c.value === null || c.value === undefined) return /absent$/.test(wanted) && !/not absent$/.test(wanted) ? `header ${code(name)} present, wanted absent` : `header ${code(name)} absent`;
    if (/^(not )?(present|absent)$/.test(wanted)) return `header ${code(name)} present, wanted ${wanted}`;
    return `header ${code(name)} is ${code(c.value)}, wanted ${wanted}`;
  }
  if (failed === 'runtime_fraction') {
    const drawn = num(c.drawn);
    const n = num(c.numerator);
    const d = num(c.denominator);
    if (drawn === undefined || n === undefined || d === undefined) return 'runtime_fraction draw lost';
    return `runtime_fraction draw lost: drew ${drawn} of ${d}, needed below ${n}`;
  }
  return quotedToCode(str(c.reason) ?? 'did not match');
}

const VHOST_MATCH_WORDS: Record<string, (domain: string) => string> = {
  exact: (d) => `domain ${code(d)}`,
  suffix_wildcard: (d) => `suffix wildcard ${code(d)}`,
  prefix_wildcard: (d) => `prefix wildcard ${code(d)}`,
  default: () => `domain ${code('*')}`,
};

function vhostWords(data: Data | undefined): string {
  if (!data) return '';
  const name = str(data.vhost);
  if (!name) return `no virtual host: ${quotedToCode(str(data.reason) ?? '')}`;
  const match = str(data.match);
  const domain = str(data.domain);
  const how = match && domain && VHOST_MATCH_WORDS[match] ? VHOST_MATCH_WORDS[match]!(domain) : quotedToCode(str(data.reason) ?? '');
  return `virtual host ${code(name)}${how ? ` (${how})` : ''}`;
}

function routeWords(vhost: Data | undefined, match: Data, matched: boolean): string {
  const parts: string[] = [];
  const v = vhostWords(vhost);
  if (v) parts.push(v);
  const candidates = Array.isArray(match.candidates) ? (match.candidates as Data[]) : undefined;
  for (const c of candidates ?? []) parts.push(`route ${code(c.route)} did not match: ${candidateWords(c)}`);
  const more = num(match.more);
  if (more) parts.push(`${more} more route${more === 1 ? '' : 's'} did not match`);
  if (matched) {
    const on = str(match.matchedOn);
    let tail = '';
    const clusterReason = str(match.clusterReason);
    // A weighted pick gets a row of its own; cluster_header says where the name came from.
    if (match.weighted === undefined && clusterReason && !clusterReason.startsWith('weighted_clusters')) {
      tail = clusterReason.startsWith('cluster "') ? ` → cluster ${code(match.cluster)}` : ` → ${quotedToCode(clusterReason)}`;
    }
    parts.push(`matched route ${code(match.route)}${on ? ` (${quotedToCode(on)})` : ''}${tail}`);
  } else if (candidates) {
    parts.push('no route matched');
  } else {
    parts.push(quotedToCode(str(match.reason) ?? 'no route matched'));
  }
  return parts.join('; ');
}

function weightedWords(w: Data): string | undefined {
  const drawn = num(w.drawn);
  const total = num(w.total);
  const clusters = Array.isArray(w.clusters) ? (w.clusters as Data[]) : [];
  if (drawn === undefined || total === undefined) return undefined;
  const ranges = clusters.map((c) => {
    const [b, e] = (c.range as [number, number] | undefined) ?? [0, 0];
    return `${code(c.name)} (${b}–${e - 1})`;
  });
  return `weighted clusters: drew ${drawn} of ${total} → ${code(w.picked)}; ranges ${ranges.join(', ')}`;
}

// ---------------------------------------------------------------------------------------
// Load balancer

const HEALTH_WORDS: Record<string, string> = {
  healthy: 'healthy',
  pending_active_hc: 'not yet health-checked',
  failed_active_hc: 'failed active HC',
  ejected: 'ejected',
  'failed_active_hc+ejected': 'failed active HC and ejected',
  degraded: 'degraded',
  excluded: 'excluded',
};

function hostWords(data: Data): string {
  const picked = str(data.host) ?? '?';
  const hosts = Array.isArray(data.hosts) ? (data.hosts as Data[]) : undefined;
  const nameOf = (key: string) => str(hosts?.find((h) => h.host === key)?.hostname) ?? key;
  const pickedName = str(data.hostname) ?? nameOf(picked);
  const policy = str(data.policy);
  if (!hosts || !policy) return `picked ${code(pickedName)}: ${quotedToCode(str(data.reason) ?? '')}`;
  const total = num(data.total) ?? hosts.length;
  const available = hosts.filter((h) => h.available === true).length + (total > hosts.length ? total - hosts.length : 0);
  const others = hosts.filter((h) => h.host !== picked).map((h) => `${str(h.hostname) ?? String(h.host)} ${HEALTH_WORDS[String(h.health)] ?? String(h.health)}`);
  const more = num(data.more);
  if (more) others.push(`${more} more`);
  const from = available === total ? `${total} host${total === 1 ? '' : 's'}` : `${available} of ${total} hosts`;
  let text = `picked ${code(pickedName)}${pickedName !== picked ? ` (${picked})` : ''} by ${policy} from ${from}${others.length ? ` (${others.join(', ')})` : ''}`;
  if (data.panic === true) {
    text += `; panic mode: ${num(data.healthy) ?? '?'} of ${total} healthy is below ${num(data.panicThreshold) ?? 50}%, so every host may be picked`;
  }
  const rejected = Array.isArray(data.previousHostsRejected) ? (data.previousHostsRejected as string[]) : [];
  if (rejected.length) {
    const names = [...new Set(rejected)].map((k) => code(nameOf(k)));
    text += `; previous_hosts refused ${names.join(', ')} (already tried)`;
  }
  return text;
}

// ---------------------------------------------------------------------------------------
// Pool

function poolCounts(d: Data): string {
  const parts = [`${num(d.connecting) ?? 0} connecting`, `${num(d.ready) ?? 0} ready`];
  if (num(d.busy)) parts.push(`${num(d.busy)} busy`);
  parts.push(`${num(d.pending) ?? 0} pending`);
  return `(${parts.join(', ')})`;
}

function poolWords(decision: string, d: Data, queuedFirst: boolean): string | undefined {
  switch (decision) {
    case 'reuse_ready_client':
      return `pool: reused ready connection ${code(`ucx:${String(d.client)}`)} ${poolCounts(d)}`;
    case 'open_connection':
      return `pool: ${queuedFirst ? 'no ready connection, ' : ''}connecting a new one, ${code(`ucx:${String(d.client)}`)} ${poolCounts(d)}`;
    case 'queue_pending':
      return `pool: no ready connection, waiting in the pending queue for one already connecting ${poolCounts(d)}`;
    case 'connection_overflow':
      return `pool: ${String(d.limit ?? 'max_connections')} ${String(d.max)} reached, no new connection: waiting for a busy one ${poolCounts(d)}`;
    case 'overflow':
      return `pool: ${String(d.limit ?? 'limit')} ${String(d.max)} full → the attempt fails with overflow ${poolCounts(d)}`;
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// The list

const ATTEMPT_OF_ACTOR = /\/upstream:(\d+)$/;

/** Facts described above; any other fact with a `reason` is listed as it is. */
const HANDLED = new Set([
  'route.virtual_host',
  'route.match',
  'route.no_match',
  'cluster.selected',
  'lb.host_selected',
  'lb.no_host',
  'pool.decision',
  'pool.attach',
  'pool.connect_failure',
  'pool.pending_failed',
  'upstream.reset',
  'retry.policy',
  'retry.decision',
  'retry.backoff',
  'retry.abandoned',
  'router.timeout',
  'stream.local_reply',
]);

export function decisions(store: Store, related: readonly RelatedEvent[], cursor: number): Decision[] {
  const out: Decision[] = [];
  const envoyOf = (i: number): string | undefined => {
    const e = store.get(i);
    return e.type === 'fact' || e.type === 'transition' ? e.envoy : undefined;
  };
  const push = (index: number, kind: DecisionKind, label: string, text: string) => {
    const envoy = envoyOf(index);
    out.push(envoy ? { index, kind, label, text, envoy } : { index, kind, label, text });
  };

  const visible = related.filter((r) => r.index <= cursor);
  // Resets and responses of each attempt, for the retry rows; the hosts, to name them.
  const resetOf = new Map<number, { reason: string; detail?: string | null }>();
  const statusOf = new Map<number, number>();
  const retryDecided = new Set<number>();
  const hostOf = new Map<number, string>();
  for (const { index: i } of visible) {
    const fact = store.factAt(i);
    if (!fact) continue;
    const d = store.dataAt(i) ?? {};
    const n = Number(ATTEMPT_OF_ACTOR.exec(store.actorAt(i))?.[1] ?? NaN);
    if (fact === 'upstream.reset' && !Number.isNaN(n)) resetOf.set(n, { reason: str(d.reason) ?? 'reset', detail: str(d.detail) ?? null });
    if (fact === 'upstream.response_headers' && !Number.isNaN(n) && num(d.status) !== undefined) statusOf.set(n, num(d.status)!);
    if (fact === 'retry.decision' && num(d.attempt) !== undefined) retryDecided.add(num(d.attempt)!);
    if (fact === 'lb.host_selected') {
      const attempt = num(d.attempt) ?? 1;
      hostOf.set(attempt, str(d.hostname) ?? str(d.host) ?? '?');
    }
  }

  let vhost: Data | undefined;
  let queuedAt: number | undefined;
  for (let k = 0; k < visible.length; k++) {
    const i = visible[k]!.index;
    const fact = store.factAt(i);
    if (!fact) continue;
    const d = store.dataAt(i) ?? {};
    switch (fact) {
      case 'route.virtual_host':
        vhost = d;
        // No route lookup follows (no virtual host): say so here.
        if (!str(d.vhost) && !visible.slice(k + 1).some((r) => store.factAt(r.index) === 'route.no_match')) push(i, 'route', 'route', vhostWords(d));
        break;
      case 'route.match':
      case 'route.no_match': {
        push(i, 'route', 'route', routeWords(vhost, d, fact === 'route.match'));
        if (d.weighted && typeof d.weighted === 'object') {
          const w = weightedWords(d.weighted as Data);
          if (w) push(i, 'weighted', 'weighted', w);
        }
        break;
      }
      case 'cluster.selected':
        if (d.found === false) push(i, 'cluster', 'cluster', `cluster ${code(d.cluster)} not found → ${code('cluster_not_found')} reply`);
        break;
      case 'lb.host_selected': {
        const attempt = num(d.attempt);
        push(i, 'host', attempt && attempt > 1 ? `host #${attempt}` : 'host', hostWords(d));
        break;
      }
      case 'lb.no_host':
        push(i, 'host', 'host', `no host to pick in ${code(d.cluster)}: ${quotedToCode(str(d.reason) ?? '')}`);
        break;
      case 'pool.decision': {
        const decision = str(d.decision) ?? '';
        if (decision === 'queue_pending') {
          // A new connection opened for this very wait: one row for both.
          const next = visible[k + 1];
          if (next && store.factAt(next.index) === 'pool.decision' && store.dataAt(next.index)?.decision === 'open_connection') {
            queuedAt = i;
            break;
          }
        }
        const text = poolWords(decision, d, queuedAt !== undefined && decision === 'open_connection');
        queuedAt = undefined;
        if (text) push(i, 'pool', 'pool', text);
        break;
      }
      case 'pool.connect_failure':
        push(i, 'pool', 'pool', `pool: connect ${code(`ucx:${String(d.client)}`)} failed: ${String(d.reason)}${d.detail ? ` (${String(d.detail)})` : ''}`);
        break;
      case 'upstream.reset': {
        const n = Number(ATTEMPT_OF_ACTOR.exec(store.actorAt(i))?.[1] ?? NaN);
        // With a retry policy the retry row says it, with what followed.
        if (!Number.isNaN(n) && retryDecided.has(n)) break;
        push(i, 'attempt', Number.isNaN(n) ? 'upstream' : `attempt ${n}`, `${Number.isNaN(n) ? 'upstream request' : `attempt ${n}`} failed: ${resetWords(str(d.reason) ?? 'reset', str(d.detail), statusOf.has(n))}`);
        break;
      }
      case 'retry.decision': {
        const text = retryWords(d, visible, k, store, resetOf, hostOf);
        if (text) push(i, 'attempt', `attempt ${String(d.attempt)}`, text);
        break;
      }
      case 'retry.abandoned':
        push(i, 'attempt', 'retry', `retries abandoned: the request body passed the ${Math.round((num(d.limit) ?? 0) / 1024)} KiB retry buffer`);
        break;
      case 'router.timeout': {
        const kind = str(d.kind);
        const ms = num(d.ms);
        if (kind === 'per_try') push(i, 'timeout', `attempt ${String(d.attempt)}`, `attempt ${String(d.attempt)}: per_try_timeout ${ms} ms fired, the router resets it`);
        else push(i, 'timeout', 'timeout', `route timeout ${ms} ms fired${str(d.during) === 'backoff' ? ' during the retry back-off' : ` during attempt ${String(d.attempt)}`} → 504`);
        break;
      }
      case 'stream.local_reply':
        push(i, 'reply', 'local reply', `local reply ${String(d.status)}${d.flag ? ` ${code(d.flag)}` : ''}${d.details ? ` (${String(d.details)})` : ''}`);
        break;
      default:
        if (!HANDLED.has(fact) && typeof d.reason === 'string') push(i, 'other', fact, quotedToCode(d.reason));
    }
  }
  return out;
}

function retryWords(d: Data, visible: readonly RelatedEvent[], k: number, store: Store, resetOf: Map<number, { reason: string; detail?: string | null }>, hostOf: Map<number, string>): string | undefined {
  const attempt = num(d.attempt) ?? 0;
  const decision = str(d.decision);
  const trigger = str(d.trigger);
  const status = num(d.status);
  const host = hostOf.get(attempt);
  const who = `attempt ${attempt}${host ? ` (${code(host)})` : ''}`;
  let what: string;
  if (trigger === 'reset') {
    const reset = resetOf.get(attempt);
    what = `${who} failed: ${resetWords(str(d.reset) ?? reset?.reason ?? 'reset', reset?.detail)}`;
  } else {
    // A successful answer that was simply not retried is no decision worth a row.
    if (decision === 'no_retry' && status !== undefined && status < 500 && !d.retryOn) return undefined;
    what = `${who} answered ${status ?? '?'}`;
  }
  const retryOn = str(d.retryOn);
  if (decision === 'retry') {
    // Envoy retries a reset under 5xx and gateway-error too: say so, or `5xx` reads as a wrong status.
    const resetUnder = trigger === 'reset' && (retryOn === '5xx' || retryOn === 'gateway-error') ? ' (a reset counts as one)' : '';
    let text = `${what} → retry on ${retryOn ? code(retryOn) : quotedToCode(str(d.reason) ?? '?')}${resetUnder}`;
    const next = visible.slice(k + 1, k + 4).find((r) => store.factAt(r.index) === 'retry.backoff');
    if (next) {
      const b = store.dataAt(next.index) ?? {};
      const range = Array.isArray(b.range) ? (b.range as number[]) : undefined;
      const from = str(b.strategy) === 'ratelimited' ? ' (from the rate-limit reset header)' : range ? ` (drawn from ${range[0]}–${range[1]} ms)` : '';
      text += `, back-off ${String(b.ms)} ms${from}`;
    }
    return text;
  }
  if (decision === 'limit_exceeded') return `${what} → not retried: ${quotedToCode(str(d.reason) ?? 'no retries left')}`;
  if (decision === 'overflow') return `${what} → not retried: ${quotedToCode(str(d.reason) ?? 'retry circuit breaker full')}`;
  return `${what} → not retried: ${quotedToCode(str(d.reason) ?? '')}`;
}

/**
 * How an attempt ended, for its row in the request detail: a reset is said as who did it,
 * and the router's own reset of an answered attempt (to retry it, on a per-try timeout) is
 * not shown as if the upstream had reset anything.
 */
export function attemptOutcome(store: Store, related: readonly RelatedEvent[], attempt: Pick<AttemptSummary, 'n' | 'actor' | 'state' | 'status' | 'reset'>, cursor: number): string {
  const status = attempt.status !== undefined ? ` ${attempt.status}` : '';
  if (attempt.state !== 'failed' || attempt.reset === undefined) return `${attempt.state}${status}`;
  let resetFact: Data | undefined;
  let retried = false;
  let perTry = false;
  let poolFailure: Data | undefined;
  for (const { index: i } of related) {
    if (i > cursor) break;
    const fact = store.factAt(i);
    if (!fact) continue;
    const d = store.dataAt(i) ?? {};
    if (fact === 'upstream.reset' && store.actorAt(i) === attempt.actor) resetFact = d;
    else if (fact === 'retry.decision' && d.attempt === attempt.n && d.decision === 'retry') retried = true;
    else if (fact === 'router.timeout' && d.kind === 'per_try' && d.attempt === attempt.n) perTry = true;
    else if (fact === 'pool.pending_failed' || fact === 'pool.connect_failure') poolFailure = d;
  }
  if (resetFact) return `failed${status}: ${resetWords(str(resetFact.reason) ?? 'reset', str(resetFact.detail), attempt.status !== undefined)}`;
  if (attempt.reset === 'pool failure') {
    const reason = str(poolFailure?.reason);
    return `failed: no connection from the pool${reason ? ` (${reason})` : ''}`;
  }
  // The router reset its own attempt (UpstreamRequest::resetStream): no reset fact on it.
  if (perTry) return `failed${status}: per_try_timeout, reset by the router`;
  if (retried) return attempt.status !== undefined ? `answered${status}, reset by the router to retry` : 'reset by the router to retry';
  return `failed${status}: reset by the router (local reset)`;
}
