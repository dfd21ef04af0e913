import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENGINE_VERSION } from '@proxyscope/engine';
import { formatSummary, Simulation } from '@proxyscope/engine/sim';
import { WS_PATH, type SimSpeed } from '@proxyscope/protocol';
import { startAdmin, type AdminServer } from '../admin/admin-server';
import { EXIT } from '../cli-args';
import { RecordingError, RecordingManager } from '../recording/recordings';
import { type ClientLimits, EventHub, Pacer, RequestSender, SIM_HISTORY, SIM_MAX_QUEUED_EVENTS, simSendTransport, SimulationSource } from '@proxyscope/serve';
import { traceHeader, type LoadedRun, type SimulateCli } from './simulate';
import { untilSignal } from '../until-signal';

/**
 * `proxyscope simulate --serve`: the run served to the web UI over the same stream as
 * live mode. The engine's tracer feeds the same EventHub, LiveSource (history, stats,
 * topology, step mode) and WebSocket endpoint, behind the same admin server and its
 * security; a SimulationSource adds the scenario and the virtual clock, and a Pacer moves
 * virtual time on from real time (or as fast as the viewers read, at max speed).
 */


export interface ServeOptions {
  run: LoadedRun;
  host: string;
  port: number;
  seed?: number;
  concurrency?: number;
  speed: SimSpeed;
  paused: boolean;
  token?: string;
  allowOrigins?: string[];
  allowHosts?: string[];
  /** write every trace event to this file (as `--record`) */
  record?: string;
  /** where POST /recording/start writes */
  recordDir?: string;
  /** the summary is printed here once, when the run finishes */
  log: (line: string) => void;
  err: (line: string) => void;
  /** write the JSON summary here when the run finishes */
  summaryFile?: string;
  commandLine?: string[];
  stream?: { limits?: Partial<ClientLimits>; statsIntervalMs?: number; heartbeatMs?: number };
  /** events kept for late joiners (default SIM_HISTORY); tests make it small to see the snapshot at work */
  historySize?: number;
}

export interface ServedSimulation {
  sim: Simulation;
  admin: AdminServer;
  hub: EventHub;
  pacer: Pacer;
  source: SimulationSource;
  recordings: RecordingManager;
  /** resolves once the run has finished (and its summary was printed) */
  finished: Promise<void>;
  close(): Promise<void>;
}

/** Builds the simulation, starts it on virtual time and serves it; the pacer starts at once (paused, if asked). */
export async function startSimulationServer(options: ServeOptions): Promise<ServedSimulation> {
  const { run, log, err } = options;
  const sim = new Simulation({
    config: run.config,
    scenario: run.scenario,
    ...(options.seed !== undefined && { seed: options.seed }),
    concurrency: options.concurrency ?? 1,
  });
  // The hub is the tracer's sink from the start (engine startup included), and keeps the
  // history: a viewer that connects late, or after the run ended, still reads all of it.
  const hub = new EventHub({ tracer: sim.engine.tracer, historySize: options.historySize ?? SIM_HISTORY });
  const releaseHub = hub.retain();
  const recordings = new RecordingManager(hub, () => traceHeader(sim, run), options.recordDir ?? path.join(os.tmpdir(), 'proxyscope-recordings'), err);
  const abandon = async () => {
    await recordings.close();
    releaseHub();
    hub.close();
  };
  if (options.record !== undefined) {
    try {
      recordings.start(options.record);
    } catch (e) {
      await abandon();
      throw e instanceof RecordingError ? e : new RecordingError(500, `cannot write --record '${options.record}': ${(e as Error).message}`);
    }
  }
  try {
    await sim.start();
  } catch (e) {
    await abandon();
    throw e;
  }

  let source: SimulationSource | undefined;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
  const pacer = new Pacer({
    sim,
    hub,
    clients: () => source?.clients ?? [],
    speed: options.speed,
    paused: options.paused,
    onClock: (clock) => source?.broadcastClock(clock),
    onAdvance: () => source?.hostsChanged(),
    onFinished: () => {
      const summary = sim.summary();
      log(formatSummary(summary).trimEnd());
      log('The run has finished; the web UI keeps serving it. Ctrl-C stops.');
      if (options.summaryFile !== undefined) {
        try {
          fs.writeFileSync(options.summaryFile, JSON.stringify(summary, null, 2) + '\n');
        } catch (e) {
          err(`proxyscope: cannot write --summary '${options.summaryFile}': ${(e as Error).message}`);
        }
      }
      for (const f of summary.expectations.filter((x) => !x.pass)) err(`proxyscope: expectation failed: ${f.label} (got ${f.actual})`);
      resolveFinished();
    },
    onError: (e) => err(`proxyscope: the simulation failed at t=${sim.now().toFixed(3)} ms: ${e.stack ?? e.message}; virtual time stops, the UI keeps serving what happened`),
  });

  let admin: AdminServer;
  try {
    admin = await startAdmin({
      host: options.host,
      port: options.port,
      engine: sim.engine,
      rawConfig: run.rawConfig,
      commandLine: options.commandLine ?? [],
      security: { token: options.token, allowOrigins: options.allowOrigins ?? [], allowHosts: options.allowHosts ?? [] },
      hub,
      recordings,
      stream: { statsIntervalMs: 500, ...options.stream, limits: { maxQueuedEvents: SIM_MAX_QUEUED_EVENTS, ...options.stream?.limits } },
      simulation: {
        source: (live) => {
          const sender = new RequestSender(sim.engine, hub, {}, simSendTransport(sim));
          source = new SimulationSource(live, sim, run.scenario, pacer, sender);
          return source;
        },
        uptimeS: () => Math.floor(sim.now() / 1000),
        serverInfo: () => ({
          mode: 'simulation',
          simulation: { scenario: run.scenario.name, seed: sim.seed, virtual_time_ms: pacer.clock().t, finished: sim.finished, paused: pacer.paused, speed: pacer.speed },
        }),
      },
    });
  } catch (e) {
    await abandon();
    throw e;
  }
  pacer.start();
  return {
    sim,
    admin,
    hub,
    pacer,
    source: source!,
    recordings,
    finished,
    close: async () => {
      pacer.close();
      source?.close();
      await admin.close();
      await recordings.close();
      releaseHub();
      hub.close();
    },
  };
}

