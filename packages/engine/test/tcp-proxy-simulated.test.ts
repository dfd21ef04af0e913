/**
 * tcp_proxy on the in-memory transport and a ManualClock: idle_timeout, connect timeouts
 * and max_connect_attempts, weighted_clusters, no healthy host, the max_connections
 * circuit breaker, and a not-modelled filter the bytes pass through.
 */
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '@proxyscope/protocol';
import { loadBootstrap } from '../src/config/index';
import type { ConnectCallbacks, ConnectionHandlers } from '../src/seams/transport';
import { ManualClock, ProxyEngine } from '../src/index';
import { hangingConnect, MemoryConnection, MemoryTransport } from './support/memory-transport';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 30; i++) await Promise.resolve();
};

const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

function cluster(name: string, ports: number[], extra = ''): string {
  const endpoints = ports.map((p) => `        - endpoint: { address: { socket_address: { address: 10.0.0.1, port_value: ${p} } } }`).join('\n');
  return `  - name: ${name}
    connect_timeout: 1s
${extra}    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:${endpoints ? `\n${endpoints}` : ' []'}
`;
}

function yaml(tcpFields: string, clusters: string, before = ''): string {
  return `static_resources:
  listeners:
  - name: tcp
    address: { socket_address: { address: 127.0.0.1, port_value: 7000 } }
    filter_chains:
    - filters:
${before}      - name: tcp
        typed_config:
          "@type": ${TCP_PROXY}
          stat_prefix: db
${tcpFields}
          access_log:
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
              log_format: { text_format_source: { inline_string: "%RESPONSE_FLAGS% %UPSTREAM_HOST% %BYTES_RECEIVED% %BYTES_SENT%\\n" } }
  clusters:
${clusters}`;
}

/** An upstream world where every connect succeeds and each accepted connection echoes. */
class EchoUpstreams {
  readonly connections: Array<{ port: number; side: MemoryConnection }> = [];
  readonly connect = (address: string, port: number, callbacks: ConnectCallbacks) => {
    const [proxySide, upstreamSide] = MemoryConnection.pair(['127.0.0.1', 50000 + this.connections.length], [address, port]);
    this.connections.push({ port, side: upstreamSide });
    // Like a node:net server without allowHalfOpen: a FIN from the proxy closes the connection.
    upstreamSide.setHandlers({ onData: (chunk) => upstreamSide.write(chunk), onEnd: () => upstreamSide.destroy(), onClose: () => {}, onDrain: () => {} });
    queueMicrotask(() => callbacks.onConnect(proxySide));
    return { cancel: () => {} };
  };
}

/** The proxy's end of an upstream connection whose send buffer holds 64 KiB. */
class TightConnection extends MemoryConnection {
  unflushed = 0;
  pauses = 0;
  resumes = 0;
  private own: ConnectionHandlers | undefined;
  override setHandlers(handlers: ConnectionHandlers): void {
    this.own = handlers;
    super.setHandlers(handlers);
  }
  override write(chunk: Uint8Array | string): boolean {
    super.write(chunk);
    this.unflushed += chunk.length;
    return this.unflushed < 64 * 1024;
  }
  override end(): void {
    this.ended = true;
    super.end();
  }
  ended = false;
  override pause(): void {
    this.pauses++;
  }
  override resume(): void {
    this.resumes++;
  }
  flush(): void {
    this.unflushed = 0;
    this.own!.onDrain();
  }
}

/** One upstream connection with a tight send buffer, and the origin's end of it. */
class TightUpstream {
  upstream: TightConnection | undefined;
  origin: MemoryConnection | undefined;
  readonly connect = (address: string, port: number, callbacks: ConnectCallbacks) => {
    const upstream = new TightConnection('127.0.0.1', 50000, address, port);
    const origin = new MemoryConnection(address, port, '127.0.0.1', 50000);
    upstream.peer = origin;
    origin.peer = upstream;
    this.upstream = upstream;
    this.origin = origin;
    queueMicrotask(() => callbacks.onConnect(upstream));
    return { cancel: () => {} };
  };
}

async function start(text: string, connect: MemoryTransport['onConnect'], seed = 1) {
  const loaded = loadBootstrap(text, 'tcp.yaml');
  const clock = new ManualClock();
  const transport = new MemoryTransport(connect);
  const lines: string[] = [];
  const engine = new ProxyEngine({ config: loaded.config, transport, clock, seed, accessLog: (line) => lines.push(line) });
  const events: TraceEvent[] = [];
  engine.tracer.attach((e) => events.push(e));
  await engine.start();
  const stat = (name: string) => engine.stats.valueOf(name) ?? 0;
  return { engine, clock, transport, lines, events, stat, warnings: loaded.warnings };
}

