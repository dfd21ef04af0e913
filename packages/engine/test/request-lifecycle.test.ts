/**
 * The life of one request as the trace tells it (docs/request-lifecycle.md), through a
 * real socket: which machines move, in which order, and with which correlation ids.
 */
import { describe, expect, it } from 'vitest';
import type { FactEvent, TraceEvent } from '@proxyscope/protocol';
import { eventually, httpRequest, RawClient, singleClusterConfig, startProxy, startUpstream, type RunningProxy } from './support/upstreams';

type Step = [label: string, matches: (e: TraceEvent) => boolean];

const fact =
  (name: FactEvent['fact'], data: Record<string, unknown> = {}) =>
  (e: TraceEvent): boolean =>
    e.type === 'fact' && e.fact === name && Object.entries(data).every(([k, v]) => e.data[k] === v);
const spawn =
  (machine: TraceEvent['machine'], state: string) =>
  (e: TraceEvent): boolean =>
    e.type === 'spawn' && e.machine === machine && e.state === state;
const enters =
  (machine: TraceEvent['machine'], to: string) =>
  (e: TraceEvent): boolean =>
    e.type === 'transition' && e.machine === machine && e.to === to;

/** Index of the first event each step matches; fails if a step never happened. */
function positions(events: TraceEvent[], steps: Step[]): Array<[string, number]> {
  return steps.map(([label, matches]) => {
    const index = events.findIndex(matches);
    expect(index, `no event for step "${label}"`).toBeGreaterThanOrEqual(0);
    return [label, index];
  });
}

/** Labels sorted by where they happened: equal to the step list when the order is right. */
function happenedInOrder(events: TraceEvent[], steps: Step[]): string[] {
  return positions(events, steps)
    .sort((a, b) => a[1] - b[1])
    .map(([label]) => label);
}

async function oneConnection(): Promise<{ proxy: RunningProxy; client: RawClient; upstreamPort: number }> {
  const up = await startUpstream();
  const proxy = await startProxy(singleClusterConfig([up.port]));
  const client = await RawClient.connect(proxy.port);
  return { proxy, client, upstreamPort: up.port };
}

/** Sends GET `path` and waits until its stream has been logged (the last event of a request). */
async function get(proxy: RunningProxy, client: RawClient, path: string, nth: number): Promise<void> {
  client.write(`GET ${path} HTTP/1.1\r\nHost: life.test\r\n\r\n`);
  const responses = await client.waitForResponses(nth);
  expect(responses[nth - 1]!.status).toBe(200);
  await eventually(() => proxy.events.filter(fact('stream.access_log')).length === nth, `access log fact #${nth}`);
  // The pool releases the upstream client right after the stream ends.
  await eventually(() => proxy.events.filter(enters('client', 'ready')).length >= nth + 1, 'the upstream client to be ready again');
}

const FIRST_REQUEST: Step[] = [
  ['listener accepts the connection', fact('listener.accept')],
  ['connection spawns', spawn('connection', 'open')],
  ['codec reads the request head', enters('codec', 'headers')],
  ['stream spawns', spawn('stream', 'decoding_headers')],
  ['request headers fact', fact('codec.request_headers', { method: 'GET', path: '/life' })],
  ['router filter entered', fact('stream.decoder_filter', { filter: 'envoy.filters.http.router', call: 'enter' })],
  ['virtual host fact', fact('route.virtual_host')],
  ['route match fact', fact('route.match', { route: 'all', cluster: 'backend' })],
  ['router: route_matched', enters('router', 'route_matched')],
  ['router: cluster_selected', enters('router', 'cluster_selected')],
  ['router: host_selected', enters('router', 'host_selected')],
  ['pool: queue_pending', fact('pool.decision', { decision: 'queue_pending' })],
  ['pool: open_connection', fact('pool.decision', { decision: 'open_connection' })],
  ['client: connecting', spawn('client', 'connecting')],
  // The return fact carries the status, so it follows the work the router did inside
  // decodeHeaders, and precedes the stream leaving decoding.
  ['router filter returned StopIteration', fact('stream.decoder_filter', { filter: 'envoy.filters.http.router', call: 'return', status: 'StopIteration' })],
  ['stream: awaiting_response', enters('stream', 'awaiting_response')],
  ['client: ready', enters('client', 'ready')],
  ['client: busy', enters('client', 'busy')],
  ['upstream request: sending', enters('upstream_request', 'sending')],
  ['upstream request: awaiting_headers', enters('upstream_request', 'awaiting_headers')],
  ['upstream request: receiving_body', enters('upstream_request', 'receiving_body')],
  ['router: response_started', enters('router', 'response_started')],
  ['stream: encoding_headers', enters('stream', 'encoding_headers')],
  ['upstream request: done', enters('upstream_request', 'done')],
  ['stream: complete', enters('stream', 'complete')],
  ['access log fact', fact('stream.access_log', { status: 200, flags: '-' })],
];

