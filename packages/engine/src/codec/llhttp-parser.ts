/**
 * Our HTTP/1 parser: llhttp (WebAssembly, undici's build) driven directly through its
 * callbacks, as Envoy's Http1::ConnectionImpl drives the C library. llhttp-binding.ts is the
 * binding; this file turns llhttp's events into ParsedHead / body views for the codecs.
 *
 * It runs in Node and in browsers: only Uint8Array, TextDecoder and WebAssembly.
 *
 *  - Spans (url, reason phrase, header name, header value) are offsets into the bytes given
 *    to execute(). A token is decoded once, when it ends; a token cut by an execute() edge
 *    keeps its first part in a small byte buffer, so a UTF-8 character split across calls
 *    decodes as one character.
 *  - Body chunks are `subarray` views of the execute() input, never copies: valid for as
 *    long as the caller does not overwrite that input. Our transports hand every read over
 *    as fresh bytes (node sockets, the simulated network passes the writer's bytes), so the
 *    codecs keep body chunks past the callback (buffered filters, queued writes) without
 *    copying. A caller that reuses its read buffer must copy in onBody.
 *  - Header limits are checked as each span piece arrives; a span callback's non-zero
 *    return stops llhttp there, so an oversized head never reaches onHeadersComplete.
 *  - No user callback may throw into wasm (the exception would unwind through llhttp and
 *    leave it mid-state): we catch, remember the error, and return -1 so llhttp stops with
 *    a callback error.
 *  - llhttp trims leading whitespace of header values but not trailing whitespace;
 *    RFC 9110 §5.5 excludes both from the field value, so we trim the trailing part.
 */
import { ERROR, METHODS, TYPE } from 'undici/lib/llhttp/constants.js';
import {
  errorOffset,
  errorReason,
  execute as llhttpExecute,
  finish as llhttpFinish,
  llhttp,
  loadInput,
  releaseInput,
  type LlhttpHandler,
  type WasmInput,
} from './llhttp-binding.ts';

export type ParserKind = 'request' | 'response';

export interface ParsedHead {
  /** 'GET', ... (requests only) */
  method?: string;
  /** request target as sent (requests only) */
  url?: string;
  /** responses only */
  statusCode?: number;
  /** reason phrase, '' when absent (responses only) */
  statusMessage?: string;
  versionMajor: number;
  versionMinor: number;
  /** names as received (original case); values without leading/trailing whitespace */
  headers: Array<[string, string]>;
  /**
   * Bytes on the wire from the first byte of the request/status line through the LF of
   * the blank line that ends the head. Empty lines llhttp skips before a message are
   * not counted.
   */
  headerBytes: number;
  shouldKeepAlive: boolean;
  upgrade: boolean;
}

export type CallbackResult = 'continue' | 'pause';

export interface ParserCallbacks {
  onMessageBegin(): void;
  /** return 'skip-body' for responses to HEAD / 1xx / 204 / 304 (llhttp return value 1) */
  onHeadersComplete(head: ParsedHead): CallbackResult | 'skip-body';
  /** `chunk` is a view of the execute() input (see the file header for how long it lives) */
  onBody(chunk: Uint8Array): CallbackResult;
  onMessageComplete(): CallbackResult;
}

export interface ParserLimits {
  /** url (or reason phrase) + header names + header values, in bytes as received */
  maxHeaderBytes: number;
  maxHeadersCount: number;
}

export type ExecuteResult =
  | { kind: 'ok' }
  | { kind: 'paused'; consumed: number }
  | { kind: 'error'; code: string; reason: string; offset: number; tooLarge: boolean };

// ---------------------------------------------------------------------------------
// Constants read once so the hot path compares small integers.

const HPE_OK = ERROR.OK;
const HPE_PAUSED = ERROR.PAUSED;
const HPE_PAUSED_UPGRADE = ERROR.PAUSED_UPGRADE;
/** What a span callback returns to stop llhttp (the message is going to be refused). */
const HPE_USER = ERROR.USER;
/** What a pausable llhttp callback returns to make llhttp fail with a callback error. */
const CB_ERROR = -1;
/** What on_headers_complete returns to set F_SKIPBODY (no body follows this head). */
const CB_SKIP_BODY = 1;

