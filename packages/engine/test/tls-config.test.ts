/**
 * Loading transport_socket (envoy.transport_sockets.tls): what loads, and what is a
 * config error at file:line: field (a bad certificate or key included, read at load time
 * by the Node material reader). Nothing here opens a socket.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ConfigError, formatDiagnostic, loadBootstrap } from '../src/config/load';
import { redactSecrets } from '../src/config/tls';
import { nodeTlsMaterial } from '../src/transport/node-tls';
import { makeCa, makeCert, type Pem } from './support/certs';
import { envoyConfig } from './support/envoy-config';
import { DOWNSTREAM_TLS, pemDir, transportSocket, UPSTREAM_TLS } from './support/tls';

let ca: Pem;
let leaf: Pem;
let other: Pem;

beforeAll(() => {
  ca = makeCa();
  leaf = makeCert({ commonName: 'leaf.test', sans: ['DNS:leaf.test'], issuer: ca });
  other = makeCert({ commonName: 'other.test', issuer: ca });
});

function withDownstream(context: Record<string, unknown>, chainMatch?: Record<string, unknown>): string {
  const config = envoyConfig({ listenerPort: 0 }) as any;
  const chain = config.static_resources.listeners[0].filter_chains[0];
  chain.transport_socket = transportSocket(DOWNSTREAM_TLS, context);
  if (chainMatch) chain.filter_chain_match = chainMatch;
  return stringify(config);
}

function withUpstream(context: Record<string, unknown>, socket?: Record<string, unknown>): string {
  const config = envoyConfig({ listenerPort: 0 }) as any;
  config.static_resources.clusters[0].transport_socket = socket ?? transportSocket(UPSTREAM_TLS, context);
  return stringify(config);
}

/** The errors of a load that must fail, as `line: path: message`. */
function errorsOf(yaml: string, tls = true): string[] {
  try {
    loadBootstrap(yaml, 'tls.yaml', tls ? { tls: nodeTlsMaterial } : {});
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.diagnostics.map((d) => formatDiagnostic(d));
  }
  throw new Error('the config loaded');
}

/** The line (1-based) of the first line of `yaml` containing `text`. */
function lineOf(yaml: string, text: string): number {
  return yaml.split('\n').findIndex((l) => l.includes(text)) + 1;
}

const certs = (dir: ReturnType<typeof pemDir>, pem: Pem, name = 'leaf') => ({
  tls_certificates: [{ certificate_chain: { filename: dir.write(`${name}.crt`, pem.cert) }, private_key: { filename: dir.write(`${name}.key`, pem.key) } }],
});

