/**
 * WebSocket through the proxy on real sockets: upgrade_configs on the HCM or the route lets
 * the upgrade through as a tunnel (101, then raw bytes both ways until a side closes);
 * without one the upgrade is refused with 403 `upgrade_failed`.
 */
import type { AddressInfo } from 'node:net';
import { loadBootstrap } from '@proxyscope/engine/config';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { eventually, httpRequest, startProxy } from '../../../packages/engine/test/support/upstreams';

interface EchoServer {
  port: number;
  /** TCP connections the upstream accepted */
  connections: number;
  /** close codes and reasons the upstream saw, in order */
  closes: Array<[number, string]>;
  /** the Host header each upgrade request carried */
  hosts: string[];
}

/** A `ws` server that greets, echoes every message (text as text, binary as binary) and records closes. */
async function startEchoServer(): Promise<EchoServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const server: EchoServer = { port: (wss.address() as AddressInfo).port, connections: 0, closes: [], hosts: [] };
  wss.on('connection', (socket, request) => {
    server.connections++;
    server.hosts.push(request.headers.host ?? '');
    socket.send('hello from upstream');
    socket.on('message', (data: RawData, isBinary) => socket.send(isBinary ? data : `echo:${data.toString()}`, { binary: isBinary }));
    socket.on('close', (code, reason) => server.closes.push([code, reason.toString()]));
  });
  onTestFinished(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  return server;
}

function configYaml(upstreamPort: number, { hcm = '', route = '' }: { hcm?: string; route?: string }): string {
  return `
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_ws
          access_log: [{ name: envoy.access_loggers.stdout }]
${hcm}
          route_config:
            virtual_hosts:
            - name: app
              domains: ["*"]
              routes:
              - match: { prefix: /ws }
                route:
                  cluster: service_ws
${route}
              - match: { prefix: / }
                direct_response: { status: 200, body: { inline_string: "NotWebSocket\\n" } }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: service_ws
    connect_timeout: 1s
    load_assignment:
      cluster_name: service_ws
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } } }] }]
`;
}

const HCM_WEBSOCKET = '          upgrade_configs: [{ upgrade_type: websocket }]';

async function proxyFor(yaml: string) {
  const { config, warnings } = loadBootstrap(yaml, 'ws.yaml');
  expect(warnings).toEqual([]);
  return startProxy(config);
}

/** Opens a client and collects what it receives; resolves once the socket is open. */
async function connect(url: string): Promise<{ ws: WebSocket; received: Array<string | Buffer>; closed: Promise<[number, string]> }> {
  const ws = new WebSocket(url);
  const received: Array<string | Buffer> = [];
  ws.on('message', (data: RawData, isBinary) => received.push(isBinary ? Buffer.from(data as Buffer) : data.toString()));
  const closed = new Promise<[number, string]>((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
  onTestFinished(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, received, closed };
}

/** The status a refused handshake got back. */
function refusedStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => reject(new Error('the upgrade should have been refused')));
    ws.on('error', () => {});
  });
}