/** llhttp method number -> name, e.g. 1 -> 'GET'. */
const METHOD_NAMES: string[] = [];
for (const name of Object.keys(METHODS)) METHOD_NAMES[METHODS[name]] = name;

/** llhttp error number -> 'HPE_' name. */
const ERROR_NAMES: string[] = [];
for (const name of Object.keys(ERROR)) ERROR_NAMES[ERROR[name]] = `HPE_${name}`;

function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `HPE_UNKNOWN_${code}`;
}

const OK: ExecuteResult = Object.freeze({ kind: 'ok' }) as ExecuteResult;
const EMPTY = new Uint8Array(0);
/** UTF-8 with replacement, as a browser decodes a header it shows. */
const utf8 = new TextDecoder();
/** Longer tokens go straight to TextDecoder (see decode). */
const SHORT_TOKEN = 64;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;

// Message phases. Spans only count in HEAD (trailers are validated by llhttp, then dropped).
const IDLE = 0; // between messages (llhttp skips stray CR/LF here)
const HEAD = 1; // after on_message_begin, until on_headers_complete
const BODY = 2; // after on_headers_complete, until on_message_complete

// Which span the open token belongs to.
const TOK_NONE = 0;
const TOK_URL = 1;
const TOK_STATUS = 2;
const TOK_FIELD = 3;
const TOK_VALUE = 4;

// Head-end scanner states (we look for the blank line that ends the head).
const SCAN_SKIP = 0; // before the first byte of the start line
const SCAN_LINE = 1; // inside a line
const SCAN_LF = 2; // just after an LF
const SCAN_LF_CR = 3; // just after LF CR
const SCAN_DONE = 4;

// Pause kinds, so resume() knows which llhttp call undoes the pause.
const NOT_PAUSED = 0;
const PAUSED = 1;
const PAUSED_UPGRADE = 2;

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * b[from, to) as a string. Tokens are nearly always short ASCII: building those from char
 * codes costs a fraction of a TextDecoder call; anything else is decoded as UTF-8.
 */
function decode(b: Uint8Array, from: number, to: number): string {
  if (to - from > SHORT_TOKEN) return utf8.decode(b.subarray(from, to));
  let s = '';
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const c0 = b[i];
    const c1 = b[i + 1];
    const c2 = b[i + 2];
    const c3 = b[i + 3];
    if ((c0 | c1 | c2 | c3) > 0x7f) return utf8.decode(b.subarray(from, to));
    s += String.fromCharCode(c0, c1, c2, c3);
  }
  for (; i < to; i++) {
    const c = b[i];
    if (c > 0x7f) return utf8.decode(b.subarray(from, to));
    s += String.fromCharCode(c);
  }
  return s;
}

// ---------------------------------------------------------------------------------

/**
 * All state and the llhttp callbacks. Kept apart from the exported class so the handler
 * methods the binding calls are not part of HttpParser's public surface.
 */
class ParserCore implements LlhttpHandler {
  /** llhttp_t address in wasm memory; 0 once destroyed */
  private ptr: number;
  private readonly isRequest: boolean;

  /** the bytes of the running execute(); span offsets point into it */
  private data: Uint8Array = EMPTY;

  // Message being assembled.
  private phase = IDLE;
  private url = '';
  private status = '';
  private headers: Array<[string, string]> = [];
  private name: string | null = null; // header name waiting for its value
  private upgrade = false;

  // The open token: carryLen bytes from earlier execute() calls in `carry`, then
  // data[tokFrom, tokTo) in the current one.
  private tok = TOK_NONE;
  private tokFrom = 0;
  private tokTo = 0;
  private carry: Uint8Array | null = null;
  private carryLen = 0;

  // Header limits, counted as pieces arrive.
  private spanBytes = 0;
  private headerCount = 0;

