/**
 * Zod schemas for the part of Envoy's v3 static bootstrap that ProxyScope accepts.
 *
 * Each schema reads Envoy's YAML shape (same field names, same nesting) and outputs the
 * loaded types from `./types`: defaults filled in, durations in milliseconds, matchers
 * normalised. Rules that need a whole object (one path specifier per route, router last,
 * unique domains, known clusters…) are refinements on the object that can see every
 * field involved, so every issue carries the path of the field to blame.
 *
 * Every mapping is a strict object: a key outside its shape becomes an `unrecognized_keys`
 * issue, which the loader turns into one warning per key and then drops. Envoy fields we
 * know about but do not implement are listed per mapping as `unsupported`, so that the
 * warning can say "unsupported" rather than "unknown".
 *
 * Rules run even when unrelated fields failed, so one load reports as many errors as it
 * can; each rule first asks `parsed.ok(...)` about the parts it reads, because a part
 * that failed was never turned into its output type.
 */
import { z } from 'zod';
import { compileFormat } from '../accesslog/format';
import { compileRe2 } from '../router/route-matcher';
import { parseRetryOn, RETRY_ON_TOKENS, splitTokens } from '../router/retry-policy';
import type {
  AccessLog,
  Bootstrap,
  CidrRange,
  Cluster,
  Endpoint,
  FilterChain,
  HashPolicy,
  HeaderMatcher,
  HealthCheck,
  HeaderValueOption,
  HttpConnectionManager,
  HttpFilter,
  Listener,
  OutlierDetection,
  RetryPolicy,
  RouteConfiguration,
  SocketAddress,
  StringMatcher,
  VirtualHost,
} from './types';
import type { FaultConfig, FractionalPercent, LocalRateLimitConfig, PerFilterConfig } from './types';

// ---------------------------------------------------------------------------------------
// Names Envoy uses for the extensions we implement

export const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
export const HCM_TYPE =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_FILTER = 'envoy.filters.http.router';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const STDOUT_LOGGER = 'envoy.access_loggers.stdout';
export const STDOUT_LOGGER_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
export const FILE_LOGGER = 'envoy.access_loggers.file';
export const FILE_LOGGER_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
export const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
export const HTTP_PROTOCOL_OPTIONS_TYPE = `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`;

const ONLY_HTTP1 = 'only HTTP/1.1 is supported';
const MISSING = 'missing required field';
const UINT32_MAX = 4_294_967_295;
const ONE_MIB = 1024 * 1024;
const ONE_HOUR_MS = 3_600_000;

/** Envoy's circuit breaker limits for a priority with no thresholds entry. */
const CIRCUIT_BREAKER_DEFAULTS = {
  max_connections: 1024,
  max_pending_requests: 1024,
  max_requests: 1024,
  max_retries: 3,
} as const;

// ---------------------------------------------------------------------------------------
// Field registry: which names exist, so an ignored key gets an accurate warning

const implementedFields = new Set<string>();
const unimplementedFields = new Set<string>();

/** The warning for a key the schemas do not read. */
export function ignoredFieldMessage(key: string): string {
  if (unimplementedFields.has(key)) return `unsupported field '${key}' is ignored`;
  if (implementedFields.has(key)) return `field '${key}' does not belong here and is ignored`;
  const guess = closestField(key);
  return `unknown field '${key}' is ignored` + (guess ? ` (did you mean '${guess}'?)` : '');
}

function closestField(key: string): string | undefined {
  // Short names get one typo: with two, almost any short name would match.
  const allowed = key.length <= 4 ? 1 : 2;
  let best: { field: string; distance: number } | undefined;
  for (const field of [...implementedFields, ...unimplementedFields]) {
    const distance = editDistance(key, field);
    if (distance <= allowed && (!best || distance < best.distance)) best = { field, distance };
  }
  return best?.field;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length];
}

interface SectionOptions {
  /** Envoy fields of this message that ProxyScope does not implement (warned, then ignored). */
  unsupported?: readonly string[];
  /** A better message than "missing required field" when the whole mapping is absent. */
  missing?: string;
}

/** One Envoy message: a mapping whose unknown keys become `unrecognized_keys` issues. */
function section<S extends z.core.$ZodLooseShape>(shape: S, options: SectionOptions = {}) {
  // Recorded as the schemas are defined, so the registry is complete before any load.
  for (const key of Object.keys(shape)) implementedFields.add(key);
  for (const key of options.unsupported ?? []) unimplementedFields.add(key);
  const { missing } = options;
  return z.strictObject(shape, {
    error: (iss) => (missing && iss.code === 'invalid_type' && iss.input === undefined ? missing : undefined),
  });
}

// ---------------------------------------------------------------------------------------
// Issues and scalars

/** How a value appears in a message: strings quoted, collections named. */
export function show(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

type Ctx = z.core.$RefinementCtx<unknown>;

/** Report an error at `path`, relative to the value being refined. */
function reject(ctx: Ctx, path: PropertyKey[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}

/** Which parts of the value being refined parsed cleanly (unknown keys do not count). */
interface Parsed {
  /** nothing failed at, above or below `path` */
  ok(...path: PropertyKey[]): boolean;
  /** the value at `path` has its type, though something below it may have failed */
  has(...path: PropertyKey[]): boolean;
}

const startsWith = (path: readonly PropertyKey[], prefix: readonly PropertyKey[]) =>
  prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);

/**
 * Add a rule that needs the whole object. Zod would skip it as soon as any field failed;
 * this runs it anyway (`when`) and lets it check what it reads, so a bad port elsewhere
 * does not hide an unknown cluster.
 */
function refine<S extends z.ZodType>(schema: S, check: (value: z.output<S>, ctx: Ctx, parsed: Parsed) => void): S {
  return schema.superRefine(
    (value, ctx) => {
      const failed = ctx.issues.filter((i) => i.code !== 'unrecognized_keys').map((i) => i.path ?? []);
      const parsed: Parsed = {
        ok: (...path) => !failed.some((p) => startsWith(p, path) || startsWith(path, p)),
        has: (...path) => !failed.some((p) => startsWith(path, p)),
      };
      if (parsed.has()) check(value, ctx, parsed);
    },
    { when: () => true },
  );
}

/** A reader's answer when the value has the right type but is still wrong. */
class Rejected {
  constructor(readonly message: string) {}
}

/**
 * A leaf value. `read` returns the output, `undefined` when the value is not `expected`
 * (the message then says "expected …, got …"), or a `Rejected` with its own message.
 */
function scalar<T>(expected: string, read: (input: unknown) => T | Rejected | undefined) {
  return z.unknown().transform((input, ctx): T => {
    const result = input === undefined ? new Rejected(MISSING) : (read(input) ?? new Rejected(`expected ${expected}, got ${show(input)}`));
    if (result instanceof Rejected) {
      ctx.addIssue({ code: 'custom', input, message: result.message });
      return z.NEVER;
    }
    return result;
  });
}

const text = scalar('a string', (v) => (typeof v === 'string' ? v : undefined));
const name = scalar('a non-empty string', (v) => (typeof v === 'string' && v !== '' ? v : undefined));
const bool = scalar('true or false', (v) => (typeof v === 'boolean' ? v : undefined));
/** Header names are case-insensitive; Envoy keeps them lower-cased. */
const headerName = scalar('a header name', (v) => (typeof v === 'string' && v !== '' ? v.toLowerCase() : undefined));

/** Protobuf JSON also allows integers as strings (it must, for 64-bit values). */
function toInteger(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isInteger(input) ? input : undefined;
  if (typeof input === 'string' && /^-?\d+$/.test(input)) return Number(input);
  return undefined;
}

function describeRange(min: number, max: number): string {
  if (max < UINT32_MAX) return `an integer ${min}-${max}`;
  if (min > 0) return `an integer >= ${min}`;
  return min === 0 ? 'a non-negative integer' : 'an integer';
}

function integer(min = 0, max = UINT32_MAX) {
  return scalar(describeRange(min, max), (v) => {
    const n = toInteger(v);
    return n !== undefined && n >= min && n <= max ? n : undefined;
  });
}

const uint32 = integer();
const port = integer(0, 65535);
const int64 = integer(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);

/** An enum given by name; `unsupported` names are real Envoy values we refuse with a reason. */
function oneOf<const V extends string>(values: readonly V[], unsupported: Record<string, string> = {}) {
  return scalar(`one of ${values.join(', ')}`, (v): V | Rejected | undefined => {
    if (typeof v === 'string' && Object.hasOwn(unsupported, v)) return new Rejected(unsupported[v]);
    return values.find((value) => value === v);
  });
}

/** An enum whose names stand for numbers (HTTP status codes). */
function codeOf<const M extends Record<string, number>>(codes: M, unsupported: Record<string, string> = {}) {
  return oneOf(Object.keys(codes) as (keyof M & string)[], unsupported).transform((key) => codes[key]);
}

/** A `"@type"` that must be exactly this type URL. */
function typeUrl(url: string) {
  return scalar(`"${url}"`, (v) => (v === url ? url : undefined));
}

/** A field whose presence is an error, e.g. a protocol we cannot speak. */
function forbidden(message: string) {
  return scalar('nothing', () => new Rejected(message)).optional();
}

// ---------------------------------------------------------------------------------------
// Durations

const DURATION_TEXT = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
const MAX_DURATION_SECONDS = 315_576_000_000; // protobuf Duration's range

/** Milliseconds for a protobuf Duration (JSON text or `{seconds, nanos}`), else undefined. */
function durationMs(input: unknown): number | undefined {
  if (typeof input === 'string') {
    const match = DURATION_TEXT.exec(input);
    if (!match) return undefined;
    const seconds = Number(match[2]);
    const nanos = Number((match[3] ?? '').padEnd(9, '0'));
    const ms = seconds * 1000 + nanos / 1e6;
    return seconds > MAX_DURATION_SECONDS ? undefined : match[1] ? -ms : ms;
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return undefined;
  const { seconds = 0, nanos = 0, ...rest } = input as Record<string, unknown>;
  const s = toInteger(seconds);
  const n = toInteger(nanos);
  if (Object.keys(rest).length || s === undefined || n === undefined) return undefined;
  const sameSign = s === 0 || n === 0 || s > 0 === n > 0;
  if (Math.abs(s) > MAX_DURATION_SECONDS || Math.abs(n) >= 1e9 || !sameSign) return undefined;
  return s * 1000 + n / 1e6;
}

const DURATION_HINT = 'expected seconds with an "s" suffix such as "5s" or "0.25s", or {seconds, nanos}';

/**
 * Convert a protobuf Duration to milliseconds: `"5s"`, `"0.25s"`, `"-1.5s"` (seconds with up
 * to nine fractional digits and an `s` suffix) or `{ seconds, nanos }`. Throws otherwise:
 * protobuf JSON has no other units, so `"100ms"` is an error, not 100.
 */
export function parseDuration(input: unknown): number {
  const ms = durationMs(input);
  if (ms === undefined) throw new TypeError(`invalid duration ${show(input)}: ${DURATION_HINT}`);
  return ms;
}

function duration({ positive = false } = {}) {
  return scalar(`a duration such as "5s" or "0.25s"`, (v) => {
    const ms = durationMs(v);
    if (ms === undefined) return typeof v === 'string' ? new Rejected(`invalid duration ${show(v)}: ${DURATION_HINT}`) : undefined;
    if (ms < 0 || (positive && ms === 0)) return new Rejected(`duration must be ${positive ? 'greater than 0s' : 'at least 0s'}, got ${show(v)}`);
    return ms;
  });
}

// ---------------------------------------------------------------------------------------
// Addresses

const IPV4_OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`);

/** 4 or 6 for an IP literal, else undefined (a host name). */
function ipFamily(address: string): 4 | 6 | undefined {
  if (IPV4.test(address)) return 4;
  if (!address.includes(':')) return undefined;
  try {
    // The WHATWG URL parser is a complete IPv6 literal validator available everywhere.
    new URL(`http://[${address}]/`);
    return 6;
  } catch {
    return undefined;
  }
}

