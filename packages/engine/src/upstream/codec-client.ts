import type { Actor } from 'xstate';
import { HttpParser, type ParsedHead } from '../codec/llhttp-parser';
import { clientCodecMachine } from '../codec/http1-codec.machine';
import { Http1MessageWriter, serializeHead, stripHopByHop, type Framing } from '../codec/http1-writer';
import { HeaderMap, type RequestHead, type ResponseHead } from '../http/headers';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import { post } from '../seams/clock';
import type { ActorMeta } from '../seams/tracer';
import type { TransportConnection, TransportError } from '../seams/transport';
import { statusHasNoBody } from '../http/status';
import { isUpgrade, keepUpgradeHeaders } from '../http/upgrade';

/**
 * HeaderUtility::isSpecial1xx: the interim responses the codec hands up to the router
 * (100, 102, 103; Envoy adds 104 behind envoy.reloadable_features.proxy_104). Any other
 * 1xx (but 101) is skipped here and the codec goes on waiting for the final response.
 */
export function isSpecial1xx(status: number): boolean {
  return status === 100 || status === 102 || status === 103;
}

/** Why an upstream stream ended early, in Envoy's StreamResetReason terms. */
export type StreamResetReason =
  | 'ConnectionTermination'
  | 'ProtocolError'
  | 'LocalReset'
  | 'RemoteReset'
  | 'Overflow'
  | 'LocalConnectionFailure'
  | 'RemoteConnectionFailure'
  | 'ConnectionTimeout';

/** Receives one upstream response (Http::ResponseDecoder). */
export interface ResponseDecoder {
  /** an interim 100 / 102 / 103 head (ResponseDecoder::decode1xxHeaders); the final response follows */
  decode1xxHeaders(head: ResponseHead): void;
  decodeHeaders(head: ResponseHead, endStream: boolean): void;
  decodeData(chunk: Uint8Array, endStream: boolean): void;
  onResetStream(reason: StreamResetReason, detail?: string): void;
  /** the upstream can take more request bytes again */
  onBelowWriteBufferLowWatermark(): void;
}

/** Sends one upstream request (Http::RequestEncoder). Returns false when the upstream is slow. */
export interface RequestEncoder {
  encodeHeaders(head: RequestHead, endStream: boolean): boolean;
  encodeData(chunk: Uint8Array, endStream: boolean): boolean;
  /** stop delivering response bytes until resumed (downstream is slow) */
  readDisable(disable: boolean): void;
}

export interface CodecClientOwner {
  /** the response ended and the connection may carry another request */
  onStreamComplete(reuse: boolean): void;
  /** the connection is gone */
  onConnectionClosed(remote: boolean, error?: TransportError): void;
  onProtocolError(): void;
}

/**
 * CodecClient + Http1::ClientConnectionImpl: writes requests and parses responses with
 * llhttp on one upstream connection, one stream at a time. Where the response is (head,
 * body, 1xx, upgraded, complete, failed) and whether its head closes the connection is
 * the codec machine's; the connection's life is the client machine's (its owner). This
 * class holds the parser, the request's writer and the stream's decoder.
 */
export class CodecClient implements RequestEncoder {
  private readonly parser: HttpParser;
  private readonly codec: Actor<typeof clientCodecMachine>;
  /** the stream the response goes to: set by newStream, given up when the response ends or is reset */
  private decoder: ResponseDecoder | undefined;
  /** this exchange's request encoder; `complete` once its last byte is written */
  private writer: Http1MessageWriter;
  /** the request in flight is a HEAD (its response has no body) */
  private requestIsHead = false;
  /** the request in flight asked for an upgrade (Connection: upgrade + Upgrade) */
  private requestIsUpgrade = false;
  /** the socket, until this codec destroys it (undefined: closed) */
  private connection: TransportConnection | undefined;
  /** the read-disable this codec holds on the socket (a slow downstream), to give back once */
  private readDisabled = false;
  rxBytes = 0;

