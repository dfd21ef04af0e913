/**
 * The WebSocket event stream on a real proxy (127.0.0.1): what a client sees for one
 * request, history for late joiners, subscriptions (filters, sampling), controls, stats
 * and topology, refused messages, and the tracer attached only while someone listens.
 */
import { describe, expect, it } from 'vitest';
import { ProxyEngine } from '@proxyscope/engine';
import type { FactEvent, TraceEvent } from '@proxyscope/protocol';
import { MemoryTransport } from '../../../packages/engine/test/support/memory-transport';
import { httpRequest, keepAliveAgent, singleClusterConfig } from '../../../packages/engine/test/support/upstreams';
import { startLive, until, WsProbe } from './support/stream';

const accessLogs = (events: TraceEvent[]) => events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === 'stream.access_log');

/** Spawn state, then every transition's target: checks each transition starts where the last ended. */
function statesOf(events: TraceEvent[], actor: string): string[] {
  const mine = events.filter((e) => e.actor === actor && e.type !== 'fact');
  const states: string[] = [];
  for (const e of mine) {
    if (e.type === 'spawn') states.push(e.state);
    else if (e.type === 'transition') {
      expect(e.from, `${actor}: transition ${e.from} -> ${e.to} does not start at ${states.at(-1)}`).toBe(states.at(-1));
      states.push(e.to);
    } else if (e.type === 'stop') {
      expect(e.state).toBe(states.at(-1));
      states.push('#stop');
    }
  }
  return states;
}