describe('the life of a request in the trace', () => {
  it('one GET moves the machines in the order of a request’s life', async () => {
    const { proxy, client } = await oneConnection();
    await get(proxy, client, '/life', 1);
    expect(happenedInOrder(proxy.events, FIRST_REQUEST)).toEqual(FIRST_REQUEST.map(([label]) => label));
    // The first request on a new pool never reuses a client.
    expect(proxy.events.filter(fact('pool.decision')).map((e) => (e as FactEvent).data.decision)).toEqual(['queue_pending', 'open_connection']);
    expect(proxy.events.find(fact('pool.attach'))).toMatchObject({ data: { reused: false } });
    // The upstream's response headers as it sent them, for the request detail.
    const response = proxy.events.find(fact('upstream.response_headers')) as FactEvent;
    expect(response.data).toMatchObject({ status: 200, headers: { 'content-length': expect.any(String) } });
  });

  it('a second request on the same client connection reuses the ready upstream client', async () => {
    const { proxy, client } = await oneConnection();
    await get(proxy, client, '/first', 1);
    const firstClient = (proxy.events.find(fact('pool.attach')) as FactEvent).data.client;
    const before = proxy.events.length;
    await get(proxy, client, '/second', 2);
    const second = proxy.events.slice(before);

    expect(second.filter(fact('pool.decision')).map((e) => (e as FactEvent).data.decision)).toEqual(['reuse_ready_client']);
    expect(second.some(spawn('client', 'connecting'))).toBe(false);
    expect(second.find(fact('pool.attach'))).toMatchObject({ data: { reused: true, client: firstClient } });
    const steps: Step[] = [
      ['codec reads the request head', enters('codec', 'headers')],
      ['stream spawns', spawn('stream', 'decoding_headers')],
      ['route match fact', fact('route.match')],
      ['router: host_selected', enters('router', 'host_selected')],
      ['pool: reuse_ready_client', fact('pool.decision', { decision: 'reuse_ready_client' })],
      ['client: busy', enters('client', 'busy')],
      ['upstream request: sending', enters('upstream_request', 'sending')],
      ['upstream request: awaiting_headers', enters('upstream_request', 'awaiting_headers')],
      ['upstream request: receiving_body', enters('upstream_request', 'receiving_body')],
      ['stream: encoding_headers', enters('stream', 'encoding_headers')],
      ['stream: complete', enters('stream', 'complete')],
      ['client: ready again', enters('client', 'ready')],
    ];
    expect(happenedInOrder(second, steps)).toEqual(steps.map(([label]) => label));
    // Same downstream connection, a new stream.
    const streams = proxy.events.filter(spawn('stream', 'decoding_headers'));
    expect(streams).toHaveLength(2);
    expect(streams[1]!.ids.cx).toBe(streams[0]!.ids.cx);
    expect(streams[1]!.actor).not.toBe(streams[0]!.actor);
    expect(proxy.events.filter(spawn('connection', 'open'))).toHaveLength(1);
  });

  it('every event has the next seq, time never goes back, and ids match the actor path', async () => {
    const { proxy, client, upstreamPort } = await oneConnection();
    await get(proxy, client, '/a', 1);
    await get(proxy, client, '/b', 2);
    const events = proxy.events;
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    for (let i = 1; i < events.length; i++) expect(events[i]!.t).toBeGreaterThanOrEqual(events[i - 1]!.t);

    const host = `127.0.0.1:${upstreamPort}`;
    for (const e of events) {
      const cx = /\/cx:(\d+)/.exec(e.actor);
      const stream = /\/stream:(\d+)/.exec(e.actor);
      const ucx = /\/ucx:(\d+)/.exec(e.actor);
      if (cx) expect(e.ids.cx, `${e.actor} ids.cx`).toBe(Number(cx[1]));
      if (stream) expect(e.ids.stream, `${e.actor} ids.stream`).toBe(Number(stream[1]));
      if (ucx) expect(e.ids.ucx, `${e.actor} ids.ucx`).toBe(Number(ucx[1]));
      if (e.actor.startsWith('listener:')) expect(e.ids.listener).toBe('ingress');
      if (e.machine === 'stream' || e.machine === 'router' || e.machine === 'upstream_request') {
        expect(stream, `${e.actor} is below a stream`).not.toBeNull();
        expect(e.ids.worker).toBe(0);
      }
      if (e.machine === 'upstream_request') {
        expect(e.ids.cluster).toBe('backend');
        expect(e.ids.host).toBe(host);
        expect(e.ids.pool).toBe(`backend/${host}`);
      }
      if (e.machine === 'pool' || e.machine === 'client' || e.machine === 'client_codec') {
        expect(e.actor.startsWith(`worker:0/pool:backend/${host}`)).toBe(true);
        expect(e.ids).toMatchObject({ worker: 0, cluster: 'backend', host, pool: `backend/${host}` });
      }
    }
    // Both streams of the one connection carry its cx id.
    const streamIds = events.filter((e) => e.type === 'spawn' && e.machine === 'stream').map((e) => e.ids);
    expect(streamIds).toHaveLength(2);
    expect(streamIds[0]!.cx).toBe(streamIds[1]!.cx);
    expect(streamIds[0]!.stream).not.toBe(streamIds[1]!.stream);
  });

  it('an actor moves only between its spawn and its stop', async () => {
    const { proxy, client } = await oneConnection();
    await get(proxy, client, '/a', 1);
    await get(proxy, client, '/b', 2);
    const life = new Map<string, 'alive' | 'stopped'>();
    for (const e of proxy.events) {
      if (e.type === 'fact') continue;
      const state = life.get(e.actor);
      if (e.type === 'spawn') {
        expect(state, `${e.actor} spawned twice`).toBeUndefined();
        life.set(e.actor, 'alive');
      } else {
        expect(state, `${e.type} of ${e.actor} (seq ${e.seq})`).toBe('alive');
        if (e.type === 'stop') life.set(e.actor, 'stopped');
      }
    }
    // Both exchanges are over: their streams, routers and upstream requests stopped.
    for (const [actor, state] of life) {
      if (/\/stream:\d+(\/router|\/upstream:\d+)?$/.test(actor)) expect(state, actor).toBe('stopped');
    }
  });
});

