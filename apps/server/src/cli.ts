import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENGINE_VERSION, ProxyEngine, type Bootstrap } from '@proxyscope/engine';
import { ConfigError, formatDiagnostic, loadBootstrap, redactSecrets } from '@proxyscope/engine/config';
import { nodeTransport } from '@proxyscope/engine/node';
import { nodeTlsMaterial } from '@proxyscope/engine/node-tls';
import { nodeResolver } from '@proxyscope/engine/node-resolver';
import { nodeCompression } from '@proxyscope/engine/node-compression';
import { TRACE_FORMAT, TRACE_FORMAT_VERSION, WS_PATH } from '@proxyscope/protocol';
import { parse as parseYaml } from 'yaml';
import { startAdmin, type AdminServer } from './admin/admin-server';
import { adminBindProblem, EXIT, parseFlags, parseHostPort, parseInteger, parseSecurity, UsageError } from './cli-args';
import { demoConfigYaml } from './demo/demo-config';
import { startTraffic, type TrafficGenerator } from './demo/traffic';
import { demoPorts, startDemoHosts, type DemoHost } from './demo/upstreams';
import { RecordingError, RecordingManager } from './recording/recordings';
import { replayMain } from './replay';
import { validateMain } from './validate';
import { routeCheckMain } from './route-check/route-check';
import { simulateMain } from './simulate/simulate';
import { EventHub } from '@proxyscope/serve';
import { untilSignal } from './until-signal';

export { EXIT } from './cli-args';

const HELP = `proxyscope ${ENGINE_VERSION} - watch an Envoy-style proxy handle every request

Usage:
  proxyscope [options]                 run the built-in demo (proxy + demo upstreams + traffic)
  proxyscope --config envoy.yaml       run a proxy from an Envoy v3 static bootstrap
  proxyscope replay FILE [options]     serve a recorded trace over the same stream, no proxy
                                       (proxyscope replay --help)
  proxyscope validate --config FILE    check a bootstrap and print every warning and error,
                                       start nothing; exit 0 if it would start, 3 if not
  proxyscope validate --lesson FILE    check a lesson: its files load, and the run of its
                                       scenario reaches every step and answers every question
  proxyscope route-check -c R -t T     run Envoy router_check_tool test files through the engine
                                       on virtual time (proxyscope route-check --help)
  proxyscope simulate [options]        run on virtual time with simulated upstreams and traffic
                                       from a scenario; deterministic for a seed
                                       (proxyscope simulate --help)

Options:
  -c, --config FILE        Envoy v3 bootstrap YAML (static_resources: listeners, clusters)
      --admin HOST:PORT    admin address (default 127.0.0.1:9901; bootstrap admin.address if set);
                           not loopback (e.g. 0.0.0.0:9901) only with --token
      --token TOKEN        every admin request and the WebSocket must present it
                           (Authorization: Bearer TOKEN, or ?token=TOKEN); or set PROXYSCOPE_TOKEN
      --allow-origin ORIGIN  a browser origin (http://host:port) allowed to open the WebSocket
                           and POST, besides the admin's own; repeatable
      --allow-host NAME    a host name the admin answers to besides its address, localhost and
                           IP addresses (.example.com: the domain and its subdomains); repeatable.
                           Any other Host gets 403, which keeps rebinding web pages out
      --concurrency N      logical workers, each with its own connection pools (default 1)
      --seed N             make load balancing, weighted clusters, retry jitter and x-request-id
                           repeat run to run (default: fresh entropy every run, as Envoy)
      --record FILE        write every trace event to FILE (NDJSON; gzipped if FILE ends in .gz)
      --record-dir DIR     where POST /recording/start writes (default: <tmp>/proxyscope-recordings)
      --tracing MODE       always | on-demand: trace while nobody watches, to fill the history
                           (default: always for the demo, on-demand with --config)
      --history N          events kept for clients that connect later (default 10000; 0 = none)
      --demo-port PORT     demo listener port (default 10000)
      --demo-rps N         demo traffic, requests per second (default 5; 0 = none)
  -h, --help               show this help
  -v, --version            print the version

Exit codes:
  0 stopped cleanly   1 runtime failure   2 bad command line   3 invalid config or trace file
  4 address in use

The web UI is at the admin address's / (http://127.0.0.1:9901/ by default); the Envoy-style
admin home page is at /admin.
Admin endpoints: /ready /stats /stats/prometheus /clusters /config_dump /listeners /runtime
/server_info /stream /recording /help, POST /healthcheck/fail /healthcheck/ok /drain_listeners
/recording/start /recording/stop, and the WebSocket event stream on ${WS_PATH} (docs/ws-protocol.md),
which also takes controls: send_request through a listener, host_fault on the demo's hosts,
and step mode's breakpoints, step and resume (docs/step-mode.md).
`;

interface Cli {
  config?: string;
  admin: { host: string; port: number } | undefined;
  token?: string;
  allowOrigins: string[];
  allowHosts: string[];
  concurrency: number;
  /** absent: the engine draws from entropy */
  seed?: number;
  record?: string;
  recordDir: string;
  tracing: 'always' | 'on-demand' | undefined;
  history: number;
  demoPort: number;
  demoRps: number;
}