  constructor(
    private readonly engine: EngineContext,
    connection: TransportConnection,
    private readonly owner: CodecClientOwner,
    private readonly meta: ActorMeta,
  ) {
    this.connection = connection;
    this.writer = new Http1MessageWriter(connection, (fn) => post(engine.clock, fn));
    this.codec = startTraced(engine, clientCodecMachine, { input: {}, path: meta.actor + '/codec', kind: 'client_codec', ids: meta.ids });
    this.parser = new HttpParser(
      'response',
      {
        onMessageBegin: () => this.codec.send({ type: 'codec.message.begin' }),
        onHeadersComplete: (head) => this.onHeadersComplete(head),
        onBody: (chunk) => {
          this.decoder?.decodeData(chunk, false);
          return 'continue';
        },
        onMessageComplete: () => this.onMessageComplete(),
      },
      { maxHeaderBytes: 60 * 1024, maxHeadersCount: 100 },
    );
    connection.setHandlers({
      onData: (chunk) => this.onData(chunk),
      onEnd: () => this.onRemoteClose(undefined),
      onClose: (error) => this.onRemoteClose(error),
      onDrain: () => this.decoder?.onBelowWriteBufferLowWatermark(),
    });
  }

  /** Start a new exchange on this (idle) connection. */
  newStream(decoder: ResponseDecoder): RequestEncoder {
    this.decoder = decoder;
    this.requestIsHead = false;
    this.requestIsUpgrade = false;
    this.writer = new Http1MessageWriter(this.connection!, (fn) => post(this.engine.clock, fn));
    return this;
  }

  encodeHeaders(head: RequestHead, endStream: boolean): boolean {
    this.requestIsHead = head.method === 'HEAD';
    this.requestIsUpgrade = isUpgrade(head.headers);
    let framing: Framing = 'empty';
    // An upgrade request's "body" is the tunnel: raw bytes, never chunked.
    if (!endStream) framing = this.requestIsUpgrade ? 'close-delimited' : head.headers.has('content-length') ? 'content-length' : 'chunked';
    if (framing === 'chunked') head.headers.set('transfer-encoding', 'chunked');
    const text = serializeHead(`${head.method} ${head.path} HTTP/1.1`, head.headers, head.authority);
    return this.writer.writeHead(text, framing, endStream);
  }

  encodeData(chunk: Uint8Array, endStream: boolean): boolean {
    return this.writer.writeBody(chunk, endStream);
  }

  readDisable(disable: boolean): void {
    if (this.readDisabled === disable || !this.connection) return;
    this.readDisabled = disable;
    if (disable) this.connection.pause();
    else this.connection.resume();
  }

  get requestBytesWritten(): number {
    return this.writer.bytesWritten;
  }

  /** Abandon the exchange in flight: HTTP/1 can only do that by closing the connection. */
  reset(): void {
    if (!this.connection) return;
    this.decoder = undefined;
    this.owner.onConnectionClosed(false);
  }

  close(): void {
    const connection = this.connection;
    if (!connection) return;
    this.connection = undefined;
    this.parser.destroy();
    stopTraced(this.engine, this.codec);
    connection.destroy();
  }

  private onData(chunk: Uint8Array): void {
    this.rxBytes += chunk.byteLength;
    if (this.upgraded) {
      // ConnectionImpl::maybeDirectDispatch: the tunnel's bytes, as they come.
      this.decoder?.decodeData(chunk, false);
      return;
    }
    const result = this.parser.execute(chunk);
    if (result.kind === 'paused' && this.upgraded && result.consumed < chunk.byteLength) {
      this.decoder?.decodeData(chunk.subarray(result.consumed), false);
    } else if (result.kind === 'error') {
      this.codec.send({ type: 'codec.error', code: result.code });
      this.owner.onProtocolError();
      this.fail('ProtocolError', `${result.code}: ${result.reason}`);
      this.close();
      this.owner.onConnectionClosed(false);
    }
  }

