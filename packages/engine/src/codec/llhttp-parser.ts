/**
 * Our adapter over llhttp compiled to WebAssembly (npm `llhttp-wasm`).
 *
 * Envoy's HTTP/1 codec drives llhttp through its C callbacks; this file plays the same
 * role for ProxyScope. It runs in Node and in browsers, so it uses only Uint8Array,
 * TextDecoder and WebAssembly (via the package) -- no `node:` modules, no Buffer.
 *
 * The package is a thin wrapper with a few sharp edges that we work around here
 * without touching node_modules:
 *
 *  - Span callbacks (url, status, header field, header value) arrive in pieces when a
 *    token straddles two `execute()` calls. The package pushes every piece as a new
 *    header entry and overwrites `url`/`statusMessage` with the last piece. We replace
 *    those properties on our Parser instance with accessors (class fields are own,
 *    configurable properties, so `Object.defineProperty` may redefine them) and
 *    glue the pieces back together ourselves.
 *  - The package decodes each piece separately as UTF-8, so a multi-byte character
 *    split across `execute()` calls becomes two U+FFFD. When that can have happened
 *    we re-read the affected head from its raw bytes (see `reparseHead`).
 *  - `createParser(TYPE.REQUEST)` looks the number up as a *name* in the TYPE table,
 *    gets `undefined` and silently builds a BOTH parser; we pass the name instead.
 *  - `getErrorName()` traps (`unreachable`) for codes llhttp does not know, e.g. the -1
 *    that `llhttp_finish` passes through from a failing callback; we name codes from
 *    the package's ERROR table in JS instead.
 *  - A JS exception thrown out of a wasm import unwinds through llhttp and skips the
 *    package's `free()` of the input copy, leaving the parser mid-state. So no user
 *    callback may throw into wasm: we catch, remember the error, and return -1 so
 *    llhttp stops with a callback error.
 *  - The span callbacks' return values are ignored by the package, so header limits
 *    cannot abort there; we count as pieces arrive and abort at the next point that
 *    can (on_headers_complete) or at the end of the chunk.
 *  - llhttp trims leading whitespace of header values but not trailing whitespace;
 *    RFC 9110 §5.5 excludes both from the field value, so we trim the trailing part.
 */
import { createParser, METHODS, type HeadersComplete, type Parser } from 'llhttp-wasm';
import { ERROR } from 'llhttp-wasm/out/constants.js';

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
  onBody(chunk: Uint8Array): CallbackResult;
  onMessageComplete(): CallbackResult;
}

export interface ParserLimits {
  /** url (or reason phrase) + header names + header values, in characters */
  maxHeaderBytes: number;
  maxHeadersCount: number;
}

export type ExecuteResult =
  | { kind: 'ok' }
  | { kind: 'paused'; consumed: number }
  | { kind: 'error'; code: string; reason: string; offset: number; tooLarge: boolean };

// ---------------------------------------------------------------------------------
// Constants read once from the package so the hot path compares small integers.

const HPE_OK = ERROR.OK;
const HPE_PAUSED = ERROR.PAUSED;
const HPE_PAUSED_UPGRADE = ERROR.PAUSED_UPGRADE;
/** What a pausable llhttp callback returns to make llhttp fail with a callback error. */
const CB_ERROR = -1;
/** What on_headers_complete returns to set F_SKIPBODY (no body follows this head). */
const CB_SKIP_BODY = 1;

/** llhttp method number -> name, e.g. 1 -> 'GET'. */
const METHOD_NAMES: string[] = [];
for (const name of Object.keys(METHODS)) METHOD_NAMES[METHODS[name]] = name;

/** llhttp error number -> 'HPE_' name, without calling into wasm (see header note). */
const ERROR_NAMES: string[] = [];
for (const name of Object.keys(ERROR)) ERROR_NAMES[ERROR[name]] = `HPE_${name}`;

function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `HPE_UNKNOWN_${code}`;
}

const OK: ExecuteResult = Object.freeze({ kind: 'ok' }) as ExecuteResult;
const EMPTY = new Uint8Array(0);
/** Same options as the package (UTF-8, replacement, BOM stripped) so re-reads agree. */
const utf8 = new TextDecoder();

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

// Message phases. The head scanner and the piece handlers only run outside BODY.
const IDLE = 0; // between messages (llhttp skips stray CR/LF here)
const HEAD = 1; // after on_message_begin, until on_headers_complete
const BODY = 2; // after on_headers_complete, until on_message_complete

// Which kind of span piece arrived last, to tell "continue this token" from "new token".
const PIECE_NONE = 0;
const PIECE_FIELD = 1;
const PIECE_VALUE = 2;

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

