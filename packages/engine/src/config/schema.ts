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
import { localReplySchemas } from './local-reply';
import { mirrorSchemas } from './mirror';
import { upgradeSchemas } from './upgrade';
import { generatedListenerName } from './listener-name';
import type {
  AccessLog,
  Bootstrap,
  CidrRange,
  CircuitBreakerThresholds,
  Cluster,
  Endpoint,
  FilterChain,
  HashPolicy,
  HeaderMatcher,
  HealthCheck,
  HeaderValueOption,
  HttpConnectionManager,
  Listener,
  OutlierDetection,
  RetryPolicy,
  RouteConfiguration,
  SocketAddress,
  StringMatcher,
  VirtualHost,
} from './types';
import type { Admin, HcmTracing, Node, RuntimeEntry, RuntimeFractionalPercent, RuntimeLayer, TypedExtension } from './types';
import { staticLayerEntries } from '../runtime/runtime';
import { checkWith, httpFilterSchemas } from './http-filters';
import { downstreamTransportSocket, upstreamTransportSocket } from './tls';
import { DNS_LOOKUP_FAMILIES } from '../seams/resolver';
import { dnsFailureRefreshRate } from './dns';
import { networkFilterSchemas, tcpProxyClusterRefs } from './tcp-proxy';
import { LISTENER_FILTERS_TIMEOUT_MS, listenerFilterSchemas } from './listener-filters';
import { rawFilterChains, rawItems, type Raw } from './raw-input';

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
export const MISSING = 'missing required field';
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

const unimplementedFields = new Set<string>();

/**
 * The warning for a key the schemas do not read. The loader checks the file against Envoy's
 * API first (envoy-api/check.ts), so such a key is a real Envoy field: a typo is an error there.
 */
