import type { CommonTlsContext, DataSource, DownstreamTlsContext, SanMatcher, TlsVersion, UpstreamTlsContext } from '../config/tls';
import { stringTest } from '../router/route-matcher';
import type { TlsOptions, TlsPeerCertificate, TlsSessionInfo, TransportError } from '../seams/transport';
import type { Counter, StatsStore } from '../stats/stats';

/**
 * Ssl::ContextImpl with its DefaultCertValidator, for one cluster or filter chain: the
 * handshake settings handed to the transport, and the engine's verdict on the peer once
 * the handshake is done (chain verified against trusted_ca, SANs matched).
 */

const VERSIONS: Record<TlsVersion, TlsOptions['minVersion']> = { TLSv1_0: 'TLSv1', TLSv1_1: 'TLSv1.1', TLSv1_2: 'TLSv1.2', TLSv1_3: 'TLSv1.3' };

/** Ssl::SslStats under `<prefix>ssl.` (listener.<addr>.ssl.*, cluster.<name>.ssl.*). */
export interface SslStats {
  handshake: Counter;
  connection_error: Counter;
  fail_verify_error: Counter;
  fail_verify_san: Counter;
  fail_verify_no_cert: Counter;
  no_certificate: Counter;
}

export function sslStats(store: StatsStore, prefix: string): SslStats {
  const p = `${prefix}ssl.`;
  return {
    handshake: store.counter(p + 'handshake'),
    connection_error: store.counter(p + 'connection_error'),
    fail_verify_error: store.counter(p + 'fail_verify_error'),
    fail_verify_san: store.counter(p + 'fail_verify_san'),
    fail_verify_no_cert: store.counter(p + 'fail_verify_no_cert'),
    no_certificate: store.counter(p + 'no_certificate'),
  };
}

export interface TlsFailure {
  ok: false;
  stat: 'fail_verify_error' | 'fail_verify_san' | 'fail_verify_no_cert' | 'connection_error';
  /** Envoy's transport failure reason, `TLS_error:|...:TLS_error_end` */
  reason: string;
  info?: TlsSessionInfo;
}

/** The handshake's outcome as the engine judges it. */
export type TlsVerdict = { ok: true; info: TlsSessionInfo } | TlsFailure;

function pem(source: DataSource | undefined): string | undefined {
  return source?.text;
}

/**
 * Envoy's transport failure reason for a TLS error (SslSocket's failure_reason_):
 * `TLS_error:|<packed code>:SSL routines:OPENSSL_internal:<REASON>[:<detail>]:TLS_error_end`.
 * The packed code is BoringSSL's; only CERTIFICATE_VERIFY_FAILED's is known here, so the
 * others leave it out.
 */
const PACKED_CODES: Record<string, number> = { CERTIFICATE_VERIFY_FAILED: 268435581 };

export function tlsErrorReason(reason: string, detail?: string): string {
  const code = PACKED_CODES[reason];
  return `TLS_error:|${code !== undefined ? `${code}:` : ''}SSL routines:OPENSSL_internal:${reason}${detail ? `:${detail}` : ''}:TLS_error_end`;
}

/** A handshake error from the transport, in OpenSSL's reason terms (ERR_SSL_WRONG_VERSION_NUMBER -> WRONG_VERSION_NUMBER). */
export function handshakeFailureReason(error: TransportError): string {
  if (error.code.startsWith('ERR_SSL_')) return tlsErrorReason(error.code.slice('ERR_SSL_'.length));
  // Not an OpenSSL error (the peer closed or reset during the handshake).
  return tlsErrorReason('CONNECTION_CLOSED', `${error.code}: ${error.message}`);
}

/** X509_verify_cert_error_string for the verdicts a test or a user meets most. */
const VERIFY_ERRORS: Record<string, string> = {
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
};

function verifyFailure(code: string | undefined): string {
  const text = code === undefined ? 'certificate verify failed' : (VERIFY_ERRORS[code] ?? code);
  return tlsErrorReason('CERTIFICATE_VERIFY_FAILED', `verify cert failed: X509_verify_cert: certificate verification error at depth 0: ${text}`);
}

function sanValues(cert: TlsPeerCertificate, matcher: SanMatcher): string[] {
  switch (matcher.san_type) {
    case 'DNS':
      return cert.dns;
    case 'URI':
      return cert.uri;
    case 'IP_ADDRESS':
      return cert.ip;
    case 'EMAIL':
      return cert.email;
    default:
      return [...cert.dns, ...cert.uri, ...cert.ip, ...cert.email];
  }
}

/** DnsNameMatcher: a `*.example.com` SAN covers one label in front of example.com. */
function dnsWildcardMatches(san: string, test: (v: string) => boolean, matcher: SanMatcher): boolean {
  if (!('exact' in matcher.matcher) || !san.startsWith('*.')) return false;
  const want = matcher.matcher.exact.toLowerCase();
  const dot = want.indexOf('.');
  return dot > 0 && want.slice(dot) === san.slice(1).toLowerCase() && test(want);
}

export class TlsContext {
  readonly options: TlsOptions;
  private readonly sanMatchers: Array<{ matcher: SanMatcher; test: (v: string) => boolean; describe: string }>;
  private readonly verifyChain: boolean;

