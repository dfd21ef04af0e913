import type { TraceEvent } from './events';
import type { EventFilter, Subscription } from './ws-messages';

/**
 * Applies a subscription (filter and per-request sampling) to a stream of events, in
 * order. The server runs one per WebSocket client; a viewer can run the same code on a
 * loaded trace, so a filtered live view and a filtered replay agree.
 */

export interface SelectorLimits {
  /** requests whose sampling decision is remembered; the oldest are forgotten first */
  maxTrackedRequests: number;
  /** events held back for one request that was not picked, waiting for its outcome */
  maxHeldPerRequest: number;
  /** events held back in total; past it the oldest held requests are given up */
  maxHeldEvents: number;
}

export const DEFAULT_SELECTOR_LIMITS: SelectorLimits = { maxTrackedRequests: 10_000, maxHeldPerRequest: 256, maxHeldEvents: 20_000 };

/**
 * Whether sampling at `percent` keeps request `stream`. A multiplicative hash of the id
 * spreads consecutive ids evenly, and every client (and viewer) with the same percentage
 * keeps the same requests.
 */
export function sampledIn(stream: number, percent: number): boolean {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  const bucket = Math.imul(stream | 0, 0x9e3779b1) >>> 0;
  return bucket % 10_000 < Math.round(percent * 100);
}

/**
 * What an event says about its request's outcome: `failed` as soon as the request is
 * known to be kept by "keep failures" (a retry, an overflow, a reset, a 5xx or any
 * response flag), `ok` at the end of a request that did none of that, else undefined.
 * The access-log fact (`stream.access_log`) is a request's last event.
 */
export function requestOutcome(e: TraceEvent): 'failed' | 'ok' | undefined {
  if (e.type !== 'fact') return undefined;
  switch (e.fact) {
    case 'stream.access_log': {
      const status = Number(e.data.status);
      const flags = e.data.flags;
      return status >= 500 || (typeof flags === 'string' && flags !== '-' && flags !== '') ? 'failed' : 'ok';
    }
    case 'retry.decision': {
      const decision = e.data.decision;
      return decision === 'retry' || decision === 'overflow' || decision === 'limit_exceeded' ? 'failed' : undefined;
    }
    case 'upstream.reset':
    case 'pool.pending_failed':
    case 'codec.error':
    case 'router.timeout':
      return 'failed';
    default:
      return undefined;
  }
}

export function matchesFilter(e: TraceEvent, f: EventFilter): boolean {
  if (f.machines && !f.machines.includes(e.machine)) return false;
  if (f.requests && (e.ids.stream === undefined || !f.requests.includes(e.ids.stream))) return false;
  if (f.connections && (e.ids.cx === undefined || !f.connections.includes(e.ids.cx))) return false;
  if (f.clusters && (e.ids.cluster === undefined || !f.clusters.includes(e.ids.cluster))) return false;
  if (f.hosts && (e.ids.host === undefined || !f.hosts.includes(e.ids.host))) return false;
  return true;
}

const KEEP = 1;
const DROP = 2;
/** a request not picked by sampling, held back until its outcome is known */
interface Held {
  events: TraceEvent[];
}
type Decision = typeof KEEP | typeof DROP | Held;

/** Counts kept for the `stats` message and tests. */
export interface SelectorCounts {
  /** events held back right now */
  held: number;
  /** requests kept because they failed although sampling did not pick them */
  keptFailures: number;
  /** requests left out by sampling */
  sampledOut: number;
}

export class EventSelector {
  /** true when every event passes: callers can skip `select` */
  readonly passesAll: boolean;
  /** false: nothing passes (unsubscribed) */
  readonly active: boolean;
  readonly counts: SelectorCounts = { held: 0, keptFailures: 0, sampledOut: 0 };
  private readonly filter: ((e: TraceEvent) => boolean) | undefined;
  private readonly percent: number;
  private readonly keepFailures: boolean;
  private readonly decisions = new Map<number, Decision>();
  private readonly limits: SelectorLimits;

