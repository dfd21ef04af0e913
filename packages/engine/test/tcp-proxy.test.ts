/**
 * tcp_proxy on real sockets: bytes both ways to a node:net server (1 MB with backpressure,
 * a half-close), a refused connect, and a listener that serves HTTP on one chain and
 * passes TLS through untouched on another, chosen by the ClientHello's SNI or by
 * destination_port. Configs go through the real loader, in the shape of the sandboxes.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { loadBootstrap } from '../src/config/index';
import type { Bootstrap } from '../src/config/types';
import { makeCa, makeCert, type Pem } from './support/certs';
import { certificateFiles, DOWNSTREAM_TLS, loadTlsConfig, pemDir, transportSocket, UPSTREAM_TLS } from './support/tls';
import { closedPort, eventually, httpRequest, LOOPBACK, patternBytes, RawClient, sha256, startProxy, startRawServer, startUpstream } from './support/upstreams';

const MB = 1024 * 1024;
const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

const ACCESS_LOG = `
          access_log:
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog`;

function clusterYaml(name: string, port: number): string {
  return `  - name: ${name}
    connect_timeout: 2s
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: ${LOOPBACK}, port_value: ${port} } } }
`;
}

/** The https-passthrough sandbox's shape: one listener, one tcp_proxy chain, one cluster. */
function passthrough(port: number, listenerPort = 0): Bootstrap {
  return loadBootstrap(
    `static_resources:
  listeners:
  - address: { socket_address: { address: ${LOOPBACK}, port_value: ${listenerPort} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": ${TCP_PROXY}
          stat_prefix: passthrough
          cluster: service${ACCESS_LOG}
  clusters:
${clusterYaml('service', port)}`,
    'tcp.yaml',
  ).config;
}

/** Until `client` holds `size` bytes (or closes). */
async function receive(client: RawClient, size: number, what: string): Promise<void> {
  await eventually(() => client.data.length >= size || client.closed, what, 10_000);
}

describe('tcp_proxy on real sockets', () => {
  it('echoes 1 MB both ways through the proxy, byte for byte', async () => {
    const echo = await startRawServer((socket) => socket.pipe(socket));
    const proxy = await startProxy(passthrough(echo.port));
    const client = await RawClient.connect(proxy.port);
    const payload = patternBytes(0, MB);
    client.write(payload);
    await receive(client, MB, '1 MB echoed');
    expect(client.data.length).toBe(MB);
    expect(sha256(client.data)).toBe(sha256(payload));
    expect(proxy.stat('tcp.passthrough.downstream_cx_total')).toBe(1);
    expect(proxy.stat('tcp.passthrough.downstream_cx_rx_bytes_total')).toBe(MB);
    expect(proxy.stat('tcp.passthrough.downstream_cx_tx_bytes_total')).toBe(MB);
    expect(proxy.stat('cluster.service.upstream_cx_total')).toBe(1);
    expect(proxy.stat('cluster.service.upstream_cx_tx_bytes_total')).toBe(MB);
    // Whether loopback's kernel buffers ever made a write wait is up to the kernel (the
    // simulated test forces it); any pause there was has been resumed.
    expect(proxy.stat('tcp.passthrough.downstream_flow_control_resumed_reading_total')).toBe(proxy.stat('tcp.passthrough.downstream_flow_control_paused_reading_total'));
    client.destroy();
    await eventually(() => proxy.logs.length === 1, 'the access log line');
    expect(proxy.logs[0]).toMatch(new RegExp(`^\\[[^\\]]+\\] "- - -" 0 - ${MB} ${MB} \\d+ - "-" "-" "-" "-" "${LOOPBACK}:${echo.port}"\\n$`));
    await eventually(() => proxy.stat('cluster.service.upstream_cx_active') === 0, 'the upstream connection to close');
  });

  it('stops reading the client while the upstream is not reading, and resumes when it drains', async () => {
    // Loopback's kernel buffers take a few MB each way; 16 MB is more than they hold.
    const size = 16 * MB;
    let upstreamSocket: net.Socket | undefined;
    const received: Buffer[] = [];
    const server = await startRawServer((socket) => {
      upstreamSocket = socket;
      socket.pause();
      socket.on('data', (chunk: Buffer) => received.push(chunk));
    });
    const proxy = await startProxy(passthrough(server.port), { trace: false });
    const client = await RawClient.connect(proxy.port);
    const payload = patternBytes(0, size);
    client.write(payload);
    await eventually(() => proxy.stat('tcp.passthrough.downstream_flow_control_paused_reading_total') > 0, 'the proxy to pause the downstream', 10_000);
    // Paused: the proxy holds what it read, it does not keep reading.
    expect(proxy.stat('tcp.passthrough.downstream_cx_rx_bytes_total')).toBeLessThan(size);
    upstreamSocket!.resume();
    await eventually(() => received.reduce((n, c) => n + c.length, 0) >= size, 'all 16 MB upstream', 20_000);
    expect(sha256(Buffer.concat(received))).toBe(sha256(payload));
    expect(proxy.stat('tcp.passthrough.downstream_flow_control_resumed_reading_total')).toBe(proxy.stat('tcp.passthrough.downstream_flow_control_paused_reading_total'));
  });

  it('passes the client FIN upstream and the reply written after it back', async () => {
    const server = await startRawServer((socket) => {
      let got = 0;
      socket.on('data', (chunk: Buffer) => (got += chunk.length));
      // No allowHalfOpen: node ends our side right after this handler.
      socket.on('end', () => socket.write(`got ${got} bytes`));
    });
    const proxy = await startProxy(passthrough(server.port));
    const client = await RawClient.connect(proxy.port);
    client.write('a request that ends with EOF');
    client.end();
    await eventually(() => client.closed, 'the proxy to close after the upstream did');
    expect(client.text).toBe('got 28 bytes');
    const states = proxy.events.filter((e) => e.type === 'transition' && e.machine === 'tcp_proxy').map((e) => (e.type === 'transition' ? e.to : ''));
    expect(states).toEqual(['proxying', 'half_closed', 'closed']);
  });

  it('closes the downstream when the upstream refuses, with UF,URX and upstream_cx_connect_fail', async () => {
    const port = await closedPort();
    const proxy = await startProxy(passthrough(port));
    const client = await RawClient.connect(proxy.port);
    client.write('hello?');
    await eventually(() => client.closed, 'the downstream to be closed');
    expect(client.data.length).toBe(0);
    expect(proxy.stat('cluster.service.upstream_cx_connect_fail')).toBe(1);
    expect(proxy.stat('cluster.service.upstream_cx_active')).toBe(0);
    await eventually(() => proxy.logs.length === 1, 'the access log line');
    // Nothing is read from the downstream until the upstream is there, so nothing was received.
    expect(proxy.logs[0]).toMatch(new RegExp(`"- - -" 0 UF,URX 0 0 \\d+ - "-" "-" "-" "-" "${LOOPBACK}:${port}"`));
    const failed = proxy.events.find((e) => e.type === 'fact' && e.fact === 'tcp_proxy.connect_failed');
    expect(failed?.type === 'fact' && failed.data).toMatchObject({ reason: 'connect_failure', detail: 'delayed connect error: 111' });
  });
});