const socketAddress = section(
  {
    address: name,
    port_value: port,
    protocol: oneOf(['TCP'], { UDP: 'UDP is not supported; ProxyScope proxies HTTP/1.1 over TCP' }).optional(),
  },
  { unsupported: ['resolver_name', 'ipv4_compat', 'named_port', 'network_namespace_filepath'] },
).transform((a): SocketAddress => ({ address: a.address, port_value: a.port_value }));

/** `{ socket_address: {...} }` → the socket address. */
function addressOf<T>(inner: z.ZodType<T>) {
  return section(
    { socket_address: inner },
    { unsupported: ['pipe', 'envoy_internal_address'] },
  ).transform((a) => a.socket_address);
}

/** Listeners and the admin endpoint bind, so their address must be an IP literal. */
const bindAddress = addressOf(
  refine(socketAddress, (a, ctx, parsed) => {
    if (parsed.ok() && !ipFamily(a.address)) reject(ctx, ['address'], `expected an IP address to bind to, got ${show(a.address)}`);
  }),
);

const cidrRange = refine(section({ address_prefix: name, prefix_len: integer(0, 128).default(0) }), (c, ctx, parsed) => {
  if (!parsed.ok()) return;
  const family = ipFamily(c.address_prefix);
  if (!family) reject(ctx, ['address_prefix'], `expected an IP address, got ${show(c.address_prefix)}`);
  else if (family === 4 && c.prefix_len > 32) reject(ctx, ['prefix_len'], `an IPv4 prefix_len must be 0-32, got ${c.prefix_len}`);
}) satisfies z.ZodType<CidrRange>;

// ---------------------------------------------------------------------------------------
// Matchers

/**
 * Compile now, exactly as the router will (RE2 syntax translated to a JS RegExp), so a
 * bad pattern fails the load rather than the first request.
 */
function compileRegex(pattern: string): string | Rejected {
  try {
    compileRe2(pattern, 'global');
    return pattern;
  } catch (error) {
    return new Rejected((error as Error).message);
  }
}

const regexText = scalar('a regular expression', (v) => (typeof v === 'string' ? compileRegex(v) : undefined));

/** `{ regex }` or `{ google_re2: {}, regex }` → the pattern. */
const safeRegex = section({
  google_re2: section({}, { unsupported: ['max_program_size'] }).optional(),
  regex: regexText,
}).transform((r) => r.regex);

const STRING_MATCH_KINDS = ['exact', 'prefix', 'suffix', 'contains', 'safe_regex'] as const;

/** Report when not exactly one (or, with `optional`, more than one) of `keys` is set. Reads presence only. */
function requireOneOf(ctx: Ctx, value: Record<string, unknown>, keys: readonly string[], what: string, optional = false) {
  const given = keys.filter((key) => value[key] !== undefined);
  if (given.length === 1 || (optional && given.length === 0)) return;
  const choices = keys.join(', ');
  const problem = given.length === 0 ? `needs one of ${choices}` : `takes only one of ${choices}, got ${given.join(' and ')}`;
  reject(ctx, given.length > 1 ? [given[1]] : [], `${what} ${problem}`);
}

const stringMatcher = refine(
  section(
    {
      exact: text.optional(),
      prefix: name.optional(),
      suffix: name.optional(),
      contains: name.optional(),
      safe_regex: safeRegex.optional(),
      ignore_case: bool.default(false),
    },
    { unsupported: ['custom'] },
  ),
  (m, ctx) => requireOneOf(ctx, m, STRING_MATCH_KINDS, 'a string matcher'),
).transform((m): StringMatcher => {
  const { ignore_case } = m;
  if (m.exact !== undefined) return { exact: m.exact, ignore_case };
  if (m.prefix !== undefined) return { prefix: m.prefix, ignore_case };
  if (m.suffix !== undefined) return { suffix: m.suffix, ignore_case };
  if (m.contains !== undefined) return { contains: m.contains, ignore_case };
  return { safe_regex: m.safe_regex!, ignore_case };
});

const HEADER_MATCH_KINDS = [
  'exact_match', 'prefix_match', 'suffix_match', 'contains_match', 'safe_regex_match', 'range_match',
  'present_match', 'string_match',
] as const;

const headerMatcher = refine(
  section(
    {
      name: headerName,
      exact_match: text.optional(),
      prefix_match: name.optional(),
      suffix_match: name.optional(),
      contains_match: name.optional(),
      safe_regex_match: safeRegex.optional(),
      range_match: section({ start: int64, end: int64 }).optional(),
      present_match: bool.optional(),
      string_match: stringMatcher.optional(),
      invert_match: bool.default(false),
    },
    { unsupported: ['treat_missing_header_as_empty'] },
  ),
  (m, ctx) => requireOneOf(ctx, m, HEADER_MATCH_KINDS, 'a header matcher', true),
).transform((m): HeaderMatcher => {
  const base = { name: m.name, invert_match: m.invert_match };
  // The legacy *_match fields are the same matchers without ignore_case.
  const legacy = (matcher: StringMatcher): HeaderMatcher => ({ ...base, string_match: matcher });
  if (m.exact_match !== undefined) return legacy({ exact: m.exact_match, ignore_case: false });
  if (m.prefix_match !== undefined) return legacy({ prefix: m.prefix_match, ignore_case: false });
  if (m.suffix_match !== undefined) return legacy({ suffix: m.suffix_match, ignore_case: false });
  if (m.contains_match !== undefined) return legacy({ contains: m.contains_match, ignore_case: false });
  if (m.safe_regex_match !== undefined) return legacy({ safe_regex: m.safe_regex_match, ignore_case: false });
  if (m.string_match !== undefined) return { ...base, string_match: m.string_match };
  if (m.range_match !== undefined) return { ...base, range_match: m.range_match };
  if (m.present_match !== undefined) return { ...base, present_match: m.present_match };
  return base; // no matcher: the header only has to be present
});

// ---------------------------------------------------------------------------------------
// Header mutations

const APPEND_ACTIONS = ['APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS'] as const;

const headerValueOption = refine(
  section(
    {
      header: section({ key: headerName, value: text.default('') }, { unsupported: ['raw_value'] }),
      append_action: oneOf(APPEND_ACTIONS).optional(),
      append: bool.optional(),
    },
    { unsupported: ['keep_empty_value'] },
  ),
  (h, ctx) => {
    if (h.append !== undefined && h.append_action !== undefined) {
      reject(ctx, ['append'], 'set either append (deprecated) or append_action, not both');
    }
  },
).transform(
  (h): HeaderValueOption => ({
    key: h.header.key,
    value: h.header.value,
    // The deprecated BoolValue `append: false` meant "replace"; unset or true meant "append".
    append_action: h.append_action ?? (h.append === false ? 'OVERWRITE_IF_EXISTS_OR_ADD' : 'APPEND_IF_EXISTS_OR_ADD'),
  }),
);

const headerMutationFields = {
  request_headers_to_add: z.array(headerValueOption).default([]),
  request_headers_to_remove: z.array(headerName).default([]),
  response_headers_to_add: z.array(headerValueOption).default([]),
  response_headers_to_remove: z.array(headerName).default([]),
};

// ---------------------------------------------------------------------------------------
// HTTP filters besides the router: fault injection and local rate limit. Their configs are
// checked here, where the YAML positions are, and loaded into `FaultConfig` /
// `LocalRateLimitConfig`; `typed_per_filter_config` entries for them likewise.

export const FAULT_FILTER = 'envoy.filters.http.fault';
export const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
export const LOCAL_RATELIMIT_FILTER = 'envoy.filters.http.local_ratelimit';
export const LOCAL_RATELIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
/** envoy.config.route.v3.FilterConfig: a per-route filter config with `disabled` */
export const FILTER_CONFIG_TYPE = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

const fractionalPercent = section({
  numerator: uint32.default(0),
  denominator: codeOf({ HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }).default(100),
}) satisfies z.ZodType<FractionalPercent>;

/** RuntimeFractionalPercent: there is no runtime here, so only default_value counts. */
const runtimeFraction = section({ default_value: fractionalPercent.prefault({}) }, { unsupported: ['runtime_key'] }).transform(
  (r) => r.default_value,
);

/** An unset FractionalPercent is 0%: the fault (or filter) never applies, as in Envoy. */
const NEVER: FractionalPercent = { numerator: 0, denominator: 100 };

const faultDelay = refine(
  section({ fixed_delay: duration().optional(), header_delay: section({}).optional(), percentage: fractionalPercent.optional() }),
  (d, ctx) => requireOneOf(ctx, d, ['fixed_delay', 'header_delay'], 'a fault delay'),
).transform((d) => ({
  ...(d.fixed_delay !== undefined && { fixed_delay: d.fixed_delay }),
  header_delay: d.header_delay !== undefined,
  percentage: d.percentage ?? NEVER,
}));

const faultAbort = refine(
  section(
    { http_status: integer(200, 599).optional(), header_abort: section({}).optional(), percentage: fractionalPercent.optional() },
    { unsupported: ['grpc_status'] },
  ),
  (a, ctx) => requireOneOf(ctx, a, ['http_status', 'header_abort'], 'a fault abort'),
).transform((a) => ({
  ...(a.http_status !== undefined && { http_status: a.http_status }),
  header_abort: a.header_abort !== undefined,
  percentage: a.percentage ?? NEVER,
}));

const faultConfig = section(
  {
    '@type': typeUrl(FAULT_TYPE),
    delay: faultDelay.optional(),
    abort: faultAbort.optional(),
    max_active_faults: uint32.optional(),
    headers: z.array(headerMatcher).default([]),
    upstream_cluster: name.optional(),
    downstream_nodes: z.array(name).default([]),
  },
  {
    unsupported: [
      'response_rate_limit', 'delay_percent_runtime', 'abort_percent_runtime', 'delay_duration_runtime',
      'abort_http_status_runtime', 'abort_grpc_status_runtime', 'max_active_faults_runtime',
      'response_rate_limit_percent_runtime', 'disable_downstream_cluster_stats', 'filter_metadata',
    ],
  },
).transform(({ '@type': _type, ...f }): FaultConfig => f);

