/**
 * Step mode on the in-memory transport and a ManualClock: a breakpoint holds a request at
 * a state while other requests flow; `step` makes exactly one state change of that
 * request; its timers are frozen while it is held; `resume` lets it finish; pause-all
 * holds every new request; a request that ends while held (client gone) loses nothing else.
 */
import { describe, expect, it } from 'vitest';
import type { RouteAction } from '../src/config/types';
import { ProxyEngine, StepError } from '../src/index';
import * as b from './support/config-builders';
import { memoryTransportTo, type MemoryAnswer, type MemoryRequest } from './support/memory-upstream';
import { settle, startMemoryProxy } from './support/memory-proxy';


async function start(answer: (request: MemoryRequest) => MemoryAnswer, route: Partial<RouteAction> = {}, hcm: Parameters<typeof b.hcm>[1] = {}) {
  return startMemoryProxy(answer, { route, hcm });
}

describe('step mode', () => {
  it('holds a request when the router has chosen a route; others keep flowing; step makes one state change; resume finishes it', async () => {
    const p = await start(() => ({ status: 200, body: 'ok' }));
    p.engine.stepper.setBreakpoints([{ machine: 'router', state: 'route_matched' }]);
    const held = p.send('/held');
    await p.run(5);
    const stream = p.streamOf('/held');
    const [h] = p.engine.stepper.held();
    expect(h).toMatchObject({ stream, machine: 'router', state: 'route_matched', reason: 'breakpoint' });
    expect(p.transitionsOf(stream).at(-1)).toBe('router:route_matched');
    expect(p.responseOf(held)).toBeUndefined();
    expect(p.events.some((e) => e.type === 'fact' && e.fact === 'step.held' && e.ids.stream === stream)).toBe(true);

    // Another request started before the breakpoint was cleared is held too; one started after flows.
    p.engine.stepper.setBreakpoints([]);
    const other = p.send('/other');
    await p.run(5);
    expect(p.responseOf(other)?.status).toBe(200);
    expect(p.responseOf(held)).toBeUndefined();

    // Each step is exactly one state change of the held request, in the order free running makes them.
    const before = p.transitionsOf(stream).length;
    const r1 = p.engine.stepper.step(stream);
    expect(r1.transitions).toBe(1);
    expect(p.transitionsOf(stream).slice(before)).toEqual(['router:cluster_selected']);
    const r2 = p.engine.stepper.step(stream);
    expect(r2.transitions).toBe(1);
    expect(p.transitionsOf(stream).at(-1)).toBe('router:host_selected');
    expect(p.engine.stepper.held()[0]).toMatchObject({ stream, machine: 'router', state: 'host_selected', reason: 'step' });

    p.engine.stepper.resume(stream);
    await p.run(5);
    expect(p.responseOf(held)?.status).toBe(200);
    expect(p.engine.stepper.held()).toEqual([]);
    expect(p.events.some((e) => e.type === 'fact' && e.fact === 'step.released' && e.ids.stream === stream)).toBe(true);
    await p.engine.stop();
  });

  it('stepping all the way gives the same transitions as running free', async () => {
    const free = await start(() => ({ status: 200, body: 'ok' }));
    free.send('/a');
    await free.run(5);
    const expected = free.transitionsOf(free.streamOf('/a'));
    await free.engine.stop();

    const p = await start(() => ({ status: 200, body: 'ok' }));
    p.engine.stepper.setBreakpoints([{ machine: 'stream', state: 'decoding_headers' }]);
    const client = p.send('/a');
    await p.run(1);
    const stream = p.streamOf('/a');
    let steps = 0;
    for (let i = 0; i < 100 && p.engine.stepper.held().some((h) => h.stream === stream); i++) {
      const r = p.engine.stepper.step(stream);
      steps += r.transitions;
      expect(r.transitions).toBeLessThanOrEqual(1);
      await p.run(1);
    }
    expect(p.responseOf(client)?.status).toBe(200);
    expect(p.transitionsOf(stream)).toEqual(expected);
    // every state change after the first hold was one step
    expect(steps).toBe(expected.length);
    await p.engine.stop();
  });

  it("freezes a held request's timers: the route timeout does not fire while held, and counts on from where it stopped", async () => {
    const p = await start(() => 'hang', { timeout: 100 });
    p.engine.stepper.setBreakpoints([{ machine: 'upstream_request', state: 'awaiting_headers' }]);
    const client = p.send('/slow');
    await p.run(5);
    const stream = p.streamOf('/slow');
    expect(p.engine.stepper.held()[0]).toMatchObject({ stream, machine: 'upstream_request', state: 'awaiting_headers' });
    expect(p.engine.stepper.held()[0]!.timers).toBeGreaterThan(0);
    await p.run(1000);
    expect(p.responseOf(client)).toBeUndefined();

    p.engine.stepper.setBreakpoints([]);
    p.engine.stepper.resume(stream);
    await p.run(90);
    expect(p.responseOf(client)).toBeUndefined();
    await p.run(20);
    expect(p.responseOf(client)?.status).toBe(504);
    await p.engine.stop();
  });

  it('a request held by the router between attempts keeps what was left of its route timeout', async () => {
    let n = 0;
    const p = await start(() => (n++ === 0 ? { status: 503 } : 'hang'), {
      timeout: 300,
      retry_policy: b.retryPolicy({ num_retries: 1, retry_back_off: { base_interval: 50, max_interval: 50 } }),
    });
    p.engine.stepper.setBreakpoints([{ machine: 'router', state: 'retry_backoff' }]);
    const client = p.send('/between');
    await p.run(5);
    const stream = p.streamOf('/between');
    expect(p.engine.stepper.held()[0]).toMatchObject({ stream, machine: 'router', state: 'retry_backoff' });
    // The route timeout runs in retry_backoff too; held, it stands still.
    await p.run(2000);
    expect(p.responseOf(client)).toBeUndefined();
    p.engine.stepper.setBreakpoints([]);
    p.engine.stepper.resume(stream);
    await p.run(280);
    expect(p.responseOf(client)).toBeUndefined();
    await p.run(30);
    expect(p.responseOf(client)?.status).toBe(504);
    expect(p.events.flatMap((e) => (e.type === 'fact' && e.fact === 'router.timeout' ? [e.data.kind] : []))).toEqual(['global']);
    await p.engine.stop();
  });

  it("freezes the stream's own idle timer too, while the next request on the connection times out as usual", async () => {
    const p = await start(() => 'hang', {}, { stream_idle_timeout: 200 });
    p.engine.stepper.setBreakpoints([{ machine: 'upstream_request', state: 'awaiting_headers' }]);
    const held = p.send('/held');
    await p.run(5);
    expect(p.engine.stepper.held()).toHaveLength(1);
    await p.run(1000);
    expect(p.responseOf(held)).toBeUndefined();
    // A request no breakpoint holds gets its 504 after stream_idle_timeout.
    p.engine.stepper.setBreakpoints([]);
    const free = p.send('/free');
    await p.run(250);
    expect(p.responseOf(free)?.status).toBe(504);
    // Released, the held one has its 200 ms from where it stopped.
    p.engine.stepper.resume();
    await p.run(150);
    expect(p.responseOf(held)).toBeUndefined();
    await p.run(100);
    expect(p.responseOf(held)?.status).toBe(504);
    await p.engine.stop();
  });

  it('a step with nothing parked moves the held request to its next timer (a retry back-off)', async () => {
    let n = 0;
    const p = await start(() => (n++ === 0 ? { status: 503 } : { status: 200, body: 'ok' }), {
      retry_policy: b.retryPolicy({ num_retries: 1, retry_back_off: { base_interval: 1000, max_interval: 1000 } }),
    });
    p.engine.stepper.setBreakpoints([{ machine: 'retry', state: 'backoff' }]);
    const client = p.send('/retry');
    await p.run(5);
    const stream = p.streamOf('/retry');
    expect(p.engine.stepper.held()[0]).toMatchObject({ machine: 'retry', state: 'backoff' });
    // Held with a frozen back-off: time passes, nothing happens.
    await p.run(3000);
    expect(p.transitionsOf(stream).filter((t) => t === 'retry:retrying')).toEqual([]);
    // Step through the router's retry and on until the back-off timer is what is left.
    let sawTimer = false;
    for (let i = 0; i < 10 && !p.transitionsOf(stream).includes('retry:retrying'); i++) {
      const r = p.engine.stepper.step(stream);
      if (r.ran === 'timer') sawTimer = true;
    }
    expect(sawTimer).toBe(true);
    expect(p.transitionsOf(stream)).toContain('retry:retrying');
    p.engine.stepper.setBreakpoints([]);
    p.engine.stepper.resume();
    await p.run(10);
    expect(p.responseOf(client)?.status).toBe(200);
    await p.engine.stop();
  });

  it('pause all holds every new request as it starts; resume all lets them go', async () => {
    const p = await start(() => ({ status: 200, body: 'ok' }));
    p.engine.stepper.setPauseAll(true);
    const a = p.send('/a');
    const c = p.send('/c');
    await p.run(5);
    expect(p.engine.stepper.held().map((h) => h.state)).toEqual(['decoding_headers', 'decoding_headers']);
    expect(p.responseOf(a)).toBeUndefined();
    p.engine.stepper.setPauseAll(false);
    expect(p.engine.stepper.resume()).toBe(2);
    await p.run(5);
    expect(p.responseOf(a)?.status).toBe(200);
    expect(p.responseOf(c)?.status).toBe(200);
    await p.engine.stop();
  });

  it('a held request whose client goes away ends at once; the proxy keeps serving', async () => {
    const p = await start(() => ({ status: 200, body: 'ok' }));
    p.engine.stepper.setBreakpoints([{ machine: 'router', state: 'host_selected' }]);
    const gone = p.send('/gone');
    await p.run(5);
    const stream = p.streamOf('/gone');
    expect(p.engine.stepper.held()).toHaveLength(1);
    gone.destroy();
    await p.run(5);
    expect(p.engine.stepper.held()).toEqual([]);
    expect(p.transitionsOf(stream)).toContain('stream:reset');
    expect(() => p.engine.stepper.step(stream)).toThrow(StepError);
    p.engine.stepper.setBreakpoints([]);
    const next = p.send('/next');
    await p.run(5);
    expect(p.responseOf(next)?.status).toBe(200);
    await p.engine.stop();
    expect(p.engine.stats.valueOf('cluster.backend.upstream_rq_active') ?? 0).toBe(0);
  });

  it('refuses breakpoints that can never match, naming the field', () => {
    const engine = new ProxyEngine({
      config: b.bootstrap([b.listener(b.hcm(b.routeConfig([b.vhost('all', ['*'], [])])), 10000)], []),
      transport: memoryTransportTo(new Map()),
    });
    expect(() => engine.stepper.setBreakpoints([{ machine: 'router', state: 'nope' }])).toThrow(/breakpoints\[0\]\.state: router has no state "nope" \(it has matching_route, /);
    expect(() => engine.stepper.setBreakpoints([{ machine: 'pool' as 'router', state: 'active' }])).toThrow(/breakpoints\[0\]\.machine: pool is not one of a request's machines/);
    expect(engine.stepper.breakpointList).toEqual([]);
  });
});
