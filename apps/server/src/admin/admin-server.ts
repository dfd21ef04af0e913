import { ENGINE_VERSION, renderStatsJson, renderStatsPrometheus, renderStatsText, type ProxyEngine, type StatsRenderOptions, type Bootstrap } from '@proxyscope/engine';
import { WS_PATH } from '@proxyscope/protocol';
import type { DemoHost } from '../demo/upstreams';
import type { RecordingManager } from '../recording/recordings';
import { type ClientLimits, EventHub, LiveSource, type SenderLimits } from '@proxyscope/serve';
import { nodeSendTransport } from '../stream/node-send-transport';
import { StreamEndpoint, type StreamSource } from '../stream/ws-endpoint';
import { json, startAdminHttp, text, type AdminServer as HttpAdminServer, type Endpoint } from './admin-http';
import { renderClustersJson, renderClustersText } from './clusters';
import { renderConfigDump } from './config-dump';
import { renderRuntime } from './runtime';
import { AdminSecurity, type SecurityOptions } from './security';

/**
 * The admin listener, with Envoy's endpoints and formats, the WebSocket event stream on
 * /ws and the recording endpoints. Read-only endpoints answer GET; the ones that change
 * state require POST, as recent Envoy does.
 */
export interface AdminOptions {
  host: string;
  port: number;
  engine: ProxyEngine;
  /** the bootstrap as the user wrote it (parsed YAML), for /config_dump */
  rawConfig: unknown;
  commandLine: string[];
  /** token and extra allowed origins */
  security?: SecurityOptions;
  /** the engine's event hub (made here, on the engine's tracer, if not given) */
  hub?: EventHub;
  /** POST /recording/start, /recording/stop, GET /recording */
  recordings?: RecordingManager;
  stream?: {
    limits?: Partial<ClientLimits>;
    maxMessageBytes?: number;
    /** a `send_request` message may be this large */
    maxSendRequestBytes?: number;
    /** bounds of `send_request` besides the schema's (in flight, response body kept, default timeout) */
    sendRequest?: SenderLimits;
    statsIntervalMs?: number;
    heartbeatMs?: number;
    maxClients?: number;
  };
  /** the built-in demo's upstream hosts: `host_fault` controls them, `hello` lists them */
  demoHosts?: readonly DemoHost[];
  /**
   * A simulation (proxyscope simulate --serve): the stream's source wraps the live one
   * (same hub, clients and step mode; its own hello, clock and host controls), uptime is
   * virtual, and /server_info says what is simulated.
   */
  simulation?: {
    source(live: LiveSource): StreamSource;
    uptimeS(): number;
    serverInfo(): Record<string, unknown>;
  };
}

export interface AdminServer extends HttpAdminServer {
  hub: EventHub;
  live: LiveSource;
  stream: StreamEndpoint;
}

