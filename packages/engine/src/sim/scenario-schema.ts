/**
 * The scenario format (docs/scenarios.md) as zod schemas: each mapping lists its keys and
 * what each takes, and transforms to the `Scenario` of scenario-types.ts (times in ms,
 * shares as fractions, keys in camelCase, defaults filled in).
 *
 * A scenario is ProxyScope's own format, not Envoy's, so it is strict: an unknown key is an
 * error (with "did you mean" when a known key is close), because a typo'd `servce_time`
 * silently ignored would make the run mean something else.
 *
 * Times are duration strings with a unit ("40ms", "1.5s", "2m", "1m30s"); a bare number is
 * refused, since "is 40 seconds or milliseconds?" has no safe answer. Shares are a fraction
 * (0.02) or a percentage ("2%").
 *
 * Rules that need several fields are refinements on the mapping that has them all, with
 * the path of the field to blame. They run even when a field failed (so one load reports
 * every error), and so read what they check as `unknown` and narrow it first.
 */
import { z } from 'zod';
import { closest } from '../config/envoy-api/check';
import { MISSING, Rejected, scalar, show } from '../config/schema';
import { isResponseFlag, RESPONSE_FLAG_ORDER } from '../stats/response-flags';
import type { Arrivals, Distribution, Expectation, RequestFilter, Scenario, TimelineAction } from './scenario-types';


// ---------------------------------------------------------------------------------------
// Issues

type Ctx = z.core.$RefinementCtx<unknown>;

/** `params.at` of an issue to place at its key rather than its value. */
const AT_KEY = { at: 'key' } as const;

function reject(ctx: Ctx, path: PropertyKey[], message: string, at: 'key' | 'value' = 'value'): void {
  ctx.addIssue({ code: 'custom', path, message, ...(at === 'key' && { params: AT_KEY }) });
}

/** Whether the loader should place `issue` at its key: an unknown key, or a rule about which keys are given. */
export function isAboutKey(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom' && issue.params?.at === AT_KEY.at;
}

const KIND_NAMES: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' };

/** Messages for the issues zod raises itself (scalars and rules here write their own). */
export function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return MISSING;
  return `expected ${KIND_NAMES[issue.expected] ?? issue.expected}, got ${show(issue.input)}`;
}

const didYouMean = (key: string, names: readonly string[]) => {
  const guess = closest(key, names, key.length <= 4 ? 1 : 2);
  return guess ? ` (did you mean '${guess}'?)` : '';
};

// ---------------------------------------------------------------------------------------
// Building blocks

/**
 * A mapping of exactly these keys. Each unknown key is its own issue, at that key, from a
 * catch-all that accepts nothing and is named by the mapping that knows what was meant
 * (the message is written when the issue is placed, once its path ends in the key).
 *
 * An empty YAML value (`timeout:`, null) is a field left out, except for the keys of
 * `forms` (the key names the form, its value is a mapping): there it is an empty mapping,
 * so `poisson:` says which model was meant and then what it is missing.
 */
function mapping<S extends z.core.$ZodLooseShape>(shape: S, { forms = [] }: { forms?: readonly string[] } = {}) {
  const known = Object.keys(shape);
  // Not aborting: the mapping's own rules still run, so a typo does not hide what is missing.
  const unknownKey = z.custom(() => false, {
    abort: false,
    params: AT_KEY,
    error: (issue) => {
      const key = String(issue.path?.at(-1));
      return `unknown field '${key}'${didYouMean(key, known)}`;
    },
  });
  const emptyValues = (input: unknown) => {
    if (input === null) return {};
    if (!isObj(input)) return input;
    const given = Object.entries(input).filter(([key, v]) => v !== null || forms.includes(key));
    return Object.fromEntries(given.map(([key, v]) => [key, v ?? {}]));
  };
  // Typed as the strict object it behaves as; zod would type the catch-all as an index signature.
  return z.preprocess(emptyValues, z.object(shape).catchall(unknownKey) as unknown as z.ZodObject<S, z.core.$strict>);
}

/** What a rule sees: any field may have failed, so every one is `unknown` until narrowed. */
type Loose<T> = { readonly [K in keyof T]?: unknown };