  // Head-end scanner over the bytes handed to llhttp (for ParsedHead.headerBytes).
  private scanPos = 0; // next unscanned offset in `data`
  private scanState = SCAN_SKIP;
  private scanCount = 0;

  // Control flow.
  private internalPause = false;
  private paused = NOT_PAUSED;
  private inFinish = false;
  private executing = false;
  private destroyPending = false;
  private thrown: unknown = undefined;
  private didThrow = false;
  private tooLargeHit = false;
  private error: ExecuteResult | null = null;

  constructor(
    kind: ParserKind,
    private readonly cb: ParserCallbacks,
    private readonly limits: ParserLimits,
  ) {
    this.isRequest = kind === 'request';
    this.ptr = llhttp().llhttp_alloc(this.isRequest ? TYPE.REQUEST : TYPE.RESPONSE);
    if (this.ptr === 0) throw new Error('llhttp: out of wasm memory');
  }

  // ---- spans --------------------------------------------------------------------------

  /** Count a piece against the limits; false once the head is too large. */
  private count(length: number): boolean {
    this.spanBytes += length;
    if (this.spanBytes > this.limits.maxHeaderBytes) {
      this.tooLargeHit = true;
      return false;
    }
    return true;
  }

  /** A span piece of kind `tok`; continues the open token if it is of the same kind. */
  private piece(tok: number, offset: number, length: number): void {
    if (tok === this.tok) {
      // Only an execute() edge splits a span, so a same-kind piece continues the token.
      if (this.tokTo === this.tokFrom) this.tokFrom = offset;
      this.tokTo = offset + length;
      return;
    }
    this.endToken();
    this.tok = tok;
    this.tokFrom = offset;
    this.tokTo = offset + length;
    this.carryLen = 0;
  }

  /** Move the open token's bytes from the current input into `carry`. */
  private saveToken(): void {
    const add = this.tokTo - this.tokFrom;
    if (add === 0) return;
    const need = this.carryLen + add;
    if (this.carry === null || this.carry.length < need) {
      const grown = new Uint8Array(Math.max(need, (this.carry?.length ?? 0) * 2, 256));
      if (this.carry !== null) grown.set(this.carry.subarray(0, this.carryLen));
      this.carry = grown;
    }
    this.carry.set(this.data.subarray(this.tokFrom, this.tokTo), this.carryLen);
    this.carryLen = need;
    this.tokFrom = this.tokTo = 0;
  }

  private endToken(): void {
    const tok = this.tok;
    if (tok === TOK_NONE) return;
    this.tok = TOK_NONE;
    // Read the token where it lies: in this execute()'s input, or (cut by an edge) in carry.
    let b = this.data;
    let from = this.tokFrom;
    let to = this.tokTo;
    if (this.carryLen > 0) {
      this.saveToken();
      b = this.carry!;
      from = 0;
      to = this.carryLen;
      this.carryLen = 0;
    }
    if (tok === TOK_VALUE) {
      while (to > from && (b[to - 1] === SP || b[to - 1] === HTAB)) to--; // trailing OWS
      this.headers.push([this.name ?? '', decode(b, from, to)]);
      this.name = null;
    } else if (tok === TOK_FIELD) {
      // llhttp reports an empty value as an empty piece; a name left waiting still gets ''.
      if (this.name !== null) this.headers.push([this.name, '']);
      this.name = decode(b, from, to);
    } else if (tok === TOK_URL) {
      this.url = decode(b, from, to);
    } else {
      this.status = decode(b, from, to);
    }
  }

  onUrl(offset: number, length: number): number {
    return this.headPiece(TOK_URL, offset, length);
  }

  onStatus(offset: number, length: number): number {
    return this.headPiece(TOK_STATUS, offset, length);
  }

  onHeaderField(offset: number, length: number): number {
    if (this.phase !== HEAD) return HPE_OK; // trailers
    if (!this.count(length)) return HPE_USER;
    if (this.tok !== TOK_FIELD && ++this.headerCount > this.limits.maxHeadersCount) {
      this.tooLargeHit = true;
      return HPE_USER;
    }
    this.piece(TOK_FIELD, offset, length);
    return HPE_OK;
  }

