/**
 * The engine's only door to the network. `node-transport.ts` implements it with real TCP;
 * a simulated transport can implement it with in-memory pipes without touching machines.
 */
export interface ConnectionHandlers {
  onData(chunk: Uint8Array): void;
  /** the peer half-closed (FIN) */
  onEnd(): void;
  /** the connection is gone; `error` says why when it was not a clean close */
  onClose(error?: TransportError): void;
  /** the write buffer drained below its high-water mark */
  onDrain(): void;
}

export interface TransportError {
  /** stable code: ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, ... */
  code: string;
  message: string;
}

export interface TransportConnection {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  setHandlers(handlers: ConnectionHandlers): void;
  /** false when the peer is slow and the caller should wait for onDrain */
  write(chunk: Uint8Array | string): boolean;
  /** flush and half-close */
  end(): void;
  /** close now, dropping unwritten data */
  destroy(): void;
  /** stop / restart delivering onData (read-side backpressure) */
  pause(): void;
  resume(): void;
  /**
   * Start TLS on this connection (Ssl::SslSocket). `replay` is what the engine already
   * read from it (the ClientHello the TLS inspector peeked at), handed back to the TLS
   * layer. Once `onSecure` fired, onData carries plaintext and write takes plaintext.
   * Absent on a transport that cannot do TLS.
   */
  startTls?(options: TlsOptions, callbacks: TlsHandshakeCallbacks, replay?: Uint8Array): void;
}

/** The engine's TLS settings for one handshake, from an Upstream/DownstreamTlsContext. */
export interface TlsOptions {
  role: 'client' | 'server';
  /** PEM; a server needs them, a client sends them for mTLS */
  certificateChains: string[];
  privateKeys: string[];
  /** PEM CA bundle to verify the peer with; absent = the peer is not verified */
  trustedCa?: string;
  /** offered (client) or accepted (server) ALPN protocols */
  alpn: string[];
  /** client: SNI to send */
  serverName?: string;
  minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher list; empty = defaults */
  ciphers: string[];
  ecdhCurves: string[];
  /** server: ask the client for a certificate */
  requestClientCertificate: boolean;
}

export interface TlsPeerCertificate {
  subject: string;
  issuer: string;
  dns: string[];
  uri: string[];
  ip: string[];
  email: string[];
}

/** What the handshake settled. Verification verdicts are the engine's to act on. */
export interface TlsSessionInfo {
  /** `TLSv1.3`, ... */
  version: string;
  cipher: string;
  /** negotiated ALPN protocol, if any */
  alpn?: string;
  /** server: the SNI the client sent */
  serverName?: string;
  peerCertificate?: TlsPeerCertificate;
  /** the peer's chain verified against trustedCa (false when no CA was given) */
  peerVerified: boolean;
  /** why it did not verify (OpenSSL's code, e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE) */
  verifyError?: string;
}

export interface TlsHandshakeCallbacks {
  onSecure(info: TlsSessionInfo): void;
  /** the handshake failed; the connection closes (onClose follows) */
  onError(error: TransportError): void;
}

export interface TransportListener {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ConnectCallbacks {
  onConnect(connection: TransportConnection): void;
  onError(error: TransportError): void;
}

export interface PendingConnect {
  /** abandon the attempt (connect timeout); no callback fires afterwards */
  cancel(): void;
}

/** Addresses here are IPs; turning names into them is the Resolver seam's job (seams/resolver.ts). */
export interface Transport {
  listen(address: string, port: number, onConnection: (connection: TransportConnection) => void): Promise<TransportListener>;
  connect(address: string, port: number, callbacks: ConnectCallbacks): PendingConnect;
}
