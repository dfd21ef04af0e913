/**
 * The plain retry functions (router/retry-policy.ts): retry_on parsing, the verdicts of
 * wouldRetryFromHeaders / wouldRetryFromReset, the back-off strategies, rate-limit reset
 * headers, the router's control headers and the internal-request rule.
 * Semantics doc §1.1 and §1.2. One test per rule.
 */
import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../src/config/types';
import { HeaderMap, type RequestHead, type ResponseHead } from '../src/http/headers';
import { isInternalAddress, isInternalRequest } from '../src/http/forwarding';
import { retryPolicy } from './support/config-builders';
import {
  jitteredLowerBound,
  JitteredExponentialBackOff,
  parseResetInterval,
  parseRetryOn,
  requestRetryPolicy,
  RETRY_ON,
  routerTimeouts,
  takeRouterControlHeaders,
  wouldRetryFromHeaders,
  wouldRetryFromReset,
  type RequestRetryPolicy,
} from '../src/router/retry-policy';
import { seededRandom } from '../src/seams/random';

const response = (status: number, headers: Record<string, string> = {}): ResponseHead => ({ status, headers: HeaderMap.from(Object.entries(headers)) });
const request = (headers: Record<string, string> = {}): RequestHead => ({
  method: 'GET',
  path: '/',
  authority: 'example.com',
  scheme: 'http',
  protocol: 'HTTP/1.1',
  headers: HeaderMap.from(Object.entries(headers)),
});


/** The request policy for `retry_on` tokens, with nothing from headers. */
function effective(retryOn: string, overrides: Partial<RetryPolicy> = {}): RequestRetryPolicy {
  return requestRetryPolicy(retryPolicy({ retry_on: retryOn.split(','), ...overrides }), 'route', request(), null)!;
}

/** A Random stand-in that returns the given u32 values in turn. */
function sequence(...values: number[]): { u32(): number } {
  let i = 0;
  return { u32: () => values[i++ % values.length]! };
}

describe('parseRetryOn', () => {
  it('ORs the known conditions, trimming whitespace and skipping empty entries', () => {
    const { bits, unknown } = parseRetryOn(' 5xx, ,connect-failure ,reset');
    expect(bits).toBe(RETRY_ON['5xx'] | RETRY_ON['connect-failure'] | RETRY_ON.reset);
    expect(unknown).toEqual([]);
  });

  it('ignores unknown tokens and reports them', () => {
    expect(parseRetryOn('5xx,gatway-error')).toEqual({ bits: RETRY_ON['5xx'], unknown: ['gatway-error'] });
  });

  it('takes gRPC conditions in retry_on, but not in the HTTP-only header form', () => {
    expect(parseRetryOn('unavailable').bits).not.toBe(0);
    expect(parseRetryOn('unavailable', 'http')).toEqual({ bits: 0, unknown: ['unavailable'] });
    expect(parseRetryOn('5xx', 'grpc')).toEqual({ bits: 0, unknown: ['5xx'] });
  });
});