/** Envoy refuses a fill timer below 50 ms. */
const tokenBucket = refine(
  section({ max_tokens: integer(1), tokens_per_fill: integer(1).default(1), fill_interval: duration({ positive: true }) }),
  (b, ctx, parsed) => {
    if (parsed.ok('fill_interval') && b.fill_interval < 50) {
      reject(ctx, ['fill_interval'], `fill_interval must be at least 0.05s, got ${b.fill_interval / 1000}s`);
    }
  },
);

const localRateLimitConfig = section(
  {
    '@type': typeUrl(LOCAL_RATELIMIT_TYPE),
    stat_prefix: name,
    status: section({ code: integer(100, 599) }).optional(),
    token_bucket: tokenBucket.optional(),
    filter_enabled: runtimeFraction.optional(),
    filter_enforced: runtimeFraction.optional(),
    response_headers_to_add: z.array(headerValueOption).default([]),
    request_headers_to_add_when_not_enforced: z.array(headerValueOption).default([]),
  },
  {
    unsupported: [
      'descriptors', 'stage', 'local_rate_limit_per_downstream_connection', 'enable_x_ratelimit_headers',
      'vh_rate_limits', 'always_consume_default_token_bucket', 'rate_limited_as_resource_exhausted',
      'local_cluster_rate_limit', 'rate_limits', 'max_dynamic_descriptors',
    ],
  },
).transform(
  (l): LocalRateLimitConfig => ({
    stat_prefix: l.stat_prefix,
    // Envoy answers 429 when no status, or one below 400, is configured.
    status: l.status && l.status.code >= 400 ? l.status.code : 429,
    ...(l.token_bucket && { token_bucket: l.token_bucket }),
    // Unset means 0%: the filter does nothing until these are given (Envoy: "for safety").
    filter_enabled: l.filter_enabled ?? NEVER,
    filter_enforced: l.filter_enforced ?? NEVER,
    response_headers_to_add: l.response_headers_to_add,
    request_headers_to_add_when_not_enforced: l.request_headers_to_add_when_not_enforced,
  }),
);

interface KnownFilterConfig {
  type: string;
  schema: z.ZodType<object>;
  /** what a per-route config of this filter must also have, as a problem message */
  perRoute?: (loaded: object) => string | undefined;
}

/** The filters whose typed_config is read here, by filter name (other filters pass through). */
const FILTER_CONFIGS: Record<string, KnownFilterConfig> = {
  [FAULT_FILTER]: { type: FAULT_TYPE, schema: faultConfig },
  [LOCAL_RATELIMIT_FILTER]: {
    type: LOCAL_RATELIMIT_TYPE,
    schema: localRateLimitConfig,
    perRoute: (loaded) => ((loaded as LocalRateLimitConfig).token_bucket ? undefined : 'a per-route local_ratelimit config needs a token_bucket'),
  },
};

/**
 * Check `value` with `schema` and report its issues at `path` below the value being
 * refined. Messages we wrote are kept; zod's own are dropped so the loader words them.
 */
function checkWith(schema: z.ZodType, value: unknown, ctx: Ctx, path: PropertyKey[]): boolean {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return true;
  for (const issue of result.error.issues) {
    const { message: _message, ...rest } = issue;
    const moved = { ...(issue.code === 'custom' ? issue : rest), path: [...path, ...issue.path] };
    ctx.addIssue(moved as Parameters<Ctx['addIssue']>[0]);
  }
  return false;
}

/** A known filter's loaded config; any other filter's config as written, without `@type`. */
function loadFilterConfig(filterName: string, typed: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const known = FILTER_CONFIGS[filterName];
  if (known) {
    const result = known.schema.safeParse(typed ?? { '@type': known.type });
    if (result.success) return result.data as Record<string, unknown>;
  }
  if (!typed) return undefined;
  const { '@type': _type, ...rest } = typed;
  return rest;
}

const anyTypedConfig = z.looseObject({ '@type': name });

const filterConfigWrapper = section(
  { '@type': typeUrl(FILTER_CONFIG_TYPE), config: anyTypedConfig.optional(), disabled: bool.default(false) },
  { unsupported: ['is_optional'] },
);

/** `typed_per_filter_config` of a route or virtual host: filter name -> its config, or a FilterConfig. */
const perFilterConfigs = refine(z.record(z.string(), anyTypedConfig), (m, ctx, parsed) => {
  for (const [filterName, value] of Object.entries(m)) {
    if (!parsed.ok(filterName)) continue;
    const wrapped = value['@type'] === FILTER_CONFIG_TYPE;
    if (wrapped && !checkWith(filterConfigWrapper, value, ctx, [filterName])) continue;
    const inner = wrapped ? (value.config as Record<string, unknown> | undefined) : value;
    const known = FILTER_CONFIGS[filterName];
    if (!known || !inner) continue;
    const at = wrapped ? [filterName, 'config'] : [filterName];
    if (!checkWith(known.schema, inner, ctx, at)) continue;
    const problem = known.perRoute?.(known.schema.parse(inner));
    if (problem) reject(ctx, at, problem);
  }
}).transform((m) =>
  Object.fromEntries(
    Object.entries(m).map(([filterName, value]): [string, PerFilterConfig] => {
      const wrapped = value['@type'] === FILTER_CONFIG_TYPE;
      const inner = wrapped ? (value.config as Record<string, unknown> | undefined) : value;
      const config = inner && loadFilterConfig(filterName, inner);
      return [filterName, { disabled: wrapped && value.disabled === true, ...(config && { config }) }];
    }),
  ),
);

// ---------------------------------------------------------------------------------------
// Routes

const PATH_SPECIFIERS = ['prefix', 'path', 'safe_regex', 'path_separated_prefix'] as const;

