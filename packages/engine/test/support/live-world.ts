/**
 * The live half of the faithfulness tests (sim-faithfulness.test.ts): upstream hosts on
 * 127.0.0.1 scripted to fail the way a simulated host's HostBehaviour says, the real
 * engine on the node transport and the real clock, and a node:http client sending
 * requests one after another. What a run decided is reduced to a `RunRecord`, the same
 * shape the simulated half produces, so the two can be compared with toEqual.
 *
 * Every server registers its own cleanup with `onTestFinished`: call these from a test.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import type { TraceEvent } from '@proxyscope/protocol';
import { expect, onTestFinished } from 'vitest';
import { loadBootstrap } from '../../src/config/load';
import type { Bootstrap } from '../../src/config/types';
import { ProxyEngine } from '../../src/engine';
import type { StreamInfo } from '../../src/http/stream-info';
import type { StatsStore } from '../../src/stats/stats';
import { formatResponseFlags } from '../../src/stats/response-flags';
import { nodeTransport } from '../../src/transport/node-transport';
import { closedPort, eventually, LOOPBACK } from './upstreams';

/** Every answering host, live or simulated, sends a body of this many bytes. */
export const BODY_BYTES = 16;
const BODY = Buffer.alloc(BODY_BYTES, 0x61);

/** How one live host behaves; each has a HostBehaviour twin in the test. */
export type HostScript =
  | { kind: 'ok' }
  /** always this status */
  | { kind: 'status'; status: number }
  /** the response head, then a TCP RST instead of the body */
  | { kind: 'reset-after-headers' }
  /** a TCP RST as soon as the request arrives, before any response byte */
  | { kind: 'reset-before-response' }
  /** nothing listens on the port */
  | { kind: 'refuse' }
  /** reads the request, never answers */
  | { kind: 'hang' }
  /** the head at once, the body `bodyDelayMs` later */
  | { kind: 'slow-body'; bodyDelayMs: number };

export interface LiveHost {
  port: number;
  /** requests whose head reached this host */
  requests(): number;
}