function describeBindError(e: NodeJS.ErrnoException, where: string): string {
  if (e.code === 'EADDRINUSE') return `cannot start admin on ${where}: address already in use (${e.message}). Choose another port.`;
  if (e.code === 'EACCES') return `cannot start admin on ${where}: permission denied (${e.message}).`;
  return `cannot start admin on ${where}: ${e.message}`;
}

/** `proxyscope simulate --serve`: serve until SIGINT / SIGTERM. */
export async function serveSimulation(cli: SimulateCli, run: LoadedRun, log: (line: string) => void, err: (line: string) => void): Promise<number> {
  const speed: SimSpeed = cli.speed === Infinity ? 'max' : cli.speed === 10 ? 10 : 1;
  let served: ServedSimulation;
  try {
    served = await startSimulationServer({
      run,
      host: cli.admin.host,
      port: cli.admin.port,
      ...(cli.seed !== undefined && { seed: cli.seed }),
      concurrency: cli.concurrency,
      speed,
      paused: cli.paused,
      ...(cli.history !== undefined && { historySize: cli.history }),
      token: cli.token,
      allowOrigins: cli.allowOrigins,
      allowHosts: cli.allowHosts,
      ...(cli.record !== undefined && { record: cli.record }),
      ...(cli.summary !== undefined && { summaryFile: cli.summary }),
      commandLine: process.argv.slice(2),
      log,
      err,
    });
  } catch (e) {
    if (e instanceof RecordingError) {
      err(`proxyscope: ${e.message}`);
      return EXIT.FAILURE;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      err(`proxyscope: ${describeBindError(e as NodeJS.ErrnoException, `${cli.admin.host}:${cli.admin.port}`)}`);
      return code === 'EADDRINUSE' ? EXIT.BIND : EXIT.FAILURE;
    }
    err(`proxyscope: the simulation failed: ${(e as Error).message}`);
    return EXIT.FAILURE;
  }
  const { admin, sim } = served;
  const host = admin.address.includes(':') ? `[${admin.address}]` : admin.address;
  const shown = speed === 'max' ? 'as fast as the viewers read' : `${speed}x real time`;
  log(`proxyscope ${ENGINE_VERSION} - simulation of ${run.scenario.name} (seed ${sim.seed}, ${run.scenario.duration / 1000} s of traffic, virtual time)`);
  log(`  config   ${run.configFile}${run.scenarioFile ? `\n  scenario ${run.scenarioFile}` : ''}`);
  log(`  clock    ${cli.paused ? 'paused at t = 0 (press play in the UI)' : shown}`);
  log(`  web UI   http://${host}:${admin.port}/${cli.token ? '?token=TOKEN' : ''}  <- open this in a browser`);
  log(`  admin    http://${host}:${admin.port}/admin  (ready, stats, clusters, config_dump)`);
  log(`  stream   ws://${host}:${admin.port}${WS_PATH}  (mode simulation${cli.token ? ', token required' : ''})`);
  if (served.recordings.current) log(`  recording to ${served.recordings.current.path}`);
  log('The summary is printed when the run ends. Ctrl-C stops.');
  return untilSignal('proxyscope', () => served.close(), log, err);
}
