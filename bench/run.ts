/**
 * `npm run bench` -- ProxyScope throughput and latency against a plain Node.js proxy.
 *
 * Child processes (so the load generator in this process does not share a CPU with them):
 *   1. bench/upstream.ts            minimal node:http origin, small fixed body, keep-alive
 *   2. http-proxy baseline          bench/http-proxy-baseline.ts in front of the same origin
 *   3. ProxyScope, tracing off      the real CLI with a generated Envoy v3 bootstrap
 *   4. ProxyScope, every event      the same CLI and config with --record FILE
 *   5. ProxyScope, tracing always   --tracing always: the tracer feeds the history ring, no client
 *   6. ProxyScope + ws client       one WebSocket client (bench/ws-client.ts, its own process)
 *                                   subscribed to every event, decoding every batch
 *   7. ProxyScope + stalled client  one WebSocket client that stopped reading
 * Each target is driven by autocannon (programmatic API, in this process) with identical
 * settings: a warm-up run that is thrown away, then the measured run, during which the
 * target process's RSS is sampled every 200 ms (its peak is printed). Direct, http-proxy
 * and tracing off then get a short run at 1 connection (BENCH_ONE_CONN_DURATION), for the
 * latency a proxy adds: its p50 minus direct's p50 at 1 connection.
 * The table ends with issue 12's targets, each as a ratio against http-proxy in this run.
 *
 * Before that, socket-free micro benchmarks: parse a small GET with HttpParser (llhttp, undici's wasm build),
 * and one machine on the compiled runtime vs xstate (bench/machine-micro.ts); then the
 * simulation (bench/sim-child.ts, one process per run).
 * After the load runs, the stream's capacity: bench/ws-source.ts pushes synthetic events
 * (shaped like a real request's) through the server's stream code at a fixed rate to one
 * bench/ws-client.ts, which reports the events/s it decoded and any it was told it lost.
 * With BENCH_SOAK=<seconds>, a soak: ProxyScope with the same ws client attached, under load
 * for that long, its RSS sampled every few seconds, to show it stays flat.
 *
 * Last, the web UI in headless Chromium (bench/browser-load.ts, bench/browser-frames.ts): the
 * time to load a 1,000,000-event trace until it is scrubbable and a seek, frame times
 * while 1,000 requests are in flight, and (bench/browser-inpage.ts) the static build's engine
 * in the page: time to the first simulated request on screen and the worker bundle's size.
 *
 * Everything binds 127.0.0.1. All children are killed at the end, also on error or ^C.
 *
 * Knobs (environment):
 *   BENCH_DURATION=10     measured seconds per target
 *   BENCH_WARMUP=2        warm-up seconds per target (0 = none)
 *   BENCH_CONNECTIONS=64  autocannon connections (issue 12 measures at 64)
 *   BENCH_PIPELINING=1    autocannon pipelining factor
 *   BENCH_ONE_CONN_DURATION=5  seconds of the 1-connection runs (direct, http-proxy, tracing off; 0 = skip)
 *   BENCH_MICRO_N=200000  micro benchmark iterations (0 = skip)
 *   BENCH_ONLY=micro      run only the micro benchmarks (or: sim,direct,baseline,off,record,ring,ws,stalled,wscap,soak,browser)
 *   BENCH_SIM_REQUESTS=200000  requests of the long simulation run (memory; 1000000 for the issue's figure)
 *   BENCH_TRACE_EVENTS=1000000  events in the trace the web UI loads (browser)
 *   BENCH_WS_RATE=250000  events/s the stream capacity run offers (and a second run at 4x)
 *   BENCH_WS_SECONDS=5    seconds of each stream capacity run
 *   BENCH_SOAK=0          seconds of the soak (0 = skip; 600 is issue 12's 10 minutes)
 *   BENCH_CPU_PROF=1      run "ProxyScope, tracing off" under `node --cpu-prof` and print
 *                         its hottest functions (self time, file:line); keeps the temp dir
 *   BENCH_PROF_TOP=25     how many functions the profile summary lists
 *   BENCH_KEEP=1          keep the temp dir (config, trace file, profile)
 */
import { machineMicro } from './machine-micro';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { HttpParser, type ParserCallbacks } from '../packages/engine/src/codec/llhttp-parser.ts';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH_DIR, '..');
const CLI = path.join(ROOT, 'apps/server/bin/proxyscope.mjs');
const HOST = '127.0.0.1';

function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`bench: ${name} must be a number >= ${min}, got '${raw}'\n`);
    process.exit(2);
  }
  return n;
}

const DURATION = envNumber('BENCH_DURATION', 10, 1);
const WARMUP = envNumber('BENCH_WARMUP', 2, 0);
const CONNECTIONS = Math.floor(envNumber('BENCH_CONNECTIONS', 64, 1));
/** the connection count issue 12's load targets are stated at */
const ISSUE_CONNECTIONS = 64;
const ONE_CONN_DURATION = envNumber('BENCH_ONE_CONN_DURATION', 5, 0);
const PIPELINING = Math.floor(envNumber('BENCH_PIPELINING', 1, 1));
const MICRO_N = Math.floor(envNumber('BENCH_MICRO_N', 200_000, 0));
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
const KEEP = process.env.BENCH_KEEP === '1' || CPU_PROF;
const ONLY = new Set((process.env.BENCH_ONLY ?? 'micro,sim,direct,baseline,off,record,ring,ws,stalled,wscap,soak,browser').split(',').map((s) => s.trim()));
const WS_RATE = Math.floor(envNumber('BENCH_WS_RATE', 250_000, 1));
const WS_SECONDS = envNumber('BENCH_WS_SECONDS', 5, 1);
const SOAK_SECONDS = envNumber('BENCH_SOAK', 0, 0);
const START_TIMEOUT_MS = 30_000;

const log = (line = '') => process.stdout.write(line + '\n');

// ---------------------------------------------------------------------------------
// Child processes

interface Child {
  name: string;
  proc: ChildProcess;
  /** last lines of stdout/stderr, for error messages */
  output: string[];
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
  exitedAt?: number;
}

const children: Child[] = [];
/** the run's temp dir (config, trace, profile); removed at the end unless BENCH_KEEP */
let tmpDir: string | undefined;

class StartError extends Error {}

function spawnChild(name: string, args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): Child {
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: [stdin, 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } });
  const child: Child = { name, proc, output: [], exited: Promise.resolve(null), exitCode: undefined };
  child.exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      child.exitedAt = Date.now();
      child.exitCode = code ?? (signal ? -1 : null);
      resolve(code);
    });
    proc.once('error', (err) => {
      child.output.push(`spawn error: ${err.message}`);
      child.exitCode = -1;
      resolve(-1);
    });
  });
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      child.output.push(line);
      if (child.output.length > 40) child.output.shift();
    }
  };
  // Always drain both pipes so a chatty child never blocks on a full pipe.
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  children.push(child);
  return child;
}

function describeExit(child: Child): string {
  return `${child.name} exited (code ${child.exitCode}) before it was ready. Its output:\n  ${child.output.join('\n  ') || '(none)'}`;
}

