/**
 * Envoy access log format strings (`%COMMAND(arg):maxlen%` substitution).
 *
 * `compileFormat` parses once, at config load, into a list of small part functions; a log
 * line is then just those parts called in order. Errors (unknown operator, bad syntax)
 * surface at compile time, as Envoy rejects a bad format when it loads the config.
 */
import { formatResponseFlags, formatResponseFlagsLong } from '../stats/response-flags';

/** Envoy's format when an access logger has none (design notes section 5.2). */
export const ENVOY_DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ' +
  '%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ' +
  '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

/**
 * Header lookup by lower-case name. Request getters also answer the pseudo-headers
 * `:method`, `:path`, `:authority` and `:scheme`.
 */
export type HeaderGetter = (name: string) => string | undefined;

/** Everything a format can print about one downstream request (one entry per request). */
export interface AccessLogContext {
  /** epoch ms when the first request byte arrived */
  startTime: number;
  requestHeaders: HeaderGetter;
  responseHeaders: HeaderGetter;
  /** 'HTTP/1.1' */
  protocol: string | undefined;
  /** final status sent downstream; 0 when nothing was sent */
  responseCode: number;
  responseCodeDetails?: string;
  responseFlags: ReadonlySet<string> | readonly string[];
  /** request body bytes */
  bytesReceived: number;
  /** response body bytes */
  bytesSent: number;
  /** start to last byte sent downstream */
  durationMs?: number;
  /** start to last request byte received */
  requestDurationMs?: number;
  /** start to first upstream response byte */
  responseDurationMs?: number;
  /** last attempt's upstream `ip:port` */
  upstreamHost?: string;
  upstreamCluster?: string;
  routeName?: string;
  /** 'ip:port' (IPv6 as '[addr]:port') */
  downstreamRemoteAddress?: string;
  downstreamLocalAddress?: string;
  upstreamTransportFailureReason?: string;
  /** the SNI of a TLS downstream, and what its handshake settled */
  requestedServerName?: string;
  downstreamTlsVersion?: string;
  downstreamTlsCipher?: string;
  downstreamPeerSubject?: string;
  downstreamPeerUriSan?: string;
  /** upstream attempts made (1 + retries); absent means 0 */
  attemptCount?: number;
  /** the body of the local reply being formatted (%LOCAL_REPLY_BODY%); only local_reply_config sets it */
  localReplyBody?: string;
}

export type AccessLogFormatter = (ctx: AccessLogContext) => string;

/** A format string Envoy would reject. `command` is set when one operator is to blame. */
export class AccessLogFormatError extends Error {
  constructor(
    message: string,
    readonly format: string,
    readonly position: number,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'AccessLogFormatError';
  }
}

/** Printed for any value that is not set. */
const UNSET = '-';

/** A part yields its text, or undefined for "not set" (printed as `-`). */
type Part = (ctx: AccessLogContext) => string | undefined;

type Syntax =
  | 'command-only' // %PROTOCOL%
  | 'params-required-length-allowed' // %REQ(X?Y):Z%
  | 'params-optional'; // %START_TIME% or %START_TIME(fmt)%

interface Operator {
  syntax: Syntax;
  build(arg: string | undefined, maxLength: number | undefined): Part;
}

const text = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);
const integer = (value: number | undefined): string | undefined =>
  value === undefined ? undefined : String(Math.floor(value));
const simple = (read: Part): Operator => ({ syntax: 'command-only', build: () => read });