  private onHeadersComplete(head: ParsedHead): 'continue' | 'skip-body' {
    const status = head.statusCode ?? 0;
    // ClientConnectionImpl::onHeadersCompleteBase: an interim 1xx is not the response; the
    // final one follows on the same connection. 101 is exempt: what follows it is not HTTP.
    if (status >= 100 && status < 200 && status !== 101) {
      this.codec.send({ type: 'codec.headers.interim' });
      if (isSpecial1xx(status)) {
        const headers = HeaderMap.from(head.headers);
        stripHopByHop(headers);
        this.decoder?.decode1xxHeaders({ status, headers });
      }
      return 'skip-body';
    }
    if (status === 101 && this.requestIsUpgrade && head.upgrade) return this.onUpgradeAccepted(head);
    const headers = HeaderMap.from(head.headers);
    const noBody = this.requestIsHead || statusHasNoBody(status);
    const connection = headers.get('connection')?.toLowerCase();
    // After a 101 llhttp treats the rest of the connection as tunnel bytes (paused for the
    // upgrade): the connection can carry no further request, so it ends with this response.
    const closeConnection = !head.shouldKeepAlive || connection === 'close' || status === 101;
    stripHopByHop(headers);
    const endStream = noBody || headers.get('content-length') === '0';
    this.codec.send({ type: 'codec.headers.complete', endStream, closeConnection });
    this.decoder?.decodeHeaders({ status, headers }, endStream);
    return noBody ? 'skip-body' : 'continue';
  }

  /**
   * ClientConnectionImpl::onHeadersCompleteBase with handling_upgrade_: the 101 answering
   * our upgrade request. It keeps Connection and Upgrade; the response never ends as HTTP,
   * its body is every later byte, and the connection goes back to no pool.
   */
  private onUpgradeAccepted(head: ParsedHead): 'continue' {
    const headers = HeaderMap.from(head.headers);
    const upgrade = headers.get('upgrade') ?? '';
    stripHopByHop(headers);
    keepUpgradeHeaders(headers, upgrade);
    this.codec.send({ type: 'codec.headers.complete', endStream: true, closeConnection: true });
    this.codec.send({ type: 'codec.upgrade' });
    this.decoder?.decodeHeaders({ status: 101, headers }, false);
    return 'continue';
  }

  /** the codec machine is in `upgraded`: every byte now is the tunnel's */
  private get upgraded(): boolean {
    return this.codec.getSnapshot().value === 'upgraded';
  }

  private onMessageComplete(): 'continue' | 'pause' {
    // Closed from inside this parse (the router reset the exchange, e.g. to retry a 503
    // whose body was in the same read), or no stream waits for a response: the rest of
    // the message is nobody's.
    if (!this.connection || !this.decoder) return 'continue';
    // The 101's head was its whole HTTP message; llhttp now pauses for the upgrade.
    if (this.upgraded) return 'continue';
    // The end of a 1xx message (onMessageCompleteBase swallows it): keep waiting for the final head.
    if (this.codec.getSnapshot().value === 'interim') {
      this.codec.send({ type: 'codec.message.complete' });
      return 'continue';
    }
    this.codec.send({ type: 'codec.message.complete' });
    const decoder = this.decoder;
    this.decoder = undefined;
    decoder?.decodeData(new Uint8Array(0), true);
    // A response that ends before its request was fully sent leaves the connection unusable.
    const reuse = !this.codec.getSnapshot().context.closeConnection && this.writer.complete;
    // A read-disable the downstream's watermark asked for belongs to this stream: the
    // connection goes back to the pool reading, or the next stream on it would never hear
    // its response (the downstream's drain that would have re-enabled it has no stream to tell).
    if (reuse) this.readDisable(false);
    this.owner.onStreamComplete(reuse);
    return 'continue';
  }

  private onRemoteClose(error: TransportError | undefined): void {
    if (!this.connection) return;
    // A response delimited by connection close ends here (the decoder is given up when
    // the response completes, so one still set is waiting for its end).
    if (this.decoder) {
      const result = this.parser.finish();
      if (result.kind === 'error' || this.decoder) {
        this.fail('ConnectionTermination', error?.message);
      }
      // Ending that response may have made the pool close this client already.
      if (!this.connection) return;
    }
    this.close();
    this.owner.onConnectionClosed(true, error);
  }

  private fail(reason: StreamResetReason, detail?: string): void {
    const decoder = this.decoder;
    this.decoder = undefined;
    decoder?.onResetStream(reason, detail);
  }
}
