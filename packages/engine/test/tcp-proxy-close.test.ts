/**
 * How a tcp_proxy connection ends, on the in-memory transport and a ManualClock: a FIN
 * from either side first (half-close both ways), the downstream going while the upstream's
 * write buffer is over its high watermark (a Drainer, ended by the upstream's drain, its
 * close or idle_timeout), and the downstream going with nothing left to write (FlushWrite,
 * then delayed_close_timeout). Each is read from the chart's trace transitions, the stats
 * and what each peer sees.
 */
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '@proxyscope/protocol';
import { loadBootstrap } from '../src/config/index';
import type { ConnectCallbacks, ConnectionHandlers } from '../src/seams/transport';
import { ManualClock, ProxyEngine } from '../src/index';
import { MemoryConnection, MemoryTransport } from './support/memory-transport';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 30; i++) await Promise.resolve();
};

const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

function yaml(idleTimeout = ''): string {
  return `static_resources:
  listeners:
  - name: tcp
    address: { socket_address: { address: 127.0.0.1, port_value: 7000 } }
    filter_chains:
    - filters:
      - name: tcp
        typed_config:
          "@type": ${TCP_PROXY}
          stat_prefix: db
          cluster: db
${idleTimeout ? `          idle_timeout: ${idleTimeout}\n` : ''}  clusters:
  - name: db
    connect_timeout: 1s
    load_assignment:
      cluster_name: db
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 10.0.0.1, port_value: 3306 } } }
`;
}

/** The proxy's end of the upstream connection: its send buffer holds 64 KiB until flush(). */
class UpstreamSide extends MemoryConnection {
  unflushed = 0;
  ended = false;
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
  flush(): void {
    this.unflushed = 0;
    this.own!.onDrain();
  }
}

/** What one side of a connection saw: bytes as text, and whether its peer sent FIN. */
function watch(connection: MemoryConnection): { sawEnd: () => boolean } {
  let ended = false;
  connection.setHandlers({ onData: () => {}, onEnd: () => void (ended = true), onClose: () => {}, onDrain: () => {} });
  return { sawEnd: () => ended };
}

async function start(idleTimeout = '') {
  const clock = new ManualClock();
  let upstream: UpstreamSide | undefined;
  let origin: MemoryConnection | undefined;
  let originSaw: { sawEnd: () => boolean } | undefined;
  const connect = (address: string, port: number, callbacks: ConnectCallbacks) => {
    upstream = new UpstreamSide('127.0.0.1', 50000, address, port);
    origin = new MemoryConnection(address, port, '127.0.0.1', 50000);
    upstream.peer = origin;
    origin.peer = upstream;
    originSaw = watch(origin);
    queueMicrotask(() => callbacks.onConnect(upstream!));
    return { cancel: () => {} };
  };
  const transport = new MemoryTransport(connect);
  const engine = new ProxyEngine({ config: loadBootstrap(yaml(idleTimeout), 'tcp.yaml').config, transport, clock, seed: 1, accessLog: () => {} });
  const events: TraceEvent[] = [];
  engine.tracer.attach((e) => events.push(e));
  await engine.start();
  const client = transport.dial('127.0.0.1', 7000);
  const clientSaw = watch(client);
  await settle();
  return {
    clock,
    client,
    clientSaw,
    upstream: upstream!,
    origin: origin!,
    originSaw: originSaw!,
    stat: (name: string) => engine.stats.valueOf(name) ?? 0,
    transitions: () => events.filter((e) => e.type === 'transition' && e.machine === 'tcp_proxy').map((e) => (e.type === 'transition' ? `${e.from}->${e.to}` : '')),
    closedReason: () => {
      const fact = events.find((e) => e.type === 'fact' && e.fact === 'tcp_proxy.closed');
      return fact?.type === 'fact' ? fact.data.reason : undefined;
    },
  };
}

