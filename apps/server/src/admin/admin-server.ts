import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ENGINE_VERSION, renderStatsJson, renderStatsPrometheus, renderStatsText, type ProxyEngine, type StatsRenderOptions } from '@proxyscope/engine';
import { renderClustersJson, renderClustersText } from './clusters';
import { renderConfigDump } from './config-dump';

/**
 * The admin listener, with Envoy's endpoints and formats. Read-only endpoints answer
 * GET; the ones that change state require POST, as recent Envoy does.
 */
export interface AdminOptions {
  host: string;
  port: number;
  engine: ProxyEngine;
  /** the bootstrap as the user wrote it (parsed YAML), for /config_dump */
  rawConfig: unknown;
  commandLine: string[];
}

interface Endpoint {
  help: string;
  mutating: boolean;
  handle: (url: URL) => { status?: number; type: string; body: string };
}

export interface AdminServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function startAdmin(options: AdminOptions): Promise<AdminServer> {
  const { engine } = options;
  const loadedAt = new Date().toISOString();
  const text = (body: string, status?: number) => ({ status, type: 'text/plain; charset=UTF-8', body });
  const json = (value: unknown) => ({ type: 'application/json', body: JSON.stringify(value, null, 2) + '\n' });

  const endpoints: Record<string, Endpoint> = {
    '/': { help: 'Admin home page', mutating: false, handle: () => ({ type: 'text/html; charset=UTF-8', body: homePage() }) },
    '/help': { help: 'print out list of admin commands', mutating: false, handle: () => text(helpText()) },
    '/ready': {
      help: 'print server state, return 200 if LIVE, otherwise return 503',
      mutating: false,
      handle: () => text(`${engine.state}\n`, engine.state === 'LIVE' ? 200 : 503),
    },
    '/server_info': {
      help: 'print server version/status information',
      mutating: false,
      handle: () => {
        const uptime = Math.floor((Date.now() - engine.startedAt) / 1000);
        return json({
          version: `proxyscope/${ENGINE_VERSION}`,
          state: engine.state,
          hot_restart_version: 'disabled',
          command_line_options: { concurrency: engine.workers.length, argv: options.commandLine },
          node: { id: 'proxyscope', cluster: 'proxyscope' },
          uptime_current_epoch: `${uptime}s`,
          uptime_all_epochs: `${uptime}s`,
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
  };

  function helpText(): string {
    return 'admin commands are:\n' + Object.entries(endpoints).map(([path, e]) => `  ${path}: ${e.help}\n`).join('');
  }

  function homePage(): string {
    const rows = Object.entries(endpoints)
      .filter(([path]) => path !== '/')
      .map(([path, e]) => (e.mutating ? `<li><form method="post" action="${path}"><button>${path}</button> ${e.help}</form></li>` : `<li><a href="${path}">${path}</a> ${e.help}</li>`))
      .join('\n');
    return `<!doctype html><html><head><meta charset="utf-8"><title>ProxyScope admin</title></head><body><h1>ProxyScope admin</h1><ul>\n${rows}\n</ul></body></html>\n`;
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const endpoint = endpoints[url.pathname];
    let reply: { status?: number; type: string; body: string };
    if (!endpoint) {
      reply = text(`invalid path. ${helpText()}`, 404);
    } else if (endpoint.mutating && req.method !== 'POST') {
      reply = text(`Method ${req.method} not allowed, POST required.\n`, 405);
    } else {
      try {
        reply = endpoint.handle(url);
      } catch (err) {
        reply = text(`${(err as Error).message}\n`, 500);
      }
    }
    res.writeHead(reply.status ?? 200, { 'content-type': reply.type, 'cache-control': 'no-cache, max-age=0', 'x-content-type-options': 'nosniff' });
    res.end(reply.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
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