describe('without a trace sink', () => {
  it('the proxy serves requests and reports nothing', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]), { trace: false });
    expect(proxy.engine.tracer.enabled).toBe(false);
    for (let i = 0; i < 3; i++) {
      const res = await httpRequest(proxy.port, { path: `/quiet/${i}` });
      expect(res.status).toBe(200);
      expect(res.text).toBe(`GET /quiet/${i}`);
    }
    expect(proxy.events).toHaveLength(0);
    expect(up.requests).toHaveLength(3);
    expect(proxy.stat('http.ingress_http.downstream_rq_2xx')).toBe(3);
    await eventually(() => proxy.logs.length === 3, 'three access log lines');
  });

  it('a sink attached later sees events from then on, starting at seq 1', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]), { trace: false });
    expect((await httpRequest(proxy.port, { path: '/before' })).status).toBe(200);
    const seen: TraceEvent[] = [];
    proxy.engine.tracer.attach((e) => seen.push(e));
    expect((await httpRequest(proxy.port, { path: '/after' })).status).toBe(200);
    await eventually(() => seen.some(fact('stream.access_log')), 'the access log fact');
    expect(seen[0]!.seq).toBe(1);
    expect(seen.filter(fact('codec.request_headers')).map((e) => (e as FactEvent).data.path)).toEqual(['/after']);
  });
});
