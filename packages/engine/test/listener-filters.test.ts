/**
 * listener_filters on the simulated transport: the TLS inspector holds each connection in an
 * ActiveTcpSocket until its ClientHello (or first plaintext bytes) arrive, for at most
 * listener_filters_timeout; application_protocols picks chains by the ALPN the ClientHello
 * offers. The ClientHellos are real ones, made by node:tls at test time.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FactEvent, TraceEvent, TransitionEvent } from '@proxyscope/protocol';
import { stringify } from 'yaml';
import { loadBootstrap } from '../src/config/load';
import { ProxyEngine } from '../src/engine';
import { ManualClock } from '../src/seams/clock';
import { envoyConfig } from './support/envoy-config';
import { MemoryTransport } from './support/memory-transport';
import { MemoryUpstream } from './support/memory-upstream';
import { DOWNSTREAM_TLS, transportSocket } from './support/tls';

const TLS_INSPECTOR = { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } };
const LISTENER_STATS = 'listener.127.0.0.1_10000.';

async function clientHello(options: tls.ConnectionOptions): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.once('data', (chunk) => {
        resolve(new Uint8Array(chunk));
        socket.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false, ...options });
      client.on('error', () => {});
    });
    server.on('error', reject);
  });
}

const hellos: Record<string, Uint8Array> = {};
beforeAll(async () => {
  hellos.h2First = await clientHello({ ALPNProtocols: ['h2', 'http/1.1'] });
  hellos.h1First = await clientHello({ ALPNProtocols: ['http/1.1', 'h2'] });
  hellos.h1 = await clientHello({ ALPNProtocols: ['http/1.1'] });
  hellos.other = await clientHello({ ALPNProtocols: ['spdy/3'] });
  hellos.none = await clientHello({});
});

const settle = async () => {
  for (let i = 0; i < 30; i++) await Promise.resolve();
};

/** The sample listener with its one chain renamed; `edit` changes the raw listener. */
async function start(edit: (listener: any, plaintext: any) => void) {
  const clock = new ManualClock();
  const upstream = new MemoryUpstream(clock, (r) => ({ status: 200, body: `upstream saw ${r.path}` }));
  const transport = new MemoryTransport((address, port, callbacks) => upstream.connect(address, port, callbacks));
  const raw = envoyConfig({ listenerPort: 10000, clusterPort: 8080 }) as any;
  const listener = raw.static_resources.listeners[0];
  const plaintext = listener.filter_chains[0];
  plaintext.name = 'plaintext';
  edit(listener, plaintext);
  const { config, warnings } = loadBootstrap(stringify(raw), 'test.yaml');
  const engine = new ProxyEngine({ config, transport, clock, accessLog: () => {} });
  const events: TraceEvent[] = [];
  engine.tracer.attach((e) => events.push(e));
  await engine.start();
  const facts = (name: string) => events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === name);
  const socketStates = () =>
    events.filter((e): e is TransitionEvent => e.type === 'transition' && e.machine === 'active_tcp_socket').map((e) => `${e.from}->${e.to} (${e.event})`);
  return { clock, transport, engine, events, facts, socketStates, warnings };
}

/** A TLS chain (simulated handshake) that serves `/<name>` for every request. */
function tlsChain(plaintext: any, name: string, match: Record<string, unknown>) {
  const c = structuredClone(plaintext);
  c.name = name;
  c.filter_chain_match = match;
  c.filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.prefix_rewrite = `/${name}`;
  c.transport_socket = transportSocket(DOWNSTREAM_TLS, {
    common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: 'simulated' }, private_key: { inline_string: 'simulated' } }] },
  });
  return c;
}