/** Resolves with the first stdout line matching `pattern` (its first group). */
function waitForLine(child: Child, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new StartError(`${child.name} did not print its address within ${START_TIMEOUT_MS / 1000} s. Output:\n  ${child.output.join('\n  ')}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const m = pattern.exec(line);
        if (m) {
          cleanup();
          resolve(m[1]!);
          return;
        }
      }
    };
    const onExit = () => {
      cleanup();
      reject(new StartError(describeExit(child)));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.proc.stdout!.off('data', onData);
      child.proc.off('exit', onExit);
    };
    child.proc.stdout!.on('data', onData);
    child.proc.once('exit', onExit);
    if (child.exitCode !== undefined) onExit();
  });
}

function checkLoopback(name: string, address: string): void {
  if (!address.startsWith(`${HOST}:`)) throw new StartError(`${name} bound ${address}, expected ${HOST} only`);
}

async function terminate(child: Child): Promise<void> {
  if (child.exitCode !== undefined) return;
  child.proc.kill('SIGTERM');
  const killed = await Promise.race([child.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!killed && child.exitCode === undefined) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
}

async function killAll(): Promise<void> {
  await Promise.all(children.map((c) => terminate(c)));
}

// Last resort: whatever happens to this process, take the children with it.
process.on('exit', () => {
  for (const c of children) if (c.exitCode === undefined) c.proc.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`\nbench: ${signal}, stopping children`);
    void killAll().finally(() => {
      if (tmpDir && !KEEP) fs.rmSync(tmpDir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A port that was free on 127.0.0.1 a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function startNodeScript(name: string, script: string, args: string[]): Promise<{ child: Child; address: string }> {
  const child = spawnChild(name, ['--import', 'tsx', path.join(BENCH_DIR, script), ...args]);
  const address = await waitForLine(child, /^LISTENING (\S+)$/);
  checkLoopback(name, address);
  return { child, address };
}

function bootstrapYaml(listenerPort: number, upstream: string): string {
  const [upHost, upPort] = upstream.split(':');
  return `# Generated by bench/run.ts: one listener, one route, one cluster, no access log.
static_resources:
  listeners:
    - name: bench
      address:
        socket_address: { address: ${HOST}, port_value: ${listenerPort} }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: bench
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
                route_config:
                  name: bench
                  virtual_hosts:
                    - name: bench
                      domains: ["*"]
                      routes:
                        - match: { prefix: / }
                          route: { cluster: bench_upstream }
  clusters:
    - name: bench_upstream
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: bench_upstream
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: { address: ${upHost}, port_value: ${upPort} }
`;
}

async function waitReady(child: Child, admin: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== undefined) throw new StartError(describeExit(child));
    try {
      const res = await fetch(`http://${admin}/ready`, { signal: AbortSignal.timeout(1000) });
      const text = await res.text();
      if (res.status === 200 && text.trim() === 'LIVE') return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new StartError(`${child.name} was not ready (GET http://${admin}/ready) within ${START_TIMEOUT_MS / 1000} s. Output:\n  ${child.output.join('\n  ')}`);
    await sleep(100);
  }
}

async function startProxyScope(
  name: string,
  configFile: string,
  extra: { record?: string; nodeArgs?: string[]; args?: string[] },
): Promise<{ child: Child; address: string; admin: string }> {
  // Fixed ports found free just before, so readiness can be polled on the admin port
  // even before the CLI prints anything.
  const [listenerPort, adminPort] = [await freePort(), await freePort()];
  const yamlFile = configFile.replace(/\.yaml$/, `-${listenerPort}.yaml`);
  fs.writeFileSync(yamlFile, bootstrapYaml(listenerPort, upstreamAddress));
  const args = [...(extra.nodeArgs ?? []), CLI, '--config', yamlFile, '--admin', `${HOST}:${adminPort}`];
  if (extra.record) args.push('--record', extra.record);
  args.push(...(extra.args ?? []));
  const child = spawnChild(name, args);
  const printed = waitForLine(child, /^\s*listener\s+\S+\s+http:\/\/(\S+)/);
  printed.catch(() => {}); // waitReady reports failures
  await waitReady(child, `${HOST}:${adminPort}`);
  // The CLI prints its listener addresses on stdout at start; use them when present.
  const address = await Promise.race([printed, sleep(2000).then(() => `${HOST}:${listenerPort}`)]);
  checkLoopback(name, address);
  return { child, address, admin: `${HOST}:${adminPort}` };
}

// ---------------------------------------------------------------------------------
// WebSocket stream clients and source (bench/ws-client.ts, bench/ws-source.ts)

/** Cumulative counts a ws-client child prints every 200 ms. */
interface WsCounts {
  events: number;
  bytes: number;
  batches: number;
  dropped: number;
  droppedNotices: number;
  lastSeq: number;
  errors: number;
  firstEventAt: number;
  lastEventAt: number;
}

interface WsClient {
  child: Child;
  latest(): WsCounts;
  /** waits until the client has printed counts taken after now */
  fresh(): Promise<WsCounts>;
  resume(): void;
}

async function startWsClient(name: string, url: string, stall: boolean): Promise<WsClient> {
  const child = spawnChild(name, ['--import', 'tsx', path.join(BENCH_DIR, 'ws-client.ts'), url, ...(stall ? ['--stall'] : [])], 'pipe');
  child.proc.stdin?.on('error', () => {});
  let latest: WsCounts = { events: 0, bytes: 0, batches: 0, dropped: 0, droppedNotices: 0, lastSeq: 0, errors: 0, firstEventAt: 0, lastEventAt: 0 };
  let updates = 0;
  let buffered = '';
  child.proc.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith('{')) {
        latest = JSON.parse(line) as WsCounts;
        updates++;
      }
    }
  });
  await waitForLine(child, /^(HELLO)$/);
  return {
    child,
    latest: () => latest,
    fresh: async () => {
      const after = updates + 2;
      const deadline = Date.now() + 5000;
      while (updates < after && Date.now() < deadline && child.exitCode === undefined) await sleep(50);
      return latest;
    },
    resume: () => child.proc.stdin?.write('resume\n'),
  };
}

interface StreamState {
  tracing: boolean;
  events: number;
  clients: Array<{ queued: number; buffered_bytes: number; sent_events: number; dropped: number }>;
}

async function streamState(admin: string): Promise<StreamState | undefined> {
  try {
    return (await (await fetch(`http://${admin}/stream`, { signal: AbortSignal.timeout(2000) })).json()) as StreamState;
  } catch {
    return undefined;
  }
}

/** One run of the stream capacity benchmark: synthetic events at `rate` to one client. */
async function streamCapacity(rate: number, seconds: number): Promise<string> {
  const source = spawnChild(`ws-source ${rate}/s`, ['--import', 'tsx', path.join(BENCH_DIR, 'ws-source.ts'), String(rate), String(seconds)]);
  try {
    const address = await waitForLine(source, /^LISTENING (\S+)$/);
    checkLoopback('ws-source', address);
    const done = waitForLine(source, /^DONE (.*)$/);
    done.catch(() => {});
    const client = await startWsClient(`ws-client ${rate}/s`, `ws://${address}/ws`, false);
    const { produced, seconds: took } = JSON.parse(await Promise.race([done, sleep((seconds + 30) * 1000).then(() => '{"produced":0,"seconds":0}')])) as { produced: number; seconds: number };
    const doneAt = Date.now();
    // Let the client finish reading what is on its way.
    let counts = await client.fresh();
    for (let i = 0; i < 50 && counts.events + counts.dropped < produced; i++) counts = await client.fresh();
    await terminate(client.child);
    const span = Math.max(0.001, (counts.lastEventAt - counts.firstEventAt) / 1000);
    const lagMs = Math.max(0, counts.lastEventAt - doneAt);
    return (
      `  offered ${rate.toLocaleString('en-US')} events/s for ${fmt(took)} s (${produced.toLocaleString('en-US')} events): ` +
      `client decoded ${counts.events.toLocaleString('en-US')} = ${Math.round(counts.events / span).toLocaleString('en-US')} events/s, ` +
      `dropped ${counts.dropped.toLocaleString('en-US')}, ${fmt(counts.bytes / Math.max(1, counts.events), 1)} bytes/event, ` +
      `${fmt(counts.bytes / span / 1e6, 1)} MB/s, ${counts.batches.toLocaleString('en-US')} batches; last event ${lagMs} ms after the source stopped`
    );
  } finally {
    await terminate(source);
  }
}

