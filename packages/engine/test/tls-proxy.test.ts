/**
 * TLS through the proxy on real sockets: a DownstreamTlsContext on a listener's filter
 * chain (HTTPS in, SNI chain selection, mTLS) and an UpstreamTlsContext on a cluster
 * (verification against trusted_ca, SAN matching), with the stats and trace facts Envoy
 * has for them. Certificates are made at test time (support/certs.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { FactEvent, TraceEvent, TransitionEvent } from '@proxyscope/protocol';
import { makeCa, makeCert, type Pem } from './support/certs';
import { envoyConfig } from './support/envoy-config';
import {
  certificateFiles,
  DOWNSTREAM_TLS,
  httpsRequest,
  loadTlsConfig,
  pemDir,
  plaintextExchange,
  startHttpsUpstream,
  transportSocket,
  UPSTREAM_TLS,
} from './support/tls';
import { eventually, httpRequest, parseAccessLog, startProxy, startUpstream } from './support/upstreams';

let ca: Pem;
let otherCa: Pem;
let proxyCert: Pem;
let aCert: Pem;
let bCert: Pem;
let upstreamCert: Pem;
let clientCert: Pem;
let strangerCert: Pem;

beforeAll(() => {
  ca = makeCa('ProxyScope Test CA');
  otherCa = makeCa('Some Other CA');
  proxyCert = makeCert({ commonName: 'proxy.test', sans: ['DNS:proxy.test'], issuer: ca });
  aCert = makeCert({ commonName: 'a.test', sans: ['DNS:a.test'], issuer: ca });
  bCert = makeCert({ commonName: 'b.test', sans: ['DNS:b.test', 'DNS:*.b.test'], issuer: ca });
  upstreamCert = makeCert({ commonName: 'upstream.test', sans: ['DNS:upstream.test', 'URI:spiffe://test/backend'], issuer: ca });
  clientCert = makeCert({ commonName: 'client.test', sans: ['URI:spiffe://test/client'], issuer: ca });
  strangerCert = makeCert({ commonName: 'stranger.test', issuer: otherCa });
});

/** Listener stats are named for the configured address (port 0 here: the OS picks one). */
const LISTENER = 'listener.127.0.0.1_0';

type Config = ReturnType<typeof envoyConfig> & { static_resources: { listeners: any[]; clusters: any[] } };

function baseConfig(clusterPort: number, format?: string): Config {
  const config = envoyConfig({ listenerPort: 0, clusterPort }) as Config;
  if (format) {
    config.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.access_log = [
      { name: 'envoy.access_loggers.stdout', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', log_format: { text_format_source: { inline_string: format } } } },
    ];
  }
  return config;
}

function facts(events: TraceEvent[], name: string): FactEvent[] {
  return events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === name);
}

function transitionsOf(events: TraceEvent[], machine: string): string[] {
  return events.filter((e): e is TransitionEvent => e.type === 'transition' && e.machine === machine).map((e) => `${e.from}->${e.to}`);
}

