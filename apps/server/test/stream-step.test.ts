/**
 * Step mode over the stream, on real sockets: a breakpoint set by one viewer holds a live
 * request, every viewer sees `step_state`, `step` makes one state change whose transition
 * arrives as an event, other traffic flows, `resume` lets the request finish, and bad
 * step messages get precise errors while the connection stays usable.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { FactEvent, ServerMessage, StepAckDetail, StepStateMessage, TraceEvent, TransitionEvent } from '@proxyscope/protocol';
import { httpRequest } from '../../../packages/engine/test/support/upstreams';
import { startSimulationServer } from '../src/simulate/serve';
import { loadRun } from '../src/simulate/simulate';
import { startDemoLive, startLive, until, WsProbe } from './support/stream';

type StepState = StepStateMessage;
const lastStepState = (probe: WsProbe): StepState | undefined => probe.of('step_state').at(-1);

describe('step mode over the stream', () => {
  it('holds a live request at a breakpoint, steps it one state change at a time and resumes it', async () => {
    const live = await startLive();
    const probe = await WsProbe.connect(live.wsUrl);
    const watcher = await WsProbe.connect(live.wsUrl);
    const hello = await probe.next('hello', 0);
    expect(hello.controls).toEqual(expect.arrayContaining(['breakpoints', 'step', 'resume']));
    expect(hello.step).toEqual({ breakpoints: [], pauseAll: false, held: [] });

    const set = await probe.request({ type: 'breakpoints', id: 'bp', breakpoints: [{ machine: 'router', state: 'route_matched' }] });
    expect(set).toMatchObject({ type: 'ack', request: 'breakpoints', detail: { breakpoints: [{ machine: 'router', state: 'route_matched' }], pauseAll: false } });

    // A request through the proxy's listener: it is held, and both viewers hear of it.
    const response = httpRequest(live.proxy.port, { path: '/held' });
    const held = await until('a held request', () => lastStepState(watcher)?.held[0]);
    expect(held).toMatchObject({ machine: 'router', state: 'route_matched', reason: 'breakpoint' });
    await until('the same state on the first viewer', () => lastStepState(probe)?.held[0]?.stream === held.stream);

    // Other traffic keeps flowing once the breakpoint is gone.
    await probe.request({ type: 'breakpoints', id: 'clear', breakpoints: [] });
    const other = await httpRequest(live.proxy.port, { path: '/other' });
    expect(other.status).toBe(200);

    // One step: one transition of the held request, as an event, and the new state.
    const step = await probe.request({ type: 'step', id: 's1', stream: held.stream });
    expect(step).toMatchObject({ type: 'ack', request: 'step', detail: { transitions: 1, ran: 'work', ended: false, held: { stream: held.stream, machine: 'router', state: 'cluster_selected', reason: 'step' } } });
    const moved = await until('the step transition', () =>
      probe.events.find((e): e is TransitionEvent => e.type === 'transition' && e.ids.stream === held.stream && e.to === 'cluster_selected'),
    );
    expect(moved).toMatchObject({ machine: 'router', from: 'route_matched', envoy: 'ClusterManagerImpl::getThreadLocalCluster' });
    await until('step_state after the step', () => lastStepState(watcher)?.held[0]?.state === 'cluster_selected');

    const resumed = await probe.request({ type: 'resume', id: 'r', stream: held.stream });
    expect(resumed).toMatchObject({ type: 'ack', detail: { resumed: 1 } });
    expect((await response).status).toBe(200);
    await until('no held request', () => lastStepState(watcher)?.held.length === 0);
  });

  it('pause all holds new requests until resumed all', async () => {
    const live = await startLive();
    const probe = await WsProbe.connect(live.wsUrl);
    await probe.next('hello', 0);
    await probe.request({ type: 'breakpoints', id: 'pause', breakpoints: [], pauseAll: true });
    const a = httpRequest(live.proxy.port, { path: '/a' });
    const b = httpRequest(live.proxy.port, { path: '/b' });
    await until('two held requests', () => lastStepState(probe)?.held.length === 2);
    expect(lastStepState(probe)!.held.map((h) => h.state)).toEqual(['decoding_headers', 'decoding_headers']);
    expect(lastStepState(probe)!.pauseAll).toBe(true);
    await probe.request({ type: 'breakpoints', id: 'unpause', breakpoints: [], pauseAll: false });
    const all = await probe.request({ type: 'resume', id: 'all' });
    expect(all).toMatchObject({ type: 'ack', detail: { resumed: 2 } });
    expect((await a).status).toBe(200);
    expect((await b).status).toBe(200);
  });

  it('refuses bad step messages precisely and stays usable', async () => {
    const live = await startLive();
    const probe = await WsProbe.connect(live.wsUrl);
    await probe.next('hello', 0);
    const error = (m: ServerMessage) => (m.type === 'error' ? { code: m.code, field: m.field, message: m.message } : m);

    expect(error(await probe.request({ type: 'breakpoints', id: 1, breakpoints: [{ machine: 'router', state: 'nowhere' }] }))).toEqual({
      code: 'invalid_message',
      field: 'breakpoints.0.state',
      message: expect.stringMatching(/^breakpoints: breakpoints\[0\]\.state: router has no state "nowhere" \(it has matching_route, route_matched, /),
    });
    expect(error(await probe.request({ type: 'breakpoints', id: 2, breakpoints: [{ machine: 'pool', state: 'active' }] }))).toMatchObject({
      code: 'invalid_message',
      field: 'breakpoints.0.machine',
    });
    expect(error(await probe.request({ type: 'step', id: 3, stream: 12345 }))).toEqual({
      code: 'invalid_message',
      field: 'stream',
      message: 'step: stream: request 12345 is not held',
    });
    expect(error(await probe.request({ type: 'step', id: 4 }))).toMatchObject({ code: 'invalid_message', field: 'stream' });
    // Nothing was set by the refused messages; the connection still works.
    expect(await probe.request({ type: 'ping', id: 5 })).toMatchObject({ type: 'ack' });
    expect(live.proxy.engine.stepper.breakpointList).toEqual([]);
    expect((await httpRequest(live.proxy.port, { path: '/' })).status).toBe(200);
  });
});

describe('step mode with nobody watching', () => {
  it('clears breakpoints and lets held requests go when the last viewer leaves', async () => {
    const live = await startLive();
    const probe = await WsProbe.connect(live.wsUrl);
    await probe.next('hello', 0);
    await probe.request({ type: 'breakpoints', id: 'bp', breakpoints: [{ machine: 'router', state: 'host_selected' }] });
    const response = httpRequest(live.proxy.port, { path: '/left-behind' });
    await until('a held request', () => lastStepState(probe)?.held.length === 1);
    probe.ws.close();
    expect((await response).status).toBe(200);
    expect(live.proxy.engine.stepper.breakpointList).toEqual([]);
    expect(live.proxy.engine.stepper.held()).toEqual([]);
  });
});

type StepAck = Extract<ServerMessage, { type: 'ack' }> & { detail: StepAckDetail };
const factOf = (events: readonly TraceEvent[], stream: number, fact: string) =>
  events.find((e): e is FactEvent => e.type === 'fact' && e.fact === fact && e.ids.stream === stream);

describe('narrowed breakpoints (when, once) on the live demo', () => {
  it('holds only requests of the named route; the others run through', async () => {
    const demo = await startDemoLive();
    const probe = await WsProbe.connect(demo.wsUrl);
    await probe.next('hello', 0);
    const set = await probe.request({ type: 'breakpoints', id: 'bp', breakpoints: [{ machine: 'router', state: 'route_matched', when: { route: 'api' } }] });
    expect(set).toMatchObject({ type: 'ack', detail: { breakpoints: [{ machine: 'router', state: 'route_matched', when: { route: 'api' } }] } });

    const api = httpRequest(demo.proxy.port, { path: '/api/products' });
    const others = await Promise.all(['/', '/static/logo.png', '/healthz'].map((path) => httpRequest(demo.proxy.port, { path })));
    // The other routes answered while the API request is still held.
    expect(others.map((r) => r.status).every((s) => s > 0 && s !== 404)).toBe(true);
    const held = await until('the api request held', () => lastStepState(probe)?.held[0]);
    expect(lastStepState(probe)!.held).toHaveLength(1);
    expect(held).toMatchObject({ machine: 'router', state: 'route_matched', reason: 'breakpoint', by: { when: { route: 'api' } } });
    expect(factOf(probe.events, held.stream, 'codec.request_headers')?.data).toMatchObject({ path: '/api/products' });

    // The step's ack says what the step did: the cluster was chosen.
    const step = (await probe.request({ type: 'step', id: 's', stream: held.stream })) as StepAck;
    expect(step.detail.events?.map((e) => (e.type === 'fact' ? e.fact : `${e.type} ${e.type === 'transition' ? e.to : ''}`))).toEqual(['cluster.selected', 'transition cluster_selected']);
    expect(step.detail.events?.[0]).toMatchObject({ type: 'fact', data: { cluster: 'api', found: true } });
    await probe.request({ type: 'breakpoints', id: 'clear', breakpoints: [] });
    await probe.request({ type: 'resume', id: 'r' });
    expect((await api).status).toBe(200);
  });

  it('a host condition holds only requests sent to that host (by its demo name), once the host is picked', async () => {
    const demo = await startDemoLive();
    const probe = await WsProbe.connect(demo.wsUrl);
    await probe.next('hello', 0);
    await probe.request({ type: 'subscribe', id: 'sub' });
    await probe.request({ type: 'breakpoints', id: 'bp', breakpoints: [{ machine: 'router', state: 'host_selected', when: { host: 'api-1', pathPrefix: '/api/' } }] });
    const api1 = demo.host('api-1').address;
    const responses = [1, 2, 3, 4].map((n) => httpRequest(demo.proxy.port, { path: `/api/products?n=${n}` }));
    // The cluster balances over api-1 and api-2 (least request): each request is either held on api-1 or answered.
    const finishedStreams = () => probe.events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === 'stream.access_log').map((e) => e.ids.stream!);
    await until('all four held or answered', () => (lastStepState(probe)?.held.length ?? 0) + finishedStreams().length === 4);
    const held = lastStepState(probe)!.held;
    expect(held.length).toBeGreaterThan(0);
    for (const h of held) expect(factOf(probe.events, h.stream, 'lb.host_selected')?.data.host).toBe(api1);
    for (const stream of finishedStreams()) expect(factOf(probe.events, stream, 'lb.host_selected')?.data.host).not.toBe(api1);
    await probe.request({ type: 'breakpoints', id: 'clear', breakpoints: [] });
    await probe.request({ type: 'resume', id: 'r' });
    expect((await Promise.all(responses)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
  });

  it('a once breakpoint holds the first matching request and disarms; the next one runs free', async () => {
    const demo = await startDemoLive();
    const probe = await WsProbe.connect(demo.wsUrl);
    await probe.next('hello', 0);
    await probe.request({ type: 'breakpoints', id: 'bp', breakpoints: [{ machine: 'router', state: 'route_matched', when: { header: { name: 'x-debug', value: 'yes' } }, once: true }] });
    // Not matching (no header, another value): not held, and the breakpoint stays.
    expect((await httpRequest(demo.proxy.port, { path: '/', headers: { 'x-debug': 'no' } })).status).toBe(200);
    expect(demo.proxy.engine.stepper.breakpointList).toHaveLength(1);
    const first = httpRequest(demo.proxy.port, { path: '/', headers: { 'x-debug': 'yes' } });
    const held = await until('the first match held', () => lastStepState(probe)?.held[0]);
    expect(held.by).toEqual({ machine: 'router', state: 'route_matched', when: { header: { name: 'x-debug', value: 'yes' } }, once: true });
    await until('the breakpoint gone for every viewer', () => lastStepState(probe)?.breakpoints.length === 0);
    expect((await httpRequest(demo.proxy.port, { path: '/', headers: { 'x-debug': 'yes' } })).status).toBe(200);
    expect(lastStepState(probe)!.held.map((h) => h.stream)).toEqual([held.stream]);
    await probe.request({ type: 'resume', id: 'r', stream: held.stream });
    expect((await first).status).toBe(200);
  });

  it('refuses a condition that can never match where the breakpoint is', async () => {
    const live = await startLive();
    const probe = await WsProbe.connect(live.wsUrl);
    await probe.next('hello', 0);
    const refused = await probe.request({ type: 'breakpoints', id: 1, breakpoints: [{ machine: 'router', state: 'cluster_selected', when: { host: 'web-2' } }] });
    expect(refused).toEqual({
      type: 'error',
      id: 1,
      code: 'invalid_message',
      field: 'breakpoints.0.when.host',
      message: 'breakpoints: breakpoints[0].when.host: at router cluster_selected the request has no host yet, so this never holds anything (the host is known from router host_selected on)',
    });
    const empty = await probe.request({ type: 'breakpoints', id: 2, breakpoints: [{ machine: 'router', state: 'route_matched', when: {} }] });
    expect(empty).toMatchObject({ type: 'error', field: 'breakpoints.0.when' });
    expect(live.proxy.engine.stepper.breakpointList).toEqual([]);
  });
});

describe('narrowed breakpoints on a served simulation (deterministic)', () => {
  async function serveDemo() {
    const served = await startSimulationServer({ run: loadRun({}), host: '127.0.0.1', port: 0, speed: 1, paused: true, log: () => {}, err: () => {} });
    onTestFinished(() => served.close());
    const probe = await WsProbe.connect(`ws://127.0.0.1:${served.admin.port}/ws`);
    await probe.next('history_end', 0);
    return probe;
  }
  const routeOf = (events: readonly TraceEvent[], stream: number) => factOf(events, stream, 'route.match')?.data.route;

  it('under traffic on every route, holds only the api route; a once host breakpoint holds one request', async () => {
    const probe = await serveDemo();
    await probe.request({ type: 'breakpoints', id: 'bp', breakpoints: [{ machine: 'router', state: 'route_matched', when: { route: 'api' } }] });
    await probe.request({ type: 'sim_clock', id: 'a', action: 'advance', ms: 1000 });
    const routedNow = () => [...new Set(probe.events.filter((e) => e.type === 'fact' && e.fact === 'route.match').map((e) => e.ids.stream!))];
    // The step_state and the trace batches arrive on their own schedules: wait until the
    // latest step_state holds as many requests as the trace shows routed to api.
    const state = await until('every api request held', () => {
      const last = probe.of('step_state').at(-1);
      const apiRouted = routedNow().filter((s) => routeOf(probe.events, s) === 'api');
      return last && last.held.length > 3 && last.held.length === apiRouted.length ? last : undefined;
    });
    const held = state.held.map((h) => h.stream);
    const routed = routedNow();
    expect([...new Set(routed.map((s) => routeOf(probe.events, s)))]).toEqual(expect.arrayContaining(['api', 'storefront', 'static']));
    expect(held.length).toBeGreaterThan(3);
    expect(held.every((s) => routeOf(probe.events, s) === 'api')).toBe(true);
    // Every api request routed is held; no other is.
    expect(routed.filter((s) => routeOf(probe.events, s) === 'api').sort()).toEqual([...held].sort());

    await probe.request({ type: 'breakpoints', id: 'once', breakpoints: [{ machine: 'router', state: 'host_selected', when: { host: 'web-2' }, once: true }] });
    await probe.request({ type: 'resume', id: 'r' });
    await probe.request({ type: 'sim_clock', id: 'b', action: 'advance', ms: 1000 });
    const after = await until('one held by the once breakpoint', () => probe.of('step_state').at(-1));
    expect(after.breakpoints).toEqual([]);
    expect(after.held).toHaveLength(1);
    const one = after.held[0]!;
    expect(one).toMatchObject({ machine: 'router', state: 'host_selected', by: { when: { host: 'web-2' }, once: true } });
    expect(factOf(probe.events, one.stream, 'lb.host_selected')?.data.host).toBe('10.0.1.2:8080');
    // Later requests to web-2 ran free.
    const laterToWeb2 = probe.events.filter((e) => e.type === 'fact' && e.fact === 'lb.host_selected' && e.data.host === '10.0.1.2:8080' && e.ids.stream! > one.stream);
    expect(laterToWeb2.length).toBeGreaterThan(0);

    // Stepping on: the pool's decision is part of what the step did.
    const step = (await probe.request({ type: 'step', id: 's', stream: one.stream })) as StepAck;
    expect(step.detail).toMatchObject({ transitions: 1, held: { state: 'upstream_pending' } });
    expect(step.detail.events?.some((e) => e.type === 'transition' && e.machine === 'router' && e.to === 'upstream_pending')).toBe(true);
  });
});
