/**
 * Benchmark event source: the server's real stream path (EventHub -> StreamClient queue
 * -> compact batches -> ws) on an admin-style HTTP server, fed with synthetic events at a
 * fixed rate instead of by the engine, to measure how many events/s the stream carries to
 * one client. Run by bench/run.ts as a child process:
 *
 *   node --import tsx bench/ws-source.ts RATE SECONDS
 *
 * Prints `LISTENING 127.0.0.1:PORT`, waits for one WebSocket client on /ws, feeds
 * RATE events/s for SECONDS, then prints `DONE {"produced":N,"seconds":S}` and keeps
 * serving until killed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WS_PROTOCOL_VERSION, type ControlAction, type Subscription, type TraceEvent } from '@proxyscope/protocol';
import { AdminSecurity } from '../apps/server/src/admin/security.ts';
import { EventHub, type StreamClient } from '@proxyscope/serve';
import { StreamEndpoint, type StreamSource } from '../apps/server/src/stream/ws-endpoint.ts';
import { SyntheticTrace } from './synthetic-events.ts';

const rate = Number(process.argv[2] ?? 250_000);
const seconds = Number(process.argv[3] ?? 5);

const hub = new EventHub({ historySize: 0 });
let started: (() => void) | undefined;
const firstClient = new Promise<void>((resolve) => (started = resolve));

/** The live source's fan-out without an engine behind it. */
class BenchSource implements StreamSource {
  readonly mode = 'live' as const;
  readonly batchMs = hub.batchMs;
  readonly clients = new Set<StreamClient>();
  constructor() {
    hub.addConsumer((events) => {
      for (const c of this.clients) c.offer(events);
    });
  }
  hello() {
    return { engineVersion: `bench/${WS_PROTOCOL_VERSION}`, startedAt: new Date().toISOString(), topology: { workers: 1, listeners: [], routeConfigs: [], clusters: [] }, history: { events: 0 }, controls: [] };
  }
  attach(client: StreamClient): void {
    this.clients.add(client);
    started?.();
  }
  detach(client: StreamClient): void {
    this.clients.delete(client);
  }
  resubscribe(_c: StreamClient, _s: Subscription | null, _h: boolean): void {}
  lastSeq(): number {
    return hub.lastFlushedSeq;
  }
  control(action: ControlAction): Record<string, unknown> {
    throw new Error(`${action}: not in the benchmark`);
  }
}

const security = new AdminSecurity({});
const endpoint = new StreamEndpoint({ source: new BenchSource(), security, heartbeatMs: 0 });
const server = http.createServer((_req, res) => res.writeHead(404).end());
server.on('upgrade', (req, socket, head) => endpoint.handleUpgrade(req, socket, head, new URL(req.url ?? '/', 'http://bench')));
server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as AddressInfo;
  security.port = addr.port;
  process.stdout.write(`LISTENING ${addr.address}:${addr.port}\n`);
});

await firstClient;
const trace = new SyntheticTrace();
const t0 = performance.now();
const end = t0 + seconds * 1000;
// Produce what is due every turn of the event loop, in slices, so sockets get written between.
await new Promise<void>((resolve) => {
  const step = () => {
    const now = performance.now();
    const due = Math.min(Math.floor(((Math.min(now, end) - t0) / 1000) * rate) - trace.produced, 8192);
    for (let i = 0; i < due; i++) hub.sink(trace.next() as TraceEvent);
    if (now >= end) return resolve();
    setImmediate(step);
  };
  step();
});
hub.flush();
process.stdout.write(`DONE ${JSON.stringify({ produced: trace.produced, seconds: (performance.now() - t0) / 1000 })}\n`);

const stop = () => {
  endpoint.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