  onHeaderValue(offset: number, length: number): number {
    return this.headPiece(TOK_VALUE, offset, length);
  }

  /** A piece of the head (trailers are ignored), counted against the header limit as it arrives. */
  private headPiece(tok: number, offset: number, length: number): number {
    if (this.phase !== HEAD) return HPE_OK;
    if (!this.count(length)) return HPE_USER;
    this.piece(tok, offset, length);
    return HPE_OK;
  }

  // ---- message callbacks --------------------------------------------------------------

  onMessageBegin(): number {
    this.phase = HEAD;
    this.url = '';
    this.status = '';
    this.headers = []; // fresh: the previous one was handed to the caller
    this.name = null;
    this.tok = TOK_NONE;
    this.carryLen = 0;
    this.spanBytes = 0;
    this.headerCount = 0;
    this.upgrade = false;
    try {
      this.cb.onMessageBegin();
    } catch (e) {
      return this.fromThrow(e);
    }
    return HPE_OK;
  }

  onHeadersComplete(statusCode: number, upgrade: boolean, shouldKeepAlive: boolean): number {
    this.endToken();
    if (this.name !== null) {
      this.headers.push([this.name, '']);
      this.name = null;
    }
    if (this.carry !== null && this.carry.length > 4096) this.carry = null; // do not hoard
    // Find where the head ends inside the bytes llhttp is executing.
    const end = this.scanHead(this.scanPos);
    this.scanPos = end < 0 ? this.data.length : end;
    const headerBytes = this.scanCount;

    this.phase = BODY;
    this.upgrade = upgrade;
    const ll = llhttp();
    const ptr = this.ptr;
    const versionMajor = ll.llhttp_get_http_major(ptr);
    const versionMinor = ll.llhttp_get_http_minor(ptr);
    const common = { versionMajor, versionMinor, headers: this.headers, headerBytes, shouldKeepAlive, upgrade };
    let head: ParsedHead;
    if (this.isRequest) {
      const method = ll.llhttp_get_method(ptr);
      head = { method: METHOD_NAMES[method] ?? String(method), url: this.url, ...common };
    } else {
      head = { statusCode, statusMessage: this.status, ...common };
    }
    let r: CallbackResult | 'skip-body';
    try {
      r = this.cb.onHeadersComplete(head);
    } catch (e) {
      return this.fromThrow(e);
    }
    if (r === 'skip-body') return CB_SKIP_BODY;
    if (r === 'pause') return HPE_PAUSED;
    return HPE_OK;
  }

  onBody(offset: number, length: number): number {
    let r: CallbackResult;
    try {
      r = this.cb.onBody(this.data.subarray(offset, offset + length));
    } catch (e) {
      return this.fromThrow(e);
    }
    return r === 'pause' ? HPE_PAUSED : HPE_OK;
  }

  onMessageComplete(): number {
    this.phase = IDLE;
    this.scanState = SCAN_SKIP;
    this.scanCount = 0;
    let r: CallbackResult;
    try {
      r = this.cb.onMessageComplete();
    } catch (e) {
      return this.fromThrow(e);
    }
    if (r === 'pause') return HPE_PAUSED;
    // Pause anyway (and resume at once in run()) so the next pipelined message starts
    // at the beginning of an llhttp_execute input: that is how we know where its head
    // starts for headerBytes. Not inside llhttp_finish (nothing follows, and finish
    // returns the pause code as-is) and not after an upgrade (llhttp pauses itself).
    if (!this.inFinish && !this.upgrade) {
      this.internalPause = true;
      return HPE_PAUSED;
    }
    return HPE_OK;
  }

  private fromThrow(e: unknown): number {
    this.thrown = e;
    this.didThrow = true;
    return CB_ERROR;
  }

  // ---- head bytes -------------------------------------------------------------------

