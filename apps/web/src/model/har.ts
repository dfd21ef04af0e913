import { version as UI_VERSION } from '../../package.json';
import { knownReasonPhrase, type ClientState, type StreamState, type UpstreamRequestState } from '@proxyscope/protocol';
import { countAtOrBefore, type EventStoreImpl } from './event-store';
import { SPAWN, TRANSITION } from './columns';
import { answeringAttempt, requestMessage, requestUrl, responseMessage } from './request-message';
import type { AttemptSummary, RequestSummary } from './types';

/**
 * HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) of requests as of a cursor,
 * for a browser's network panel (Chrome DevTools: Import HAR) or any HAR tool. Each
 * finished request becomes an entry; one still in flight at the cursor is left out (a HAR
 * entry needs its response) and counted in the log's comment.
 *
 * Timings map our phases onto HAR's, which must add up to the entry's `time`:
 * blocked is everything before the answering attempt started sending (decoder filters,
 * routing, earlier attempts and their back-off, the pool wait) less the connect; connect is
 * the upstream connection's TCP connect plus TLS handshake when one was opened while the
 * attempt waited (ssl the handshake part), -1 when it reused one; send is writing the
 * request upstream; wait runs to the first response byte (the upstream's response headers,
 * or the proxy's local reply); receive to the end of the stream. dns is -1: DNS clusters
 * resolve on their own timer, never for one request. `_proxyscope.blocked` splits blocked
 * back into those parts.
 */

export interface HarNameValue {
  name: string;
  value: string;
}

export interface HarTimings {
  blocked: number;
  dns: number;
  connect: number;
  send: number;
  wait: number;
  receive: number;
  ssl: number;
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    cookies: HarNameValue[];
    headers: HarNameValue[];
    queryString: HarNameValue[];
    headersSize: number;
    bodySize: number;
    comment?: string;
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    cookies: HarNameValue[];
    headers: HarNameValue[];
    content: { size: number; mimeType: string; text?: string };
    redirectURL: string;
    headersSize: number;
    bodySize: number;
    comment?: string;
  };
  cache: Record<string, never>;
  timings: HarTimings;
  serverIPAddress?: string;
  connection?: string;
  _proxyscope: {
    stream: number;
    listener: string;
    vhost?: string;
    route?: string;
    cluster?: string;
    /** Envoy response flags, `-` for none */
    flags?: string;
    localReply?: { status: number; flag?: string; details?: string };
    attempts: Array<{ n: number; host?: string; ucx?: number; status?: number; reset?: string; state: string; startOffset: number; time?: number }>;
    /** what `timings.blocked` is made of, ms */
    blocked: { beforeUpstream: number; earlierAttempts: number; poolWait: number };
  };
}

export interface HarLog {
  log: {
    version: '1.2';
    creator: { name: 'ProxyScope'; version: string };
    entries: HarEntry[];
    comment?: string;
  };
}

/** What the simulated clocks count from when no start was given (SimClock / ManualClock's default epoch). */
const DEFAULT_EPOCH_MS = Date.UTC(2026, 0, 1);


const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** host of `ip:port` / `[v6]:port` (serverIPAddress is an address, not an endpoint) */
function hostOnly(endpoint: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(endpoint);
  if (v6) return v6[1]!;
  return endpoint.replace(/:\d+$/, '');
}

function cookiesOf(header: string | undefined): HarNameValue[] {
  if (!header) return [];
  return header
    .split(';')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const eq = part.indexOf('=');
      return eq < 0 ? { name: part, value: '' } : { name: part.slice(0, eq).trim(), value: part.slice(eq + 1).trim() };
    });
}

function setCookiesOf(headers: ReadonlyArray<[string, string]>): HarNameValue[] {
  return headers.filter(([k]) => k === 'set-cookie').flatMap(([, v]) => cookiesOf(v.split(';')[0]));
}

function queryOf(path: string): HarNameValue[] {
  const q = path.indexOf('?');
  if (q < 0) return [];
  const out: HarNameValue[] = [];
  for (const [name, value] of new URLSearchParams(path.slice(q + 1).split('#')[0])) out.push({ name, value });
  return out;
}

/** t of the first transition of `actor` into `state`, at or before `cursor` */
function enteredAt(store: EventStoreImpl, actor: string, state: StreamState | UpstreamRequestState, cursor: number): number | undefined {
  for (const i of store.eventsOfActor(actor)) {
    if (i > cursor) break;
    if (store.kindAt(i) === TRANSITION && store.stateAt(i) === state) return store.tAt(i);
  }
  return undefined;
}