export async function startScriptedHost(script: HostScript): Promise<LiveHost> {
  if (script.kind === 'refuse') {
    const port = await closedPort();
    return { port, requests: () => 0 };
  }
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  // A raw server: the faults are about what reaches the wire and when, which node:http would smooth over.
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    serveRequests(socket, () => {
      requests++;
      const head = (status: number): string => `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Scripted'}\r\ncontent-length: ${BODY_BYTES}\r\n\r\n`;
      switch (script.kind) {
        case 'ok':
          socket.write(head(200) + BODY.toString('latin1'), 'latin1');
          return;
        case 'status':
          socket.write(head(script.status) + BODY.toString('latin1'), 'latin1');
          return;
        case 'reset-after-headers':
          // The RST follows the head once the head is in the kernel: the proxy reads the head first, as in the simulation.
          socket.write(head(200), 'latin1', () => socket.resetAndDestroy());
          return;
        case 'reset-before-response':
          socket.resetAndDestroy();
          return;
        case 'hang':
          return;
        case 'slow-body': {
          socket.write(head(200), 'latin1');
          const timer = setTimeout(() => {
            timers.delete(timer);
            if (!socket.destroyed) socket.write(BODY);
          }, script.bodyDelayMs);
          timers.add(timer);
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  onTestFinished(async () => {
    for (const timer of timers) clearTimeout(timer);
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port, requests: () => requests };
}

/** Calls `onRequest` for every request head on a keep-alive connection (the requests here have no body). */
function serveRequests(socket: net.Socket, onRequest: () => void): void {
  let buffered = '';
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
      buffered = buffered.slice(end + 4);
      onRequest();
    }
  });
}

// ---------------------------------------------------------------------------------------
// What a run decided

/** One request, as the engine decided it and the client saw it. */
export interface RequestDecision {
  /** the engine's response code (StreamInfo::responseCode) */
  responseCode: number;
  /** Envoy's short form, '-' for none */
  flags: string;
  /** the host of the last attempt, address:port ('' = none) */
  upstreamHost: string;
  attempts: number;
  /** every host the load balancer picked for it, in order (lb.host_selected) */
  hostsTried: string[];
  /** the client read a whole response, the connection went before one came, or the client gave up waiting */
  client: 'response' | 'reset' | 'timeout';
  /** the status the client read (0 without a whole response) */
  clientStatus: number;
}

export interface RunRecord {
  requests: RequestDecision[];
  /** counters and gauges that are not 0, by name (bytes aside) */
  stats: Record<string, number>;
  /** requests each upstream (by port) saw */
  hostRequests: Record<number, number>;
}

export type ClientView = Pick<RequestDecision, 'client' | 'clientStatus'>;

/**
 * Joins the engine's StreamInfo (one per request, in completion order), the trace's host
 * picks and the client's views, for requests sent one at a time.
 */
export function decisions(streams: readonly StreamInfo[], events: readonly TraceEvent[], clients: readonly ClientView[]): RequestDecision[] {
  // Each request is its own stream; sequential requests make first-seen order the send order.
  const picks = new Map<string, string[]>();
  for (const event of events) {
    if (event.type !== 'fact' || event.fact !== 'lb.host_selected' || event.machine !== 'router') continue;
    const key = `${event.ids.worker}/${event.ids.cx}/${event.ids.stream}`;
    let list = picks.get(key);
    if (!list) picks.set(key, (list = []));
    list.push(String(event.data.host));
  }
  const tried = [...picks.values()];
  expect(streams).toHaveLength(clients.length);
  expect(tried).toHaveLength(clients.length);
  return streams.map((info, i) => ({
    responseCode: info.responseCode,
    flags: info.responseFlags.size ? formatResponseFlags(info.responseFlags) : '-',
    upstreamHost: info.upstreamHost ?? '',
    attempts: info.attemptCount,
    hostsTried: tried[i]!,
    ...clients[i]!,
  }));
}

/**
 * Every counter and gauge that is not 0, but those measuring bytes: the live client and
 * hosts send other headers than the simulated ones, so byte counts differ and say nothing
 * about decisions.
 */
export function counters(stats: StatsStore): Record<string, number> {
  const out: Record<string, number> = {};
  const { counters, gauges } = stats.snapshot();
  for (const c of [...counters, ...gauges]) if (!/bytes/.test(c.name) && c.value !== 0) out[c.name] = c.value;
  return out;
}

// ---------------------------------------------------------------------------------------
// The live run

/** How the client connects: a connection per request (`connection: close`), or one keep-alive connection for all. */
export type Downstream = 'per_request' | 'keep_alive';

export interface LiveRunOptions {
  seed: number;
  downstream: Downstream;
  /** requests, sent one after another */
  requests: number;
  authority: string;
  /** the client gives up (destroys its connection) this long after sending, as a traffic source's `timeout` */
  clientTimeoutMs?: number;
}

/** Loads YAML through the real loader; the test fails on any warning. */
export function loadConfig(yaml: string): Bootstrap {
  const { config, warnings } = loadBootstrap(yaml, 'faithfulness.yaml');
  expect(warnings).toEqual([]);
  return config;
}

export async function runLive(yaml: string, hosts: readonly LiveHost[], options: LiveRunOptions): Promise<RunRecord> {
  const streams: StreamInfo[] = [];
  const events: TraceEvent[] = [];
  const engine = new ProxyEngine({
    config: loadConfig(yaml),
    transport: nodeTransport,
    seed: options.seed,
    concurrency: 1,
    onStreamComplete: (info) => streams.push(info),
  });
  engine.tracer.attach((event) => events.push(event));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await engine.stop();
  };
  onTestFinished(stop);
  const bound = await engine.start();
  const address = bound[0]!.address;
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const clients: ClientView[] = [];
  // keep_alive: one connection, opened again only when the proxy closed it (as the simulated client does).
  const agent = options.downstream === 'keep_alive' ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
  onTestFinished(() => void (agent && agent.destroy()));
  for (let i = 0; i < options.requests; i++) {
    clients.push(await sendRequest(port, options.authority, agent, options.clientTimeoutMs));
    // The client can have its answer a moment before the engine finishes the stream.
    await eventually(() => streams.length > i, `stream ${i + 1} to complete`);
  }
  if (agent) agent.destroy();
  // Stats are compared once the world is quiet: every downstream connection closed, no upstream request left.
  const active = (name: string): number => engine.stats.valueOf(name) ?? 0;
  await eventually(() => active('http.ingress_http.downstream_cx_active') === 0 && active('cluster.backend.upstream_rq_active') === 0, 'every downstream connection closed');
  const record: RunRecord = {
    requests: decisions(streams, events, clients),
    stats: counters(engine.stats),
    hostRequests: Object.fromEntries(hosts.map((h) => [h.port, h.requests()])),
  };
  await stop();
  return record;
}

/** One GET; without an agent on a connection of its own (node:http then sends `connection: close`). */
function sendRequest(port: number, authority: string, agent: http.Agent | false, timeoutMs: number | undefined): Promise<ClientView> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (view: ClientView): void => {
      if (settled) return;
      settled = true;
      resolve(view);
    };
    const req = http.request({ host: LOOPBACK, port, method: 'GET', path: '/', headers: { host: authority }, agent }, (res) => {
      res.on('data', () => {});
      res.on('end', () => settle({ client: 'response', clientStatus: res.statusCode ?? 0 }));
      res.on('aborted', () => settle({ client: 'reset', clientStatus: 0 }));
      res.on('error', () => settle({ client: 'reset', clientStatus: 0 }));
      res.on('close', () => settle({ client: 'reset', clientStatus: 0 }));
    });
    req.on('error', () => settle({ client: 'reset', clientStatus: 0 }));
    if (timeoutMs !== undefined) {
      const timer = setTimeout(() => {
        settle({ client: 'timeout', clientStatus: 0 });
        req.destroy();
      }, timeoutMs);
      req.on('close', () => clearTimeout(timer));
    }
    req.end();
  });
}