// ---------------------------------------------------------------------------------
// Load

interface Measured {
  label: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
  /** CPU time (user + system) the target process used per response, in µs (Linux) */
  cpuUsPerReq: number;
  /** highest RSS of the target process sampled during the measured run, in MiB */
  peakRssMB: number;
  /** measured seconds, as autocannon timed them */
  seconds: number;
  connections: number;
  died: boolean;
}

interface Load {
  result: autocannon.Result;
  /** response latency in ns, sub-millisecond (autocannon's own histogram is whole ms) */
  latencyNs: RecordableHistogram;
}

function cannon(url: string, duration: number, connections = CONNECTIONS, pipelining = PIPELINING): Promise<Load> {
  const latencyNs = createHistogram();
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url, connections, pipelining, duration, timeout: 10 }, (err, result) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve({ result, latencyNs });
    });
    // The tracker re-emits every response as (client, status, bytes, latency in float ms);
    // @types/autocannon only declares this event on the client.
    (instance as unknown as NodeJS.EventEmitter).on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
      latencyNs.record(Math.max(1, Math.round(ms * 1e6)));
    });
  });
}

interface MeasureOptions {
  /** after the warm-up, before the measured run */
  between?: () => Promise<void>;
  /** right after the measured run */
  after?: () => Promise<void>;
  connections?: number;
  pipelining?: number;
  duration?: number;
  warmup?: number;
}

/** One measured run's row: req/s, latency, CPU per request and peak RSS, from autocannon's result and the samples. */
function measuredRow(
  label: string,
  r: autocannon.Result,
  latencyNs: RecordableHistogram,
  cpuBefore: number | undefined,
  cpuAfter: number | undefined,
  rssSamples: ReadonlyArray<{ kib: number }>,
  connections: number,
  died: boolean,
): Measured {
  const requests = r['1xx'] + r['2xx'] + r['3xx'] + r['4xx'] + r['5xx'];
  return {
    label,
    rps: requests / r.duration,
    p50: latencyNs.percentile(50) / 1e6,
    p99: latencyNs.percentile(99) / 1e6,
    errors: r.errors + r.timeouts + r.mismatches + r.resets,
    non2xx: r.non2xx,
    requests,
    cpuUsPerReq: cpuBefore !== undefined && cpuAfter !== undefined && requests > 0 ? ((cpuAfter - cpuBefore) * 1000) / requests : NaN,
    peakRssMB: rssSamples.length ? Math.max(...rssSamples.map((x) => x.kib)) / 1024 : NaN,
    seconds: r.duration,
    connections,
    died,
  };
}

async function measure(label: string, child: Child | undefined, address: string, options: MeasureOptions = {}): Promise<Measured> {
  const { connections = CONNECTIONS, pipelining = PIPELINING, duration = DURATION, warmup = WARMUP } = options;
  const url = `http://${address}/bench`;
  process.stdout.write(`  ${label.padEnd(38)} `);
  if (warmup > 0) await cannon(url, warmup, connections, pipelining);
  await options.between?.();
  const cpuBefore = processCpuMs(child);
  const rss = sampleRss(child, RSS_SAMPLE_MS);
  const { result: r, latencyNs } = await cannon(url, duration, connections, pipelining);
  const rssSamples = await rss.stop();
  const cpuAfter = processCpuMs(child);
  await options.after?.();
  const result = measuredRow(label, r, latencyNs, cpuBefore, cpuAfter, rssSamples, connections, child !== undefined && child.exitCode !== undefined);
  log(`${Math.round(result.rps)} req/s${result.died ? `  (process died: ${child!.output.slice(-5).join(' | ')})` : ''}`);
  return result;
}

/** The measured run's RSS sampling interval: often enough to catch a peak under load. */
const RSS_SAMPLE_MS = 200;
const execFileAsync = promisify(execFile);

/** Resident set size of a process in KiB: VmRSS from /proc on Linux, `ps -o rss=` elsewhere. */
async function rssKiB(pid: number): Promise<number | undefined> {
  if (process.platform === 'linux') {
    try {
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }
  try {
    const { stdout } = await execFileAsync('ps', ['-o', 'rss=', '-p', String(pid)]);
    const kib = Number(stdout.trim());
    return Number.isFinite(kib) && kib > 0 ? kib : undefined;
  } catch {
    return undefined;
  }
}

interface RssSample {
  /** ms since sampling started */
  atMs: number;
  kib: number;
}

/**
 * Samples a child's RSS every `everyMs` until stop(), which takes one last sample and
 * returns them all. `onSample` sees each one as it is taken (the soak's progress lines).
 */
function sampleRss(child: Child | undefined, everyMs: number, onSample?: (s: RssSample) => void): { stop(): Promise<RssSample[]> } {
  const pid = child?.proc.pid;
  const samples: RssSample[] = [];
  const t0 = Date.now();
  let pending: Promise<void> = Promise.resolve();
  const take = () => {
    // Chained, so a slow `ps` never runs two samples at once or out of order.
    pending = pending.then(async () => {
      if (pid === undefined || child?.exitCode !== undefined) return;
      const kib = await rssKiB(pid);
      if (kib === undefined) return;
      const sample = { atMs: Date.now() - t0, kib };
      samples.push(sample);
      onSample?.(sample);
    });
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      take();
      await pending;
      return samples;
    },
  };
}

let clockTicks: number | undefined;

/** user + system CPU ms of a child so far, from /proc (Linux only; undefined elsewhere). */
function processCpuMs(child: Child | undefined): number | undefined {
  const pid = child?.proc.pid;
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    if (clockTicks === undefined) {
      try {
        clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
      } catch {
        clockTicks = 100;
      }
    }
    // Fields after "(comm) ": state is [0], utime [11], stime [12].
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------
// Trace file helpers

async function countLines(file: string): Promise<number> {
  let lines = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let i = -1;
    while ((i = chunk.indexOf(10, i + 1)) >= 0) lines++;
  }
  return lines;
}