/** Envoy: starts with '/', no query or fragment characters, no trailing '/'. */
const pathSeparatedPrefix = scalar('a path prefix', (v) => {
  if (typeof v !== 'string') return undefined;
  return /^\/[^?#]*[^?#/]$/.test(v) ? v : new Rejected(`path_separated_prefix must start with '/', must not end with '/' and must not contain '?' or '#', got ${show(v)}`);
});

const routeMatch = refine(
  section(
    {
      prefix: text.optional(),
      path: text.optional(),
      safe_regex: safeRegex.optional(),
      path_separated_prefix: pathSeparatedPrefix.optional(),
      case_sensitive: bool.default(true),
      headers: z.array(headerMatcher).default([]),
    },
    {
      unsupported: ['query_parameters', 'runtime_fraction', 'grpc', 'tls_context', 'dynamic_metadata', 'connect_matcher', 'path_match_policy', 'filter_state', 'cookies'],
    },
  ),
  (m, ctx) => requireOneOf(ctx, m, PATH_SPECIFIERS, 'a route match'),
);

const weightedClusters = refine(
  section(
    {
      clusters: z
        .array(
          section(
            { name, weight: integer(1) },
            {
              unsupported: [
                'cluster_header', 'metadata_match', 'request_headers_to_add', 'request_headers_to_remove',
                'response_headers_to_add', 'response_headers_to_remove', 'typed_per_filter_config',
                'host_rewrite_literal',
              ],
            },
          ),
        )
        .min(1),
      total_weight: integer(1).optional(),
    },
    { unsupported: ['runtime_key_prefix', 'header_name', 'random_value_specifier'] },
  ),
  (w, ctx, parsed) => {
    if (!parsed.ok()) return;
    const sum = w.clusters.reduce((total, c) => total + c.weight, 0);
    if (w.total_weight !== undefined && w.total_weight !== sum) {
      reject(ctx, ['total_weight'], `total_weight ${w.total_weight} does not match the sum of the cluster weights (${sum})`);
    }
  },
)
  // total_weight is legacy; the sum is what a weighted pick actually divides by.
  .transform((w) => ({ clusters: w.clusters, total_weight: w.clusters.reduce((total, c) => total + c.weight, 0) }));

// ---------------------------------------------------------------------------------------
// Retry policy (RouteAction.retry_policy / VirtualHost.retry_policy; docs/resilience.md)

export const PREVIOUS_HOSTS_PREDICATE = 'envoy.retry_host_predicates.previous_hosts';
export const PREVIOUS_HOSTS_PREDICATE_TYPE = 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';

/** Envoy's default back-off when a policy has no retry_back_off (runtime upstream.base_retry_backoff_ms). */
const DEFAULT_RETRY_BASE_INTERVAL_MS = 25;
/** rate_limited_retry_back_off.max_interval default: 300 s. */
const DEFAULT_RATE_LIMITED_MAX_INTERVAL_MS = 300_000;

/** Milliseconds as Envoy keeps them for back-off: whole ms, at least 1. */
const wholeMs = (ms: number): number => Math.max(1, Math.floor(ms));

const formatMs = (ms: number): string => `${ms / 1000}s`;

const retryBackOff = refine(
  section({ base_interval: duration({ positive: true }), max_interval: duration({ positive: true }).optional() }),
  (b, ctx, parsed) => {
    if (!parsed.ok('base_interval') || !parsed.ok('max_interval') || b.max_interval === undefined) return;
    if (b.max_interval < b.base_interval) {
      reject(ctx, ['max_interval'], `max_interval (${formatMs(b.max_interval)}) must be greater than or equal to base_interval (${formatMs(b.base_interval)})`);
    }
  },
).transform((b) => {
  const base = wholeMs(b.base_interval);
  return { base_interval: base, max_interval: b.max_interval === undefined ? 10 * base : wholeMs(b.max_interval) };
});

const retryResetHeader = section({ name: headerName, format: oneOf(['SECONDS', 'UNIX_TIMESTAMP']).default('SECONDS') });

const rateLimitedRetryBackOff = section({
  reset_headers: z.array(retryResetHeader).min(1),
  max_interval: duration({ positive: true }).default(DEFAULT_RATE_LIMITED_MAX_INTERVAL_MS),
});

/** Only previous_hosts is implemented; another predicate would change which hosts a retry may use. */
const retryHostPredicate = refine(
  section({ name, typed_config: z.looseObject({ '@type': name }).optional() }),
  (p, ctx, parsed) => {
    if (parsed.ok('name') && p.name !== PREVIOUS_HOSTS_PREDICATE) {
      reject(ctx, ['name'], `unsupported retry host predicate ${show(p.name)}; ProxyScope implements ${PREVIOUS_HOSTS_PREDICATE}`);
    }
    const type = p.typed_config?.['@type'];
    if (parsed.ok('typed_config') && type !== undefined && type !== PREVIOUS_HOSTS_PREDICATE_TYPE) {
      reject(ctx, ['typed_config', '@type'], `expected "${PREVIOUS_HOSTS_PREDICATE_TYPE}", got ${show(type)}`);
    }
  },
);

/** `retry_on` as tokens: comma-separated, whitespace trimmed, empty entries dropped (Envoy's splitToken). */
export function retryOnTokens(text: string): string[] {
  return splitTokens(text);
}

/**
 * Warnings that depend on values: `retry_on` tokens Envoy does not know. Envoy ignores
 * them (the condition never triggers), so they load, with one warning each. Reads input
 * that `bootstrapSchema` has already accepted.
 */
export function unknownRetryOn(input: unknown): { path: PropertyKey[]; message: string }[] {
  type Raw = Record<string, any> | undefined;
  const found: { path: PropertyKey[]; message: string }[] = [];
  const check = (policy: Raw, path: PropertyKey[]) => {
    if (typeof policy?.retry_on !== 'string') return;
    const { unknown } = parseRetryOn(policy.retry_on);
    for (const token of unknown) {
      found.push({ path: [...path, 'retry_on'], message: `unknown retry_on condition '${token}' is ignored (known: ${RETRY_ON_TOKENS.join(', ')})` });
    }
  };
  const listeners: Raw[] = (input as Raw)?.static_resources?.listeners ?? [];
  listeners.forEach((l, li) => {
    const chains: [PropertyKey[], Raw][] = (l?.filter_chains ?? []).map((c: Raw, ci: number) => [['filter_chains', ci], c]);
    if (l?.default_filter_chain) chains.push([['default_filter_chain'], l.default_filter_chain]);
    for (const [chainPath, chain] of chains) {
      (chain?.filters ?? []).forEach((f: Raw, fi: number) => {
        const base = ['static_resources', 'listeners', li, ...chainPath, 'filters', fi, 'typed_config', 'route_config'];
        (f?.typed_config?.route_config?.virtual_hosts ?? []).forEach((vh: Raw, vi: number) => {
          check(vh?.retry_policy, [...base, 'virtual_hosts', vi, 'retry_policy']);
          (vh?.routes ?? []).forEach((r: Raw, ri: number) => check(r?.route?.retry_policy, [...base, 'virtual_hosts', vi, 'routes', ri, 'route', 'retry_policy']));
        });
      });
    }
  });
  return found;
}

const retryPolicy = section(
  {
    retry_on: text.default(''),
    num_retries: uint32.default(1),
    per_try_timeout: duration().default(0),
    retry_back_off: retryBackOff.optional(),
    rate_limited_retry_back_off: rateLimitedRetryBackOff.optional(),
    retriable_status_codes: z.array(integer(100, 599)).default([]),
    retriable_headers: z.array(headerMatcher).default([]),
    retriable_request_headers: z.array(headerMatcher).default([]),
    retry_host_predicate: z.array(retryHostPredicate).default([]),
    host_selection_retry_max_attempts: int64.optional(),
  },
  { unsupported: ['per_try_idle_timeout', 'retry_priority', 'retry_options_predicates'] },
).transform(
  (r): RetryPolicy => ({
    retry_on: retryOnTokens(r.retry_on),
    num_retries: r.num_retries,
    per_try_timeout: r.per_try_timeout,
    retry_back_off: r.retry_back_off ?? { base_interval: DEFAULT_RETRY_BASE_INTERVAL_MS, max_interval: 10 * DEFAULT_RETRY_BASE_INTERVAL_MS },
    ...(r.rate_limited_retry_back_off && { rate_limited_retry_back_off: r.rate_limited_retry_back_off }),
    retriable_status_codes: r.retriable_status_codes,
    retriable_headers: r.retriable_headers,
    retriable_request_headers: r.retriable_request_headers,
    previous_hosts: r.retry_host_predicate.length > 0,
    // Envoy's RetryPolicyImpl keeps 1 unless the field is set above 0.
    host_selection_retry_max_attempts: r.host_selection_retry_max_attempts !== undefined && r.host_selection_retry_max_attempts > 0 ? r.host_selection_retry_max_attempts : 1,
  }),
);

/** RouteAction.HashPolicy: where a RING_HASH / MAGLEV cluster gets the request's hash. */
const HASH_POLICY_KINDS = ['header', 'cookie', 'connection_properties', 'query_parameter', 'filter_state'] as const;

const hashPolicy = refine(
  section({
    header: section({ header_name: headerName }, { unsupported: ['regex_rewrite'] }).optional(),
    // A cookie policy with a ttl makes Envoy set the cookie when it is missing; ProxyScope only reads it.
    cookie: section({ name }, { unsupported: ['ttl', 'path', 'attributes'] }).optional(),
    connection_properties: section({ source_ip: bool.default(false) }).optional(),
    query_parameter: section({ name }).optional(),
    filter_state: forbidden('hash_policy filter_state is not supported; use header, cookie, connection_properties or query_parameter'),
    terminal: bool.default(false),
  }),
  (h, ctx) => requireOneOf(ctx, h, HASH_POLICY_KINDS, 'a hash policy'),
).transform(
  (h): HashPolicy => ({
    ...(h.header && { header: h.header }),
    ...(h.cookie && { cookie: h.cookie }),
    ...(h.connection_properties && { connection_properties: h.connection_properties }),
    ...(h.query_parameter && { query_parameter: h.query_parameter }),
    terminal: h.terminal,
  }),
);

const CLUSTER_SPECIFIERS = ['cluster', 'cluster_header', 'weighted_clusters'] as const;

const routeAction = refine(
  section(
    {
      cluster: name.optional(),
      cluster_header: headerName.optional(),
      weighted_clusters: weightedClusters.optional(),
      cluster_not_found_response_code: codeOf(
        { SERVICE_UNAVAILABLE: 503, NOT_FOUND: 404 },
        { INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR is not supported; use SERVICE_UNAVAILABLE or NOT_FOUND' },
      ).default(503),
      prefix_rewrite: text.optional(),
      regex_rewrite: section({ pattern: safeRegex, substitution: text }).optional(),
      host_rewrite_literal: name.optional(),
      hash_policy: z.array(hashPolicy).optional(),
      timeout: duration().default(15_000),
      idle_timeout: duration().optional(),
      retry_policy: retryPolicy.optional(),
    },
    {
      unsupported: [
        'cluster_specifier_plugin', 'inline_cluster_specifier_plugin', 'metadata_match', 'path_rewrite_policy',
        'auto_host_rewrite', 'host_rewrite_header', 'host_rewrite_path_regex', 'append_x_forwarded_host',
        'early_data_policy', 'retry_policy_typed_config', 'request_mirror_policies',
        'priority', 'rate_limits', 'include_vh_rate_limits', 'cors', 'max_grpc_timeout',
        'grpc_timeout_offset', 'upgrade_configs', 'internal_redirect_policy', 'internal_redirect_action',
        'max_internal_redirects', 'hedge_policy', 'max_stream_duration',
      ],
    },
  ),
  (a, ctx) => {
    requireOneOf(ctx, a, CLUSTER_SPECIFIERS, 'a route action');
    if (a.prefix_rewrite !== undefined && a.regex_rewrite !== undefined) {
      reject(ctx, ['regex_rewrite'], 'set either prefix_rewrite or regex_rewrite, not both');
    }
  },
);

const redirectAction = refine(
  section(
    {
      https_redirect: bool.default(false),
      scheme_redirect: name.optional(),
      host_redirect: name.optional(),
      port_redirect: port.optional(),
      path_redirect: text.optional(),
      prefix_rewrite: text.optional(),
      response_code: codeOf({
        MOVED_PERMANENTLY: 301,
        FOUND: 302,
        SEE_OTHER: 303,
        TEMPORARY_REDIRECT: 307,
        PERMANENT_REDIRECT: 308,
      }).default(301),
      strip_query: bool.default(false),
    },
    { unsupported: ['regex_rewrite', 'path_rewrite_policy'] },
  ),
  (r, ctx, parsed) => {
    // Both pairs are protobuf oneofs: Envoy rejects a redirect that sets both halves.
    if (parsed.ok('https_redirect') && r.https_redirect && r.scheme_redirect !== undefined) {
      reject(ctx, ['scheme_redirect'], 'set either https_redirect or scheme_redirect, not both');
    }
    if (r.path_redirect !== undefined && r.prefix_rewrite !== undefined) {
      reject(ctx, ['prefix_rewrite'], 'set either path_redirect or prefix_rewrite, not both');
    }
  },
);

/** Base64 → text. The body is sent as text, so bytes are decoded as UTF-8. */
const base64Text = scalar('base64 text', (v) => {
  if (typeof v !== 'string') return undefined;
  try {
    const binary = atob(v);
    return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    return new Rejected(`inline_bytes must be base64, got ${show(v)}`);
  }
});

const dataSource = refine(
  section(
    { inline_string: text.optional(), inline_bytes: base64Text.optional() },
    { unsupported: ['filename', 'environment_variable', 'watched_directory'] },
  ),
  (d, ctx) => requireOneOf(ctx, d, ['inline_string', 'inline_bytes'], 'a body', true),
).transform((d) => d.inline_string ?? d.inline_bytes);

const directResponse = section({ status: integer(100, 599), body: dataSource.optional() });

const ROUTE_ACTIONS = ['route', 'redirect', 'direct_response'] as const;

const route = refine(
  section(
    {
      name: name.optional(),
      match: routeMatch,
      route: routeAction.optional(),
      redirect: redirectAction.optional(),
      direct_response: directResponse.optional(),
      typed_per_filter_config: perFilterConfigs.optional(),
      ...headerMutationFields,
    },
    {
      unsupported: ['decorator', 'metadata', 'tracing', 'per_request_buffer_limit_bytes', 'stat_prefix', 'filter_action', 'non_forwarding_action'],
    },
  ),
  (r, ctx) => requireOneOf(ctx, r, ROUTE_ACTIONS, 'a route'),
);

const virtualHost = section(
  {
    name,
    domains: z.array(name.transform((d) => d.toLowerCase())).min(1),
    routes: z.array(route).default([]),
    typed_per_filter_config: perFilterConfigs.optional(),
    retry_policy: retryPolicy.optional(),
    include_request_attempt_count: bool.optional(),
    include_attempt_count_in_response: bool.optional(),
    ...headerMutationFields,
  },
  {
    unsupported: [
      'require_tls', 'virtual_clusters', 'rate_limits', 'cors',
      'retry_policy_typed_config', 'hedge_policy', 'include_is_timeout_retry_header',
      'per_request_buffer_limit_bytes', 'request_mirror_policies', 'matcher', 'metadata',
    ],
  },
).transform(
  (vh): VirtualHost => ({
    ...vh,
    // Unnamed routes get a stable name for stats and traces.
    routes: vh.routes.map((r, i) => ({ ...r, name: r.name ?? `${vh.name}/route_${i}` })),
  }),
);

type ParsedVirtualHost = z.output<typeof virtualHost>;

/** No domain may be served by two virtual hosts; `*` counts as a domain like any other. */
function checkUniqueDomains(ctx: Ctx, parsed: Parsed, virtualHosts: ParsedVirtualHost[]) {
  const owner = new Map<string, string>();
  virtualHosts.forEach((vh, v) => {
    if (!parsed.ok('virtual_hosts', v, 'name') || !parsed.ok('virtual_hosts', v, 'domains')) return;
    vh.domains.forEach((domain, d) => {
      const first = owner.get(domain);
      if (first === undefined) owner.set(domain, vh.name);
      else if (domain === '*') reject(ctx, ['virtual_hosts', v, 'domains', d], `only one virtual host may use the '*' domain; '${first}' already does`);
      else reject(ctx, ['virtual_hosts', v, 'domains', d], `duplicate domain '${domain}' (already used by virtual host '${first}')`);
    });
  });
}

function checkBodySizes(ctx: Ctx, parsed: Parsed, virtualHosts: ParsedVirtualHost[], limit: number) {
  const encoder = new TextEncoder();
  virtualHosts.forEach((vh, v) => {
    if (!parsed.has('virtual_hosts', v, 'routes')) return;
    vh.routes.forEach((r, i) => {
      const at = ['virtual_hosts', v, 'routes', i, 'direct_response'];
      if (!parsed.ok(...at) || r.direct_response?.body === undefined) return;
      const size = encoder.encode(r.direct_response.body).length;
      if (size > limit) {
        reject(ctx, [...at, 'body'], `direct_response body is ${size} bytes; the limit is ${limit} (max_direct_response_body_size_bytes)`);
      }
    });
  });
}

const routeConfigurationFields = section(
  {
    name: text.default(''),
    validate_clusters: bool.default(true),
    ignore_port_in_host_matching: bool.default(false),
    max_direct_response_body_size_bytes: uint32.default(4096),
    virtual_hosts: z.array(virtualHost).default([]),
    ...headerMutationFields,
  },
  {
    unsupported: [
      'internal_only_headers', 'most_specific_header_mutations_wins', 'vhds', 'cluster_specifier_plugins',
      'request_mirror_policies', 'typed_per_filter_config', 'ignore_path_parameters_in_path_matching', 'metadata',
    ],
    missing: 'missing required field (rds and scoped_routes are not supported; give the routes inline in route_config)',
  },
);

const routeConfiguration = refine(routeConfigurationFields, (rc, ctx, parsed) => {
  if (!parsed.has('virtual_hosts')) return;
  checkUniqueDomains(ctx, parsed, rc.virtual_hosts);
  if (parsed.ok('max_direct_response_body_size_bytes')) {
    checkBodySizes(ctx, parsed, rc.virtual_hosts, rc.max_direct_response_body_size_bytes);
  }
}).transform(({ max_direct_response_body_size_bytes: _limit, ...rc }): RouteConfiguration => rc);

// ---------------------------------------------------------------------------------------
// HTTP connection manager

/** A format string, compiled now as the HCM will compile it, so a bad operator fails the load here. */
const accessLogFormat = scalar('an access log format string', (v) => {
  if (typeof v !== 'string') return undefined;
  try {
    compileFormat(v);
    return v;
  } catch (error) {
    return new Rejected((error as Error).message);
  }
});

const logFormatFields = section(
  {
    text_format_source: section(
      { inline_string: accessLogFormat.optional() },
      { unsupported: ['filename', 'inline_bytes', 'environment_variable', 'watched_directory'] },
    ).optional(),
    text_format: accessLogFormat.optional(),
  },
  { unsupported: ['json_format', 'typed_json_format', 'formatters', 'omit_empty_values', 'content_type', 'json_format_options'] },
);

const logFormat = refine(logFormatFields, (f, ctx) =>
  requireOneOf(ctx, f, ['text_format_source', 'text_format'], 'a log_format', true),
).transform((f) => f.text_format_source?.inline_string ?? f.text_format);

/** An AccessLog that only has the keys that were configured. */
function accessLogOf(name: string, path: string | undefined, format: string | undefined): AccessLog {
  return { name, ...(path !== undefined && { path }), ...(format !== undefined && { format }) };
}

const stdoutAccessLog = section(
  {
    name: z.literal(STDOUT_LOGGER),
    typed_config: section({ '@type': typeUrl(STDOUT_LOGGER_TYPE), log_format: logFormat.optional() }).optional(),
  },
  { unsupported: ['filter'] },
).transform((log) => accessLogOf(log.name, undefined, log.typed_config?.log_format));

const fileAccessLog = section(
  {
    name: z.literal(FILE_LOGGER),
    typed_config: section(
      { '@type': typeUrl(FILE_LOGGER_TYPE), path: name, log_format: logFormat.optional() },
      { unsupported: ['format', 'json_format', 'typed_json_format'] },
    ),
  },
  { unsupported: ['filter'] },
).transform((log) => accessLogOf(log.name, log.typed_config.path, log.typed_config.log_format));

const LOGGERS = `${STDOUT_LOGGER} or ${FILE_LOGGER}`;

/** The message when an extension list entry names no extension we implement. */
function unknownExtension(input: unknown, kind: string, hint: string): string {
  const given = (input as { name?: unknown }).name;
  return given === undefined ? MISSING : `unsupported ${kind} ${show(given)}; ${hint}`;
}

const accessLog = z.discriminatedUnion('name', [stdoutAccessLog, fileAccessLog], {
  error: (iss) => (iss.code === 'invalid_union' ? unknownExtension(iss.input, 'access logger', `use ${LOGGERS}`) : undefined),
});

/** Any extension's `typed_config`: an `@type` plus fields the engine reads (or not). */
const typedConfig = z.looseObject({ '@type': name });

const httpFilterFields = section(
  { name, typed_config: typedConfig.optional(), disabled: bool.optional() },
  { unsupported: ['is_optional', 'config_discovery'] },
);

const httpFilter = refine(httpFilterFields, (f, ctx, parsed) => {
  const type = f.typed_config?.['@type'];
  if (parsed.ok() && f.name === ROUTER_FILTER && type !== undefined && type !== ROUTER_TYPE) {
    reject(ctx, ['typed_config', '@type'], `expected "${ROUTER_TYPE}", got ${show(type)}`);
  }
  if (parsed.ok('name') && parsed.ok('disabled') && f.name === ROUTER_FILTER && f.disabled) {
    reject(ctx, ['disabled'], `${ROUTER_FILTER} is the terminal filter and cannot be disabled`);
  }
  // Fault and local rate limit configs are read here (see FILTER_CONFIGS).
  const known = parsed.ok('name') ? FILTER_CONFIGS[f.name] : undefined;
  if (known && parsed.ok('typed_config')) checkWith(known.schema, f.typed_config ?? { '@type': known.type }, ctx, ['typed_config']);
}).transform((f): HttpFilter => {
  const disabled = f.disabled ? { disabled: true } : {};
  const typed_config = loadFilterConfig(f.name, f.typed_config);
  if (!f.typed_config) return { name: f.name, ...(typed_config && { typed_config }), ...disabled };
  return { name: f.name, type_url: f.typed_config['@type'], typed_config: typed_config ?? {}, ...disabled };
});

/** The router sends the request upstream and ends the chain, so it must come last. */
const httpFilters = refine(z.array(httpFilter), (filters, ctx, parsed) => {
  const last = filters.length - 1;
  filters.forEach((f, i) => {
    if (parsed.ok(i, 'name') && f.name === ROUTER_FILTER && i !== last) {
      reject(ctx, [i, 'name'], `${ROUTER_FILTER} is a terminal filter; filters after it would never run`);
    }
  });
  if (last < 0) reject(ctx, [], `the last HTTP filter must be ${ROUTER_FILTER}`);
  else if (parsed.ok(last, 'name') && filters[last].name !== ROUTER_FILTER) {
    reject(ctx, [last, 'name'], `the last HTTP filter must be ${ROUTER_FILTER}`);
  }
});

const downstreamCommonOptions = section(
  {
    idle_timeout: duration().default(ONE_HOUR_MS),
    max_headers_count: integer(1).default(100),
    max_requests_per_connection: uint32.default(0),
    max_connection_duration: duration().optional(),
  },
  { unsupported: ['max_stream_duration', 'headers_with_underscores_action', 'max_response_headers_kb'] },
);

const HTTP1_OPTIONS_UNSUPPORTED = [
  'allow_absolute_url', 'default_host_for_http_10', 'header_key_format', 'enable_trailers', 'allow_chunked_length',
  'override_stream_error_on_invalid_http_message', 'send_fully_qualified_url', 'use_balsa_parser',
  'allow_custom_methods', 'ignore_http_11_upgrade',
];

const downstreamHttp1Options = section({ accept_http_10: bool.default(false) }, { unsupported: HTTP1_OPTIONS_UNSUPPORTED });

const httpConnectionManagerFields = section(
  {
    '@type': typeUrl(HCM_TYPE),
    stat_prefix: name,
    codec_type: oneOf(['AUTO', 'HTTP1'], { HTTP2: ONLY_HTTP1, HTTP3: ONLY_HTTP1 }).default('AUTO'),
    use_remote_address: bool.default(false),
    xff_num_trusted_hops: uint32.default(0),
    max_request_headers_kb: integer(1, 8192).default(60),
    common_http_protocol_options: downstreamCommonOptions.prefault({}),
    http_protocol_options: downstreamHttp1Options.prefault({}),
    stream_idle_timeout: duration().default(300_000),
    request_timeout: duration().default(0),
    drain_timeout: duration().optional(),
    server_name: text.default('envoy'),
    generate_request_id: bool.default(true),
    strip_matching_host_port: bool.default(false),
    strip_any_host_port: bool.default(false),
    access_log: z.array(accessLog).default([]),
    http_filters: httpFilters.prefault([]),
    route_config: routeConfiguration,
  },
  {
    unsupported: [
      'rds', 'scoped_routes', 'tracing', 'add_user_agent', 'http2_protocol_options', 'http3_protocol_options',
      'request_headers_timeout', 'delayed_close_timeout', 'access_log_options',
      'internal_address_config', 'skip_xff_append', 'via', 'forward_client_cert_details',
      'set_current_client_cert_details', 'proxy_100_continue', 'represent_ipv4_remote_address_as_ipv4_mapped_ipv6',
      'upgrade_configs', 'normalize_path', 'merge_slashes', 'path_with_escaped_slashes_action',
      'request_id_extension', 'local_reply_config', 'preserve_external_request_id',
      'always_set_request_id_in_response', 'server_header_transformation', 'scheme_header_transformation',
      'original_ip_detection_extensions', 'early_header_mutation_extensions', 'typed_header_validation_config',
      'append_x_forwarded_port', 'append_local_overload', 'add_proxy_protocol_connection_state',
      'strip_trailing_host_dot', 'proxy_status_config', 'http1_safe_max_connection_duration',
    ],
  },
);

const httpConnectionManager = refine(httpConnectionManagerFields, (hcm, ctx, parsed) => {
  const bothStrip = hcm.strip_matching_host_port === true && hcm.strip_any_host_port === true;
  if (parsed.ok('strip_matching_host_port') && parsed.ok('strip_any_host_port') && bothStrip) {
    reject(ctx, ['strip_any_host_port'], 'set either strip_matching_host_port or strip_any_host_port, not both');
  }
}).transform(
  (hcm): HttpConnectionManager => ({
    stat_prefix: hcm.stat_prefix,
    codec_type: hcm.codec_type,
    use_remote_address: hcm.use_remote_address,
    xff_num_trusted_hops: hcm.xff_num_trusted_hops,
    max_request_headers_bytes: hcm.max_request_headers_kb * 1024,
    max_headers_count: hcm.common_http_protocol_options.max_headers_count,
    max_requests_per_connection: hcm.common_http_protocol_options.max_requests_per_connection,
    stream_idle_timeout: hcm.stream_idle_timeout,
    request_timeout: hcm.request_timeout,
    idle_timeout: hcm.common_http_protocol_options.idle_timeout,
    // 0 means unset, as in Envoy: no maximum
    ...(hcm.common_http_protocol_options.max_connection_duration && { max_connection_duration: hcm.common_http_protocol_options.max_connection_duration }),
    ...(hcm.drain_timeout !== undefined && { drain_timeout: hcm.drain_timeout }),
    server_name: hcm.server_name,
    generate_request_id: hcm.generate_request_id,
    strip_matching_host_port: hcm.strip_matching_host_port,
    strip_any_host_port: hcm.strip_any_host_port,
    accept_http_10: hcm.http_protocol_options.accept_http_10,
    access_log: hcm.access_log,
    http_filters: hcm.http_filters,
    route_config: hcm.route_config,
  }),
);

// ---------------------------------------------------------------------------------------
// Listeners

const networkFilter = z.discriminatedUnion(
  'name',
  [section({ name: z.literal(HCM_FILTER), typed_config: httpConnectionManager }, { unsupported: ['config_discovery'] })],
  {
    error: (iss) =>
      iss.code === 'invalid_union' ? unknownExtension(iss.input, 'network filter', `ProxyScope only implements ${HCM_FILTER}`) : undefined,
  },
);

const filterChainMatch = section(
  {
    destination_port: integer(1, 65535).optional(),
    prefix_ranges: z.array(cidrRange).default([]),
    source_prefix_ranges: z.array(cidrRange).default([]),
    source_ports: z.array(integer(1, 65535)).default([]),
  },
  { unsupported: ['server_names', 'transport_protocol', 'application_protocols', 'direct_source_prefix_ranges', 'source_type', 'address_suffix', 'suffix_len'] },
);

const filterChainFields = section(
  {
    name: name.optional(),
    filter_chain_match: filterChainMatch.prefault({}),
    filters: z.array(networkFilter).default([]),
  },
  { unsupported: ['transport_socket', 'transport_socket_connect_timeout', 'metadata', 'use_proxy_proto', 'on_demand_configuration'] },
);

const filterChain = refine(filterChainFields, (chain, ctx, parsed) => {
  if (!parsed.has('filters')) return;
  if (chain.filters.length === 0) reject(ctx, ['filters'], `a filter chain needs the ${HCM_FILTER} filter`);
  // Only the HCM is accepted, so any HCM before the end has another HCM after it.
  chain.filters.slice(0, -1).forEach((_, i) => {
    if (parsed.ok('filters', i, 'name')) reject(ctx, ['filters', i], `${HCM_FILTER} must be the last network filter`);
  });
}).transform((chain) => ({
  name: chain.name,
  filter_chain_match: chain.filter_chain_match,
  hcm: chain.filters[chain.filters.length - 1].typed_config,
}));

type ParsedFilterChain = z.output<typeof filterChain>;

/** Two chains with the same match would make chain selection ambiguous. */
function checkDistinctMatches(ctx: Ctx, parsed: Parsed, chains: ParsedFilterChain[]) {
  const key = (chain: ParsedFilterChain, i: number) =>
    parsed.ok('filter_chains', i, 'filter_chain_match') ? JSON.stringify(chain.filter_chain_match) : undefined;
  checkUnique(ctx, chains, key, (i) => ['filter_chains', i, 'filter_chain_match'], (_, first) => `filter_chains[${first}] already has the same filter_chain_match`);
}

/** Report every item whose key (undefined = not comparable) an earlier item already has. */
function checkUnique<T>(
  ctx: Ctx,
  items: T[],
  keyOf: (item: T, i: number) => string | undefined,
  path: (i: number) => PropertyKey[],
  message: (key: string, first: number) => string,
) {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const key = keyOf(item, i);
    if (key === undefined) return;
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, i);
    else reject(ctx, path(i), message(key, earlier));
  });
}