const transitions = (events: TraceEvent[]) =>
  events.filter((e) => e.type === 'transition' && e.machine === 'tcp_proxy').map((e) => (e.type === 'transition' ? `${e.from}->${e.to}` : ''));

describe('tcp_proxy, simulated', () => {
  it('pipes bytes both ways through a not-modelled mysql_proxy and logs them at close', async () => {
    const mysql = `      - name: envoy.filters.network.mysql_proxy
        typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy, stat_prefix: egress_mysql }
`;
    const upstreams = new EchoUpstreams();
    const withSniffer = await start(yaml('          cluster: db', cluster('db', [3306]), mysql), upstreams.connect);
    expect(withSniffer.warnings.map((w) => w.message)).toEqual([
      "network filter 'envoy.filters.network.mysql_proxy' (type.googleapis.com/envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy) is not modelled by ProxyScope: bytes pass through it unchanged",
    ]);
    const client = withSniffer.transport.dial('127.0.0.1', 7000);
    client.write('\x0a5.7.0 greeting?');
    await settle();
    expect(client.text()).toBe('\x0a5.7.0 greeting?');
    client.write('COM_QUERY');
    await settle();
    expect(client.text()).toBe('\x0a5.7.0 greeting?COM_QUERY');
    const filters = withSniffer.events.filter((e) => e.type === 'fact' && e.fact === 'connection.network_filter').map((e) => (e.type === 'fact' ? e.data.filter : ''));
    expect(filters).toEqual(['envoy.filters.network.mysql_proxy', 'envoy.filters.network.tcp_proxy']);
    client.destroy();
    await settle();
    expect(withSniffer.stat('tcp.db.downstream_cx_total')).toBe(1);
    expect(withSniffer.stat('tcp.db.downstream_cx_rx_bytes_total')).toBe(25);
    expect(withSniffer.stat('tcp.db.downstream_cx_tx_bytes_total')).toBe(25);
    expect(withSniffer.stat('cluster.db.upstream_cx_total')).toBe(1);
    expect(withSniffer.stat('cluster.db.upstream_cx_active')).toBe(0);
    expect(withSniffer.lines).toEqual(['- 10.0.0.1:3306 25 25\n']);
    expect(transitions(withSniffer.events)).toEqual(['connecting->proxying', 'proxying->closed']);
    const closed = withSniffer.events.find((e) => e.type === 'fact' && e.fact === 'tcp_proxy.closed');
    expect(closed?.type === 'fact' && closed.data).toMatchObject({ reason: 'downstream_close', host: '10.0.0.1:3306', bytes_from_downstream: 25, bytes_to_downstream: 25 });
  });

  it('closes a connection idle for idle_timeout, and not before: bytes either way restart the wait', async () => {
    const upstreams = new EchoUpstreams();
    const { transport, clock, stat, lines, events } = await start(yaml('          cluster: db\n          idle_timeout: 10s', cluster('db', [3306])), upstreams.connect);
    const client = transport.dial('127.0.0.1', 7000);
    await settle();
    clock.advance(9_000);
    client.write('ping');
    await settle();
    expect(client.text()).toBe('ping');
    clock.advance(9_999);
    await settle();
    expect(client.closed).toBe(false);
    clock.advance(1);
    await settle();
    expect(client.closed).toBe(true);
    expect(upstreams.connections[0]!.side.closed).toBe(true);
    expect(stat('tcp.db.idle_timeout')).toBe(1);
    expect(lines).toEqual(['- 10.0.0.1:3306 4 4\n']);
    expect(events.some((e) => e.type === 'fact' && e.fact === 'timer.fired' && e.data.timer === 'idle_timeout')).toBe(true);
  });

  it('tries max_connect_attempts hosts when connects time out, then closes the downstream with UF,URX', async () => {
    const { transport, clock, stat, lines, events } = await start(yaml('          cluster: db\n          max_connect_attempts: 2', cluster('db', [3306, 3307])), hangingConnect);
    const client = transport.dial('127.0.0.1', 7000);
    client.write('early bytes');
    await settle();
    clock.advance(999);
    await settle();
    expect(stat('cluster.db.upstream_cx_connect_timeout')).toBe(0);
    clock.advance(1);
    await settle();
    expect(client.closed).toBe(false);
    expect(stat('cluster.db.upstream_cx_connect_timeout')).toBe(1);
    clock.advance(1000);
    await settle();
    expect(client.closed).toBe(true);
    expect(client.text()).toBe('');
    expect(stat('cluster.db.upstream_cx_connect_timeout')).toBe(2);
    expect(stat('cluster.db.upstream_cx_connect_fail')).toBe(2);
    expect(stat('cluster.db.upstream_cx_connect_attempts_exceeded')).toBe(1);
    expect(stat('cluster.db.upstream_cx_active')).toBe(0);
    expect(transport.cancelledConnects).toBe(2);
    const hosts = events.filter((e) => e.type === 'fact' && e.fact === 'lb.host_selected').map((e) => (e.type === 'fact' ? e.data.host : ''));
    expect(new Set(hosts)).toEqual(new Set(['10.0.0.1:3306', '10.0.0.1:3307']));
    // The retry re-enters `connecting` (not a reported transition); the second timeout ends it.
    expect(transitions(events)).toEqual(['connecting->closed']);
    expect(lines).toEqual([`UF,URX ${hosts[1]} 11 0\n`]);
  });

  it('closes the downstream when a connect is refused, counting upstream_cx_connect_fail', async () => {
    const refuse = (_a: string, _p: number, callbacks: ConnectCallbacks) => {
      queueMicrotask(() => callbacks.onError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }));
      return { cancel: () => {} };
    };
    const { transport, stat, lines } = await start(yaml('          cluster: db', cluster('db', [3306])), refuse);
    const client = transport.dial('127.0.0.1', 7000);
    await settle();
    expect(client.closed).toBe(true);
    expect(stat('cluster.db.upstream_cx_connect_fail')).toBe(1);
    expect(stat('cluster.db.upstream_cx_total')).toBe(1);
    expect(lines).toEqual(['UF,URX 10.0.0.1:3306 0 0\n']);
  });

  it('splits connections over weighted_clusters by weight', async () => {
    const upstreams = new EchoUpstreams();
    const tcp = '          weighted_clusters:\n            clusters: [{ name: primary, weight: 3 }, { name: replica, weight: 1 }]';
    const { transport, stat } = await start(yaml(tcp, cluster('primary', [3306]) + cluster('replica', [3307])), upstreams.connect);
    for (let i = 0; i < 200; i++) transport.dial('127.0.0.1', 7000);
    await settle();
    const primary = upstreams.connections.filter((c) => c.port === 3306).length;
    const replica = upstreams.connections.filter((c) => c.port === 3307).length;
    expect(primary + replica).toBe(200);
    expect(stat('cluster.primary.upstream_cx_total')).toBe(primary);
    expect(stat('cluster.replica.upstream_cx_total')).toBe(replica);
    // 3:1 of 200 is 150:50; a fair draw lands well within +-25.
    expect(primary).toBeGreaterThan(125);
    expect(primary).toBeLessThan(175);
  });

  it('hashes the client address onto a RING_HASH cluster with hash_policy source_ip', async () => {
    const hostsOf = async (tcp: string) => {
      const upstreams = new EchoUpstreams();
      const { transport } = await start(yaml(tcp, cluster('db', [3306, 3307, 3308, 3309], '    lb_policy: RING_HASH\n')), upstreams.connect);
      for (let i = 0; i < 12; i++) transport.dial('127.0.0.1', 7000);
      await settle();
      return new Set(upstreams.connections.map((c) => c.port));
    };
    // Every connection comes from 127.0.0.1: one host. Without a hash, ring hash picks at random.
    expect((await hostsOf('          cluster: db\n          hash_policy: [{ source_ip: {} }]')).size).toBe(1);
    expect((await hostsOf('          cluster: db')).size).toBeGreaterThan(1);
  });

  it('closes with UH when the cluster has no host, and UO over max_connections', async () => {
    const empty = await start(yaml('          cluster: db', cluster('db', [])), new EchoUpstreams().connect);
    const a = empty.transport.dial('127.0.0.1', 7000);
    await settle();
    expect(a.closed).toBe(true);
    expect(empty.stat('cluster.db.upstream_cx_none_healthy')).toBe(1);
    expect(empty.lines).toEqual(['UH - 0 0\n']);

    const limits = '    circuit_breakers: { thresholds: [{ max_connections: 1 }] }\n';
    const full = await start(yaml('          cluster: db', cluster('db', [3306], limits)), new EchoUpstreams().connect);
    const first = full.transport.dial('127.0.0.1', 7000);
    await settle();
    const second = full.transport.dial('127.0.0.1', 7000);
    await settle();
    expect(first.closed).toBe(false);
    expect(second.closed).toBe(true);
    expect(full.stat('cluster.db.upstream_cx_overflow')).toBe(1);
    expect(full.lines).toEqual(['UO - 0 0\n']);
  });

  it('pauses the side that is ahead: a write that returns false stops the other side reading until drain', async () => {
    const tight = new TightUpstream();
    const connect = tight.connect;
    const { transport, stat } = await start(yaml('          cluster: db', cluster('db', [3306])), connect);
    const client = transport.dial('127.0.0.1', 7000);
    await settle();
    // The proxy's accepted end of the client connection: count its read pauses from here.
    const downstream = client.peer;
    let downstreamPauses = 0;
    let downstreamResumes = 0;
    downstream.pause = () => void downstreamPauses++;
    downstream.resume = () => void downstreamResumes++;

    client.write(new Uint8Array(40 * 1024));
    await settle();
    expect(downstreamPauses).toBe(0);
    client.write(new Uint8Array(40 * 1024));
    await settle();
    expect(downstreamPauses).toBe(1);
    expect(stat('tcp.db.downstream_flow_control_paused_reading_total')).toBe(1);
    tight.upstream!.flush();
    expect(downstreamResumes).toBe(1);
    expect(stat('tcp.db.downstream_flow_control_resumed_reading_total')).toBe(1);
    expect(tight.origin!.received.reduce((n, c) => n + c.length, 0)).toBe(80 * 1024);

    // The other way: the client's end says "wait", so the upstream is not read until it drains.
    const write = downstream.write.bind(downstream);
    downstream.write = (chunk) => {
      write(chunk);
      return false;
    };
    tight.origin!.write('a reply the client is slow to take');
    await settle();
    expect(tight.upstream!.pauses).toBe(1);
    (downstream as unknown as { handlers: ConnectionHandlers }).handlers.onDrain();
    expect(tight.upstream!.resumes).toBe(1);
    expect(client.text()).toBe('a reply the client is slow to take');
    expect(stat('cluster.db.upstream_flow_control_paused_reading_total')).toBe(1);
    expect(stat('cluster.db.upstream_flow_control_resumed_reading_total')).toBe(1);
  });

  it('flushes what the upstream still has to write when the client goes (a Drainer), then closes it', async () => {
    const tight = new TightUpstream();
    const { transport, stat, events } = await start(yaml('          cluster: db', cluster('db', [3306])), tight.connect);
    const client = transport.dial('127.0.0.1', 7000);
    await settle();
    client.write(new Uint8Array(100 * 1024));
    await settle();
    client.destroy();
    await settle();
    expect(transitions(events)).toEqual(['connecting->proxying', 'proxying->draining']);
    expect(stat('tcp.db.upstream_flush_total')).toBe(1);
    expect(stat('tcp.db.upstream_flush_active')).toBe(1);
    // The upstream got FIN after the bytes, and stays until they are written.
    expect(tight.upstream!.ended).toBe(true);
    expect(tight.upstream!.closed).toBe(false);
    tight.upstream!.flush();
    await settle();
    expect(transitions(events)).toEqual(['connecting->proxying', 'proxying->draining', 'draining->closed']);
    expect(stat('tcp.db.upstream_flush_active')).toBe(0);
    expect(tight.upstream!.closed).toBe(true);
    expect(stat('cluster.db.upstream_cx_active')).toBe(0);
  });

  it('passes a half-close on: the client FIN reaches the upstream, whose reply still comes back', async () => {
    const connections: MemoryConnection[] = [];
    const connect = (address: string, port: number, callbacks: ConnectCallbacks) => {
      const [proxySide, upstreamSide] = MemoryConnection.pair(['127.0.0.1', 50000], [address, port]);
      connections.push(upstreamSide);
      let got = '';
      upstreamSide.setHandlers({
        onData: (chunk) => (got += new TextDecoder().decode(chunk)),
        // Answers only once the request is complete, as a server reading to EOF does.
        onEnd: () => {
          upstreamSide.write(`got ${got.length} bytes`);
          upstreamSide.end();
        },
        onClose: () => {},
        onDrain: () => {},
      });
      queueMicrotask(() => callbacks.onConnect(proxySide));
      return { cancel: () => {} };
    };
    const { transport, events } = await start(yaml('          cluster: db', cluster('db', [3306])), connect);
    const client = transport.dial('127.0.0.1', 7000);
    client.write('request body');
    client.end();
    await settle();
    expect(client.text()).toBe('got 12 bytes');
    expect(transitions(events)).toContain('proxying->half_closed');
  });
});
