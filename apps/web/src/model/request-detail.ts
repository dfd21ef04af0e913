import type { MachineState, StateMachineKind, UpstreamRequestState } from '@proxyscope/protocol';
import { countAtOrBefore, type EventStoreImpl } from './event-store';
import { SPAWN, TRANSITION } from './columns';
import type { RequestSummary } from './types';

/**
 * What the request detail panel shows: every event of the machines involved in one
 * request, and the waterfall of its phases. The request's own actors carry its stream id;
 * the downstream codec is tied by connection id, and the pool and upstream connection by
 * pool id and time (the pool's decisions while an attempt waited, then the client that
 * carried it).
 */

export interface RelatedEvent {
  index: number;
  /** why it is here when it does not carry the stream id */
  via?: 'connection' | 'pool' | 'upstream connection';
}

function between(list: readonly number[], from: number, to: number): number[] {
  const out: number[] = [];
  for (let k = countAtOrBefore(list, from - 1); k < list.length && list[k]! <= to; k++) out.push(list[k]!);
  return out;
}

export function relatedEvents(store: EventStoreImpl, summary: RequestSummary): RelatedEvent[] {
  const own = store.eventsOfRequest(summary.stream);
  if (own.length === 0) return [];
  const first = own[0]!;
  const last = own[own.length - 1]!;
  const seen = new Set<number>(own);
  const extra: RelatedEvent[] = [];
  const add = (index: number, via: RelatedEvent['via']) => {
    if (seen.has(index)) return;
    seen.add(index);
    extra.push({ index, via });
  };

  // The downstream codec parses this request's bytes while the stream lives: from the
  // message's begin (its last move to `headers` before the stream) to the next message's.
  // A keep-alive connection carries earlier requests, whose codec events are not this one's.
  const codecEvents = store.eventsOfActor(`listener:${summary.listener}/cx:${summary.cx}/codec`);
  const isMessageBegin = (i: number) => store.kindAt(i) === TRANSITION && store.stateAt(i) === 'headers';
  let k = countAtOrBefore(codecEvents, first) - 1;
  while (k > 0 && !isMessageBegin(codecEvents[k]!)) k--;
  // The connection's first request: its codec's spawn (the connection opening) too.
  if (k === 1 && store.kindAt(codecEvents[0]!) === SPAWN) k = 0;
  for (k = Math.max(0, k); k < codecEvents.length && codecEvents[k]! <= last; k++) {
    const i = codecEvents[k]!;
    if (i > first && isMessageBegin(i)) break;
    add(i, 'connection');
  }

  for (const attempt of summary.attempts) {
    if (!attempt.pool) continue;
    const attemptEvents = store.eventsOfActor(attempt.actor);
    if (attemptEvents.length === 0) continue;
    const start = attemptEvents[0]!;
    const end = attemptEvents[attemptEvents.length - 1]!;
    // While it waits for a connection: the pool's decisions up to the attach.
    let ready = end;
    for (const i of attemptEvents) {
      if (store.kindAt(i) === TRANSITION && (store.stateAt(i) as UpstreamRequestState | undefined) === 'sending') {
        ready = i;
        break;
      }
    }
    const poolPath = store.poolActor(summary.worker >= 0 ? summary.worker : undefined, attempt.pool);
    if (poolPath) {
      const poolEvents = store.eventsOfActor(poolPath);
      const ownSet = new Set(own);
      // Pool events carry no stream id. The pool decides for this attempt synchronously,
      // so its events for it sit next to the attempt's own: right after the attempt asks
      // (the decision, maybe a new connection) and, when it waited, the attach right
      // before it sends. While it waits (held in step mode, or queued), the pool serves
      // other requests; those events are not this one's.
      const ours = (i: number) => ownSet.has(i) || store.actorAt(i) === poolPath || store.actorAt(i).startsWith(`${poolPath}/`);
      const runs: Array<[number, number]> = [];
      for (const a of attemptEvents) {
        if (a > ready) break;
        let hi = a;
        while (hi < ready && hi - a < 32 && ours(hi + 1)) hi++;
        runs.push([a, hi]);
      }
      let lo = ready;
      while (lo > start && ready - lo < 32 && ours(lo - 1)) lo--;
      runs.push([lo, ready]);
      // The pool may be spawned just before the attempt (its first request).
      for (const i of between(poolEvents, Math.max(0, start - 4), ready)) {
        if (i < start && store.kindAt(i) !== SPAWN) continue;
        if (store.kindAt(i) !== SPAWN && !runs.some(([lo, hi]) => i >= lo && i <= hi)) continue;
        add(i, 'pool');
      }
    }
    if (attempt.ucx !== undefined && poolPath) {
      const client = `${poolPath}/ucx:${attempt.ucx}`;
      const clientEvents = store.eventsOfActor(client);
      // A connection opened while the attempt waited was opened for it; a reused one
      // carried other exchanges until this attempt was attached to it.
      let from = start;
      if (clientEvents[0] !== undefined && clientEvents[0] < start) {
        // a reused one: from its move to busy for this attempt
        from = ready;
        for (let c = countAtOrBefore(clientEvents, ready) - 1; c >= 0 && clientEvents[c]! >= start; c--) {
          if (store.stateAt(clientEvents[c]!) === 'busy') {
            from = clientEvents[c]!;
            break;
          }
        }
      }
      for (const i of between(clientEvents, from, end)) add(i, 'upstream connection');
      for (const i of between(store.eventsOfActor(`${client}/codec`), from, end)) add(i, 'upstream connection');
    }
  }

  const all: RelatedEvent[] = own.map((index) => ({ index }));
  for (const e of extra) all.push(e);
  all.sort((a, b) => a.index - b.index);
  return all;
}

