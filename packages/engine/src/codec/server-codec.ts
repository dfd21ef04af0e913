import type { Actor } from 'xstate';
import { authorityIsValid } from '../http/authority';
import { HeaderMap, type RequestHead, type ResponseHead } from '../http/headers';
import { reasonPhrase, statusHasNoBody } from '../http/status';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import { post } from '../seams/clock';
import type { ActorMeta } from '../seams/tracer';
import type { TransportConnection } from '../seams/transport';
import { serverCodecMachine, type CodecOwner } from './http1-codec.machine';
import { keepUpgradeHeaders } from '../http/upgrade';
import { Http1MessageWriter, serializeHead, stripHopByHop, type Framing } from './http1-writer';
import { HttpParser, type ParsedHead } from './llhttp-parser';

/** What the server codec reports to the connection manager (Http::ServerConnectionCallbacks). */
export interface ServerCodecCallbacks {
  /** `upgrade`: the request asks for a protocol upgrade; what follows its head is tunnel bytes (onRequestData, never ending) */
  onRequestHeaders(head: RequestHead, endStream: boolean, info: { keepAlive: boolean; http10: boolean; upgrade?: boolean }): void;
  onRequestData(chunk: Uint8Array, endStream: boolean): void;
  /** a request that cannot be served: reply with `status` and close */
  onCodecError(status: number, code: string, reason: string): void;
  /**
   * Pipelined bytes are piling up while the current exchange runs: stop (true) or restart
   * (false) reading the socket. Only a backlog past a limit stops reading, so a plain
   * keep-alive exchange costs no extra socket calls.
   */
  onPipelineBacklog(blocked: boolean): void;
}

export interface ServerCodecOptions {
  maxHeaderBytes: number;
  maxHeadersCount: number;
  acceptHttp10: boolean;
}

const utf8 = new TextEncoder();
/** Pipelined bytes held while a response is in progress before reading stops. */
const PIPELINE_BACKLOG_LIMIT = 64 * 1024;

/**
 * Http1::ServerConnectionImpl: parses requests with llhttp and writes responses. One
 * request is handled at a time; the parser pauses after each message so pipelined
 * requests wait in order (Envoy pauses in onMessageCompleteBase for the same reason).
 * Where the connection is (reading a head or a body, paused for the response, upgraded,
 * failed) is the codec machine's state; this class holds the parser, the bytes held back
 * and the response's writer.
 */
export class ServerCodec implements CodecOwner {
  private readonly parser: HttpParser;
  private readonly actor: Actor<typeof serverCodecMachine>;
  /** pipelined bytes read while the parser waits for the current response */
  private remainder: Uint8Array | undefined;
  /**
   * This codec holds the connection's read-disable for a pipelined backlog past
   * PIPELINE_BACKLOG_LIMIT (a hold to give back, as Envoy counts readDisable calls).
   */
  private backlogBlocked = false;
  private writer: Http1MessageWriter;
  /** the version of the request being served (HTTP/1.0 responses have no chunked coding) */
  http10 = false;
  private readonly meta: ActorMeta;

  constructor(
    private readonly engine: EngineContext,
    private readonly connection: TransportConnection,
    private readonly callbacks: ServerCodecCallbacks,
    private readonly options: ServerCodecOptions,
    meta: ActorMeta,
  ) {
    this.writer = new Http1MessageWriter(connection, (fn) => post(engine.clock, fn));
    this.meta = { actor: meta.actor + '/codec', machine: 'codec', ids: meta.ids, envoy: {} };
    this.actor = startTraced(engine, serverCodecMachine, { input: { owner: this }, path: this.meta.actor, kind: 'codec', ids: meta.ids });
    this.parser = new HttpParser(
      'request',
      {
        onMessageBegin: () => this.actor.send({ type: 'codec.message.begin' }),
        onHeadersComplete: (head) => this.onHeadersComplete(head),
        onBody: (chunk) => {
          this.callbacks.onRequestData(chunk, false);
          return 'continue';
        },
        onMessageComplete: () => this.onMessageComplete(),
      },
      { maxHeaderBytes: options.maxHeaderBytes, maxHeadersCount: options.maxHeadersCount },
    );
  }

