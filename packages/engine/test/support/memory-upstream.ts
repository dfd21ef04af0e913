/**
 * An HTTP/1 origin on the in-memory transport, answering on a ManualClock: each request
 * is recorded with its index and arrival time, and answered by `answer` (or left hanging).
 * `memoryTransportTo` routes upstream connects by port; any other port is refused.
 *
 * (Reconstructed by the filters/timeouts work after it overwrote this file by mistake;
 * the API is the one retry-timing.test.ts uses.)
 */
import type { ManualClock } from '../../src/seams/clock';
import type { ConnectCallbacks, PendingConnect } from '../../src/seams/transport';
import { MemoryConnection, MemoryTransport } from './memory-transport';

export interface MemoryRequest {
  /** 0 for the first request this origin saw, then 1, 2, ... */
  index: number;
  /** clock time when it arrived (its head, with `onHead`; else its last byte) */
  at: number;
  method: string;
  path: string;
  /** lower-cased names */
  headers: Record<string, string>;
  body: string;
  /** which connection (0, 1, ...) it came on */
  connection: number;
}

/** `'hang'` never answers; otherwise a response with a content-length body (default empty). */
export type MemoryAnswer = 'hang' | { status: number; headers?: Record<string, string>; body?: string };

export interface MemoryUpstreamOptions {
  /** answer as soon as the request head arrives, before its body */
  onHead?: boolean;
}

export class MemoryUpstream {
  readonly requests: MemoryRequest[] = [];
  /** clock time at which each connection closed, in the order they closed */
  readonly closedAt: number[] = [];
  readonly connections: MemoryConnection[] = [];

  constructor(
    private readonly clock: ManualClock,
    private readonly answer: (request: MemoryRequest) => MemoryAnswer,
    private readonly options: MemoryUpstreamOptions = {},
  ) {}

  connect(address: string, port: number, callbacks: ConnectCallbacks): PendingConnect {
    const [proxySide, originSide] = MemoryConnection.pair(['127.0.0.1', 40000 + this.connections.length], [address, port]);
    const connection = this.connections.length;
    this.connections.push(originSide);
    let buffer = '';
    /** body bytes of an already-answered request still to skip (onHead) */
    let skip = 0;
    let closed = false;
    const onClosed = (): void => {
      if (closed) return;
      closed = true;
      this.closedAt.push(this.clock.now());
    };
    originSide.setHandlers({
      onData: (chunk) => {
        buffer += new TextDecoder('latin1').decode(chunk);
        for (;;) {
          if (skip > 0) {
            const n = Math.min(skip, buffer.length);
            buffer = buffer.slice(n);
            skip -= n;
            if (skip > 0) return;
          }
          const head = parseHead(buffer);
          if (!head) return;
          const bodyLength = head.contentLength;
          if (this.options.onHead) {
            const available = Math.min(bodyLength, buffer.length - head.headLength);
            const request = this.record(head, buffer.slice(head.headLength, head.headLength + available), connection);
            buffer = buffer.slice(head.headLength + available);
            skip = bodyLength - available;
            this.reply(originSide, request);
            continue;
          }
          const body = head.chunked ? readChunked(buffer, head.headLength) : buffer.length >= head.headLength + bodyLength ? { body: buffer.slice(head.headLength, head.headLength + bodyLength), end: head.headLength + bodyLength } : undefined;
          if (!body) return;
          buffer = buffer.slice(body.end);
          this.reply(originSide, this.record(head, body.body, connection));
        }
      },
      onEnd: () => {
        onClosed();
        originSide.destroy();
      },
      onClose: onClosed,
      onDrain: () => {},
    });
    queueMicrotask(() => callbacks.onConnect(proxySide));
    return { cancel: () => {} };
  }

  private record(head: ParsedHead, body: string, connection: number): MemoryRequest {
    const request: MemoryRequest = { index: this.requests.length, at: this.clock.now(), method: head.method, path: head.path, headers: head.headers, body, connection };
    this.requests.push(request);
    return request;
  }

  private reply(origin: MemoryConnection, request: MemoryRequest): void {
    const answer = this.answer(request);
    if (answer === 'hang') return;
    const body = answer.body ?? '';
    let text = `HTTP/1.1 ${answer.status} X\r\n`;
    for (const [name, value] of Object.entries(answer.headers ?? {})) text += `${name}: ${value}\r\n`;
    text += `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    origin.write(text);
  }
}

/** A MemoryTransport whose connects reach the upstream listening on that port; other ports refuse. */
export function memoryTransportTo(upstreams: Map<number, MemoryUpstream>): MemoryTransport {
  return new MemoryTransport((address, port, callbacks) => {
    const upstream = upstreams.get(port);
    if (upstream) return upstream.connect(address, port, callbacks);
    let cancelled = false;
    queueMicrotask(() => {
      if (!cancelled) callbacks.onError({ code: 'ECONNREFUSED', message: `connect ECONNREFUSED ${address}:${port}` });
    });
    return { cancel: () => void (cancelled = true) };
  });
}

interface ParsedHead {
  method: string;
  path: string;
  headers: Record<string, string>;
  headLength: number;
  contentLength: number;
  chunked: boolean;
}

function parseHead(text: string): ParsedHead | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [line, ...lines] = text.slice(0, end).split('\r\n');
  const [method = '', path = ''] = line!.split(' ');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const chunked = (headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked');
  return { method, path, headers, headLength: end + 4, contentLength: chunked ? 0 : Number(headers['content-length'] ?? 0), chunked };
}

function readChunked(text: string, start: number): { body: string; end: number } | undefined {
  let pos = start;
  let body = '';
  for (;;) {
    const lineEnd = text.indexOf('\r\n', pos);
    if (lineEnd < 0) return undefined;
    const size = parseInt(text.slice(pos, lineEnd), 16);
    if (text.length < lineEnd + 2 + size + 2) return undefined;
    body += text.slice(lineEnd + 2, lineEnd + 2 + size);
    pos = lineEnd + 2 + size + 2;
    if (size === 0) return { body, end: pos };
  }
}