describe('listener_filters_timeout', () => {
  it('closes a connection that sends nothing once the timeout runs out', async () => {
    const p = await start((l, plain) => {
      l.listener_filters = [TLS_INSPECTOR];
      l.listener_filters_timeout = '2s';
      l.filter_chains = [tlsChain(plain, 'tls', { transport_protocol: 'tls' }), plain];
    });
    const client = p.transport.dial('127.0.0.1', 10000);
    await settle();
    expect(p.engine.stats.valueOf(`${LISTENER_STATS}downstream_pre_cx_active`)).toBe(1);
    p.clock.advance(1999);
    await settle();
    expect(client.closed).toBe(false);
    p.clock.advance(1);
    await settle();
    expect(client.closed).toBe(true);
    expect(p.facts('tls.inspected').map((f) => f.data)).toEqual([{ cx: expect.any(Number), result: 'listener_filters_timeout', ms: 2000, continue: false }]);
    expect(p.facts('listener.filter_chain_match')).toEqual([]);
    expect(p.socketStates()).toEqual(['inspecting->timed_out (xstate.after.listenerFiltersTimeout.active_tcp_socket.inspecting)']);
    expect(p.engine.stats.valueOf(`${LISTENER_STATS}downstream_pre_cx_timeout`)).toBe(1);
    expect(p.engine.stats.valueOf(`${LISTENER_STATS}downstream_pre_cx_active`)).toBe(0);
    await p.engine.stop();
  });

  it('with continue_on_listener_filters_timeout, picks the plaintext chain with what it knows', async () => {
    const p = await start((l, plain) => {
      l.listener_filters = [TLS_INSPECTOR];
      l.continue_on_listener_filters_timeout = true;
      l.filter_chains = [tlsChain(plain, 'tls', { transport_protocol: 'tls' }), plain];
    });
    const client = p.transport.dial('127.0.0.1', 10000);
    p.clock.advance(15_000); // the default timeout
    await settle();
    expect(client.closed).toBe(false);
    expect(p.facts('listener.filter_chain_match').map((f) => f.data.chain)).toEqual(['plaintext']);
    client.write('GET /late HTTP/1.1\r\nHost: x\r\n\r\n');
    await settle();
    expect(client.text()).toContain('upstream saw /late');
    expect(p.socketStates()).toEqual(['inspecting->handed_off (xstate.after.listenerFiltersTimeout.active_tcp_socket.inspecting)']);
    await p.engine.stop();
  });

  it('0 turns the timer off', async () => {
    const p = await start((l, plain) => {
      l.listener_filters = [TLS_INSPECTOR];
      l.listener_filters_timeout = '0s';
      l.filter_chains = [tlsChain(plain, 'tls', { transport_protocol: 'tls' }), plain];
    });
    const client = p.transport.dial('127.0.0.1', 10000);
    p.clock.advance(3_600_000);
    await settle();
    expect(client.closed).toBe(false);
    client.write('GET /much-later HTTP/1.1\r\nHost: x\r\n\r\n');
    await settle();
    expect(client.text()).toContain('upstream saw /much-later');
    await p.engine.stop();
  });
});

describe('a connection closed during inspection', () => {
  it('goes without a filter chain, counted as a listener filter remote close', async () => {
    const p = await start((l, plain) => {
      l.filter_chains = [tlsChain(plain, 'tls', { transport_protocol: 'tls' }), plain];
    });
    const client = p.transport.dial('127.0.0.1', 10000);
    client.write(hellos.h1!.subarray(0, 10)); // part of a ClientHello, then the peer leaves
    await settle();
    client.end();
    await settle();
    expect(p.socketStates()).toEqual(['inspecting->closed (socket.closed)']);
    expect(p.facts('listener.filter_chain_match')).toEqual([]);
    expect(p.engine.stats.valueOf(`${LISTENER_STATS}downstream_listener_filter_remote_close`)).toBe(1);
    expect(p.engine.stats.valueOf(`${LISTENER_STATS}downstream_cx_total`)).toBe(0);
    // nothing is left to time out
    p.clock.advance(15_000);
    await settle();
    expect(p.facts('tls.inspected')).toEqual([]);
    await p.engine.stop();
  });
});

