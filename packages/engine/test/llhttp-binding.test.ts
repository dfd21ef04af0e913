/**
 * The llhttp binding: the wasm is undici's build, unchanged; inputs are copied into wasm
 * memory once and handed back as views of the caller's bytes; parsers may run inside each
 * other's callbacks (the simulated network delivers synchronously).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HttpParser, type ParsedHead, type ParserCallbacks } from '../src/codec/llhttp-parser.ts';
import { LLHTTP_SIMD_WASM_BASE64, LLHTTP_WASM_BASE64, LLHTTP_WASM_SOURCE } from '../src/codec/llhttp-wasm.generated.ts';

const require = createRequire(import.meta.url);
const enc = new TextEncoder();
const dec = new TextDecoder();
const LIMITS = { maxHeaderBytes: 60 * 1024, maxHeadersCount: 100 };

const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

function collecting(extra: Partial<ParserCallbacks> = {}) {
  const heads: ParsedHead[] = [];
  const bodies: Uint8Array[] = [];
  let completed = 0;
  const callbacks: ParserCallbacks = {
    onMessageBegin() {},
    onHeadersComplete: (head) => {
      heads.push(head);
      return extra.onHeadersComplete?.(head) ?? 'continue';
    },
    onBody: (chunk) => {
      bodies.push(chunk);
      return 'continue';
    },
    onMessageComplete: () => {
      completed++;
      return 'continue';
    },
  };
  return { callbacks, heads, bodies, completed: () => completed };
}

describe('llhttp wasm source', () => {
  it('is the build the installed undici ships, byte for byte', () => {
    const version: string = require('undici/package.json').version;
    expect(LLHTTP_WASM_SOURCE).toBe(`undici@${version}`);
    expect(LLHTTP_WASM_BASE64).toBe(base64(require('undici/lib/llhttp/llhttp-wasm.js')));
    expect(LLHTTP_SIMD_WASM_BASE64).toBe(base64(require('undici/lib/llhttp/llhttp_simd-wasm.js')));
  });

  it('the vendoring script agrees that the copy is fresh', () => {
    const script = fileURLToPath(new URL('../scripts/vendor-llhttp-wasm.mjs', import.meta.url));
    expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});

describe('llhttp binding', () => {
  it('body chunks are views of the bytes given to execute(), not copies', () => {
    const c = collecting();
    const parser = new HttpParser('request', c.callbacks, LIMITS);
    const input = enc.encode('POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello');
    expect(parser.execute(input)).toEqual({ kind: 'ok' });
    parser.destroy();
    expect(c.bodies).toHaveLength(1);
    expect(dec.decode(c.bodies[0])).toBe('hello');
    expect(c.bodies[0].buffer).toBe(input.buffer);
    expect(c.bodies[0].byteOffset).toBe(input.byteOffset + input.length - 5);
  });

  it('a body larger than any earlier input arrives whole and intact', () => {
    const body = new Uint8Array(300 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const head = enc.encode(`POST /upload HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n`);
    const input = new Uint8Array(head.length + body.length);
    input.set(head);
    input.set(body, head.length);
    const c = collecting();
    const parser = new HttpParser('request', c.callbacks, LIMITS);
    expect(parser.execute(input)).toEqual({ kind: 'ok' });
    parser.destroy();
    const got = new Uint8Array(c.bodies.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of c.bodies) {
      got.set(b, at);
      at += b.length;
    }
    // Buffer.equals: a deep toEqual over 300 KiB takes seconds.
    expect(Buffer.from(got.buffer).equals(Buffer.from(body.buffer))).toBe(true);
    expect(c.completed()).toBe(1);
  });

  it('a parser executed from inside another parser callback leaves the outer input intact', () => {
    // The upstream response is parsed while the downstream parser is still inside its first
    // request's onHeadersComplete; llhttp then goes on to read the pipelined second request
    // from the same input in wasm memory, which the nested parse must not have overwritten.
    const inner = collecting();
    const innerParser = new HttpParser('response', inner.callbacks, LIMITS);
    const innerBytes = enc.encode(`HTTP/1.1 201 Created\r\nContent-Length: 7\r\nX-Inner: ${'i'.repeat(100)}\r\n\r\ncreated`);
    let nested = 0;
    const outer = collecting({
      onHeadersComplete: () => {
        if (nested++ === 0) expect(innerParser.execute(innerBytes)).toEqual({ kind: 'ok' });
        return 'continue';
      },
    });
    const outerParser = new HttpParser('request', outer.callbacks, LIMITS);
    const outerBytes = enc.encode('GET /first HTTP/1.1\r\nHost: a\r\n\r\nPOST /second HTTP/1.1\r\nHost: b\r\nContent-Length: 4\r\n\r\nbody');
    expect(outerParser.execute(outerBytes)).toEqual({ kind: 'ok' });

    expect(inner.heads[0]).toMatchObject({ statusCode: 201, statusMessage: 'Created', headers: [['Content-Length', '7'], ['X-Inner', 'i'.repeat(100)]] });
    expect(inner.bodies.map((b) => dec.decode(b)).join('')).toBe('created');
    expect(outer.heads.map((h) => [h.method, h.url, h.headers])).toEqual([
      ['GET', '/first', [['Host', 'a']]],
      ['POST', '/second', [['Host', 'b'], ['Content-Length', '4']]],
    ]);
    expect(outer.bodies.map((b) => dec.decode(b)).join('')).toBe('body');
    expect(outer.completed()).toBe(2);
    innerParser.destroy();
    outerParser.destroy();
  });

  it('an oversized header is refused as it arrives, without parsing the rest of the chunk', () => {
    const c = collecting();
    const parser = new HttpParser('request', c.callbacks, { maxHeaderBytes: 100, maxHeadersCount: 100 });
    const big = `GET / HTTP/1.1\r\nX-Big: ${'v'.repeat(200)}\r\n`;
    // The bytes after the oversized header are malformed: had llhttp gone on, it would have
    // reported them instead of the limit.
    const r = parser.execute(enc.encode(`${big}Bad Name: x\r\n\r\n`));
    expect(r).toMatchObject({ kind: 'error', code: 'HPE_HEADER_OVERFLOW', tooLarge: true });
    expect((r as { offset: number }).offset).toBeLessThanOrEqual(big.length);
    expect(c.heads).toHaveLength(0);
    parser.destroy();
  });
});
