import type { EventStoreImpl } from './event-store';
import type { AttemptSummary, RequestSummary } from './types';

/**
 * One request's HTTP messages as the trace tells them, as of a cursor: the request as the
 * downstream codec parsed it (`codec.request_headers`), and the response the client got
 * (the answering attempt's `upstream.response_headers`, or the proxy's `stream.local_reply`),
 * with the byte counts of the access log. HAR export, Copy as cURL and Resend read it.
 * The trace never holds a request body, only that there was one and its size.
 */

export interface RequestMessage {
  method: string;
  /** from the HCM's x-forwarded-proto, else http */
  scheme: 'http' | 'https';
  authority: string;
  /** origin-form, with the query */
  path: string;
  /** `HTTP/1.1` */
  protocol: string;
  /** as parsed, lower-case names, without the Host header (that is `authority`) */
  headers: Array<[name: string, value: string]>;
  /** the request had a body (its headers did not end the stream) */
  hasBody: boolean;
  /** request body bytes (access log), when known */
  bodyBytes?: number;
}

export interface ResponseMessage {
  status: number;
  headers: Array<[name: string, value: string]>;
  /** the proxy answered itself (direct response, redirect, no route, upstream failure...) */
  local: boolean;
  /** a local reply's body, which the trace keeps */
  body?: string;
  /** response body bytes sent downstream (access log), when known */
  bodyBytes?: number;
}

function entriesOf(headers: unknown): Array<[string, string]> {
  if (!headers || typeof headers !== 'object') return [];
  return Object.entries(headers as Record<string, unknown>).map(([k, v]) => [k, String(v)]);
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The request's own events at or before `cursor` (a mirrored copy's are not the request's). */
function ownEvents(store: EventStoreImpl, summary: RequestSummary, cursor: number): number[] {
  return store.eventsOfRequest(summary.stream).filter((i) => i <= cursor && !store.actorAt(i).includes('/shadow:'));
}

export function requestMessage(store: EventStoreImpl, summary: RequestSummary, cursor: number): RequestMessage | undefined {
  let data: Record<string, unknown> | null = null;
  let bodyBytes: number | undefined;
  for (const i of ownEvents(store, summary, cursor)) {
    const fact = store.factAt(i);
    if (fact === 'codec.request_headers' && data === null) data = store.dataAt(i);
    else if (fact === 'stream.access_log') bodyBytes = num(store.dataAt(i)?.bytesReceived);
  }
  if (!data) return undefined;
  const headers = entriesOf(data.headers).filter(([k]) => k !== 'host' && !k.startsWith(':'));
  const proto = headers.find(([k]) => k === 'x-forwarded-proto')?.[1];
  const message: RequestMessage = {
    method: str(data.method) ?? summary.method ?? 'GET',
    scheme: proto === 'https' ? 'https' : 'http',
    authority: str(data.authority) ?? summary.authority ?? '',
    path: str(data.path) ?? summary.path ?? '/',
    protocol: str(data.protocol) ?? 'HTTP/1.1',
    headers,
    hasBody: data.endStream === false || (bodyBytes ?? 0) > 0,
  };
  if (bodyBytes !== undefined) message.bodyBytes = bodyBytes;
  return message;
}

/** The attempt whose response the client got, or the last one (a request that failed upstream). */
export function answeringAttempt(summary: RequestSummary): AttemptSummary | undefined {
  const { attempts } = summary;
  for (let k = attempts.length - 1; k >= 0; k--) if (attempts[k]!.status !== undefined && attempts[k]!.state === 'done') return attempts[k];
  return attempts[attempts.length - 1];
}

export function responseMessage(store: EventStoreImpl, summary: RequestSummary, cursor: number): ResponseMessage | undefined {
  const answering = answeringAttempt(summary);
  let upstream: Record<string, unknown> | null = null;
  let local: Record<string, unknown> | null = null;
  let bodyBytes: number | undefined;
  for (const i of ownEvents(store, summary, cursor)) {
    const fact = store.factAt(i);
    if (fact === 'upstream.response_headers' && store.actorAt(i) === answering?.actor) upstream = store.dataAt(i);
    else if (fact === 'stream.local_reply') local = store.dataAt(i);
    else if (fact === 'stream.access_log') bodyBytes = num(store.dataAt(i)?.bytesSent);
  }
  // A local reply after an upstream answer replaced it (a reset mid-body, a timeout).
  const source = local ?? upstream;
  const status = num(source?.status) ?? summary.status;
  if (status === undefined) return undefined;
  const message: ResponseMessage = { status, headers: local ? entriesOf(local.headers) : entriesOf(upstream?.headers), local: local !== null };
  const body = str(local?.body);
  if (body !== undefined) message.body = body;
  if (bodyBytes !== undefined) message.bodyBytes = bodyBytes;
  else if (body !== undefined) message.bodyBytes = new TextEncoder().encode(body).length;
  return message;
}

/** The request's URL: scheme, authority and origin-form path (an absolute-form target as it came). */
export function requestUrl(request: RequestMessage): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(request.path)) return request.path;
  return `${request.scheme}://${request.authority}${request.path.startsWith('/') || request.path.startsWith('*') ? request.path : `/${request.path}`}`;
}

/** host:port of the listener the request came in on (0.0.0.0 and :: as loopback, where a client on this machine reaches it). */
export function listenerAddress(store: EventStoreImpl, listener: string): string | undefined {
  const address = store.topology?.listeners.find((l) => l.name === listener)?.address;
  if (!address) return undefined;
  return address.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
}