export function ignoredFieldMessage(key: string): string {
  if (unimplementedFields.has(key)) return `unsupported field '${key}' is ignored`;
  return `field '${key}' is valid Envoy config but not modelled by ProxyScope; ignored`;
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

/** `params` of an issue that is a warning: the key at its path loads as if absent. */
export const WARNING = 'proxyscope.warning';

/**
 * A warning at the key `path`: the config loads as if the key were absent (the loader
 * drops it, like an unknown key). `silent` drops it without a second message when one
 * warning already covers several keys.
 */
function warn(ctx: Ctx, path: PropertyKey[], message: string, { silent = false } = {}): void {
  ctx.addIssue({ code: 'custom', path, message, params: { [WARNING]: silent ? 'silent' : 'shown' } });
}

/** Whether an issue is a warning from `warn`, and whether it should be shown. */
export function warningOf(issue: z.core.$ZodIssue): 'shown' | 'silent' | undefined {
  return issue.code === 'custom' ? (issue.params?.[WARNING] as 'shown' | 'silent' | undefined) : undefined;
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
      const failed = ctx.issues.filter((i) => i.code !== 'unrecognized_keys' && !warningOf(i as z.core.$ZodIssue)).map((i) => i.path ?? []);
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
export class Rejected {
  constructor(readonly message: string) {}
}

/**
 * A leaf value. `read` returns the output, `undefined` when the value is not `expected`
 * (the message then says "expected …, got …"), or a `Rejected` with its own message.
 */
export function scalar<T>(expected: string, read: (input: unknown) => T | Rejected | undefined) {
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

/**
 * An enum given by name; `unsupported` names are real Envoy values we refuse with a reason.
 * Any case is accepted and the canonical upper-case name is the output: Envoy parses its
 * YAML/JSON with protobuf's case_insensitive_enum_parsing (MessageUtil::loadFromJson), so
 * `strict_dns` and `round_robin` load there.
 */
function oneOf<const V extends string>(values: readonly V[], unsupported: Record<string, string> = {}) {
  return scalar(`one of ${values.join(', ')}`, (v): V | Rejected | undefined => {
    if (typeof v !== 'string') return undefined;
    const upper = v.toUpperCase();
    if (Object.hasOwn(unsupported, upper)) return new Rejected(unsupported[upper]);
    return values.find((value) => value === upper);
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
// HTTP filters: identified by their typed_config @type; their configs are read in
// ./http-filters.ts (one file per filter in ./filters/) from the building blocks above.

const schemaKit = {
  section, refine, reject, scalar, Rejected, text, name, bool, headerName, uint32, integer, duration, oneOf, codeOf,
  typeUrl, requireOneOf, show, headerMatcher, stringMatcher, headerValueOption, cidrRange,
};
export type SchemaKit = typeof schemaKit;
const { httpFilters, perFilterConfigs, corsPolicy } = httpFilterSchemas(schemaKit);

// ---------------------------------------------------------------------------------------
// Routes

const PATH_SPECIFIERS = ['prefix', 'path', 'safe_regex', 'path_separated_prefix'] as const;

/** envoy.config.core.v3.RuntimeFractionalPercent, looked up in the runtime when a request is matched. */
const runtimeFractionalPercent = section({
  default_value: section({
    numerator: uint32.default(0),
    denominator: codeOf({ HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }).default(100),
  }).prefault({}),
  runtime_key: text.default(''),
}) satisfies z.ZodType<RuntimeFractionalPercent>;

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
      runtime_fraction: runtimeFractionalPercent.optional(),
    },
    {
      unsupported: ['query_parameters', 'grpc', 'tls_context', 'dynamic_metadata', 'connect_matcher', 'path_match_policy', 'filter_state', 'cookies'],
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
  const found: { path: PropertyKey[]; message: string }[] = [];
  const check = (policy: Raw, path: PropertyKey[]) => {
    if (typeof policy?.retry_on !== 'string') return;
    const { unknown } = parseRetryOn(policy.retry_on);
    for (const token of unknown) {
      found.push({ path: [...path, 'retry_on'], message: `unknown retry_on condition '${token}' is ignored (known: ${RETRY_ON_TOKENS.join(', ')})` });
    }
  };
  for (const [chainPath, chain] of rawFilterChains(input)) {
    for (const [filterPath, f] of rawItems(chainPath, chain, 'filters')) {
      const routeConfigPath = [...filterPath, 'typed_config', 'route_config'];
      for (const [vhPath, vh] of rawItems(routeConfigPath, f?.typed_config?.route_config, 'virtual_hosts')) {
        check(vh?.retry_policy, [...vhPath, 'retry_policy']);
        for (const [routePath, r] of rawItems(vhPath, vh, 'routes')) check(r?.route?.retry_policy, [...routePath, 'route', 'retry_policy']);
      }
    }
  }
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

// Upgrades and mirroring: read in ./upgrade.ts and ./mirror.ts from the same building blocks.
const { routeUpgradeConfigs, hcmUpgradeConfigs } = upgradeSchemas(schemaKit);
const { requestMirrorPolicy } = mirrorSchemas(schemaKit);

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
      // RoutingPriority: which circuit breaker thresholds (and pools) the request uses
      priority: oneOf(['DEFAULT', 'HIGH']).optional(),
      upgrade_configs: routeUpgradeConfigs.optional(),
      request_mirror_policies: z.array(requestMirrorPolicy).optional(),
      // deprecated in Envoy for typed_per_filter_config, still read by the CORS filter
      cors: corsPolicy.optional(),
      // Cluster specifiers too (the RouteAction oneof): refused at the field, not as a missing cluster.
      cluster_specifier_plugin: forbidden('cluster_specifier_plugin is not supported by ProxyScope; use cluster, cluster_header or weighted_clusters'),
      inline_cluster_specifier_plugin: forbidden('inline_cluster_specifier_plugin is not supported by ProxyScope; use cluster, cluster_header or weighted_clusters'),
    },
    {
      unsupported: [
        'metadata_match', 'path_rewrite_policy',
        'auto_host_rewrite', 'host_rewrite_header', 'host_rewrite_path_regex', 'append_x_forwarded_host',
        'early_data_policy', 'retry_policy_typed_config',
        'rate_limits', 'include_vh_rate_limits', 'max_grpc_timeout',
        'grpc_timeout_offset', 'internal_redirect_policy', 'internal_redirect_action',
        'max_internal_redirects', 'hedge_policy', 'max_stream_duration',
      ],
    },
  ),
  (a, ctx, parsed) => {
    const plugin = !parsed.ok('cluster_specifier_plugin') || !parsed.ok('inline_cluster_specifier_plugin');
    if (!plugin) requireOneOf(ctx, a, CLUSTER_SPECIFIERS, 'a route action');
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
      // Kept for trace export: the span's operation name.
      decorator: section({ operation: name, propagate: bool.default(true) }).optional(),
      ...headerMutationFields,
    },
    {
      unsupported: ['metadata', 'tracing', 'per_request_buffer_limit_bytes', 'stat_prefix', 'filter_action', 'non_forwarding_action'],
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
    cors: corsPolicy.optional(),
    retry_policy: retryPolicy.optional(),
    include_request_attempt_count: bool.optional(),
    include_attempt_count_in_response: bool.optional(),
    require_tls: oneOf(['NONE', 'EXTERNAL_ONLY', 'ALL'] as const).optional(),
    ...headerMutationFields,
  },
  {
    unsupported: [
      'virtual_clusters', 'rate_limits',
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

/**
 * Envoy finds an extension's factory by its typed_config `@type` first and only falls back
 * to `name` (Config::Utility::getAndCheckFactory), so configs call the HCM
 * `http_connection_manager` and loggers anything at all. Such an entry is read under the
 * canonical name of the extension its `@type` names.
 */
function byTypeUrl(names: Record<string, string>) {
  return (input: unknown): unknown => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
    const type = (input as { typed_config?: { '@type'?: unknown } }).typed_config?.['@type'];
    return typeof type === 'string' && Object.hasOwn(names, type) ? { ...input, name: names[type] } : input;
  };
}

const accessLog = z.preprocess(
  byTypeUrl({ [STDOUT_LOGGER_TYPE]: STDOUT_LOGGER, [FILE_LOGGER_TYPE]: FILE_LOGGER }),
  z.discriminatedUnion('name', [stdoutAccessLog, fileAccessLog], {
    error: (iss) => (iss.code === 'invalid_union' ? unknownExtension(iss.input, 'access logger', `use ${LOGGERS}`) : undefined),
  }),
);

/** Any extension's `typed_config`: an `@type` plus fields the engine reads (or not). */
// `http_filters`: see httpFilterSchemas (./http-filters.ts).

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

const { localReplyConfig } = localReplySchemas(schemaKit, { dataSource, format: accessLogFormat });

/** An extension reference (name + typed_config) kept as written, for a later consumer. */
const typedExtension = section({ name, typed_config: z.looseObject({ '@type': name }).optional() }).transform(
  (e): TypedExtension => {
    const { '@type': type, ...rest } = e.typed_config ?? {};
    return { name: e.name, ...(type !== undefined && { type_url: String(type) }), typed_config: rest };
  },
);

/** envoy.type.v3.Percent as a number 0-100; unset = 100 (every request), Envoy's sampling default. */
const samplingPercent = section({
  value: scalar('a number 0-100', (v) => (typeof v === 'number' && v >= 0 && v <= 100 ? v : undefined)).default(0),
})
  .transform((p) => p.value)
  .default(100);

/** HttpConnectionManager.Tracing: accepted and kept (Bootstrap types) so traces can be exported later. */
const hcmTracing = section(
  {
    client_sampling: samplingPercent,
    random_sampling: samplingPercent,
    overall_sampling: samplingPercent,
    verbose: bool.default(false),
    max_path_tag_length: uint32.default(256),
    custom_tags: z.array(z.record(z.string(), z.unknown())).default([]),
    spawn_upstream_span: bool.optional(),
    provider: typedExtension.optional(),
  },
  { unsupported: ['operation_name'] },
) satisfies z.ZodType<HcmTracing>;

const httpConnectionManagerFields = section(
  {
    '@type': typeUrl(HCM_TYPE),
    tracing: hcmTracing.optional(),
    stat_prefix: name,
    codec_type: oneOf(['AUTO', 'HTTP1', 'HTTP2'], { HTTP3: ONLY_HTTP1 }).default('AUTO'),
    // Accepted, not read: the refinement below warns that the listener speaks HTTP/1.1.
    http2_protocol_options: z.unknown().optional(),
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
    proxy_100_continue: bool.default(false),
    strip_matching_host_port: bool.default(false),
    strip_any_host_port: bool.default(false),
    access_log: z.array(accessLog).default([]),
    http_filters: httpFilters.prefault([]),
    route_config: routeConfiguration,
    upgrade_configs: hcmUpgradeConfigs.optional(),
    local_reply_config: localReplyConfig.optional(),
  },
  {
    unsupported: [
      'rds', 'scoped_routes', 'add_user_agent', 'http3_protocol_options',
      'request_headers_timeout', 'delayed_close_timeout', 'access_log_options',
      'internal_address_config', 'skip_xff_append', 'via', 'forward_client_cert_details',
      'set_current_client_cert_details', 'represent_ipv4_remote_address_as_ipv4_mapped_ipv6',
      'normalize_path', 'merge_slashes', 'path_with_escaped_slashes_action',
      'request_id_extension', 'preserve_external_request_id',
      'always_set_request_id_in_response', 'server_header_transformation', 'scheme_header_transformation',
      'original_ip_detection_extensions', 'early_header_mutation_extensions', 'typed_header_validation_config',
      'append_x_forwarded_port', 'append_local_overload', 'add_proxy_protocol_connection_state',
      'strip_trailing_host_dot', 'proxy_status_config', 'http1_safe_max_connection_duration',
    ],
  },
);

const httpConnectionManager = refine(httpConnectionManagerFields, (hcm, ctx, parsed) => {
  // Envoy's HTTP2 codec expects the HTTP/2 preface; ProxyScope's codec is HTTP/1.1 (llhttp).
  const http2 = [
    ...(parsed.ok('codec_type') && hcm.codec_type === 'HTTP2' ? [['codec_type']] : []),
    ...(hcm.http2_protocol_options !== undefined ? [['http2_protocol_options']] : []),
  ];
  http2.forEach((path, i) =>
    warn(ctx, path, 'HTTP/2 downstream is not supported yet: this listener speaks HTTP/1.1 only (as codec_type AUTO does here)', { silent: i > 0 }),
  );
  const bothStrip = hcm.strip_matching_host_port === true && hcm.strip_any_host_port === true;
  if (parsed.ok('strip_matching_host_port') && parsed.ok('strip_any_host_port') && bothStrip) {
    reject(ctx, ['strip_any_host_port'], 'set either strip_matching_host_port or strip_any_host_port, not both');
  }
}).transform(
  (hcm): HttpConnectionManager => ({
    stat_prefix: hcm.stat_prefix,
    // HTTP2 was warned about and dropped (see above), so only AUTO or HTTP1 arrives here.
    codec_type: hcm.codec_type === 'HTTP2' ? 'AUTO' : hcm.codec_type,
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
    ...(hcm.proxy_100_continue && { proxy_100_continue: true }),
    strip_matching_host_port: hcm.strip_matching_host_port,
    strip_any_host_port: hcm.strip_any_host_port,
    accept_http_10: hcm.http_protocol_options.accept_http_10,
    access_log: hcm.access_log,
    http_filters: hcm.http_filters,
    route_config: hcm.route_config,
    ...(hcm.tracing && { tracing: hcm.tracing }),
    ...(hcm.upgrade_configs !== undefined && hcm.upgrade_configs.length > 0 && { upgrade_configs: hcm.upgrade_configs }),
    ...(hcm.local_reply_config !== undefined && { local_reply_config: hcm.local_reply_config }),
  }),
);

// ---------------------------------------------------------------------------------------
// Listeners

// HCM, tcp_proxy, and filters bytes pass through (config/tcp-proxy.ts)
const { networkFilter, checkNetworkFilters, terminalOf } = networkFilterSchemas(schemaKit, { httpConnectionManager, accessLog });
// listener_filters (the TLS inspector), listener_filters_timeout (config/listener-filters.ts)
const { listenerFilterFields } = listenerFilterSchemas(schemaKit);

const filterChainMatch = section(
  {
    destination_port: integer(1, 65535).optional(),
    prefix_ranges: z.array(cidrRange).default([]),
    source_prefix_ranges: z.array(cidrRange).default([]),
    source_ports: z.array(integer(1, 65535)).default([]),
    // SNI, `tls`/`raw_buffer` and the ALPN list, as the TLS inspector reports them (listener/tls-inspector.ts)
    server_names: z.array(name).optional(),
    transport_protocol: name.optional(),
    application_protocols: z.array(name).optional(),
  },
  { unsupported: ['direct_source_prefix_ranges', 'source_type', 'address_suffix', 'suffix_len'] },
);

const filterChainFields = section(
  {
    name: name.optional(),
    filter_chain_match: filterChainMatch.prefault({}),
    filters: z.array(networkFilter).default([]),
    transport_socket: z.lazy(downstreamTransportSocket).optional(),
  },
  { unsupported: ['transport_socket_connect_timeout', 'metadata', 'use_proxy_proto', 'on_demand_configuration'] },
);

const filterChain = refine(filterChainFields, (chain, ctx, parsed) => {
  if (!parsed.has('filters')) return;
  checkNetworkFilters(chain.filters, ctx, (i) => parsed.ok('filters', i, 'name'));
}).transform((chain) => ({
  name: chain.name,
  filter_chain_match: chain.filter_chain_match,
  ...terminalOf(chain.filters),
  ...(chain.transport_socket && { transport_socket: chain.transport_socket }),
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
    // Optional as in Envoy: staticResources names an unnamed listener (generatedListenerName).
    name: name.optional(),
    address: bindAddress,
    per_connection_buffer_limit_bytes: uint32.default(ONE_MIB),
    filter_chains: z.array(filterChain).default([]),
    default_filter_chain: filterChain.optional(),
    ...listenerFilterFields,
  },
  {
    unsupported: [
      'stat_prefix', 'metadata', 'drain_type', 'transparent', 'freebind', 'socket_options',
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
    name: l.name ?? '',
    address: l.address,
    per_connection_buffer_limit_bytes: l.per_connection_buffer_limit_bytes,
    filter_chains: l.filter_chains.map((chain, i): FilterChain => ({ ...chain, name: chain.name ?? `filter_chain_${i}` })),
    ...(l.default_filter_chain && {
      default_filter_chain: { ...l.default_filter_chain, name: l.default_filter_chain.name ?? 'default_filter_chain' },
    }),
    // only what differs from the defaults, as Listener documents them
    ...(l.listener_filters.length > 0 && { listener_filters: l.listener_filters }),
    ...(l.listener_filters_timeout !== LISTENER_FILTERS_TIMEOUT_MS && { listener_filters_timeout: l.listener_filters_timeout }),
    ...(l.continue_on_listener_filters_timeout && { continue_on_listener_filters_timeout: true }),
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

/**
 * Http2ProtocolOptions are accepted, not read: until ProxyScope speaks HTTP/2 such a
 * cluster gets HTTP/1.1, and checkCluster says so once (upstreamHttp2Fields).
 */
const http2Options = z.unknown().optional();

const upstreamProtocolFields = {
  http_protocol_options: section({}, { unsupported: HTTP1_OPTIONS_UNSUPPORTED }).optional(),
  http2_protocol_options: http2Options,
  http3_protocol_options: forbidden(ONLY_HTTP1),
};

const explicitHttpConfig = section(upstreamProtocolFields);

const httpProtocolOptions = section(
  {
    '@type': typeUrl(HTTP_PROTOCOL_OPTIONS_TYPE),
    common_http_protocol_options: upstreamCommonOptions.prefault({}),
    explicit_http_config: explicitHttpConfig.optional(),
    use_downstream_protocol_config: section(upstreamProtocolFields).optional(),
    auto_config: section(upstreamProtocolFields, { unsupported: ['alternate_protocols_cache_options'] }).optional(),
  },
  { unsupported: ['upstream_http_protocol_options', 'http_filters', 'header_validation_config', 'outlier_detection'] },
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
    // RuntimeDouble: the runtime's value for runtime_key, else default_value (upstream/load-balancer.ts).
    active_request_bias: section({ default_value: nonNegativeNumber, runtime_key: text.optional() }).optional(),
  },
  { unsupported: ['slow_start_config', 'locality_lb_config', 'enable_full_scan', 'selection_method'] },
).transform((l) => ({
  choice_count: l.choice_count,
  active_request_bias: l.active_request_bias?.default_value ?? 1,
  ...(l.active_request_bias?.runtime_key && { active_request_bias_runtime_key: l.active_request_bias.runtime_key }),
}));

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
    http2_protocol_options: http2Options,
    // health and load balancing (docs/resilience.md)
    health_checks: z.array(healthCheck).optional(),
    outlier_detection: outlierDetection.optional(),
    common_lb_config: commonLbConfig.optional(),
    least_request_lb_config: leastRequestLbConfig.optional(),
    ring_hash_lb_config: ringHashLbConfig.optional(),
    maglev_lb_config: maglevLbConfig.optional(),
    transport_socket: z.lazy(upstreamTransportSocket).optional(),
    // STRICT_DNS / LOGICAL_DNS re-resolution (config/dns.ts, upstream/dns-resolution.machine.ts)
    dns_refresh_rate: duration({ positive: true }).optional(),
    dns_failure_refresh_rate: z.lazy(dnsFailureRefreshRate).optional(),
    respect_dns_ttl: bool.optional(),
    dns_lookup_family: oneOf(DNS_LOOKUP_FAMILIES).optional(),
  },
  {
    unsupported: [
      'alt_stat_name', 'eds_cluster_config', 'cluster_type', 'lrs_server', 'upstream_config', 'filters',
      'load_balancing_policy', 'track_timeout_budgets', 'track_cluster_stats', 'protocol_selection',
      'lb_subset_config', 'original_dst_lb_config', 'round_robin_lb_config',
      'transport_socket_matches', 'upstream_bind_config', 'upstream_connection_options', 'dns_resolvers',
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

/** The fields of a cluster that ask for HTTP/2 upstream, as paths below the cluster. */
function upstreamHttp2Fields(c: ParsedCluster): PropertyKey[][] {
  const at = ['typed_extension_protocol_options', HTTP_PROTOCOL_OPTIONS];
  const options = c.typed_extension_protocol_options?.[HTTP_PROTOCOL_OPTIONS];
  const found: PropertyKey[][] = [];
  if (c.http2_protocol_options !== undefined) found.push(['http2_protocol_options']);
  if (options?.explicit_http_config?.http2_protocol_options !== undefined) found.push([...at, 'explicit_http_config', 'http2_protocol_options']);
  // use_downstream_protocol_config picks HTTP/1.1 here (downstreams are HTTP/1.1), so only
  // its HTTP/2 options go unused; auto_config would negotiate HTTP/2 with ALPN.
  if (options?.use_downstream_protocol_config?.http2_protocol_options !== undefined) {
    found.push([...at, 'use_downstream_protocol_config', 'http2_protocol_options']);
  }
  if (options?.auto_config !== undefined) found.push([...at, 'auto_config']);
  return found;
}

function checkCluster(c: ParsedCluster, ctx: Ctx, parsed: Parsed) {
  if (parsed.has('typed_extension_protocol_options')) {
    upstreamHttp2Fields(c).forEach((path, i) => {
      const message = 'HTTP/2 upstream is not supported yet: ProxyScope speaks HTTP/1.1 to this cluster (an upstream that only speaks HTTP/2, such as a gRPC server, will fail)';
      warn(ctx, path, message, { silent: i > 0 });
    });
  }
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

type ParsedThreshold = z.output<typeof threshold>;

function thresholdsOf(t: ParsedThreshold | typeof CIRCUIT_BREAKER_DEFAULTS): CircuitBreakerThresholds {
  return {
    max_connections: t.max_connections,
    max_pending_requests: t.max_pending_requests,
    max_requests: t.max_requests,
    max_retries: t.max_retries,
    ...('retry_budget' in t && t.retry_budget && { retry_budget: t.retry_budget }),
    ...('track_remaining' in t && t.track_remaining && { track_remaining: true }),
  };
}

function toCluster(c: ParsedCluster): Cluster {
  const common = c.typed_extension_protocol_options?.[HTTP_PROTOCOL_OPTIONS]?.common_http_protocol_options;
  // ClusterInfoImpl::ResourceManagers::load: the first thresholds entry for a priority wins.
  const limits = c.circuit_breakers?.thresholds.find((t) => t.priority === 'DEFAULT') ?? CIRCUIT_BREAKER_DEFAULTS;
  const high = c.circuit_breakers?.thresholds.find((t) => t.priority === 'HIGH');
  return {
    name: c.name,
    type: c.type,
    connect_timeout: c.connect_timeout,
    lb_policy: c.lb_policy,
    // DNS settings: present only when configured (config/dns.ts dnsSettings fills the defaults)
    ...(c.dns_refresh_rate !== undefined && { dns_refresh_rate: c.dns_refresh_rate }),
    ...(c.dns_failure_refresh_rate && { dns_failure_refresh_rate: c.dns_failure_refresh_rate }),
    ...(c.respect_dns_ttl !== undefined && { respect_dns_ttl: c.respect_dns_ttl }),
    ...(c.dns_lookup_family !== undefined && { dns_lookup_family: c.dns_lookup_family }),
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
    circuit_breakers: thresholdsOf(limits),
    // Absent: HIGH keeps Envoy's defaults, whatever DEFAULT says.
    ...(high && { circuit_breakers_high: thresholdsOf(high) }),
    // health and load balancing: present only when configured
    ...(c.health_checks?.length && { health_checks: c.health_checks }),
    ...(c.outlier_detection && { outlier_detection: c.outlier_detection }),
    ...(c.common_lb_config?.healthy_panic_threshold !== undefined && {
      common_lb_config: { healthy_panic_threshold: c.common_lb_config.healthy_panic_threshold },
    }),
    ...(c.least_request_lb_config && { least_request_lb_config: c.least_request_lb_config }),
    ...(c.ring_hash_lb_config && { ring_hash_lb_config: c.ring_hash_lb_config }),
    ...(c.maglev_lb_config && { maglev_lb_config: c.maglev_lb_config }),
    ...(c.transport_socket && { transport_socket: c.transport_socket }),
  };
}

const cluster = refine(clusterFields, checkCluster).transform(toCluster);

// ---------------------------------------------------------------------------------------
// Bootstrap

/** A filter chain whose own transform did not run keeps its YAML shape (its filters' outputs). */
interface UnloadedChain {
  filters: { typed_config?: { route_config?: RouteConfiguration } }[];
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
    // A loaded HCM chain's HCM is its last network filter, and nothing else in it has
    // routes. The shape tells: a rule above may have flagged something inside a chain that loaded fine.
    if ('hcm' in chain && chain.hcm) {
      return [[[...chainPath, 'filters', chain.passthrough_filters?.length ?? 0, 'typed_config', 'route_config'], chain.hcm.route_config]];
    }
    if ('tcp_proxy' in chain) return [];
    if (!parsed.has(...chainPath, 'filters')) return [];
    return (chain as unknown as UnloadedChain).filters.flatMap((filter, i): [PropertyKey[], RouteConfiguration][] => {
      const path = [...chainPath, 'filters', i, 'typed_config', 'route_config'];
      const found = parsed.ok(...chainPath, 'filters', i, 'name') && parsed.has(...path) && filter.typed_config?.route_config !== undefined;
      return found ? [[path, filter.typed_config!.route_config!]] : [];
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
  // tcp_proxy's clusters: Envoy looks them up per connection (NC when missing), but with
  // only static clusters a missing one can only be a mistake.
  listeners.forEach((l, li) => {
    if (!parsed.has('listeners', li)) return;
    const chains: [PropertyKey[], FilterChain][] = parsed.has('listeners', li, 'filter_chains') ? l.filter_chains.map((c, ci) => [['listeners', li, 'filter_chains', ci], c]) : [];
    if (l.default_filter_chain) chains.push([['listeners', li, 'default_filter_chain'], l.default_filter_chain]);
    for (const [chainPath, chain] of chains) {
      // Only a chain that loaded has its tcp_proxy read out (a failed one keeps its YAML shape).
      if (!parsed.has(...chainPath) || typeof chain !== 'object' || chain === null || !('tcp_proxy' in chain)) continue;
      for (const [at, clusterName] of tcpProxyClusterRefs(chain)) check([...chainPath, ...at], () => clusterName);
    }
  });
  listeners.forEach((l, li) =>
    routeConfigsOf(l, li, parsed).forEach(([rcPath, rc]) => {
      if (!parsed.ok(...rcPath, 'validate_clusters') || !rc.validate_clusters || !parsed.has(...rcPath, 'virtual_hosts')) return;
      rc.virtual_hosts.forEach((vh, v) => {
        if (!parsed.has(...rcPath, 'virtual_hosts', v, 'routes')) return;
        vh.routes.forEach((r, i) => {
          const at = [...rcPath, 'virtual_hosts', v, 'routes', i, 'route'];
          if (!parsed.has(...at)) return;
          check([...at, 'cluster'], () => r.route?.cluster);
          if (parsed.has(...at, 'request_mirror_policies')) {
            r.route?.request_mirror_policies?.forEach((m, k) => check([...at, 'request_mirror_policies', k, 'cluster'], () => m.cluster));
          }
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
    const listenerName = (l: Listener, i: number) => (parsed.ok('listeners', i, 'name') && l.name !== '' ? l.name : undefined);
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
}).transform((sr) => ({
  ...sr,
  listeners: sr.listeners.map((l, i) => (l.name === '' ? { ...l, name: generatedListenerName(i, l.address) } : l)),
}));

// Admin access logs are accepted (Envoy's sandboxes all set one); none is written.
const admin = section(
  { address: bindAddress, access_log_path: text.optional(), access_log: z.array(accessLog).optional() },
  { unsupported: ['profile_path', 'socket_options', 'ignore_global_conn_limit'] },
) satisfies z.ZodType<Admin>;

/** Node identity: id and cluster are shown by /server_info; the rest describes the node to xDS servers, unused here. */
const node = section({
  id: text.default(''),
  cluster: text.default(''),
  metadata: z.record(z.string(), z.unknown()).optional(),
  locality: z.unknown().optional(),
  user_agent_name: z.unknown().optional(),
  user_agent_version: z.unknown().optional(),
  user_agent_build_version: z.unknown().optional(),
  extensions: z.unknown().optional(),
  client_features: z.unknown().optional(),
  listening_addresses: z.unknown().optional(),
  dynamic_parameters: z.unknown().optional(),
}).transform((n): Node => ({ id: n.id, cluster: n.cluster, ...(n.metadata && { metadata: n.metadata }) }));

/** A static_layer (a protobuf Struct) flattened into runtime entries; Envoy refuses lists and nulls. */
const staticLayer = scalar('a mapping', (v) => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  try {
    return staticLayerEntries(v as Record<string, unknown>);
  } catch (error) {
    return new Rejected((error as Error).message);
  }
});

const RUNTIME_LAYER_KINDS = ['static_layer', 'disk_layer', 'admin_layer', 'rtds_layer'] as const;

/** One layer; only static layers have values here (runtimeLayerWarnings names the others). */
const runtimeLayer = refine(
  section({
    name,
    static_layer: staticLayer.optional(),
    disk_layer: z.unknown().optional(),
    admin_layer: z.unknown().optional(),
    rtds_layer: z.unknown().optional(),
  }),
  (l, ctx) => requireOneOf(ctx, l, RUNTIME_LAYER_KINDS, 'a runtime layer'),
).transform((l) => ({
  layer: {
    name: l.name,
    kind: RUNTIME_LAYER_KINDS.find((k) => l[k] !== undefined) ?? 'static_layer',
    ...(l.static_layer && { values: Object.fromEntries([...l.static_layer].map(([key, entry]) => [key, entry.raw])) }),
  } satisfies RuntimeLayer,
  entries: l.static_layer,
}));

/** LoaderImpl: layer names are unique; later layers override earlier ones key by key. */
const layeredRuntime = refine(section({ layers: z.array(runtimeLayer).default([]) }), (r, ctx, parsed) => {
  // A layer that failed never ran its transform, so only whole layers are compared.
  const layerName = (l: z.output<typeof runtimeLayer>, i: number) => (parsed.ok('layers', i) ? l.layer.name : undefined);
  checkUnique(ctx, r.layers, layerName, (i) => ['layers', i, 'name'], (n, j) => `duplicate runtime layer name '${n}' (also layers[${j}])`);
}).transform((r) => {
  const runtime: Record<string, RuntimeEntry> = {};
  for (const { entries } of r.layers) for (const [key, entry] of entries ?? []) runtime[key] = entry;
  return { layers: r.layers.map((l) => l.layer), runtime };
});

/**
 * Warnings for runtime layers that load but add nothing: ProxyScope reads static layers
 * only. Reads input that `bootstrapSchema` has already accepted.
 */
export function runtimeLayerWarnings(input: unknown): { path: PropertyKey[]; message: string }[] {
  const layers = (input as { layered_runtime?: { layers?: unknown } } | null)?.layered_runtime?.layers;
  if (!Array.isArray(layers)) return [];
  return layers.flatMap((l, i) => {
    const kind = RUNTIME_LAYER_KINDS.find((k) => k !== 'static_layer' && (l as Record<string, unknown> | null)?.[k] !== undefined);
    if (!kind) return [];
    return [{ path: ['layered_runtime', 'layers', i, kind], message: `${kind} is not read: ProxyScope's runtime has only static_layer values, so this layer is empty` }];
  });
}

const bootstrapFields = section(
  {
    admin: admin.optional(),
    node: node.optional(),
    static_resources: staticResources.prefault({}),
    tracing: section({ http: typedExtension.optional() }).optional(),
    layered_runtime: layeredRuntime.optional(),
  },
  {
    unsupported: [
      'node_context_params', 'dynamic_resources', 'cluster_manager', 'hds_config', 'flags_path',
      'stats_sinks', 'deferred_stat_options', 'stats_config', 'stats_flush_interval', 'stats_flush_on_admin',
      'watchdog', 'watchdogs', 'overload_manager', 'enable_dispatcher_stats',
      'header_prefix', 'stats_server_version_override', 'use_tcp_for_dns_lookups', 'dns_resolution_config',
      'typed_dns_resolver_config', 'bootstrap_extensions', 'fatal_actions', 'config_sources',
      'default_config_source', 'default_socket_interface', 'certificate_provider_instances', 'inline_headers',
      'perf_tracing_file_path', 'default_regex_engine', 'xds_delegate_extension', 'xds_config_tracker_extension',
      'listener_manager', 'application_log_config', 'grpc_async_client_manager_config', 'memory_allocator_manager',
    ],
  },
);

export const bootstrapSchema = bootstrapFields.transform(
  ({ layered_runtime, ...b }): Bootstrap => ({
    ...b,
    ...(layered_runtime && { layered_runtime: { layers: layered_runtime.layers }, runtime: layered_runtime.runtime }),
  }),
);

/**
 * Warnings that depend on values rather than keys: circuit breaker thresholds that can
 * never apply. Reads input that `bootstrapSchema` has already accepted.
 */
export function unusedThresholds(input: unknown): { path: PropertyKey[]; message: string }[] {
  const clusters = (input as { static_resources?: { clusters?: unknown[] } } | null)?.static_resources?.clusters ?? [];
  return clusters.flatMap((c, ci) => {
    const thresholds = (c as { circuit_breakers?: { thresholds?: { priority?: string }[] } }).circuit_breakers?.thresholds ?? [];
    const seen = new Set<string>();
    return thresholds.flatMap((t, ti) => {
      const path = ['static_resources', 'clusters', ci, 'circuit_breakers', 'thresholds', ti];
      // Raw input: enum names load in any case (see oneOf).
      const priority = typeof t.priority === 'string' ? t.priority.toUpperCase() : 'DEFAULT';
      if (!seen.has(priority)) {
        seen.add(priority);
        return [];
      }
      return [{ path, message: `only the first ${priority} thresholds entry is used; this one is ignored` }];
    });
  });
}

// The pieces ./tls builds its schemas from (it is imported above, and builds them on first use).
export { base64Text, bool, checkWith, duration, name, oneOf, refine, reject, requireOneOf, section, stringMatcher, text, typeUrl };