describe('wouldRetryFromHeaders', () => {
  it('5xx retries every status 500-599', () => {
    const p = effective('5xx');
    expect(wouldRetryFromHeaders(p, response(500)).retry).toBe(true);
    expect(wouldRetryFromHeaders(p, response(599)).retry).toBe(true);
    expect(wouldRetryFromHeaders(p, response(499)).retry).toBe(false);
    expect(wouldRetryFromHeaders(p, response(200))).toEqual({ retry: false, reason: '200 matches no retry_on condition (5xx)' });
  });

  it('gateway-error retries only 502, 503 and 504', () => {
    const p = effective('gateway-error');
    expect([500, 501, 502, 503, 504, 505].map((s) => wouldRetryFromHeaders(p, response(s)).retry)).toEqual([false, false, true, true, true, false]);
  });

  it('retriable-4xx retries 409 only', () => {
    const p = effective('retriable-4xx');
    expect(wouldRetryFromHeaders(p, response(409)).retry).toBe(true);
    expect(wouldRetryFromHeaders(p, response(429)).retry).toBe(false);
  });

  it('retriable-status-codes retries the listed codes, and only with that condition', () => {
    expect(wouldRetryFromHeaders(effective('retriable-status-codes', { retriable_status_codes: [418] }), response(418))).toEqual({ retry: true, reason: '418 is in retriable_status_codes', condition: 'retriable-status-codes' });
    expect(wouldRetryFromHeaders(effective('5xx', { retriable_status_codes: [418] }), response(418)).retry).toBe(false);
  });

  it('retriable-headers retries when a matcher matches the response (":status" included)', () => {
    const p = effective('retriable-headers', {
      retriable_headers: [
        { name: 'x-upstream-retry', invert_match: false, string_match: { exact: 'yes', ignore_case: false } },
        { name: ':status', invert_match: false, range_match: { start: 420, end: 430 } },
      ],
    });
    expect(wouldRetryFromHeaders(p, response(200, { 'x-upstream-retry': 'yes' })).retry).toBe(true);
    expect(wouldRetryFromHeaders(p, response(200, { 'x-upstream-retry': 'no' })).retry).toBe(false);
    expect(wouldRetryFromHeaders(p, response(425)).retry).toBe(true);
  });

  it('never retries x-envoy-ratelimited without envoy-ratelimited, even a 503 under 5xx', () => {
    expect(wouldRetryFromHeaders(effective('5xx'), response(503, { 'x-envoy-ratelimited': 'true' })).retry).toBe(false);
    expect(wouldRetryFromHeaders(effective('envoy-ratelimited'), response(429, { 'x-envoy-ratelimited': 'true' })).retry).toBe(true);
  });

  it('gRPC conditions read grpc-status from the response headers', () => {
    const p = effective('unavailable,cancelled');
    expect(wouldRetryFromHeaders(p, response(200, { 'grpc-status': '14' })).retry).toBe(true);
    expect(wouldRetryFromHeaders(p, response(200, { 'grpc-status': '1' })).retry).toBe(true);
    expect(wouldRetryFromHeaders(p, response(200, { 'grpc-status': '13' })).retry).toBe(false);
  });
});

describe('wouldRetryFromReset', () => {
  const bits = (text: string) => parseRetryOn(text).bits;

  it('never retries Overflow, whatever retry_on says', () => {
    expect(wouldRetryFromReset(bits('5xx,reset,connect-failure,reset-before-request'), 'Overflow', false).retry).toBe(false);
  });

  it('5xx, gateway-error and reset retry any other reset', () => {
    for (const token of ['5xx', 'gateway-error', 'reset']) {
      for (const reason of ['ConnectionTermination', 'LocalReset', 'RemoteConnectionFailure', 'ConnectionTimeout', 'ProtocolError'] as const) {
        expect(wouldRetryFromReset(bits(token), reason, true).retry).toBe(true);
      }
    }
  });

  it('connect-failure retries pool connection failures only, not a per-try timeout (LocalReset)', () => {
    const b = bits('connect-failure');
    expect(wouldRetryFromReset(b, 'RemoteConnectionFailure', false).retry).toBe(true);
    expect(wouldRetryFromReset(b, 'LocalConnectionFailure', false).retry).toBe(true);
    expect(wouldRetryFromReset(b, 'ConnectionTimeout', false).retry).toBe(true);
    expect(wouldRetryFromReset(b, 'LocalReset', true).retry).toBe(false);
    expect(wouldRetryFromReset(b, 'ConnectionTermination', true).retry).toBe(false);
  });

  it('reset-before-request retries only while no request byte went upstream', () => {
    const b = bits('reset-before-request');
    expect(wouldRetryFromReset(b, 'ConnectionTermination', false).retry).toBe(true);
    expect(wouldRetryFromReset(b, 'ConnectionTermination', true).retry).toBe(false);
  });
});