describe('tcp_proxy to a TLS cluster (the double-proxy frontend)', () => {
  it('originates TLS to the upstream, verifying it against trusted_ca, and pipes plaintext through it', async () => {
    const ca = makeCa('ProxyScope Test CA');
    const backend = makeCert({ commonName: 'backend.test', sans: ['DNS:backend.test'], issuer: ca });
    const server = tls.createServer({ cert: backend.cert, key: backend.key }, (socket) => {
      socket.on('data', (chunk: Buffer) => socket.write(`over tls: ${chunk.toString()}`));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, LOOPBACK, () => resolve()));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const dir = pemDir();
    const config = {
      static_resources: {
        listeners: [{
          address: { socket_address: { address: LOOPBACK, port_value: 0 } },
          filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY, stat_prefix: 'postgres_tcp', cluster: 'postgres_cluster' } }] }],
        }],
        clusters: [{
          name: 'postgres_cluster',
          load_assignment: { cluster_name: 'postgres_cluster', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: LOOPBACK, port_value: (server.address() as net.AddressInfo).port } } } }] }] },
          transport_socket: transportSocket(UPSTREAM_TLS, {
            sni: 'backend.test',
            common_tls_context: { validation_context: { trusted_ca: { filename: dir.write('ca.crt', ca.cert) }, match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'backend.test' } }] } },
          }),
        }],
      },
    };
    const proxy = await startProxy(loadTlsConfig(config).config);
    const client = await RawClient.connect(proxy.port);
    client.write('SELECT 1');
    await eventually(() => client.text.length > 0, 'the reply over TLS');
    expect(client.text).toBe('over tls: SELECT 1');
    const handshake = proxy.events.find((e) => e.type === 'fact' && e.fact === 'tls.handshake' && e.machine === 'tcp_proxy');
    expect(handshake).toBeDefined();
  });
});

