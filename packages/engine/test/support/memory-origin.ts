/**
 * An HTTP/1 origin on the in-memory transport, for tests that drive time with a
 * ManualClock: every upstream connect succeeds (on the next microtask) and each request is
 * answered by `respond`, or left hanging. It parses just enough HTTP/1 (content-length and
 * chunked request bodies) to tell requests apart.
 */
import { ManualClock, ProxyEngine, type Bootstrap, type EngineOptions } from '../../src/index';
import type { ConnectCallbacks } from '../../src/seams/transport';
import { MemoryConnection, MemoryTransport } from './memory-transport';

export interface OriginRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** which upstream connection (1, 2, ...) it came on */
  connection: number;
}

/** A raw HTTP/1 response, or undefined to never answer. */
export type Responder = (req: OriginRequest) => string | undefined;

export const ok = (body = 'ok'): string => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;

export class MemoryOrigin {
  readonly requests: OriginRequest[] = [];
  /** the origin's end of each connection the proxy opened */
  readonly connections: MemoryConnection[] = [];

  constructor(public respond: Responder = () => ok()) {}

  readonly connect = (address: string, port: number, callbacks: ConnectCallbacks) => {
    const [proxySide, originSide] = MemoryConnection.pair(['127.0.0.1', 50000 + this.connections.length], [address, port]);
    this.connections.push(originSide);
    const id = this.connections.length;
    let buffer = '';
    originSide.setHandlers({
      onData: (chunk) => {
        buffer += new TextDecoder().decode(chunk);
        for (;;) {
          const parsed = parseRequest(buffer);
          if (!parsed) return;
          buffer = buffer.slice(parsed.length);
          const req = { ...parsed.request, connection: id };
          this.requests.push(req);
          const answer = this.respond(req);
          if (answer !== undefined) originSide.write(answer);
        }
      },
      onEnd: () => originSide.destroy(),
      onClose: () => {},
      onDrain: () => {},
    });
    queueMicrotask(() => callbacks.onConnect(proxySide));
    return { cancel: () => {} };
  };

  /** origin connections still open */
  get open(): number {
    return this.connections.filter((c) => !c.closed).length;
  }
}

function parseRequest(text: string): { request: Omit<OriginRequest, 'connection'>; length: number } | undefined {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const [line, ...lines] = text.slice(0, headEnd).split('\r\n');
  const [method = '', path = ''] = line!.split(' ');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let pos = headEnd + 4;
  let body = '';
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (text.length < pos + n) return undefined;
    body = text.slice(pos, pos + n);
    pos += n;
  } else if ((headers['transfer-encoding'] ?? '').includes('chunked')) {
    for (;;) {
      const lineEnd = text.indexOf('\r\n', pos);
      if (lineEnd < 0) return undefined;
      const size = parseInt(text.slice(pos, lineEnd), 16);
      if (text.length < lineEnd + 2 + size + 2) return undefined;
      body += text.slice(lineEnd + 2, lineEnd + 2 + size);
      pos = lineEnd + 2 + size + 2;
      if (size === 0) break;
    }
  }
  return { request: { method, path, headers, body }, length: pos };
}

/** Drain queued microtasks (the in-memory transport delivers bytes on them). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

export interface SimulatedProxy {
  engine: ProxyEngine;
  clock: ManualClock;
  transport: MemoryTransport;
  origin: MemoryOrigin;
  logs: string[];
  /** a stat's value, 0 when never created */
  stat(name: string): number;
  /** a client connection to the listener on 127.0.0.1:10000 */
  dial(): MemoryConnection;
  /** advance the clock and let bytes move */
  advance(ms: number): Promise<void>;
}

/** A ProxyEngine on a ManualClock and the in-memory transport; the config's listener must be 127.0.0.1:10000. */
export async function startSimulated(
  config: Bootstrap,
  origin = new MemoryOrigin(),
  seed = 1,
  /** more engine options, e.g. a compression provider */
  options: Partial<EngineOptions> = {},
): Promise<SimulatedProxy> {
  const clock = new ManualClock();
  const transport = new MemoryTransport(origin.connect);
  const logs: string[] = [];
  const engine = new ProxyEngine({ config, transport, clock, seed, accessLog: (line) => logs.push(line), ...options });
  await engine.start();
  return {
    engine,
    clock,
    transport,
    origin,
    logs,
    stat: (name) => engine.stats.valueOf(name) ?? 0,
    dial: () => transport.dial('127.0.0.1', 10000),
    advance: async (ms) => {
      await settle();
      clock.advance(ms);
      await settle();
    },
  };
}
