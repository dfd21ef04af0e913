/**
 * Step mode over the stream, on real sockets: a breakpoint set by one viewer holds a live
 * request, every viewer sees `step_state`, `step` makes one state change whose transition
 * arrives as an event, other traffic flows, `resume` lets the request finish, and bad
 * step messages get precise errors while the connection stays usable.
 */
import { describe, expect, it } from 'vitest';
import type { ServerMessage, StepStateMessage, TransitionEvent } from '@proxyscope/protocol';
import { httpRequest } from '../../../packages/engine/test/support/upstreams';
import { startLive, until, WsProbe } from './support/stream';

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
