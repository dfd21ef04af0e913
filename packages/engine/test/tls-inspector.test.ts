/**
 * The TLS inspector reads a real ClientHello (made by node:tls at test time): TLS or
 * plaintext, the SNI and the ALPN list, also when the hello arrives in pieces. On the
 * simulated transport the same bytes drive filter chain selection by server_names.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FactEvent, TraceEvent } from '@proxyscope/protocol';
import { stringify } from 'yaml';
import { loadBootstrap } from '../src/config/load';
import { ProxyEngine } from '../src/engine';
import { inspectClientHello } from '../src/listener/tls-inspector';
import { ManualClock } from '../src/seams/clock';
import { envoyConfig } from './support/envoy-config';
import { MemoryTransport } from './support/memory-transport';
import { MemoryUpstream } from './support/memory-upstream';
import { DOWNSTREAM_TLS, transportSocket } from './support/tls';

/** The first bytes a node:tls client sends: its ClientHello. */
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

let withSni: Uint8Array;
let withoutSni: Uint8Array;

beforeAll(async () => {
  withSni = await clientHello({ servername: 'api.example.com', ALPNProtocols: ['h2', 'http/1.1'] });
  withoutSni = await clientHello({});
});

describe('inspectClientHello', () => {
  it('reads SNI and ALPN from a ClientHello', () => {
    expect(inspectClientHello(withSni)).toEqual({ transportProtocol: 'tls', serverName: 'api.example.com', alpn: ['h2', 'http/1.1'] });
    expect(inspectClientHello(withoutSni)).toEqual({ transportProtocol: 'tls', alpn: [] });
  });

  it('asks for more until the record is whole', () => {
    expect(inspectClientHello(withSni.subarray(0, 3))).toBe('more');
    expect(inspectClientHello(withSni.subarray(0, withSni.length - 1))).toBe('more');
  });

  it('calls anything that is not a TLS handshake raw_buffer', () => {
    expect(inspectClientHello(new TextEncoder().encode('GET / HTTP/1.1\r\n'))).toEqual({ transportProtocol: 'raw_buffer', alpn: [] });
  });
});

describe('SNI chain selection on the simulated transport', () => {
  it('the ClientHello picks the chain, and each chain serves its own route', async () => {
    const clock = new ManualClock();
    const upstream = new MemoryUpstream(clock, (r) => ({ status: 200, body: `upstream saw ${r.path}` }));
    const transport = new MemoryTransport((address, port, callbacks) => upstream.connect(address, port, callbacks));
    const raw = envoyConfig({ listenerPort: 10000, clusterPort: 8080 }) as any;
    const listener = raw.static_resources.listeners[0];
    const chain = (name: string, serverNames: string[], prefix: string) => {
      const c = structuredClone(listener.filter_chains[0]);
      c.name = name;
      c.filter_chain_match = { server_names: serverNames };
      c.filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.prefix_rewrite = prefix;
      c.transport_socket = transportSocket(DOWNSTREAM_TLS, {
        common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: 'simulated' }, private_key: { inline_string: 'simulated' } }] },
      });
      return c;
    };
    listener.filter_chains = [chain('api', ['api.example.com'], '/api-chain'), chain('other', ['*.example.org'], '/other-chain')];
    const { config } = loadBootstrap(stringify(raw), 'sim.yaml');
    const engine = new ProxyEngine({ config, transport, clock, accessLog: () => {} });
    const events: TraceEvent[] = [];
    engine.tracer.attach((e) => events.push(e));
    await engine.start();
    const settle = async () => {
      for (let i = 0; i < 30; i++) await Promise.resolve();
    };

    const client = transport.dial('127.0.0.1', 10000);
    // The hello in two pieces: the inspector waits for the whole record.
    client.write(withSni.subarray(0, 20));
    await settle();
    expect(events.some((e) => e.type === 'fact' && e.fact === 'listener.filter_chain_match')).toBe(false);
    client.write(withSni.subarray(20));
    await settle();
    client.write('GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n');
    await settle();
    expect(client.text()).toContain('upstream saw /api-chain');
    const match = events.find((e): e is FactEvent => e.type === 'fact' && e.fact === 'listener.filter_chain_match');
    expect(match!.data).toMatchObject({ chain: 'api', reason: 'matched on server name "api.example.com" in server_names' });
    expect(engine.stats.valueOf('tls_inspector.sni_found')).toBe(1);
    await engine.stop();
  });
});