const listenerFields = section(
  {
    name,
    address: bindAddress,
    per_connection_buffer_limit_bytes: uint32.default(ONE_MIB),
    filter_chains: z.array(filterChain).default([]),
    default_filter_chain: filterChain.optional(),
  },
  {
    unsupported: [
      'stat_prefix', 'metadata', 'drain_type', 'listener_filters', 'listener_filters_timeout',
      'continue_on_listener_filters_timeout', 'transparent', 'freebind', 'socket_options',
      'tcp_fast_open_queue_length', 'traffic_direction', 'udp_listener_config', 'api_listener',
      'connection_balance_config', 'enable_reuse_port', 'access_log', 'tcp_backlog_size',
      'max_connections_to_accept_per_socket_event', 'bind_to_port', 'internal_listener', 'enable_mptcp',
      'ignore_global_conn_limit', 'bypass_overload_manager', 'additional_addresses', 'filter_chain_matcher',
      'use_original_dst', 'fcds_config',
    ],
  },
);

const listener = refine(listenerFields, (l, ctx, parsed) => {
  if (!parsed.has('filter_chains')) return;
  if (l.filter_chains.length === 0 && l.default_filter_chain === undefined) {
    reject(ctx, ['filter_chains'], 'a listener needs at least one filter chain (or a default_filter_chain)');
  }
  checkDistinctMatches(ctx, parsed, l.filter_chains);
}).transform(
  (l): Listener => ({
    name: l.name,
    address: l.address,
    per_connection_buffer_limit_bytes: l.per_connection_buffer_limit_bytes,
    filter_chains: l.filter_chains.map((chain, i): FilterChain => ({ ...chain, name: chain.name ?? `filter_chain_${i}` })),
    ...(l.default_filter_chain && {
      default_filter_chain: { ...l.default_filter_chain, name: l.default_filter_chain.name ?? 'default_filter_chain' },
    }),
  }),
);