export async function startAdmin(options: AdminOptions): Promise<AdminServer> {
  const { engine } = options;
  const loadedAt = new Date().toISOString();
  const security = new AdminSecurity(options.security ?? {});
  const hub = options.hub ?? new EventHub({ tracer: engine.tracer });
  const recordings = options.recordings;
  const live = new LiveSource(hub, engine, {
    statsIntervalMs: options.stream?.statsIntervalMs,
    recording: recordings && (() => recordings.status()),
    demoHosts: options.demoHosts,
    sendRequest: options.stream?.sendRequest,
    sendTransport: nodeSendTransport,
    ...(options.simulation && { uptimeS: options.simulation.uptimeS }),
  });
  const source = options.simulation ? options.simulation.source(live) : live;
  const stream = new StreamEndpoint({
    source,
    security,
    limits: options.stream?.limits,
    maxMessageBytes: options.stream?.maxMessageBytes,
    maxSendRequestBytes: options.stream?.maxSendRequestBytes,
    heartbeatMs: options.stream?.heartbeatMs,
    maxClients: options.stream?.maxClients,
  });

  const endpoints: Record<string, Endpoint> = {
    '/ready': {
      help: 'print server state, return 200 if LIVE, otherwise return 503',
      mutating: false,
      handle: () => text(`${engine.state}\n`, engine.state === 'LIVE' ? 200 : 503),
    },
    '/server_info': {
      help: 'print server version/status information',
      mutating: false,
      handle: () => {
        const uptime = options.simulation ? options.simulation.uptimeS() : Math.floor((Date.now() - engine.startedAt) / 1000);
        return json({
          version: `proxyscope/${ENGINE_VERSION}`,
          state: engine.state,
          hot_restart_version: 'disabled',
          command_line_options: { concurrency: engine.workers.length, argv: redactToken(options.commandLine) },
          node: nodeInfo(engine.config.node),
          uptime_current_epoch: `${uptime}s`,
          uptime_all_epochs: `${uptime}s`,
          ...options.simulation?.serverInfo(),
        });
      },
    },
    '/stats': {
      help: 'print server stats',
      mutating: false,
      handle: (url) => {
        const opts = statsOptions(url);
        if ('error' in opts) return text(opts.error, 400);
        const format = url.searchParams.get('format');
        if (format === 'json') return { type: 'application/json', body: renderStatsJson(engine.stats, opts) };
        if (format === 'prometheus') return text(renderStatsPrometheus(engine.stats, opts));
        return text(renderStatsText(engine.stats, opts));
      },
    },
    '/stats/prometheus': {
      help: 'print server stats in prometheus format',
      mutating: false,
      handle: (url) => {
        const opts = statsOptions(url);
        if ('error' in opts) return text(opts.error, 400);
        return text(renderStatsPrometheus(engine.stats, opts));
      },
    },
    '/clusters': {
      help: 'upstream cluster status',
      mutating: false,
      handle: (url) => (url.searchParams.get('format') === 'json' ? json(renderClustersJson(engine)) : text(renderClustersText(engine))),
    },
    '/config_dump': { help: 'dump current Envoy configs', mutating: false, handle: () => json(renderConfigDump(engine, options.rawConfig, loadedAt)) },
    '/runtime': { help: 'print runtime values', mutating: false, handle: () => json(renderRuntime(engine)) },
    '/listeners': {
      help: 'print listener info',
      mutating: false,
      handle: (url) => {
        const listeners = engine.listeners.map((l) => ({ name: l.config.name, address: l.boundAddress ?? '' }));
        if (url.searchParams.get('format') === 'json') {
          return json({
            listener_statuses: listeners.map((l) => {
              const [address, port] = splitHostPort(l.address);
              return { name: l.name, local_address: { socket_address: { address, port_value: port } } };
            }),
          });
        }
        return text(listeners.map((l) => `${l.name}::${l.address}\n`).join(''));
      },
    },
    '/healthcheck/fail': {
      help: 'cause the server to fail health checks',
      mutating: true,
      handle: () => {
        engine.setHealthCheckFailed(true);
        return text('OK\n');
      },
    },
    '/healthcheck/ok': {
      help: 'cause the server to pass health checks',
      mutating: true,
      handle: () => {
        engine.setHealthCheckFailed(false);
        return text('OK\n');
      },
    },
    '/drain_listeners': {
      help: 'drain listeners',
      mutating: true,
      handle: () => {
        engine.drainListeners();
        return text('OK\n');
      },
    },
    [WS_PATH]: {
      help: 'WebSocket event stream (docs/ws-protocol.md)',
      mutating: false,
      handle: () => text(`${WS_PATH} is a WebSocket endpoint: connect with a WebSocket client (docs/ws-protocol.md)\n`, 426),
    },
    '/stream': {
      help: 'event stream state: tracing, history, clients and their queues',
      mutating: false,
      handle: () =>
        json({
          tracing: hub.tracing,
          events: hub.received,
          history: hub.historyRange(),
          clients: [...stream.clients].map((c) => ({
            id: c.id,
            subscription: c.subscription,
            queued: c.queuedEvents,
            buffered_bytes: c.ws.bufferedAmount,
            sent_events: c.sentEvents,
            dropped: c.droppedTotal,
            held: c.held,
          })),
          ...(recordings ? { recording: recordings.status() } : {}),
        }),
    },
    ...(recordings ? recordings.endpoints() : {}),
  };

  const admin = await startAdminHttp({
    host: options.host,
    port: options.port,
    title: 'ProxyScope admin',
    security,
    endpoints,
    upgrades: { [WS_PATH]: (req, socket, head, url) => stream.handleUpgrade(req, socket, head, url) },
    onClose: () => {
      stream.close();
      live.close();
    },
  });
  return { ...admin, hub, live, stream };
}

/** The bootstrap's node as /server_info shows it; unset id / cluster keep ProxyScope's own name. */
function nodeInfo(node: Bootstrap['node']): Record<string, unknown> {
  return {
    id: node?.id || 'proxyscope',
    cluster: node?.cluster || 'proxyscope',
    ...(node?.metadata && { metadata: node.metadata }),
    user_agent_name: 'proxyscope',
  };
}

/** The command line as /server_info shows it, without the token's value. */
function redactToken(argv: string[]): string[] {
  return argv.map((arg, i) => (argv[i - 1] === '--token' ? '<redacted>' : arg.startsWith('--token=') ? '--token=<redacted>' : arg));
}

function statsOptions(url: URL): StatsRenderOptions | { error: string } {
  const opts: StatsRenderOptions = {};
  const filter = url.searchParams.get('filter');
  if (filter) {
    try {
      opts.filter = new RegExp(filter);
    } catch (err) {
      return { error: `Invalid re2 regex: ${(err as Error).message}\n` };
    }
  }
  if (url.searchParams.has('usedonly')) opts.usedOnly = true;
  const type = url.searchParams.get('type');
  if (type === 'Counters' || type === 'Gauges' || type === 'Histograms') opts.type = type;
  return opts;
}

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}