describe('transport_socket loading', () => {
  it('loads a DownstreamTlsContext with files, SNI and transport_protocol matching, and mTLS settings', () => {
    const dir = pemDir();
    const yaml = withDownstream(
      {
        require_client_certificate: true,
        common_tls_context: {
          ...certs(dir, leaf),
          validation_context: { trusted_ca: { filename: dir.write('ca.crt', ca.cert) }, match_subject_alt_names: [{ suffix: '.test' }] },
          alpn_protocols: ['h2', 'http/1.1'],
          tls_params: { tls_minimum_protocol_version: 'TLSv1_3', cipher_suites: ['[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-RSA-AES128-GCM-SHA256]'] },
        },
      },
      { server_names: ['leaf.test', '*.leaf.test'], transport_protocol: 'tls' },
    );
    const { config, warnings } = loadBootstrap(yaml, 'tls.yaml', { tls: nodeTlsMaterial });
    // match_subject_alt_names is deprecated in Envoy, and accepted.
    expect(warnings.filter((w) => !w.message.includes('deprecated'))).toEqual([]);
    const chain = config.static_resources.listeners[0]!.filter_chains[0]!;
    expect(chain.filter_chain_match).toMatchObject({ server_names: ['leaf.test', '*.leaf.test'], transport_protocol: 'tls' });
    const tls = chain.transport_socket!;
    expect(tls.require_client_certificate).toBe(true);
    expect(tls.common_tls_context.tls_certificates[0]!.certificate_chain.text).toBe(leaf.cert);
    expect(tls.common_tls_context.validation_context!.trusted_ca!.text).toBe(ca.cert);
    // The legacy matcher list applies to any SAN type.
    expect(tls.common_tls_context.validation_context!.match_typed_subject_alt_names).toEqual([{ matcher: { suffix: '.test', ignore_case: false } }]);
    // h2 is dropped: ProxyScope negotiates HTTP/1.1.
    expect(tls.common_tls_context.alpn_protocols).toEqual(['http/1.1']);
    expect(tls.common_tls_context.tls_params).toEqual({
      tls_minimum_protocol_version: 'TLSv1_3',
      tls_maximum_protocol_version: 'TLSv1_3',
      cipher_suites: ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'],
      ecdh_curves: [],
    });
  });

  it('reads inline_string, inline_bytes and environment_variable sources', () => {
    process.env.PROXYSCOPE_TEST_KEY = leaf.key;
    try {
      const yaml = withUpstream({
        sni: 'leaf.test',
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { inline_bytes: Buffer.from(leaf.cert).toString('base64') }, private_key: { environment_variable: 'PROXYSCOPE_TEST_KEY' } }],
          validation_context: { trusted_ca: { inline_string: ca.cert } },
        },
      });
      const { config, warnings } = loadBootstrap(yaml, 'tls.yaml', { tls: nodeTlsMaterial });
      expect(warnings).toEqual([]);
      const tls = config.static_resources.clusters[0]!.transport_socket!;
      expect(tls.sni).toBe('leaf.test');
      expect(tls.common_tls_context.tls_certificates[0]!.certificate_chain.text).toBe(leaf.cert);
      expect(tls.common_tls_context.tls_certificates[0]!.private_key.text).toBe(leaf.key);
      // A client stops at TLS 1.2 unless told otherwise, as Envoy's does.
      expect(tls.common_tls_context.tls_params.tls_maximum_protocol_version).toBe('TLSv1_2');
    } finally {
      delete process.env.PROXYSCOPE_TEST_KEY;
    }
  });

  it('keeps key material out of a dump of the loaded config', () => {
    const dir = pemDir();
    const yaml = withDownstream({
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { filename: dir.write('leaf.crt', leaf.cert) }, private_key: { inline_string: leaf.key } }],
      },
    });
    const { config } = loadBootstrap(yaml, 'tls.yaml', { tls: nodeTlsMaterial });
    const certificate = config.static_resources.listeners[0]!.filter_chains[0]!.transport_socket!.common_tls_context.tls_certificates[0]!;
    expect(certificate.private_key.text).toBe(leaf.key);
    const dumped = JSON.stringify(config);
    expect(dumped).not.toContain('PRIVATE KEY');
    expect(dumped).not.toContain('BEGIN CERTIFICATE');
    expect(dumped).toContain('"certificate_chain":{"kind":"filename","name":');
    // The file as written, redacted as Envoy's config dump redacts sensitive fields.
    const redacted = JSON.stringify(redactSecrets(parse(yaml)));
    expect(redacted).not.toContain('PRIVATE KEY');
    expect(redacted).toContain('"private_key":{"inline_string":"[redacted]"}');
  });

  it('a TLS transport socket named without typed_config is an empty context: TLS to the upstream, unverified', () => {
    const { config, warnings } = loadBootstrap(withUpstream({}, { name: 'envoy.transport_sockets.tls' }), 'tls.yaml');
    expect(warnings).toEqual([]);
    const tls = config.static_resources.clusters[0]!.transport_socket!;
    expect(tls.common_tls_context.validation_context).toBeUndefined();
    expect(tls.common_tls_context.tls_certificates).toEqual([]);
    // A listener cannot serve TLS without a certificate.
    const listenerConfig = envoyConfig({ listenerPort: 0 }) as any;
    listenerConfig.static_resources.listeners[0].filter_chains[0].transport_socket = { name: 'envoy.transport_sockets.tls' };
    expect(errorsOf(stringify(listenerConfig), false).join('\n')).toContain('needs at least one of tls_certificates');
  });

  it('a raw_buffer transport socket is plaintext', () => {
    const yaml = withUpstream({}, { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } });
    const { config, warnings } = loadBootstrap(yaml, 'tls.yaml');
    expect(warnings).toEqual([]);
    expect(config.static_resources.clusters[0]!.transport_socket).toBeUndefined();
  });

  it('a missing certificate file is an error at its filename', () => {
    const yaml = withDownstream({ common_tls_context: { tls_certificates: [{ certificate_chain: { filename: '/nonexistent/cert.pem' }, private_key: { filename: '/nonexistent/key.pem' } }] } });
    const errors = errorsOf(yaml);
    expect(errors).toEqual([
      `tls.yaml:${lineOf(yaml, '/nonexistent/cert.pem')}:${errors[0]!.split(':')[2]}: static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificates[0].certificate_chain.filename: cannot read "/nonexistent/cert.pem": ENOENT`,
      `tls.yaml:${lineOf(yaml, '/nonexistent/key.pem')}:${errors[1]!.split(':')[2]}: static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificates[0].private_key.filename: cannot read "/nonexistent/key.pem": ENOENT`,
    ]);
  });

  it('a file that is not a certificate, a bad key, a key of another certificate and a bad CA are errors at their fields', () => {
    const dir = pemDir();
    const garbage = dir.write('garbage.pem', 'this is not PEM\n');
    const badKey = dir.write('bad.key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    const yaml = withUpstream({
      common_tls_context: {
        tls_certificates: [
          { certificate_chain: { filename: garbage }, private_key: { filename: dir.write('leaf.key', leaf.key) } },
          { certificate_chain: { filename: dir.write('leaf.crt', leaf.cert) }, private_key: { filename: badKey } },
          { certificate_chain: { inline_string: leaf.cert }, private_key: { inline_string: other.key } },
        ],
        validation_context: { trusted_ca: { inline_string: 'not a CA' } },
      },
    });
    const errors = errorsOf(yaml).map((e) => e.split(': ').slice(1).join(': '));
    const base = 'static_resources.clusters[0].transport_socket.typed_config.common_tls_context';
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatch(new RegExp(`^${escape(base)}\\.tls_certificates\\[0\\]\\.certificate_chain\\.filename: ".*garbage.pem": no PEM certificate`));
    expect(errors[1]).toMatch(new RegExp(`^${escape(base)}\\.tls_certificates\\[1\\]\\.private_key\\.filename: ".*bad.key": not a valid private key`));
    expect(errors[2]).toBe(`${base}.tls_certificates[2].private_key.inline_string: private_key does not match certificate_chain`);
    expect(errors[3]).toMatch(new RegExp(`^${escape(base)}\\.validation_context\\.trusted_ca\\.inline_string: no PEM certificate`));
  });

  it('rejects what it cannot honour: h2-only ALPN, SAN checks without trusted_ca, no server certificate, another transport socket', () => {
    const h2 = errorsOf(withUpstream({ common_tls_context: { alpn_protocols: ['h2'] } }), false);
    expect(h2[0]).toContain('alpn_protocols: alpn_protocols "h2" leave no HTTP/1.1');
    const san = errorsOf(withUpstream({ common_tls_context: { validation_context: { match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'x' } }] } } }), false);
    expect(san[0]).toContain('validation_context.match_typed_subject_alt_names: SAN-based verification of peer certificates without trusted_ca is insecure');
    const noCert = errorsOf(withDownstream({ common_tls_context: {} }), false);
    expect(noCert[0]).toContain('common_tls_context.tls_certificates: a DownstreamTlsContext needs at least one of tls_certificates');
    const alts = errorsOf(withUpstream({}, { name: 'envoy.transport_sockets.alts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.alts.v3.Alts', handshaker_service: '127.0.0.1:8080' } }), false);
    expect(alts[0]).toContain('transport_socket.typed_config["@type"]: unsupported transport socket type');
    const wrongSide = errorsOf(withUpstream({}, transportSocket(DOWNSTREAM_TLS, {})), false);
    expect(wrongSide[0]).toContain(`expected ${UPSTREAM_TLS}`);
  });

  it('SDS secrets are warned about, not silently used', () => {
    const yaml = withUpstream({ common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'cert' }] } });
    const { warnings } = loadBootstrap(yaml, 'tls.yaml');
    expect(warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      "static_resources.clusters[0].transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs: unsupported field 'tls_certificate_sds_secret_configs' is ignored",
    ]);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('transport_socket with any value in any field', () => {
  const context = {
    sni: 'a.test',
    require_client_certificate: true,
    common_tls_context: {
      tls_certificates: [{ certificate_chain: { inline_string: 'x' }, private_key: { filename: '/nonexistent/key.pem' } }],
      validation_context: {
        trusted_ca: { inline_string: 'x' },
        match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'a.test' } }],
        match_subject_alt_names: [{ prefix: 'a' }],
      },
      alpn_protocols: ['http/1.1'],
      tls_params: { tls_minimum_protocol_version: 'TLSv1_2', cipher_suites: ['ECDHE-RSA-AES128-GCM-SHA256'], ecdh_curves: ['X25519'] },
    },
  };
  const leaves = (value: unknown, at: PropertyKey[] = []): PropertyKey[][] =>
    value !== null && typeof value === 'object'
      ? Object.entries(value).flatMap(([k, v]) => [[...at, Array.isArray(value) ? Number(k) : k], ...leaves(v, [...at, Array.isArray(value) ? Number(k) : k])])
      : [];

  it('fails only with a ConfigError, on either side', () => {
    let loads = 0;
    for (const [type, place] of [
      [UPSTREAM_TLS, (c: any, s: unknown) => (c.static_resources.clusters[0].transport_socket = s)],
      [DOWNSTREAM_TLS, (c: any, s: unknown) => (c.static_resources.listeners[0].filter_chains[0].transport_socket = s)],
    ] as const) {
      const { sni, require_client_certificate, ...common } = context;
      const own = type === UPSTREAM_TLS ? { sni, ...common } : { require_client_certificate, ...common };
      for (const path of leaves(own)) {
        for (const bad of [7, null, [], 'x', {}, true]) {
          const typed: any = structuredClone({ '@type': type, ...own });
          let at = typed;
          for (const key of path.slice(0, -1)) at = at[key as string];
          at[path[path.length - 1] as string] = bad;
          const config = envoyConfig({ listenerPort: 0 });
          place(config, { name: 'envoy.transport_sockets.tls', typed_config: typed });
          try {
            loadBootstrap(stringify(config), 'tls.yaml', { tls: nodeTlsMaterial });
          } catch (e) {
            if (!(e instanceof ConfigError)) throw new Error(`${path.join('.')} = ${JSON.stringify(bad)}: ${String(e)}`);
          }
          loads++;
        }
      }
    }
    expect(loads).toBeGreaterThan(100);
  });
});