export function parseCli(argv: string[]): Cli | 'help' | 'version' {
  const parsed = parseFlags({
    args: argv,
    allowPositionals: false,
    options: {
      config: { type: 'string', short: 'c' },
      admin: { type: 'string' },
      token: { type: 'string' },
      'allow-origin': { type: 'string', multiple: true },
      'allow-host': { type: 'string', multiple: true },
      concurrency: { type: 'string' },
      seed: { type: 'string' },
      record: { type: 'string' },
      'record-dir': { type: 'string' },
      tracing: { type: 'string' },
      history: { type: 'string' },
      'demo-port': { type: 'string' },
      'demo-rps': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.version) return 'version';
  const demoRps = v['demo-rps'] === undefined ? 5 : Number(v['demo-rps']);
  if (!Number.isFinite(demoRps) || demoRps < 0 || demoRps > 10_000) throw new UsageError(`--demo-rps expects a number 0..10000, got '${v['demo-rps']}'`);
  if (v.tracing !== undefined && v.tracing !== 'always' && v.tracing !== 'on-demand') throw new UsageError(`--tracing expects always or on-demand, got '${v.tracing}'`);
  const security = parseSecurity(v.token, v['allow-origin'], v['allow-host']);
  const admin = v.admin === undefined ? undefined : parseHostPort(v.admin, '--admin');
  const problem = admin && adminBindProblem(admin.host, admin.port, security.token);
  if (problem) throw new UsageError(problem);
  return {
    config: v.config,
    admin,
    ...security,
    tracing: v.tracing as Cli['tracing'],
    history: v.history === undefined ? 10_000 : parseInteger(v.history, '--history', 0, 1_000_000),
    recordDir: v['record-dir'] ?? path.join(os.tmpdir(), 'proxyscope-recordings'),
    concurrency: v.concurrency === undefined ? 1 : parseInteger(v.concurrency, '--concurrency', 1, 64),
    ...(v.seed !== undefined && { seed: parseInteger(v.seed, '--seed', 0, 2 ** 32 - 1) }),
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
  hub: EventHub;
  recordings: RecordingManager;
  logs: Map<string, fs.WriteStream>;
}

function describeBindError(err: unknown, what: string): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return `${what}: address already in use (${e.message}). Choose another port.`;
  if (e.code === 'EACCES') return `${what}: permission denied (${e.message}).`;
  return `${what}: ${e.message}`;
}

/** Exit 4 means exactly what --help says: the address is in use. Anything else failing at start is a runtime failure. */
function startExitCode(err: unknown): number {
  return (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? EXIT.BIND : EXIT.FAILURE;
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
    demoHosts = await startDemoHosts();
    yamlText = demoConfigYaml({ listener: cli.demoPort, ...demoPorts(demoHosts) });
  }
  const stopHosts = () => Promise.all(demoHosts.map((h) => h.close()));

  let config: Bootstrap;
  try {
    // Certificate files are read here, at load: a bad one is a config error, not a failed handshake later.
    const loaded = loadBootstrap(yamlText, file, { tls: nodeTlsMaterial });
    config = loaded.config;
    for (const w of loaded.warnings) err(`proxyscope: warning: ${formatDiagnostic(w)}`);
  } catch (e) {
    await stopHosts();
    if (e instanceof ConfigError) {
      for (const w of e.warnings) err(`proxyscope: warning: ${formatDiagnostic(w)}`);
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
    engine = new ProxyEngine({ config, transport: nodeTransport, resolver: nodeResolver, compression: nodeCompression, concurrency: cli.concurrency, seed: cli.seed ?? 'entropy', accessLog });
  } catch (e) {
    await stopHosts();
    err(`proxyscope: invalid config: ${file}: ${(e as Error).message}`);
    return EXIT.CONFIG;
  }
  for (const w of engine.warnings) err(`proxyscope: warning: ${w}`);

  // What /config_dump and recordings show of the file: private keys redacted, as Envoy's admin does.
  const rawConfig = redactSecrets(parseYaml(yamlText));
  const adminAddress = cli.admin ?? (config.admin ? { host: config.admin.address.address, port: config.admin.address.port_value } : { host: '127.0.0.1', port: 9901 });
  const bindProblem = adminBindProblem(adminAddress.host, adminAddress.port, cli.token);
  if (bindProblem) {
    await stopHosts();
    err(`proxyscope: ${bindProblem}\nTry 'proxyscope --help'.`);
    return EXIT.USAGE;
  }

  // The hub is the tracer's sink while anyone listens: a WebSocket client, a recording,
  // or the history ring when tracing is "always" (the demo's default).
  const hub = new EventHub({ tracer: engine.tracer, historySize: cli.history });
  const tracing = cli.tracing ?? (cli.config ? 'on-demand' : 'always');
  if (tracing === 'always') hub.retain();
  const recordings = new RecordingManager(
    hub,
    () => ({
      format: TRACE_FORMAT,
      version: TRACE_FORMAT_VERSION,
      engineVersion: ENGINE_VERSION,
      startedAt: new Date(engine.startedAt).toISOString(),
      topology: engine.topology(),
      config: rawConfig,
    }),
    cli.recordDir,
    err,
  );
  if (cli.record) {
    try {
      recordings.start(cli.record);
    } catch (e) {
      await stopHosts();
      hub.close();
      err(`proxyscope: ${e instanceof RecordingError ? e.message : (e as Error).message}`);
      return EXIT.FAILURE;
    }
  }
  const abandon = async () => {
    await engine.stop();
    await stopHosts();
    await recordings.close();
    hub.close();
  };

  let bound: Array<{ name: string; address: string }>;
  try {
    bound = await engine.start();
  } catch (e) {
    await abandon();
    err(`proxyscope: ${describeBindError(e, 'cannot start listeners')}`);
    return startExitCode(e);
  }

  // A docker-compose config names services that do not resolve here: say so, and keep going.
  for (const cluster of engine.clusterManager.clusters.values()) {
    const reason = cluster.dns?.noHostsReason();
    if (reason) err(`proxyscope: warning: ${reason}`);
  }

  let admin: AdminServer;
  try {
    admin = await startAdmin({
      host: adminAddress.host,
      port: adminAddress.port,
      engine,
      rawConfig,
      commandLine: process.argv.slice(2),
      security: { token: cli.token, allowOrigins: cli.allowOrigins, allowHosts: cli.allowHosts },
      hub,
      recordings,
      // host_fault controls exist only for the built-in demo's hosts.
      demoHosts: cli.config ? undefined : demoHosts,
    });
  } catch (e) {
    await abandon();
    err(`proxyscope: ${describeBindError(e, `cannot start admin on ${adminAddress.host}:${adminAddress.port}`)}`);
    return startExitCode(e);
  }

  log(`proxyscope ${ENGINE_VERSION}${cli.config ? ` with ${cli.config}` : ' - built-in demo'} (${engine.workers.length} worker${engine.workers.length > 1 ? 's' : ''})`);
  // A listener whose every filter chain is TLS is an https:// address; one that only
  // proxies TCP (tcp_proxy on every chain) is a tcp:// one.
  const scheme = (name: string) => {
    const l = config.static_resources.listeners.find((x) => x.name === name);
    const chains = l ? [...l.filter_chains, ...(l.default_filter_chain ? [l.default_filter_chain] : [])] : [];
    if (chains.length > 0 && chains.every((c) => c.tcp_proxy)) return 'tcp';
    return chains.length > 0 && chains.every((c) => c.transport_socket) ? 'https' : 'http';
  };
  for (const b of bound) log(`  listener ${b.name.padEnd(12)} ${scheme(b.name)}://${b.address}`);
  const adminHost = admin.address.includes(':') ? `[${admin.address}]` : admin.address;
  log(`  web UI   ${''.padEnd(12)} http://${adminHost}:${admin.port}/${cli.token ? '?token=TOKEN' : ''}  <- open this in a browser`);
  log(`  admin    ${''.padEnd(12)} http://${adminHost}:${admin.port}/admin  (ready, stats, clusters, config_dump)`);
  log(`  stream   ${''.padEnd(12)} ws://${adminHost}:${admin.port}${WS_PATH}  (tracing ${tracing}, history ${cli.history} events${cli.token ? ', token required' : ''})`);
  for (const h of demoHosts) log(`  upstream ${h.name.padEnd(12)} http://127.0.0.1:${h.port}  (cluster ${h.service}, ~${h.behaviour.latencyMs} ms, ${Math.round(h.behaviour.errorRate * 100)}% errors)`);
  if (recordings.current) log(`  recording to ${recordings.current.path}`);
  let traffic: TrafficGenerator | undefined;
  if (!cli.config && cli.demoRps > 0) {
    const port = Number(bound[0]!.address.split(':').pop());
    traffic = startTraffic(port, cli.demoRps);
    log(`  traffic  ${cli.demoRps} requests/s to http://${bound[0]!.address} (Host: shop.example.com)`);
  }
  log(`Access log follows. Ctrl-C stops.`);
  return { engine, admin, demoHosts, traffic, hub, recordings, logs };
}

async function shutdown(running: Running): Promise<void> {
  running.traffic?.stop();
  await running.admin.close();
  await running.engine.stop();
  await Promise.all(running.demoHosts.map((h) => h.close()));
  // The engine's last events (connections closing) are in the hub: the recording gets
  // them, then ends with a complete line.
  await running.recordings.close();
  running.hub.close();
  for (const stream of running.logs.values()) stream.end();
}

export async function main(argv: string[]): Promise<number> {
  const log = (line: string) => process.stdout.write(line + '\n');
  const err = (line: string) => process.stderr.write(line + '\n');
  if (argv[0] === 'replay') return replayMain(argv.slice(1), log, err);
  if (argv[0] === 'validate') return validateMain(argv.slice(1), log, err);
  if (argv[0] === 'route-check') return routeCheckMain(argv.slice(1), log, err);
  if (argv[0] === 'simulate') return simulateMain(argv.slice(1), log, err);
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
  return untilSignal('proxyscope', () => shutdown(active), log, err);
}
