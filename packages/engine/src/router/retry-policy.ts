/**
 * Retry decisions as plain functions: what Envoy's `RetryStateImpl` decides from the
 * policy alone (`parseRetryOn`, `wouldRetryFromHeaders`, `wouldRetryFromReset`,
 * `parseResetInterval`), the back-off strategies of `backoff_strategy.cc`, and the
 * `x-envoy-*` request headers the router consumes (`FilterUtility::finalTimeout`,
 * `RetryStateImpl::create`). No lifecycle here: the retry machine
 * (`retry.machine.ts`) keeps the state of one request's retries.
 *
 * Semantics: the Envoy semantics reference, §1.1 and §1.2; docs/resilience.md.
 */
import type { HeaderMatcher, RetryPolicy, RetryResetHeader } from '../config/types';
import type { HeaderMap, RequestHead, ResponseHead } from '../http/headers';
import type { StreamResetReason } from '../upstream/codec-client';
import { headerReader, headerValueTest } from './route-matcher';

// ---------------------------------------------------------------------------------------
// retry_on

/** RetryPolicy::RETRY_ON_* bits (router/router.h). */
export const RETRY_ON = {
  '5xx': 1 << 0,
  'gateway-error': 1 << 1,
  'connect-failure': 1 << 2,
  'retriable-4xx': 1 << 3,
  'refused-stream': 1 << 4,
  'retriable-status-codes': 1 << 5,
  reset: 1 << 6,
  'retriable-headers': 1 << 7,
  'envoy-ratelimited': 1 << 8,
  'http3-post-connect-failure': 1 << 9,
  'reset-before-request': 1 << 10,
} as const;

/** The gRPC conditions (`x-envoy-retry-grpc-on`, also accepted in `retry_on`) and their grpc-status. */
export const RETRY_GRPC_ON = {
  cancelled: { bit: 1 << 11, status: 1 },
  'deadline-exceeded': { bit: 1 << 12, status: 4 },
  'resource-exhausted': { bit: 1 << 13, status: 8 },
  internal: { bit: 1 << 14, status: 13 },
  unavailable: { bit: 1 << 15, status: 14 },
} as const;

const GRPC_BITS = Object.values(RETRY_GRPC_ON).reduce((bits, g) => bits | g.bit, 0);

/** Every token Envoy knows in `retry_on` (HTTP and gRPC conditions). */
export const RETRY_ON_TOKENS: readonly string[] = [...Object.keys(RETRY_ON), ...Object.keys(RETRY_GRPC_ON)];

/** Comma list, whitespace trimmed, empty entries dropped (Envoy's StringUtil::splitToken). */
export function splitTokens(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(',')) {
    const token = part.trim();
    if (token !== '') out.push(token);
  }
  return out;
}

/**
 * RetryStateImpl::parseRetryOn + parseRetryGrpcOn: the condition bits of a `retry_on`
 * value (a string or its tokens). The config's `retry_on` takes both kinds of token,
 * `x-envoy-retry-on` only the HTTP ones, `x-envoy-retry-grpc-on` only the gRPC ones.
 * Unknown tokens are ignored, as Envoy does; they are returned so the loader can warn.
 */
export function parseRetryOn(value: string | readonly string[], kinds: 'all' | 'http' | 'grpc' = 'all'): { bits: number; unknown: string[] } {
  const tokens = typeof value === 'string' ? splitTokens(value) : value;
  let bits = 0;
  const unknown: string[] = [];
  for (const token of tokens) {
    const http = kinds === 'grpc' || !Object.hasOwn(RETRY_ON, token) ? undefined : RETRY_ON[token as keyof typeof RETRY_ON];
    const grpc = kinds === 'http' || !Object.hasOwn(RETRY_GRPC_ON, token) ? undefined : RETRY_GRPC_ON[token as keyof typeof RETRY_GRPC_ON];
    if (http !== undefined) bits |= http;
    else if (grpc !== undefined) bits |= grpc.bit;
    else unknown.push(token);
  }
  return { bits, unknown };
}