  /** Http1::ConnectionImpl::dispatch */
  dispatch(chunk: Uint8Array): void {
    if (this.failed) return;
    if (this.upgraded) {
      // ConnectionImpl::maybeDirectDispatch: tunnel bytes, not HTTP.
      this.callbacks.onRequestData(chunk, false);
      return;
    }
    if (this.isPaused) {
      this.remainder = this.remainder ? concat(this.remainder, chunk) : chunk;
      if (!this.backlogBlocked && this.remainder.byteLength > PIPELINE_BACKLOG_LIMIT) {
        this.backlogBlocked = true;
        this.callbacks.onPipelineBacklog(true);
      }
      return;
    }
    const result = this.parser.execute(chunk);
    if (result.kind === 'paused' && !this.isPaused && !this.upgraded && !this.failed) {
      // llhttp paused for an upgrade we ignored (h2c): the connection stays HTTP/1.1.
      this.parser.resume();
      const rest = chunk.subarray(result.consumed);
      if (rest.byteLength > 0) this.dispatch(rest);
      return;
    }
    if (result.kind === 'paused') {
      if (result.consumed < chunk.byteLength) {
        // After an upgrade head (HPE_PAUSED_UPGRADE) the rest of the read is the tunnel's.
        if (this.upgraded) this.callbacks.onRequestData(chunk.subarray(result.consumed), false);
        else this.remainder = chunk.subarray(result.consumed);
      }
    } else if (result.kind === 'error') {
      this.fail(result.tooLarge ? 431 : 400, result.code, result.reason);
    }
  }

  /**
   * The exchange ended: read the next (possibly already buffered) request. A local reply
   * sent from decodeHeaders ends the response while llhttp is still inside its request;
   * the machine then only notes it, and that request's end does not pause the parser
   * (Envoy redispatches when no stream is left).
   */
  resume(): void {
    if (this.failed) return;
    const wasPaused = this.isPaused;
    // In `complete`, the machine resumes llhttp (resumeParsing).
    this.actor.send({ type: 'codec.encode.complete' });
    if (!wasPaused) return;
    const rest = this.remainder;
    this.remainder = undefined;
    if (rest && rest.byteLength > 0) this.dispatch(rest);
    if (this.backlogBlocked && !this.isPaused) {
      this.backlogBlocked = false;
      this.callbacks.onPipelineBacklog(false);
    }
  }

  /** CodecOwner: the machine resumes llhttp once the response is out. */
  resumeParsing(): void {
    this.parser.resume();
  }

  /** CodecOwner: each request's response gets its own writer (framing, held head, byte count). */
  newResponseEncoder(): void {
    this.writer = new Http1MessageWriter(this.connection, (fn) => post(this.engine.clock, fn));
  }

  /** the codec machine is in `upgraded`: the connection carries tunnel bytes */
  get upgraded(): boolean {
    return this.actor.getSnapshot().value === 'upgraded';
  }

  /** the codec machine ended in `error`: nothing more is parsed */
  private get failed(): boolean {
    return this.actor.getSnapshot().status === 'done';
  }

  /** llhttp is paused at the end of a request until its response is out (the machine in `complete`, awaiting the encode) */
  get isPaused(): boolean {
    const snapshot = this.actor.getSnapshot();
    return snapshot.value === 'complete' && !snapshot.context.encodeComplete;
  }

  /** true once the response needs the connection closed to mark its end */
  get mustCloseAfterResponse(): boolean {
    return this.writer.framing === 'close-delimited';
  }

  /**
   * ResponseEncoderImpl::encode1xxHeaders: an interim head goes out at once, ahead of the
   * response (whose own head may still be waiting for its first body bytes).
   */
  write1xxHeaders(head: ResponseHead): void {
    const line = `HTTP/1.1 ${head.status} ${reasonPhrase(head.status)}`;
    this.connection.write(utf8.encode(serializeHead(line, head.headers)));
  }

  writeHeaders(head: ResponseHead, endStream: boolean, isHeadRequest: boolean): boolean {
    const headers = head.headers;
    let framing: Framing;
    if (isHeadRequest || statusHasNoBody(head.status)) {
      framing = 'empty';
      if (statusHasNoBody(head.status)) headers.remove('content-length');
    } else if (endStream) {
      framing = 'empty';
      headers.set('content-length', '0');
    } else if (headers.has('content-length')) {
      framing = 'content-length';
    } else if (this.http10) {
      // HTTP/1.0 has no chunked coding: the end of the body is the end of the connection.
      framing = 'close-delimited';
    } else {
      framing = 'chunked';
      headers.set('transfer-encoding', 'chunked');
    }
    const line = `HTTP/1.1 ${head.status} ${reasonPhrase(head.status)}`;
    return this.writer.writeHead(serializeHead(line, headers), framing, endStream || framing === 'empty');
  }

  writeData(chunk: Uint8Array, endStream: boolean, isHeadRequest: boolean): boolean {
    if (isHeadRequest) return this.writer.writable;
    return this.writer.writeBody(chunk, endStream);
  }

  get bytesWritten(): number {
    return this.writer.bytesWritten;
  }

  destroy(): void {
    this.parser.destroy();
    stopTraced(this.engine, this.actor);
  }

