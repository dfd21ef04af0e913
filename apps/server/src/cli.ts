import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { ENGINE_VERSION, ProxyEngine, type Bootstrap } from '@proxyscope/engine';
import { ConfigError, formatDiagnostic, loadBootstrap } from '@proxyscope/engine/config';
import { nodeTransport } from '@proxyscope/engine/node';
import { startAdmin, type AdminServer } from './admin/admin-server';
import { demoConfigYaml } from './demo/demo-config';
import { startDemoHost, type DemoHost } from './demo/upstreams';
import { startTraffic, type TrafficGenerator } from './demo/traffic';
import { TraceRecorder } from './recorder';
import { parse as parseYaml } from 'yaml';

/** Exit codes, documented in --help and docs/cli.md. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, CONFIG: 3, BIND: 4 } as const;

const HELP = `proxyscope ${ENGINE_VERSION} - watch an Envoy-style proxy handle every request

Usage:
  proxyscope [options]                 run the built-in demo (proxy + demo upstreams + traffic)
  proxyscope --config envoy.yaml       run a proxy from an Envoy v3 static bootstrap

Options:
  -c, --config FILE        Envoy v3 bootstrap YAML (static_resources: listeners, clusters)
      --admin HOST:PORT    admin address (default 127.0.0.1:9901; bootstrap admin.address if set)
      --concurrency N      logical workers, each with its own connection pools (default 1)
      --seed N             seed for load balancing and weighted clusters (default 1)
      --record FILE        write every trace event to FILE (NDJSON; gzipped if FILE ends in .gz)
      --demo-port PORT     demo listener port (default 10000)
      --demo-rps N         demo traffic, requests per second (default 5; 0 = none)
  -h, --help               show this help
  -v, --version            print the version

Exit codes:
  0 stopped cleanly   1 runtime failure   2 bad command line   3 invalid config   4 address in use

Admin endpoints: /ready /stats /stats/prometheus /clusters /config_dump /listeners
/server_info /help, and POST /healthcheck/fail /healthcheck/ok /drain_listeners.
`;

interface Cli {
  config?: string;
  admin: { host: string; port: number } | undefined;
  concurrency: number;
  seed: number;
  record?: string;
  demoPort: number;
  demoRps: number;
}

class UsageError extends Error {}

function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !match[1] || port > 65535) throw new UsageError(`${flag} expects HOST:PORT (for example 127.0.0.1:9901), got '${value}'`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function parseInteger(value: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} expects an integer ${min}..${max}, got '${value}'`);
  return n;
}

export function parseCli(argv: string[]): Cli | 'help' | 'version' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        admin: { type: 'string' },
        concurrency: { type: 'string' },
        seed: { type: 'string' },
        record: { type: 'string' },
        'demo-port': { type: 'string' },
        'demo-rps': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.version) return 'version';
  const demoRps = v['demo-rps'] === undefined ? 5 : Number(v['demo-rps']);
  if (!Number.isFinite(demoRps) || demoRps < 0 || demoRps > 10_000) throw new UsageError(`--demo-rps expects a number 0..10000, got '${v['demo-rps']}'`);
  return {
    config: v.config,
    admin: v.admin === undefined ? undefined : parseHostPort(v.admin, '--admin'),
    concurrency: v.concurrency === undefined ? 1 : parseInteger(v.concurrency, '--concurrency', 1, 64),
    seed: v.seed === undefined ? 1 : parseInteger(v.seed, '--seed', 0, 2 ** 32 - 1),
    record: v.record,
    demoPort: v['demo-port'] === undefined ? 10000 : parseInteger(v['demo-port'], '--demo-port', 0, 65535),
    demoRps,
  };
}

interface Running {
  engine: ProxyEngine;
  admin: AdminServer;
  demoHosts: DemoHost[];
  traffic?: TrafficGenerator;
  recorder?: TraceRecorder;
  logs: Map<string, fs.WriteStream>;
}

async function startDemoUpstreams(): Promise<{ hosts: DemoHost[]; ports: { web: number[]; api: number[]; canary: number[] } }> {
  const hosts = [
    await startDemoHost('web', 'web-1', { latencyMs: 20, errorRate: 0, errorStatus: 503 }),
    await startDemoHost('web', 'web-2', { latencyMs: 35, errorRate: 0.02, errorStatus: 503 }),
    await startDemoHost('web', 'web-3', { latencyMs: 50, errorRate: 0, errorStatus: 503 }),
    await startDemoHost('web_canary', 'web-canary-1', { latencyMs: 80, errorRate: 0.1, errorStatus: 500 }),
    await startDemoHost('api', 'api-1', { latencyMs: 60, errorRate: 0.05, errorStatus: 503 }),
    await startDemoHost('api', 'api-2', { latencyMs: 120, errorRate: 0, errorStatus: 503 }),
  ];
  const ports = (service: string) => hosts.filter((h) => h.service === service).map((h) => h.port);
  return { hosts, ports: { web: ports('web'), api: ports('api'), canary: ports('web_canary') } };
}

function describeBindError(err: unknown, what: string): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return `${what}: address already in use (${e.message}). Choose another port.`;
  if (e.code === 'EACCES') return `${what}: permission denied (${e.message}).`;
  return `${what}: ${e.message}`;
}

async function run(cli: Cli, log: (line: string) => void, err: (line: string) => void): Promise<Running | number> {
  let yamlText: string;
  let file: string;
  let demoHosts: DemoHost[] = [];
  if (cli.config) {
    file = cli.config;
    try {
      yamlText = fs.readFileSync(file, 'utf8');
    } catch (e) {
      err(`proxyscope: cannot read config '${file}': ${(e as Error).message}`);
      return EXIT.CONFIG;
    }
  } else {
    file = '<built-in demo>';
    const demo = await startDemoUpstreams();
    demoHosts = demo.hosts;
    yamlText = demoConfigYaml({ listener: cli.demoPort, ...demo.ports });
  }
  const stopHosts = () => Promise.all(demoHosts.map((h) => h.close()));

  let config: Bootstrap;
  try {
    const loaded = loadBootstrap(yamlText, file);
    config = loaded.config;
    for (const w of loaded.warnings) err(`proxyscope: warning: ${formatDiagnostic(w)}`);
  } catch (e) {
    await stopHosts();
    if (e instanceof ConfigError) {
      err(`proxyscope: invalid config:\n${e.message}`);
      return EXIT.CONFIG;
    }
    throw e;
  }

  const logs = new Map<string, fs.WriteStream>();
  const accessLog = (line: string, path: string | undefined) => {
    if (path === undefined) {
      process.stdout.write(line);
      return;
    }
    let stream = logs.get(path);
    if (!stream) {
      stream = fs.createWriteStream(path, { flags: 'a' });
      logs.set(path, stream);
    }
    stream.write(line);
  };

  let engine: ProxyEngine;
  try {
    engine = new ProxyEngine({ config, transport: nodeTransport, concurrency: cli.concurrency, seed: cli.seed, accessLog });
  } catch (e) {
    await stopHosts();
    err(`proxyscope: invalid config: ${file}: ${(e as Error).message}`);
    return EXIT.CONFIG;
  }
  for (const w of engine.warnings) err(`proxyscope: warning: ${w}`);

  const rawConfig = parseYaml(yamlText) as unknown;
  const recorder = cli.record ? new TraceRecorder(cli.record, engine, rawConfig) : undefined;
  if (recorder) engine.tracer.attach(recorder.sink);

  let bound: Array<{ name: string; address: string }>;
  try {
    bound = await engine.start();
  } catch (e) {
    await engine.stop();
    await stopHosts();
    await recorder?.close();
    err(`proxyscope: ${describeBindError(e, 'cannot start listeners')}`);
    return EXIT.BIND;
  }

  const adminAddress = cli.admin ?? (config.admin ? { host: config.admin.address.address, port: config.admin.address.port_value } : { host: '127.0.0.1', port: 9901 });
  let admin: AdminServer;
  try {
    admin = await startAdmin({ host: adminAddress.host, port: adminAddress.port, engine, rawConfig, commandLine: process.argv.slice(2) });
  } catch (e) {
    await engine.stop();
    await stopHosts();
    await recorder?.close();
    err(`proxyscope: ${describeBindError(e, `cannot start admin on ${adminAddress.host}:${adminAddress.port}`)}`);
    return EXIT.BIND;
  }

  log(`proxyscope ${ENGINE_VERSION}${cli.config ? ` with ${cli.config}` : ' - built-in demo'} (${engine.workers.length} worker${engine.workers.length > 1 ? 's' : ''})`);
  for (const b of bound) log(`  listener ${b.name.padEnd(12)} http://${b.address}`);
  log(`  admin    ${''.padEnd(12)} http://${admin.address}:${admin.port}/  (ready, stats, clusters, config_dump)`);
  for (const h of demoHosts) log(`  upstream ${h.name.padEnd(12)} http://127.0.0.1:${h.port}  (cluster ${h.service}, ~${h.behaviour.latencyMs} ms, ${Math.round(h.behaviour.errorRate * 100)}% errors)`);
  if (recorder) log(`  recording to ${recorder.path}`);
  let traffic: TrafficGenerator | undefined;
  if (!cli.config && cli.demoRps > 0) {
    const port = Number(bound[0]!.address.split(':').pop());
    traffic = startTraffic(port, cli.demoRps);
    log(`  traffic  ${cli.demoRps} requests/s to http://${bound[0]!.address} (Host: shop.example.com)`);
  }
  log(`Access log follows. Ctrl-C stops.`);
  return { engine, admin, demoHosts, traffic, recorder, logs };
}

async function shutdown(running: Running): Promise<void> {
  running.traffic?.stop();
  await running.admin.close();
  await running.engine.stop();
  await Promise.all(running.demoHosts.map((h) => h.close()));
  if (running.recorder) {
    running.engine.tracer.detach();
    await running.recorder.close();
  }
  for (const stream of running.logs.values()) stream.end();
}

export async function main(argv: string[]): Promise<number> {
  const log = (line: string) => process.stdout.write(line + '\n');
  const err = (line: string) => process.stderr.write(line + '\n');
  let cli: ReturnType<typeof parseCli>;
  try {
    cli = parseCli(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`proxyscope: ${e.message}\nTry 'proxyscope --help'.`);
      return EXIT.USAGE;
    }
    throw e;
  }
  if (cli === 'help') {
    log(HELP);
    return EXIT.OK;
  }
  if (cli === 'version') {
    log(ENGINE_VERSION);
    return EXIT.OK;
  }
  let running: Running | number;
  try {
    running = await run(cli, log, err);
  } catch (e) {
    err(`proxyscope: ${(e as Error).stack ?? e}`);
    return EXIT.FAILURE;
  }
  if (typeof running === 'number') return running;
  const active = running;
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log(`\nproxyscope: ${signal}, shutting down`);
      shutdown(active).then(
        () => resolve(EXIT.OK),
        (e) => {
          err(`proxyscope: shutdown failed: ${(e as Error).message}`);
          resolve(EXIT.FAILURE);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