describe('tcp_proxy behind a TLS-terminating chain (the double-proxy backend)', () => {
  it('handshakes with the client itself and pipes the plaintext to a raw upstream', async () => {
    const ca = makeCa('ProxyScope Test CA');
    const edge = makeCert({ commonName: 'edge.test', sans: ['DNS:edge.test'], issuer: ca });
    const echo = await startRawServer((socket) => socket.pipe(socket));
    const dir = pemDir();
    const config = {
      static_resources: {
        listeners: [{
          address: { socket_address: { address: LOOPBACK, port_value: 0 } },
          filter_chains: [{
            filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY, stat_prefix: 'postgres_tcp', cluster: 'postgres' } }],
            transport_socket: transportSocket(DOWNSTREAM_TLS, { common_tls_context: { tls_certificates: [certificateFiles(dir, 'edge', edge)] } }),
          }],
        }],
        clusters: [{ name: 'postgres', load_assignment: { cluster_name: 'postgres', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: LOOPBACK, port_value: echo.port } } } }] }] } }],
      },
    };
    const proxy = await startProxy(loadTlsConfig(config).config);
    const socket = tls.connect({ host: LOOPBACK, port: proxy.port, servername: 'edge.test', ca: ca.cert });
    onTestFinished(() => void socket.destroy());
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    expect(socket.getPeerCertificate().subject?.CN).toBe('edge.test');
    socket.write('plaintext inside');
    const reply = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    expect(reply).toBe('plaintext inside');
    expect(proxy.stat('tcp.postgres_tcp.downstream_cx_rx_bytes_total')).toBe(16);
  });
});

describe('one listener, an HTTP chain and a TLS passthrough chain', () => {
  let ca: Pem;
  let dbCert: Pem;
  beforeAll(() => {
    ca = makeCa('ProxyScope Test CA');
    dbCert = makeCert({ commonName: 'db.test', sans: ['DNS:db.test'], issuer: ca });
  });

  function mixed(httpPort: number, tlsPort: number, tcpMatch: string, listenerPort = 0): Bootstrap {
    return loadBootstrap(
      `static_resources:
  listeners:
  - name: edge
    address: { socket_address: { address: ${LOOPBACK}, port_value: ${listenerPort} } }
    listener_filters:
    - name: envoy.filters.listener.tls_inspector
      typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector }
    filter_chains:
    - filter_chain_match: ${tcpMatch}
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": ${TCP_PROXY}
          stat_prefix: db_passthrough
          cluster: db
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": ${HCM}
          stat_prefix: ingress_http
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
          route_config:
            virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: web } }] }]
  clusters:
${clusterYaml('web', httpPort)}${clusterYaml('db', tlsPort)}`,
      'edge.yaml',
    ).config;
  }

  /** A TLS server (the upstream that terminates TLS itself) answering `db says: <what it read>`. */
  async function startTlsServer(): Promise<{ port: number }> {
    const server = tls.createServer({ cert: dbCert.cert, key: dbCert.key }, (socket) => {
      socket.on('data', (chunk: Buffer) => socket.write(`db says: ${chunk.toString()}`));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, LOOPBACK, () => resolve()));
    return { port: (server.address() as net.AddressInfo).port };
  }

  /** A TLS client through the proxy; its handshake is with the upstream, end to end. */
  async function tlsExchange(port: number, servername: string, text: string): Promise<{ reply: string; peer: string | undefined }> {
    const socket = tls.connect({ host: LOOPBACK, port, servername, ca: ca.cert });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    const peer = socket.getPeerCertificate().subject?.CN;
    socket.write(text);
    const reply = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    socket.destroy();
    return { reply, peer: typeof peer === 'string' ? peer : undefined };
  }

  it('sends a ClientHello for db.test to the tcp_proxy chain without terminating TLS, and plain HTTP to the HCM', async () => {
    const web = await startUpstream({ name: 'web' });
    const db = await startTlsServer();
    const proxy = await startProxy(mixed(web.port, db.port, '{ server_names: [db.test] }'));
    const { reply, peer } = await tlsExchange(proxy.port, 'db.test', 'SELECT 1');
    expect(peer).toBe('db.test');
    expect(reply).toBe('db says: SELECT 1');
    const res = await httpRequest(proxy.port, { path: '/page' });
    expect(res.status).toBe(200);
    expect(web.requests).toHaveLength(1);
    expect(proxy.stat('tcp.db_passthrough.downstream_cx_total')).toBe(1);
    expect(proxy.stat('http.ingress_http.downstream_rq_total')).toBe(1);
    const chains = proxy.events.filter((e) => e.type === 'fact' && e.fact === 'listener.filter_chain_match').map((e) => (e.type === 'fact' ? e.data.chain : ''));
    expect(chains).toEqual(['filter_chain_0', 'filter_chain_1']);
    // The topology shows the passthrough chain's target cluster.
    const chain = proxy.engine.topology().listeners[0]!.filterChains[0]!;
    expect(chain).toMatchObject({ statPrefix: 'db_passthrough', tcpProxy: { clusters: ['db'] }, httpFilters: [] });
  });

  it('selects the tcp_proxy chain by destination_port', async () => {
    const web = await startUpstream({ name: 'web' });
    const db = await startTlsServer();
    const port = await closedPort();
    const proxy = await startProxy(mixed(web.port, db.port, `{ destination_port: ${port} }`, port));
    expect(proxy.port).toBe(port);
    const { reply } = await tlsExchange(proxy.port, 'db.test', 'hi');
    expect(reply).toBe('db says: hi');
    expect(web.requests).toHaveLength(0);
  });
});