  private onHeadersComplete(parsed: ParsedHead): 'continue' | 'pause' {
    this.http10 = parsed.versionMajor === 1 && parsed.versionMinor === 0;
    if (parsed.upgrade && parsed.method === 'CONNECT') {
      // CONNECT tunnelling is not modelled: refused as Envoy refuses it without upgrade_configs.
      this.fail(403, 'upgrade_failed', 'CONNECT is not supported');
      return 'pause';
    }
    if (this.http10 && !this.options.acceptHttp10) {
      this.fail(426, 'HPE_HTTP10', 'HTTP/1.0 is not accepted (accept_http_10 is false)');
      return 'pause';
    }
    const headers = new HeaderMap();
    let authority: string | undefined;
    let hostLines = 0;
    for (const [name, value] of parsed.headers) {
      const lower = name.toLowerCase();
      if (lower === 'host') {
        hostLines++;
        if (authority === undefined) authority = value;
        continue;
      }
      headers.add(lower, value);
    }
    // RFC 9112 §3.2: more than one Host line, or an invalid one, is a 400, before anything
    // is routed (HeaderUtility::requestHeadersValid in Envoy's codec).
    if (hostLines > 1) {
      this.fail(400, 'http.invalid_authority', `${hostLines} Host header lines (RFC 9112 §3.2 allows one)`);
      return 'pause';
    }
    if (authority !== undefined && !authorityIsValid(authority)) {
      this.fail(400, 'http.invalid_authority', `invalid Host header ${JSON.stringify(authority)}`);
      return 'pause';
    }
    let path = parsed.url ?? '/';
    // Absolute-form request targets carry the authority themselves, and it replaces any
    // Host header (RFC 9112 §3.2.2; ServerConnectionImpl::handlePath).
    const absolute = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(path);
    if (absolute) {
      const target = absolute[1]!;
      if (target === '') {
        this.fail(400, 'http1.invalid_url', `absolute-form target without an authority: ${JSON.stringify(path)}`);
        return 'pause';
      }
      if (!authorityIsValid(target)) {
        this.fail(400, 'http.invalid_authority', `invalid authority ${JSON.stringify(target)} in the request target`);
        return 'pause';
      }
      authority = target;
      path = absolute[2] || '/';
    }
    if (authority === undefined) {
      if (!this.http10) {
        this.fail(400, 'missing_host_header', 'HTTP/1.1 request without a Host header');
        return 'pause';
      }
      authority = '';
    }
    const chunked = (headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked');
    const length = headers.get('content-length');
    let hasBody = chunked || (length !== undefined && length !== '0');
    // An upgrade keeps Connection and Upgrade (mutateRequestHeaders); its head is the whole
    // HTTP message and the bytes after it are the tunnel's.
    let upgrade = parsed.upgrade ? headers.get('upgrade') : undefined;
    if (upgrade !== undefined && upgrade.trim().toLowerCase() === 'h2c') {
      // Envoy ignores h2c upgrades ("removing unsupported h2c upgrade headers") and serves
      // the request as HTTP/1.1; llhttp's own upgrade pause is undone in dispatch().
      headers.remove('http2-settings');
      upgrade = undefined;
    }
    stripHopByHop(headers);
    if (upgrade !== undefined) {
      keepUpgradeHeaders(headers, upgrade);
      hasBody = false;
    }
    const head: RequestHead = {
      method: parsed.method ?? 'GET',
      path,
      authority,
      scheme: 'http',
      protocol: `HTTP/${parsed.versionMajor}.${parsed.versionMinor}`,
      headers,
    };
    const endStream = !hasBody;
    // headers_complete (no body) or body: the machine keeps which, for the request's end.
    this.actor.send({ type: 'codec.headers.complete', endStream });
    if (upgrade !== undefined) {
      this.actor.send({ type: 'codec.upgrade' });
      this.callbacks.onRequestHeaders(head, false, { keepAlive: parsed.shouldKeepAlive, http10: this.http10, upgrade: true });
      return 'continue';
    }
    this.callbacks.onRequestHeaders(head, endStream, { keepAlive: parsed.shouldKeepAlive, http10: this.http10 });
    return 'continue';
  }

  private onMessageComplete(): 'pause' | 'continue' {
    // The upgrade request's head was the whole message: llhttp pauses for the upgrade itself.
    if (this.upgraded) return 'continue';
    const hadBody = this.actor.getSnapshot().value === 'body';
    this.actor.send({ type: 'codec.message.complete' });
    if (hadBody) this.callbacks.onRequestData(new Uint8Array(0), true);
    // Paused until the response is out, unless it already is (a local reply, maybe sent
    // just now from the request's end): then the next request is read at once.
    return this.isPaused ? 'pause' : 'continue';
  }

  private fail(status: number, code: string, reason: string): void {
    if (this.failed) return;
    this.actor.send({ type: 'codec.error', code });
    this.callbacks.onCodecError(status, code, reason);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