describe('WebSocket upgrades', () => {
  it('tunnels a WebSocket: messages both ways, then a clean close, each on its own upstream connection', async () => {
    const upstream = await startEchoServer();
    const proxy = await proxyFor(configYaml(upstream.port, { hcm: HCM_WEBSOCKET }));
    const url = `ws://127.0.0.1:${proxy.port}/ws/chat`;

    const client = await connect(url);
    await eventually(() => client.received.length === 1, 'the upstream greeting');
    client.ws.send('ping');
    const big = Buffer.alloc(200_000, 7);
    big.write('binary frame');
    client.ws.send(big);
    await eventually(() => client.received.length === 3, 'both echoes');
    expect(client.received[0]).toBe('hello from upstream');
    expect(client.received[1]).toBe('echo:ping');
    expect(Buffer.compare(client.received[2] as Buffer, big)).toBe(0);
    client.ws.close(1000, 'bye');
    expect(await client.closed).toEqual([1000, 'bye']);
    await eventually(() => upstream.closes.length === 1, 'the upstream to see the close');
    expect(upstream.closes[0]).toEqual([1000, 'bye']);
    expect(upstream.hosts[0]).toBe(`127.0.0.1:${proxy.port}`);

    // The tunnel's connection never went back to the pool: a second WebSocket gets a new one.
    const second = await connect(url);
    second.ws.send('again');
    await eventually(() => second.received.includes('echo:again'), 'the second echo');
    expect(upstream.connections).toBe(2);
    second.ws.close();
    await second.closed;

    await eventually(() => proxy.stat('cluster.service_ws.upstream_cx_destroy') === 2, 'both upstream connections closed');
    expect(proxy.stat('cluster.service_ws.upstream_cx_total')).toBe(2);
    expect(proxy.stat('cluster.service_ws.upstream_rq_101')).toBe(2);
    expect(proxy.stat('http.ingress_ws.downstream_rq_1xx')).toBe(2);
    await eventually(() => proxy.logs.length === 2, 'two access log lines');
    expect(proxy.logs[0]).toMatch(/"GET \/ws\/chat HTTP\/1\.1" 101 (UC|DC) /);

    // Each machine on the path went through its tunnel state.
    const entered = (machine: string, state: string) =>
      proxy.events.some((e) => e.type === 'transition' && e.machine === machine && e.to === state);
    expect(entered('codec', 'upgraded')).toBe(true);
    expect(entered('client_codec', 'upgraded')).toBe(true);
    expect(entered('stream', 'upgraded')).toBe(true);
    expect(entered('router', 'upgraded')).toBe(true);
    expect(entered('upstream_request', 'tunneling')).toBe(true);
    const facts = proxy.events.flatMap((e) => (e.type === 'fact' && (e.fact === 'stream.upgrade' || e.fact === 'router.upgrade') ? [[e.fact, e.data]] : []));
    expect(facts.slice(0, 3)).toEqual([
      ['stream.upgrade', { upgrade: 'websocket', decision: 'allowed', by: 'http_connection_manager' }],
      ['router.upgrade', expect.objectContaining({ upgrade: 'websocket' })],
      ['stream.upgrade', { upgrade: 'websocket', decision: 'tunnel' }],
    ]);
  });

  it('refuses the upgrade with 403 when no upgrade_configs allow it, and closes the connection', async () => {
    const upstream = await startEchoServer();
    const proxy = await proxyFor(configYaml(upstream.port, {}));
    expect(await refusedStatus(`ws://127.0.0.1:${proxy.port}/ws`)).toBe(403);
    expect(proxy.stat('http.ingress_ws.downstream_rq_ws_on_non_ws_route')).toBe(1);
    expect(upstream.connections).toBe(0);
    await eventually(() => proxy.logs.length === 1, 'the access log line');
    expect(proxy.logs[0]).toMatch(/" 403 - /);
    // Ordinary requests are not affected.
    const plain = await httpRequest(proxy.port, { path: '/' });
    expect([plain.status, plain.text]).toEqual([200, 'NotWebSocket\n']);
  });

  it('a route’s upgrade_configs enables the upgrade on that route only, or switches off the HCM’s', async () => {
    const upstream = await startEchoServer();
    const perRoute = await proxyFor(configYaml(upstream.port, { route: '                  upgrade_configs: [{ upgrade_type: WebSocket }]' }));
    const client = await connect(`ws://127.0.0.1:${perRoute.port}/ws`);
    await eventually(() => client.received.length === 1, 'the greeting');
    client.ws.close();
    await client.closed;
    // The direct_response route has no upgrade config (and the HCM none): refused.
    expect(await refusedStatus(`ws://127.0.0.1:${perRoute.port}/other`)).toBe(403);
    // Non-upgrade requests still go through a WebSocket route.
    const plain = await httpRequest(perRoute.port, { path: '/' });
    expect(plain.status).toBe(200);

    const disabled = await proxyFor(configYaml(upstream.port, { hcm: HCM_WEBSOCKET, route: '                  upgrade_configs: [{ upgrade_type: websocket, enabled: false }]' }));
    expect(await refusedStatus(`ws://127.0.0.1:${disabled.port}/ws`)).toBe(403);
    const facts = disabled.events.flatMap((e) => (e.type === 'fact' && e.fact === 'stream.upgrade' ? [e.data] : []));
    expect(facts).toEqual([{ upgrade: 'websocket', decision: 'rejected', by: 'route' }]);
  });

  it('refuses CONNECT as an upgrade_type at load, at its line', () => {
    const yaml = configYaml(1, { hcm: '          upgrade_configs: [{ upgrade_type: CONNECT }]' });
    expect(() => loadBootstrap(yaml, 'ws.yaml')).toThrow(/ws\.yaml:\d+:\d+: .*upgrade_configs\[0\]\.upgrade_type: CONNECT tunnelling is not supported/);
  });
});