// ---------------------------------------------------------------------------------------
// Clusters

const socketEndpoint = section(
  { address: addressOf(socketAddress), hostname: text.optional() },
  { unsupported: ['health_check_config', 'additional_addresses'] },
);

const lbEndpoint = section(
  { endpoint: socketEndpoint, load_balancing_weight: integer(1).default(1) },
  { unsupported: ['health_status', 'metadata', 'endpoint_name'] },
);

const localityEndpoints = section(
  { lb_endpoints: z.array(lbEndpoint).default([]) },
  {
    unsupported: ['locality', 'priority', 'load_balancing_weight', 'proximity', 'metadata', 'load_balancer_endpoints', 'leds_cluster_locality_config'],
  },
);

const loadAssignment = section(
  {
    // Names the assignment for EDS; a static cluster does not need it, so it is only checked.
    cluster_name: text.optional(),
    endpoints: z.array(localityEndpoints).default([]),
  },
  { unsupported: ['policy', 'named_endpoints'] },
);

const threshold = section(
  {
    priority: oneOf(['DEFAULT', 'HIGH']).default('DEFAULT'),
    max_connections: uint32.default(CIRCUIT_BREAKER_DEFAULTS.max_connections),
    max_pending_requests: uint32.default(CIRCUIT_BREAKER_DEFAULTS.max_pending_requests),
    max_requests: uint32.default(CIRCUIT_BREAKER_DEFAULTS.max_requests),
    max_retries: uint32.default(CIRCUIT_BREAKER_DEFAULTS.max_retries),
    // When present the budget replaces max_retries (Envoy's RetryBudget).
    retry_budget: section({
      budget_percent: section({
        value: scalar('a number 0-100', (v) => (typeof v === 'number' && v >= 0 && v <= 100 ? v : undefined)).default(20),
      })
        .transform((p) => p.value)
        .default(20),
      min_retry_concurrency: uint32.default(3),
    }).optional(),
    track_remaining: z.boolean().default(false),
  },
  { unsupported: ['max_connection_pools'] },
);

const circuitBreakers = section({ thresholds: z.array(threshold).default([]) }, { unsupported: ['per_host_thresholds'] });

const upstreamCommonOptions = section(
  {
    idle_timeout: duration().default(ONE_HOUR_MS),
    // No default here: the cluster-level field may supply it instead (see checkCluster).
    max_requests_per_connection: uint32.optional(),
    max_connection_duration: duration().optional(),
  },
  { unsupported: ['max_stream_duration', 'max_headers_count', 'headers_with_underscores_action', 'max_response_headers_kb'] },
);

const explicitHttpConfig = section({
  http_protocol_options: section({}, { unsupported: HTTP1_OPTIONS_UNSUPPORTED }).optional(),
  http2_protocol_options: forbidden(ONLY_HTTP1),
  http3_protocol_options: forbidden(ONLY_HTTP1),
});

const httpProtocolOptions = section(
  {
    '@type': typeUrl(HTTP_PROTOCOL_OPTIONS_TYPE),
    common_http_protocol_options: upstreamCommonOptions.prefault({}),
    explicit_http_config: explicitHttpConfig.optional(),
  },
  { unsupported: ['upstream_http_protocol_options', 'use_downstream_protocol_config', 'auto_config', 'http_filters', 'header_validation_config', 'outlier_detection'] },
);

// ---------------------------------------------------------------------------------------
// Health checking, outlier detection and load-balancer options (docs/resilience.md)

const nonNegativeNumber = scalar('a number >= 0', (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined));

/** envoy.type.v3.Percent: `{ value }`, 0-100. */
const percent = section({
  value: scalar('a number 0-100', (v) => (typeof v === 'number' && v >= 0 && v <= 100 ? v : undefined)).default(0),
}).transform((p) => p.value);

/** envoy.type.v3.Int64Range, half-open [start, end), as an HTTP status range. */
const statusRange = refine(section({ start: integer(100, 599), end: integer(101, 600) }), (r, ctx, parsed) => {
  if (parsed.ok() && r.end <= r.start) reject(ctx, ['end'], `end (${r.end}) must be greater than start (${r.start}); the range is [start, end)`);
});

const httpHealthCheck = section(
  { path: name, host: name.optional(), expected_statuses: z.array(statusRange).optional() },
  {
    unsupported: [
      'send', 'receive', 'request_headers_to_add', 'request_headers_to_remove', 'retriable_statuses',
      'codec_client_type', 'service_name_matcher', 'method', 'response_buffer_size',
    ],
  },
);

const OTHER_CHECKERS = 'only http_health_check is supported';

const healthCheckFields = section(
  {
    timeout: duration({ positive: true }),
    interval: duration({ positive: true }),
    interval_jitter: duration().default(0),
    unhealthy_threshold: integer(1),
    healthy_threshold: integer(1),
    reuse_connection: bool.default(true),
    http_health_check: httpHealthCheck.optional(),
    tcp_health_check: forbidden(OTHER_CHECKERS),
    grpc_health_check: forbidden(OTHER_CHECKERS),
    custom_health_check: forbidden(OTHER_CHECKERS),
  },
  {
    unsupported: [
      'initial_jitter', 'interval_jitter_percent', 'alt_port', 'no_traffic_interval', 'no_traffic_healthy_interval',
      'unhealthy_interval', 'unhealthy_edge_interval', 'healthy_edge_interval', 'event_log_path', 'event_logger',
      'event_service', 'always_log_health_check_failures', 'always_log_health_check_success', 'tls_options',
      'transport_socket_match_criteria',
    ],
  },
);

