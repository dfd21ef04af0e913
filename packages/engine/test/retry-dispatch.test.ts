/**
 * How a retry goes out once its back-off is over, through the whole proxy on a
 * ManualClock: the retry machine's `retrying` asks for the next attempt on the next
 * iteration, so a breakpoint there holds the request before the next pick, a request that
 * ends while held makes no attempt, and an attempt that fails at once (a pool overflow) is
 * decided by a machine that has finished its step.
 */
import { describe, expect, it } from 'vitest';
import type { Cluster, RouteAction } from '../src/config/types';
import * as b from './support/config-builders';
import type { MemoryAnswer, MemoryRequest } from './support/memory-upstream';
import { startMemoryProxy } from './support/memory-proxy';


async function start(answer: (request: MemoryRequest) => MemoryAnswer, route: Partial<RouteAction>, cluster: Partial<Cluster> = {}) {
  const proxy = await startMemoryProxy(answer, { route, cluster });
  const retries = () => proxy.engine.clusterManager.get('backend')!.resources.retries.count;
  return { ...proxy, retries };
}

const ONE_RETRY = { retry_policy: b.retryPolicy({ num_retries: 1, retry_back_off: { base_interval: 100, max_interval: 100 } }) };

describe('the retry after a back-off', () => {
  it('a breakpoint on retry retrying holds the request before the next pick; a step goes on to the next attempt', async () => {
    const p = await start((r) => (r.index === 0 ? { status: 503 } : { status: 200, body: 'ok' }), ONE_RETRY);
    p.engine.stepper.setBreakpoints([{ machine: 'retry', state: 'retrying' }]);
    const client = p.send('/retry');
    await p.run(200);
    const stream = p.streamOf('/retry');
    expect(p.engine.stepper.held()).toMatchObject([{ stream, machine: 'retry', state: 'retrying', reason: 'breakpoint' }]);
    // Held after the back-off: no host is picked and nothing goes out, however long it waits.
    const router = () => p.transitionsOf(stream).filter((t) => t.startsWith('router:'));
    const before = router();
    expect(before.at(-1)).toBe('router:retry_backoff');
    await p.run(5000);
    expect(p.upstream.requests).toHaveLength(1);
    expect(router()).toEqual(before);
    // The step runs what the held request waited for: the pick of the next attempt.
    const step = p.engine.stepper.step(stream);
    expect(step.ran).toBe('timer');
    await p.run(0);
    expect(router().slice(before.length)).toEqual(['router:upstream_pending']);
    expect(p.engine.stepper.held()).toMatchObject([{ stream, machine: 'router', state: 'upstream_pending', reason: 'step' }]);
    expect(p.upstream.requests).toHaveLength(1);
    p.engine.stepper.setBreakpoints([]);
    p.engine.stepper.resume();
    await p.run(10);
    expect(p.responseOf(client)).toMatchObject({ status: 200 });
    expect(p.upstream.requests).toHaveLength(2);
    await p.engine.stop();
  });

  it('a request that ends while held in retrying makes no further attempt and gives the retry resource back', async () => {
    const p = await start(() => ({ status: 503 }), ONE_RETRY);
    p.engine.stepper.setBreakpoints([{ machine: 'retry', state: 'retrying' }]);
    const client = p.send('/gone');
    await p.run(200);
    expect(p.engine.stepper.held()).toMatchObject([{ machine: 'retry', state: 'retrying' }]);
    expect(p.retries()).toBe(1);
    client.destroy();
    await p.run(10);
    expect(p.engine.stepper.held()).toEqual([]);
    expect(p.retries()).toBe(0);
    const stream = p.streamOf('/gone');
    expect(p.transitionsOf(stream)).toContain('retry:cancelled');
    await p.run(1000);
    expect(p.upstream.requests).toHaveLength(1);
    await p.engine.stop();
  });

  it('a retry that overflows the pool at once is decided by the retry machine before the router acts on it: 503 UO', async () => {
    // One connection and one pending slot: during A's back-off B takes the connection and C
    // the slot, so A's retry overflows as it asks for a stream.
    const p = await start((r) => (r.path === '/a' ? { status: 503 } : 'hang'), ONE_RETRY, {
      circuit_breakers: { max_connections: 1, max_pending_requests: 1, max_requests: 1024, max_retries: 3 },
    });
    const a = p.send('/a');
    await p.run(5);
    const stream = p.streamOf('/a');
    expect(p.transitionsOf(stream)).toContain('retry:backoff');
    p.send('/b');
    await p.run(5);
    p.send('/c');
    await p.run(200);
    expect(p.responseOf(a)).toMatchObject({ status: 503, headers: expect.objectContaining({ 'x-envoy-overloaded': 'true' }) });
    expect(p.engine.stats.valueOf('cluster.backend.upstream_rq_pending_overflow')).toBe(1);
    // The retry machine has left retrying when its decision on the overflowed attempt is
    // reported, and both come before the router's answer.
    const mine = p.events.filter((e) => e.ids.stream === stream);
    const order = mine.flatMap((e) =>
      e.type === 'transition' && e.machine === 'retry'
        ? [`retry:${e.to}`]
        : e.type === 'fact' && e.fact === 'retry.decision'
          ? [`decision:${(e.data as { decision: string }).decision}`]
          : e.type === 'transition' && e.machine === 'router' && e.to === 'local_reply'
            ? ['router:local_reply']
            : [],
    );
    expect(order).toEqual(['retry:backoff', 'decision:retry', 'retry:retrying', 'retry:no_retry', 'decision:no_retry', 'router:local_reply']);
    expect(p.retries()).toBe(0);
    await p.engine.stop();
  });
});