  constructor(
    readonly subscription: Subscription | null,
    limits: Partial<SelectorLimits> = {},
  ) {
    this.limits = { ...DEFAULT_SELECTOR_LIMITS, ...limits };
    this.active = subscription !== null;
    const f = subscription?.filter;
    const hasFilter = !!f && Object.values(f).some((v) => v !== undefined);
    this.filter = hasFilter ? compileFilter(f!) : undefined;
    this.percent = subscription?.sample?.percent ?? 100;
    this.keepFailures = subscription?.sample?.keepFailures ?? false;
    this.passesAll = this.active && !hasFilter && this.percent >= 100;
  }

  /** The events of `events` this subscription delivers now, in order (held ones come later). */
  select(events: readonly TraceEvent[]): readonly TraceEvent[] {
    if (this.passesAll) return events;
    if (!this.active) return [];
    const out: TraceEvent[] = [];
    const filter = this.filter;
    if (this.percent >= 100) {
      for (const e of events) if (filter!(e)) out.push(e);
      return out;
    }
    for (const e of events) {
      const stream = e.ids.stream;
      if (stream === undefined) {
        if (!filter || filter(e)) out.push(e);
        continue;
      }
      let decision = this.decisions.get(stream);
      if (decision === undefined) {
        decision = sampledIn(stream, this.percent) ? KEEP : this.keepFailures ? { events: [] } : DROP;
        if (decision === DROP) this.counts.sampledOut++;
        this.track(stream, decision);
      }
      if (decision === KEEP) {
        if (!filter || filter(e)) out.push(e);
      } else if (decision !== DROP) {
        // Held: collect, then decide on the request's outcome.
        if (!filter || filter(e)) {
          decision.events.push(e);
          this.counts.held++;
        }
        const outcome = requestOutcome(e);
        if (outcome === 'failed' || decision.events.length > this.limits.maxHeldPerRequest) {
          // Kept: a failure, or a request long enough to be interesting; its events so far
          // go out now (each with its own seq), the rest as they come.
          for (const h of decision.events) out.push(h);
          this.counts.held -= decision.events.length;
          this.counts.keptFailures++;
          this.decisions.set(stream, KEEP);
        } else if (outcome === 'ok') {
          this.counts.held -= decision.events.length;
          this.counts.sampledOut++;
          this.decisions.set(stream, DROP);
        } else if (this.counts.held > this.limits.maxHeldEvents) {
          this.evictHeld();
        }
      }
    }
    return out;
  }

  private track(stream: number, decision: Decision): void {
    this.decisions.set(stream, decision);
    if (this.decisions.size > this.limits.maxTrackedRequests) {
      // Forget the oldest decision (Map keeps insertion order).
      const [oldest, d] = this.decisions.entries().next().value as [number, Decision];
      if (typeof d === 'object') {
        this.counts.held -= d.events.length;
        this.counts.sampledOut++;
      }
      this.decisions.delete(oldest);
    }
  }

  /** Too much held back: give up the oldest held requests (as sampled out). */
  private evictHeld(): void {
    for (const [stream, d] of this.decisions) {
      if (this.counts.held <= this.limits.maxHeldEvents / 2) break;
      if (typeof d !== 'object') continue;
      this.counts.held -= d.events.length;
      this.counts.sampledOut++;
      this.decisions.set(stream, DROP);
    }
  }
}

function compileFilter(f: EventFilter): (e: TraceEvent) => boolean {
  const machines = f.machines && new Set<string>(f.machines);
  const requests = f.requests && new Set(f.requests);
  const connections = f.connections && new Set(f.connections);
  const clusters = f.clusters && new Set(f.clusters);
  const hosts = f.hosts && new Set(f.hosts);
  return (e) =>
    (!machines || machines.has(e.machine)) &&
    (!requests || (e.ids.stream !== undefined && requests.has(e.ids.stream))) &&
    (!connections || (e.ids.cx !== undefined && connections.has(e.ids.cx))) &&
    (!clusters || (e.ids.cluster !== undefined && clusters.has(e.ids.cluster))) &&
    (!hosts || (e.ids.host !== undefined && hosts.has(e.ids.host)));
}
