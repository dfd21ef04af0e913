/**
 * Network::FilterManagerImpl as the trace shows it (network-filter-chain.machine.ts): a
 * connection's read filters get onNewConnection in order, a filter's StopIteration holds
 * the chain as a state of its own, and continueReading lets it go on.
 */
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '@proxyscope/protocol';
import { loadBootstrap } from '../src/config/index';
import { ManualClock, ProxyEngine } from '../src/index';
import type { ConnectCallbacks } from '../src/seams/transport';
import { loadEnvoy } from './support/envoy-config';
import { hangingConnect, MemoryConnection, MemoryTransport } from './support/memory-transport';
import { MemoryUpstream, memoryTransportTo } from './support/memory-upstream';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 30; i++) await Promise.resolve();
};

const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const MYSQL = 'type.googleapis.com/envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy';

function tcpProxyYaml(withMysql: boolean): string {
  const mysql = withMysql
    ? `      - name: envoy.filters.network.mysql_proxy
        typed_config: { "@type": ${MYSQL}, stat_prefix: m }
`
    : '';
  return `static_resources:
  listeners:
  - name: tcp
    address: { socket_address: { address: 127.0.0.1, port_value: 7000 } }
    filter_chains:
    - filters:
${mysql}      - name: tcp
        typed_config: { "@type": ${TCP_PROXY}, stat_prefix: db, cluster: db }
  clusters:
  - name: db
    connect_timeout: 1s
    load_assignment:
      cluster_name: db
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 10.0.0.1, port_value: 3306 } } }
`;
}

/** Upstream connects that wait until the test lets them through, then echo. */
class GatedUpstream {
  private pending: ConnectCallbacks[] = [];
  readonly connect = (_address: string, _port: number, callbacks: ConnectCallbacks) => {
    this.pending.push(callbacks);
    return { cancel: () => {} };
  };
  open(): void {
    for (const callbacks of this.pending.splice(0)) {
      const [proxySide, upstreamSide] = MemoryConnection.pair(['127.0.0.1', 50000], ['10.0.0.1', 3306]);
      upstreamSide.setHandlers({ onData: (chunk) => upstreamSide.write(chunk), onEnd: () => upstreamSide.destroy(), onClose: () => {}, onDrain: () => {} });
      callbacks.onConnect(proxySide);
    }
  }
}

async function run(engineOptions: { config: ReturnType<typeof loadEnvoy>; transport: MemoryTransport; clock: ManualClock }) {
  const engine = new ProxyEngine({ ...engineOptions, seed: 1, accessLog: () => {} });
  const events: TraceEvent[] = [];
  engine.tracer.attach((e) => events.push(e));
  await engine.start();
  return { engine, events };
}

/** The chain's own events, as `spawn state`, `from->to (event)`, `stop state` and its facts. */
function chainSteps(events: TraceEvent[]): string[] {
  return events
    .filter((e) => e.machine === 'network_filter_chain')
    .map((e) => {
      expect(e.actor).toBe('listener:' + (e.ids.listener ?? '') + '/cx:1/network_filters');
      switch (e.type) {
        case 'spawn':
          return `spawn ${e.state}`;
        case 'transition':
          return `${e.from}->${e.to} (${e.event})`;
        case 'stop':
          return `stop ${e.state}`;
        case 'fact':
          return `${e.fact} ${String(e.data.filter)} ${String(e.data.call)}`;
      }
    });
}