/** Add a rule over several fields; it runs even when some of them failed. */
function refine<S extends z.ZodType>(schema: S, rule: (value: Loose<z.output<S>>, ctx: Ctx) => void): S {
  return schema.superRefine(
    (value, ctx) => {
      // Not when the value is not even a mapping (or list): that is the one error to report.
      const wrongType = ctx.issues.some((issue) => issue.code === 'invalid_type' && !issue.path?.length);
      if (!wrongType && typeof value === 'object' && value !== null) rule(value as Loose<z.output<S>>, ctx);
    },
    { when: () => true },
  );
}

// Leaf values are the config schema's `scalar`s: a reader's answer, or a `Rejected` in its own words.

/**
 * `bare` for a scalar, `forms` for anything else: `connect_time: 1ms` or
 * `connect_time: { uniform: ... }`. Chosen by the value's shape, so each error is the one
 * the user's form earns (a union would report both).
 */
function bareOr<B extends z.ZodType, F extends z.ZodType>(bare: B, forms: F) {
  return z.unknown().transform((input, ctx): z.output<B> | z.output<F> => {
    const result = (typeof input === 'object' && input !== null ? forms : bare).safeParse(input, { error: describeIssue });
    if (result.success) return result.data;
    for (const issue of result.error.issues) ctx.addIssue({ ...issue });
    return z.NEVER;
  });
}

/** The one of `kinds` that is given; reports none or several. Reads presence only. */
function exactlyOne<K extends string>(ctx: Ctx, value: object, kinds: readonly K[], what: string, companion?: string): K | undefined {
  const given = kinds.filter((k) => k in value);
  if (given.length === 1) return given[0];
  const list = `${kinds.slice(0, -1).join(', ')} or ${kinds[kinds.length - 1]}`;
  // `set:` without `host:` is a host event whose selector is missing, not no action.
  if (given.length === 0 && companion && companion in value) reject(ctx, [kinds[0]], MISSING);
  else if (given.length === 0) reject(ctx, [], `expected ${what}: one of ${list}`, 'key');
  else reject(ctx, [given[1]], `${given[0]} and ${given[1]} both given: expected exactly one of ${list}`, 'key');
  return undefined;
}

/** The kind a value of `exactlyOne` has, once it parsed. */
const kindOf = <K extends string>(value: object, kinds: readonly K[]): K => kinds.find((k) => k in value)!;

type Camel<S> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;
type CamelKeys<T> = { [K in keyof T as Camel<K>]: T[K] };

/** The file's snake_case keys as the types' camelCase: `service_time` → `serviceTime`. */
function camel<T extends object>(value: T): CamelKeys<T> {
  const entries = Object.entries(value).map(([key, v]) => [key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]);
  return Object.fromEntries(entries) as CamelKeys<T>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

// ---------------------------------------------------------------------------------------
// Scalars

const string = scalar('a string', (v) => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined));
const bool = scalar('true or false', (v) => (typeof v === 'boolean' ? v : undefined));
/** `stop: true`, `drain_listeners: true`: a flag that is only ever set. */
const yes = scalar('true', (v) => (v === true ? (true as const) : undefined));

function number({ min, above, whole = false }: { min?: number; above?: number; whole?: boolean } = {}) {
  return scalar(whole ? 'a whole number' : 'a number', (v) => {
    if (typeof v !== 'number' || !(whole ? Number.isInteger(v) : Number.isFinite(v))) return undefined;
    if (min !== undefined && v < min) return new Rejected(`must be at least ${min}, got ${v}`);
    if (above !== undefined && v <= above) return new Rejected(`must be greater than ${above}, got ${v}`);
    return v;
  });
}

const integer = ({ min }: { min?: number } = {}) => number({ min, whole: true });

const status = scalar('an HTTP status from 100 to 599', (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 100 && v <= 599 ? v : undefined));

function oneOf<const T extends string>(values: readonly T[]) {
  return scalar(values.map((x) => JSON.stringify(x)).join(' or '), (v) => {
    if (values.includes(v as T)) return v as T;
    return typeof v === 'string' ? new Rejected(`expected ${values.map((x) => JSON.stringify(x)).join(' or ')}, got ${show(v)}${didYouMean(v, values)}`) : undefined;
  });
}

const flag = scalar('a string', (v) => {
  const s = typeof v === 'string' && v !== '' ? v : undefined;
  if (s === undefined || isResponseFlag(s)) return s;
  return new Rejected(`unknown response flag ${JSON.stringify(s)}${didYouMean(s.toUpperCase(), RESPONSE_FLAG_ORDER)}`);
});

