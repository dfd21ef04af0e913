/**
 * `proxyscope simulate`: the engine on virtual time, with simulated upstreams and traffic
 * from a scenario (docs/scenarios.md). It runs to the end as fast as the CPU allows,
 * prints a summary, writes the trace and the JSON summary when asked, and exits non-zero
 * when an expectation fails. With --serve it serves the run to the web UI instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SERVER_DIR } from '../package-dir';
import { parse as parseYaml } from 'yaml';
import { ENGINE_VERSION, type Bootstrap } from '@proxyscope/engine';
import { ConfigError, formatDiagnostic, loadBootstrap } from '@proxyscope/engine/config';
import { formatSummary, loadScenario, Simulation, type Scenario } from '@proxyscope/engine/sim';
import { TRACE_FORMAT, TRACE_FORMAT_VERSION, type TraceHeader } from '@proxyscope/protocol';
import { adminBindProblem, EXIT, parseFlags, parseHostPort, parseInteger, parseSecurity, UsageError } from '../cli-args';
import { SimTraceWriter } from './trace-writer';
import { defaultScenario } from './default-scenario';

/** scenarios/ at the top of the project: the built-in demo and the shipped scenarios */
export const SCENARIOS_DIR = path.resolve(SERVER_DIR, '../../scenarios');
const DEMO_SCENARIO = path.join(SCENARIOS_DIR, 'demo', 'scenario.yaml');

export const SIMULATE_HELP = `proxyscope simulate - run the proxy on virtual time, with simulated upstreams and traffic

Usage:
  proxyscope simulate [--config envoy.yaml] [--scenario scenario.yaml] [options]

The engine, its machines and its code path are the ones of live mode; the network, the
upstream hosts, the traffic and time are simulated (docs/scenarios.md). The same config,
scenario and seed give the same trace and summary, byte for byte, on any machine.

With neither --config nor --scenario it runs the built-in demo (scenarios/demo/). A
scenario may name its config (config: envoy.yaml, relative to the scenario); --config
overrides it. A config without a scenario gets 10 s of Poisson traffic at 50 requests/s
to its first HTTP listener, spread over its routes (each route's path or prefix).

Options:
  -c, --config FILE      Envoy v3 bootstrap YAML
  -s, --scenario FILE    scenario YAML (docs/scenarios.md)
      --seed N           seed for every random draw (default: the scenario's seed, else 1)
      --record FILE      write every trace event to FILE (NDJSON; gzipped if FILE ends in .gz)
      --summary FILE     write the summary as JSON to FILE
      --concurrency N    logical workers (default 1)
      --serve            serve the run to the web UI instead of running it to the end
      --admin HOST:PORT  with --serve: admin address (default 127.0.0.1:9901)
      --speed S          with --serve: 1 or 10 (times real time), or max (default 1)
      --paused           with --serve: start paused
      --history N        with --serve: events kept for viewers that connect later (default 100000);
                         a later viewer gets a snapshot of what is alive, then these
      --token TOKEN, --allow-origin ORIGIN, --allow-host NAME   with --serve: as for proxyscope
  -h, --help             show this help

Exit codes:
  0 every expectation passed   1 an expectation failed (each is named), or a runtime failure
  2 bad command line           3 invalid or unreadable config or scenario file
  4 address in use (--serve)
  With --serve: 0 when stopped cleanly (Ctrl-C); failed expectations are named when the run ends
`;

export interface SimulateCli {
  config?: string;
  scenario?: string;
  seed?: number;
  record?: string;
  summary?: string;
  concurrency: number;
  serve: boolean;
  admin: { host: string; port: number };
  speed: number;
  paused: boolean;
  /** --serve: the history ring's size */
  history?: number;
  token?: string;
  allowOrigins: string[];
  allowHosts: string[];
}

