import { describe, expect, it } from 'vitest';
import {
  HttpParser,
  type CallbackResult,
  type ExecuteResult,
  type ParsedHead,
  type ParserKind,
  type ParserLimits,
} from '../src/codec/llhttp-parser.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string): Uint8Array => enc.encode(s);

const LIMITS: ParserLimits = { maxHeaderBytes: 60 * 1024, maxHeadersCount: 100 };

/** One parsed message as the callbacks saw it, body pieces joined. */
interface Message {
  head: ParsedHead | null;
  body: string;
  complete: boolean;
}

interface Options {
  limits?: ParserLimits;
  onHeaders?: (head: ParsedHead) => CallbackResult | 'skip-body';
  onBody?: (chunk: Uint8Array) => CallbackResult;
  onComplete?: () => CallbackResult;
}

/** A parser that records messages; the hooks in `opts` decide the callback results. */
function recorder(kind: ParserKind, opts: Options = {}) {
  const messages: Message[] = [];
  const parser = new HttpParser(
    kind,
    {
      onMessageBegin() {
        messages.push({ head: null, body: '', complete: false });
      },
      onHeadersComplete(head) {
        messages[messages.length - 1].head = head;
        return opts.onHeaders?.(head) ?? 'continue';
      },
      onBody(chunk) {
        messages[messages.length - 1].body += dec.decode(chunk);
        return opts.onBody?.(chunk) ?? 'continue';
      },
      onMessageComplete() {
        messages[messages.length - 1].complete = true;
        return opts.onComplete?.() ?? 'continue';
      },
    },
    opts.limits ?? LIMITS,
  );
  return { parser, messages };
}

/** Feed `chunks` in order; stop at the first non-ok result. */
function feed(parser: HttpParser, chunks: Uint8Array[]): ExecuteResult {
  for (const c of chunks) {
    const r = parser.execute(c);
    if (r.kind !== 'ok') return r;
  }
  return { kind: 'ok' };
}

function parseAll(kind: ParserKind, chunks: Uint8Array[], opts: Options = {}) {
  const { parser, messages } = recorder(kind, opts);
  const result = feed(parser, chunks);
  parser.destroy();
  return { result, messages };
}

/** The message cut in two at every byte boundary (0..n), plus one byte per call. */
function everySplit(data: Uint8Array): Array<{ label: string; chunks: Uint8Array[] }> {
  const out: Array<{ label: string; chunks: Uint8Array[] }> = [];
  for (let i = 0; i <= data.length; i++) {
    out.push({ label: `split at ${i}`, chunks: [data.subarray(0, i), data.subarray(i)] });
  }
  const single: Uint8Array[] = [];
  for (let i = 0; i < data.length; i++) single.push(data.subarray(i, i + 1));
  out.push({ label: 'one byte per execute', chunks: single });
  return out;
}

/** Parse whole, then check that every split gives exactly the same messages. */
function expectSplitInvariant(kind: ParserKind, data: Uint8Array): Message[] {
  const whole = parseAll(kind, [data]);
  expect(whole.result).toEqual({ kind: 'ok' });
  for (const { label, chunks } of everySplit(data)) {
    const split = parseAll(kind, chunks);
    expect(split.result, label).toEqual({ kind: 'ok' });
    expect(split.messages, label).toEqual(whole.messages);
  }
  return whole.messages;
}

function expectError(r: ExecuteResult): Extract<ExecuteResult, { kind: 'error' }> {
  expect(r.kind).toBe('error');
  return r as Extract<ExecuteResult, { kind: 'error' }>;
}