// ---------------------------------------------------------------------------------
// Property hooks on the package's Parser instance. They are shared functions (no
// per-parser or per-call closures); each finds its adapter through a symbol-keyed
// back reference stored on the Parser.

const CORE = Symbol('proxyscope.llhttp.core');
type HookedParser = Parser & { [CORE]: ParserCore };

/**
 * Stands in for `parser.headerFields` / `parser.headerValues`. The package only
 * calls `push(piece)` while parsing and reads `length` in on_headers_complete to build
 * its own `rawHeaders`; `length` stays 0 so that copy is skipped (we do not use it).
 */
class PieceSink {
  readonly length = 0;
  constructor(
    private readonly core: ParserCore,
    private readonly isValue: boolean,
  ) {}
  push(piece: string): number {
    if (this.isValue) this.core.valuePiece(piece);
    else this.core.fieldPiece(piece);
    return 0;
  }
}

const HOOKS: PropertyDescriptorMap = {
  url: {
    configurable: true,
    get(this: HookedParser) {
      return this[CORE].url;
    },
    set(this: HookedParser, piece: unknown) {
      // The package also assigns '' here when a message begins; that lands while we
      // are IDLE and is ignored (our own reset runs in on_message_begin).
      if (typeof piece === 'string') this[CORE].startLinePiece(piece, true);
    },
  },
  statusMessage: {
    configurable: true,
    get(this: HookedParser) {
      return this[CORE].status;
    },
    set(this: HookedParser, piece: unknown) {
      if (typeof piece === 'string') this[CORE].startLinePiece(piece, false);
    },
  },
  headerFields: {
    configurable: true,
    get(this: HookedParser) {
      return this[CORE].fieldSink;
    },
    set() {
      // The package's per-message reset (`= []`); our sink stays in place.
    },
  },
  headerValues: {
    configurable: true,
    get(this: HookedParser) {
      return this[CORE].valueSink;
    },
    set() {},
  },
};

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Trim trailing SP/HTAB (llhttp already skipped the leading ones). */
function trimEnd(v: string): string {
  let end = v.length;
  while (end > 0) {
    const c = v.charCodeAt(end - 1);
    if (c !== SP && c !== HTAB) break;
    end--;
  }
  return end === v.length ? v : v.slice(0, end);
}

// ---------------------------------------------------------------------------------

/**
 * All state and llhttp callbacks. Kept apart from the exported class so the piece
 * handlers the property hooks call are not part of HttpParser's public surface.
 */
class ParserCore {
  parser: Parser | null;
  readonly isRequest: boolean;
  readonly fieldSink: PieceSink;
  readonly valueSink: PieceSink;

  // Message being assembled.
  phase = IDLE;
  url = '';
  status = '';
  headers: Array<[string, string]> = [];
  private cur: [string, string] | null = null;
  private lastPiece = PIECE_NONE;
  private upgrade = false;

  // Header limits, counted as pieces arrive.
  private spanChars = 0;
  private headerCount = 0;
  private over = false;

  // Head-end scanner over the bytes handed to llhttp (for ParsedHead.headerBytes).
  private data: Uint8Array = EMPTY; // bytes in the current llhttp_execute call
  private scanPos = 0; // next unscanned index in `data`
  private scanState = SCAN_SKIP;
  private scanCount = 0;