/** The tokens set in `bits`, for traces. */
export function retryOnNames(bits: number): string[] {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(RETRY_ON)) if (bits & bit) names.push(name);
  for (const [name, g] of Object.entries(RETRY_GRPC_ON)) if (bits & g.bit) names.push(name);
  return names;
}

// ---------------------------------------------------------------------------------------
// Router control headers (x-envoy-*)

/** The request headers the router reads (when the request is internal) and always removes. */
export interface RouterControlHeaders {
  'x-envoy-retry-on'?: string;
  'x-envoy-retry-grpc-on'?: string;
  'x-envoy-max-retries'?: string;
  'x-envoy-retriable-status-codes'?: string;
  'x-envoy-retriable-header-names'?: string;
  'x-envoy-upstream-rq-timeout-ms'?: string;
  'x-envoy-upstream-rq-per-try-timeout-ms'?: string;
  'x-envoy-upstream-rq-timeout-alt-response'?: string;
  'x-envoy-hedge-on-per-try-timeout'?: string;
}

const CONTROL_HEADERS = new Set<string>([
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-hedge-on-per-try-timeout',
]);

/**
 * Removes every router control header from `headers` and returns their values (repeated
 * headers joined with ","), or null when there was none. One pass over the header list,
 * so a request without `x-envoy-` headers costs a prefix check per header.
 */
export function takeRouterControlHeaders(headers: HeaderMap): RouterControlHeaders | null {
  let found: RouterControlHeaders | null = null;
  for (const [name, value] of headers.entries()) {
    if (name.length < 16 || !name.startsWith('x-envoy-') || !CONTROL_HEADERS.has(name)) continue;
    found ??= {};
    const key = name as keyof RouterControlHeaders;
    found[key] = found[key] === undefined ? value : `${found[key]},${value}`;
  }
  if (found) for (const name of Object.keys(found)) headers.remove(name);
  return found;
}

/** absl::SimpleAtoi for an unsigned value: optional whitespace and '+', then digits. */
export function parseUnsigned(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\+?\d+\s*$/.test(value)) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Route timeout and per-try timeout for one request (FilterUtility::finalTimeout). */
export interface RouterTimeouts {
  /** ms; 0 = none */
  global: number;
  /** ms; 0 = none */
  perTry: number;
  /** x-envoy-upstream-rq-timeout-alt-response: a timeout answers 204 instead of 504 */
  altResponse: boolean;
}

/**
 * The global and per-try timeouts: the route's, replaced by the request headers when
 * `controls` (an internal request's control headers) carry them. A per-try timeout at or
 * above a finite global timeout is dropped, as Envoy does.
 */
export function routerTimeouts(routeTimeout: number, perTryTimeout: number, controls: RouterControlHeaders | null): RouterTimeouts {
  let global = routeTimeout;
  let perTry = perTryTimeout;
  let altResponse = false;
  if (controls) {
    global = parseUnsigned(controls['x-envoy-upstream-rq-timeout-ms']) ?? global;
    perTry = parseUnsigned(controls['x-envoy-upstream-rq-per-try-timeout-ms']) ?? perTry;
    altResponse = controls['x-envoy-upstream-rq-timeout-alt-response'] !== undefined;
  }
  if (global !== 0 && perTry >= global) perTry = 0;
  return { global, perTry, altResponse };
}

// ---------------------------------------------------------------------------------------
// The policy one request runs with

/** A response-header test: one `retriable_headers` matcher (or a retriable header name). */
export interface ResponseHeaderTest {
  describe: string;
  matches(head: ResponseHead): boolean;
}

/** The retry policy of one request: the route's (or virtual host's) with the request headers merged in. */
export interface RequestRetryPolicy {
  retryOn: number;
  numRetries: number;
  retriableStatusCodes: readonly number[];
  retriableHeaders: readonly ResponseHeaderTest[];
  baseInterval: number;
  maxInterval: number;
  resetHeaders: readonly RetryResetHeader[];
  rateLimitedMaxInterval: number;
  previousHosts: boolean;
  hostSelectionRetryMaxAttempts: number;
  /** for the trace: where the policy came from and which headers changed it */
  source: 'route' | 'virtual_host' | 'request_headers';
  headers: string[];
}