  constructor(
    readonly role: 'client' | 'server',
    common: CommonTlsContext,
    extra: { sni?: string; requireClientCertificate?: boolean; requireSni?: boolean },
    readonly stats: SslStats,
  ) {
    const validation = common.validation_context;
    this.verifyChain = validation?.trusted_ca !== undefined;
    this.sanMatchers = (validation?.match_typed_subject_alt_names ?? []).map((matcher) => ({ matcher, ...stringTest(matcher.matcher) }));
    this.requireClientCertificate = extra.requireClientCertificate ?? false;
    this.requireSni = extra.requireSni ?? false;
    const trustedCa = pem(validation?.trusted_ca);
    this.options = {
      role,
      certificateChains: common.tls_certificates.map((c) => pem(c.certificate_chain) ?? ''),
      privateKeys: common.tls_certificates.map((c) => pem(c.private_key) ?? ''),
      ...(trustedCa !== undefined && { trustedCa }),
      alpn: common.alpn_protocols,
      ...(extra.sni !== undefined && { serverName: extra.sni }),
      minVersion: VERSIONS[common.tls_params.tls_minimum_protocol_version],
      maxVersion: VERSIONS[common.tls_params.tls_maximum_protocol_version],
      ciphers: common.tls_params.cipher_suites,
      ecdhCurves: common.tls_params.ecdh_curves,
      // A server asks for a client certificate when it can verify one or must have one.
      requestClientCertificate: role === 'server' && (this.verifyChain || (extra.requireClientCertificate ?? false)),
    };
  }

  private readonly requireClientCertificate: boolean;
  private readonly requireSni: boolean;

  static upstream(context: UpstreamTlsContext, stats: SslStats): TlsContext {
    return new TlsContext('client', context.common_tls_context, { ...(context.sni !== undefined && { sni: context.sni }) }, stats);
  }

  static downstream(context: DownstreamTlsContext, stats: SslStats): TlsContext {
    return new TlsContext('server', context.common_tls_context, { requireClientCertificate: context.require_client_certificate, requireSni: context.require_sni }, stats);
  }

  /** DefaultCertValidator::doVerifyCertChain + verifySubjectAltName, and the stats Envoy counts. */
  judge(info: TlsSessionInfo): TlsVerdict {
    const verdict = this.verdict(info);
    if (verdict.ok) this.stats.handshake.inc();
    else {
      this.stats[verdict.stat].inc();
      // Envoy counts every failed handshake as a connection error, whatever failed in it.
      if (verdict.stat !== 'connection_error') this.stats.connection_error.inc();
    }
    return verdict;
  }

  /** The transport reported a failed handshake. */
  failed(error: TransportError): TlsFailure {
    this.stats.connection_error.inc();
    return { ok: false, stat: 'connection_error', reason: handshakeFailureReason(error) };
  }

  private verdict(info: TlsSessionInfo): TlsVerdict {
    // DownstreamTlsContext.require_sni: the server's SNI callback refuses a ClientHello without one.
    if (this.role === 'server' && this.requireSni && info.serverName === undefined) {
      return { ok: false, stat: 'connection_error', reason: tlsErrorReason('NO_SNI'), info };
    }
    const cert = info.peerCertificate;
    if (!cert) {
      if (this.role === 'server' && this.requireClientCertificate) {
        return { ok: false, stat: 'fail_verify_no_cert', reason: tlsErrorReason('PEER_DID_NOT_RETURN_A_CERTIFICATE'), info };
      }
      if (this.role === 'server') this.stats.no_certificate.inc();
      if (this.role === 'client' && this.verifyChain) {
        return { ok: false, stat: 'fail_verify_no_cert', reason: tlsErrorReason('CERTIFICATE_VERIFY_FAILED', 'verify cert failed: no certificate'), info };
      }
      return { ok: true, info };
    }
    if (this.verifyChain && !info.peerVerified) {
      return { ok: false, stat: 'fail_verify_error', reason: verifyFailure(info.verifyError), info };
    }
    if (this.sanMatchers.length > 0) {
      const matched = this.sanMatchers.some((m) => sanValues(cert, m.matcher).some((san) => m.test(san) || (m.matcher.san_type === 'DNS' && dnsWildcardMatches(san, m.test, m.matcher))));
      if (!matched) return { ok: false, stat: 'fail_verify_san', reason: tlsErrorReason('CERTIFICATE_VERIFY_FAILED', 'verify cert failed: SAN matcher'), info };
    }
    return { ok: true, info };
  }

  /** The SAN matchers, for the trace. */
  describeSanMatchers(): string[] {
    return this.sanMatchers.map((m) => `${m.matcher.san_type ?? 'any'} ${m.describe}`);
  }
}

/** The facts a trace shows about a finished handshake. */
export function handshakeFacts(info: TlsSessionInfo | undefined): Record<string, string | boolean | null | string[]> {
  if (!info) return {};
  const cert = info.peerCertificate;
  return {
    version: info.version,
    cipher: info.cipher,
    alpn: info.alpn ?? null,
    sni: info.serverName ?? null,
    peer_subject: cert?.subject ?? null,
    peer_sans: cert ? [...cert.dns.map((v) => `DNS:${v}`), ...cert.uri.map((v) => `URI:${v}`), ...cert.ip.map((v) => `IP:${v}`), ...cert.email.map((v) => `EMAIL:${v}`)] : [],
    peer_verified: info.peerVerified,
  };
}