  /**
   * Advance the head-end scanner over data[from..]; returns the offset just after the
   * blank line's LF, or -1 if the head does not end in this data. llhttp has already
   * validated what we scan (strict mode: CRLF line ends, no obs-fold), so the first
   * empty line after the start line is the end; a bare LF is tolerated anyway.
   */
  private scanHead(from: number): number {
    const data = this.data;
    let s = this.scanState;
    let n = this.scanCount;
    let i = from;
    for (; i < data.length && s !== SCAN_DONE; i++) {
      const b = data[i];
      if (s === SCAN_SKIP) {
        if (b === CR || b === LF) continue; // empty lines before a message
        s = SCAN_LINE;
        n = 1;
        continue;
      }
      n++;
      if (b === LF) s = s === SCAN_LINE ? SCAN_LF : SCAN_DONE;
      else if (b === CR) s = s === SCAN_LF ? SCAN_LF_CR : SCAN_LINE;
      else s = SCAN_LINE;
    }
    this.scanState = s;
    this.scanCount = n;
    return s === SCAN_DONE ? i : -1;
  }

  // ---- driving llhttp ---------------------------------------------------------------

  execute(chunk: Uint8Array): ExecuteResult {
    if (this.error !== null) return this.error;
    if (this.ptr === 0) return this.fail('ERR_PARSER_DESTROYED', 'parser was destroyed', 0, false);
    if (this.executing) {
      // llhttp is not re-entrant; refuse without poisoning the outer call.
      return { kind: 'error', code: 'ERR_REENTRANT', reason: 'execute() called from a parser callback', offset: 0, tooLarge: false };
    }
    // The caller must resume() first; until then nothing of this chunk is consumed.
    if (this.paused !== NOT_PAUSED) return { kind: 'paused', consumed: 0 };
    this.executing = true;
    let input: WasmInput | null = null;
    try {
      input = loadInput(chunk);
      this.data = chunk;
      return this.run(input);
    } catch (e) {
      // Only wasm itself (or running out of its memory) can get here: our callbacks never throw.
      return this.fail('HPE_INTERNAL', `llhttp threw: ${messageOf(e)}`, 0, false);
    } finally {
      if (input !== null) releaseInput(input);
      this.data = EMPTY;
      this.executing = false;
      if (this.destroyPending) this.destroy();
    }
  }

  private run(input: WasmInput): ExecuteResult {
    const ptr = this.ptr;
    const length = this.data.length;
    let from = 0;
    for (;;) {
      this.scanPos = from;
      // Empty input still runs llhttp: after a pause at headers complete, the
      // message-complete that follows needs no bytes and fires here.
      const ret = llhttpExecute(ptr, this, input, from, length);
      if (ret === HPE_OK) break;
      const pos = errorOffset(ptr, input);
      if (ret === HPE_PAUSED) {
        if (this.internalPause) {
          this.internalPause = false;
          llhttp().llhttp_resume(ptr);
          if (pos >= length) return OK;
          from = pos;
          continue;
        }
        this.paused = PAUSED;
        return { kind: 'paused', consumed: pos };
      }
      if (ret === HPE_PAUSED_UPGRADE) {
        this.paused = PAUSED_UPGRADE;
        return { kind: 'paused', consumed: pos };
      }
      return this.llhttpError(ret, pos);
    }
    // All of the input consumed and the head still open: carry the scanner on, and keep
    // the open token's bytes, which the caller may reuse once we return.
    if (this.phase !== BODY) {
      this.scanHead(this.scanPos);
      if (this.phase === HEAD) this.saveToken();
    }
    return OK;
  }