const OPERATORS: Record<string, Operator> = {
  START_TIME: { syntax: 'params-optional', build: (arg) => startTime(arg) },
  REQ: { syntax: 'params-required-length-allowed', build: (arg, max) => header('REQ', arg!, max, 'requestHeaders') },
  RESP: { syntax: 'params-required-length-allowed', build: (arg, max) => header('RESP', arg!, max, 'responseHeaders') },
  PROTOCOL: simple((c) => text(c.protocol)),
  RESPONSE_CODE: simple((c) => String(c.responseCode)),
  RESPONSE_CODE_DETAILS: simple((c) => text(c.responseCodeDetails)),
  RESPONSE_FLAGS: simple((c) => formatResponseFlags(c.responseFlags)),
  RESPONSE_FLAGS_LONG: simple((c) => formatResponseFlagsLong(c.responseFlags)),
  BYTES_RECEIVED: simple((c) => String(c.bytesReceived)),
  BYTES_SENT: simple((c) => String(c.bytesSent)),
  DURATION: simple((c) => integer(c.durationMs)),
  REQUEST_DURATION: simple((c) => integer(c.requestDurationMs)),
  RESPONSE_DURATION: simple((c) => integer(c.responseDurationMs)),
  UPSTREAM_HOST: simple((c) => text(c.upstreamHost)),
  UPSTREAM_CLUSTER: simple((c) => text(c.upstreamCluster)),
  ROUTE_NAME: simple((c) => text(c.routeName)),
  DOWNSTREAM_REMOTE_ADDRESS: simple((c) => text(c.downstreamRemoteAddress)),
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: simple((c) => withoutPort(text(c.downstreamRemoteAddress))),
  DOWNSTREAM_LOCAL_ADDRESS: simple((c) => text(c.downstreamLocalAddress)),
  // Recent Envoy swaps spaces for underscores so the reason stays one token in a log line.
  UPSTREAM_TRANSPORT_FAILURE_REASON: simple((c) => text(c.upstreamTransportFailureReason)?.replaceAll(' ', '_')),
  UPSTREAM_REQUEST_ATTEMPT_COUNT: simple((c) => String(c.attemptCount ?? 0)),
  REQUESTED_SERVER_NAME: simple((c) => text(c.requestedServerName)),
  DOWNSTREAM_TLS_VERSION: simple((c) => text(c.downstreamTlsVersion)),
  DOWNSTREAM_TLS_CIPHER: simple((c) => text(c.downstreamTlsCipher)),
  DOWNSTREAM_PEER_SUBJECT: simple((c) => text(c.downstreamPeerSubject)),
  DOWNSTREAM_PEER_URI_SAN: simple((c) => text(c.downstreamPeerUriSan)),
  LOCAL_REPLY_BODY: simple((c) => c.localReplyBody ?? ''),
};

/** Operators whose value is a number: in a JSON format they stay numbers (Envoy's typed JSON values). */
const NUMERIC = new Set([
  'RESPONSE_CODE', 'BYTES_RECEIVED', 'BYTES_SENT', 'DURATION', 'REQUEST_DURATION', 'RESPONSE_DURATION', 'UPSTREAM_REQUEST_ATTEMPT_COUNT',
]);

/** Operator names this build understands, for error messages and docs. */
export const SUPPORTED_OPERATORS: readonly string[] = Object.keys(OPERATORS).sort();

/**
 * Envoy's command syntax: `%` NAME [`(` arg `)`] [`:` maxlen] `%`. The argument is the
 * shortest run up to a `)` that is followed by the rest of the command, so it may itself
 * contain `%` (as in `%START_TIME(%Y)%`).
 */
const COMMAND = /^%([A-Z0-9_]+)(?:\((.*?)\))?(?::([0-9]+))?%/s;

/**
 * Parse `format` once; the returned function renders one log line per call. With
 * `omitEmptyValues` (SubstitutionFormatString.omit_empty_values) a value that is not set
 * prints as nothing instead of `-`.
 */
export function compileFormat(format: string, options: { omitEmptyValues?: boolean } = {}): AccessLogFormatter {
  const parts = parse(format);
  const unset = options.omitEmptyValues ? '' : UNSET;
  return (ctx) => {
    let line = '';
    for (const part of parts) line += part(ctx) ?? unset;
    return line;
  };
}

/**
 * One value of a JSON format (json_format): a string that is a single operator keeps that
 * operator's type and is undefined when not set; any other string renders as text.
 */
export function compileJsonValue(format: string): (ctx: AccessLogContext) => string | number | undefined {
  const whole = COMMAND.exec(format);
  if (whole && whole[0].length === format.length) {
    const [part] = parse(format);
    const numeric = NUMERIC.has(whole[1]!);
    return (ctx) => {
      const value = part!(ctx);
      return value !== undefined && numeric && /^\d+$/.test(value) ? Number(value) : value;
    };
  }
  const render = compileFormat(format);
  return (ctx) => render(ctx);
}

function parse(format: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal === '') return;
    const fixed = literal;
    parts.push(() => fixed);
    literal = '';
  };

  let pos = 0;
  while (pos < format.length) {
    const ch = format[pos]!;
    if (ch !== '%') {
      literal += ch;
      pos++;
    } else if (format[pos + 1] === '%') {
      literal += '%'; // `%%` is a literal percent sign
      pos += 2;
    } else {
      flush();
      const match = COMMAND.exec(format.slice(pos));
      if (!match) {
        throw new AccessLogFormatError(
          `Incorrect access log format: ${JSON.stringify(format)}. Couldn't find valid command at position ${pos}`,
          format,
          pos,
        );
      }
      parts.push(buildCommand(format, pos, match[1]!, match[2], match[3]));
      pos += match[0].length;
    }
  }
  flush();
  return parts;
}

