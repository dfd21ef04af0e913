import { countAtOrBefore, type EventStoreImpl } from './event-store';
import type { UpstreamRequestState } from '@proxyscope/protocol';
import { KIND_NAMES, SPAWN, STOP, TRANSITION } from './columns';
import { foldPhase, initialPhaseState, listPhase, type PhaseState } from './request-phase';
import type { AttemptSummary, RequestSummary } from './types';

/**
 * Builds a RequestSummary by applying a request's events one at a time, in order. The
 * store keeps one folder per request and feeds it only the events past its last fold, so
 * following a live request costs a few field updates per event.
 */

const ATTEMPT_FINAL = new Set<UpstreamRequestState>(['done', 'failed']);
const ATTEMPT_NUMBER = /\/upstream:(\d+)$/;

export class RequestFolder {
  private readonly s: RequestSummary;
  private readonly phase: PhaseState = initialPhaseState();
  private readonly attemptByActor = new Map<string, AttemptSummary>();

  constructor(
    stream: number,
    private readonly store: EventStoreImpl,
  ) {
    this.s = { stream, cx: -1, worker: -1, listener: '', firstIndex: -1, lastIndex: -1, startT: 0, attempts: [], phase: 'decoding', done: false };
  }

  apply(i: number): void {
    const store = this.store;
    const s = this.s;
    const t = store.tAt(i);
    if (s.firstIndex < 0) {
      const ids = store.idsAt(i);
      s.firstIndex = i;
      s.startT = t;
      s.cx = ids.cx ?? -1;
      s.worker = ids.worker ?? -1;
      s.listener = ids.listener ?? '';
    }
    s.lastIndex = i;
    const machine = store.machineAt(i);
    const kind = store.kindAt(i);
    const state = store.stateAt(i);

    const fact = store.factAt(i);
    foldPhase(this.phase, { machine, type: KIND_NAMES[kind]!, state, fact, actor: machine === 'upstream_request' ? store.actorAt(i) : undefined });
    if (machine === 'stream') {
      if (kind === STOP || state === 'complete' || state === 'reset') {
        s.done = true;
        s.endT ??= t;
      }
    } else if (machine === 'upstream_request') {
      this.applyAttempt(i, kind, state as UpstreamRequestState | undefined, t);
    }

    if (fact !== undefined) this.applyFact(fact, store.dataAt(i) ?? {}, i);
  }

  private applyAttempt(i: number, kind: number, state: UpstreamRequestState | undefined, t: number): void {
    const actor = this.store.actorAt(i);
    // A mirrored copy (request_mirror_policies) is not one of the request's attempts.
    if (actor.includes('/shadow:')) return;
    let attempt = this.attemptByActor.get(actor);
    if (!attempt) {
      const ids = this.store.idsAt(i);
      const n = Number(ATTEMPT_NUMBER.exec(actor)?.[1] ?? this.s.attempts.length + 1);
      attempt = { n, actor, startT: t, state: state ?? 'pending_pool' };
      if (ids.host !== undefined) attempt.host = ids.host;
      if (ids.pool !== undefined) attempt.pool = ids.pool;
      if (ids.ucx !== undefined) attempt.ucx = ids.ucx;
      this.attemptByActor.set(actor, attempt);
      this.s.attempts.push(attempt);
    }
    if (state !== undefined) attempt.state = state;
    if (kind === TRANSITION && state === 'sending' && attempt.ucx === undefined) {
      const ucx = this.attachedClient(i, attempt.pool);
      if (ucx !== undefined) attempt.ucx = ucx;
    }
    if (kind === TRANSITION && state === 'failed' && attempt.reset === undefined) {
      const event = this.store.get(i);
      if (event.type === 'transition') attempt.reset = event.event === 'upstream.pool.failure' ? 'pool failure' : event.event;
    }
    if ((kind === STOP || (state !== undefined && ATTEMPT_FINAL.has(state))) && attempt.endT === undefined) attempt.endT = t;
    if (kind === SPAWN) attempt.startT = t;
  }

  /** The upstream connection the pool attached this attempt to: the pool's last `pool.attach` before it was ready. */
  private attachedClient(i: number, pool: string | undefined): number | undefined {
    if (pool === undefined) return undefined;
    const path = this.store.poolActor(this.s.worker >= 0 ? this.s.worker : undefined, pool);
    if (!path) return undefined;
    const list = this.store.eventsOfActor(path);
    for (let k = countAtOrBefore(list, i) - 1, seen = 0; k >= 0 && seen < 64; k--, seen++) {
      const j = list[k]!;
      if (this.store.factAt(j) === 'pool.attach') {
        const client = this.store.dataAt(j)?.client;
        return typeof client === 'number' ? client : undefined;
      }
    }
    return undefined;
  }

  private applyFact(fact: string, data: Record<string, unknown>, i: number): void {
    const s = this.s;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
    switch (fact) {
      case 'codec.request_headers': {
        s.method = str(data.method) ?? s.method;
        s.path = str(data.path) ?? s.path;
        s.authority = str(data.authority) ?? s.authority;
        const headers = data.headers;
        if (headers && typeof headers === 'object') {
          const tag = str((headers as Record<string, unknown>)['x-proxyscope-tag']);
          if (tag !== undefined) s.tag = tag;
        }
        break;
      }
      case 'route.virtual_host':
        s.vhost = str(data.vhost) ?? s.vhost;
        break;
      case 'route.match':
        s.route = str(data.route) ?? s.route;
        s.cluster = str(data.cluster) ?? s.cluster;
        break;
      case 'cluster.selected':
        s.cluster = str(data.cluster) ?? s.cluster;
        break;
      case 'upstream.response_headers': {
        const status = num(data.status);
        const attempt = this.attemptByActor.get(this.store.actorAt(i));
        if (status !== undefined) {
          if (attempt) attempt.status = status;
          s.status = status;
        }
        break;
      }
      case 'upstream.reset': {
        const attempt = this.attemptByActor.get(this.store.actorAt(i));
        if (attempt) attempt.reset = str(data.reason) ?? 'reset';
        break;
      }
      case 'stream.local_reply': {
        const status = num(data.status) ?? 0;
        const reply: NonNullable<RequestSummary['localReply']> = { status };
        const flag = str(data.flag);
        const details = str(data.details);
        if (flag) reply.flag = flag;
        if (details) reply.details = details;
        s.localReply = reply;
        s.status = status;
        break;
      }
      case 'stream.access_log': {
        s.status = num(data.status) ?? s.status;
        s.flags = str(data.flags) ?? s.flags;
        s.cluster ??= str(data.cluster);
        s.route ??= str(data.route);
        const duration = num(data.durationMs);
        if (duration !== undefined && s.endT === undefined) s.endT = s.startT + duration;
        break;
      }
    }
  }

  /** A copy of the summary as of the events applied so far (the folder keeps mutating its own). */
  snapshot(): RequestSummary {
    const s = this.s;
    const copy: RequestSummary = { ...s, attempts: s.attempts.map((a) => ({ ...a })), phase: listPhase(this.phase.phase) };
    if (s.localReply) copy.localReply = { ...s.localReply };
    return copy;
  }
}