const healthCheck = refine(healthCheckFields, (h, ctx, parsed) => {
  const otherFailed = !parsed.ok('tcp_health_check') || !parsed.ok('grpc_health_check') || !parsed.ok('custom_health_check');
  if (h.http_health_check === undefined && !otherFailed) reject(ctx, [], `a health check needs http_health_check (${OTHER_CHECKERS})`);
}).transform(
  (h): HealthCheck => ({
    timeout: h.timeout,
    interval: h.interval,
    interval_jitter: h.interval_jitter,
    unhealthy_threshold: h.unhealthy_threshold,
    healthy_threshold: h.healthy_threshold,
    reuse_connection: h.reuse_connection,
    http_health_check: {
      path: h.http_health_check!.path,
      ...(h.http_health_check!.host !== undefined && { host: h.http_health_check!.host }),
      // Envoy's default when none are given: 200 only.
      expected_statuses: h.http_health_check!.expected_statuses?.length ? h.http_health_check!.expected_statuses : [{ start: 200, end: 201 }],
    },
  }),
);

const DEFAULT_MAX_EJECTION_TIME_MS = 300_000;

const outlierDetectionFields = section(
  {
    consecutive_5xx: uint32.default(5),
    consecutive_gateway_failure: uint32.default(5),
    enforcing_consecutive_5xx: integer(0, 100).default(100),
    enforcing_consecutive_gateway_failure: integer(0, 100).default(0),
    interval: duration({ positive: true }).default(10_000),
    base_ejection_time: duration({ positive: true }).default(30_000),
    max_ejection_time: duration({ positive: true }).optional(),
    max_ejection_percent: integer(0, 100).default(10),
    successful_active_health_check_uneject_host: bool.default(true),
    split_external_local_origin_errors: bool.default(false),
  },
  {
    unsupported: [
      'success_rate_minimum_hosts', 'success_rate_request_volume', 'success_rate_stdev_factor', 'enforcing_success_rate',
      'failure_percentage_threshold', 'enforcing_failure_percentage', 'enforcing_failure_percentage_local_origin',
      'failure_percentage_minimum_hosts', 'failure_percentage_request_volume', 'consecutive_local_origin_failure',
      'enforcing_consecutive_local_origin_failure', 'enforcing_local_origin_success_rate', 'max_ejection_time_jitter',
      'always_eject_one_host', 'monitors', 'detect_degraded_hosts',
    ],
  },
);

const outlierDetection = refine(outlierDetectionFields, (o, ctx, parsed) => {
  if (parsed.ok('split_external_local_origin_errors') && o.split_external_local_origin_errors) {
    reject(ctx, ['split_external_local_origin_errors'], 'split_external_local_origin_errors is not supported; local-origin errors count as 5xx');
  }
  if (parsed.ok('max_ejection_time') && parsed.ok('base_ejection_time') && o.max_ejection_time !== undefined && o.max_ejection_time < o.base_ejection_time) {
    reject(ctx, ['max_ejection_time'], 'max_ejection_time must not be smaller than base_ejection_time');
  }
}).transform(
  (o): OutlierDetection => ({
    consecutive_5xx: o.consecutive_5xx,
    consecutive_gateway_failure: o.consecutive_gateway_failure,
    enforcing_consecutive_5xx: o.enforcing_consecutive_5xx,
    enforcing_consecutive_gateway_failure: o.enforcing_consecutive_gateway_failure,
    interval: o.interval,
    base_ejection_time: o.base_ejection_time,
    // Unset: 300 s, or base_ejection_time when that is longer.
    max_ejection_time: o.max_ejection_time ?? Math.max(DEFAULT_MAX_EJECTION_TIME_MS, o.base_ejection_time),
    max_ejection_percent: o.max_ejection_percent,
    successful_active_health_check_uneject_host: o.successful_active_health_check_uneject_host,
  }),
);

const commonLbConfig = section(
  { healthy_panic_threshold: percent.optional() },
  {
    unsupported: [
      'zone_aware_lb_config', 'locality_weighted_lb_config', 'update_merge_window', 'ignore_new_hosts_until_first_hc',
      'close_connections_on_host_set_change', 'consistent_hashing_lb_config', 'override_host_status',
    ],
  },
);

const leastRequestLbConfig = section(
  {
    choice_count: integer(2).default(2),
    // RuntimeDouble: only its default_value is read (no runtime layer here).
    active_request_bias: section({ default_value: nonNegativeNumber, runtime_key: text.optional() })
      .transform((b) => b.default_value)
      .optional(),
  },
  { unsupported: ['slow_start_config', 'locality_lb_config', 'enable_full_scan', 'selection_method'] },
).transform((l) => ({ choice_count: l.choice_count, active_request_bias: l.active_request_bias ?? 1 }));

const MAX_RING_SIZE = 8_388_608;

const ringHashLbConfig = refine(
  section(
    {
      minimum_ring_size: integer(1, MAX_RING_SIZE).default(1024),
      maximum_ring_size: integer(1, MAX_RING_SIZE).default(MAX_RING_SIZE),
      hash_function: oneOf(['XX_HASH'], { MURMUR_HASH_2: 'hash_function MURMUR_HASH_2 is not supported; use XX_HASH' }).default('XX_HASH'),
    },
    { unsupported: ['use_hostname_for_hashing', 'hash_balance_factor', 'consistent_hashing_lb_config', 'locality_weighted_lb_config'] },
  ),
  (r, ctx, parsed) => {
    if (parsed.ok('minimum_ring_size') && parsed.ok('maximum_ring_size') && r.minimum_ring_size > r.maximum_ring_size) {
      reject(ctx, ['minimum_ring_size'], `minimum_ring_size (${r.minimum_ring_size}) is larger than maximum_ring_size (${r.maximum_ring_size})`);
    }
  },
).transform((r) => ({ minimum_ring_size: r.minimum_ring_size, maximum_ring_size: r.maximum_ring_size }));

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

const maglevLbConfig = section(
  {
    table_size: scalar('a prime number up to 5000011', (v) => {
      const n = toInteger(v);
      if (n === undefined) return undefined;
      return n <= 5_000_011 && isPrime(n) ? n : new Rejected(`table_size must be a prime number up to 5000011, got ${show(v)}`);
    }).default(65_537),
  },
  { unsupported: ['use_hostname_for_hashing', 'consistent_hashing_lb_config', 'locality_weighted_lb_config'] },
);

const CLUSTER_TYPES = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS'] as const;
const LB_POLICIES = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV'] as const;

const clusterFields = section(
  {
    name,
    type: oneOf(CLUSTER_TYPES, {
      EDS: 'cluster type EDS is not supported (no xDS); use STATIC, STRICT_DNS or LOGICAL_DNS',
      ORIGINAL_DST: 'cluster type ORIGINAL_DST is not supported; use STATIC, STRICT_DNS or LOGICAL_DNS',
    }).default('STATIC'),
    connect_timeout: duration({ positive: true }).default(5000),
    lb_policy: oneOf(LB_POLICIES, {
      CLUSTER_PROVIDED: 'lb_policy CLUSTER_PROVIDED is not supported',
      LOAD_BALANCING_POLICY_CONFIG: 'lb_policy LOAD_BALANCING_POLICY_CONFIG is not supported',
    }).default('ROUND_ROBIN'),
    load_assignment: loadAssignment.optional(),
    circuit_breakers: circuitBreakers.optional(),
    per_connection_buffer_limit_bytes: uint32.default(ONE_MIB),
    max_requests_per_connection: uint32.optional(),
    typed_extension_protocol_options: section({ [HTTP_PROTOCOL_OPTIONS]: httpProtocolOptions.optional() }).optional(),
    http2_protocol_options: forbidden(ONLY_HTTP1),
    // health and load balancing (docs/resilience.md)
    health_checks: z.array(healthCheck).optional(),
    outlier_detection: outlierDetection.optional(),
    common_lb_config: commonLbConfig.optional(),
    least_request_lb_config: leastRequestLbConfig.optional(),
    ring_hash_lb_config: ringHashLbConfig.optional(),
    maglev_lb_config: maglevLbConfig.optional(),
  },
  {
    unsupported: [
      'alt_stat_name', 'eds_cluster_config', 'cluster_type', 'lrs_server', 'upstream_config', 'filters',
      'load_balancing_policy', 'track_timeout_budgets', 'track_cluster_stats', 'protocol_selection',
      'lb_subset_config', 'original_dst_lb_config', 'round_robin_lb_config', 'transport_socket',
      'transport_socket_matches', 'upstream_bind_config', 'upstream_connection_options', 'dns_refresh_rate',
      'dns_failure_refresh_rate', 'dns_jitter', 'respect_dns_ttl', 'dns_lookup_family', 'dns_resolvers',
      'use_tcp_for_dns_lookups', 'dns_resolution_config', 'typed_dns_resolver_config', 'wait_for_warm_on_init',
      'cleanup_interval', 'close_connections_on_host_health_failure', 'ignore_health_on_host_removal',
      'preconnect_policy', 'metadata', 'http_protocol_options', 'common_http_protocol_options',
      'upstream_http_protocol_options', 'connection_pool_per_downstream_connection',
    ],
  },
);

type ParsedCluster = z.output<typeof clusterFields>;

/** A STATIC cluster's hosts are used as written, so each must already be an IP address. */
function checkStaticEndpoints(c: ParsedCluster, ctx: Ctx, parsed: Parsed) {
  if (!parsed.has('load_assignment', 'endpoints')) return;
  (c.load_assignment?.endpoints ?? []).forEach((locality, l) => {
    if (!parsed.has('load_assignment', 'endpoints', l, 'lb_endpoints')) return;
    locality.lb_endpoints.forEach((lb, e) => {
      const at = ['load_assignment', 'endpoints', l, 'lb_endpoints', e, 'endpoint', 'address'];
      if (!parsed.ok(...at) || ipFamily(lb.endpoint.address.address)) return;
      const host = lb.endpoint.address.address;
      reject(ctx, [...at, 'socket_address', 'address'], `STATIC cluster endpoints must be IP addresses; use type: STRICT_DNS for '${host}'`);
    });
  });
}