describe('back-off', () => {
  it('exponential: the interval starts at base, doubles, then stays at max; each wait is random % interval', () => {
    const backOff = new JitteredExponentialBackOff(25, 250, sequence(0xffffffff));
    const intervals: number[] = [];
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      intervals.push(backOff.nextInterval);
      waits.push(backOff.nextBackOffMs());
    }
    expect(intervals).toEqual([25, 50, 100, 200, 250, 250, 250]);
    expect(waits).toEqual(intervals.map((n) => 0xffffffff % n));
  });

  it('exponential waits stay within [0, interval) for a seeded Random', () => {
    const backOff = new JitteredExponentialBackOff(25, 250, seededRandom(7));
    for (const bound of [25, 50, 100, 200, 250, 250]) {
      const wait = backOff.nextBackOffMs();
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThan(bound);
    }
  });

  it('exponential caps at max when doubling would pass it, even from an odd base', () => {
    const backOff = new JitteredExponentialBackOff(30, 100, sequence(0));
    const intervals: number[] = [];
    for (let i = 0; i < 4; i++) {
      intervals.push(backOff.nextInterval);
      backOff.nextBackOffMs();
    }
    expect(intervals).toEqual([30, 60, 100, 100]);
  });

  it('rate-limited: a wait uniform in [interval, 1.5 x interval)', () => {
    expect(jitteredLowerBound(2000, sequence(0))).toBe(2000);
    expect(jitteredLowerBound(2000, sequence(999))).toBe(2999);
    expect(jitteredLowerBound(2000, sequence(1000))).toBe(2000);
  });
});

describe('parseResetInterval', () => {
  const now = Date.UTC(2024, 0, 1, 0, 0, 0);

  it('SECONDS: an integer count of seconds', () => {
    const headers = HeaderMap.from([['retry-after', '3']]);
    expect(parseResetInterval(headers, [{ name: 'retry-after', format: 'SECONDS' }], 300_000, now)).toBe(3000);
  });

  it('UNIX_TIMESTAMP: the epoch second minus now; a time already past gives nothing', () => {
    const resetAt = String(now / 1000 + 7);
    const past = String(now / 1000 - 7);
    const spec = [{ name: 'x-ratelimit-reset', format: 'UNIX_TIMESTAMP' as const }];
    expect(parseResetInterval(HeaderMap.from([['x-ratelimit-reset', resetAt]]), spec, 300_000, now)).toBe(7000);
    expect(parseResetInterval(HeaderMap.from([['x-ratelimit-reset', past]]), spec, 300_000, now)).toBeUndefined();
  });

  it('tries headers in configured order; unparseable and over-max values are skipped', () => {
    const headers = HeaderMap.from([
      ['a', 'soon'],
      ['b', '900'],
      ['c', '2'],
    ]);
    const spec = ['a', 'b', 'c'].map((name) => ({ name, format: 'SECONDS' as const }));
    expect(parseResetInterval(headers, spec, 300_000, now)).toBe(2000);
    expect(parseResetInterval(headers, spec.slice(0, 2), 300_000, now)).toBeUndefined();
  });
});

describe('router control headers', () => {
  it('are all removed in one pass and returned; other headers stay', () => {
    const headers = HeaderMap.from([
      ['x-envoy-retry-on', '5xx'],
      ['x-envoy-max-retries', '3'],
      ['x-envoy-upstream-rq-timeout-ms', '100'],
      ['x-envoy-upstream-rq-per-try-timeout-ms', '50'],
      ['x-envoy-retriable-status-codes', '418'],
      ['x-envoy-original-path', '/kept'],
      ['x-other', '1'],
    ]);
    expect(takeRouterControlHeaders(headers)).toEqual({
      'x-envoy-retry-on': '5xx',
      'x-envoy-max-retries': '3',
      'x-envoy-upstream-rq-timeout-ms': '100',
      'x-envoy-upstream-rq-per-try-timeout-ms': '50',
      'x-envoy-retriable-status-codes': '418',
    });
    expect(headers.toObject()).toEqual({ 'x-envoy-original-path': '/kept', 'x-other': '1' });
  });

  it('a request without any gives null and is left alone', () => {
    const headers = HeaderMap.from([['host', 'a'], ['x-envoy-attempt-count', '1']]);
    expect(takeRouterControlHeaders(headers)).toBeNull();
    expect(headers.size).toBe(2);
  });

  it('timeouts: headers replace the route timeout and the per-try timeout (0 = none)', () => {
    expect(routerTimeouts(15_000, 0, null)).toEqual({ global: 15_000, perTry: 0, altResponse: false });
    expect(routerTimeouts(15_000, 0, { 'x-envoy-upstream-rq-timeout-ms': '0', 'x-envoy-upstream-rq-per-try-timeout-ms': '200' })).toEqual({ global: 0, perTry: 200, altResponse: false });
    expect(routerTimeouts(15_000, 1000, { 'x-envoy-upstream-rq-timeout-ms': 'soon' }).global).toBe(15_000);
    expect(routerTimeouts(15_000, 0, { 'x-envoy-upstream-rq-timeout-alt-response': '' }).altResponse).toBe(true);
  });

  it('a per-try timeout at or above a finite route timeout is dropped', () => {
    expect(routerTimeouts(1000, 1000, null).perTry).toBe(0);
    expect(routerTimeouts(1000, 999, null).perTry).toBe(999);
    expect(routerTimeouts(0, 5000, null).perTry).toBe(5000);
  });
});