/**
 * The connect of the upstream connection that carried `attempt`, as far as it fell inside
 * [from, to] (the attempt's pool wait): from the client's spawn (connecting) to its first
 * move past connecting/handshaking; the handshake from its move to handshaking.
 */
function connectOf(store: EventStoreImpl, summary: RequestSummary, attempt: AttemptSummary, from: number, to: number, cursor: number): { connect: number; ssl: number } | undefined {
  if (attempt.ucx === undefined || attempt.pool === undefined) return undefined;
  const pool = store.poolActor(summary.worker >= 0 ? summary.worker : undefined, attempt.pool);
  if (!pool) return undefined;
  const events = store.eventsOfActor(`${pool}/ucx:${attempt.ucx}`);
  const n = countAtOrBefore(events, cursor);
  if (n === 0 || store.kindAt(events[0]!) !== SPAWN) return undefined;
  const start = store.tAt(events[0]!);
  let handshake: number | undefined;
  let ready: number | undefined;
  for (let k = 1; k < n; k++) {
    const i = events[k]!;
    if (store.kindAt(i) !== TRANSITION) continue;
    const state = store.stateAt(i) as ClientState | undefined;
    if (state === 'handshaking') handshake ??= store.tAt(i);
    else if (state !== 'connecting') {
      ready = store.tAt(i);
      break;
    }
  }
  if (ready === undefined) return undefined;
  const overlap = (a: number, b: number) => Math.max(0, Math.min(b, to) - Math.max(a, from));
  const connect = overlap(start, ready);
  if (connect <= 0 && !(start >= from && ready <= to)) return undefined;
  return { connect, ssl: handshake === undefined ? -1 : overlap(handshake, ready) };
}

function startedDateTime(startedAt: string | null, t: number): string {
  const base = startedAt ? Date.parse(startedAt) : NaN;
  return new Date((Number.isFinite(base) ? base : DEFAULT_EPOCH_MS) + t).toISOString();
}

