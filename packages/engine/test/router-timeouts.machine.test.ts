/**
 * The router's timeouts as the machines carry them: the route timeout an `after` on the
 * router's in-flight states with the time left of one deadline, the per-try timeout an
 * `after` on the attempt's states before its response headers. Run on a ManualClock with a
 * stub owner, on both interpreters (the engine's compiled runtime and xstate).
 */
import type { TraceEvent } from '@proxyscope/protocol';
import { describe, expect, it } from 'vitest';
import { routerMachine, type RouterOwner } from '../src/router/router.machine';
import { upstreamRequestMachine, type UpstreamRequestMachineOwner } from '../src/router/upstream-request.machine';
import { EngineIds, startTraced, type MachineInterpreter } from '../src/seams/actors';
import { ManualClock } from '../src/seams/clock';
import { Tracer } from '../src/seams/tracer';

function world(interpreter: MachineInterpreter) {
  const clock = new ManualClock();
  const tracer = new Tracer(clock);
  const events: TraceEvent[] = [];
  tracer.attach((e) => events.push(e));
  const engine = { clock, tracer, ids: new EngineIds(), interpreter };
  const transitions = () => events.filter((e) => e.type === 'transition').map((e) => `${e.from}->${e.to}`);
  return { clock, engine, transitions };
}

/** A Router::Filter stand-in: a route timeout of `global` ms once `complete()` is called. */
function routerOwner(clock: ManualClock, global: number) {
  let completeAt: number | undefined;
  const fired: number[] = [];
  const owner: RouterOwner = {
    routeTimeLeft: () => (global > 0 && completeAt !== undefined ? Math.max(0, completeAt + global - clock.now()) : undefined),
    onResponseTimeout: () => fired.push(clock.now()),
  };
  return { owner, fired, complete: () => (completeAt = clock.now()) };
}

/** No timer will fire within a day (a not-running timeout's timer is due in 2^31-1 ms). */
function dormant(clock: { nextDue(): number | undefined; now(): number }): boolean {
  const due = clock.nextDue();
  return due === undefined || due - clock.now() > 86_400_000;
}

for (const interpreter of ['compiled', 'xstate'] as const) {
  describe(`router machine timers (${interpreter})`, () => {
    it('arms no route timeout before the whole request is in; from then on one deadline spans attempts and back-off', () => {
      const { clock, engine, transitions } = world(interpreter);
      const filter = routerOwner(clock, 1000);
      const router = startTraced(engine, routerMachine, { input: { owner: filter.owner }, path: 'r', kind: 'router', ids: {} });
      const emitted: string[] = [];
      router.on('router.send_local_reply', (e) => emitted.push(`${e.type}@${clock.now()}`));
      for (const type of ['router.route.matched', 'router.cluster.selected', 'router.host.selected', 'router.upstream.created'] as const) router.send({ type });
      // The request body takes 5 s: no route timeout meanwhile.
      clock.advance(5000);
      expect(router.getSnapshot().value).toBe('upstream_pending');
      // At most the not-running timer, due in some 24 days: nothing fires for nothing.
      expect(dormant(clock)).toBe(true);
      filter.complete();
      router.send({ type: 'router.request.complete' });
      clock.advance(400);
      router.send({ type: 'router.retry' });
      clock.advance(200);
      router.send({ type: 'router.upstream.created' });
      clock.advance(399);
      expect(filter.fired).toEqual([]);
      clock.advance(1);
      expect(filter.fired).toEqual([6000]);
      expect(router.getSnapshot().value).toBe('local_reply');
      expect(emitted).toEqual(['router.send_local_reply@6000']);
      // The re-entry that started the timer is no transition in the trace.
      expect(transitions()).toEqual([
        'matching_route->route_matched',
        'route_matched->cluster_selected',
        'cluster_selected->host_selected',
        'host_selected->upstream_pending',
        'upstream_pending->retry_backoff',
        'retry_backoff->upstream_pending',
        'upstream_pending->local_reply',
      ]);
    });

    it('once the response started, the route timeout resets the stream instead; its end cancels the timer', () => {
      const { clock, engine } = world(interpreter);
      const started = (filter: ReturnType<typeof routerOwner>) => {
        filter.complete();
        const router = startTraced(engine, routerMachine, { input: { owner: filter.owner }, path: 'r', kind: 'router', ids: {} });
        for (const type of ['router.route.matched', 'router.cluster.selected', 'router.host.selected', 'router.upstream.created', 'router.upstream.headers'] as const) router.send({ type });
        return router;
      };
      const slowFilter = routerOwner(clock, 300);
      const slow = started(slowFilter);
      const resets: number[] = [];
      slow.on('router.reset_stream', () => resets.push(clock.now()));
      clock.advance(300);
      expect([slow.getSnapshot().value, resets, slowFilter.fired]).toEqual(['reset', [300], [300]]);

      const fastFilter = routerOwner(clock, 300);
      const fast = started(fastFilter);
      clock.advance(100);
      fast.send({ type: 'router.upstream.complete' });
      clock.advance(1000);
      expect([fast.getSnapshot().value, fastFilter.fired, clock.pendingTimers()]).toEqual(['complete', [], 0]);
    });

    it('a route timeout of 0 never fires', () => {
      const { clock, engine } = world(interpreter);
      const filter = routerOwner(clock, 0);
      filter.complete();
      const router = startTraced(engine, routerMachine, { input: { owner: filter.owner }, path: 'r', kind: 'router', ids: {} });
      for (const type of ['router.route.matched', 'router.cluster.selected', 'router.host.selected', 'router.upstream.created', 'router.request.complete'] as const) router.send({ type });
      clock.advance(3_600_000);
      expect([router.getSnapshot().value, filter.fired, dormant(clock)]).toEqual(['upstream_pending', [], true]);
    });
  });

  describe(`upstream request per-try timeout (${interpreter})`, () => {
    function attempt(engine: ReturnType<typeof world>['engine'], clock: ManualClock) {
      let deadline: number | undefined;
      const fired: number[] = [];
      const owner: UpstreamRequestMachineOwner = {
        perTryTimeLeft: () => (deadline === undefined ? undefined : Math.max(0, deadline - clock.now())),
        onPerTryTimeout: () => fired.push(clock.now()),
      };
      const actor = startTraced(engine, upstreamRequestMachine, { input: { owner }, path: 'u', kind: 'upstream_request', ids: {} });
      const setup = (ms: number) => {
        deadline = clock.now() + ms;
        actor.send({ type: 'upstream.per_try.started' });
      };
      return { actor, fired, setup };
    }

    it('runs from its setup across pool wait and sending, to the ms', () => {
      const { clock, engine } = world(interpreter);
      const a = attempt(engine, clock);
      clock.advance(10_000);
      expect(a.fired).toEqual([]);
      a.setup(500);
      clock.advance(200);
      a.actor.send({ type: 'upstream.pool.ready' });
      clock.advance(200);
      a.actor.send({ type: 'upstream.request.sent' });
      clock.advance(99);
      expect(a.fired).toEqual([]);
      clock.advance(1);
      expect(a.fired).toEqual([10_500]);
    });

    it('stops at the response headers', () => {
      const { clock, engine } = world(interpreter);
      const a = attempt(engine, clock);
      a.setup(500);
      a.actor.send({ type: 'upstream.pool.ready' });
      a.actor.send({ type: 'upstream.request.sent' });
      clock.advance(100);
      a.actor.send({ type: 'upstream.headers', endStream: false });
      clock.advance(1000);
      expect([a.actor.getSnapshot().value, a.fired, clock.pendingTimers()]).toEqual(['receiving_body', [], 0]);
    });
  });
}