/** A policy with nothing configured: what `x-envoy-retry-on` gets on a route without one. */
const DEFAULT_POLICY: RetryPolicy = {
  retry_on: [],
  num_retries: 1,
  per_try_timeout: 0,
  retry_back_off: { base_interval: 25, max_interval: 250 },
  retriable_status_codes: [],
  retriable_headers: [],
  retriable_request_headers: [],
  previous_hosts: false,
  host_selection_retry_max_attempts: 1,
};

interface CompiledPolicy {
  retryOn: number;
  retriableHeaders: ResponseHeaderTest[];
  retriableRequestHeaders: Array<{ test: (value: string | undefined) => boolean; read: (head: RequestHead) => string | undefined }>;
}

/** Matchers and bits compiled once per configured policy, not per request. */
const compiled = new WeakMap<RetryPolicy, CompiledPolicy>();

function compile(policy: RetryPolicy): CompiledPolicy {
  let c = compiled.get(policy);
  if (!c) {
    c = {
      retryOn: parseRetryOn(policy.retry_on).bits,
      retriableHeaders: policy.retriable_headers.map(responseHeaderTest),
      retriableRequestHeaders: policy.retriable_request_headers.map((m) => ({ test: headerValueTest(m).test, read: headerReader(m.name) })),
    };
    compiled.set(policy, c);
  }
  return c;
}

/** Response headers as a HeaderMatcher sees them: `:status` is the status code. */
function responseHeaderTest(m: HeaderMatcher): ResponseHeaderTest {
  const { describe, test } = headerValueTest(m);
  const name = m.name.toLowerCase();
  return {
    describe,
    matches: name === ':status' ? (head) => test(String(head.status)) : (head) => test(head.headers.getJoined(name)),
  };
}

/**
 * RetryStateImpl::create and its constructor: the policy this request retries with, or
 * null when it cannot retry at all (no `retry_on` from the policy or the headers, or
 * `retriable_request_headers` that do not match). `controls` are the internal request's
 * control headers (null for an external request: they were removed unread).
 */
export function requestRetryPolicy(
  policy: RetryPolicy | undefined,
  source: 'route' | 'virtual_host',
  head: RequestHead,
  controls: RouterControlHeaders | null,
): RequestRetryPolicy | null {
  const retryOnHeader = controls?.['x-envoy-retry-on'];
  const grpcOnHeader = controls?.['x-envoy-retry-grpc-on'];
  if (!policy?.retry_on.length && retryOnHeader === undefined && grpcOnHeader === undefined) return null;
  const base = policy ?? DEFAULT_POLICY;
  const c = compile(base);
  const headers: string[] = [];
  let retryOn = c.retryOn;
  if (retryOnHeader !== undefined) {
    retryOn |= parseRetryOn(retryOnHeader, 'http').bits;
    headers.push('x-envoy-retry-on');
  }
  if (grpcOnHeader !== undefined) {
    retryOn |= parseRetryOn(grpcOnHeader, 'grpc').bits;
    headers.push('x-envoy-retry-grpc-on');
  }
  // retriable_request_headers gate the whole policy: no match, no retries.
  if (c.retriableRequestHeaders.length > 0 && !c.retriableRequestHeaders.some((m) => m.test(m.read(head)))) retryOn = 0;
  if (retryOn === 0) return null;
  let numRetries = base.num_retries;
  const maxRetries = parseUnsigned(controls?.['x-envoy-max-retries']);
  if (maxRetries !== undefined) {
    numRetries = maxRetries;
    headers.push('x-envoy-max-retries');
  }
  let retriableStatusCodes: readonly number[] = base.retriable_status_codes;
  const codes = controls?.['x-envoy-retriable-status-codes'];
  if (codes !== undefined) {
    retriableStatusCodes = [...retriableStatusCodes, ...splitTokens(codes).map(parseUnsigned).filter((n): n is number => n !== undefined)];
    headers.push('x-envoy-retriable-status-codes');
  }
  let retriableHeaders: readonly ResponseHeaderTest[] = c.retriableHeaders;
  const names = controls?.['x-envoy-retriable-header-names'];
  if (names !== undefined) {
    const present = splitTokens(names).map((n) => responseHeaderTest({ name: n.toLowerCase(), invert_match: false }));
    retriableHeaders = [...retriableHeaders, ...present];
    headers.push('x-envoy-retriable-header-names');
  }
  return {
    retryOn,
    numRetries,
    retriableStatusCodes,
    retriableHeaders,
    baseInterval: base.retry_back_off.base_interval,
    maxInterval: base.retry_back_off.max_interval,
    resetHeaders: base.rate_limited_retry_back_off?.reset_headers ?? [],
    rateLimitedMaxInterval: base.rate_limited_retry_back_off?.max_interval ?? 300_000,
    previousHosts: base.previous_hosts,
    hostSelectionRetryMaxAttempts: base.host_selection_retry_max_attempts,
    source: policy ? source : 'request_headers',
    headers,
  };
}