function buildCommand(
  format: string,
  pos: number,
  name: string,
  arg: string | undefined,
  length: string | undefined,
): Part {
  const fail = (why: string): AccessLogFormatError =>
    new AccessLogFormatError(`Access log format ${JSON.stringify(format)}, position ${pos}: ${why}`, format, pos, name);
  const op = OPERATORS[name];
  if (!op) {
    throw fail(
      `unknown command operator %${name}% (Envoy: "Not supported field in StreamInfo: ${name}"). ` +
        `Supported: ${SUPPORTED_OPERATORS.join(', ')}`,
    );
  }
  const hasArg = arg !== undefined && arg !== '';
  const maxLength = length === undefined ? undefined : Number(length);
  if (op.syntax === 'command-only' && (hasArg || maxLength !== undefined)) {
    throw fail(`${name} does not take any parameters or length`);
  }
  if (op.syntax === 'params-required-length-allowed' && !hasArg) throw fail(`${name} requires parameters`);
  if (op.syntax !== 'params-required-length-allowed' && maxLength !== undefined) {
    throw fail(`${name} does not allow length to be specified.`);
  }
  try {
    return op.build(hasArg ? arg : undefined, maxLength);
  } catch (err) {
    throw fail((err as Error).message);
  }
}

// ---------------------------------------------------------------------------------------
// %REQ(X?Y):Z% and %RESP(X?Y):Z%

function header(
  command: string,
  arg: string,
  maxLength: number | undefined,
  which: 'requestHeaders' | 'responseHeaders',
): Part {
  const names = arg.split('?');
  if (names.length > 2) throw new Error(`More than 1 alternative header specified in ${command}(${arg})`);
  const main = names[0]!.toLowerCase();
  const alternative = names[1]?.toLowerCase();
  if (main === '' || alternative === '') throw new Error(`${command}(${arg}) has an empty header name`);
  return (ctx) => {
    const get = ctx[which];
    // An empty header value prints as empty; only a missing header prints `-`.
    const value = get(main) ?? (alternative === undefined ? undefined : get(alternative));
    return value === undefined || maxLength === undefined ? value : value.slice(0, maxLength);
  };
}

// ---------------------------------------------------------------------------------------
// %START_TIME% and %START_TIME(strftime subset)%

/** Default form: ISO-8601 UTC with milliseconds, `2024-01-02T03:04:05.678Z`. */
function isoTime(ctx: AccessLogContext): string | undefined {
  return Number.isFinite(ctx.startTime) ? new Date(ctx.startTime).toISOString() : undefined;
}

type TimePiece = (d: Date) => string;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Fractional seconds to `digits` places; time is known to the ms, so the rest is zeros. */
const fraction = (digits: number): TimePiece => (d) =>
  pad(d.getUTCMilliseconds(), 3).padEnd(9, '0').slice(0, digits);

const SPECIFIERS: Record<string, TimePiece> = {
  Y: (d) => pad(d.getUTCFullYear(), 4),
  m: (d) => pad(d.getUTCMonth() + 1, 2),
  d: (d) => pad(d.getUTCDate(), 2),
  H: (d) => pad(d.getUTCHours(), 2),
  M: (d) => pad(d.getUTCMinutes(), 2),
  S: (d) => pad(d.getUTCSeconds(), 2),
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  f: fraction(9),
  '%': () => '%',
};

const TIME_SPECIFIER_HELP = '%Y %m %d %H %M %S %s %f %1f..%9f %%';

/** Split a strftime string into pieces once, so rendering only calls them. */
function compileTimeFormat(spec: string): TimePiece[] {
  const pieces: TimePiece[] = [];
  let consumed = 0;
  for (const m of spec.matchAll(/%([1-9]f|.)|[^%]+/gs)) {
    consumed += m[0].length;
    const letter = m[1];
    if (letter === undefined) {
      const fixed = m[0];
      pieces.push(() => fixed);
    } else if (/^[1-9]f$/.test(letter)) {
      pieces.push(fraction(Number(letter[0])));
    } else if (SPECIFIERS[letter]) {
      pieces.push(SPECIFIERS[letter]);
    } else {
      throw new Error(`START_TIME: unsupported time specifier %${letter} (supported: ${TIME_SPECIFIER_HELP})`);
    }
  }
  // Only a lone `%` at the very end escapes the loop above.
  if (consumed !== spec.length) throw new Error('START_TIME: format ends with a lone %');
  return pieces;
}

function startTime(spec: string | undefined): Part {
  if (spec === undefined) return isoTime;
  const pieces = compileTimeFormat(spec);
  return (ctx) => {
    if (!Number.isFinite(ctx.startTime)) return undefined;
    const date = new Date(ctx.startTime);
    let out = '';
    for (const p of pieces) out += p(date);
    return out;
  };
}

// ---------------------------------------------------------------------------------------

/** `10.0.0.1:5000` -> `10.0.0.1`, `[::1]:5000` -> `::1`; a bare address is returned as is. */
function withoutPort(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    return end === -1 ? address : address.slice(1, end);
  }
  const colon = address.lastIndexOf(':');
  // More than one colon without brackets is an IPv6 address with no port.
  return colon === -1 || address.indexOf(':') !== colon ? address : address.slice(0, colon);
}