/** Wait until the recorder has flushed: the file size stops changing for a while. */
async function settle(file: string, quietMs = 400, maxMs = 15_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let size = -1;
  let since = Date.now();
  while (Date.now() < deadline) {
    const now = fs.existsSync(file) ? fs.statSync(file).size : 0;
    if (now !== size) {
      size = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return;
    }
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------
// CPU profile summary

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Source map `mappings` -> per generated line, sorted [generated column, original line (0-based)]. */
function decodeMappings(mappings: string): Array<Array<[number, number]>> {
  const lines: Array<Array<[number, number]>> = [];
  let srcLine = 0;
  for (const lineText of mappings.split(';')) {
    const segs: Array<[number, number]> = [];
    let genCol = 0;
    for (const seg of lineText.split(',')) {
      if (seg === '') continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += fields[0]!;
      if (fields.length >= 4) {
        srcLine += fields[2]!;
        segs.push([genCol, srcLine]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

/**
 * The proxy runs its TypeScript through tsx, which compiles each file with esbuild
 * (whitespace minified, so every function sits on "line 1"). To print file:line of the
 * source, compile the file again with the same esbuild options and read its source map.
 * esbuild comes with tsx; without it we print generated positions instead.
 */
type Esbuild = { transform(code: string, options: Record<string, unknown>): Promise<{ code: string; map: string }> };
const sourceMaps = new Map<string, Promise<Array<Array<[number, number]>> | null>>();

function sourceMapFor(file: string): Promise<Array<Array<[number, number]>> | null> {
  let entry = sourceMaps.get(file);
  if (!entry) {
    entry = (async () => {
      try {
        const esbuild = (await import('esbuild' as string)) as Esbuild;
        const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions?: unknown };
        const out = await esbuild.transform(fs.readFileSync(file, 'utf8'), {
          loader: file.endsWith('x') ? 'tsx' : 'ts',
          format: 'esm',
          sourcefile: file,
          sourcemap: true,
          minifyWhitespace: true,
          keepNames: true,
          target: `node${process.versions.node}`,
          tsconfigRaw: { compilerOptions: tsconfig.compilerOptions },
        });
        return decodeMappings((JSON.parse(out.map) as { mappings: string }).mappings);
      } catch {
        return null;
      }
    })();
    sourceMaps.set(file, entry);
  }
  return entry;
}

async function location(cf: ProfileNode['callFrame']): Promise<string> {
  if (!cf.url) return '';
  const file = cf.url.startsWith('file://') ? fileURLToPath(cf.url) : cf.url;
  const shown = file.startsWith(ROOT + '/') ? file.slice(ROOT.length + 1) : file;
  if (/\.[cm]?tsx?$/.test(file) && fs.existsSync(file)) {
    const map = await sourceMapFor(file);
    const segs = map?.[cf.lineNumber];
    if (segs && segs.length) {
      let best: [number, number] | undefined;
      for (const seg of segs) {
        if (seg[0] <= cf.columnNumber) best = seg;
        else break;
      }
      if (best) return `${shown}:${best[1] + 1}`;
    }
    return `${shown} (compiled ${cf.lineNumber + 1}:${cf.columnNumber + 1})`;
  }
  return `${shown}:${cf.lineNumber + 1}`;
}

/**
 * Self time per function and per file/package, from the samples taken in the window
 * [fromEndMs, toEndMs] milliseconds before the profile ended (the load period).
 */
async function summariseProfile(file: string, window: { fromEndMs: number; toEndMs: number } | undefined, top = Math.floor(envNumber('BENCH_PROF_TOP', 25, 1))): Promise<string[]> {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const from = window ? profile.endTime - window.fromEndMs * 1000 : -Infinity;
  const to = window ? profile.endTime - window.toEndMs * 1000 : Infinity;
  const hitsByNode = new Map<number, number>();
  let t = profile.startTime;
  let inWindow = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    inWindow++;
    const id = profile.samples[i]!;
    hitsByNode.set(id, (hitsByNode.get(id) ?? 0) + 1);
  }
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let idle = 0;
  for (const [id, hits] of hitsByNode) {
    const cf = nodes.get(id)!.callFrame;
    if (cf.functionName === '(idle)') {
      idle += hits;
      continue;
    }
    const where = await location(cf);
    const key = `${cf.functionName || '(anonymous)'}  ${where}`.trim();
    byFn.set(key, (byFn.get(key) ?? 0) + hits);
    const f = where.replace(/(:\d+| \(compiled .*)$/, '');
    const group = !f ? `(${cf.functionName})` : f.startsWith('node:') ? 'node: internals' : f.replace(/^.*node_modules\/((?:@[^/]+\/)?[^/]+).*$/, 'node_modules/$1');
    byFile.set(group, (byFile.get(group) ?? 0) + hits);
  }
  // Time spent inside dependencies (xstate, undici, ...), charged to the nearest
  // frame of our own code on the stack: which of our call sites drive them.
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const ownFrame = (url: string) => url.startsWith('file://') && !url.includes('/node_modules/') && url.includes(pathToFileURL(ROOT).href);
  const byCaller = new Map<string, { hits: number; cf: ProfileNode['callFrame'] }>();
  let inDeps = 0;
  for (const [id, hits] of hitsByNode) {
    const cf = nodes.get(id)!.callFrame;
    if (!cf.url.includes('/node_modules/')) continue;
    inDeps += hits;
    let up = parentOf.get(id);
    while (up !== undefined && !ownFrame(nodes.get(up)!.callFrame.url)) up = parentOf.get(up);
    const caller = up === undefined ? undefined : nodes.get(up)!.callFrame;
    const key = caller ? `${caller.url}|${caller.lineNumber}|${caller.columnNumber}|${caller.functionName}` : '(no own frame on the stack)';
    const entry = byCaller.get(key) ?? { hits: 0, cf: caller ?? { functionName: '(no own frame on the stack)', url: '', lineNumber: 0, columnNumber: 0 } };
    entry.hits += hits;
    byCaller.set(key, entry);
  }
  const callerLines: string[] = [];
  for (const { hits, cf } of [...byCaller.values()].sort((a, b) => b.hits - a.hits).slice(0, 15)) {
    callerLines.push(`    ${((100 * hits) / (inWindow - idle || 1)).toFixed(1).padStart(5)}%  ${cf.functionName || '(anonymous)'}  ${await location(cf)}`.trimEnd());
  }

  const busy = inWindow - idle || 1;
  const pct = (n: number) => `${((100 * n) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    `  ${inWindow} samples in the load window, ${((100 * idle) / (inWindow || 1)).toFixed(0)}% idle; percentages below are of the busy samples`,
    '  self time by function:',
  ];
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(v)}  ${k}`);
  lines.push('  self time by file / package:');
  for (const [k, v] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 20)) lines.push(`    ${pct(v)}  ${k}`);
  lines.push(`  self time in node_modules (${pct(inDeps).trim()}) by the nearest caller in this repository:`, ...callerLines);
  return lines;
}

// ---------------------------------------------------------------------------------
// Micro benchmark: HttpParser, no sockets

function microParser(n: number): void {
  const request = new TextEncoder().encode('GET /api/items?id=42 HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: proxyscope-bench\r\nAccept: */*\r\n\r\n');
  const limits = { maxHeaderBytes: 60 * 1024, maxHeadersCount: 100 };
  let completed = 0;
  const callbacks: ParserCallbacks = {
    onMessageBegin() {},
    onHeadersComplete: () => 'continue',
    onBody: () => 'continue',
    onMessageComplete() {
      completed++;
      return 'continue';
    },
  };
  const run = (label: string, iterations: number, op: (p: HttpParser) => HttpParser) => {
    let parser = new HttpParser('request', callbacks, limits);
    const warm = Math.max(1, Math.floor(iterations / 10));
    for (let i = 0; i < warm; i++) parser = op(parser);
    completed = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) parser = op(parser);
    const ns = Number(process.hrtime.bigint() - t0);
    parser.destroy();
    if (completed !== iterations) throw new Error(`micro: expected ${iterations} parsed messages, got ${completed}`);
    log(`  ${label.padEnd(52)} ${(ns / iterations).toFixed(0).padStart(7)} ns/op  ${Math.round((iterations * 1e9) / ns).toLocaleString('en-US').padStart(11)} ops/s  (N=${iterations})`);
  };
  log(`\nMicro benchmark: HttpParser (llhttp, undici's wasm build), ${request.length}-byte GET, no sockets`);
  run('parse GET on one keep-alive parser', n, (p) => {
    const r = p.execute(request);
    if (r.kind !== 'ok') throw new Error(`micro: parse failed: ${JSON.stringify(r)}`);
    return p;
  });
  run('new parser + parse GET + destroy', Math.max(1, Math.floor(n / 4)), (p) => {
    p.destroy();
    const fresh = new HttpParser('request', callbacks, limits);
    const r = fresh.execute(request);
    if (r.kind !== 'ok') throw new Error(`micro: parse failed: ${JSON.stringify(r)}`);
    return fresh;
  });
}

// ---------------------------------------------------------------------------------

let upstreamAddress = '';

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** Columns before `leftColumns` are left-aligned, the rest (figures) right-aligned. */
function printTable(header: string[], body: string[][], leftColumns = 1): void {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    ('  ' + cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).trimEnd();
  log(line(header));
  log('  ' + widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) log(line(row));
}

const times = (a: number, b: number | undefined) => (b !== undefined && b > 0 && Number.isFinite(a) ? `${fmt(a / b)}x` : '-');

function table(rows: Measured[], baseline: Measured | undefined): void {
  const header = ['target', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'CPU µs/req', 'peak RSS MB', 'req/s vs http-proxy', 'p99 vs http-proxy', 'RSS vs http-proxy'];
  printTable(
    header,
    rows.map((r) => [
      r.label + (r.died ? ' (DIED)' : ''),
      r.requests.toLocaleString('en-US'),
      Math.round(r.rps).toLocaleString('en-US'),
      fmt(r.p50),
      fmt(r.p99),
      String(r.errors),
      String(r.non2xx),
      fmt(r.cpuUsPerReq, 0),
      fmt(r.peakRssMB, 1),
      times(r.rps, baseline?.rps),
      times(r.p99, baseline?.p99),
      times(r.peakRssMB, baseline?.peakRssMB),
    ]),
  );
}

/** The 1-connection runs: latency with no queueing, and what each proxy adds to direct's. */
function oneConnTable(rows: Measured[], direct: Measured | undefined): void {
  const added = (r: Measured) => (direct && !direct.died && !r.died ? fmt((r.p50 - direct.p50) * 1000, 0) : '-');
  printTable(
    ['target, 1 connection', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'added p50 µs', 'errors', 'CPU µs/req'],
    rows.map((r) => [
      r.label + (r.died ? ' (DIED)' : ''),
      r.requests.toLocaleString('en-US'),
      Math.round(r.rps).toLocaleString('en-US'),
      fmt(r.p50, 3),
      fmt(r.p99, 3),
      r === direct ? '0' : added(r),
      String(r.errors + r.non2xx),
      fmt(r.cpuUsPerReq, 0),
    ]),
  );
}

interface TargetLine {
  what: string;
  wanted: string;
  measured: string;
  /** undefined: not measured in this run; 'died': a process it needs died during its run */
  met: boolean | undefined | 'died';
}

function printTargets(title: string, lines: TargetLine[]): void {
  log(title);
  printTable(
    ['target', 'wanted', 'measured', 'result'],
    lines.map((t) => [t.what, t.wanted, t.measured, t.met === undefined ? 'not measured' : t.met === 'died' ? 'DIED' : t.met ? 'MET' : 'NOT MET']),
    4,
  );
}

/** Issue 12's load targets, each as a ratio against http-proxy in this run. */
function issueTargets(rows: { baseline?: Measured; off?: Measured; ws?: Measured; direct1?: Measured; baseline1?: Measured; off1?: Measured }): TargetLine[] {
  const { baseline, off, ws, direct1, baseline1, off1 } = rows;
  const at = `${CONNECTIONS} connections${CONNECTIONS === ISSUE_CONNECTIONS ? '' : ` (issue: ${ISSUE_CONNECTIONS})`}`;
  const reqs = (n: number) => `${Math.round(n).toLocaleString('en-US')} req/s`;
  const died = (...rs: Array<Measured | undefined>) => rs.filter((r): r is Measured => r !== undefined && r.died).map((r) => r.label);
  const ratio = (
    what: string,
    of: Measured | undefined,
    to: Measured | undefined,
    figure: (r: Measured) => number,
    show: (n: number) => string,
    op: '>=' | '<=',
    bound: number,
    needs: string,
  ): TargetLine => {
    const wanted = `${op} ${fmt(bound)}x`;
    const gone = died(of, to);
    if (gone.length) return { what, wanted, measured: `- (${gone.join(', ')} died)`, met: 'died' };
    const [a, b] = [of && figure(of), to && figure(to)];
    if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return { what, wanted, measured: `- (needs ${needs})`, met: undefined };
    const r = a / b;
    return { what, wanted, measured: `${fmt(r)}x (${show(a)} vs ${show(b)})`, met: op === '>=' ? r >= bound : r <= bound };
  };
  const lines = [
    ratio(`tracing off: req/s at ${at}`, off, baseline, (r) => r.rps, reqs, '>=', 1.0, 'baseline,off'),
    ratio('tracing off: CPU per request', off, baseline, (r) => r.cpuUsPerReq, (n) => `${fmt(n, 0)} µs`, '<=', 1.0, 'baseline,off on Linux'),
    ratio('one ws client reading every event: req/s', ws, baseline, (r) => r.rps, reqs, '>=', 0.6, 'baseline,ws'),
    ratio(`tracing off: p99 at ${at}`, off, baseline, (r) => r.p99, (n) => `${fmt(n)} ms`, '<=', 1.5, 'baseline,off'),
  ];
  const addedWhat = 'tracing off: added p50 at 1 connection';
  const gone = died(direct1, baseline1, off1);
  if (gone.length) {
    lines.push({ what: addedWhat, wanted: "<= http-proxy's", measured: `- (${gone.join(', ')} died)`, met: 'died' });
  } else if (direct1 && baseline1 && off1) {
    const mine = (off1.p50 - direct1.p50) * 1000;
    const theirs = (baseline1.p50 - direct1.p50) * 1000;
    lines.push({ what: addedWhat, wanted: `<= http-proxy's (${fmt(theirs, 0)} µs)`, measured: `${fmt(mine, 0)} µs (${times(mine, theirs)})`, met: mine <= theirs });
  } else {
    lines.push({ what: addedWhat, wanted: "<= http-proxy's", measured: `- (needs direct,baseline,off and BENCH_ONE_CONN_DURATION > 0)`, met: undefined });
  }
  lines.push(ratio('tracing off: peak RSS under load', off, baseline, (r) => r.peakRssMB, (n) => `${fmt(n, 1)} MB`, '<=', 1.5, 'baseline,off'));
  return lines;
}

async function main(): Promise<number> {
  const started = Date.now();
  log(`ProxyScope benchmark  ${new Date().toISOString()}`);
  log(`  node ${process.version}, ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${os.platform()} ${os.release()}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  if (ONLY.has('micro') && MICRO_N > 0) microParser(MICRO_N);
  if (ONLY.has('micro') && MICRO_N > 0) machineMicro(MICRO_N, log);
  if (ONLY.has('sim')) await simulationFigures();
  const wanted = ['direct', 'baseline', 'off', 'ring', 'ws', 'stalled', 'record'].filter((t) => ONLY.has(t));
  const soakWanted = ONLY.has('soak') && SOAK_SECONDS > 0;
  if (wanted.length === 0 && !soakWanted) {
    const code = ONLY.has('wscap') ? await capacityOnly() : 0;
    if (ONLY.has('soak')) logSoakSkipped();
    if (ONLY.has('browser')) await browserFigures();
    return code;
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'proxyscope-bench-'));
  tmpDir = tmp;
  const traceFile = path.join(tmp, 'trace.ndjson');
  const profDir = path.join(tmp, 'cpu-prof');
  let exitCode = 0;
  try {
    if (wanted.length) {
      log(`\nLoad: autocannon, ${CONNECTIONS} connections, pipelining ${PIPELINING}, ${WARMUP} s warm-up + ${DURATION} s measured per target; RSS sampled every ${RSS_SAMPLE_MS} ms of the measured run`);
      if (ONE_CONN_DURATION > 0) log(`  then direct, http-proxy and tracing off again at 1 connection, pipelining 1, for ${ONE_CONN_DURATION} s each (no warm-up: each has just run under load)`);
      log(`  starting child processes (upstream, http-proxy, ProxyScope x${wanted.filter((t) => !['direct', 'baseline'].includes(t)).length}) ...`);
    }
    const upstream = await startNodeScript('upstream', 'upstream.ts', []);
    upstreamAddress = upstream.address;
    const configBase = path.join(tmp, 'envoy.yaml');
    // Start the proxies together (startup is mostly tsx compiling); they idle until used.
    const starts = await Promise.allSettled([
      wanted.includes('baseline') ? startNodeScript('http-proxy baseline', 'http-proxy-baseline.ts', [upstream.address]) : undefined,
      wanted.includes('off')
        ? startProxyScope('ProxyScope (tracing off)', configBase, { nodeArgs: CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [] })
        : undefined,
      wanted.includes('record') ? startProxyScope('ProxyScope (recording)', configBase, { record: traceFile }) : undefined,
      wanted.includes('ring') ? startProxyScope('ProxyScope (tracing always)', configBase, { args: ['--tracing', 'always'] }) : undefined,
      wanted.includes('ws') ? startProxyScope('ProxyScope (ws client)', configBase, {}) : undefined,
      wanted.includes('stalled') ? startProxyScope('ProxyScope (stalled ws client)', configBase, {}) : undefined,
    ]);
    // allSettled, not all: every start has finished (or failed) before cleanup runs.
    const failed = starts.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const [baseline, off, record, ring, wsTarget, stalledTarget] = starts.map(
      (s) => (s as PromiseFulfilledResult<{ child: Child; address: string; admin?: string } | undefined>).value,
    );
    if (wanted.length) {
      log(
        `  upstream ${upstream.address}` +
          (baseline ? `, http-proxy ${baseline.address}` : '') +
          (off ? `, ProxyScope ${off.address}` : '') +
          (record ? `, ProxyScope --record ${record.address}` : '') +
          (ring ? `, --tracing always ${ring.address}` : '') +
          (wsTarget ? `, ws client ${wsTarget.address}` : '') +
          (stalledTarget ? `, stalled client ${stalledTarget.address}` : ''),
      );
      log(`  measuring (config and trace in ${tmp}):`);
    }

    const rows: Measured[] = [];
    const oneConnRows: Measured[] = [];
    // Right after a target's run under load, the same process at 1 connection: latency with
    // no queueing in front of it, for what a proxy adds to the direct path.
    const oneConn = async (label: string, child: Child, address: string): Promise<Measured | undefined> => {
      if (ONE_CONN_DURATION <= 0 || child.exitCode !== undefined) return undefined;
      const row = await measure(`${label}, 1 connection`, child, address, { connections: 1, pipelining: 1, duration: ONE_CONN_DURATION, warmup: 0 });
      oneConnRows.push(row);
      return row;
    };
    let directRow: Measured | undefined;
    let direct1: Measured | undefined;
    if (wanted.includes('direct')) {
      directRow = await measure('direct to upstream (no proxy)', upstream.child, upstream.address);
      rows.push(directRow);
      direct1 = await oneConn('direct to upstream', upstream.child, upstream.address);
    }
    const baseRow = baseline ? await measure('http-proxy (baseline)', baseline.child, baseline.address) : undefined;
    if (baseRow) rows.push(baseRow);
    const baseline1 = baseline ? await oneConn('http-proxy', baseline.child, baseline.address) : undefined;
    if (baseline) await terminate(baseline.child);

    let offRow: Measured | undefined;
    let off1: Measured | undefined;
    let profileLines: string[] = [];
    if (off) {
      const loadStart = Date.now();
      offRow = await measure('ProxyScope, tracing off', off.child, off.address);
      const loadEnd = Date.now();
      rows.push(offRow);
      // After loadEnd, so the profile summary's window leaves it out.
      off1 = await oneConn('ProxyScope, tracing off', off.child, off.address);
      await terminate(off.child);
      const exitedAt = off.child.exitedAt ?? Date.now();
      const window = { fromEndMs: exitedAt - loadStart, toEndMs: exitedAt - loadEnd };
      if (CPU_PROF) {
        const profiles = fs.existsSync(profDir) ? fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')) : [];
        if (profiles.length === 0) profileLines = ['  (no .cpuprofile written: did the process exit cleanly?)'];
        else {
          const file = path.join(profDir, profiles[0]!);
          profileLines = [`  profile: ${file}`, ...(await summariseProfile(file, window))];
        }
      }
    }

    // The event stream under load: tracing on with no client (history ring only), one
    // client reading everything, one client that stopped reading.
    const streamLines: string[] = [];
    let ringRow: Measured | undefined;
    if (ring) {
      ringRow = await measure('ProxyScope, tracing always, no client', ring.child, ring.address);
      rows.push(ringRow);
      await terminate(ring.child);
    }
    let wsRow: Measured | undefined;
    if (wsTarget) {
      const client = await startWsClient('ws client', `ws://${wsTarget.admin}/ws`, false);
      let c0 = client.latest();
      let s0: StreamState | undefined;
      let c1 = c0;
      let s1: StreamState | undefined;
      wsRow = await measure(
        'ProxyScope + ws client (all events)',
        wsTarget.child,
        wsTarget.address,
        {
          between: async () => {
            // The warm-up's events have reached the client; count from here.
            await sleep(300);
            s0 = await streamState(wsTarget.admin!);
            c0 = await client.fresh();
          },
          after: async () => {
            s1 = await streamState(wsTarget.admin!);
            await sleep(300);
            c1 = await client.fresh();
          },
        },
      );
      rows.push(wsRow);
      const delivered = c1.events - c0.events;
      const traced = (s1?.events ?? 0) - (s0?.events ?? 0);
      const dropped = (s1?.clients[0]?.dropped ?? 0) - (s0?.clients[0]?.dropped ?? 0);
      streamLines.push(
        `  ws client under load: ${Math.round(delivered / wsRow.seconds).toLocaleString('en-US')} events/s delivered and decoded ` +
          `(${delivered.toLocaleString('en-US')} of ${traced.toLocaleString('en-US')} traced in the measured ${fmt(wsRow.seconds)} s, ` +
          `${fmt(traced / Math.max(1, wsRow.requests), 1)} per request), dropped ${dropped.toLocaleString('en-US')}, ` +
          `${fmt((c1.bytes - c0.bytes) / Math.max(1, delivered), 1)} bytes/event on the wire`,
      );
      await terminate(client.child);
      await terminate(wsTarget.child);
    }
    let stalledRow: Measured | undefined;
    if (stalledTarget) {
      const client = await startWsClient('stalled ws client', `ws://${stalledTarget.admin}/ws`, true);
      let s0: StreamState | undefined;
      let s1: StreamState | undefined;
      stalledRow = await measure(
        'ProxyScope + stalled ws client',
        stalledTarget.child,
        stalledTarget.address,
        {
          between: async () => {
            s0 = await streamState(stalledTarget.admin!);
          },
          after: async () => {
            s1 = await streamState(stalledTarget.admin!);
          },
        },
      );
      rows.push(stalledRow);
      client.resume();
      await sleep(1500);
      const announced = (await client.fresh()).dropped;
      const c = s1?.clients[0];
      const traced = (s1?.events ?? 0) - (s0?.events ?? 0);
      const dropped = (c?.dropped ?? 0) - (s0?.clients[0]?.dropped ?? 0);
      streamLines.push(
        `  stalled client: ${dropped.toLocaleString('en-US')} events dropped during the measured run (${traced.toLocaleString('en-US')} traced; its queue was already full); ` +
          `at the end its queue held ${(c?.queued ?? 0).toLocaleString('en-US')} events and its socket ${((c?.buffered_bytes ?? 0) / 1024).toFixed(0)} KiB unsent; ` +
          `once it read again it was told of ${announced.toLocaleString('en-US')} dropped events in all`,
      );
      await terminate(client.child);
      await terminate(stalledTarget.child);
    }

    let recRow: Measured | undefined;
    let recording = '';
    if (record) {
      let before = 0;
      recRow = await measure('ProxyScope, every event recorded', record.child, record.address, {
        between: async () => {
          await settle(traceFile);
          before = await countLines(traceFile);
        },
      });
      rows.push(recRow);
      // Count once the recorder has written everything from the measured run (before
      // shutdown adds its connection-close events).
      await settle(traceFile);
      const events = (await countLines(traceFile)) - before;
      await terminate(record.child);
      const size = fs.statSync(traceFile).size;
      const perSecond = events / recRow.seconds;
      recording =
        `  events captured in the measured ${fmt(recRow.seconds)} s: ${events.toLocaleString('en-US')} ` +
        `(${fmt(events / Math.max(1, recRow.requests), 1)} per request), ${Math.round(perSecond).toLocaleString('en-US')} events/s; ` +
        `trace file ${(size / 1e6).toFixed(1)} MB in total (incl. warm-up)`;
    }

    if (rows.length) {
      log('');
      table(rows, baseRow);
    }
    if (oneConnRows.length) {
      log('');
      oneConnTable(oneConnRows, direct1);
      log("  added p50: the target's p50 at 1 connection minus direct's p50 at 1 connection");
    }
    if (recording) log(recording);
    if (offRow && recRow) {
      const cost = recRow.rps / offRow.rps;
      log(`  tracing cost: req/s with every event recorded / tracing off = ${fmt(cost)}x (${fmt((1 - cost) * 100, 0)}% fewer requests/s)`);
    }
    if (offRow && baseRow && Number.isFinite(offRow.cpuUsPerReq) && Number.isFinite(baseRow.cpuUsPerReq)) {
      log(`  CPU per request: ProxyScope ${fmt(offRow.cpuUsPerReq, 0)} µs, http-proxy ${fmt(baseRow.cpuUsPerReq, 0)} µs (${fmt(offRow.cpuUsPerReq / baseRow.cpuUsPerReq)}x)`);
    }
    if (baseRow || offRow || wsRow) {
      log('');
      const targets = issueTargets({ baseline: baseRow, off: offRow, ws: wsRow, direct1, baseline1, off1 });
      // The soak runs last; its own section says whether RSS stayed flat.
      if (!soakWanted) targets.push({ what: 'RSS over a 10-minute soak, client attached', wanted: 'flat: ±10% after warm-up', measured: '- (needs BENCH_SOAK=600)', met: undefined });
      printTargets('Targets (issue 12), against http-proxy in this run:', targets);
      if (soakWanted) log('  RSS flat (±10% after warm-up) over a 10-minute soak with a client attached: see the soak below');
    }
    const ratio = (a: Measured | undefined, b: Measured | undefined, what: string) => {
      if (a && b) log(`  ${what}: ${fmt(a.rps / b.rps)}x req/s (CPU µs/req ${fmt(a.cpuUsPerReq, 0)} vs ${fmt(b.cpuUsPerReq, 0)})`);
    };
    if (streamLines.length || ringRow) log('\nEvent stream under load:');
    for (const l of streamLines) log(l);
    ratio(ringRow, offRow, 'tracing always (history ring, no client) vs tracing off');
    ratio(wsRow, ringRow, 'one ws client reading everything vs tracing always, no client');
    ratio(stalledRow, ringRow, 'stalled ws client vs tracing always, no client (target: within 10%)');
    ratio(stalledRow, wsRow, 'stalled ws client vs a ws client reading everything');
    ratio(stalledRow, offRow, 'stalled ws client vs no client at all (tracing off)');
    if (stalledRow && ringRow) {
      const r = stalledRow.rps / ringRow.rps;
      log(`  target: a stalled client costs the proxy at most 10% -> ${fmt((1 - r) * 100, 1)}% ${r >= 0.9 ? 'MET' : 'NOT MET'}`);
    }
    if (profileLines.length) {
      log('\nCPU profile of "ProxyScope, tracing off" (node --cpu-prof; samples from its warm-up + measured run):');
      for (const l of profileLines) log(l);
    }
    if (ONLY.has('wscap')) await capacity();
    if (soakWanted) {
      const soakRow = await soak(SOAK_SECONDS, configBase);
      rows.push(soakRow);
    } else if (ONLY.has('soak')) logSoakSkipped();
    const died = [...rows, ...oneConnRows].filter((r) => r.died);
    log(`  load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine skews the figures)`);
    if (died.length) {
      log(`\nbench: ${died.map((r) => r.label).join(', ')} died during the run`);
      exitCode = 1;
    }
  } catch (e) {
    if (e instanceof StartError) {
      process.stderr.write(`\nbench: a target failed to start: ${e.message}\n`);
      exitCode = 1;
    } else {
      throw e;
    }
  } finally {
    await killAll();
    if (KEEP) log(`\n  kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (ONLY.has('browser')) await browserFigures();
  log(`\nbench finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return exitCode;
}

/** The web UI in headless Chromium: a big trace's load and seek, frame times under load, and the in-page engine's start-up. */
async function browserFigures(): Promise<void> {
  const { benchTraceLoad } = await import('./browser-load.ts');
  const { benchFrames } = await import('./browser-frames.ts');
  log('\nWeb UI (headless Chromium, the production build):');
  const load = await benchTraceLoad({ events: envNumber('BENCH_TRACE_EVENTS', 1_000_000, 1) });
  log(`  trace load: ${load.events.toLocaleString('en-US')} events read, indexed and scrubbable in ${fmt(load.loadMs / 1000, 1)} s; a seek took ${fmt(load.seekMs, 1)} ms`);
  const frames = await benchFrames();
  log(`  frames with ${frames.inFlight.toLocaleString('en-US')} requests in flight (playback at 1x): ${frames.frames} frames in 5 s, interval p50 ${fmt(frames.p50Ms, 1)} ms, p95 ${fmt(frames.p95Ms, 1)} ms, ${frames.longTasks} long tasks`);
  const presenter = await benchFrames({ presenter: true });
  log(`  the same in presenter mode (?presenter, bigger labels and tokens): ${presenter.frames} frames in 5 s, interval p50 ${fmt(presenter.p50Ms, 1)} ms, p95 ${fmt(presenter.p95Ms, 1)} ms, ${presenter.longTasks} long tasks`);
  log(`  target: p95 frame under 16.7 ms (rAF intervals come in whole frames: 16.7 is 60 fps, 33.3 a dropped frame) -> ${Math.max(frames.p95Ms, presenter.p95Ms) < 17 ? 'MET at 60 fps' : 'NOT MET'}`);
  const { benchInPage } = await import('./browser-inpage.ts');
  const inPage = await benchInPage();
  const kb = (n: number) => `${fmt(n / 1024, 0)} kB`;
  log(
    `  the engine in the page (static build, no server, a fresh browser context each load): first simulated request on screen ` +
      `${inPage.firstRequestMs.map((ms) => `${ms}`).join(', ')} ms after navigation start; worker bundle ${kb(inPage.workerBytes)} (${kb(inPage.workerGzipBytes)} gzipped), main bundle ${kb(inPage.mainBytes)} (${kb(inPage.mainGzipBytes)} gzipped)`,
  );
}

interface SimRun {
  requests: number;
  virtualMs: number;
  cpuMs: number;
  wallMs: number;
  schedulerEvents: number;
  traceEvents: number;
  heap: Array<{ requests: number; heapMB: number }>;
  rssMB: number;
}

function simChild(args: string[]): SimRun {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(BENCH_DIR, 'sim-child.ts'), ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(out.trim().split('\n').pop()!) as SimRun;
}

/**
 * Simulation (proxyscope simulate): the engine on virtual time, one process per run. CPU
 * time counts the whole run after startup (engine start included, module loading not).
 */
async function simulationFigures(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'proxyscope-sim-bench-'));
  try {
    log('\nSimulation (one process per run, CPU time of the run):');
    const perCpuSecond = (r: SimRun) => Math.round(r.requests / (r.cpuMs / 1000));
    const demo = simChild(['demo']);
    log(`  demo scenario, tracing off: ${demo.requests.toLocaleString('en-US')} requests, ${fmt(demo.virtualMs / 1000, 1)} s virtual in ${fmt(demo.wallMs / 1000, 2)} s wall = ${fmt(demo.virtualMs / demo.wallMs, 1)} virtual s per wall s`);
    const load = simChild(['load', '50000', '2000']);
    log(`  steady load, tracing off: ${fmt(perCpuSecond(load), 0)} simulated requests per CPU-second (${load.requests.toLocaleString('en-US')} requests, ${fmt(load.cpuMs / 1000, 2)} CPU-s, ${fmt(load.schedulerEvents / load.requests, 1)} scheduler events per request)`);
    const traced = simChild(['load', '20000', '2000', path.join(tmp, 'trace.ndjson')]);
    log(`  steady load, every event written to a trace file: ${fmt(perCpuSecond(traced), 0)} simulated requests per CPU-second (${fmt(traced.traceEvents / traced.requests, 1)} events per request)`);
    const met = (n: number, bound: number) => `${n.toLocaleString('en-US')} ${n >= bound ? 'MET' : 'NOT MET'}`;
    log(
      `  targets (issue 12): >= 40,000 per CPU-second tracing off -> ${met(perCpuSecond(load), 40_000)}; ` +
        `>= 10,000 with every event kept -> ${met(perCpuSecond(traced), 10_000)}`,
    );
    const n = Math.floor(envNumber('BENCH_SIM_REQUESTS', 200_000, 1000));
    const long = simChild(['load', String(n), '5000']);
    log(`  memory, ${long.requests.toLocaleString('en-US')} requests tracing off: heap after GC ${long.heap.map((h) => `${h.heapMB} MB`).join(', ')} (each tenth of the run); RSS at the end ${long.rssMB} MB`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function logSoakSkipped(): void {
  log('\nSoak: skipped (BENCH_SOAK=0; BENCH_SOAK=600 runs issue 12\'s 10-minute soak: RSS flat, ±10% after warm-up, with a client attached)');
}

/**
 * The soak: ProxyScope with one ws client reading every event (the "+ ws client" target's
 * setup), under load for `seconds`, its RSS sampled every few seconds. Warm-up is the first
 * minute or the first 10%, whichever is shorter; after it, RSS should stay within ±10% of
 * the first sample.
 */
async function soak(seconds: number, configBase: string): Promise<Measured> {
  const warmMs = Math.min(60_000, seconds * 100);
  const everyMs = Math.round(Math.min(5, Math.max(1, seconds / 60)) * 1000);
  log(
    `\nSoak: ProxyScope + ws client (all events), ${CONNECTIONS} connections, pipelining ${PIPELINING}, for ${seconds} s ` +
      `(issue 12: 600 s); RSS every ${everyMs / 1000} s, warm-up the first ${fmt(warmMs / 1000, 0)} s`,
  );
  const target = await startProxyScope('ProxyScope (soak)', configBase, {});
  const client = await startWsClient('soak ws client', `ws://${target.admin}/ws`, false);
  const c0 = await client.fresh();
  const s0 = await streamState(target.admin);
  const mb = (kib: number) => kib / 1024;
  // A line at every tenth, so a 10-minute run shows it is alive and which way RSS goes.
  let nextReport = 0;
  const sampler = sampleRss(target.child, everyMs, (x) => {
    if (x.atMs < nextReport) return;
    nextReport += (seconds * 1000) / 10;
    log(`  t=${fmt(x.atMs / 1000, 0)} s  RSS ${fmt(mb(x.kib), 1)} MB`);
  });
  const cpuBefore = processCpuMs(target.child);
  const { result: r, latencyNs } = await cannon(`http://${target.address}/bench`, seconds);
  const samples = await sampler.stop();
  const cpuAfter = processCpuMs(target.child);
  const s1 = await streamState(target.admin);
  await sleep(300);
  const c1 = await client.fresh();
  const clientAlive = client.child.exitCode === undefined;
  const died = target.child.exitCode !== undefined;
  await terminate(client.child);
  await terminate(target.child);

  const row = measuredRow('ProxyScope + ws client, soak', r, latencyNs, cpuBefore, cpuAfter, samples, CONNECTIONS, died);
  const requests = row.requests;
  const delivered = c1.events - c0.events;
  const dropped = (s1?.clients[0]?.dropped ?? 0) - (s0?.clients[0]?.dropped ?? 0);
  log(
    `  ${requests.toLocaleString('en-US')} requests, ${Math.round(row.rps).toLocaleString('en-US')} req/s, p50 ${fmt(row.p50)} ms, p99 ${fmt(row.p99)} ms, ` +
      `errors ${row.errors}, non-2xx ${row.non2xx}, CPU ${fmt(row.cpuUsPerReq, 0)} µs/req; the client decoded ${delivered.toLocaleString('en-US')} events ` +
      `(${Math.round(delivered / Math.max(0.001, row.seconds)).toLocaleString('en-US')}/s), ${dropped.toLocaleString('en-US')} dropped` +
      (clientAlive ? '' : ' (the client disconnected before the end)'),
  );
  const after = samples.filter((x) => x.atMs >= warmMs);
  if (after.length < 2) {
    log(`  RSS: too few samples after the warm-up (${after.length}) to tell; run a longer soak`);
    return row;
  }
  const ref = after[0]!;
  const last = after[after.length - 1]!;
  const min = Math.min(...after.map((x) => x.kib));
  const max = Math.max(...after.map((x) => x.kib));
  const pct = (kib: number) => `${kib >= ref.kib ? '+' : ''}${fmt(((kib - ref.kib) / ref.kib) * 100, 1)}%`;
  const flat = max <= ref.kib * 1.1 && min >= ref.kib * 0.9;
  log(
    `  RSS after warm-up (t=${fmt(ref.atMs / 1000, 0)} s) ${fmt(mb(ref.kib), 1)} MB; at the end (t=${fmt(last.atMs / 1000, 0)} s) ${fmt(mb(last.kib), 1)} MB (${pct(last.kib)}); ` +
      `after warm-up min ${fmt(mb(min), 1)} MB (${pct(min)}), max ${fmt(mb(max), 1)} MB (${pct(max)}); ${samples.length} samples`,
  );
  log(
    `  target (issue 12): RSS flat, within ±10% of its after-warm-up value, over a 10-minute soak with a client attached -> ` +
      `${flat ? 'MET' : 'NOT MET'}${seconds < 600 ? ` (this soak: ${seconds} s, shorter than the issue's 600 s)` : ''}`,
  );
  return row;
}

/** Stream capacity: the event stream alone, faster than the proxy makes events. */
async function capacity(): Promise<void> {
  log(`\nEvent stream capacity (synthetic events through the server's stream code to one ws client, ${WS_SECONDS} s per run):`);
  for (const rate of [WS_RATE, WS_RATE * 4]) log(await streamCapacity(rate, WS_SECONDS));
  log('  target: >= 200,000 events/s to one local client');
}

async function capacityOnly(): Promise<number> {
  try {
    await capacity();
    return 0;
  } catch (e) {
    if (e instanceof StartError) {
      process.stderr.write(`\nbench: a target failed to start: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await killAll();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (e) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
    await killAll();
    process.exitCode = 1;
  },
);