  // Raw bytes of a head that spans several execute() calls, kept only so a split
  // multi-byte character can be decoded correctly (see reparseHead).
  private raw: Uint8Array | null = null;
  private rawLen = 0;
  private rawLost = false;

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
    this.fieldSink = new PieceSink(this, false);
    this.valueSink = new PieceSink(this, true);
    // The package resolves its argument with TYPE[arg], i.e. by name (see header).
    const parser = createParser((this.isRequest ? 'REQUEST' : 'RESPONSE') as unknown as number);
    (parser as HookedParser)[CORE] = this;
    Object.defineProperties(parser, HOOKS);
    // Bound once per parser; the package calls these for every event.
    parser.onMessageBegin = this.onMessageBegin.bind(this);
    parser.onHeadersComplete = this.onHeadersComplete.bind(this);
    parser.onBody = this.onBody.bind(this);
    parser.onMessageComplete = this.onMessageComplete.bind(this);
    this.parser = parser;
  }

  // ---- span pieces (called through the property hooks) ----------------------------

  private countPiece(n: number): void {
    this.spanChars += n;
    if (this.spanChars > this.limits.maxHeaderBytes) this.over = true;
  }

  startLinePiece(piece: string, isUrl: boolean): void {
    if (this.phase !== HEAD) return;
    this.countPiece(piece.length);
    // Once over the limit we only count: the message is going to be rejected, and
    // not storing keeps memory bounded even inside one huge chunk.
    if (this.over) return;
    // The url (or reason phrase) is one contiguous span, so every piece continues it.
    if (isUrl) this.url += piece;
    else this.status += piece;
  }

  fieldPiece(piece: string): void {
    if (this.phase !== HEAD) return; // trailers: validated by llhttp, then dropped
    this.countPiece(piece.length);
    if (this.lastPiece === PIECE_FIELD) {
      // A field piece right after a field piece: the same name, split by a chunk edge.
      if (!this.over) this.cur![0] += piece;
      return;
    }
    this.lastPiece = PIECE_FIELD;
    if (++this.headerCount > this.limits.maxHeadersCount) this.over = true;
    if (this.over) {
      this.cur = null;
      return;
    }
    this.cur = [piece, ''];
    this.headers.push(this.cur);
  }

  valuePiece(piece: string): void {
    if (this.phase !== HEAD) return;
    this.countPiece(piece.length);
    // llhttp reports an empty value as one empty piece, so every header gets >= 1.
    const cont = this.lastPiece === PIECE_VALUE;
    this.lastPiece = PIECE_VALUE;
    if (this.over || this.cur === null) return;
    if (cont) this.cur[1] += piece;
    else this.cur[1] = piece;
  }

  // ---- llhttp callbacks ---------------------------------------------------------------

  private onMessageBegin(): number {
    // The package has just assigned its resets through our hooks (ignored while IDLE).
    this.phase = HEAD;
    this.url = '';
    this.status = '';
    this.headers = []; // fresh: the previous one was handed to the caller
    this.cur = null;
    this.lastPiece = PIECE_NONE;
    this.spanChars = 0;
    this.headerCount = 0;
    this.over = false;
    this.upgrade = false;
    try {
      this.cb.onMessageBegin();
    } catch (e) {
      return this.fromThrow(e);
    }
    return HPE_OK;
  }

  private onHeadersComplete(msg: HeadersComplete): number {
    if (this.over) {
      this.tooLargeHit = true;
      return CB_ERROR;
    }
    // Find where the head ends inside the bytes llhttp is executing.
    const end = this.scanHead(this.data, this.scanPos);
    this.scanPos = end < 0 ? this.data.length : end;
    const headerBytes = this.scanCount;
    // Pieces were cut at execute() edges only if the head spanned several of them.
    if (this.rawLen > 0 && !this.rawLost) this.repairSplitUtf8(end < 0 ? this.data.length : end);
    this.resetRaw();

    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) headers[i][1] = trimEnd(headers[i][1]);
    this.phase = BODY;
    this.upgrade = msg.upgrade;
    const head: ParsedHead = this.isRequest
      ? {
          method: METHOD_NAMES[msg.method ?? -1] ?? String(msg.method),
          url: this.url,
          versionMajor: msg.versionMajor,
          versionMinor: msg.versionMinor,
          headers,
          headerBytes,
          shouldKeepAlive: msg.shouldKeepAlive,
          upgrade: msg.upgrade,
        }
      : {
          statusCode: msg.statusCode,
          statusMessage: this.status,
          versionMajor: msg.versionMajor,
          versionMinor: msg.versionMinor,
          headers,
          headerBytes,
          shouldKeepAlive: msg.shouldKeepAlive,
          upgrade: msg.upgrade,
        };
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

  private onBody(chunk: Uint8Array): number {
    let r: CallbackResult;
    try {
      r = this.cb.onBody(chunk);
    } catch (e) {
      return this.fromThrow(e);
    }
    return r === 'pause' ? HPE_PAUSED : HPE_OK;
  }

  private onMessageComplete(): number {
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
   * Advance the head-end scanner over data[from..]; returns the index just after the
   * blank line's LF, or -1 if the head does not end in this data. llhttp has already
   * validated what we scan (strict mode: CRLF line ends, no obs-fold), so the first
   * empty line after the start line is the end; a bare LF is tolerated anyway.
   */
  private scanHead(data: Uint8Array, from: number): number {
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

  /** Keep the head bytes of `data` (from scanPos) because the head continues later. */
  private saveRaw(data: Uint8Array): void {
    if (this.rawLost) return;
    const add = data.length;
    const need = this.rawLen + add;
    // Whitespace is not counted by the limits, so cap the copy separately.
    if (need > this.limits.maxHeaderBytes * 2 + 16384) {
      this.rawLost = true;
      this.raw = null;
      this.rawLen = 0;
      return;
    }
    if (this.raw === null || this.raw.length < need) {
      const grown = new Uint8Array(Math.max(need, (this.raw?.length ?? 0) * 2, 256));
      if (this.raw !== null) grown.set(this.raw.subarray(0, this.rawLen));
      this.raw = grown;
    }
    this.raw.set(data, this.rawLen);
    this.rawLen = need;
  }

  private resetRaw(): void {
    this.rawLen = 0;
    this.rawLost = false;
    if (this.raw !== null && this.raw.length > 4096) this.raw = null; // do not hoard
  }

  /**
   * If a piece was decoded with a split multi-byte character (U+FFFD), re-read the
   * whole head from raw bytes. Only reached when the head spanned several execute()
   * calls, so the usual one-chunk head never pays for it.
   */
  private repairSplitUtf8(endInData: number): void {
    let lossy = this.url.includes('\uFFFD') || this.status.includes('\uFFFD');
    for (let i = 0; !lossy && i < this.headers.length; i++) {
      lossy = this.headers[i][0].includes('\uFFFD') || this.headers[i][1].includes('\uFFFD');
    }
    if (!lossy) return;
    const all = new Uint8Array(this.rawLen + endInData);
    all.set(this.raw!.subarray(0, this.rawLen));
    all.set(this.data.subarray(0, endInData), this.rawLen);
    const again = reparseHead(all, this.isRequest);
    if (again === null || again.headers.length !== this.headers.length) return; // keep llhttp's
    if (this.isRequest) this.url = again.startToken;
    else this.status = again.startToken;
    for (let i = 0; i < again.headers.length; i++) {
      this.headers[i][0] = again.headers[i][0];
      this.headers[i][1] = again.headers[i][1];
    }
  }

  // ---- driving llhttp ---------------------------------------------------------------

  execute(chunk: Uint8Array): ExecuteResult {
    if (this.error !== null) return this.error;
    const parser = this.parser;
    if (parser === null) return this.fail('ERR_PARSER_DESTROYED', 'parser was destroyed', 0, false);
    if (this.executing) {
      // llhttp is not re-entrant; refuse without poisoning the outer call.
      return { kind: 'error', code: 'ERR_REENTRANT', reason: 'execute() called from a parser callback', offset: 0, tooLarge: false };
    }
    // The caller must resume() first; until then nothing of this chunk is consumed.
    if (this.paused !== NOT_PAUSED) return { kind: 'paused', consumed: 0 };
    this.executing = true;
    try {
      return this.run(parser, chunk);
    } catch (e) {
      // Only the package or wasm itself can get here (our callbacks never throw).
      return this.fail('HPE_INTERNAL', `llhttp-wasm threw: ${messageOf(e)}`, 0, false);
    } finally {
      this.data = EMPTY;
      this.executing = false;
      if (this.destroyPending) this.destroy();
    }
  }

  private run(parser: Parser, chunk: Uint8Array): ExecuteResult {
    let offset = 0; // where `data` starts inside `chunk`
    let data = chunk;
    for (;;) {
      this.data = data;
      this.scanPos = 0;
      // Empty input still runs llhttp: after a pause at headers complete, the
      // message-complete that follows needs no bytes and fires here.
      const ret = parser.execute(data);
      if (ret === HPE_OK) break;
      const pos = parser.getErrorPosition();
      if (ret === HPE_PAUSED) {
        if (this.internalPause) {
          this.internalPause = false;
          parser.resume();
          offset += pos;
          if (offset >= chunk.length) return OK;
          data = chunk.subarray(offset);
          continue;
        }
        this.paused = PAUSED;
        return { kind: 'paused', consumed: offset + pos };
      }
      if (ret === HPE_PAUSED_UPGRADE) {
        this.paused = PAUSED_UPGRADE;
        return { kind: 'paused', consumed: offset + pos };
      }
      return this.llhttpError(ret, offset + pos);
    }
    // All of `data` consumed and the head still open: carry the scanner, keep the raw
    // bytes, and stop a slow drip of header pieces that is already over the limit.
    if (this.phase !== BODY) {
      const from = this.scanPos;
      this.scanHead(data, from);
      if (this.phase === HEAD) {
        if (this.over) {
          return this.fail('HPE_HEADER_OVERFLOW', this.overReason(), chunk.length, true);
        }
        this.saveRaw(from === 0 ? data : data.subarray(from));
      }
    }
    return OK;
  }

  finish(): ExecuteResult {
    if (this.error !== null) return this.error;
    const parser = this.parser;
    if (parser === null) return this.fail('ERR_PARSER_DESTROYED', 'parser was destroyed', 0, false);
    if (this.executing) {
      return { kind: 'error', code: 'ERR_REENTRANT', reason: 'finish() called from a parser callback', offset: 0, tooLarge: false };
    }
    // llhttp_finish is a no-op while paused; make that visible instead of silently ok.
    if (this.paused !== NOT_PAUSED) return { kind: 'paused', consumed: 0 };
    this.executing = true;
    this.inFinish = true;
    try {
      const ret = parser.finish();
      // A 'pause' from onMessageComplete at EOF has nothing left to pause.
      if (ret === HPE_OK || ret === HPE_PAUSED) return OK;
      return this.llhttpError(ret, 0);
    } catch (e) {
      return this.fail('HPE_INTERNAL', `llhttp-wasm threw: ${messageOf(e)}`, 0, false);
    } finally {
      this.inFinish = false;
      this.executing = false;
      if (this.destroyPending) this.destroy();
    }
  }

  resume(): void {
    const parser = this.parser;
    if (parser === null || this.executing) return;
    if (this.paused === PAUSED) parser.resume();
    else if (this.paused === PAUSED_UPGRADE) parser.resumeAfterUpgrade();
    this.paused = NOT_PAUSED;
  }

  destroy(): void {
    const parser = this.parser;
    if (parser === null) return;
    // Freeing the llhttp struct while llhttp runs on it would be use-after-free.
    if (this.executing) {
      this.destroyPending = true;
      return;
    }
    this.destroyPending = false;
    this.parser = null;
    this.raw = null;
    parser.destroy();
  }

  // ---- errors -----------------------------------------------------------------------

  private llhttpError(code: number, offset: number): ExecuteResult {
    if (this.tooLargeHit) return this.fail('HPE_HEADER_OVERFLOW', this.overReason(), offset, true);
    if (this.didThrow) {
      return this.fail(errorName(code), `callback threw: ${messageOf(this.thrown)}`, offset, false);
    }
    // Reading the reason is safe for codes llhttp produced itself (it sets a reason).
    const reason = (code > 0 && ERROR_NAMES[code] !== undefined ? this.parser?.getErrorReason(code) : undefined) ?? '';
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
 * Minimal re-read of a head llhttp has already accepted (strict mode: CRLF line ends,
 * no obs-fold, `name:` without whitespace before the colon). Used only to recover
 * split UTF-8; returns null if the bytes do not look as expected.
 */
function reparseHead(
  raw: Uint8Array,
  isRequest: boolean,
): { startToken: string; headers: Array<[string, string]> } | null {
  let i = 0;
  while (i < raw.length && (raw[i] === CR || raw[i] === LF)) i++;
  const lineEnd = (from: number): [number, number] | null => {
    const lf = raw.indexOf(LF, from);
    if (lf < 0) return null;
    return [lf > from && raw[lf - 1] === CR ? lf - 1 : lf, lf + 1];
  };
  const first = lineEnd(i);
  if (first === null) return null;
  const [stop, next] = first;
  let startToken: string;
  let a = raw.indexOf(SP, i);
  if (a < 0 || a >= stop) {
    if (isRequest) return null;
    startToken = ''; // "HTTP/1.1 200" with no reason phrase
  } else if (isRequest) {
    while (a < stop && raw[a] === SP) a++;
    const b = raw.lastIndexOf(SP, stop - 1); // the space before "HTTP/x.y"
    if (b < a) return null;
    startToken = utf8.decode(raw.subarray(a, b));
  } else {
    while (a < stop && raw[a] === SP) a++;
    const b = raw.indexOf(SP, a); // after the status code
    startToken = b < 0 || b >= stop ? '' : utf8.decode(raw.subarray(b + 1, stop));
  }
  const headers: Array<[string, string]> = [];
  i = next;
  for (;;) {
    const line = lineEnd(i);
    if (line === null) return null;
    const [end, after] = line;
    if (end === i) break; // the blank line
    const colon = raw.indexOf(COLON, i);
    if (colon < 0 || colon >= end) return null;
    let vs = colon + 1;
    while (vs < end && (raw[vs] === SP || raw[vs] === HTAB)) vs++;
    let ve = end;
    while (ve > vs && (raw[ve - 1] === SP || raw[ve - 1] === HTAB)) ve--;
    headers.push([utf8.decode(raw.subarray(i, colon)), utf8.decode(raw.subarray(vs, ve))]);
    i = after;
  }
  return { startToken, headers };
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