describe('HttpParser: requests', () => {
  it('parses a GET identically at every split, joining url/name/value pieces', () => {
    // Trailing whitespace, an empty value and a two-byte UTF-8 character exercise
    // trimming, the empty value span and the split-UTF-8 repair.
    const head =
      'GET /search?q=proxy&lang=en HTTP/1.1\r\n' +
      'Host: example.com\r\n' +
      'User-Agent: curl/8.5.0  \r\n' +
      'X-Empty:\r\n' +
      'X-Spaced:   a  b \t\r\n' +
      'X-Name: caf\u00e9\r\n' +
      'accept: */*\r\n' +
      '\r\n';
    const data = bytes(head);
    const [msg] = expectSplitInvariant('request', data);
    expect(msg.complete).toBe(true);
    expect(msg.body).toBe('');
    expect(msg.head).toEqual({
      method: 'GET',
      url: '/search?q=proxy&lang=en',
      versionMajor: 1,
      versionMinor: 1,
      headers: [
        ['Host', 'example.com'],
        ['User-Agent', 'curl/8.5.0'],
        ['X-Empty', ''],
        ['X-Spaced', 'a  b'],
        ['X-Name', 'caf\u00e9'],
        ['accept', '*/*'],
      ],
      headerBytes: data.length,
      shouldKeepAlive: true,
      upgrade: false,
    } satisfies ParsedHead);
  });

  it('does not count empty lines before the request line in headerBytes', () => {
    const { messages } = parseAll('request', [bytes('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n')]);
    expect(messages[0].head?.headerBytes).toBe('GET / HTTP/1.1\r\nHost: a\r\n\r\n'.length);
  });

  it('delivers a Content-Length body at every split', () => {
    const head = 'POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n';
    const [msg] = expectSplitInvariant('request', bytes(head + 'hello world'));
    expect(msg.head?.method).toBe('POST');
    expect(msg.head?.headerBytes).toBe(head.length);
    expect(msg.body).toBe('hello world');
    expect(msg.complete).toBe(true);
  });

  it('delivers a chunked body with chunk extensions and drops trailers, at every split', () => {
    const head = 'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n';
    const body =
      '5;name=value\r\nhello\r\n' + // extension with a value
      '1;ext\r\n \r\n' + // extension without a value
      'A;q="quoted;str"\r\n0123456789\r\n' + // hex size, quoted extension value
      '0\r\n' +
      'X-Trailer: t\r\n' +
      '\r\n';
    const [msg] = expectSplitInvariant('request', bytes(head + body));
    expect(msg.body).toBe('hello 0123456789');
    expect(msg.complete).toBe(true);
    expect(msg.head?.headers).toEqual([
      ['Host', 'a'],
      ['Transfer-Encoding', 'chunked'],
    ]);
    expect(msg.head?.headerBytes).toBe(head.length);
  });

  it('pipelined requests: pause at message complete, resume with the rest', () => {
    const first = 'GET /one HTTP/1.1\r\nHost: a\r\n\r\n';
    const second = 'POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc';
    const data = bytes(first + second);
    const { parser, messages } = recorder('request', { onComplete: () => 'pause' });

    const r1 = parser.execute(data);
    expect(r1).toEqual({ kind: 'paused', consumed: first.length });
    expect(messages).toHaveLength(1);
    expect(messages[0].head?.url).toBe('/one');
    // While paused nothing is consumed.
    expect(parser.execute(data.subarray(first.length))).toEqual({ kind: 'paused', consumed: 0 });
    expect(messages).toHaveLength(1);

    parser.resume();
    const r2 = parser.execute(data.subarray(first.length));
    expect(r2).toEqual({ kind: 'paused', consumed: second.length });
    expect(messages).toHaveLength(2);
    expect(messages[1].head?.url).toBe('/two');
    expect(messages[1].head?.headerBytes).toBe(second.length - 3);
    expect(messages[1].body).toBe('abc');

    parser.resume();
    expect(parser.execute(new Uint8Array(0))).toEqual({ kind: 'ok' });
    parser.destroy();
  });

  it('pipelined requests without pausing: same messages and headerBytes at every split', () => {
    const first = 'GET /one HTTP/1.1\r\nHost: a\r\n\r\n';
    const second = 'POST /two HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi';
    const third = 'GET /three HTTP/1.1\r\nX: y\r\n\r\n';
    const messages = expectSplitInvariant('request', bytes(`${first}${second}\r\n${third}`));
    expect(messages.map((m) => [m.head?.url, m.head?.headerBytes, m.body])).toEqual([
      ['/one', first.length, ''],
      ['/two', second.length - 2, 'hi'],
      ['/three', third.length, ''],
    ]);
  });

  it('pause at headers complete: resume and execute the (empty) rest to get message complete', () => {
    const req = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    const { parser, messages } = recorder('request', { onHeaders: () => 'pause' });
    expect(parser.execute(bytes(req))).toEqual({ kind: 'paused', consumed: req.length });
    expect(messages[0].complete).toBe(false);
    parser.resume();
    expect(parser.execute(new Uint8Array(0))).toEqual({ kind: 'ok' });
    expect(messages[0].complete).toBe(true);
    parser.destroy();
  });

  it('pause in onBody reports the bytes consumed up to the end of that body piece', () => {
    const head = 'POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n';
    const data = bytes(head + 'abcd' + 'GET / HTTP/1.1\r\n\r\n');
    const { parser, messages } = recorder('request', { onBody: () => 'pause' });
    expect(parser.execute(data)).toEqual({ kind: 'paused', consumed: head.length + 4 });
    expect(messages[0].complete).toBe(false);
    parser.resume();
    expect(parser.execute(data.subarray(head.length + 4))).toEqual({ kind: 'ok' });
    expect(messages.map((m) => m.complete)).toEqual([true, true]);
    parser.destroy();
  });

  it('CONNECT pauses for the upgrade with consumed = end of the head', () => {
    const head = 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n';
    const { parser, messages } = recorder('request');
    expect(parser.execute(bytes(head + 'TUNNEL'))).toEqual({ kind: 'paused', consumed: head.length });
    expect(messages[0].head).toMatchObject({ method: 'CONNECT', url: 'example.com:443', upgrade: true });
    expect(messages[0].complete).toBe(true);
    parser.destroy();
  });
});

