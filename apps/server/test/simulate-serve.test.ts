/**
 * `proxyscope simulate --serve`: the demo scenario served over the live stream in mode
 * "simulation". Every test starts paused and moves virtual time itself (`sim_clock`
 * advance), so what it sees is the same on every machine: hello names the scenario, the
 * seed and t = 0; events arrive with virtual t up to where the clock stands and no
 * further; a host fault from the UI changes the host at the current virtual time; step
 * mode holds requests on virtual time; pause stops the clock; send_request goes over the
 * simulated network; the run's end is announced and its summary printed once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { FactEvent, ServerMessage, TraceEvent } from '@proxyscope/protocol';
import { Simulation } from '@proxyscope/engine/sim';
import { loadRun, SCENARIOS_DIR } from '../src/simulate/simulate';
import { startSimulationServer, type ServeOptions } from '../src/simulate/serve';
import { startLive, tempDir, until, WsProbe } from './support/stream';
import { CLI_TIMEOUT_MS, startCli, waitFor } from './support/cli-process';

async function serve(options: Partial<ServeOptions> & { scenario?: string } = {}) {
  const lines: string[] = [];
  const errors: string[] = [];
  const run = loadRun(options.scenario ? { scenario: options.scenario } : {});
  const served = await startSimulationServer({
    run,
    host: '127.0.0.1',
    port: 0,
    speed: 1,
    paused: true,
    log: (line) => lines.push(line),
    err: (line) => errors.push(line),
    ...options,
  });
  onTestFinished(() => served.close());
  const port = served.admin.port;
  return { served, lines, errors, base: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/ws` };
}

type Ack = Extract<ServerMessage, { type: 'ack' }>;
async function ack(probe: WsProbe, message: Record<string, unknown> & { id: string }): Promise<Ack> {
  const reply = await probe.request(message);
  if (reply.type !== 'ack') throw new Error(`${message.id}: ${JSON.stringify(reply)}`);
  return reply;
}

const maxT = (events: readonly TraceEvent[]) => events.reduce((m, e) => Math.max(m, e.t), 0);
const WEB_2 = '10.0.1.2:8080';

describe('proxyscope simulate --serve', () => {
  it('says hello in mode simulation with the scenario, the seed and the virtual clock at 0, paused', async () => {
    const { wsUrl, base } = await serve();
    const probe = await WsProbe.connect(wsUrl);
    const hello = await probe.next('hello', 0);
    expect(hello.mode).toBe('simulation');
    expect(hello.simulation).toMatchObject({ scenario: 'demo', seed: 1, durationMs: 30_000, graceMs: 5_000, clock: { t: 0, paused: true, speed: 1, finished: false } });
    expect(hello.controls).toEqual(expect.arrayContaining(['sim_clock', 'host_fault', 'send_request', 'breakpoints', 'step', 'resume']));
    expect(hello.hosts?.map((h) => h.name)).toEqual(['web-1', 'web-2', 'web-3', 'web-canary-1', 'api-1', 'api-2']);
    expect(hello.hosts?.find((h) => h.name === 'web-2')).toMatchObject({ service: 'web', address: WEB_2, port: 8080, faulted: false, behaviour: { latencyMs: 35, errorRate: 0.02, errorStatus: 503 } });
    expect(await (await fetch(`${base}/server_info`)).json()).toMatchObject({ mode: 'simulation', simulation: { scenario: 'demo', seed: 1, virtual_time_ms: 0, paused: true } });
    // The engine's startup happened at t = 0, and only that.
    await probe.next('history_end', 0);
    expect(maxT(probe.events)).toBe(0);
  });

  it('advances virtual time when asked: events up to the clock and no further, then to the next event', async () => {
    const { wsUrl } = await serve();
    const probe = await WsProbe.connect(wsUrl);
    await probe.next('history_end', 0);

    const moved = await ack(probe, { type: 'sim_clock', id: 'a1', action: 'advance', ms: 500 });
    expect(moved.detail).toMatchObject({ from: 0, t: 500, paused: true, finished: false });
    await until('events from the first 500 ms', () => probe.events.some((e) => e.t > 250));
    const clock = await until('a clock at 500', () => probe.of('clock').find((c) => c.t === 500));
    expect(clock.nextEventT).toBeGreaterThanOrEqual(500);
    const first = probe.events.length;
    expect(maxT(probe.events)).toBeLessThanOrEqual(500);
    // Requests went through the proxy: access logs, with virtual times that never go back.
    expect(probe.events.filter((e) => e.type === 'fact' && e.fact === 'stream.access_log').length).toBeGreaterThan(5);
    const times = probe.events.map((e) => e.t);
    expect(times).toEqual([...times].sort((a, b) => a - b));

    const next = await ack(probe, { type: 'sim_clock', id: 'a2', action: 'advance' });
    expect(next.detail!.t).toBe(clock.nextEventT);
    const more = await ack(probe, { type: 'sim_clock', id: 'a3', action: 'advance', ms: 250 });
    expect(more.detail!.t).toBeCloseTo((clock.nextEventT ?? 0) + 250, 3);
    await until('events after 500 ms', () => probe.events.slice(first).some((e) => e.t > 500));
    expect(maxT(probe.events)).toBeLessThanOrEqual((clock.nextEventT ?? 0) + 250);

    expect(await probe.request({ type: 'sim_clock', id: 'bad', action: 'speed' })).toMatchObject({ type: 'error', code: 'invalid_message', field: 'speed', id: 'bad' });
    expect(await probe.request({ type: 'sim_clock', id: 'bad2', action: 'advance', ms: -5 })).toMatchObject({ type: 'error', code: 'invalid_message', field: 'ms' });
  });

  it('runs on resume, stops on pause, and changes speed', async () => {
    const { wsUrl } = await serve();
    const probe = await WsProbe.connect(wsUrl);
    await probe.next('history_end', 0);
    expect((await ack(probe, { type: 'sim_clock', id: 'fast', action: 'speed', speed: 10 })).detail).toMatchObject({ speed: 10, paused: true, t: 0 });
    await ack(probe, { type: 'sim_clock', id: 'go', action: 'resume' });
    await until('the clock running', () => probe.of('clock').some((c) => !c.paused && c.t > 0), 10_000);
    const paused = await ack(probe, { type: 'sim_clock', id: 'stop', action: 'pause' });
    const at = paused.detail!.t as number;
    expect(at).toBeGreaterThan(0);
    // Paused: the clock stands at `at`, whatever happens to the connection meanwhile.
    await ack(probe, { type: 'ping', id: 'p1' });
    const events = probe.events.length;
    const again = await ack(probe, { type: 'sim_clock', id: 'still', action: 'pause' });
    expect(again.detail).toMatchObject({ t: at, paused: true });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await ack(probe, { type: 'sim_clock', id: 'still2', action: 'pause' })).detail).toMatchObject({ t: at });
    expect(probe.events.slice(events).every((e) => e.t <= at)).toBe(true);
    expect(probe.of('clock').at(-1)).toMatchObject({ t: at, paused: true });
  });

  it('a host fault from the UI is a timeline event at the current virtual time; clear restores the scenario', async () => {
    const { wsUrl, served } = await serve();
    const probe = await WsProbe.connect(wsUrl);
    const watcher = await WsProbe.connect(wsUrl);
    await probe.next('history_end', 0);
    await ack(probe, { type: 'sim_clock', id: 'a', action: 'advance', ms: 1000 });

    const fault = await ack(probe, { type: 'host_fault', id: 'f', host: 'web-2', fault: { fail: { status: 503, rate: 1 } } });
    expect(fault.detail).toMatchObject({ t: 1000, host: { name: 'web-2', faulted: true, behaviour: { errorRate: 1, errorStatus: 503 } } });
    const hosts = await watcher.next('hosts', 0);
    expect(hosts.hosts.find((h) => h.name === 'web-2')).toMatchObject({ faulted: true, behaviour: { errorRate: 1 } });

    await ack(probe, { type: 'sim_clock', id: 'b', action: 'advance', ms: 3000 });
    await until('events up to 4 s', () => probe.events.some((e) => e.t > 3500));
    const web2 = (from: number, to: number) =>
      probe.events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === 'upstream.response_headers' && e.ids.host === WEB_2 && e.t > from && e.t <= to).map((e) => e.data.status);
    // Before the fault web-2 answered (mostly) 200; once what it was already serving is
    // done (its service time is ~35 ms, p99 100 ms), every answer is 503, until outlier
    // detection ejects it after three in a row.
    expect(web2(0, 1000)).toContain(200);
    expect(web2(1100, 4000)).toEqual([503, 503, 503]);

    const cleared = await ack(probe, { type: 'host_fault', id: 'c', host: 'web-2', fault: { clear: true } });
    expect(cleared.detail).toMatchObject({ host: { name: 'web-2', faulted: false, behaviour: { errorRate: 0.02 } } });
    expect(served.sim.hosts.find((h) => h.name === 'web-2')!.behaviour.errors).toEqual([{ status: 503, rate: 0.02 }]);

    const down = await ack(probe, { type: 'host_fault', id: 'd', host: WEB_2, fault: { down: true } });
    expect(down.detail).toMatchObject({ host: { name: 'web-2', behaviour: { down: true } } });
    expect(await probe.request({ type: 'host_fault', id: 'x', host: 'web-9', fault: { down: true } })).toMatchObject({ type: 'error', code: 'invalid_message', field: 'host', message: expect.stringContaining('web-1, web-2') });
  });

  it("the scenario's own timeline shows in the hosts, and clear keeps it", async () => {
    const { wsUrl } = await serve();
    const probe = await WsProbe.connect(wsUrl);
    await probe.next('history_end', 0);
    // The demo's timeline makes web-2 fail everything at 10 s.
    await ack(probe, { type: 'sim_clock', id: 'a', action: 'advance', ms: 10_500 });
    const hosts = await until('web-2 failing', () => probe.of('hosts').find((m) => m.hosts.find((h) => h.name === 'web-2')?.behaviour.errorRate === 1));
    expect(hosts.hosts.find((h) => h.name === 'web-2')?.faulted).toBe(false);
    await ack(probe, { type: 'host_fault', id: 'slow', host: 'web-2', fault: { latency: { ms: 300 } } });
    const cleared = await ack(probe, { type: 'host_fault', id: 'c', host: 'web-2', fault: { clear: true } });
    expect(cleared.detail).toMatchObject({ host: { faulted: false, behaviour: { errorRate: 1, latencyMs: 35 } } });
  });

  it('step mode holds a request on virtual time and steps it while the clock stands still', async () => {
    const { wsUrl } = await serve();
    const probe = await WsProbe.connect(wsUrl);
    await probe.next('history_end', 0);
    await ack(probe, { type: 'breakpoints', id: 'bp', breakpoints: [{ machine: 'router', state: 'route_matched' }] });
    await ack(probe, { type: 'sim_clock', id: 'a', action: 'advance', ms: 200 });
    const state = await until('a held request', () => probe.of('step_state').find((s) => s.held.length > 0));
    const held = state.held[0]!;
    expect(held).toMatchObject({ machine: 'router', state: 'route_matched', reason: 'breakpoint' });

    const step = await ack(probe, { type: 'step', id: 's', stream: held.stream });
    expect(step.detail).toMatchObject({ transitions: 1, held: { stream: held.stream, state: 'cluster_selected' } });
    await until('the step transition', () => probe.events.some((e) => e.type === 'transition' && e.ids.stream === held.stream && e.to === 'cluster_selected'));
    expect((await ack(probe, { type: 'sim_clock', id: 'still', action: 'pause' })).detail).toMatchObject({ t: 200 });

    // Released, it finishes once virtual time moves on.
    await ack(probe, { type: 'breakpoints', id: 'clear', breakpoints: [] });
    await ack(probe, { type: 'resume', id: 'r', stream: held.stream });
    await ack(probe, { type: 'sim_clock', id: 'b', action: 'advance', ms: 2000 });
    await until('its access log', () => probe.events.some((e) => e.type === 'fact' && e.fact === 'stream.access_log' && e.ids.stream === held.stream));
  });

  it('send_request goes over the simulated network at the current virtual time', async () => {
    const { wsUrl } = await serve();
    const probe = await WsProbe.connect(wsUrl);
    const hello = await probe.next('hello', 0);
    expect(hello.limits.sendRequest).toBeDefined();
    await ack(probe, { type: 'sim_clock', id: 'a', action: 'advance', ms: 100 });
    const sent = await ack(probe, { type: 'send_request', id: 'r', method: 'GET', authority: 'shop.example.com', path: '/api/products', tag: 'ui-1' });
    expect(sent.detail).toMatchObject({ tag: 'ui-1', listener: 'ingress', t: 100 });
    // Paused: it waits with everything else until virtual time moves.
    await ack(probe, { type: 'sim_clock', id: 'b', action: 'advance', ms: 2000 });
    const result = await until('its result', () => probe.of('request_result').find((r) => r.tag === 'ui-1'));
    expect(result.error).toBeUndefined();
    expect(result.status).toBeGreaterThanOrEqual(200);
    expect(result.stream).toBeGreaterThan(0);
    expect(result.accessLog).toMatchObject({ status: result.status, cluster: 'api' });
    // Its duration is virtual: the upstream's service time, not how long the test waited.
    expect(result.durationMs).toBeGreaterThan(0);
    expect(result.durationMs).toBeLessThan(2000);
  });

  it('announces the end of the run, prints the summary once and keeps serving', async () => {
    const dir = tempDir();
    const scenario = path.join(dir, 'short.yaml');
    fs.writeFileSync(
      scenario,
      [
        'name: short',
        'seed: 7',
        `config: ${path.join(SCENARIOS_DIR, 'demo', 'envoy.yaml')}`,
        'duration: 1s',
        'grace: 1s',
        'defaults:',
        '  service_time: { constant: 10ms }',
        'traffic:',
        '  - name: few',
        '    constant: { rate: 10 }',
        '    mix: [{ path: /, authority: shop.example.com }]',
        '',
      ].join('\n'),
    );
    const summaryFile = path.join(dir, 'summary.json');
    const { wsUrl, lines, served } = await serve({ scenario, summaryFile, speed: 'max' });
    const probe = await WsProbe.connect(wsUrl);
    const hello = await probe.next('hello', 0);
    expect(hello.simulation).toMatchObject({ scenario: 'short', seed: 7 });
    await ack(probe, { type: 'sim_clock', id: 'go', action: 'resume' });
    const end = await until('the end', () => probe.of('clock').find((c) => c.finished), 20_000);
    expect(end.t).toBeGreaterThanOrEqual(1000);
    expect(end.t).toBeLessThanOrEqual(2000);
    await served.finished;
    expect(lines.filter((l) => l.includes('The run has finished')).length).toBe(1);
    expect(JSON.parse(fs.readFileSync(summaryFile, 'utf8'))).toMatchObject({ scenario: 'short', seed: 7 });
    // Still served: a late viewer reads the run from history.
    const late = await WsProbe.connect(wsUrl);
    expect((await late.next('hello', 0)).simulation?.clock).toMatchObject({ finished: true, t: end.t });
    await late.next('history_end', 0);
    expect(late.events.some((e) => e.type === 'fact' && e.fact === 'stream.access_log')).toBe(true);
    const after = await ack(late, { type: 'sim_clock', id: 'more', action: 'advance', ms: 1000 });
    expect(after.detail).toMatchObject({ t: end.t, finished: true });
  });

  it('is the same run as proxyscope simulate when nobody touches it, however the clock is cut', async () => {
    const { wsUrl } = await serve({ speed: 'max' });
    const probe = await WsProbe.connect(wsUrl);
    await probe.next('history_end', 0);
    await ack(probe, { type: 'sim_clock', id: 'a', action: 'advance', ms: 700 });
    await ack(probe, { type: 'sim_clock', id: 'b', action: 'advance' });
    await ack(probe, { type: 'sim_clock', id: 'c', action: 'advance', ms: 2000 - (probe.of('ack').at(-1)!.detail!.t as number) });
    // Events reach a viewer before the ack of the advance that made them.
    expect(probe.of('ack').at(-1)!.detail).toMatchObject({ t: 2000 });

    // The same scenario run to 2 s in one go, the way `proxyscope simulate` runs it.
    const run = loadRun({});
    const traced: TraceEvent[] = [];
    const sim = new Simulation({ config: run.config, scenario: run.scenario, sink: (e) => traced.push(e) });
    await sim.start();
    sim.runUntil(2000);
    expect(traced.length).toBeGreaterThan(1000);
    expect(probe.events).toEqual(traced);
  });

  it('a live server refuses sim_clock', async () => {
    const live = await startLive();
    const probe = await WsProbe.connect(live.wsUrl);
    const hello = await probe.next('hello', 0);
    expect(hello.mode).toBe('live');
    expect(hello.simulation).toBeUndefined();
    expect(await probe.request({ type: 'sim_clock', id: 'c', action: 'pause' })).toMatchObject({ type: 'error', code: 'not_supported', id: 'c', message: expect.stringContaining('mode live') });
  });

  it('at max speed the run waits for a viewer that stops reading: nothing is dropped', async () => {
    const dir = tempDir();
    const scenario = path.join(dir, 'heavy.yaml');
    // Big request headers make big trace facts: megabytes of events, more than the kernel's
    // socket buffers hold, so a stalled viewer's queue fills and the pacer must wait.
    fs.writeFileSync(
      scenario,
      [
        'name: heavy',
        `config: ${path.join(SCENARIOS_DIR, 'demo', 'envoy.yaml')}`,
        'duration: 3s',
        'grace: 1s',
        'defaults:',
        '  service_time: { constant: 5ms }',
        'traffic:',
        '  - name: padded',
        '    constant: { rate: 200 }',
        `    mix: [{ path: /api/products, authority: shop.example.com, headers: { x-pad: ${'p'.repeat(8000)} } }]`,
        '',
      ].join('\n'),
    );
    const MAX_QUEUED = 400;
    const { wsUrl, served } = await serve({ scenario, speed: 'max', stream: { limits: { maxQueuedEvents: MAX_QUEUED, maxBufferedBytes: 64 * 1024 } } });
    const probe = await WsProbe.connect(wsUrl);
    await probe.next('history_end', 0);
    const [client] = [...served.admin.stream.clients];
    probe.stall();
    let maxQueued = 0;
    const watch = setInterval(() => (maxQueued = Math.max(maxQueued, client!.queuedEvents)), 2);
    onTestFinished(() => clearInterval(watch));
    probe.send({ type: 'sim_clock', id: 'go', action: 'resume' });
    await until('the viewer holding the run up', () => client!.queuedEvents >= MAX_QUEUED / 2, 20_000);
    const heldAt = served.sim.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The run stood still while its only viewer read nothing.
    expect(served.sim.now()).toBe(heldAt);
    expect(served.sim.finished).toBe(false);

    probe.resume();
    await until('the end of the run', () => probe.of('clock').find((c) => c.finished), 60_000);
    clearInterval(watch);
    expect(maxQueued).toBeLessThanOrEqual(MAX_QUEUED);
    expect(probe.of('dropped')).toEqual([]);
    await ack(probe, { type: 'ping', id: 'last' });
    const seqs = probe.events.map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBe(served.hub.received);
  });

  it('the CLI serves it with the same security, says where, and stops cleanly on SIGINT', async () => {
    const cli = startCli(['simulate', '--serve', '--paused', '--admin', '127.0.0.1:0', '--token', 'sekrit']);
    onTestFinished(() => void cli.child.kill('SIGKILL'));
    const port = Number(await waitFor('the web UI line', () => /web UI\s+http:\/\/127\.0\.0\.1:(\d+)\//.exec(cli.stdout())?.[1], CLI_TIMEOUT_MS));
    expect(cli.stdout()).toContain('simulation of demo (seed 1');
    expect(cli.stdout()).toContain('paused at t = 0');
    expect(await WsProbe.refusedStatus(`ws://127.0.0.1:${port}/ws`)).toBe(401);
    expect(await WsProbe.refusedStatus(`ws://127.0.0.1:${port}/ws?token=sekrit`, { headers: { origin: 'http://evil.example' } })).toBe(403);
    const probe = await WsProbe.connect(`ws://127.0.0.1:${port}/ws?token=sekrit`);
    expect((await probe.next('hello', 0)).simulation).toMatchObject({ scenario: 'demo', clock: { t: 0, paused: true } });
    cli.child.kill('SIGINT');
    expect(await cli.exit).toBe(0);

    // The address in use: exit 4, as --help says.
    const blocker = await serve();
    const taken = startCli(['simulate', '--serve', '--admin', `127.0.0.1:${blocker.served.admin.port}`]);
    expect(await taken.exit).toBe(4);
    expect(taken.stderr()).toContain('address already in use');
  });
});
