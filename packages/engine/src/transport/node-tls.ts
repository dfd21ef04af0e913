import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { DataSource } from '../config/tls';
import type { TlsHandshakeCallbacks, TlsOptions, TlsPeerCertificate, TlsSessionInfo, TransportError } from '../seams/transport';

/**
 * TLS through node:tls for the node transport: Ssl::SslSocket's handshake on an accepted
 * or connected TCP socket. Chain verification is OpenSSL's; what to do about its verdict
 * (and SAN matching) is the engine's, so the socket never rejects by itself here.
 */

/** One SecureContext per TlsOptions (one per filter chain or cluster): building one parses every PEM. */
const contexts = new WeakMap<TlsOptions, tls.SecureContext>();

function secureContext(options: TlsOptions): tls.SecureContext {
  let context = contexts.get(options);
  if (!context) {
    context = tls.createSecureContext({
      ...(options.certificateChains.length && { cert: options.certificateChains, key: options.privateKeys }),
      ...(options.trustedCa !== undefined && { ca: options.trustedCa }),
      minVersion: options.minVersion,
      maxVersion: options.maxVersion,
      ...(options.ciphers.length && { ciphers: options.ciphers.join(':') }),
      ...(options.ecdhCurves.length && { ecdhCurve: options.ecdhCurves.join(':') }),
    });
    contexts.set(options, context);
  }
  return context;
}

function toTransportError(err: NodeJS.ErrnoException): TransportError {
  return { code: err.code ?? 'ERR_SSL', message: err.message.split('\n')[0]!.trim() };
}

/** Node's `subjectaltname`: "DNS:a, URI:b, IP Address:1.2.3.4, email:c". */
function parseSans(text: string | undefined): Pick<TlsPeerCertificate, 'dns' | 'uri' | 'ip' | 'email'> {
  const sans = { dns: [] as string[], uri: [] as string[], ip: [] as string[], email: [] as string[] };
  for (const entry of (text ?? '').split(/,\s*/)) {
    const at = entry.indexOf(':');
    if (at < 0) continue;
    const kind = entry.slice(0, at);
    const value = entry.slice(at + 1);
    if (kind === 'DNS') sans.dns.push(value);
    else if (kind === 'URI') sans.uri.push(value);
    else if (kind === 'IP Address') sans.ip.push(value);
    else if (kind === 'email') sans.email.push(value);
  }
  return sans;
}

/** RFC 2253 order (most specific first), as Envoy's %DOWNSTREAM_PEER_SUBJECT% prints it. */
function distinguishedName(name: Record<string, string | string[]> | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .reverse()
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(',');
}

function sessionInfo(socket: tls.TLSSocket, options: TlsOptions): TlsSessionInfo {
  const peer = socket.getPeerCertificate();
  const hasPeer = peer !== null && typeof peer === 'object' && Object.keys(peer).length > 0;
  let verifyError: string | undefined;
  if (options.role === 'client') {
  verifyError = socket.authorized ? undefined : String(socket.authorizationError ?? 'UNABLE_TO_VERIFY');
  } else if (hasPeer) {
  // A TLSSocket made outside tls.Server does not set `authorized`; tls.Server reads the
  // verdict from the handle the same way (onServerSocketSecure).
  const handle = (socket as unknown as { _handle?: { verifyError?: () => { code?: string } | null } })._handle;
  const error = handle?.verifyError?.();
  verifyError = error ? String(error.code ?? error) : undefined;
  }
  const cipher = socket.getCipher();
  return {
  version: socket.getProtocol() ?? 'unknown',
  cipher: cipher?.standardName ?? cipher?.name ?? 'unknown',
  ...(typeof socket.alpnProtocol === 'string' && { alpn: socket.alpnProtocol }),
  ...(options.role === 'server' && typeof (socket as { servername?: unknown }).servername === 'string' && { serverName: (socket as unknown as { servername: string }).servername }),
  ...(hasPeer && {
    peerCertificate: { subject: distinguishedName(peer.subject as never), issuer: distinguishedName(peer.issuer as never), ...parseSans(peer.subjectaltname) },
  }),
  peerVerified: options.trustedCa !== undefined && hasPeer && verifyError === undefined,
  ...(hasPeer && options.trustedCa !== undefined && verifyError !== undefined && { verifyError }),
  };
}