describe('HttpParser: responses', () => {
  it('204 has no body even with Content-Length; next response follows', () => {
    const a = 'HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n';
    const b = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const messages = expectSplitInvariant('response', bytes(a + b));
    expect(messages).toHaveLength(2);
    expect(messages[0].head).toMatchObject({ statusCode: 204, statusMessage: 'No Content', headerBytes: a.length });
    expect(messages[0].head?.method).toBeUndefined();
    expect(messages[0].body).toBe('');
    expect(messages[1].body).toBe('ok');
  });

  it('HEAD response: skip-body ignores Content-Length', () => {
    const a = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n';
    const b = 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
    let n = 0;
    const { result, messages } = parseAll('response', [bytes(a + b)], {
      onHeaders: () => (n++ === 0 ? 'skip-body' : 'continue'),
    });
    expect(result).toEqual({ kind: 'ok' });
    expect(messages.map((m) => [m.head?.statusCode, m.body, m.complete])).toEqual([
      [200, '', true],
      [404, '', true],
    ]);
  });

  it('100 Continue then the final response in one chunk', () => {
    const data = bytes('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
    const { messages } = parseAll('response', [data]);
    expect(messages.map((m) => [m.head?.statusCode, m.body])).toEqual([
      [100, ''],
      [200, 'x'],
    ]);
  });

  it('close-delimited body ends with finish()', () => {
    const data = bytes('HTTP/1.1 200 OK\r\nServer: s\r\n\r\nall of this until EOF');
    for (const { label, chunks } of everySplit(data)) {
      const { parser, messages } = recorder('response');
      expect(feed(parser, chunks), label).toEqual({ kind: 'ok' });
      expect(messages[0].complete, label).toBe(false);
      expect(parser.finish(), label).toEqual({ kind: 'ok' });
      expect(messages[0], label).toMatchObject({ body: 'all of this until EOF', complete: true });
      expect(messages[0].head, label).toMatchObject({ shouldKeepAlive: false, statusMessage: 'OK' });
      parser.destroy();
    }
  });

  it('finish() in the middle of a Content-Length body is an error', () => {
    const { parser } = recorder('response');
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab'));
    const err = expectError(parser.finish());
    expect(err.code).toBe('HPE_INVALID_EOF_STATE');
    expect(parser.finish()).toBe(err);
    parser.destroy();
  });

  it('status line without a reason phrase', () => {
    const { messages } = parseAll('response', [bytes('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n')]);
    expect(messages[0].head).toMatchObject({ statusCode: 200, statusMessage: '' });
  });
});

describe('HttpParser: rejections', () => {
  const cases: Array<[string, string, string]> = [
    ['invalid method', 'GETX / HTTP/1.1\r\n\r\n', 'HPE_INVALID_METHOD'],
    ['a response fed to a request parser', 'HTTP/1.1 200 OK\r\n\r\n', 'HPE_INVALID_METHOD'],
    [
      'Content-Length with Transfer-Encoding: chunked (smuggling)',
      'POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'HPE_INVALID_TRANSFER_ENCODING',
    ],
    [
      'two different Content-Length values',
      'POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
      'HPE_UNEXPECTED_CONTENT_LENGTH',
    ],
    [
      // llhttp rejects any repeated Content-Length, even with the same value.
      'two equal Content-Length values',
      'POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc',
      'HPE_UNEXPECTED_CONTENT_LENGTH',
    ],
    ['bad chunk size', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['data after Connection: close', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n', 'HPE_CLOSED_CONNECTION'],
    ['obs-fold (continuation line)', 'GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
  ];
  for (const [name, text, code] of cases) {
    it(`${name} -> ${code}`, () => {
      const { result } = parseAll('request', [bytes(text)]);
      const err = expectError(result);
      expect(err.code).toBe(code);
      expect(err.tooLarge).toBe(false);
      expect(err.reason).not.toBe('');
    });
  }

  it('reports the error offset inside the chunk and latches the error', () => {
    const { parser } = recorder('request');
    expect(parser.execute(bytes('GET / HTTP/1.1\r\n'))).toEqual({ kind: 'ok' });
    const err = expectError(parser.execute(bytes('Host: a\r\nBad Name: x\r\n\r\n')));
    expect(err.code).toBe('HPE_INVALID_HEADER_TOKEN');
    expect(err.offset).toBe('Host: a\r\nBad'.length);
    expect(parser.execute(bytes('GET / HTTP/1.1\r\n\r\n'))).toBe(err);
    expect(parser.finish()).toBe(err);
    parser.destroy();
  });

  // llhttp (strict, the package's default) wants CRLF everywhere; a bare LF is an error,
  // with a code that depends on where it appears.
  const bareLf: Array<[string, string, string]> = [
    ['after the request line', 'GET / HTTP/1.1\nHost: a\r\n\r\n', 'HPE_INVALID_VERSION'],
    ['after a header value', 'GET / HTTP/1.1\r\nHost: a\n\r\n', 'HPE_CR_EXPECTED'],
    ['as the blank line', 'GET / HTTP/1.1\r\nHost: a\r\n\n', 'HPE_INVALID_HEADER_TOKEN'],
    ['after a chunk size', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n', 'HPE_CR_EXPECTED'],
  ];
  for (const [where, text, code] of bareLf) {
    it(`bare LF ${where} -> ${code}`, () => {
      expect(expectError(parseAll('request', [bytes(text)]).result).code).toBe(code);
    });
  }

  it('header bytes over the limit -> tooLarge (detected at headers complete)', () => {
    const limits = { maxHeaderBytes: 64, maxHeadersCount: 100 };
    let headersSeen = 0;
    const { result } = parseAll('request', [bytes(`GET / HTTP/1.1\r\nX-Big: ${'v'.repeat(80)}\r\n\r\n`)], {
      limits,
      onHeaders: () => {
        headersSeen++;
        return 'continue';
      },
    });
    const err = expectError(result);
    expect(err).toMatchObject({ code: 'HPE_HEADER_OVERFLOW', tooLarge: true });
    expect(headersSeen).toBe(0);
  });

  it('header bytes within the limit are accepted', () => {
    // url "/" (1) + "X" (1) + value (62) = 64: at the limit, not beyond it.
    const { result } = parseAll('request', [bytes(`GET / HTTP/1.1\r\nX: ${'v'.repeat(62)}\r\n\r\n`)], {
      limits: { maxHeaderBytes: 64, maxHeadersCount: 100 },
    });
    expect(result).toEqual({ kind: 'ok' });
  });

  it('a slow drip of header bytes is refused at the chunk boundary, before headers complete', () => {
    const { parser, messages } = recorder('request', { limits: { maxHeaderBytes: 100, maxHeadersCount: 100 } });
    expect(parser.execute(bytes('GET / HTTP/1.1\r\n'))).toEqual({ kind: 'ok' });
    let result: ExecuteResult = { kind: 'ok' };
    let fed = 0;
    while (result.kind === 'ok' && fed < 10_000) {
      result = parser.execute(bytes('X-Drip: 0123456789\r\n'));
      fed++;
    }
    const err = expectError(result);
    expect(err).toMatchObject({ code: 'HPE_HEADER_OVERFLOW', tooLarge: true });
    expect(fed).toBeLessThan(10); // ~16 counted bytes per line against 100
    expect(messages[0].head).toBeNull();
    expect(parser.execute(bytes('\r\n'))).toBe(err);
    parser.destroy();
  });

  it('too many headers -> tooLarge', () => {
    const lines = Array.from({ length: 5 }, (_, i) => `H${i}: v\r\n`).join('');
    const limits = { maxHeaderBytes: 60 * 1024, maxHeadersCount: 4 };
    const err = expectError(parseAll('request', [bytes(`GET / HTTP/1.1\r\n${lines}\r\n`)], { limits }).result);
    expect(err).toMatchObject({ code: 'HPE_HEADER_OVERFLOW', tooLarge: true });
    expect(err.reason).toMatch(/more than 4 headers/);
    // exactly at the count is fine
    const ok = parseAll('request', [bytes(`GET / HTTP/1.1\r\n${lines.split('\r\n').slice(0, 4).join('\r\n')}\r\n\r\n`)], { limits });
    expect(ok.result).toEqual({ kind: 'ok' });
  });

  it('a callback that throws becomes an error result, never an exception', () => {
    const { parser } = recorder('request', {
      onHeaders: () => {
        throw new Error('boom');
      },
    });
    const err = expectError(parser.execute(bytes('GET / HTTP/1.1\r\n\r\n')));
    expect(err.code).toBe('HPE_CB_HEADERS_COMPLETE');
    expect(err.reason).toContain('boom');
    expect(err.tooLarge).toBe(false);
    expect(parser.execute(bytes('GET / HTTP/1.1\r\n\r\n'))).toBe(err);
    parser.destroy();

    const body = recorder('request', {
      onBody: () => {
        throw new Error('body boom');
      },
    });
    const e2 = expectError(body.parser.execute(bytes('POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx')));
    expect(e2.reason).toContain('body boom');
    body.parser.destroy();

    const fin = recorder('response', {
      onComplete: () => {
        throw new Error('eof boom');
      },
    });
    expect(fin.parser.execute(bytes('HTTP/1.1 200 OK\r\n\r\nx'))).toEqual({ kind: 'ok' });
    expect(expectError(fin.parser.finish()).reason).toContain('eof boom');
    fin.parser.destroy();
  });
});

describe('HttpParser: lifecycle', () => {
  it('destroy is idempotent and execute afterwards is an error', () => {
    const { parser } = recorder('request');
    parser.destroy();
    parser.destroy();
    expect(expectError(parser.execute(bytes('GET / HTTP/1.1\r\n\r\n'))).code).toBe('ERR_PARSER_DESTROYED');
  });

  it('destroy from inside a callback is deferred until execute returns', () => {
    let p: HttpParser | null = null;
    const { parser, messages } = recorder('request', {
      onHeaders: () => {
        p!.destroy();
        return 'continue';
      },
    });
    p = parser;
    expect(parser.execute(bytes('GET / HTTP/1.1\r\n\r\n'))).toEqual({ kind: 'ok' });
    expect(messages[0].complete).toBe(true);
    expect(expectError(parser.execute(bytes('GET / HTTP/1.1\r\n\r\n'))).code).toBe('ERR_PARSER_DESTROYED');
  });

  it('many parsers can live side by side on the shared wasm instance', () => {
    const a = recorder('request');
    const b = recorder('response');
    a.parser.execute(bytes('GET /a HTTP/1.1\r\nHo'));
    b.parser.execute(bytes('HTTP/1.1 200 O'));
    a.parser.execute(bytes('st: x\r\n\r\n'));
    b.parser.execute(bytes('K\r\nContent-Length: 0\r\n\r\n'));
    expect(a.messages[0].head).toMatchObject({ url: '/a', headers: [['Host', 'x']] });
    expect(b.messages[0].head).toMatchObject({ statusCode: 200, statusMessage: 'OK' });
    a.parser.destroy();
    b.parser.destroy();
  });
});
