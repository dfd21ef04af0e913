/**
 * The `transport_socket` of a cluster (UpstreamTlsContext) and of a listener filter chain
 * (DownstreamTlsContext): envoy.transport_sockets.tls, read in Envoy's YAML shape.
 *
 * Certificates and keys are DataSources. Inline ones are text here already; `filename`
 * and `environment_variable` ones are read by the loader's `readDataSource` (the engine
 * must build for a browser, so node:fs and process.env stay with the caller, as the
 * access log's files do), and the caller's `checkTls` says whether the PEM is usable.
 *
 * The zod pieces come from ./schema, which imports this file: they are built on first
 * use (a parse), by which time both modules are loaded.
 */
import { z } from 'zod';
import { bool, base64Text, checkWith, name, oneOf, refine, reject, requireOneOf, section, show, stringMatcher, text, typeUrl } from './schema';
import type { StringMatcher } from './types';

export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
export const RAW_BUFFER_TRANSPORT_SOCKET = 'envoy.transport_sockets.raw_buffer';
export const UPSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const DOWNSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
export const RAW_BUFFER_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';
export const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';
export const TLS_INSPECTOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';

// ---------------------------------------------------------------------------------------
// Loaded types

/**
 * config.core.v3.DataSource. `text` is the content once known (inline, or read by the
 * loader); it is not enumerable, so a dump of the loaded config (/config_dump, a
 * recording) never carries a private key.
 */
export interface DataSource {
  kind: 'filename' | 'inline_string' | 'inline_bytes' | 'environment_variable';
  /** the file or variable name; absent for inline sources */
  name?: string;
  text?: string;
}

/** Set a DataSource's content, out of sight of JSON.stringify and object spreads. */
export function setDataSourceText(source: DataSource, text: string): DataSource {
  Object.defineProperty(source, 'text', { value: text, enumerable: false, writable: true, configurable: true });
  return source;
}

/** Envoy's sensitive fields (udpa.annotations.sensitive) among those read here. */
const SENSITIVE_FIELDS = new Set(['private_key', 'password']);

/**
 * A copy of a raw config with every string under a sensitive field replaced by
 * `[redacted]`, as Envoy's admin redacts its config dump (MessageUtil::redact).
 */
export function redactSecrets(value: unknown, sensitive = false): unknown {
  if (typeof value === 'string') return sensitive ? '[redacted]' : value;
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, sensitive));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactSecrets(item, sensitive || SENSITIVE_FIELDS.has(key))]));
}

export interface TlsCertificate {
  certificate_chain: DataSource;
  private_key: DataSource;
}

export type SanType = 'DNS' | 'URI' | 'EMAIL' | 'IP_ADDRESS';

/** SubjectAltNameMatcher; `san_type` absent = any type (the legacy match_subject_alt_names). */
export interface SanMatcher {
  san_type?: SanType;
  matcher: StringMatcher;
}

export interface CertificateValidationContext {
  trusted_ca?: DataSource;
  match_typed_subject_alt_names: SanMatcher[];
}

export type TlsVersion = 'TLSv1_0' | 'TLSv1_1' | 'TLSv1_2' | 'TLSv1_3';

export interface TlsParameters {
  tls_minimum_protocol_version: TlsVersion;
  tls_maximum_protocol_version: TlsVersion;
  /** OpenSSL/BoringSSL cipher names; empty = the library's defaults */
  cipher_suites: string[];
  ecdh_curves: string[];
}

export interface CommonTlsContext {
  tls_certificates: TlsCertificate[];
  validation_context?: CertificateValidationContext;
  /** what we offer / accept: `h2` is dropped (HTTP/1.1 only), so this is `http/1.1` or empty */
  alpn_protocols: string[];
  tls_params: TlsParameters;
}

export interface UpstreamTlsContext {
  common_tls_context: CommonTlsContext;
  sni?: string;
}

export interface DownstreamTlsContext {
  common_tls_context: CommonTlsContext;
  require_client_certificate: boolean;
  require_sni: boolean;
}

// ---------------------------------------------------------------------------------------
// Schemas

const TLS_VERSIONS = ['TLS_AUTO', 'TLSv1_0', 'TLSv1_1', 'TLSv1_2', 'TLSv1_3'] as const;
const SAN_TYPES = ['DNS', 'URI', 'EMAIL', 'IP_ADDRESS'] as const;
const DATA_SOURCE_KINDS = ['filename', 'inline_string', 'inline_bytes', 'environment_variable'] as const;