describe('tcp_proxy, how a connection ends', () => {
  it('half-closes upstream first: the FIN reaches the client, which may still send until it ends too', async () => {
    const t = await start();
    t.origin.write('all I have');
    t.origin.end();
    await settle();
    expect(t.client.text()).toBe('all I have');
    expect(t.clientSaw.sawEnd()).toBe(true);
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->half_closed']);

    t.client.write('a late word');
    await settle();
    expect(t.origin.text()).toBe('a late word');
    expect(t.originSaw.sawEnd()).toBe(false);

    t.client.end();
    await settle();
    expect(t.originSaw.sawEnd()).toBe(true);
    // Both FINs passed on: the chart waits for the sockets to close.
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->half_closed']);
    t.origin.destroy();
    await settle();
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->half_closed', 'half_closed->closed']);
    expect(t.closedReason()).toBe('upstream_close');
    // FlushWrite on the client, which is cut after delayed_close_timeout as it never closes.
    t.clock.advance(1000);
    await settle();
    expect(t.client.closed).toBe(true);
    // The proxy half-closed the upstream before it went: the close counts as local.
    expect(t.stat('cluster.db.upstream_cx_destroy_local')).toBe(1);
    expect(t.stat('cluster.db.upstream_cx_destroy_remote')).toBe(0);
  });

  it('half-closes downstream first: the FIN reaches the upstream, whose reply still comes back', async () => {
    const t = await start();
    t.client.write('question');
    t.client.end();
    await settle();
    expect(t.origin.text()).toBe('question');
    expect(t.originSaw.sawEnd()).toBe(true);
    expect(t.clientSaw.sawEnd()).toBe(false);
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->half_closed']);

    t.origin.write('answer');
    t.origin.end();
    await settle();
    expect(t.client.text()).toBe('answer');
    expect(t.clientSaw.sawEnd()).toBe(true);
    t.origin.destroy();
    await settle();
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->half_closed', 'half_closed->closed']);
    expect(t.closedReason()).toBe('upstream_close');
    expect(t.stat('cluster.db.upstream_cx_destroy_local')).toBe(1);
  });

  it('counts the close as the upstream\'s when it ends and goes before the client sent FIN', async () => {
    const t = await start();
    t.origin.end();
    await settle();
    expect(t.clientSaw.sawEnd()).toBe(true);
    t.origin.destroy();
    await settle();
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->half_closed', 'half_closed->closed']);
    expect(t.closedReason()).toBe('upstream_close');
    expect(t.stat('cluster.db.upstream_cx_destroy_remote')).toBe(1);
    expect(t.stat('cluster.db.upstream_cx_destroy_local')).toBe(0);
    t.clock.advance(1000);
    await settle();
    expect(t.client.closed).toBe(true);
  });

  it('closes the upstream with FlushWrite when the client goes with nothing left to write, and cuts it after delayed_close_timeout', async () => {
    const t = await start();
    // Over the high watermark, then drained: blocked no more when the client goes.
    t.client.write(new Uint8Array(100 * 1024));
    await settle();
    expect(t.stat('tcp.db.downstream_flow_control_paused_reading_total')).toBe(1);
    t.upstream.flush();
    expect(t.stat('tcp.db.downstream_flow_control_resumed_reading_total')).toBe(1);
    t.client.destroy();
    await settle();
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->closed']);
    expect(t.closedReason()).toBe('downstream_close');
    expect(t.stat('tcp.db.upstream_flush_total')).toBe(0);
    expect(t.upstream.ended).toBe(true);
    expect(t.originSaw.sawEnd()).toBe(true);
    // The origin never closes its side: the proxy does, a second later.
    expect(t.upstream.closed).toBe(false);
    t.clock.advance(999);
    await settle();
    expect(t.upstream.closed).toBe(false);
    t.clock.advance(1);
    await settle();
    expect(t.upstream.closed).toBe(true);
    expect(t.stat('cluster.db.upstream_cx_active')).toBe(0);
    expect(t.stat('cluster.db.upstream_cx_destroy_local')).toBe(1);
  });

  it('ends a Drainer when the upstream closes before its buffer drained', async () => {
    const t = await start();
    t.client.write(new Uint8Array(100 * 1024));
    await settle();
    t.client.destroy();
    await settle();
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->draining']);
    expect(t.stat('tcp.db.upstream_flush_active')).toBe(1);
    t.origin.destroy();
    await settle();
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->draining', 'draining->closed']);
    expect(t.closedReason()).toBe('downstream_close');
    expect(t.stat('tcp.db.upstream_flush_total')).toBe(1);
    expect(t.stat('tcp.db.upstream_flush_active')).toBe(0);
    expect(t.stat('cluster.db.upstream_cx_active')).toBe(0);
    // The Drainer had half-closed it: local.
    expect(t.stat('cluster.db.upstream_cx_destroy_local')).toBe(1);
  });

  it('ends a Drainer that makes no progress for idle_timeout, closing the upstream now', async () => {
    const t = await start('10s');
    t.client.write(new Uint8Array(100 * 1024));
    await settle();
    t.client.destroy();
    await settle();
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->draining']);
    t.clock.advance(9_999);
    await settle();
    expect(t.upstream.closed).toBe(false);
    t.clock.advance(1);
    await settle();
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->draining', 'draining->closed']);
    expect(t.closedReason()).toBe('idle_timeout');
    expect(t.stat('tcp.db.idle_timeout')).toBe(1);
    expect(t.stat('tcp.db.upstream_flush_active')).toBe(0);
    expect(t.upstream.closed).toBe(true);
    expect(t.stat('cluster.db.upstream_cx_active')).toBe(0);
  });

  it('drains from half_closed too: a client that sent FIN and then went while the upstream was blocked', async () => {
    const t = await start();
    t.client.write(new Uint8Array(100 * 1024));
    t.client.end();
    await settle();
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->half_closed']);
    t.client.destroy();
    await settle();
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->half_closed', 'half_closed->draining']);
    t.upstream.flush();
    await settle();
    expect(t.transitions()).toEqual(['connecting->proxying', 'proxying->half_closed', 'half_closed->draining', 'draining->closed']);
    expect(t.stat('tcp.db.upstream_flush_total')).toBe(1);
    expect(t.stat('tcp.db.upstream_flush_active')).toBe(0);
    expect(t.upstream.closed).toBe(true);
  });
});