const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_HINT = 'a number and a unit (ms, s, m, h) such as "40ms", "1.5s" or "2m"';

/** `"40ms"` → 40, `"1m30s"` → 90000; undefined for anything else. */
export function parseSimDuration(text: string): number | undefined {
  let ms = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const match = DURATION_PART.exec(text);
    if (!match) return undefined;
    ms += Number(match[1]) * UNIT_MS[match[2]];
  }
  return text.length ? ms : undefined;
}

/** A time in ms, from a duration string; 0 is 0 in any unit, any other bare number could be seconds or milliseconds. */
function time({ positive = false } = {}) {
  return scalar('a duration', (v) => {
    if (v === 0) return positive ? new Rejected('must be greater than 0, got 0') : 0;
    if (typeof v === 'number') return new Rejected(`a time needs a unit: expected ${DURATION_HINT}, got ${v}`);
    const ms = typeof v === 'string' ? parseSimDuration(v.trim()) : undefined;
    if (ms === undefined) return new Rejected(`invalid duration ${show(v)}: expected ${DURATION_HINT}`);
    return positive && ms === 0 ? new Rejected(`must be greater than 0, got ${show(v)}`) : ms;
  });
}

/** A fraction in [0, 1]: `0.02` or `"2%"`. */
const share = scalar('a share', (v) => {
  const hint = 'expected a fraction from 0 to 1 such as 0.02, or a percentage such as "2%"';
  if (typeof v === 'number') {
    if (v >= 0 && v <= 1) return v;
    return new Rejected(`${hint}, got ${v}${v > 1 && v <= 100 ? ` (for ${v} percent write "${v}%")` : ''}`);
  }
  const match = typeof v === 'string' ? /^(\d+(?:\.\d*)?|\.\d+)\s*%$/.exec(v.trim()) : null;
  const value = match ? Number(match[1]) / 100 : undefined;
  return value === undefined || value > 1 ? new Rejected(`${hint}, got ${show(v)}`) : value;
});

const headerValue = scalar('a header value', (v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined));

/** Header names to values, in file order. */
const headers = z.record(z.string(), headerValue, {
  error: (issue) => (issue.code === 'invalid_type' && issue.input !== undefined ? `expected a mapping of header names to values, got ${show(issue.input)}` : undefined),
});

// ---------------------------------------------------------------------------------------
// Distributions: a value drawn per use

const DISTRIBUTION_KINDS = ['constant', 'uniform', 'exponential', 'lognormal', 'histogram'] as const;