/** Envoy's case-sensitive version names, by position (oneOf upper-cases what it reads). */
const versionOf = (upper: string): TlsVersion | 'TLS_AUTO' => TLS_VERSIONS.find((v) => v.toUpperCase() === upper) ?? 'TLS_AUTO';

function build() {
  const dataSource = refine(
    section(
      { filename: name.optional(), inline_string: text.optional(), inline_bytes: base64Text.optional(), environment_variable: name.optional() },
      { unsupported: ['watched_directory'] },
    ),
    (d, ctx) => requireOneOf(ctx, d, DATA_SOURCE_KINDS, 'a data source'),
  ).transform((d): DataSource => {
    if (d.filename !== undefined) return { kind: 'filename', name: d.filename };
    if (d.environment_variable !== undefined) return { kind: 'environment_variable', name: d.environment_variable };
    if (d.inline_string !== undefined) return setDataSourceText({ kind: 'inline_string' }, d.inline_string);
    return setDataSourceText({ kind: 'inline_bytes' }, d.inline_bytes!);
  });

  const tlsCertificate = section(
    { certificate_chain: dataSource, private_key: dataSource },
    { unsupported: ['password', 'pkcs12', 'watched_directory', 'private_key_provider', 'ocsp_staple', 'signed_certificate_timestamp'] },
  );

  const sanMatcher = section({
    san_type: oneOf(SAN_TYPES, { OTHER_NAME: 'san_type OTHER_NAME is not supported' }),
    matcher: stringMatcher,
  });

  const validationContext = refine(
    section(
      {
        trusted_ca: dataSource.optional(),
        match_typed_subject_alt_names: sanMatcher.array().default([]),
        match_subject_alt_names: stringMatcher.array().default([]),
      },
      {
        unsupported: [
          'verify_certificate_spki', 'verify_certificate_hash', 'crl', 'allow_expired_certificate', 'trust_chain_verification',
          'custom_validator_config', 'only_verify_leaf_cert_crl', 'max_verify_depth', 'watched_directory', 'system_root_certs',
          'trusted_ca_sds_secret_config',
        ],
      },
    ),
    (v, ctx) => {
      // DefaultCertValidator refuses this: a SAN check on an unverified chain proves nothing.
      if (v.trusted_ca === undefined && (v.match_typed_subject_alt_names.length > 0 || v.match_subject_alt_names.length > 0)) {
        const field = v.match_typed_subject_alt_names.length > 0 ? 'match_typed_subject_alt_names' : 'match_subject_alt_names';
        reject(ctx, [field], 'SAN-based verification of peer certificates without trusted_ca is insecure and not allowed');
      }
    },
  ).transform(
    (v): CertificateValidationContext => ({
      ...(v.trusted_ca && { trusted_ca: v.trusted_ca }),
      // Envoy uses the typed list when it is set and the legacy one (any SAN type) otherwise.
      match_typed_subject_alt_names: v.match_typed_subject_alt_names.length
        ? v.match_typed_subject_alt_names
        : v.match_subject_alt_names.map((matcher) => ({ matcher })),
    }),
  );

  const tlsParams = (role: 'client' | 'server') =>
    section(
      {
        tls_minimum_protocol_version: oneOf(TLS_VERSIONS.map((v) => v.toUpperCase())).default('TLS_AUTO'),
        tls_maximum_protocol_version: oneOf(TLS_VERSIONS.map((v) => v.toUpperCase())).default('TLS_AUTO'),
        cipher_suites: text.array().default([]),
        ecdh_curves: text.array().default([]),
      },
      { unsupported: ['signature_algorithms', 'compliance_policies'] },
    ).transform((p): TlsParameters => {
      const min = versionOf(p.tls_minimum_protocol_version);
      const max = versionOf(p.tls_maximum_protocol_version);
      return {
        // ClientContextConfigImpl / ServerContextConfigImpl defaults: TLS 1.2 minimum; a
        // client stops at TLS 1.2 unless told otherwise, a server goes to TLS 1.3.
        tls_minimum_protocol_version: min === 'TLS_AUTO' ? 'TLSv1_2' : min,
        tls_maximum_protocol_version: max === 'TLS_AUTO' ? (role === 'client' ? 'TLSv1_2' : 'TLSv1_3') : max,
        // BoringSSL's "[A|B]" equal-preference groups are plain lists to OpenSSL.
        cipher_suites: p.cipher_suites.flatMap((c) => c.replace(/^\[|\]$/g, '').split('|')).filter((c) => c !== ''),
        ecdh_curves: p.ecdh_curves,
      };
    });

  const alpn = refine(text.array().default([]), (list, ctx) => {
    if (list.length > 0 && !list.some((p) => p === 'http/1.1' || p === 'http/1.0')) {
      reject(ctx, [], `alpn_protocols ${list.map((p) => JSON.stringify(p)).join(', ')} leave no HTTP/1.1: ProxyScope speaks HTTP/1.1 only; add "http/1.1"`);
    }
  }).transform((list) => list.filter((p) => p === 'http/1.1' || p === 'http/1.0'));

  const commonTlsContext = (role: 'client' | 'server') =>
    section(
      {
        tls_certificates: tlsCertificate.array().default([]),
        validation_context: validationContext.optional(),
        alpn_protocols: alpn,
        tls_params: tlsParams(role).prefault({}),
      },
      {
        unsupported: [
          'tls_certificate_sds_secret_configs', 'validation_context_sds_secret_config', 'combined_validation_context',
          'tls_certificate_provider_instance', 'custom_handshaker', 'key_log', 'custom_tls_certificate_selector',
          'validation_context_certificate_provider', 'validation_context_certificate_provider_instance',
          'tls_certificate_certificate_provider', 'tls_certificate_certificate_provider_instance',
        ],
      },
    );

  const upstreamTlsContext = section(
    {
      '@type': typeUrl(UPSTREAM_TLS_TYPE),
      common_tls_context: commonTlsContext('client').prefault({}),
      sni: name.optional(),
    },
    { unsupported: ['allow_renegotiation', 'max_session_keys', 'enforce_rsa_key_usage', 'auto_host_sni', 'auto_sni_san_validation'] },
  ).transform((u): UpstreamTlsContext => ({ common_tls_context: u.common_tls_context, ...(u.sni !== undefined && { sni: u.sni }) }));

  const downstreamTlsContext = refine(
    section(
      {
        '@type': typeUrl(DOWNSTREAM_TLS_TYPE),
        common_tls_context: commonTlsContext('server').prefault({}),
        require_client_certificate: bool.default(false),
        require_sni: bool.default(false),
      },
      {
        unsupported: [
          'session_ticket_keys', 'session_ticket_keys_sds_secret_config', 'disable_stateless_session_resumption',
          'disable_stateful_session_resumption', 'session_timeout', 'ocsp_staple_policy', 'full_scan_certs_on_sni_mismatch',
          'prefer_client_ciphers',
        ],
      },
    ),
    (d, ctx, parsed) => {
      if (parsed.ok('common_tls_context') && d.common_tls_context.tls_certificates.length === 0) {
        reject(ctx, ['common_tls_context', 'tls_certificates'], 'a DownstreamTlsContext needs at least one of tls_certificates (its server certificate)');
      }
    },
  ).transform(
    (d): DownstreamTlsContext => ({
      common_tls_context: d.common_tls_context,
      require_client_certificate: d.require_client_certificate,
      require_sni: d.require_sni,
    }),
  );

  /**
   * The `@type` picks the extension; without a typed_config the `name` does, with an empty
   * config (an empty UpstreamTlsContext is TLS without verification, as in Envoy).
   */
  const transportSocket = <T>(contextType: string, context: z.ZodType<T>) => {
    const configOf = (s: { name?: string; typed_config?: Record<string, unknown> }) =>
      s.typed_config ?? (s.name === TLS_TRANSPORT_SOCKET ? { '@type': contextType } : undefined);
    return section({ name: name.optional(), typed_config: z.looseObject({ '@type': z.unknown().optional() }).optional() })
      .superRefine((s, ctx) => {
        const config = configOf(s);
        const type = config?.['@type'];
        if (type === undefined) {
          if (s.name !== RAW_BUFFER_TRANSPORT_SOCKET) reject(ctx, ['name'], `unsupported transport socket ${show(s.name)}; ProxyScope implements ${TLS_TRANSPORT_SOCKET} and ${RAW_BUFFER_TRANSPORT_SOCKET}`);
          return;
        }
        if (type === RAW_BUFFER_TYPE) return;
        if (type !== contextType) {
          reject(ctx, ['typed_config', '@type'], `unsupported transport socket type ${show(type)} here; expected ${contextType}`);
          return;
        }
        checkWith(context, config, ctx, s.typed_config ? ['typed_config'] : []);
      })
      .transform((s): T | undefined => {
        const config = configOf(s);
        if (config?.['@type'] !== contextType) return undefined;
        // Its issues (unknown keys on the loader's first pass) were reported by checkWith.
        const parsed = context.safeParse(config);
        return parsed.success ? parsed.data : undefined;
      });
  };

  return {
    upstream: transportSocket(UPSTREAM_TLS_TYPE, upstreamTlsContext),
    downstream: transportSocket(DOWNSTREAM_TLS_TYPE, downstreamTlsContext),
  };
}

