/**
 * A client that stops reading loses events, never the proxy's speed or memory: its queue
 * and its socket's unsent bytes stay bounded, what it lost is counted and announced when
 * it reads again, and the proxy keeps answering meanwhile. (The throughput comparison with
 * and without a stalled client is a benchmark figure: npm run bench.)
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import type { FactEvent } from '@proxyscope/protocol';
import { keepAliveAgent } from '../../../packages/engine/test/support/upstreams';
import { startLive, until, WsProbe } from './support/stream';

const MAX_QUEUED = 2000;
const MAX_BUFFERED = 64 * 1024;

function get(port: number, path: string, agent: http.Agent, pad: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent, headers: { 'x-pad': pad } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a stalled stream client', () => {
  it('has a bounded queue, loses events (announced later), and the proxy keeps answering', async () => {
    const live = await startLive({
      hub: { historySize: 0 },
      admin: { stream: { limits: { maxQueuedEvents: MAX_QUEUED, maxBufferedBytes: MAX_BUFFERED }, statsIntervalMs: 50 } },
    });
    const stalled = await WsProbe.connect(live.wsUrl);
    await stalled.next('hello', 0);
    stalled.stall();
    const [server] = [...live.admin.stream.clients];

    // Watch the server side of the stalled client while the proxy works.
    let maxQueued = 0;
    let maxBuffered = 0;
    let maxRetained = 0;
    let maxHubBatch = 0;
    live.hub.addConsumer((batch) => (maxHubBatch = Math.max(maxHubBatch, batch.length)));
    const watch = setInterval(() => {
      maxQueued = Math.max(maxQueued, server!.queuedEvents);
      maxBuffered = Math.max(maxBuffered, server!.ws.bufferedAmount);
      maxRetained = Math.max(maxRetained, server!.retainedEvents);
    }, 2);

    // Big request headers make big codec.request_headers facts: megabytes of events, more
    // than the kernel's socket buffers hold, so the stall reaches the server's queue.
    const pad = 'x'.repeat(12 * 1024); // node:http upstreams refuse headers over 16 KiB
    const agent = keepAliveAgent(8);
    const statuses: number[] = [];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        for (let i = 0; i < 75; i++) statuses.push(await get(live.proxy.port, `/load/${worker}/${i}`, agent, pad));
      }),
    );
    const loadMs = Date.now() - started;
    live.hub.flush();
    clearInterval(watch);
    maxQueued = Math.max(maxQueued, server!.queuedEvents);

    // The proxy answered everything.
    expect(statuses).toHaveLength(600);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(loadMs).toBeLessThan(20_000);
    // The stalled client cost bounded memory and lost events.
    expect(maxQueued).toBeLessThanOrEqual(MAX_QUEUED);
    // Nothing else keeps its events alive: at most one hub batch beyond the queue.
    expect(maxRetained).toBeLessThanOrEqual(MAX_QUEUED + maxHubBatch);
    expect(maxBuffered).toBeLessThan(MAX_BUFFERED + 512 * 1024);
    expect(server!.droppedTotal).toBeGreaterThan(0);
    expect(live.hub.received).toBeGreaterThan(server!.sentEvents + MAX_QUEUED);
    // /stream shows it too.
    const state = (await (await fetch(`${live.base}/stream`)).json()) as { clients: Array<{ dropped: number; queued: number }> };
    expect(state.clients[0]!.dropped).toBe(server!.droppedTotal);
    expect(state.clients[0]!.queued).toBeLessThanOrEqual(MAX_QUEUED);

    // Reading again: the loss is announced, with the seq range; the rest arrives in order.
    stalled.resume();
    await until('the queue to drain', () => server!.queuedEvents === 0 && stalled.events.length === server!.sentEvents, 20_000);
    const notices = stalled.of('dropped');
    expect(notices.length).toBeGreaterThan(0);
    expect(notices.reduce((n, d) => n + d.count, 0)).toBe(server!.droppedTotal);
    expect(notices.at(-1)!.total).toBe(server!.droppedTotal);
    const seqs = stalled.events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    for (const notice of notices) {
      const at = stalled.messages.indexOf(notice);
      const before = stalled.messages.slice(0, at).filter((m) => m.type === 'events');
      const after = stalled.messages.slice(at).find((m) => m.type === 'events');
      if (before.length) expect(before.at(-1)!.type === 'events' && before.at(-1)!.seq).toBeLessThan(notice.fromSeq);
      if (after?.type === 'events') expect(after.seq).toBeGreaterThan(notice.toSeq);
    }
    // The stats it gets say so as well.
    const stats = await stalled.next('stats');
    expect(stats.stream.dropped).toBe(server!.droppedTotal);

    // And it is a working client again.
    expect(await stalled.request({ type: 'ping', id: 'back' })).toMatchObject({ type: 'ack' });
    await get(live.proxy.port, '/after', agent, '');
    await until('a live event after the stall', () => stalled.events.some((e) => e.type === 'fact' && (e as FactEvent).fact === 'codec.request_headers' && (e as FactEvent).data.path === '/after'));
  });
});