/** Milliseconds as the file would write them: `5s`, `250ms`, `1.5ms`. */
export function showTime(ms: number): string {
  if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${+ms.toFixed(6)}ms`;
}

const showShare = (x: number) => `${+(x * 100).toFixed(6)}%`;

/** Times take times (`20ms`), sizes plain byte counts (`512`); a bare value is a constant. */
function distribution(unit: 'time' | 'bytes') {
  const value = unit === 'time' ? time() : number({ min: 0 });
  const showValue = (n: number) => (unit === 'time' ? showTime(n) : String(n));
  const forms = refine(
    mapping({
      constant: value.optional(),
      uniform: refine(mapping({ min: value, max: value }), (u, ctx) => {
        const [min, max] = [num(u.min), num(u.max)];
        if (min !== undefined && max !== undefined && min > max) reject(ctx, ['min'], `min ${showValue(min)} is more than max ${showValue(max)}`);
      }).optional(),
      exponential: refine(mapping({ mean: value }), (e, ctx) => {
        if (e.mean === 0) reject(ctx, ['mean'], 'mean must be greater than 0');
      }).optional(),
      // The median fixes the log-mean, so it must be positive; p99 below it has no lognormal.
      lognormal: refine(mapping({ p50: value, p99: value }), (l, ctx) => {
        const [p50, p99] = [num(l.p50), num(l.p99)];
        if (p50 === 0) reject(ctx, ['p50'], 'p50 must be greater than 0');
        else if (p50 !== undefined && p99 !== undefined && p99 < p50) reject(ctx, ['p99'], `p99 ${showValue(p99)} is less than p50 ${showValue(p50)}`);
      }).optional(),
      histogram: refine(z.array(mapping({ up_to: value, weight: number({ above: 0 }) })).min(1, 'expected at least 1 bucket'), (buckets, ctx) => {
        const upTo = buckets.map((b) => (isObj(b) ? num(b.up_to) : undefined));
        const i = upTo.findIndex((u, i) => i > 0 && u !== undefined && upTo[i - 1] !== undefined && u <= upTo[i - 1]!);
        if (i > 0) reject(ctx, [i, 'up_to'], `buckets must go up: ${showValue(upTo[i]!)} is not above ${showValue(upTo[i - 1]!)}`);
      }).optional(),
    }, { forms: ['uniform', 'exponential', 'lognormal'] }),
    (d, ctx) => exactlyOne(ctx, d, DISTRIBUTION_KINDS, 'a distribution'),
  ).transform((d): Distribution => {
    switch (kindOf(d, DISTRIBUTION_KINDS)) {
      case 'constant':
        return { kind: 'constant', value: d.constant! };
      case 'uniform':
        return { kind: 'uniform', ...d.uniform! };
      case 'exponential':
        return { kind: 'exponential', ...d.exponential! };
      case 'lognormal':
        return { kind: 'lognormal', ...d.lognormal! };
      case 'histogram':
        return { kind: 'histogram', buckets: d.histogram!.map(camel) };
    }
  });
  return bareOr(value.transform((v): Distribution => ({ kind: 'constant', value: v })), forms);
}

// ---------------------------------------------------------------------------------------
// Hosts

/** How a host behaves; every field is optional ("as the defaults say"). */
const behaviourShape = {
  service_time: distribution('time').optional(),
  concurrency: integer({ min: 0 }).optional(),
  connect_time: distribution('time').optional(),
  response_bytes: distribution('bytes').optional(),
  body_time: distribution('time').optional(),
  errors: z.array(mapping({ status, rate: share })).optional(),
  resets: z.array(mapping({ rate: share, after: oneOf(['request', 'headers', 'body']).default('headers') })).optional(),
  hang_rate: share.optional(),
  close_after: integer({ min: 0 }).optional(),
  refuse: bool.optional(),
  blackhole: bool.optional(),
  down: bool.optional(),
  headers: headers.optional(),
  health_status: status.optional(),
};

const behaviour = mapping(behaviourShape).transform(camel);

const selectorShape = { cluster: string.optional(), host: string.optional() };

function requireSelector(s: object, ctx: Ctx) {
  if (!('cluster' in s) && !('host' in s)) reject(ctx, [], 'expected cluster, host or both to say which hosts this is', 'key');
}

const selector = refine(mapping(selectorShape), requireSelector);

/** A selector and, next to it, the behaviour of the hosts it selects. */
const hostEntry = refine(mapping({ ...selectorShape, ...behaviourShape }), requireSelector).transform(({ cluster, host, ...rest }) => ({
  select: defined({ cluster, host }),
  behaviour: camel(rest),
}));

const dnsName = refine(mapping({ name: string, addresses: z.array(string).optional(), fail: string.optional() }), (d, ctx) => {
  if ('addresses' in d && 'fail' in d) reject(ctx, ['fail'], 'a DNS name has addresses or fail, not both', 'key');
  else if (!('addresses' in d) && !('fail' in d)) reject(ctx, [], 'expected addresses (what the name resolves to) or fail (an error code such as ETIMEOUT)', 'key');
});

// ---------------------------------------------------------------------------------------
// Traffic

const ARRIVAL_KINDS = ['poisson', 'constant', 'ramp', 'burst', 'closed'] as const;
type ArrivalKind = (typeof ARRIVAL_KINDS)[number];

/** Requests per virtual second. */
const rate = number({ min: 0 });

const arrivalShape = {
  poisson: mapping({ rate }).optional(),
  constant: mapping({ rate }).optional(),
  ramp: mapping({ from: rate, to: rate, over: time({ positive: true }) }).optional(),
  burst: mapping({ count: integer({ min: 1 }), every: time({ positive: true }).optional() }).optional(),
  closed: mapping({ clients: integer({ min: 0 }), think_time: distribution('time').default({ kind: 'constant', value: 0 }) }).optional(),
};

const method = scalar('a method', (v) => {
  const s = typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
  return s !== undefined && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(s) ? s : new Rejected(`invalid method ${show(v)}`);
});
const requestPath = scalar('a string', (v) => {
  if (typeof v !== 'string' || v === '') return undefined;
  return v.startsWith('/') || v === '*' ? v : new Rejected(`path must start with "/", got ${show(v)}`);
});

const requestTemplate = mapping({
  weight: number({ above: 0 }).default(1),
  method: method.default('GET'),
  authority: string,
  path: requestPath.default('/'),
  headers: headers.transform(Object.entries).default([]),
  body_bytes: distribution('bytes').optional(),
}).transform(camel);

const trafficSource = refine(
  mapping({
    /** default `traffic-N` (set by the list, which knows N) */
    name: string.optional(),
    listener: string.optional(),
    ...arrivalShape,
    mix: z.array(requestTemplate).min(1, 'expected at least 1 request in the mix'),
    connection: oneOf(['keep_alive', 'per_request']).default('keep_alive'),
    max_connections: integer({ min: 1 }).default(64),
    timeout: time({ positive: true }).optional(),
    abort: mapping({ rate: share, after: time() }).optional(),
    start: time().default(0),
    /** default `duration` (set by the scenario, which knows it) */
    stop: time().optional(),
  }, { forms: ARRIVAL_KINDS }),
  (t, ctx) => exactlyOne(ctx, t, ARRIVAL_KINDS, 'an arrival model'),
).transform(({ poisson, constant, ramp, burst, closed, abort, ...rest }) => {
  const arrivals: Arrivals =
    (poisson && { kind: 'poisson', ...poisson }) ??
    (constant && { kind: 'constant', ...constant }) ??
    (ramp && { kind: 'ramp', ...ramp }) ??
    (burst && { kind: 'burst', ...burst }) ?? { kind: 'closed', clients: closed!.clients, thinkTime: closed!.think_time };
  return { ...camel(rest), arrivals, ...(abort && { abortRate: abort.rate, abortAfter: abort.after }) };
});

const traffic = z
  .array(trafficSource)
  .min(1, 'expected at least 1 traffic source')
  .transform((list) => list.map((t, i) => ({ ...t, name: t.name ?? `traffic-${i + 1}` })));

type Sources = Map<string, ArrivalKind | undefined>;

/**
 * Each source's name is unique, and it sends between `start` and `stop`, not after
 * `duration`. Gives the sources by name, with their arrival model when it is sound, read
 * from what parsed, whole or not: a broken source still has its name, so that a timeline
 * event or filter naming it is not also reported.
 */
function checkTraffic(ctx: Ctx, list: unknown, duration: number): Sources {
  const sources: Sources = new Map();
  const index = new Map<string, number>();
  (Array.isArray(list) ? list : []).forEach((t, i) => {
    if (!isObj(t)) return;
    const name = typeof t.name === 'string' ? t.name : `traffic-${i + 1}`;
    const given = ARRIVAL_KINDS.filter((k) => k in t);
    if (index.has(name)) {
      reject(ctx, ['traffic', i, 'name'], `traffic name ${JSON.stringify(name)} is already used by traffic[${index.get(name)}]`);
    } else {
      index.set(name, i);
      sources.set(name, isObj(t.arrivals) ? (t.arrivals.kind as ArrivalKind) : given.length === 1 ? given[0] : undefined);
    }
    const [start, stop] = [num(t.start), num(t.stop)];
    if (stop !== undefined && stop > duration) reject(ctx, ['traffic', i, 'stop'], `stop ${showTime(stop)} is after duration ${showTime(duration)}, when all traffic stops`);
    else if (start !== undefined && start >= (stop ?? duration)) reject(ctx, ['traffic', i, 'start'], `start ${showTime(start)} is not before stop ${showTime(stop ?? duration)}`);
  });
  return sources;
}

function checkSourceName(ctx: Ctx, path: PropertyKey[], name: unknown, sources: Sources) {
  if (typeof name === 'string' && !sources.has(name)) reject(ctx, path, `no traffic source is named ${JSON.stringify(name)}${didYouMean(name, [...sources.keys()])}`);
}

// ---------------------------------------------------------------------------------------
// Timeline

/** What each action reads, besides `at`; the first key names the action. */
const TIMELINE_ACTIONS = {
  host: ['host', 'set'],
  traffic: ['traffic', 'rate', 'clients', 'stop'],
  health_check: ['health_check'],
  drain_listeners: ['drain_listeners'],
} as const;
const ACTION_KINDS = Object.keys(TIMELINE_ACTIONS) as Array<keyof typeof TIMELINE_ACTIONS>;
const ACTION_KEYS = Object.values(TIMELINE_ACTIONS).flat();

const timelineEvent = refine(
  mapping({
    at: time(),
    host: selector.optional(),
    set: behaviour.optional(),
    traffic: string.optional(),
    rate: rate.optional(),
    clients: integer({ min: 0 }).optional(),
    stop: yes.optional(),
    health_check: oneOf(['fail', 'ok']).optional(),
    drain_listeners: yes.optional(),
  }),
  (e, ctx) => {
    const kind = exactlyOne(ctx, e, ACTION_KINDS, 'an action', 'set');
    if (!kind) return;
    const takes: readonly string[] = TIMELINE_ACTIONS[kind];
    for (const key of ACTION_KEYS.filter((k) => k in e && !takes.includes(k))) reject(ctx, [key], `${key} does not go with a ${kind} event`, 'key');
    if (kind === 'host' && !('set' in e)) reject(ctx, ['set'], MISSING);
    if (kind === 'traffic') exactlyOne(ctx, e, ['rate', 'clients', 'stop'], 'a change');
  },
).transform(({ at, ...e }) => {
  const kind = kindOf(e, ACTION_KINDS);
  const { host, set, traffic: source, rate, clients, stop } = e;
  const action: TimelineAction =
    kind === 'host' ? { kind, select: defined(host!), set: set! }
    : kind === 'traffic' ? { kind, source: source!, ...defined({ rate, clients, stop }) }
    : kind === 'health_check' ? { kind, fail: e.health_check === 'fail' }
    : { kind };
  return { at, action };
});

/** A traffic event names a source, and changes what that source has: a rate (open loop) or clients (closed). */
function checkTimeline(ctx: Ctx, list: unknown, sources: Sources) {
  (Array.isArray(list) ? list : []).forEach((e, i) => {
    if (!isObj(e)) return;
    const name = isObj(e.action) ? e.action.source : e.traffic;
    if (typeof name !== 'string') return;
    checkSourceName(ctx, ['timeline', i, 'traffic'], name, sources);
    const model = sources.get(name);
    const change = isObj(e.action) ? e.action : e;
    if ('clients' in change && model !== undefined && model !== 'closed') {
      reject(ctx, ['timeline', i, 'clients'], `${name} sends open-loop traffic (${model}): change its rate, not clients`, 'key');
    }
    if ('rate' in change && (model === 'closed' || model === 'burst')) {
      reject(ctx, ['timeline', i, 'rate'], `${name} is a ${model} source: ${model === 'closed' ? 'change its clients' : 'it has no rate'}`, 'key');
    }
  });
}

// ---------------------------------------------------------------------------------------
// Expectations

/** What a request of the summary is counted by; `{}` matches all. */
const filter = mapping({
  status: status.optional(),
  status_class: scalar('a status class', (v) => {
    const s = typeof v === 'string' ? v.toLowerCase() : undefined;
    return s && /^[1-5]xx$/.test(s) ? s : new Rejected(`expected a status class such as "2xx" or "5xx", got ${show(v)}`);
  }).optional(),
  flag: flag.optional(),
  cluster: string.optional(),
  source: string.optional(),
  host: string.optional(),
  sent_after: time().optional(),
  sent_before: time().optional(),
}).transform((f): RequestFilter => camel(f));

const BOUND_KEYS: readonly string[] = ['between', 'at_least', 'at_most'];

interface BoundsGiven {
  between?: number[];
  at_least?: number;
  at_most?: number;
}

/**
 * `shape` and its bounds: `between: [min, max]`, or `at_least`, `at_most` or both, of
 * `value`. `format` writes a bound back as the file had it, for messages.
 */
function bounded<S extends z.core.$ZodLooseShape>(shape: S, value: z.ZodType<number>, format: (n: number) => string | number) {
  const said = (n: number) => show(format(n));
  const withBounds = mapping({ ...shape, between: z.array(value).optional(), at_least: value.optional(), at_most: value.optional() });
  return refine(withBounds, (value, ctx) => {
    const m = value as Loose<BoundsGiven>;
    const given = BOUND_KEYS.filter((k) => k in m);
    if (given.length === 0) return reject(ctx, [], 'expected between, at_least or at_most', 'key');
    if (given[0] === 'between' && given.length > 1) return reject(ctx, [given[1]], 'between already gives both bounds; use between or at_least/at_most', 'key');
    if (Array.isArray(m.between)) {
      const [min, max] = m.between.map(num);
      if (m.between.length !== 2) reject(ctx, ['between'], `expected [min, max], got ${m.between.length} value${m.between.length === 1 ? '' : 's'}`);
      else if (min !== undefined && max !== undefined && min > max) reject(ctx, ['between'], `min ${said(min)} is more than max ${said(max)}`);
    }
    const [min, max] = [num(m.at_least), num(m.at_most)];
    if (min !== undefined && max !== undefined && min > max) reject(ctx, ['at_least'], `at_least ${said(min)} is more than at_most ${said(max)}`);
  }).transform((value) => {
    const { between, at_least, at_most } = value as BoundsGiven;
    const rest = Object.fromEntries(Object.entries(value).filter(([k]) => !BOUND_KEYS.includes(k))) as Omit<typeof value, keyof BoundsGiven>;
    return { ...rest, ...(between ? { min: between[0], max: between[1] } : defined({ min: at_least, max: at_most })) };
  });
}

/** p95 is 0.95 and p999 is 0.999: the digits after "p" are the fraction's. */
const quantile = scalar('a quantile', (v) => {
  if (v === 'max') return 1;
  const digits = typeof v === 'string' ? /^p(\d+)$/.exec(v)?.[1] : undefined;
  if (digits && Number(`0.${digits}`) > 0) return Number(`0.${digits}`);
  if (typeof v === 'number' && v > 0 && v <= 1) return v;
  return new Rejected(`expected p50, p90, p95, p99, p999, max or a number in (0, 1] such as 0.95, got ${show(v)}`);
});

const EXPECTATION_KINDS = ['share', 'count', 'stat', 'latency', 'request', 'ejected'] as const;

const expectation = refine(
  mapping(
    {
      /** the label; default: generated from the check */
      name: string.optional(),
      share: bounded({ where: filter, of: filter.optional() }, share, showShare).transform((e): Expectation => ({ kind: 'share', ...e })).optional(),
      count: bounded({ where: filter.default({}) }, number({ min: 0 }), (n) => n).transform((e): Expectation => ({ kind: 'count', ...e })).optional(),
      stat: bounded({ name: string }, number(), (n) => n).transform((e): Expectation => ({ kind: 'stat', ...e })).optional(),
      latency: bounded({ quantile, where: filter.optional() }, time(), showTime).transform((e): Expectation => ({ kind: 'latency', ...e })).optional(),
      request: mapping({
        index: integer({ min: 1 }),
        host: string.optional(),
        attempt: integer({ min: 1 }).optional(),
        status: status.optional(),
        flag: flag.optional(),
      }).transform((e): Expectation => ({ kind: 'request', ...e })).optional(),
      ejected: refine(
        mapping({ host: string, cluster: string.optional(), before: time().optional(), after: time().optional(), reason: oneOf(['outlier', 'health']).default('outlier') }),
        (e, ctx) => {
          const [before, after] = [num(e.before), num(e.after)];
          if (before !== undefined && after !== undefined && after > before) reject(ctx, ['after'], `after ${showTime(after)} is later than before ${showTime(before)}`);
        },
      ).transform((e): Expectation => ({ kind: 'ejected', ...e })).optional(),
    },
    { forms: EXPECTATION_KINDS },
  ),
  (e, ctx) => exactlyOne(ctx, e, EXPECTATION_KINDS, 'an expectation'),
).transform((e) => {
  const expectation = e[kindOf(e, EXPECTATION_KINDS)]!;
  return { expectation, label: e.name ?? describeExpectation(expectation) };
});

/** Every filter's `source` names a traffic source. */
function checkExpectations(ctx: Ctx, list: unknown, sources: Sources) {
  (Array.isArray(list) ? list : []).forEach((e, i) => {
    if (!isObj(e)) return;
    for (const kind of EXPECTATION_KINDS) {
      const body = isObj(e.expectation) && e.expectation.kind === kind ? e.expectation : e[kind];
      for (const key of ['where', 'of'] as const) {
        const f = isObj(body) ? body[key] : undefined;
        if (isObj(f)) checkSourceName(ctx, ['expect', i, kind, key, 'source'], f.source, sources);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------
// The scenario

export const scenarioSchema = refine(
  mapping({
    name: string,
    description: string.optional(),
    seed: integer({ min: 0 }).optional(),
    /** relative to the scenario file */
    config: string.optional(),
    duration: time({ positive: true }),
    grace: time().default(10_000),
    network_latency: time().default(0),
    series: bool.default(true),
    defaults: behaviour.default({}),
    hosts: z.array(hostEntry).default([]),
    dns: z.array(dnsName).default([]),
    traffic,
    /** in file order, labelled by place; the loader sorts them by `at` */
    timeline: z.array(timelineEvent).transform((list) => list.map((e, i) => ({ ...e, label: `timeline[${i}]` }))).default([]),
    expect: z.array(expectation).default([]),
  }),
  (s, ctx) => {
    const sources = checkTraffic(ctx, s.traffic, num(s.duration) ?? Infinity);
    checkTimeline(ctx, s.timeline, sources);
    checkExpectations(ctx, s.expect, sources);
  },
).transform(({ traffic, ...s }): Scenario => ({ ...camel(s), traffic: traffic.map((t) => ({ ...t, stop: t.stop ?? s.duration })) }));

// ---------------------------------------------------------------------------------------
// Labels: the expectation in the scenario's own words

/** `share of flag UO between 2% and 4%`, `latency p99 of cluster api at most 250ms` */
export function describeExpectation(e: Expectation): string {
  switch (e.kind) {
    case 'share':
      return `share of ${describeFilter(e.where)}${e.of ? ` among ${describeFilter(e.of)}` : ''} ${describeBounds(e, showShare)}`;
    case 'count':
      return `count of ${describeFilter(e.where)} ${describeBounds(e, String)}`;
    case 'stat':
      return `stat ${e.name} ${describeBounds(e, String)}`;
    case 'latency': {
      const q = e.quantile === 1 ? 'max' : /^0\.\d+$/.test(String(e.quantile)) ? `p${String(e.quantile).slice(2).padEnd(2, '0')}` : `quantile ${e.quantile}`;
      return `latency ${q}${e.where && Object.keys(e.where).length ? ` of ${describeFilter(e.where)}` : ''} ${describeBounds(e, showTime)}`;
    }
    case 'request': {
      const parts = [e.host && `host ${e.host}`, e.attempt && `attempt ${e.attempt}`, e.status && `status ${e.status}`, e.flag && `flag ${e.flag}`];
      const said = parts.filter(Boolean).join(', ');
      return `request ${e.index}${said ? `: ${said}` : ' was answered'}`;
    }
    case 'ejected': {
      const when = [e.after !== undefined && `after ${showTime(e.after)}`, e.before !== undefined && `before ${showTime(e.before)}`].filter(Boolean).join(' and ');
      const what = e.reason === 'health' ? 'fails its health check' : 'is ejected';
      return `host ${e.host}${e.cluster ? ` of cluster ${e.cluster}` : ''} ${what}${when ? ` ${when}` : ''}`;
    }
  }
}

function describeFilter(f: RequestFilter): string {
  const parts = [
    f.status !== undefined && `status ${f.status}`,
    f.statusClass && `status_class ${f.statusClass}`,
    f.flag && `flag ${f.flag}`,
    f.cluster && `cluster ${f.cluster}`,
    f.source && `source ${f.source}`,
    f.host && `host ${f.host}`,
    f.sentAfter !== undefined && `sent after ${showTime(f.sentAfter)}`,
    f.sentBefore !== undefined && `sent before ${showTime(f.sentBefore)}`,
  ].filter(Boolean);
  return parts.length ? parts.join(' and ') : 'all requests';
}

function describeBounds(b: { min?: number; max?: number }, format: (n: number) => string): string {
  if (b.min !== undefined && b.max !== undefined) return `between ${format(b.min)} and ${format(b.max)}`;
  return b.min !== undefined ? `at least ${format(b.min)}` : `at most ${format(b.max!)}`;
}

/** `value` without its undefined fields, so a loaded scenario only has what was said. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