let built: ReturnType<typeof build> | undefined;
const schemas = (): ReturnType<typeof build> => (built ??= build());

/** A cluster's `transport_socket` → its UpstreamTlsContext, or undefined for raw_buffer. */
export const upstreamTransportSocket = (): z.ZodType<UpstreamTlsContext | undefined> => schemas().upstream as never;
/** A filter chain's `transport_socket` → its DownstreamTlsContext, or undefined for raw_buffer. */
export const downstreamTransportSocket = (): z.ZodType<DownstreamTlsContext | undefined> => schemas().downstream as never;

// ---------------------------------------------------------------------------------------
// Certificates at load time

/**
 * What loadBootstrap needs from its host to read and check TLS material: node:fs and
 * process.env for `filename` / `environment_variable`, OpenSSL for the PEM checks. The
 * server passes transport/node-tls.ts's `nodeTlsMaterial`; without it (a browser) only
 * inline material is known.
 */
export interface TlsMaterial {
  /** the text of a filename / environment_variable source; throws with a readable message */
  read(source: DataSource): string;
  /** why this PEM is unusable as `what`, or undefined */
  checkPem?(what: 'certificate_chain' | 'private_key' | 'trusted_ca', pem: string): string | undefined;
  /** why this key is not the certificate's, or undefined */
  checkKeyPair?(certificatePem: string, keyPem: string): string | undefined;
}