describe('a TLS listener (DownstreamTlsContext)', () => {
  it('serves HTTPS to a plaintext upstream, with x-forwarded-proto https and the session in the trace and access log', async () => {
    const up = await startUpstream();
    const dir = pemDir();
    const config = baseConfig(up.port, '%DOWNSTREAM_TLS_VERSION% %REQUESTED_SERVER_NAME% %REQ(X-FORWARDED-PROTO)%\n');
    config.static_resources.listeners[0].filter_chains[0].transport_socket = transportSocket(DOWNSTREAM_TLS, {
      common_tls_context: { tls_certificates: [certificateFiles(dir, 'proxy', proxyCert)], alpn_protocols: ['h2', 'http/1.1'] },
    });
    const loaded = loadTlsConfig(config);
    expect(loaded.warnings).toEqual([]);
    const proxy = await startProxy(loaded.config);

    const res = await httpsRequest(proxy.port, { ca: ca.cert, servername: 'proxy.test', ALPNProtocols: ['h2', 'http/1.1'] });
    expect(res.status).toBe(200);
    expect(res.text).toBe('GET /');
    expect(res.peerSubjectCn).toBe('proxy.test');
    // Both offered, HTTP/1.1 is what the proxy speaks.
    expect(res.alpn).toBe('http/1.1');
    expect(up.requests[0]!.headers['x-forwarded-proto']).toBe('https');

    await eventually(() => proxy.logs.length === 1, 'the access log line');
    expect(proxy.logs[0]).toBe(`${res.protocol} proxy.test https\n`);
    expect(proxy.stat(`${LISTENER}.ssl.handshake`)).toBe(1);
    const handshake = facts(proxy.events, 'tls.handshake');
    expect(handshake).toHaveLength(1);
    expect(handshake[0]!.data).toMatchObject({ version: res.protocol, alpn: 'http/1.1', sni: 'proxy.test' });
    expect(transitionsOf(proxy.events, 'connection')[0]).toBe('handshaking->open');
  });

  it('refuses plaintext: the client gets no HTTP response, and ssl.connection_error counts it', async () => {
    const up = await startUpstream();
    const dir = pemDir();
    const config = baseConfig(up.port);
    config.static_resources.listeners[0].filter_chains[0].transport_socket = transportSocket(DOWNSTREAM_TLS, {
      common_tls_context: { tls_certificates: [certificateFiles(dir, 'proxy', proxyCert)] },
    });
    const proxy = await startProxy(loadTlsConfig(config).config);
    const prefix = LISTENER;

    const result = await plaintextExchange(proxy.port, 'GET / HTTP/1.1\r\nhost: test.local\r\n\r\n');
    expect(result.closed).toBe(true);
    expect(result.received).not.toContain('HTTP/1.1');
    expect(up.requests).toHaveLength(0);
    await eventually(() => proxy.stat(`${prefix}.ssl.connection_error`) === 1, 'ssl.connection_error');
    expect(proxy.stat(`${prefix}.ssl.handshake`)).toBe(0);
    const failed = facts(proxy.events, 'tls.handshake_failed');
    expect(failed).toHaveLength(1);
    expect(String(failed[0]!.data.reason)).toMatch(/^TLS_error:\|.+:TLS_error_end$/);
    expect(transitionsOf(proxy.events, 'connection')).toContain('handshaking->closed');
  });

  it('picks the filter chain by SNI (server_names), exact and wildcard', async () => {
    const upA = await startUpstream({ name: 'A', respond: () => ({ body: 'from A' }) });
    const upB = await startUpstream({ name: 'B', respond: () => ({ body: 'from B' }) });
    const dir = pemDir();
    const config = baseConfig(upA.port);
    const listener = config.static_resources.listeners[0];
    const chainFor = (name: string, serverNames: string[], pem: Pem, cluster: string) => {
      const chain = structuredClone(listener.filter_chains[0]);
      chain.name = name;
      chain.filter_chain_match = { server_names: serverNames };
      chain.filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster = cluster;
      chain.transport_socket = transportSocket(DOWNSTREAM_TLS, { common_tls_context: { tls_certificates: [certificateFiles(dir, name, pem)] } });
      return chain;
    };
    listener.filter_chains = [chainFor('chain_a', ['a.test'], aCert, 'backend'), chainFor('chain_b', ['b.test', '*.b.test'], bCert, 'backend_b')];
    const clusterB = structuredClone(config.static_resources.clusters[0]);
    clusterB.name = 'backend_b';
    clusterB.load_assignment.cluster_name = 'backend_b';
    clusterB.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = upB.port;
    config.static_resources.clusters.push(clusterB);
    const loaded = loadTlsConfig(config);
    expect(loaded.warnings).toEqual([]);
    const proxy = await startProxy(loaded.config);

    const a = await httpsRequest(proxy.port, { ca: ca.cert, servername: 'a.test' });
    expect([a.status, a.text, a.peerSubjectCn]).toEqual([200, 'from A', 'a.test']);
    const b = await httpsRequest(proxy.port, { ca: ca.cert, servername: 'b.test' });
    expect([b.status, b.text, b.peerSubjectCn]).toEqual([200, 'from B', 'b.test']);
    const wild = await httpsRequest(proxy.port, { ca: ca.cert, servername: 'api.b.test', checkServerIdentity: () => undefined });
    expect([wild.status, wild.text, wild.peerSubjectCn]).toEqual([200, 'from B', 'b.test']);

    const matches = facts(proxy.events, 'listener.filter_chain_match').map((f) => f.data.chain);
    expect(matches).toEqual(['chain_a', 'chain_b', 'chain_b']);
    const inspected = facts(proxy.events, 'tls.inspected').map((f) => f.data.sni);
    expect(inspected).toEqual(['a.test', 'b.test', 'api.b.test']);

    // No chain for another name: the connection is closed before any handshake.
    await expect(httpsRequest(proxy.port, { ca: ca.cert, servername: 'c.test' })).rejects.toThrow();
    await eventually(() => facts(proxy.events, 'listener.no_filter_chain_match').length === 1, 'no_filter_chain_match');
  });

  it('serves TLS and plaintext on one port, chosen by transport_protocol', async () => {
    const up = await startUpstream();
    const dir = pemDir();
    const config = baseConfig(up.port);
    const listener = config.static_resources.listeners[0];
    const plain = structuredClone(listener.filter_chains[0]);
    plain.name = 'plain';
    plain.filter_chain_match = { transport_protocol: 'raw_buffer' };
    const secure = structuredClone(listener.filter_chains[0]);
    secure.name = 'secure';
    secure.filter_chain_match = { transport_protocol: 'tls' };
    secure.transport_socket = transportSocket(DOWNSTREAM_TLS, { common_tls_context: { tls_certificates: [certificateFiles(dir, 'proxy', proxyCert)] } });
    listener.filter_chains = [plain, secure];
    const proxy = await startProxy(loadTlsConfig(config).config);

    const https = await httpsRequest(proxy.port, { ca: ca.cert, servername: 'proxy.test', path: '/s' });
    expect([https.status, https.text]).toEqual([200, 'GET /s']);
    // The inspector's peeked bytes reach the HCM: the plaintext request is whole.
    const http = await httpRequest(proxy.port, { path: '/p' });
    expect([http.status, http.text]).toEqual([200, 'GET /p']);
    expect(up.requests.map((r) => [r.url, r.headers['x-forwarded-proto']])).toEqual([
      ['/s', 'https'],
      ['/p', 'http'],
    ]);
    expect(facts(proxy.events, 'listener.filter_chain_match').map((f) => f.data.chain)).toEqual(['secure', 'plain']);
    expect(proxy.stat('tls_inspector.tls_found')).toBe(1);
    expect(proxy.stat('tls_inspector.tls_not_found')).toBe(1);
  });

  it('a client that offers only h2 cannot handshake (HTTP/1.1 only)', async () => {
    const up = await startUpstream();
    const dir = pemDir();
    const config = baseConfig(up.port);
    config.static_resources.listeners[0].filter_chains[0].transport_socket = transportSocket(DOWNSTREAM_TLS, {
      common_tls_context: { tls_certificates: [certificateFiles(dir, 'proxy', proxyCert)], alpn_protocols: ['h2', 'http/1.1'] },
    });
    const proxy = await startProxy(loadTlsConfig(config).config);
    await expect(httpsRequest(proxy.port, { ca: ca.cert, servername: 'proxy.test', ALPNProtocols: ['h2'] })).rejects.toThrow(/no application protocol/i);
    await eventually(() => proxy.stat(`${LISTENER}.ssl.connection_error`) === 1, 'ssl.connection_error');
    expect(String(facts(proxy.events, 'tls.handshake_failed')[0]!.data.reason)).toContain('NO_APPLICATION_PROTOCOL');
  });

  it('with require_client_certificate (mTLS) accepts a client certificate from the trusted CA and rejects none or another CA', async () => {
    const up = await startUpstream();
    const dir = pemDir();
    const config = baseConfig(up.port, '%DOWNSTREAM_PEER_SUBJECT% %DOWNSTREAM_PEER_URI_SAN%\n');
    config.static_resources.listeners[0].filter_chains[0].transport_socket = transportSocket(DOWNSTREAM_TLS, {
      require_client_certificate: true,
      common_tls_context: {
        tls_certificates: [certificateFiles(dir, 'proxy', proxyCert)],
        validation_context: { trusted_ca: { filename: dir.write('ca.crt', ca.cert) } },
      },
    });
    const proxy = await startProxy(loadTlsConfig(config).config);
    const prefix = LISTENER;

    await expect(httpsRequest(proxy.port, { ca: ca.cert, servername: 'proxy.test' })).rejects.toThrow();
    await eventually(() => proxy.stat(`${prefix}.ssl.fail_verify_no_cert`) === 1, 'ssl.fail_verify_no_cert');

    await expect(httpsRequest(proxy.port, { ca: ca.cert, servername: 'proxy.test', cert: strangerCert.cert, key: strangerCert.key })).rejects.toThrow();
    await eventually(() => proxy.stat(`${prefix}.ssl.fail_verify_error`) === 1, 'ssl.fail_verify_error');
    expect(up.requests).toHaveLength(0);

    const ok = await httpsRequest(proxy.port, { ca: ca.cert, servername: 'proxy.test', cert: clientCert.cert, key: clientCert.key });
    expect(ok.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(proxy.stat(`${prefix}.ssl.handshake`)).toBe(1);
    expect(proxy.stat(`${prefix}.ssl.connection_error`)).toBe(2);
    await eventually(() => proxy.logs.length === 1, 'the access log line');
    expect(proxy.logs[0]).toBe('CN=client.test,O=ProxyScope test spiffe://test/client\n');
  });
});

describe('a TLS cluster (UpstreamTlsContext)', () => {
  function tlsCluster(config: Config, dir: ReturnType<typeof pemDir>, sanMatchers: unknown[]): void {
    config.static_resources.clusters[0].transport_socket = transportSocket(UPSTREAM_TLS, {
      sni: 'upstream.test',
      common_tls_context: {
        validation_context: { trusted_ca: { filename: dir.write('ca.crt', ca.cert) }, match_typed_subject_alt_names: sanMatchers },
      },
    });
  }

  it('verifies the upstream against trusted_ca with SAN matching, and sends the configured SNI', async () => {
    const up = await startHttpsUpstream(upstreamCert);
    const dir = pemDir();
    const config = baseConfig(up.port);
    tlsCluster(config, dir, [{ san_type: 'URI', matcher: { prefix: 'spiffe://test/' } }]);
    const loaded = loadTlsConfig(config);
    expect(loaded.warnings).toEqual([]);
    const proxy = await startProxy(loaded.config);

    const res = await httpRequest(proxy.port, { path: '/over-tls' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('tls-upstream /over-tls');
    expect(up.requests[0]!.servername).toBe('upstream.test');
    expect(proxy.stat('cluster.backend.ssl.handshake')).toBe(1);
    const handshake = facts(proxy.events, 'tls.handshake');
    expect(handshake).toHaveLength(1);
    expect(handshake[0]!.actor).toContain('/ucx:');
    expect(handshake[0]!.data).toMatchObject({ peer_subject: 'CN=upstream.test,O=ProxyScope test', peer_verified: true });
    expect(handshake[0]!.data.peer_sans).toEqual(['DNS:upstream.test', 'URI:spiffe://test/backend']);
    expect(transitionsOf(proxy.events, 'client').slice(0, 2)).toEqual(['connecting->handshaking', 'handshaking->ready']);
  });

  it('a SAN mismatch fails the connection: 503 UF, the TLS failure in the trace, ssl.fail_verify_san', async () => {
    const up = await startHttpsUpstream(upstreamCert);
    const dir = pemDir();
    const config = baseConfig(up.port, '%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_TRANSPORT_FAILURE_REASON%\n');
    tlsCluster(config, dir, [{ san_type: 'DNS', matcher: { exact: 'someone-else.test' } }]);
    const proxy = await startProxy(loadTlsConfig(config).config);

    const res = await httpRequest(proxy.port);
    expect(res.status).toBe(503);
    expect(res.text).toContain('remote connection failure');
    expect(res.text).toContain('SAN matcher');
    expect(up.requests).toHaveLength(0);
    expect(proxy.stat('cluster.backend.ssl.fail_verify_san')).toBe(1);
    expect(proxy.stat('cluster.backend.ssl.connection_error')).toBe(1);
    expect(proxy.stat('cluster.backend.upstream_cx_connect_fail')).toBe(1);
    const failed = facts(proxy.events, 'tls.handshake_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.data).toMatchObject({ stat: 'ssl.fail_verify_san', peer_subject: 'CN=upstream.test,O=ProxyScope test' });
    expect(String(failed[0]!.data.reason)).toContain('SAN matcher');
    await eventually(() => proxy.logs.length === 1, 'the access log line');
    const [code, flags, reason] = proxy.logs[0]!.trim().split(' ');
    expect([code, flags]).toEqual(['503', 'UF']);
    // As Envoy's reads, spaces made underscores by the access log.
    expect(reason).toBe('TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify_cert_failed:_SAN_matcher:TLS_error_end');
  });

  it('active health checks use the cluster transport socket too', async () => {
    const up = await startHttpsUpstream(upstreamCert);
    const dir = pemDir();
    const config = baseConfig(up.port);
    tlsCluster(config, dir, [{ san_type: 'DNS', matcher: { exact: 'upstream.test' } }]);
    config.static_resources.clusters[0].health_checks = [
      { timeout: '1s', interval: '10s', unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: '/healthz' } },
    ];
    const proxy = await startProxy(loadTlsConfig(config).config);
    await eventually(() => proxy.stat('cluster.backend.health_check.success') === 1, 'a passed health check');
    expect(up.requests.map((r) => [r.url, r.servername])).toEqual([['/healthz', 'upstream.test']]);
    expect(proxy.stat('cluster.backend.ssl.handshake')).toBe(1);
  });

  it('an upstream whose certificate is not from trusted_ca fails with ssl.fail_verify_error', async () => {
    const up = await startHttpsUpstream(strangerCert);
    const dir = pemDir();
    const config = baseConfig(up.port);
    tlsCluster(config, dir, []);
    const proxy = await startProxy(loadTlsConfig(config).config);
    const res = await httpRequest(proxy.port);
    expect(res.status).toBe(503);
    expect(proxy.stat('cluster.backend.ssl.fail_verify_error')).toBe(1);
    expect(res.text).toContain('CERTIFICATE_VERIFY_FAILED:verify cert failed: X509_verify_cert: certificate verification error at depth 0: unable to verify the first certificate');
    await eventually(() => proxy.logs.length === 1, 'the access log line');
    expect(parseAccessLogFlags(proxy.logs)).toBe('UF');
  });
});

function parseAccessLogFlags(logs: string[]): string | undefined {
  return logs[0] ? parseAccessLog(logs[0]).flags : undefined;
}