describe('filter_chain_match.application_protocols', () => {
  const alpnChains = (l: any, plain: any) => {
    l.listener_filters = [TLS_INSPECTOR];
    l.filter_chains = [
      tlsChain(plain, 'h2', { transport_protocol: 'tls', application_protocols: ['h2'] }),
      tlsChain(plain, 'h1', { transport_protocol: 'tls', application_protocols: ['http/1.1'] }),
      tlsChain(plain, 'any_tls', { transport_protocol: 'tls' }),
      plain,
    ];
  };

  it('picks the chain by the ALPN the ClientHello offers, in the client order', async () => {
    const p = await start(alpnChains);
    expect(p.warnings).toEqual([]);
    for (const hello of ['h2First', 'h1First', 'h1', 'other', 'none']) {
      p.transport.dial('127.0.0.1', 10000).write(hellos[hello]!);
      await settle();
    }
    const plaintextClient = p.transport.dial('127.0.0.1', 10000);
    plaintextClient.write('GET /plain HTTP/1.1\r\nHost: x\r\n\r\n');
    await settle();
    expect(p.facts('listener.filter_chain_match').map((f) => [f.data.chain, f.data.reason])).toEqual([
      ['h2', 'matched on transport_protocol tls, application protocol "h2" (ALPN h2, http/1.1) in application_protocols'],
      ['h1', 'matched on transport_protocol tls, application protocol "http/1.1" (ALPN http/1.1, h2) in application_protocols'],
      ['h1', 'matched on transport_protocol tls, application protocol "http/1.1" (ALPN http/1.1) in application_protocols'],
      ['any_tls', 'matched on transport_protocol tls'],
      ['any_tls', 'matched on transport_protocol tls'],
      ['plaintext', 'matched (no criteria: wildcard chain)'],
    ]);
    expect(plaintextClient.text()).toContain('upstream saw /plain');
    expect(p.engine.stats.valueOf('tls_inspector.alpn_found')).toBe(4);
    expect(p.engine.stats.valueOf('tls_inspector.alpn_not_found')).toBe(1);
    await p.engine.stop();
  });

  it('injects the TLS inspector for application_protocols alone, as ListenerImpl did', async () => {
    const p = await start((l, plain) => {
      l.filter_chains = [tlsChain(plain, 'h2', { application_protocols: ['h2'] }), plain];
    });
    p.transport.dial('127.0.0.1', 10000).write(hellos.h2First!);
    await settle();
    expect(p.facts('listener.filter_chain_match').map((f) => f.data.chain)).toEqual(['h2']);
    await p.engine.stop();
  });

  it('a ClientHello with no listed protocol and no chain without application_protocols matches nothing', async () => {
    const p = await start((l, plain) => {
      l.filter_chains = [tlsChain(plain, 'h2', { transport_protocol: 'tls', application_protocols: ['h2'] })];
    });
    const client = p.transport.dial('127.0.0.1', 10000);
    client.write(hellos.h1!);
    await settle();
    expect(client.closed).toBe(true);
    expect(p.facts('listener.no_filter_chain_match').map((f) => f.data.reason)).toEqual([
      'no filter chain matches 127.0.0.1:40000 -> 127.0.0.1:10000 (tls, server name none, ALPN http/1.1)',
    ]);
    await p.engine.stop();
  });
});

