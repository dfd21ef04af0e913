/**
 * One simulation benchmark run in its own process (so memory figures are its own), for
 * bench/run.ts: prints one JSON line with CPU time, wall time, requests, events and heap
 * samples.
 *
 *   node --expose-gc --import tsx bench/sim-child.ts demo [record-file]
 *   node --expose-gc --import tsx bench/sim-child.ts load REQUESTS RATE [record-file]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBootstrap } from '../packages/engine/src/config/index.ts';
import { Simulation } from '../packages/engine/src/sim/simulation.ts';
import { loadScenario } from '../packages/engine/src/sim/scenario.ts';
import type { Scenario } from '../packages/engine/src/sim/scenario-types.ts';
import { formatTraceLine, type TraceEvent } from '../packages/protocol/src/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEMO = path.join(ROOT, 'scenarios/demo');

const [kind = 'demo', ...rest] = process.argv.slice(2);
const { config } = loadBootstrap(fs.readFileSync(path.join(DEMO, 'envoy.yaml'), 'utf8'), 'envoy.yaml');

let scenario: Scenario;
let recordFile: string | undefined;
if (kind === 'demo') {
  scenario = loadScenario(fs.readFileSync(path.join(DEMO, 'scenario.yaml'), 'utf8'), 'scenario.yaml').scenario;
  recordFile = rest[0];
} else {
  // Steady load through the demo config's storefront and API, every host healthy: the
  // engine's cost per request, not a failure story.
  const requests = Number(rest[0] ?? 100_000);
  const rate = Number(rest[1] ?? 2000);
  recordFile = rest[2];
  const duration = Math.ceil((requests / rate) * 1000);
  scenario = {
    name: 'bench load',
    duration,
    grace: 10_000,
    defaults: { serviceTime: { kind: 'lognormal', p50: 5, p99: 30 }, responseBytes: { kind: 'constant', value: 256 } },
    hosts: [],
    dns: [],
    traffic: [
      {
        name: 'load',
        arrivals: { kind: 'poisson', rate },
        mix: [
          { weight: 3, method: 'GET', authority: 'shop.example.com', path: '/', headers: [] },
          { weight: 1, method: 'GET', authority: 'shop.example.com', path: '/api/products', headers: [] },
        ],
        connection: 'keep_alive',
        maxConnections: 256,
        start: 0,
        stop: duration,
      },
    ],
    timeline: [],
    expect: [],
    networkLatency: 0,
    series: false,
  };
}

let fd: number | undefined;
let pending: string[] = [];
let events = 0;
const sink = recordFile
  ? (event: TraceEvent) => {
      events++;
      pending.push(formatTraceLine(event));
      if (pending.length >= 4096) {
        fs.writeSync(fd!, pending.join(''));
        pending = [];
      }
    }
  : undefined;
if (recordFile) fd = fs.openSync(recordFile, 'w');

const gc = (globalThis as { gc?: () => void }).gc;
const heap: Array<{ requests: number; heapMB: number }> = [];
const sim = new Simulation({ config, scenario, seed: 1, ...(sink && { sink }) });
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
await sim.start();
// Slices of virtual time, with a heap sample after a GC every tenth of the run.
const end = scenario.duration + scenario.grace;
const slice = scenario.duration / 10;
for (let t = slice; !sim.finished; t += slice) {
  sim.runUntil(Math.min(t, end));
  gc?.();
  heap.push({ requests: sim.ledger.sent, heapMB: Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10 });
}
const summary = sim.summary();
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - wall0;
if (fd !== undefined) {
  fs.writeSync(fd, pending.join(''));
  fs.closeSync(fd);
}
process.stdout.write(
  JSON.stringify({
    requests: summary.sent,
    virtualMs: summary.virtualMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    wallMs,
    schedulerEvents: summary.events,
    traceEvents: events,
    heap,
    rssMB: Math.round(process.memoryUsage().rss / 1048576),
  }) + '\n',
);
