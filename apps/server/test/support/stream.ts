/**
 * Helpers for stream tests on real sockets (127.0.0.1): a proxy with its admin server and
 * event hub in this process, and a `ws` client that validates every server message and
 * decodes every batch. Each helper registers its cleanup with `onTestFinished`.
 */
import type { Socket } from 'node:net';
import { ENGINE_VERSION, type Bootstrap } from '@proxyscope/engine';
import { decodeEventBatch, parseServerMessage, TRACE_FORMAT, TRACE_FORMAT_VERSION, type ServerMessage, type TraceEvent } from '@proxyscope/protocol';
import { onTestFinished } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import { singleClusterConfig, startProxy, startUpstream, type RunningProxy, type Upstream, type UpstreamOptions } from '../../../../packages/engine/test/support/upstreams';
import { loadBootstrap } from '@proxyscope/engine/config';
import { startAdmin, type AdminOptions, type AdminServer } from '../../src/admin/admin-server';
import { demoConfigYaml } from '../../src/demo/demo-config';
import { DEMO_HOSTS, demoPorts, startDemoHosts, type DemoHost, type DemoHostSpec } from '../../src/demo/upstreams';
import { RecordingManager } from '../../src/recording/recordings';
import { EventHub, type EventHubOptions } from '@proxyscope/serve';
import { tempDir as cliTempDir, waitFor } from './cli-process';

export interface Live {
  proxy: RunningProxy;
  upstream: Upstream;
  hub: EventHub;
  admin: AdminServer;
  recordings: RecordingManager;
  base: string;
  wsUrl: string;
  dir: string;
}

/** A temp directory removed when the test finishes. */
export const tempDir = (): string => cliTempDir('proxyscope-stream-');

/** Upstream + proxy + hub (on the engine's tracer) + admin with the stream and recordings. */
export async function startLive(
  options: {
    upstream?: UpstreamOptions;
    config?: (upstreamPort: number) => Bootstrap;
    hub?: Omit<EventHubOptions, 'tracer'>;
    admin?: Partial<Pick<AdminOptions, 'security' | 'stream'>>;
  } = {},
): Promise<Live> {
  const upstream = await startUpstream(options.upstream);
  const proxy = await startProxy(options.config ? options.config(upstream.port) : singleClusterConfig([upstream.port]), { trace: false });
  const hub = new EventHub({ tracer: proxy.engine.tracer, ...options.hub });
  const dir = tempDir();
  const recordings = new RecordingManager(
    hub,
    () => ({ format: TRACE_FORMAT, version: TRACE_FORMAT_VERSION, engineVersion: ENGINE_VERSION, startedAt: new Date(proxy.engine.startedAt).toISOString(), topology: proxy.engine.topology() }),
    dir,
  );
  const admin = await startAdmin({
    host: '127.0.0.1',
    port: 0,
    engine: proxy.engine,
    rawConfig: {},
    commandLine: [],
    hub,
    recordings,
    ...options.admin,
  });
  onTestFinished(async () => {
    await admin.close();
    await recordings.close();
    hub.close();
  });
  return { proxy, upstream, hub, admin, recordings, base: `http://127.0.0.1:${admin.port}`, wsUrl: `ws://127.0.0.1:${admin.port}/ws`, dir };
}

export interface DemoLive {
  proxy: RunningProxy;
  hosts: DemoHost[];
  host(name: string): DemoHost;
  hub: EventHub;
  admin: AdminServer;
  wsUrl: string;
}

/**
 * The built-in demo in this process: its six upstream hosts (same names and clusters, but
 * no random errors and 5 ms latency unless `hosts` says otherwise), the demo's Envoy
 * config through the YAML loader, the proxy, and the admin server with the demo hosts.
 */
export async function startDemoLive(options: { hosts?: DemoHostSpec[]; admin?: Partial<Pick<AdminOptions, 'stream'>> } = {}): Promise<DemoLive> {
  const specs = options.hosts ?? DEMO_HOSTS.map((h) => ({ ...h, behaviour: { ...h.behaviour, latencyMs: 5, errorRate: 0 } }));
  const hosts = await startDemoHosts(specs);
  onTestFinished(async () => {
    await Promise.all(hosts.map((h) => h.close()));
  });
  const { config } = loadBootstrap(demoConfigYaml({ listener: 0, ...demoPorts(hosts) }), '<built-in demo>');
  const proxy = await startProxy(config, { trace: false });
  const hub = new EventHub({ tracer: proxy.engine.tracer });
  const admin = await startAdmin({ host: '127.0.0.1', port: 0, engine: proxy.engine, rawConfig: {}, commandLine: [], hub, demoHosts: hosts, ...options.admin });
  onTestFinished(async () => {
    await admin.close();
    hub.close();
  });
  const host = (name: string) => {
    const found = hosts.find((h) => h.name === name);
    if (!found) throw new Error(`no demo host ${name}`);
    return found;
  };
  return { proxy, hosts, host, hub, admin, wsUrl: `ws://127.0.0.1:${admin.port}/ws` };
}

/** Polls until `probe` returns something (bounded). */
export const until = <T>(what: string, probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> => waitFor(what, probe, timeoutMs, 5);

/** A stream client: every message validated against the protocol, every batch decoded. */
export class WsProbe {
  readonly messages: ServerMessage[] = [];
  /** decoded events, in arrival order */
  readonly events: TraceEvent[] = [];
  closed: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const message = parseServerMessage(data.toString('utf8'));
      this.messages.push(message);
      if (message.type === 'events') for (const e of decodeEventBatch(message)) this.events.push(e);
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  static async connect(url: string, options: ClientOptions = {}): Promise<WsProbe> {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    const probe = new WsProbe(ws);
    onTestFinished(() => ws.terminate());
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return probe;
  }

  /** Connects and resolves with the HTTP status the server refused the upgrade with. */
  static refusedStatus(url: string, options: ClientOptions = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once('open', () => {
        ws.terminate();
        reject(new Error('the upgrade was accepted'));
      });
      ws.once('error', () => {});
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  of<T extends ServerMessage['type']>(type: T): Array<Extract<ServerMessage, { type: T }>> {
    return this.messages.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }

  /** Waits for the next message of `type` after the `after`-th message. */
  async next<T extends ServerMessage['type']>(type: T, after = this.messages.length, timeoutMs = 5000): Promise<Extract<ServerMessage, { type: T }>> {
    return until(`a ${type} message`, () => this.messages.slice(after).find((m): m is Extract<ServerMessage, { type: T }> => m.type === type), timeoutMs);
  }

  /** Sends `message` and waits for the ack or error that answers it (by id). */
  async request(message: Record<string, unknown> & { id: string | number }): Promise<ServerMessage> {
    const from = this.messages.length;
    this.send(message);
    return until(`a reply to ${message.id}`, () => this.messages.slice(from).find((m) => (m.type === 'ack' || m.type === 'error') && m.id === message.id));
  }

  get socket(): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket;
  }

  /** Stop reading: the peer's writes back up into its socket buffers. */
  stall(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}