interface Finding {
  path: PropertyKey[];
  message: string;
}

interface ConfigWithTls {
  static_resources: {
    listeners: Array<{ filter_chains: Array<{ transport_socket?: DownstreamTlsContext }>; default_filter_chain?: { transport_socket?: DownstreamTlsContext } }>;
    clusters: Array<{ transport_socket?: UpstreamTlsContext }>;
  };
}

/**
 * Read every certificate, key and CA of the loaded config into its DataSource's `text`
 * and check it; each problem is reported at the field that names it. Listener and
 * cluster indices are the source's (the schema keeps list order).
 */
export function resolveTlsMaterial(config: ConfigWithTls, material: TlsMaterial): Finding[] {
  const findings: Finding[] = [];
  const load = (source: DataSource, what: 'certificate_chain' | 'private_key' | 'trusted_ca', at: PropertyKey[]): boolean => {
    const path = [...at, source.kind];
    if (source.text === undefined) {
      try {
        setDataSourceText(source, material.read(source));
      } catch (err) {
        findings.push({ path, message: (err as Error).message });
        return false;
      }
    }
    const problem = material.checkPem?.(what, source.text!);
    if (problem) {
      findings.push({ path, message: source.kind === 'filename' ? `${JSON.stringify(source.name)}: ${problem}` : problem });
      return false;
    }
    return true;
  };
  const common = (context: CommonTlsContext, at: PropertyKey[]) => {
    const c = [...at, 'typed_config', 'common_tls_context'];
    context.tls_certificates.forEach((cert, i) => {
      const here = [...c, 'tls_certificates', i];
      const chainOk = load(cert.certificate_chain, 'certificate_chain', [...here, 'certificate_chain']);
      const keyOk = load(cert.private_key, 'private_key', [...here, 'private_key']);
      if (chainOk && keyOk) {
        const mismatch = material.checkKeyPair?.(cert.certificate_chain.text!, cert.private_key.text!);
        if (mismatch) findings.push({ path: [...here, 'private_key', cert.private_key.kind], message: mismatch });
      }
    });
    const ca = context.validation_context?.trusted_ca;
    if (ca) load(ca, 'trusted_ca', [...c, 'validation_context', 'trusted_ca']);
  };
  config.static_resources.listeners.forEach((listener, li) => {
    const base = ['static_resources', 'listeners', li];
    listener.filter_chains.forEach((chain, ci) => {
      if (chain.transport_socket) common(chain.transport_socket.common_tls_context, [...base, 'filter_chains', ci, 'transport_socket']);
    });
    const fallback = listener.default_filter_chain?.transport_socket;
    if (fallback) common(fallback.common_tls_context, [...base, 'default_filter_chain', 'transport_socket']);
  });
  config.static_resources.clusters.forEach((cluster, ci) => {
    if (cluster.transport_socket) common(cluster.transport_socket.common_tls_context, ['static_resources', 'clusters', ci, 'transport_socket']);
  });
  return findings;
}