// ---------------------------------------------------------------------------------------
// Would this outcome be retried?

/** The answer, with the reason the trace shows. */
export interface RetryVerdict {
  retry: boolean;
  reason: string;
  /** the retry_on condition that matched (`5xx`, `reset`, `connect-failure`, ...), when one did */
  condition?: string;
}

/** RetryStateImpl::wouldRetryFromHeaders (the early-data special case of 425 aside). */
export function wouldRetryFromHeaders(policy: Pick<RequestRetryPolicy, 'retryOn' | 'retriableStatusCodes' | 'retriableHeaders'>, head: ResponseHead): RetryVerdict {
  const { retryOn } = policy;
  const status = head.status;
  // An upstream Envoy's rate-limit answer is retried only under envoy-ratelimited, and
  // that check comes first: it short-circuits the 5xx conditions.
  if (head.headers.has('x-envoy-ratelimited')) {
    return retryOn & RETRY_ON['envoy-ratelimited']
      ? { retry: true, reason: 'x-envoy-ratelimited and retry_on envoy-ratelimited', condition: 'envoy-ratelimited' }
      : { retry: false, reason: 'x-envoy-ratelimited without retry_on envoy-ratelimited is never retried' };
  }
  if (retryOn & RETRY_ON['5xx'] && status >= 500 && status <= 599) return { retry: true, reason: `${status} matches 5xx`, condition: '5xx' };
  if (retryOn & RETRY_ON['gateway-error'] && (status === 502 || status === 503 || status === 504)) {
    return { retry: true, reason: `${status} matches gateway-error`, condition: 'gateway-error' };
  }
  if (retryOn & RETRY_ON['retriable-4xx'] && status === 409) return { retry: true, reason: '409 matches retriable-4xx', condition: 'retriable-4xx' };
  if (retryOn & RETRY_ON['retriable-status-codes'] && policy.retriableStatusCodes.includes(status)) {
    return { retry: true, reason: `${status} is in retriable_status_codes`, condition: 'retriable-status-codes' };
  }
  if (retryOn & RETRY_ON['retriable-headers']) {
    for (const header of policy.retriableHeaders) {
      if (header.matches(head)) return { retry: true, reason: `retriable header: ${header.describe}`, condition: 'retriable-headers' };
    }
  }
  if (retryOn & GRPC_BITS) {
    const grpcStatus = parseUnsigned(head.headers.get('grpc-status'));
    if (grpcStatus !== undefined) {
      for (const [name, g] of Object.entries(RETRY_GRPC_ON)) {
        if (retryOn & g.bit && grpcStatus === g.status) return { retry: true, reason: `grpc-status ${grpcStatus} matches ${name}`, condition: name };
      }
    }
  }
  return { retry: false, reason: `${status} matches no retry_on condition (${retryOnNames(retryOn).join(',')})` };
}

