import { describe, expect, it } from 'vitest';
import {
  appendForwardedFor,
  ensureForwardedProto,
  ensureRequestId,
  setExpectedRequestTimeout,
  uuidV4,
  type U32Source,
} from '../src/http/forwarding';
import { HeaderMap } from '../src/http/headers';
import { seededRandom } from '../src/seams/random';

/** Returns the given numbers in turn, forever. */
function fixed(...values: number[]): U32Source {
  let i = 0;
  return { u32: () => values[i++ % values.length]! };
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('x-forwarded-for', () => {
  it.each<[string, Array<[string, string]>, boolean, string | undefined, boolean]>([
    ['use_remote_address: false keeps what came', [['x-forwarded-for', '1.1.1.1']], false, '1.1.1.1', false],
    ['use_remote_address: false adds nothing', [], false, undefined, false],
    ['use_remote_address: true starts the list', [], true, '10.0.0.1', true],
    ['use_remote_address: true appends with ","', [['x-forwarded-for', '1.1.1.1']], true, '1.1.1.1,10.0.0.1', true],
    ['repeated lines are folded first', [['x-forwarded-for', '1.1.1.1'], ['x-forwarded-for', '2.2.2.2']], true, '1.1.1.1,2.2.2.2,10.0.0.1', true],
  ])('%s', (_label, before, useRemote, expected, changed) => {
    const h = HeaderMap.from(before);
    expect(appendForwardedFor(h, '10.0.0.1', useRemote)).toBe(changed);
    expect(h.getJoined('x-forwarded-for')).toBe(expected);
    expect(h.entries().filter(([k]) => k === 'x-forwarded-for').length).toBe(expected === undefined ? 0 : useRemote ? 1 : before.length);
  });
});

describe('x-forwarded-proto', () => {
  it('is set to the connection scheme when missing', () => {
    const h = new HeaderMap();
    expect(ensureForwardedProto(h, 'http')).toBe(true);
    expect(h.get('x-forwarded-proto')).toBe('http');
  });

  it('keeps an incoming value by default', () => {
    const h = HeaderMap.from([['x-forwarded-proto', 'https']]);
    expect(ensureForwardedProto(h, 'http')).toBe(false);
    expect(h.get('x-forwarded-proto')).toBe('https');
  });

  it('at an untrusted edge (use_remote_address, no trusted hops) it is overwritten', () => {
    const h = HeaderMap.from([['x-forwarded-proto', 'https']]);
    expect(ensureForwardedProto(h, 'http', { useRemoteAddress: true })).toBe(true);
    expect(h.get('x-forwarded-proto')).toBe('http');
  });

  it('with trusted hops the incoming value is kept', () => {
    const h = HeaderMap.from([['x-forwarded-proto', 'https']]);
    expect(ensureForwardedProto(h, 'http', { useRemoteAddress: true, xffNumTrustedHops: 1 })).toBe(false);
    expect(h.get('x-forwarded-proto')).toBe('https');
  });
});

describe('x-request-id', () => {
  it.each<[string, U32Source, string]>([
    ['all zero bits still carry version and variant', fixed(0), '00000000-0000-4000-8000-000000000000'],
    ['all one bits', fixed(0xffffffff), 'ffffffff-ffff-4fff-bfff-ffffffffffff'],
    ['byte order follows the draws', fixed(0x01234567, 0x89abcdef, 0x01234567, 0x89abcdef), '01234567-89ab-4def-8123-456789abcdef'],
  ])('uuidV4: %s', (_label, random, expected) => {
    expect(uuidV4(random)).toBe(expected);
  });

  it('is deterministic for a seed and well-formed', () => {
    const a = uuidV4(seededRandom(42));
    expect(a).toMatch(UUID_V4);
    expect(uuidV4(seededRandom(42))).toBe(a);
    const r = seededRandom(7);
    expect(uuidV4(r)).not.toBe(uuidV4(r));
  });

  it('generates one when missing', () => {
    const h = new HeaderMap();
    const out = ensureRequestId(h, fixed(0));
    expect(out).toEqual({ id: '00000000-0000-4000-8000-000000000000', generated: true });
    expect(h.get('x-request-id')).toBe(out.id);
  });

  it('keeps an incoming id', () => {
    const h = HeaderMap.from([['x-request-id', 'abc']]);
    expect(ensureRequestId(h, fixed(0))).toEqual({ id: 'abc', generated: false });
    expect(h.get('x-request-id')).toBe('abc');
  });

  it('replaces an incoming id when forced (edge without preserve_external_request_id)', () => {
    const h = HeaderMap.from([['x-request-id', 'abc']]);
    expect(ensureRequestId(h, fixed(0xffffffff), true).generated).toBe(true);
    expect(h.get('x-request-id')).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
  });
});

describe('x-envoy-expected-rq-timeout-ms', () => {
  it.each<[string, number, number, string | undefined]>([
    ['route timeout', 15_000, 0, '15000'],
    ['timeout 0 (infinite) → no header', 0, 0, undefined],
    ['per-try shorter than route timeout wins', 15_000, 2_000, '2000'],
    ['per-try at or above the route timeout is ignored', 15_000, 15_000, '15000'],
    ['per-try with infinite route timeout', 0, 2_000, '2000'],
  ])('%s', (_label, route, perTry, expected) => {
    const h = new HeaderMap();
    expect(setExpectedRequestTimeout(h, route, perTry)).toBe(expected !== undefined);
    expect(h.get('x-envoy-expected-rq-timeout-ms')).toBe(expected);
  });
});