export type WaterfallPhase = 'downstream read' | 'decoder filters' | 'route' | 'pool wait' | 'connect' | 'upstream request' | 'response' | 'backoff' | 'encode';

export interface WaterfallBar {
  phase: WaterfallPhase;
  label: string;
  startT: number;
  /** absent while the phase is still running at the cursor */
  endT?: number;
  /** the event that started it (clicking the bar moves the cursor there) */
  index: number;
}

/** The phases of a request as of the cursor, from the related events. */
export function waterfall(store: EventStoreImpl, summary: RequestSummary, related: readonly RelatedEvent[], cursor: number): WaterfallBar[] {
  const bars: WaterfallBar[] = [];
  const open = new Map<string, WaterfallBar>();
  const begin = (key: string, phase: WaterfallPhase, label: string, i: number) => {
    if (open.has(key)) return;
    const bar: WaterfallBar = { phase, label, startT: store.tAt(i), index: i };
    open.set(key, bar);
    bars.push(bar);
  };
  const end = (key: string, i: number) => {
    const bar = open.get(key);
    if (bar && bar.endT === undefined) bar.endT = store.tAt(i);
  };
  const attemptOf = (actor: string) => /\/upstream:(\d+)$/.exec(actor)?.[1];

  for (const { index: i } of related) {
    if (i > cursor) break;
    const machine = store.machineAt(i);
    const state = store.stateAt(i);
    const fact = store.factAt(i);
    const kind = store.kindAt(i);
    const actor = store.actorAt(i);
    // the event is a `k` machine's and leaves it in one of `names` (checked against the protocol's state names)
    const is = <K extends StateMachineKind>(k: K, ...names: MachineState<K>[]) => machine === k && state !== undefined && (names as string[]).includes(state);
    if (kind === TRANSITION && is('codec', 'headers') && !open.has('read')) begin('read', 'downstream read', 'downstream read', i);
    if (machine === 'stream' && kind === SPAWN) {
      end('read', i);
      begin('decode', 'decoder filters', 'decoder filters', i);
    }
    if (fact === 'route.virtual_host' || fact === 'route.no_match') {
      end('decode', i);
      begin('route', 'route', 'route', i);
    }
    if (is('stream', 'decoding_body')) end('read', i);
    if (machine === 'upstream_request') {
      const n = attemptOf(actor) ?? '?';
      if (kind === SPAWN) {
        end('route', i);
        end('decode', i);
        end('backoff', i);
        begin(`pool${n}`, 'pool wait', `pool wait #${n}`, i);
      } else if (is('upstream_request', 'sending')) {
        end(`pool${n}`, i);
        begin(`up${n}`, 'upstream request', `upstream request #${n}`, i);
      } else if (fact === 'upstream.response_headers') {
        end(`up${n}`, i);
        begin(`resp${n}`, 'response', `response #${n}`, i);
      } else if (is('upstream_request', 'done', 'failed')) {
        end(`pool${n}`, i);
        end(`up${n}`, i);
        end(`resp${n}`, i);
      }
    }
    if (machine === 'client') {
      const ucx = /\/ucx:(\d+)$/.exec(actor)?.[1] ?? '?';
      if (kind === SPAWN && is('client', 'connecting')) begin(`connect${ucx}`, 'connect', `connect ucx:${ucx}`, i);
      // The connect bar covers the TLS handshake too: connect_timeout runs until it is done.
      else if (kind === TRANSITION && !is('client', 'handshaking')) end(`connect${ucx}`, i);
    }
    if (is('retry', 'backoff')) begin('backoff', 'backoff', 'retry backoff', i);
    if (machine === 'retry' && state !== undefined && !is('retry', 'backoff')) end('backoff', i);
    if (is('stream', 'encoding_headers')) {
      end('route', i);
      end('decode', i);
      begin('encode', 'encode', 'encode', i);
    }
    if (is('stream', 'complete', 'reset')) {
      for (const key of open.keys()) end(key, i);
    }
  }
  void summary;
  return bars;
}