export function parseSimulateCli(argv: string[]): SimulateCli | 'help' {
  const parsed = parseFlags({
    args: argv,
    allowPositionals: false,
    options: {
      config: { type: 'string', short: 'c' },
      scenario: { type: 'string', short: 's' },
      seed: { type: 'string' },
      record: { type: 'string' },
      summary: { type: 'string' },
      concurrency: { type: 'string' },
      serve: { type: 'boolean' },
      admin: { type: 'string' },
      speed: { type: 'string' },
      paused: { type: 'boolean' },
      history: { type: 'string' },
      token: { type: 'string' },
      'allow-origin': { type: 'string', multiple: true },
      'allow-host': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const v = parsed.values;
  if (v.help) return 'help';
  const serve = v.serve === true;
  for (const flag of ['admin', 'speed', 'paused', 'history', 'token'] as const) {
    if (v[flag] !== undefined && !serve) throw new UsageError(`--${flag} needs --serve`);
  }
  const security = parseSecurity(v.token, v['allow-origin'], v['allow-host']);
  const admin = v.admin === undefined ? { host: '127.0.0.1', port: 9901 } : parseHostPort(v.admin, '--admin');
  if (serve) {
    const problem = adminBindProblem(admin.host, admin.port, security.token);
    if (problem) throw new UsageError(problem);
  }
  let speed = 1;
  if (v.speed !== undefined) {
    if (v.speed === 'max') speed = Infinity;
    else if (v.speed === '1' || v.speed === '10') speed = Number(v.speed);
    else throw new UsageError(`--speed expects 1, 10 or max, got '${v.speed}'`);
  }
  return {
    ...(v.config !== undefined && { config: v.config }),
    ...(v.scenario !== undefined && { scenario: v.scenario }),
    ...(v.seed !== undefined && { seed: parseInteger(v.seed, '--seed', 0, 2 ** 32 - 1) }),
    ...(v.record !== undefined && { record: v.record }),
    ...(v.summary !== undefined && { summary: v.summary }),
    concurrency: v.concurrency === undefined ? 1 : parseInteger(v.concurrency, '--concurrency', 1, 64),
    serve,
    admin,
    speed,
    paused: v.paused === true,
    ...(v.history !== undefined && { history: parseInteger(v.history, '--history', 0, 1_000_000) }),
    ...security,
  };
}

export interface LoadedRun {
  config: Bootstrap;
  /** the config as the user wrote it, for the trace header */
  rawConfig: unknown;
  configFile: string;
  scenario: Scenario;
  scenarioFile: string | undefined;
  warnings: string[];
}

/** A file that cannot be read or does not load: exit 3 with every diagnostic. */
export class RunFileError extends Error {}

function read(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new RunFileError(`cannot read ${what} '${file}': ${(e as Error).message}`);
  }
}

/** Config and scenario, as the flags and the scenario's own `config:` say. */
export function loadRun(cli: Pick<SimulateCli, 'config' | 'scenario'>): LoadedRun {
  const warnings: string[] = [];
  const scenarioFile = cli.scenario ?? (cli.config === undefined ? DEMO_SCENARIO : undefined);
  let scenario: Scenario | undefined;
  try {
    if (scenarioFile !== undefined) {
      const loaded = loadScenario(read(scenarioFile, 'scenario'), scenarioFile);
      warnings.push(...loaded.warnings.map(formatDiagnostic));
      scenario = loaded.scenario;
    }
    const configFile =
      cli.config ??
      (scenario?.config !== undefined ? path.resolve(path.dirname(scenarioFile!), scenario.config) : path.join(SCENARIOS_DIR, 'demo', 'envoy.yaml'));
    const text = read(configFile, 'config');
    // Certificates are not read: the simulated network's TLS needs none.
    const loaded = loadBootstrap(text, configFile);
    warnings.push(...loaded.warnings.map(formatDiagnostic));
    return {
      config: loaded.config,
      rawConfig: parseYaml(text, { maxAliasCount: 1000 }),
      configFile,
      scenario: scenario ?? defaultScenario(loaded.config),
      scenarioFile,
      warnings,
    };
  } catch (e) {
    if (e instanceof ConfigError) {
      throw new RunFileError([...e.warnings.map((w) => `warning: ${formatDiagnostic(w)}`), ...e.diagnostics.map((d) => `error: ${formatDiagnostic(d)}`)].join('\n'));
    }
    throw e;
  }
}

export function traceHeader(sim: Simulation, run: LoadedRun): TraceHeader {
  return {
    format: TRACE_FORMAT,
    version: TRACE_FORMAT_VERSION,
    engineVersion: ENGINE_VERSION,
    startedAt: new Date(sim.engine.startedAt).toISOString(),
    topology: sim.engine.topology(),
    config: run.rawConfig,
    simulation: { scenario: run.scenario.name, seed: sim.seed },
  };
}

export async function simulateMain(argv: string[], log: (line: string) => void, err: (line: string) => void): Promise<number> {
  let cli: ReturnType<typeof parseSimulateCli>;
  try {
    cli = parseSimulateCli(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`proxyscope: ${e.message}\nTry 'proxyscope simulate --help'.`);
    return EXIT.USAGE;
  }
  if (cli === 'help') {
    log(SIMULATE_HELP);
    return EXIT.OK;
  }
  let run: LoadedRun;
  try {
    run = loadRun(cli);
  } catch (e) {
    if (!(e instanceof RunFileError)) throw e;
    err(e.message.startsWith('cannot read') ? `proxyscope: ${e.message}` : e.message);
    return EXIT.CONFIG;
  }
  for (const w of run.warnings) err(`warning: ${w}`);
  if (cli.serve) {
    const { serveSimulation } = await import('./serve');
    return serveSimulation(cli, run, log, err);
  }
  let writer: SimTraceWriter | undefined;
  const sim = new Simulation({
    config: run.config,
    scenario: run.scenario,
    ...(cli.seed !== undefined && { seed: cli.seed }),
    concurrency: cli.concurrency,
    ...(cli.record !== undefined && { sink: (event) => writer?.write(event) }),
  });
  if (cli.record !== undefined) {
    try {
      writer = new SimTraceWriter(cli.record, traceHeader(sim, run));
    } catch (e) {
      err(`proxyscope: cannot write --record '${cli.record}': ${(e as Error).message}`);
      return EXIT.FAILURE;
    }
  }
  let summary;
  try {
    summary = await sim.run();
  } catch (e) {
    await writer?.close();
    err(`proxyscope: the simulation failed: ${(e as Error).message}`);
    return EXIT.FAILURE;
  }
  await writer?.close();
  log(formatSummary(summary).trimEnd());
  if (writer) log(`trace: ${writer.events} events written to ${cli.record}`);
  if (cli.summary !== undefined) {
    try {
      fs.writeFileSync(cli.summary, JSON.stringify(summary, null, 2) + '\n');
    } catch (e) {
      err(`proxyscope: cannot write --summary '${cli.summary}': ${(e as Error).message}`);
      return EXIT.FAILURE;
    }
  }
  const failed = summary.expectations.filter((e) => !e.pass);
  for (const f of failed) err(`proxyscope: expectation failed: ${f.label} (got ${f.actual})`);
  return failed.length ? EXIT.FAILURE : EXIT.OK;
}