/**
 * Wrap `socket` in TLS. `replay` (bytes already read off it) is put back first; a
 * TLSSocket feeds what the socket had buffered to OpenSSL before reading on.
 */
export function startTls(socket: net.Socket, options: TlsOptions, callbacks: TlsHandshakeCallbacks, replay?: Uint8Array): tls.TLSSocket | undefined {
  let settled = false;
  const onError = (err: NodeJS.ErrnoException): void => {
  if (settled) return;
  settled = true;
  callbacks.onError(toTransportError(err));
  };
  let context: tls.SecureContext;
  try {
  context = secureContext(options);
  } catch (err) {
  // A bad PEM reaching here was missed by checkPem at load; fail this handshake, not the process.
  queueMicrotask(() => onError(err as NodeJS.ErrnoException));
  return undefined;
  }
  // Paused, so the bytes put back stay buffered for the TLS socket instead of flowing out as 'data'.
  socket.pause();
  if (replay?.byteLength) socket.unshift(Buffer.from(replay.buffer, replay.byteOffset, replay.byteLength));
  let secure: tls.TLSSocket;
  if (options.role === 'client') {
    secure = tls.connect({
      socket,
      secureContext: context,
      ...(options.serverName !== undefined && { servername: options.serverName }),
      ...(options.alpn.length && { ALPNProtocols: options.alpn }),
      // The engine acts on the verdict (ssl.fail_verify_error) and matches SANs itself.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    secure.once('secureConnect', () => {
      if (settled) return;
      settled = true;
      callbacks.onSecure(sessionInfo(secure, options));
    });
  } else {
    secure = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: context,
      requestCert: options.requestClientCertificate,
      rejectUnauthorized: false,
      ...(options.alpn.length && { ALPNProtocols: options.alpn }),
    });
    secure.once('secure', () => {
      if (settled) return;
      settled = true;
      callbacks.onSecure(sessionInfo(secure, options));
    });
  }
  secure.once('error', onError);
  secure.once('close', () => onError({ name: 'Error', code: 'ECONNRESET', message: 'connection closed during the TLS handshake' }));
  return secure;
}

// ---------------------------------------------------------------------------------------
// Loading: DataSources and PEM checks, for loadBootstrap's `tls` option

/** Reads a `filename` or `environment_variable` DataSource; throws with a readable message. */
export function readDataSource(source: DataSource): string {
  if (source.kind === 'environment_variable') {
    const value = process.env[source.name!];
    if (value === undefined) throw new Error(`environment variable ${source.name} is not set`);
    return value;
  }
  // Relative to the working directory, as Envoy's Filesystem::Instance reads it.
  try {
    return readFileSync(source.name!, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${JSON.stringify(source.name)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Why this PEM is not usable as `what`, or undefined when it is. */
export function checkPem(what: 'certificate_chain' | 'private_key' | 'trusted_ca', pem: string): string | undefined {
  try {
    if (what === 'private_key') {
      createPrivateKey(pem);
    } else {
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) return 'no PEM certificate (-----BEGIN CERTIFICATE-----) found';
      new X509Certificate(pem);
    }
    return undefined;
  } catch (err) {
    return `not a valid ${what === 'private_key' ? 'private key' : 'certificate'}: ${(err as Error).message}`;
  }
}

/** Why this key does not belong to this certificate, or undefined when it does. */
export function checkKeyPair(certificatePem: string, keyPem: string): string | undefined {
  try {
    return new X509Certificate(certificatePem).checkPrivateKey(createPrivateKey(keyPem)) ? undefined : 'private_key does not match certificate_chain';
  } catch (err) {
    return (err as Error).message;
  }
}

/** The `tls` option of loadBootstrap for a Node process: files, environment, and OpenSSL's checks. */
export const nodeTlsMaterial = { read: readDataSource, checkPem, checkKeyPair };
