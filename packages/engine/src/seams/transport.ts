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

export interface Transport {
  listen(address: string, port: number, onConnection: (connection: TransportConnection) => void): Promise<TransportListener>;
  connect(address: string, port: number, callbacks: ConnectCallbacks): PendingConnect;
  /** name -> addresses, for STRICT_DNS clusters */
  resolve(hostname: string): Promise<string[]>;
}