describe('requestRetryPolicy', () => {
  it('no retry_on from the policy or the headers: no retry state', () => {
    expect(requestRetryPolicy(undefined, 'route', request(), null)).toBeNull();
    expect(requestRetryPolicy(retryPolicy({ retry_on: [] }), 'route', request(), null)).toBeNull();
  });

  it('x-envoy-retry-on on a route without a policy implies num_retries 1 and the default back-off', () => {
    const p = requestRetryPolicy(undefined, 'route', request(), { 'x-envoy-retry-on': '5xx' })!;
    expect(p).toMatchObject({ retryOn: RETRY_ON['5xx'], numRetries: 1, baseInterval: 25, maxInterval: 250, source: 'request_headers' });
  });

  it('header conditions are ORed in; x-envoy-max-retries overrides num_retries', () => {
    const p = requestRetryPolicy(retryPolicy({ retry_on: ['5xx'], num_retries: 2 }), 'virtual_host', request(), { 'x-envoy-retry-on': 'connect-failure', 'x-envoy-max-retries': '5' })!;
    expect(p.retryOn).toBe(RETRY_ON['5xx'] | RETRY_ON['connect-failure']);
    expect(p.numRetries).toBe(5);
    expect(p.headers).toEqual(['x-envoy-retry-on', 'x-envoy-max-retries']);
  });

  it('x-envoy-retriable-status-codes appends to retriable_status_codes', () => {
    const p = requestRetryPolicy(retryPolicy({ retry_on: ['retriable-status-codes'], retriable_status_codes: [418] }), 'route', request(), { 'x-envoy-retriable-status-codes': '409, 425,x' })!;
    expect(p.retriableStatusCodes).toEqual([418, 409, 425]);
  });

  it('retriable_request_headers gate the policy: no match, no retries', () => {
    const gated = retryPolicy({ retriable_request_headers: [{ name: ':method', invert_match: false, string_match: { exact: 'GET', ignore_case: false } }] });
    expect(requestRetryPolicy(gated, 'route', request(), null)).not.toBeNull();
    expect(requestRetryPolicy(gated, 'route', { ...request(), method: 'POST' }, null)).toBeNull();
  });
});

describe('internal requests', () => {
  it('loopback and private peers are internal addresses; public ones are not', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '::1', 'fd00::1', '::ffff:127.0.0.1']) expect(isInternalAddress(a)).toBe(true);
    for (const a of ['8.8.8.8', '172.15.0.1', '172.32.0.1', '192.169.0.1', '2001:db8::1', '::ffff:8.8.8.8']) expect(isInternalAddress(a)).toBe(false);
  });

  it('an internal peer with an x-forwarded-for is not internal: the request came from further away', () => {
    expect(isInternalRequest('127.0.0.1', HeaderMap.from([]))).toBe(true);
    expect(isInternalRequest('127.0.0.1', HeaderMap.from([['x-forwarded-for', '203.0.113.9']]))).toBe(false);
    expect(isInternalRequest('203.0.113.9', HeaderMap.from([]))).toBe(false);
  });
});