/** One finished request as a HAR entry; undefined while it is in flight at the cursor. */
export function harEntry(store: EventStoreImpl, summary: RequestSummary, cursor: number): HarEntry | undefined {
  if (!summary.done || summary.endT === undefined) return undefined;
  const request = requestMessage(store, summary, cursor);
  const response = responseMessage(store, summary, cursor);
  if (!request) return undefined;

  const t0 = summary.startT;
  const end = Math.max(t0, summary.endT);
  const clamp = (t: number | undefined, lo: number) => Math.min(end, Math.max(lo, t ?? lo));
  const attempt = answeringAttempt(summary);
  const actor = attempt?.actor;
  // The first byte of the response the client got: the answering attempt's headers, else
  // the stream's own (a local reply) as it starts encoding.
  let firstByte: number | undefined;
  if (attempt?.status !== undefined && actor) {
    for (const i of store.eventsOfActor(actor)) {
      if (i > cursor) break;
      if (store.factAt(i) === 'upstream.response_headers') firstByte = store.tAt(i);
    }
  }
  const streamEvent = store.eventsOfRequest(summary.stream).find((i) => store.machineAt(i) === 'stream');
  firstByte ??= (streamEvent !== undefined ? enteredAt(store, store.actorAt(streamEvent), 'encoding_headers', cursor) : undefined) ?? end;
  const sendingAt = actor ? enteredAt(store, actor, 'sending', cursor) : undefined;
  const sentAt = actor && sendingAt !== undefined ? (enteredAt(store, actor, 'awaiting_headers', cursor) ?? attempt?.endT) : undefined;

  const c1 = clamp(sendingAt ?? firstByte, t0);
  const c2 = clamp(sentAt ?? c1, c1);
  const c3 = clamp(firstByte, c2);
  const attemptStart = attempt ? Math.min(c1, clamp(attempt.startT, t0)) : c1;
  const link = attempt && sendingAt !== undefined ? connectOf(store, summary, attempt, attemptStart, c1, cursor) : undefined;
  const connect = link ? Math.min(link.connect, c1 - t0) : -1;
  const blocked = c1 - t0 - Math.max(0, connect);
  const firstAttemptStart = summary.attempts[0] ? Math.min(attemptStart, clamp(summary.attempts[0].startT, t0)) : attemptStart;

  const timings: HarTimings = {
    blocked: round(blocked),
    dns: -1,
    connect: connect < 0 ? -1 : round(connect),
    send: round(c2 - c1),
    wait: round(c3 - c2),
    receive: round(end - c3),
    ssl: link && link.ssl >= 0 ? round(Math.min(link.ssl, connect)) : -1,
  };
  const time = round(timings.blocked + Math.max(0, timings.connect) + timings.send + timings.wait + timings.receive);

  const status = response?.status ?? 0;
  const responseHeaders = response?.headers ?? [];
  const contentType = responseHeaders.find(([k]) => k === 'content-type')?.[1] ?? (response?.body ? 'text/plain' : 'x-unknown');
  const bodySize = response?.bodyBytes ?? -1;
  const content: HarEntry['response']['content'] = { size: Math.max(0, bodySize), mimeType: contentType };
  if (response?.body) content.text = response.body;

  const entry: HarEntry = {
    startedDateTime: startedDateTime(store.startedAt, t0),
    time,
    request: {
      method: request.method,
      url: requestUrl(request),
      httpVersion: request.protocol,
      cookies: cookiesOf(request.headers.find(([k]) => k === 'cookie')?.[1]),
      headers: [{ name: 'host', value: request.authority }, ...request.headers.map(([name, value]) => ({ name, value }))],
      queryString: queryOf(request.path),
      headersSize: -1,
      bodySize: request.bodyBytes ?? (request.hasBody ? -1 : 0),
    },
    response: {
      status,
      statusText: knownReasonPhrase(status) ?? '',
      httpVersion: request.protocol,
      cookies: setCookiesOf(responseHeaders),
      headers: responseHeaders.map(([name, value]) => ({ name, value })),
      content,
      redirectURL: responseHeaders.find(([k]) => k === 'location')?.[1] ?? '',
      headersSize: -1,
      bodySize,
    },
    cache: {},
    timings,
    connection: String(summary.cx),
    _proxyscope: {
      stream: summary.stream,
      listener: summary.listener,
      attempts: summary.attempts.map((a) => {
        const out: HarEntry['_proxyscope']['attempts'][number] = { n: a.n, state: a.state, startOffset: round(a.startT - t0) };
        if (a.host !== undefined) out.host = a.host;
        if (a.ucx !== undefined) out.ucx = a.ucx;
        if (a.status !== undefined) out.status = a.status;
        if (a.reset !== undefined) out.reset = a.reset;
        if (a.endT !== undefined) out.time = round(a.endT - a.startT);
        return out;
      }),
      blocked: {
        beforeUpstream: round(firstAttemptStart - t0),
        earlierAttempts: round(attemptStart - firstAttemptStart),
        poolWait: round(Math.max(0, c1 - attemptStart - Math.max(0, connect))),
      },
    },
  };
  if (!response) entry.response.comment = 'no response status in the trace';
  else if (response.local) entry.response.comment = 'a local reply of the proxy: its headers are not in the trace';
  if (request.hasBody) entry.request.comment = 'the trace holds no request bodies';
  const host = attempt?.host;
  if (host) entry.serverIPAddress = hostOnly(host);
  const p = entry._proxyscope;
  if (summary.vhost !== undefined) p.vhost = summary.vhost;
  if (summary.route !== undefined) p.route = summary.route;
  if (summary.cluster !== undefined) p.cluster = summary.cluster;
  if (summary.flags !== undefined) p.flags = summary.flags;
  if (summary.localReply) p.localReply = { ...summary.localReply };
  return entry;
}

/** A HAR log of `requests` (summaries as of `cursor`), in their order. */
export function buildHar(store: EventStoreImpl, requests: readonly RequestSummary[], cursor: number): HarLog {
  const entries: HarEntry[] = [];
  let inFlight = 0;
  for (const r of requests) {
    const entry = harEntry(store, r, cursor);
    if (entry) entries.push(entry);
    else inFlight++;
  }
  const log: HarLog['log'] = { version: '1.2', creator: { name: 'ProxyScope', version: UI_VERSION }, entries };
  if (inFlight > 0) log.comment = `${inFlight} request${inFlight === 1 ? '' : 's'} still in flight at the cursor ${inFlight === 1 ? 'was' : 'were'} left out`;
  return { log };
}

/** `proxyscope-<what>-<start time>.har`, safe as a file name on any system. */
export function harFileName(store: EventStoreImpl, what: string): string {
  const stamp = startedDateTime(store.startedAt, 0).replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  return `proxyscope-${what.replace(/[^A-Za-z0-9_-]+/g, '-')}-${stamp}.har`;
}
