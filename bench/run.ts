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
 * settings: a warm-up run that is thrown away, then the measured run.
 *
 * Before that, a socket-free micro benchmark: parse a small GET with HttpParser (llhttp-wasm).
 * After the load runs, the stream's capacity: bench/ws-source.ts pushes synthetic events
 * (shaped like a real request's) through the server's stream code at a fixed rate to one
 * bench/ws-client.ts, which reports the events/s it decoded and any it was told it lost.
 *
 * Last, the web UI in headless Chromium (bench/browser-load.ts, bench/browser-frames.ts): the
 * time to load a 1,000,000-event trace until it is scrubbable and a seek, and frame times
 * while 1,000 requests are in flight.
 *
 * Everything binds 127.0.0.1. All children are killed at the end, also on error or ^C.
 *
 * Knobs (environment):
 *   BENCH_DURATION=10     measured seconds per target
 *   BENCH_WARMUP=2        warm-up seconds per target (0 = none)
 *   BENCH_CONNECTIONS=50  autocannon connections
 *   BENCH_PIPELINING=1    autocannon pipelining factor
 *   BENCH_MICRO_N=200000  parser micro benchmark iterations (0 = skip)
 *   BENCH_ONLY=micro      run only the micro benchmark (or: sim,direct,baseline,off,record,ring,ws,stalled,wscap,browser)
 *   BENCH_SIM_REQUESTS=200000  requests of the long simulation run (memory; 1000000 for the issue's figure)
 *   BENCH_TRACE_EVENTS=1000000  events in the trace the web UI loads (browser)
 *   BENCH_WS_RATE=250000  events/s the stream capacity run offers (and a second run at 4x)
 *   BENCH_WS_SECONDS=5    seconds of each stream capacity run
 *   BENCH_CPU_PROF=1      run "ProxyScope, tracing off" under `node --cpu-prof` and print
 *                         its hottest functions (self time, file:line); keeps the temp dir
 *   BENCH_PROF_TOP=25     how many functions the profile summary lists
 *   BENCH_KEEP=1          keep the temp dir (config, trace file, profile)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
const CONNECTIONS = Math.floor(envNumber('BENCH_CONNECTIONS', 50, 1));
const PIPELINING = Math.floor(envNumber('BENCH_PIPELINING', 1, 1));
const MICRO_N = Math.floor(envNumber('BENCH_MICRO_N', 200_000, 0));
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
const KEEP = process.env.BENCH_KEEP === '1' || CPU_PROF;
const ONLY = new Set((process.env.BENCH_ONLY ?? 'micro,sim,direct,baseline,off,record,ring,ws,stalled,wscap,browser').split(',').map((s) => s.trim()));
const WS_RATE = Math.floor(envNumber('BENCH_WS_RATE', 250_000, 1));
const WS_SECONDS = envNumber('BENCH_WS_SECONDS', 5, 1);
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
  /** measured seconds, as autocannon timed them */
  seconds: number;
  died: boolean;
}

interface Load {
  result: autocannon.Result;
  /** response latency in ns, sub-millisecond (autocannon's own histogram is whole ms) */
  latencyNs: RecordableHistogram;
}

function cannon(url: string, duration: number): Promise<Load> {
  const latencyNs = createHistogram();
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url, connections: CONNECTIONS, pipelining: PIPELINING, duration, timeout: 10 }, (err, result) => {
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

async function measure(label: string, child: Child | undefined, address: string, between?: () => Promise<void>, after?: () => Promise<void>): Promise<Measured> {
  const url = `http://${address}/bench`;
  process.stdout.write(`  ${label.padEnd(34)} `);
  if (WARMUP > 0) await cannon(url, WARMUP);
  await between?.();
  const cpuBefore = processCpuMs(child);
  const { result: r, latencyNs } = await cannon(url, DURATION);
  const cpuAfter = processCpuMs(child);
  await after?.();
  const requests = r['1xx'] + r['2xx'] + r['3xx'] + r['4xx'] + r['5xx'];
  const result: Measured = {
    label,
    rps: requests / r.duration,
    p50: latencyNs.percentile(50) / 1e6,
    p99: latencyNs.percentile(99) / 1e6,
    errors: r.errors + r.timeouts + r.mismatches + r.resets,
    non2xx: r.non2xx,
    requests,
    cpuUsPerReq: cpuBefore !== undefined && cpuAfter !== undefined && requests > 0 ? ((cpuAfter - cpuBefore) * 1000) / requests : NaN,
    seconds: r.duration,
    died: child !== undefined && child.exitCode !== undefined,
  };
  log(`${Math.round(result.rps)} req/s${result.died ? `  (process died: ${child!.output.slice(-5).join(' | ')})` : ''}`);
  return result;
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
  // Time spent inside dependencies (xstate, llhttp-wasm, ...), charged to the nearest
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
  log(`\nMicro benchmark: HttpParser (llhttp-wasm), ${request.length}-byte GET, no sockets`);
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

function table(rows: Measured[], baseline: Measured | undefined): void {
  const header = ['target', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'CPU µs/req', 'req/s vs http-proxy', 'p99 vs http-proxy'];
  const body = rows.map((r) => [
    r.label + (r.died ? ' (DIED)' : ''),
    r.requests.toLocaleString('en-US'),
    Math.round(r.rps).toLocaleString('en-US'),
    fmt(r.p50),
    fmt(r.p99),
    String(r.errors),
    String(r.non2xx),
    fmt(r.cpuUsPerReq, 0),
    baseline ? `${fmt(r.rps / baseline.rps)}x` : '-',
    baseline && baseline.p99 > 0 ? `${fmt(r.p99 / baseline.p99)}x` : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  log(line(header));
  log('  ' + widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) log(line(row));
}

async function main(): Promise<number> {
  const started = Date.now();
  log(`ProxyScope benchmark  ${new Date().toISOString()}`);
  log(`  node ${process.version}, ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${os.platform()} ${os.release()}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  if (ONLY.has('micro') && MICRO_N > 0) microParser(MICRO_N);
  if (ONLY.has('sim')) await simulationFigures();
  const wanted = ['direct', 'baseline', 'off', 'ring', 'ws', 'stalled', 'record'].filter((t) => ONLY.has(t));
  if (wanted.length === 0) {
    const code = ONLY.has('wscap') ? await capacityOnly() : 0;
    if (ONLY.has('browser')) await browserFigures();
    return code;
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'proxyscope-bench-'));
  tmpDir = tmp;
  const traceFile = path.join(tmp, 'trace.ndjson');
  const profDir = path.join(tmp, 'cpu-prof');
  let exitCode = 0;
  try {
    log(`\nLoad: autocannon, ${CONNECTIONS} connections, pipelining ${PIPELINING}, ${WARMUP} s warm-up + ${DURATION} s measured per target`);
    log(`  starting child processes (upstream, http-proxy, ProxyScope x${wanted.filter((t) => !['direct', 'baseline'].includes(t)).length}) ...`);
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

    const rows: Measured[] = [];
    if (wanted.includes('direct')) rows.push(await measure('direct to upstream (no proxy)', upstream.child, upstream.address));
    const baseRow = baseline ? await measure('http-proxy (baseline)', baseline.child, baseline.address) : undefined;
    if (baseRow) rows.push(baseRow);
    if (baseline) await terminate(baseline.child);

    let offRow: Measured | undefined;
    let profileLines: string[] = [];
    if (off) {
      const loadStart = Date.now();
      offRow = await measure('ProxyScope, tracing off', off.child, off.address);
      const loadEnd = Date.now();
      rows.push(offRow);
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
        async () => {
          // The warm-up's events have reached the client; count from here.
          await sleep(300);
          s0 = await streamState(wsTarget.admin!);
          c0 = await client.fresh();
        },
        async () => {
          s1 = await streamState(wsTarget.admin!);
          await sleep(300);
          c1 = await client.fresh();
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
        async () => {
          s0 = await streamState(stalledTarget.admin!);
        },
        async () => {
          s1 = await streamState(stalledTarget.admin!);
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
      recRow = await measure('ProxyScope, every event recorded', record.child, record.address, async () => {
        await settle(traceFile);
        before = await countLines(traceFile);
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

    log('');
    table(rows, baseRow);
    if (recording) log(recording);
    if (offRow && recRow) {
      const cost = recRow.rps / offRow.rps;
      log(`  tracing cost: req/s with every event recorded / tracing off = ${fmt(cost)}x (${fmt((1 - cost) * 100, 0)}% fewer requests/s)`);
    }
    if (offRow && baseRow) {
      const ratio = offRow.rps / baseRow.rps;
      log(`  target: ProxyScope tracing off >= 0.50x http-proxy req/s -> ${fmt(ratio)}x ${ratio >= 0.5 ? 'MET' : 'NOT MET'}`);
      if (Number.isFinite(offRow.cpuUsPerReq) && Number.isFinite(baseRow.cpuUsPerReq)) {
        log(`  CPU per request: ProxyScope ${fmt(offRow.cpuUsPerReq, 0)} µs, http-proxy ${fmt(baseRow.cpuUsPerReq, 0)} µs (${fmt(offRow.cpuUsPerReq / baseRow.cpuUsPerReq)}x)`);
      }
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
    const died = rows.filter((r) => r.died);
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

/** The web UI in headless Chromium: a big trace's load and seek, and frame times under load. */
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
    log('  targets (issue 10): >= 10,000 per CPU-second tracing off, >= 3,000 with every event kept');
    const n = Math.floor(envNumber('BENCH_SIM_REQUESTS', 200_000, 1000));
    const long = simChild(['load', String(n), '5000']);
    log(`  memory, ${long.requests.toLocaleString('en-US')} requests tracing off: heap after GC ${long.heap.map((h) => `${h.heapMB} MB`).join(', ')} (each tenth of the run); RSS at the end ${long.rssMB} MB`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
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