describe('WebSocket event stream', () => {
  it('shows one request as the ordered transitions of every machine involved, with correlation ids', async () => {
    const live = await startLive();
    const seen: TraceEvent[] = [];
    live.hub.addConsumer((events) => seen.push(...events));
    const probe = await WsProbe.connect(live.wsUrl);
    const hello = await probe.next('hello', 0);
    expect(hello).toMatchObject({ protocol: 1, mode: 'live', controls: ['drain_listeners', 'healthcheck_fail', 'healthcheck_ok', 'send_request', 'breakpoints', 'step', 'resume'] });
    expect(hello.topology.listeners[0]).toMatchObject({ name: 'ingress', address: `127.0.0.1:${live.proxy.port}` });
    expect(hello.topology.clusters).toMatchObject([{ name: 'backend', type: 'STATIC', lbPolicy: 'ROUND_ROBIN', hosts: [`127.0.0.1:${live.upstream.port}`] }]);
    // the limits the UI's cluster panel shows: Envoy's defaults, as none are configured
    expect(hello.topology.clusters[0]!.circuitBreakers).toEqual({ maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 });
    expect(hello.topology.clusters[0]!.panicThreshold).toBe(50);
    await probe.next('history_end', 0);

    const res = await httpRequest(live.proxy.port, { path: '/one', agent: keepAliveAgent() });
    expect(res.status).toBe(200);
    const log = await until('the access log fact', () => accessLogs(probe.events)[0]);
    // The pool releases the upstream client right after the access log.
    await until('the client back in ready', () => probe.events.filter((e) => e.machine === 'client' && e.type === 'transition' && e.to === 'ready').length === 2);

    const { cx, stream } = log.ids;
    const upstream = `127.0.0.1:${live.upstream.port}`;
    const base = `listener:ingress/cx:${cx}`;
    const events = probe.events;
    // What the client decoded is exactly what the engine traced, in order.
    expect(events).toEqual(seen.slice(0, events.length));
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b));

    expect(statesOf(events, `${base}/stream:${stream}`)).toEqual(['decoding_headers', 'awaiting_response', 'encoding_headers', 'encoding_body', 'complete', '#stop']);
    expect(statesOf(events, `${base}/stream:${stream}/router`)).toEqual([
      'matching_route',
      'route_matched',
      'cluster_selected',
      'host_selected',
      'upstream_pending',
      'response_started',
      'complete',
      '#stop',
    ]);
    expect(statesOf(events, `${base}/stream:${stream}/upstream:1`)).toEqual(['pending_pool', 'sending', 'awaiting_headers', 'receiving_body', 'done', '#stop']);
    expect(statesOf(events, `${base}/codec`)).toEqual(['idle', 'headers', 'headers_complete', 'complete']);
    const attach = events.find((e): e is FactEvent => e.type === 'fact' && e.fact === 'pool.attach')!;
    const ucx = attach.data.client as number;
    const clientActor = `worker:0/pool:backend/${upstream}/ucx:${ucx}`;
    expect(statesOf(events, clientActor)).toEqual(['connecting', 'ready', 'busy', 'ready']);

    // Correlation ids, machine by machine.
    const idsOf = (actor: string) => events.find((e) => e.actor === actor)!.ids;
    const streamIds = { listener: 'ingress', worker: 0, cx, stream };
    expect(idsOf(`${base}/stream:${stream}`)).toEqual(streamIds);
    expect(idsOf(`${base}/stream:${stream}/router`)).toEqual(streamIds);
    expect(idsOf(`${base}/stream:${stream}/upstream:1`)).toEqual({ ...streamIds, cluster: 'backend', host: upstream, pool: `backend/${upstream}` });
    expect(idsOf(clientActor)).toEqual({ worker: 0, cluster: 'backend', host: upstream, pool: `backend/${upstream}`, ucx });
    expect(idsOf(`${base}/codec`)).toEqual({ listener: 'ingress', worker: 0, cx });
    expect(log.data).toMatchObject({ status: 200, flags: '-', cluster: 'backend', upstreamHost: upstream });
  });

  it('gives late joiners the recent history, then live events; ?history=0 and ?subscribe=none opt out', async () => {
    const live = await startLive({ hub: { historySize: 50 } });
    const first = await WsProbe.connect(live.wsUrl);
    await first.next('history_end', 0);
    const agent = keepAliveAgent();
    for (let i = 0; i < 3; i++) expect((await httpRequest(live.proxy.port, { path: `/early/${i}`, agent })).status).toBe(200);
    await until('three access logs', () => accessLogs(first.events).length === 3);
    live.hub.flush();

    const late = await WsProbe.connect(live.wsUrl);
    const hello = await late.next('hello', 0);
    expect(hello.history.events).toBe(50); // more happened than the ring holds
    const end = await late.next('history_end', 0);
    // Before the ring, the snapshot of what was alive when it begins (the keep-alive connection, the pool, its client).
    const snapshot = hello.snapshot!;
    expect(snapshot.events).toBeGreaterThan(0);
    expect(snapshot.lastSeq).toBe(hello.history.firstSeq! - 1);
    expect(end).toMatchObject({ events: snapshot.events + 50, lastSeq: live.hub.lastFlushedSeq });
    const history = late.of('events');
    expect(history.length).toBeGreaterThan(0);
    expect(history.every((m) => m.history === true)).toBe(true);
    expect(late.events.slice(0, snapshot.events).every((e) => e.seq <= snapshot.lastSeq)).toBe(true);
    expect(late.events.slice(0, snapshot.events).some((e) => e.machine === 'connection' && e.type === 'spawn')).toBe(true);
    expect(late.events.slice(snapshot.events).map((e) => e.seq)).toEqual(first.events.slice(-50).map((e) => e.seq));

    await httpRequest(live.proxy.port, { path: '/later', agent });
    await until('the live request', () => accessLogs(late.events).length === 2);
    const liveBatches = late.messages.slice(late.messages.indexOf(end)).filter((m) => m.type === 'events');
    expect(liveBatches.every((m) => m.type === 'events' && !m.history)).toBe(true);

    // Events not yet handed out when a client connects reach it live: flush them first.
    live.hub.flush();
    const noHistory = await WsProbe.connect(`${live.wsUrl}?history=0`);
    expect((await noHistory.next('hello', 0)).history).toEqual({ events: 0 });
    const none = await WsProbe.connect(`${live.wsUrl}?subscribe=none`);
    expect(await none.next('hello', 0)).toMatchObject({ subscription: null, history: { events: 0 } });
    await httpRequest(live.proxy.port, { path: '/after', agent });
    await until('the request on the first client', () => accessLogs(first.events).length === 5);
    await until('the request on the history-less client', () => accessLogs(noHistory.events).length === 1);
    live.hub.flush();
    expect(noHistory.of('history_end')).toEqual([]);
    expect(none.events).toEqual([]);
  });

  it('filters by request, connection, cluster and machine kind', async () => {
    const live = await startLive();
    const all = await WsProbe.connect(live.wsUrl);
    await all.next('history_end', 0);
    await httpRequest(live.proxy.port, { path: '/a' });
    await httpRequest(live.proxy.port, { path: '/b' });
    const logs = await until('two requests', () => (accessLogs(all.events).length === 2 ? accessLogs(all.events) : undefined));
    live.hub.flush();
    const [a, b] = logs;
    expect(a!.ids.cx).not.toBe(b!.ids.cx);

    const probe = await WsProbe.connect(`${live.wsUrl}?subscribe=none`);
    const check = async (id: string, filter: Record<string, unknown>, want: (e: TraceEvent) => boolean) => {
      const from = probe.events.length;
      const fromMessage = probe.messages.length;
      const ack = await probe.request({ type: 'subscribe', id, filter, history: true });
      expect(ack).toMatchObject({ type: 'ack', request: 'subscribe', id });
      const end = await probe.next('history_end', fromMessage);
      const got = probe.events.slice(from);
      const expected = all.events.filter((e) => e.seq <= end.lastSeq && want(e));
      expect(expected.length).toBeGreaterThan(0);
      expect(got).toEqual(expected);
    };
    await check('request', { requests: [b!.ids.stream] }, (e) => e.ids.stream === b!.ids.stream);
    await check('connection', { connections: [a!.ids.cx] }, (e) => e.ids.cx === a!.ids.cx);
    await check('machine', { machines: ['router', 'upstream_request'] }, (e) => e.machine === 'router' || e.machine === 'upstream_request');
    await check('cluster+machine', { clusters: ['backend'], machines: ['client'] }, (e) => e.ids.cluster === 'backend' && e.machine === 'client');
    await check('host', { hosts: [`127.0.0.1:${live.upstream.port}`] }, (e) => e.ids.host === `127.0.0.1:${live.upstream.port}`);

    // Live events follow the filter too.
    const from = probe.events.length;
    await probe.request({ type: 'subscribe', id: 'routers', filter: { machines: ['router'] } });
    await httpRequest(live.proxy.port, { path: '/c' });
    await until('the third request', () => accessLogs(all.events).length === 3);
    await until('its router events', () => probe.events.slice(from).some((e) => e.type === 'stop' && e.machine === 'router'));
    expect(probe.events.slice(from).every((e) => e.machine === 'router')).toBe(true);

    // Unsubscribed: nothing more.
    await probe.request({ type: 'unsubscribe', id: 'off' });
    const after = probe.events.length;
    await httpRequest(live.proxy.port, { path: '/d' });
    await until('the fourth request', () => accessLogs(all.events).length === 4);
    await probe.request({ type: 'ping', id: 'sync' });
    live.hub.flush();
    expect(probe.events.length).toBe(after);
  });

  it('samples requests and always keeps the ones that failed', async () => {
    const live = await startLive({
      upstream: { respond: (req) => (req.url.startsWith('/fail') ? { status: 503 } : {}) },
    });
    const all = await WsProbe.connect(live.wsUrl);
    const sampled = await WsProbe.connect(`${live.wsUrl}?subscribe=none`);
    await sampled.request({ type: 'subscribe', id: 's', sample: { percent: 0, keepFailures: true } });
    const agent = keepAliveAgent();
    for (const path of ['/ok/1', '/ok/2', '/fail/1', '/ok/3']) await httpRequest(live.proxy.port, { path, agent });
    await until('four access logs', () => accessLogs(all.events).length === 4);
    const failed = accessLogs(all.events).find((e) => e.data.status === 503)!;
    await until('the failed request on the sampled client', () => accessLogs(sampled.events).length === 1);
    live.hub.flush();
    await sampled.request({ type: 'ping', id: 'sync' });

    // Only the failed request's events, all of them, in order; events of no request pass.
    const requestEvents = sampled.events.filter((e) => e.ids.stream !== undefined);
    expect(new Set(requestEvents.map((e) => e.ids.stream))).toEqual(new Set([failed.ids.stream]));
    expect(requestEvents).toEqual(all.events.filter((e) => e.ids.stream === failed.ids.stream));
    expect(sampled.events.some((e) => e.machine === 'codec')).toBe(true);

    // 100 percent: everything.
    const everything = await WsProbe.connect(`${live.wsUrl}?subscribe=none`);
    await everything.request({ type: 'subscribe', id: 'all', sample: { percent: 100, keepFailures: true } });
    await httpRequest(live.proxy.port, { path: '/ok/4', agent });
    await until('the request at 100%', () => accessLogs(everything.events).length === 1);
  });

  it('refuses malformed and unknown messages with an error and stays usable', async () => {
    const live = await startLive({ admin: { stream: { maxMessageBytes: 1024, maxSendRequestBytes: 2048 } } });
    const probe = await WsProbe.connect(`${live.wsUrl}?subscribe=none`);
    await probe.next('hello', 0);
    const errorFor = async (message: string | Buffer, binary = false) => {
      const from = probe.messages.length;
      probe.ws.send(message, { binary });
      return probe.next('error', from);
    };
    expect(await errorFor('{not json')).toMatchObject({ code: 'bad_json' });
    expect(await errorFor('[1,2]')).toMatchObject({ code: 'invalid_message' });
    expect(await errorFor('{"type":"launch","id":7}')).toMatchObject({ code: 'unknown_type', field: 'type', id: 7 });
    expect(await errorFor('{"type":"subscribe","id":"f","filter":{"machines":["router","toaster"]}}')).toMatchObject({
      code: 'invalid_message',
      field: 'filter.machines.1',
      id: 'f',
    });
    expect(await errorFor('{"type":"subscribe","sample":{"percent":140}}')).toMatchObject({ code: 'invalid_message', field: 'sample.percent' });
    expect(await errorFor('{"type":"ping","extra":true}')).toMatchObject({ code: 'invalid_message' });
    expect(await errorFor('{"type":"control","action":"rm -rf /"}')).toMatchObject({ code: 'invalid_message', field: 'action' });
    expect(await errorFor(JSON.stringify({ type: 'ping', id: 'x'.repeat(2000) }))).toMatchObject({ code: 'too_large' });
    expect(await errorFor(Buffer.from([1, 2, 3]), true)).toMatchObject({ code: 'binary_not_supported' });
    expect(await probe.request({ type: 'ping', id: 'still-there' })).toMatchObject({ type: 'ack', request: 'ping', id: 'still-there' });
    expect(probe.closed).toBeUndefined();

    // Only a send_request may be larger (up to maxSendRequestBytes).
    expect(await errorFor(JSON.stringify({ type: 'ping', id: 'big', pad: 'x'.repeat(1500) }))).toMatchObject({ code: 'too_large' });
    expect(await errorFor(JSON.stringify({ type: 'send_request', id: 'big', method: 'GET', authority: 'a.example', path: '/', listener: 'x'.repeat(1500) }))).toMatchObject({
      code: 'invalid_message',
      field: 'listener',
    });
    expect(await errorFor(JSON.stringify({ type: 'send_request', id: 'bigger', method: 'POST', authority: 'a.example', path: '/', body: 'x'.repeat(3000) }))).toMatchObject({ code: 'too_large' });

    // Far past the limits the socket itself is closed (1009, message too big).
    probe.ws.send('x'.repeat(8192));
    await until('the close', () => probe.closed);
    expect(probe.closed!.code).toBe(1009);
  });

  it('drains listeners and fails / passes the health check on request', async () => {
    const live = await startLive();
    const probe = await WsProbe.connect(`${live.wsUrl}?subscribe=none`);
    expect(await probe.request({ type: 'control', id: 1, action: 'healthcheck_fail' })).toMatchObject({ type: 'ack', detail: { state: 'DRAINING' } });
    expect((await fetch(`${live.base}/ready`)).status).toBe(503);
    expect(await probe.request({ type: 'control', id: 2, action: 'healthcheck_ok' })).toMatchObject({ type: 'ack', detail: { state: 'LIVE' } });
    expect((await fetch(`${live.base}/ready`)).status).toBe(200);
    expect(await probe.request({ type: 'control', id: 3, action: 'drain_listeners' })).toMatchObject({ type: 'ack', detail: { action: 'drain_listeners' } });
    expect(live.proxy.stat('listener_manager.total_listeners_draining')).toBe(1);
  });

  it('sends stats, and the topology when it changes', async () => {
    const live = await startLive({ admin: { stream: { statsIntervalMs: 50 } } });
    const probe = await WsProbe.connect(live.wsUrl);
    const hello = await probe.next('hello', 0);
    expect(hello.topology.pools).toEqual([]);
    await httpRequest(live.proxy.port, { path: '/pool' });
    const topology = await probe.next('topology', 0);
    expect(topology.topology.pools).toEqual([{ worker: 0, cluster: 'backend', host: `127.0.0.1:${live.upstream.port}`, actor: `worker:0/pool:backend/127.0.0.1:${live.upstream.port}` }]);
    const stats = await until('stats counting the request', () =>
      probe.of('stats').find((s) => s.stats['http.ingress_http.downstream_rq_total'] === 1 && s.stats['cluster.backend.upstream_rq_total'] === 1),
    );
    expect(stats.server).toMatchObject({ state: 'LIVE' });
    expect(stats.stream).toMatchObject({ clients: 1, dropped: 0, tracing: true });
    expect(stats.recording).toMatchObject({ active: false });
  });

  it('attaches the tracer only while a client (or a recording) listens', async () => {
    const live = await startLive();
    const tracer = live.proxy.engine.tracer;
    expect(tracer.enabled).toBe(false);
    const a = await WsProbe.connect(live.wsUrl);
    const b = await WsProbe.connect(live.wsUrl);
    expect(tracer.enabled).toBe(true);
    a.ws.close();
    await until('a closed', () => a.closed);
    await until('the server to see a go', () => live.admin.stream.clients.size === 1);
    expect(tracer.enabled).toBe(true);
    b.ws.close();
    await until('no clients', () => live.admin.stream.clients.size === 0);
    expect(tracer.enabled).toBe(false);
    // A recording holds it too.
    live.recordings.start();
    expect(tracer.enabled).toBe(true);
    await live.recordings.stop();
    expect(tracer.enabled).toBe(false);
    // Transitions after a detach start from where the actor is now.
    await httpRequest(live.proxy.port, { path: '/untraced' });
    const c = await WsProbe.connect(live.wsUrl);
    await c.next('history_end', 0);
    await httpRequest(live.proxy.port, { path: '/traced' });
    await until('the traced request', () => accessLogs(c.events).length === 1);
    for (const e of c.events) if (e.type === 'transition') expect(e.from).not.toBe(e.to);
  });

  it('lists the configured listeners in the topology before they are bound (a recording header is written before start)', () => {
    const engine = new ProxyEngine({ config: singleClusterConfig([8080]), transport: new MemoryTransport() });
    expect(engine.topology().listeners).toEqual([
      { name: 'ingress', address: '127.0.0.1:0', filterChains: [
          {
            name: 'filter_chain_0',
            statPrefix: 'ingress_http',
            routeConfig: 'local_route',
            httpFilters: ['envoy.filters.http.router'],
            httpFilterDetails: [{ name: 'envoy.filters.http.router', modelled: true }],
          },
        ],
      },
    ]);
    // and the configured hosts, so a viewer of the recording can draw them
    expect(engine.topology().clusters).toMatchObject([{ name: 'backend', type: 'STATIC', lbPolicy: 'ROUND_ROBIN', hosts: ['127.0.0.1:8080'], weights: { '127.0.0.1:8080': 1 } }]);
  });
});