function checkCluster(c: ParsedCluster, ctx: Ctx, parsed: Parsed) {
  if (parsed.ok('type') && c.type === 'STATIC') checkStaticEndpoints(c, ctx, parsed);
  if (parsed.ok('type') && parsed.ok('load_assignment') && c.type === 'LOGICAL_DNS') {
    const localities = c.load_assignment?.endpoints ?? [];
    if (localities.length !== 1 || localities[0].lb_endpoints.length !== 1) {
      reject(ctx, ['load_assignment'], 'a LOGICAL_DNS cluster needs exactly one locality with exactly one lb_endpoint');
    }
  }
  const common = c.typed_extension_protocol_options?.[HTTP_PROTOCOL_OPTIONS]?.common_http_protocol_options;
  const inBoth = c.max_requests_per_connection !== undefined && common?.max_requests_per_connection !== undefined;
  if (parsed.ok('max_requests_per_connection') && parsed.ok('typed_extension_protocol_options') && inBoth) {
    reject(ctx, ['max_requests_per_connection'], `set max_requests_per_connection either here (deprecated) or in ${HTTP_PROTOCOL_OPTIONS}, not both`);
  }
  // Envoy refuses more than one health checker per cluster too.
  if (parsed.has('health_checks') && (c.health_checks?.length ?? 0) > 1) {
    reject(ctx, ['health_checks', 1], 'only one health check per cluster is supported');
  }
}

function toCluster(c: ParsedCluster): Cluster {
  const common = c.typed_extension_protocol_options?.[HTTP_PROTOCOL_OPTIONS]?.common_http_protocol_options;
  // Envoy uses the first thresholds entry for a priority; requests here are all DEFAULT priority.
  const limits = c.circuit_breakers?.thresholds.find((t) => t.priority === 'DEFAULT') ?? CIRCUIT_BREAKER_DEFAULTS;
  return {
    name: c.name,
    type: c.type,
    connect_timeout: c.connect_timeout,
    lb_policy: c.lb_policy,
    endpoints: (c.load_assignment?.endpoints ?? []).flatMap((locality) =>
      locality.lb_endpoints.map(
        (lb): Endpoint => ({
          address: lb.endpoint.address,
          ...(lb.endpoint.hostname !== undefined && { hostname: lb.endpoint.hostname }),
          load_balancing_weight: lb.load_balancing_weight,
        }),
      ),
    ),
    max_requests_per_connection: c.max_requests_per_connection ?? common?.max_requests_per_connection ?? 0,
    idle_timeout: common?.idle_timeout ?? ONE_HOUR_MS,
    ...(common?.max_connection_duration && { max_connection_duration: common.max_connection_duration }),
    per_connection_buffer_limit_bytes: c.per_connection_buffer_limit_bytes,
    circuit_breakers: {
      max_connections: limits.max_connections,
      max_pending_requests: limits.max_pending_requests,
      max_requests: limits.max_requests,
      max_retries: limits.max_retries,
      ...('retry_budget' in limits && limits.retry_budget && { retry_budget: limits.retry_budget }),
      ...('track_remaining' in limits && limits.track_remaining && { track_remaining: true }),
    },
    // health and load balancing: present only when configured
    ...(c.health_checks?.length && { health_checks: c.health_checks }),
    ...(c.outlier_detection && { outlier_detection: c.outlier_detection }),
    ...(c.common_lb_config?.healthy_panic_threshold !== undefined && {
      common_lb_config: { healthy_panic_threshold: c.common_lb_config.healthy_panic_threshold },
    }),
    ...(c.least_request_lb_config && { least_request_lb_config: c.least_request_lb_config }),
    ...(c.ring_hash_lb_config && { ring_hash_lb_config: c.ring_hash_lb_config }),
    ...(c.maglev_lb_config && { maglev_lb_config: c.maglev_lb_config }),
  };
}

const cluster = refine(clusterFields, checkCluster).transform(toCluster);

// ---------------------------------------------------------------------------------------
// Bootstrap

/** A filter chain whose own transform did not run keeps its YAML shape (its filters' outputs). */
interface UnloadedChain {
  filters: { typed_config: { route_config: RouteConfiguration } }[];
}

/**
 * Every route config of a listener, with the path of its YAML. It is found even when
 * something else in its chain failed (a bad stat_prefix, say), so its cluster references
 * are still checked; the caller asks `parsed` before reading each part.
 */
function routeConfigsOf(l: Listener, li: number, parsed: Parsed): [PropertyKey[], RouteConfiguration][] {
  if (!parsed.has('listeners', li)) return [];
  const chains: [PropertyKey[], FilterChain][] = [];
  if (parsed.has('listeners', li, 'filter_chains')) {
    l.filter_chains.forEach((chain, c) => chains.push([['listeners', li, 'filter_chains', c], chain]));
  }
  if (l.default_filter_chain) chains.push([['listeners', li, 'default_filter_chain'], l.default_filter_chain]);
  return chains.flatMap(([chainPath, chain]): [PropertyKey[], RouteConfiguration][] => {
    if (!parsed.has(...chainPath)) return [];
    // A loaded chain has exactly one network filter, the HCM, so it is filters[0]. The shape
    // tells: a rule above may have flagged something inside a chain that loaded fine.
    if ('hcm' in chain) return [[[...chainPath, 'filters', 0, 'typed_config', 'route_config'], chain.hcm.route_config]];
    if (!parsed.has(...chainPath, 'filters')) return [];
    return (chain as unknown as UnloadedChain).filters.flatMap((filter, i): [PropertyKey[], RouteConfiguration][] => {
      const path = [...chainPath, 'filters', i, 'typed_config', 'route_config'];
      const found = parsed.ok(...chainPath, 'filters', i, 'name') && parsed.has(...path);
      return found ? [[path, filter.typed_config.route_config]] : [];
    });
  });
}

/**
 * With validate_clusters (the default for inline routes) every named cluster must exist.
 * Route configs, hosts and routes that failed elsewhere keep the same paths to their
 * cluster names, so each reference is checked on its own.
 */
function checkClusterReferences(ctx: Ctx, parsed: Parsed, listeners: Listener[], clusters: Cluster[]) {
  const names = clusters.filter((_, i) => parsed.ok('clusters', i, 'name')).map((c) => c.name);
  const known = new Set(names);
  const check = (path: PropertyKey[], read: () => string | undefined) => {
    const clusterName = parsed.ok(...path) ? read() : undefined;
    if (clusterName === undefined || known.has(clusterName)) return;
    reject(ctx, path, `unknown cluster '${clusterName}' (known clusters: ${names.join(', ') || 'none'})`);
  };
  listeners.forEach((l, li) =>
    routeConfigsOf(l, li, parsed).forEach(([rcPath, rc]) => {
      if (!parsed.ok(...rcPath, 'validate_clusters') || !rc.validate_clusters || !parsed.has(...rcPath, 'virtual_hosts')) return;
      rc.virtual_hosts.forEach((vh, v) => {
        if (!parsed.has(...rcPath, 'virtual_hosts', v, 'routes')) return;
        vh.routes.forEach((r, i) => {
          const at = [...rcPath, 'virtual_hosts', v, 'routes', i, 'route'];
          if (!parsed.has(...at)) return;
          check([...at, 'cluster'], () => r.route?.cluster);
          if (!parsed.has(...at, 'weighted_clusters', 'clusters')) return;
          r.route?.weighted_clusters?.clusters.forEach((w, k) => check([...at, 'weighted_clusters', 'clusters', k, 'name'], () => w.name));
        });
      });
    }),
  );
}

const staticResourcesFields = section(
  {
    listeners: z.array(listener).default([]),
    clusters: z.array(cluster).default([]),
  },
  { unsupported: ['secrets'] },
);

const staticResources = refine(staticResourcesFields, (sr, ctx, parsed) => {
  const { listeners, clusters } = sr;
  if (parsed.has('listeners')) {
    const listenerName = (l: Listener, i: number) => (parsed.ok('listeners', i, 'name') ? l.name : undefined);
    checkUnique(ctx, listeners, listenerName, (i) => ['listeners', i, 'name'], (n, j) => `duplicate listener name '${n}' (also listeners[${j}])`);
    // Port 0 asks the OS for any free port, so several listeners may use it.
    const bound = (l: Listener, i: number) =>
      parsed.ok('listeners', i, 'address') && l.address.port_value !== 0 ? `${l.address.address}:${l.address.port_value}` : undefined;
    checkUnique(ctx, listeners, bound, (i) => ['listeners', i, 'address', 'socket_address'], (a, j) => `address ${a} is already used by listeners[${j}]`);
  }
  if (parsed.has('clusters')) {
    const clusterName = (c: Cluster, i: number) => (parsed.ok('clusters', i, 'name') ? c.name : undefined);
    checkUnique(ctx, clusters, clusterName, (i) => ['clusters', i, 'name'], (n, j) => `duplicate cluster name '${n}' (also clusters[${j}])`);
  }
  if (parsed.has('listeners') && parsed.has('clusters')) checkClusterReferences(ctx, parsed, listeners, clusters);
});

const admin = section(
  { address: bindAddress },
  { unsupported: ['access_log', 'access_log_path', 'profile_path', 'socket_options', 'ignore_global_conn_limit'] },
);

export const bootstrapSchema = section(
  {
    admin: admin.optional(),
    static_resources: staticResources.prefault({}),
  },
  {
    unsupported: [
      'node', 'node_context_params', 'dynamic_resources', 'cluster_manager', 'hds_config', 'flags_path',
      'stats_sinks', 'deferred_stat_options', 'stats_config', 'stats_flush_interval', 'stats_flush_on_admin',
      'watchdog', 'watchdogs', 'tracing', 'layered_runtime', 'overload_manager', 'enable_dispatcher_stats',
      'header_prefix', 'stats_server_version_override', 'use_tcp_for_dns_lookups', 'dns_resolution_config',
      'typed_dns_resolver_config', 'bootstrap_extensions', 'fatal_actions', 'config_sources',
      'default_config_source', 'default_socket_interface', 'certificate_provider_instances', 'inline_headers',
      'perf_tracing_file_path', 'default_regex_engine', 'xds_delegate_extension', 'xds_config_tracker_extension',
      'listener_manager', 'application_log_config', 'grpc_async_client_manager_config', 'memory_allocator_manager',
    ],
  },
) satisfies z.ZodType<Bootstrap>;

/**
 * Warnings that depend on values rather than keys: circuit breaker thresholds that can
 * never apply. Reads input that `bootstrapSchema` has already accepted.
 */
export function unusedThresholds(input: unknown): { path: PropertyKey[]; message: string }[] {
  const clusters = (input as { static_resources?: { clusters?: unknown[] } } | null)?.static_resources?.clusters ?? [];
  return clusters.flatMap((c, ci) => {
    const thresholds = (c as { circuit_breakers?: { thresholds?: { priority?: string }[] } }).circuit_breakers?.thresholds ?? [];
    let defaultSeen = false;
    return thresholds.flatMap((t, ti) => {
      const path = ['static_resources', 'clusters', ci, 'circuit_breakers', 'thresholds', ti];
      const priority = t.priority ?? 'DEFAULT';
      if (priority === 'DEFAULT' && !defaultSeen) {
        defaultSeen = true;
        return [];
      }
      const message =
        priority === 'DEFAULT'
          ? 'only the first DEFAULT thresholds entry is used; this one is ignored'
          : `thresholds for priority ${priority} are ignored (ProxyScope routes every request at DEFAULT priority)`;
      return [{ path, message }];
    });
  });
}
