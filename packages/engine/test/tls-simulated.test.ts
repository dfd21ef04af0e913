/**
 * TLS on the simulated transport and clock: the handshake is a state of the connection
 * machines (downstream `handshaking` before `open`, upstream `connecting -> handshaking
 * -> ready`), so its timing and failures are deterministic here. The in-memory transport
 * settles handshakes without bytes (support/memory-transport.ts).
 */
import { describe, expect, it } from 'vitest';
import type { TraceEvent, TransitionEvent } from '@proxyscope/protocol';
import { stringify } from 'yaml';
import { loadBootstrap } from '../src/config/load';
import { ProxyEngine } from '../src/engine';
import { ManualClock } from '../src/seams/clock';
import type { TlsSessionInfo, TransportError } from '../src/seams/transport';
import { envoyConfig } from './support/envoy-config';
import { MemoryConnection, MemoryTransport } from './support/memory-transport';
import { MemoryUpstream } from './support/memory-upstream';
import { DOWNSTREAM_TLS, transportSocket, UPSTREAM_TLS } from './support/tls';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 30; i++) await Promise.resolve();
};

type Handshake = Partial<TlsSessionInfo> | { fail: TransportError } | 'hang';

async function start(options: { downstreamTls?: boolean; upstreamTls?: Handshake; connectTimeout?: string }) {
  const clock = new ManualClock();
  const upstream = new MemoryUpstream(clock, () => ({ status: 200, body: 'ok' }));
  const transport = new MemoryTransport((address, port, callbacks) =>
    upstream.connect(address, port, {
      onConnect: (c) => {
        if (options.upstreamTls) (c as MemoryConnection).tls = options.upstreamTls;
        callbacks.onConnect(c);
      },
      onError: callbacks.onError,
    }),
  );
  const raw = envoyConfig({ listenerPort: 10000, clusterPort: 8080 }) as any;
  // Inline material: without a TLS reader (a browser build) the loader takes it as written.
  if (options.downstreamTls) {
    raw.static_resources.listeners[0].filter_chains[0].transport_socket = transportSocket(DOWNSTREAM_TLS, {
      common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: 'simulated' }, private_key: { inline_string: 'simulated' } }] },
    });
  }
  if (options.upstreamTls) {
    raw.static_resources.clusters[0].transport_socket = transportSocket(UPSTREAM_TLS, { sni: 'backend.test' });
    raw.static_resources.clusters[0].connect_timeout = options.connectTimeout ?? '1s';
  }
  const { config, warnings } = loadBootstrap(stringify(raw), 'sim.yaml');
  expect(warnings).toEqual([]);
  const lines: string[] = [];
  const engine = new ProxyEngine({ config, transport, clock, accessLog: (line) => lines.push(line) });
  const events: TraceEvent[] = [];
  engine.tracer.attach((e) => events.push(e));
  await engine.start();
  return { engine, clock, transport, upstream, lines, events };
}

const transitions = (events: TraceEvent[], machine: string) =>
  events.filter((e): e is TransitionEvent => e.type === 'transition' && e.machine === machine).map((e) => `${e.from}->${e.to}`);

describe('TLS on the simulated transport', () => {
  it('a TLS downstream handshakes before it is open, and its requests carry x-forwarded-proto https', async () => {
    const { clock, transport, upstream, events } = await start({ downstreamTls: true });
    const client = transport.dial('127.0.0.1', 10000);
    // Written at once: the bytes wait for the handshake, as on a real socket.
    client.write('GET /sim HTTP/1.1\r\nHost: example.com\r\n\r\n');
    await settle();
    clock.advance(0);
    await settle();
    expect(client.text()).toMatch(/^HTTP\/1\.1 200 /);
    expect(upstream.requests[0]!.headers['x-forwarded-proto']).toBe('https');
    expect(transitions(events, 'connection').slice(0, 2)).toEqual(['handshaking->open', 'open->active']);
  });

  it('connect_timeout covers the upstream handshake: one that never finishes fails the request at the deadline', async () => {
    const { engine, clock, transport, lines, events } = await start({ upstreamTls: 'hang', connectTimeout: '0.25s' });
    const client = transport.dial('127.0.0.1', 10000);
    client.write('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
    await settle();
    expect(transitions(events, 'client')).toEqual(['connecting->handshaking']);
    clock.advance(249);
    await settle();
    expect(client.text()).toBe('');
    clock.advance(1);
    await settle();
    expect(client.text()).toMatch(/^HTTP\/1\.1 503 /);
    expect(client.text()).toContain('reset reason: connection timeout');
    expect(transitions(events, 'client')).toEqual(['connecting->handshaking', 'handshaking->closed']);
    expect(engine.stats.valueOf('cluster.backend.upstream_cx_connect_timeout')).toBe(1);
    expect(lines[0]).toMatch(/" 503 UF /);
  });

  it('a failed upstream handshake is a remote connection failure with the TLS error as its reason', async () => {
    const { engine, transport, upstream } = await start({ upstreamTls: { fail: { code: 'ERR_SSL_WRONG_VERSION_NUMBER', message: 'wrong version number' } } });
    const client = transport.dial('127.0.0.1', 10000);
    client.write('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
    await settle();
    expect(client.text()).toMatch(/^HTTP\/1\.1 503 /);
    expect(client.text()).toContain('reset reason: remote connection failure, transport failure reason: TLS_error:|SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER:TLS_error_end');
    expect(upstream.requests).toHaveLength(0);
    expect(engine.stats.valueOf('cluster.backend.ssl.connection_error')).toBe(1);
    expect(engine.stats.valueOf('cluster.backend.ssl.handshake')).toBe(0);
  });
});