describe('the network filter chain (Network::FilterManagerImpl)', () => {
  it('an HCM chain: onNewConnection continues through it, each read stops at the terminal HCM, then closed', async () => {
    const clock = new ManualClock();
    const upstreams = new Map<number, MemoryUpstream>([[8080, new MemoryUpstream(clock, () => ({ status: 200, body: 'ok' }))]]);
    const transport = memoryTransportTo(upstreams);
    const { events } = await run({ config: loadEnvoy(), transport, clock });
    const client = transport.dial('127.0.0.1', 10000);
    client.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await settle();
    expect(client.text()).toMatch(/^HTTP\/1.1 200 /);
    client.destroy();
    await settle();
    expect(chainSteps(events)).toEqual([
      'spawn initializing',
      'initializing->idle (network_filters.new_connection)',
      'idle->iterating (network_filters.read)',
      'iterating->stopped (network_filters.data)',
      'stopped->closed (network_filters.closed)',
      'stop closed',
    ]);
    // The chain starts once the filters are added, and is the connection's child.
    const addIndex = events.findIndex((e) => e.type === 'fact' && e.fact === 'connection.network_filter');
    const spawnIndex = events.findIndex((e) => e.type === 'spawn' && e.machine === 'network_filter_chain');
    expect(spawnIndex).toBeGreaterThan(addIndex);
    const transition = events.find((e) => e.type === 'transition' && e.machine === 'network_filter_chain' && e.to === 'stopped');
    expect(transition?.type === 'transition' && transition.envoy).toBe('Network::ReadFilter::onData (StopIteration)');
  });

  it('a tcp_proxy chain: held at tcp_proxy onNewConnection until its upstream connects, then continued; bytes stop at it', async () => {
    const clock = new ManualClock();
    const gate = new GatedUpstream();
    const transport = new MemoryTransport(gate.connect);
    const loaded = loadBootstrap(tcpProxyYaml(true), 'tcp.yaml');
    const { events } = await run({ config: loaded.config, transport, clock });
    const client = transport.dial('127.0.0.1', 7000);
    await settle();
    expect(chainSteps(events)).toEqual([
      'spawn initializing',
      // the fact comes from the state's entry, before the step that entered it is reported
      'network_filter_chain.stopped envoy.filters.network.tcp_proxy onNewConnection',
      'initializing->initializing_stopped (network_filters.new_connection)',
    ]);
    const tcpProxy = () => events.filter((e) => e.type === 'transition' && e.machine === 'tcp_proxy').map((e) => (e.type === 'transition' ? e.to : ''));
    expect(tcpProxy()).toEqual([]);
    gate.open();
    await settle();
    expect(tcpProxy()).toEqual(['proxying']);
    client.write('ping');
    await settle();
    expect(client.text()).toBe('ping');
    client.destroy();
    await settle();
    expect(chainSteps(events)).toEqual([
      'spawn initializing',
      // the fact comes from the state's entry, before the step that entered it is reported
      'network_filter_chain.stopped envoy.filters.network.tcp_proxy onNewConnection',
      'initializing->initializing_stopped (network_filters.new_connection)',
      'network_filter_chain.continued envoy.filters.network.tcp_proxy onNewConnection',
      'initializing_stopped->idle (network_filters.continue_reading)',
      // the mysql_proxy before it passes the bytes on (Continue); tcp_proxy keeps them
      'idle->iterating (network_filters.read)',
      'iterating->stopped (network_filters.data)',
      'stopped->closed (network_filters.closed)',
      'stop closed',
    ]);
  });

  it('a tcp_proxy that never connects keeps the chain held until the connection closes', async () => {
    const clock = new ManualClock();
    const transport = new MemoryTransport(hangingConnect);
    const loaded = loadBootstrap(tcpProxyYaml(false), 'tcp.yaml');
    const { events } = await run({ config: loaded.config, transport, clock });
    const client = transport.dial('127.0.0.1', 7000);
    await settle();
    clock.advance(1000);
    await settle();
    expect(client.closed).toBe(true);
    expect(chainSteps(events)).toEqual([
      'spawn initializing',
      // the fact comes from the state's entry, before the step that entered it is reported
      'network_filter_chain.stopped envoy.filters.network.tcp_proxy onNewConnection',
      'initializing->initializing_stopped (network_filters.new_connection)',
      'initializing_stopped->closed (network_filters.closed)',
      'stop closed',
    ]);
  });
});