  finish(): ExecuteResult {
    if (this.error !== null) return this.error;
    if (this.ptr === 0) return this.fail('ERR_PARSER_DESTROYED', 'parser was destroyed', 0, false);
    if (this.executing) {
      return { kind: 'error', code: 'ERR_REENTRANT', reason: 'finish() called from a parser callback', offset: 0, tooLarge: false };
    }
    // llhttp_finish is a no-op while paused; make that visible instead of silently ok.
    if (this.paused !== NOT_PAUSED) return { kind: 'paused', consumed: 0 };
    this.executing = true;
    this.inFinish = true;
    try {
      const ret = llhttpFinish(this.ptr, this);
      // A 'pause' from onMessageComplete at EOF has nothing left to pause.
      if (ret === HPE_OK || ret === HPE_PAUSED) return OK;
      return this.llhttpError(ret, 0);
    } catch (e) {
      return this.fail('HPE_INTERNAL', `llhttp threw: ${messageOf(e)}`, 0, false);
    } finally {
      this.inFinish = false;
      this.executing = false;
      if (this.destroyPending) this.destroy();
    }
  }

  resume(): void {
    if (this.ptr === 0 || this.executing) return;
    if (this.paused === PAUSED) llhttp().llhttp_resume(this.ptr);
    else if (this.paused === PAUSED_UPGRADE) llhttp().llhttp_resume_after_upgrade(this.ptr);
    this.paused = NOT_PAUSED;
  }

  destroy(): void {
    const ptr = this.ptr;
    if (ptr === 0) return;
    // Freeing the llhttp struct while llhttp runs on it would be use-after-free.
    if (this.executing) {
      this.destroyPending = true;
      return;
    }
    this.destroyPending = false;
    this.ptr = 0;
    this.carry = null;
    llhttp().llhttp_free(ptr);
  }

  // ---- errors -----------------------------------------------------------------------

  private llhttpError(code: number, offset: number): ExecuteResult {
    if (this.tooLargeHit) return this.fail('HPE_HEADER_OVERFLOW', this.overReason(), offset, true);
    if (this.didThrow) {
      return this.fail(errorName(code), `callback threw: ${messageOf(this.thrown)}`, offset, false);
    }
    // llhttp sets a reason for every error it raises itself.
    const reason = code > 0 && ERROR_NAMES[code] !== undefined ? errorReason(this.ptr) : '';
    return this.fail(errorName(code), reason, offset, false);
  }

  private overReason(): string {
    return this.headerCount > this.limits.maxHeadersCount
      ? `more than ${this.limits.maxHeadersCount} headers`
      : `headers larger than ${this.limits.maxHeaderBytes} bytes`;
  }

  /** Latch the first error: every later execute()/finish() returns it again. */
  private fail(code: string, reason: string, offset: number, tooLarge: boolean): ExecuteResult {
    this.error = { kind: 'error', code, reason, offset, tooLarge };
    return this.error;
  }
}

/**
 * One HTTP/1 parser (one per connection direction).
 *
 * execute() never throws. Results:
 *  - ok: the whole chunk was consumed.
 *  - paused: a callback returned 'pause' (or llhttp paused for CONNECT/Upgrade, see
 *    `ParsedHead.upgrade`); `consumed` bytes of this chunk were parsed. Call resume()
 *    and then execute(chunk.subarray(consumed)) -- also when that rest is empty, since
 *    a pause at headers complete still owes onMessageComplete for a body-less message.
 *    After an upgrade pause the rest is tunnel data, not HTTP. While paused, execute()
 *    and finish() consume nothing and return { kind: 'paused', consumed: 0 }.
 *  - error: latched; later calls return the same result. tooLarge means the header
 *    limits were exceeded (answer 431).
 */
export class HttpParser {
  readonly #core: ParserCore;

  constructor(kind: ParserKind, callbacks: ParserCallbacks, limits: ParserLimits) {
    this.#core = new ParserCore(kind, callbacks, limits);
  }

  execute(chunk: Uint8Array): ExecuteResult {
    return this.#core.execute(chunk);
  }

  resume(): void {
    this.#core.resume();
  }

  /** signal EOF (needed for responses delimited by connection close) */
  finish(): ExecuteResult {
    return this.#core.finish();
  }

  /** free the wasm parser; idempotent (deferred to the end of execute() if called from a callback) */
  destroy(): void {
    this.#core.destroy();
  }
}