describe('which listener filters run', () => {
  it('runs a configured TLS inspector even when no chain matches on what it reads', async () => {
    const p = await start((l) => {
      l.listener_filters = [TLS_INSPECTOR];
    });
    const client = p.transport.dial('127.0.0.1', 10000);
    client.write('GET /x HTTP/1.1\r\nHost: x\r\n\r\n');
    await settle();
    expect(client.text()).toContain('upstream saw /x');
    expect(p.facts('tls.inspected').map((f) => f.data.transport_protocol)).toEqual(['raw_buffer']);
    const socket = p.events.filter((e) => e.machine === 'active_tcp_socket');
    expect(socket.map((e) => (e.type === 'transition' ? `${e.from}->${e.to} ${e.envoy}` : e.type))).toEqual([
      'spawn',
      'inspecting->handed_off ActiveTcpSocket::newConnection',
      'stop',
    ]);
    expect(socket[0]!.actor).toBe(`listener:ingress/socket:${socket[0]!.ids.cx}`);
    await p.engine.stop();
  });

  // Envoy closes on a downstream FIN before the response; the inspector must not lose that FIN.
  it('a request and FIN sent together reach the connection as they would without the inspector', async () => {
    const outcome = async (inspect: boolean) => {
      const p = await start((l) => {
        if (inspect) l.listener_filters = [TLS_INSPECTOR];
      });
      const client = p.transport.dial('127.0.0.1', 10000);
      client.write('GET /fin HTTP/1.1\r\nHost: x\r\n\r\n');
      client.end();
      for (let i = 0; i < 10; i++) await settle();
      p.clock.advance(1000);
      for (let i = 0; i < 10; i++) await settle();
      const seen = { text: client.text(), closed: client.closed, inspected: p.facts('tls.inspected').length };
      await p.engine.stop();
      return seen;
    };
    const without = await outcome(false);
    expect(await outcome(true)).toEqual({ ...without, inspected: 1 });
  });

  it('runs none when neither configured nor needed: no ActiveTcpSocket, no timeout', async () => {
    const p = await start(() => {});
    const client = p.transport.dial('127.0.0.1', 10000);
    await settle();
    expect(p.facts('listener.filter_chain_match').map((f) => f.data.chain)).toEqual(['plaintext']);
    p.clock.advance(15_000);
    await settle();
    expect(client.closed).toBe(false);
    expect(p.events.some((e) => e.machine === 'active_tcp_socket')).toBe(false);
    await p.engine.stop();
  });

  it('warns once, at its entry, for a listener filter ProxyScope does not model', async () => {
    const raw = envoyConfig() as any;
    raw.static_resources.listeners[0].listener_filters = [
      { name: 'envoy.filters.listener.http_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector' } },
      TLS_INSPECTOR,
      { name: 'envoy.filters.listener.proxy_protocol', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol' } },
    ];
    const yaml = stringify(raw);
    const lines = yaml.split('\n');
    const lineOf = (text: string) => lines.findIndex((l) => l.includes(text)) + 1;
    const { config, warnings } = loadBootstrap(yaml, 'test.yaml');
    expect(warnings.map((w) => [w.line, w.path, w.message])).toEqual([
      [
        lineOf('name: envoy.filters.listener.http_inspector'),
        'static_resources.listeners[0].listener_filters[0]',
        "listener filter 'envoy.filters.listener.http_inspector' (@type type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector) is not modelled by ProxyScope: it does nothing and connections go on without it",
      ],
      [
        lineOf('name: envoy.filters.listener.proxy_protocol'),
        'static_resources.listeners[0].listener_filters[2]',
        "listener filter 'envoy.filters.listener.proxy_protocol' (@type type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol) is not modelled by ProxyScope: it does nothing and connections go on without it",
      ],
    ]);
    expect(config.static_resources.listeners[0]!.listener_filters!.map((f) => f.extension ?? null)).toEqual([null, 'envoy.filters.listener.tls_inspector', null]);
  });

  it('loads the envoyproxy/examples tls-inspector sandbox: chains that differ only in application_protocols', () => {
    const raw = envoyConfig() as any;
    const listener = raw.static_resources.listeners[0];
    listener.listener_filters = [TLS_INSPECTOR];
    const tcp = (cluster: string) => [
      { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', cluster, stat_prefix: 'x' } },
    ];
    listener.filter_chains = [
      { filter_chain_match: { transport_protocol: 'tls', application_protocols: ['h2'] }, filters: tcp('backend') },
      { filter_chain_match: { transport_protocol: 'tls', application_protocols: ['http/1.1'] }, filters: tcp('backend') },
      { filter_chain_match: null, filters: tcp('backend') },
    ];
    const { config, warnings } = loadBootstrap(stringify(raw), 'test.yaml');
    expect(warnings).toEqual([]);
    expect(config.static_resources.listeners[0]!.filter_chains.map((c) => c.filter_chain_match.application_protocols ?? null)).toEqual([['h2'], ['http/1.1'], null]);
  });
});