const CONNECTION_FAILURES: ReadonlySet<StreamResetReason> = new Set(['LocalConnectionFailure', 'RemoteConnectionFailure', 'ConnectionTimeout']);

/**
 * RetryStateImpl::wouldRetryFromReset. `requestStarted`: request bytes already went
 * upstream (reset-before-request then no longer applies). A per-try timeout arrives
 * here as a LocalReset.
 */
export function wouldRetryFromReset(retryOn: number, reason: StreamResetReason, requestStarted: boolean): RetryVerdict {
  // Circuit-breaker overflow is never retried.
  if (reason === 'Overflow') return { retry: false, reason: 'Overflow is never retried' };
  if (CONNECTION_FAILURES.has(reason) && retryOn & RETRY_ON['connect-failure']) return { retry: true, reason: `${reason} matches connect-failure`, condition: 'connect-failure' };
  if (retryOn & RETRY_ON['reset-before-request'] && !requestStarted) return { retry: true, reason: `${reason} before any request byte went upstream matches reset-before-request`, condition: 'reset-before-request' };
  for (const token of ['5xx', 'gateway-error', 'reset'] as const) {
    if (retryOn & RETRY_ON[token]) return { retry: true, reason: `${reason} matches ${token}`, condition: token };
  }
  return { retry: false, reason: `${reason} matches no retry_on condition (${retryOnNames(retryOn).join(',')})` };
}

// ---------------------------------------------------------------------------------------
// Back-off

/** What the back-off strategies draw from: the engine's seeded Random. */
export interface U32Source {
  u32(): number;
}

/**
 * JitteredExponentialBackOffStrategy as Envoy's code has it (the docs describe an older
 * formula): an interval starts at `base` and doubles after every use, becoming `max`
 * once doubling would pass it; each wait is `random % interval`. With base 25 and max
 * 250: [0,25), [0,50), [0,100), [0,200), then [0,250) for ever.
 */
export class JitteredExponentialBackOff {
  private interval: number;

  constructor(
    private readonly base: number,
    private readonly max: number,
    private readonly random: U32Source,
  ) {
    this.interval = base;
  }

  /** The interval the next wait is drawn from, [0, interval). */
  get nextInterval(): number {
    return this.interval;
  }

  nextBackOffMs(): number {
    const interval = this.interval;
    this.interval = interval > Math.floor(this.max / 2) ? this.max : interval * 2;
    return Math.min(this.random.u32() % interval, this.max);
  }

  reset(): void {
    this.interval = this.base;
  }
}

/**
 * JitteredLowerBoundBackOffStrategy, for a rate-limited response's reset interval: a wait
 * uniform in [interval, 1.5 x interval).
 */
export function jitteredLowerBound(interval: number, random: U32Source): number {
  const spread = Math.floor(interval / 2);
  return interval + (spread > 0 ? random.u32() % spread : 0);
}

/**
 * RetryStateImpl::parseResetInterval: the first reset header (in configured order) whose
 * value parses and is at most `maxInterval`, in ms. SECONDS is a count of seconds;
 * UNIX_TIMESTAMP is an epoch second, taken relative to `nowEpochMs` (a time already past
 * does not count). Undefined when no header gives one.
 */
export function parseResetInterval(headers: HeaderMap, resetHeaders: readonly RetryResetHeader[], maxInterval: number, nowEpochMs: number): number | undefined {
  for (const { name, format } of resetHeaders) {
    const seconds = parseUnsigned(headers.get(name));
    if (seconds === undefined) continue;
    let interval: number;
    if (format === 'SECONDS') {
      interval = seconds * 1000;
    } else {
      const now = Math.floor(nowEpochMs / 1000);
      if (seconds < now) continue;
      interval = (seconds - now) * 1000;
    }
    if (interval <= maxInterval) return interval;
  }
  return undefined;
}
