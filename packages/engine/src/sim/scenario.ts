/**
 * Load a scenario file (docs/scenarios.md) into a `Scenario`.
 *
 * A scenario is ProxyScope's own format, not Envoy's, so it is strict: an unknown key is an
 * error (with "did you mean" when a known key is close), not a warning, because a typo'd
 * `servce_time` silently ignored would make the run mean something else. Every error found
 * is reported at once, each at its file, line, column and field path.
 *
 * Times are duration strings with a unit ("40ms", "1.5s", "2m", "1m30s"); a bare number is
 * refused, since "is 40 seconds or milliseconds?" has no safe answer. Shares are a fraction
 * (0.02) or a percentage ("2%").
 */
import type { ConfigDiagnostic } from '../config/types';
import { closest } from '../config/envoy-api/check';
import { show } from '../config/schema';
import { ConfigError, parseYaml, type Path, type Source } from '../config/yaml-source';
import { isResponseFlag, RESPONSE_FLAG_ORDER } from '../stats/response-flags';
import type {
  Arrivals,
  Distribution,
  Expectation,
  HostBehaviour,
  HostSelector,
  LabelledExpectation,
  RequestFilter,
  RequestTemplate,
  Scenario,
  TimelineAction,
  TimelineEvent,
  TrafficSource,
} from './scenario-types';

export function loadScenario(text: string, file: string): { scenario: Scenario; warnings: ConfigDiagnostic[] } {
  const source = parseYaml(text, file);
  const reader = new Reader(source);
  const scenario = readScenario(reader, source.doc.toJS({ maxAliasCount: 1000 }));
  const warnings = sorted([...source.warnings, ...reader.warnings]);
  if (reader.errors.length || !scenario) throw new ConfigError(sorted(reader.errors), warnings);
  return { scenario, warnings };
}

const sorted = (list: ConfigDiagnostic[]) => list.sort((a, b) => a.line - b.line || a.column - b.column);

// ---------------------------------------------------------------------------------------
// Keys

const TOP_KEYS = ['name', 'description', 'seed', 'config', 'duration', 'grace', 'network_latency', 'series', 'defaults', 'hosts', 'dns', 'traffic', 'timeline', 'expect'] as const;
const BEHAVIOUR_KEYS = ['service_time', 'concurrency', 'connect_time', 'response_bytes', 'body_time', 'errors', 'resets', 'hang_rate', 'close_after', 'refuse', 'blackhole', 'down', 'headers', 'health_status'] as const;
const SELECTOR_KEYS = ['cluster', 'host'] as const;
const DISTRIBUTION_KINDS = ['constant', 'uniform', 'exponential', 'lognormal', 'histogram'] as const;
const ARRIVAL_KINDS = ['poisson', 'constant', 'ramp', 'burst', 'closed'] as const;
const TRAFFIC_KEYS = ['name', 'listener', ...ARRIVAL_KINDS, 'mix', 'connection', 'max_connections', 'timeout', 'abort', 'start', 'stop'] as const;
const MIX_KEYS = ['weight', 'method', 'authority', 'path', 'headers', 'body_bytes'] as const;
const FILTER_KEYS = ['status', 'status_class', 'flag', 'cluster', 'source'] as const;
const BOUND_KEYS = ['between', 'at_least', 'at_most'] as const;
const EXPECTATION_KINDS = ['share', 'count', 'stat', 'latency', 'request', 'ejected'] as const;

/** What each timeline action reads, besides `at`; the first key names the action. */
const TIMELINE_ACTIONS = {
  host: ['host', 'set'],
  traffic: ['traffic', 'rate', 'clients', 'stop'],
  health_check: ['health_check'],
  drain_listeners: ['drain_listeners'],
} as const;

// ---------------------------------------------------------------------------------------
// The scenario

type Obj = Record<string, unknown>;

function readScenario(r: Reader, input: unknown): Scenario | undefined {
  const top = r.mapping(input, [], TOP_KEYS);
  if (!top) return undefined;
  const name = r.required(top, [], 'name', (v, p) => r.string(v, p));
  const duration = r.required(top, [], 'duration', (v, p) => r.time(v, p, { positive: true }));
  const grace = r.optional(top, [], 'grace', (v, p) => r.time(v, p)) ?? 10_000;
  const { traffic, names: sources } = readTraffic(r, top, duration ?? Infinity);
  const timeline = readTimeline(r, top, sources, duration);
  const scenario: Scenario = {
    name: name ?? '',
    ...defined({
      description: r.optional(top, [], 'description', (v, p) => r.string(v, p)),
      seed: r.optional(top, [], 'seed', (v, p) => r.integer(v, p, { min: 0 })),
      config: r.optional(top, [], 'config', (v, p) => r.string(v, p)),
    }),
    duration: duration ?? 0,
    grace,
    defaults: r.optional(top, [], 'defaults', (v, p) => readBehaviour(r, r.mapping(v, p, BEHAVIOUR_KEYS), p)) ?? {},
    hosts: r.optional(top, [], 'hosts', (v, p) => r.list(v, p, (item, ip) => readHostEntry(r, item, ip))) ?? [],
    dns: r.optional(top, [], 'dns', (v, p) => r.list(v, p, (item, ip) => readDnsName(r, item, ip))) ?? [],
    traffic,
    timeline,
    expect: r.optional(top, [], 'expect', (v, p) => r.list(v, p, (item, ip) => readExpectation(r, item, ip, sources))) ?? [],
    networkLatency: r.optional(top, [], 'network_latency', (v, p) => r.time(v, p)) ?? 0,
    series: r.optional(top, [], 'series', (v, p) => r.boolean(v, p)) ?? true,
  };
  return scenario;
}

// ---------------------------------------------------------------------------------------
// Hosts

function readBehaviour(r: Reader, obj: Obj | undefined, path: Path): HostBehaviour | undefined {
  if (!obj) return undefined;
  const o = <T>(key: string, read: (v: unknown, p: Path) => T | undefined) => r.optional(obj, path, key, read);
  return defined<HostBehaviour>({
    serviceTime: o('service_time', (v, p) => readDistribution(r, v, p, 'time')),
    concurrency: o('concurrency', (v, p) => r.integer(v, p, { min: 0 })),
    connectTime: o('connect_time', (v, p) => readDistribution(r, v, p, 'time')),
    refuse: o('refuse', (v, p) => r.boolean(v, p)),
    blackhole: o('blackhole', (v, p) => r.boolean(v, p)),
    errors: o('errors', (v, p) =>
      r.list(v, p, (item, ip) => {
        const e = r.mapping(item, ip, ['status', 'rate']);
        if (!e) return undefined;
        const status = r.required(e, ip, 'status', (x, xp) => r.status(x, xp));
        const rate = r.required(e, ip, 'rate', (x, xp) => r.share(x, xp));
        return status === undefined || rate === undefined ? undefined : { status, rate };
      }),
    ),
    resets: o('resets', (v, p) =>
      r.list(v, p, (item, ip) => {
        const e = r.mapping(item, ip, ['rate', 'after']);
        if (!e) return undefined;
        const rate = r.required(e, ip, 'rate', (x, xp) => r.share(x, xp));
        const after = r.optional(e, ip, 'after', (x, xp) => r.oneOf(x, xp, ['headers', 'body'] as const)) ?? 'headers';
        return rate === undefined ? undefined : { rate, after };
      }),
    ),
    hangRate: o('hang_rate', (v, p) => r.share(v, p)),
    responseBytes: o('response_bytes', (v, p) => readDistribution(r, v, p, 'bytes')),
    bodyTime: o('body_time', (v, p) => readDistribution(r, v, p, 'time')),
    closeAfter: o('close_after', (v, p) => r.integer(v, p, { min: 0 })),
    down: o('down', (v, p) => r.boolean(v, p)),
    headers: o('headers', (v, p) => {
      const pairs = r.headers(v, p);
      return pairs && Object.fromEntries(pairs);
    }),
    healthStatus: o('health_status', (v, p) => r.status(v, p)),
  });
}

function readSelector(r: Reader, obj: Obj, path: Path): HostSelector | undefined {
  const select = defined<HostSelector>({
    cluster: r.optional(obj, path, 'cluster', (v, p) => r.string(v, p)),
    host: r.optional(obj, path, 'host', (v, p) => r.string(v, p)),
  });
  if (obj.cluster == null && obj.host == null) return r.fail(path, 'expected cluster, host or both to say which hosts this is', 'key');
  return select;
}

function readHostEntry(r: Reader, input: unknown, path: Path): Scenario['hosts'][number] | undefined {
  const obj = r.mapping(input, path, [...SELECTOR_KEYS, ...BEHAVIOUR_KEYS]);
  if (!obj) return undefined;
  const select = readSelector(r, obj, path);
  const behaviour = readBehaviour(r, obj, path);
  return select && behaviour && { select, behaviour };
}

function readDnsName(r: Reader, input: unknown, path: Path): Scenario['dns'][number] | undefined {
  const obj = r.mapping(input, path, ['name', 'addresses', 'fail']);
  if (!obj) return undefined;
  const name = r.required(obj, path, 'name', (v, p) => r.string(v, p));
  const addresses = r.optional(obj, path, 'addresses', (v, p) => r.list(v, p, (a, ap) => r.string(a, ap)));
  const fail = r.optional(obj, path, 'fail', (v, p) => r.string(v, p));
  if (addresses !== undefined && fail !== undefined) return r.fail([...path, 'fail'], 'a DNS name has addresses or fail, not both', 'key');
  if (addresses === undefined && fail === undefined && obj.addresses == null && obj.fail == null) {
    return r.fail(path, 'expected addresses (what the name resolves to) or fail (an error code such as ETIMEOUT)', 'key');
  }
  return name === undefined ? undefined : { name, ...defined({ addresses, fail }) };
}

// ---------------------------------------------------------------------------------------
// Distributions

function readDistribution(r: Reader, input: unknown, path: Path, unit: 'time' | 'bytes'): Distribution | undefined {
  const value = (v: unknown, p: Path) => (unit === 'time' ? r.time(v, p) : r.number(v, p, { min: 0 }));
  // A bare value is the common case for a constant: `connect_time: 1ms`, `body_bytes: 512`.
  if (input === null || typeof input !== 'object') {
    const v = value(input, path);
    return v === undefined ? undefined : { kind: 'constant', value: v };
  }
  const obj = r.mapping(input, path, DISTRIBUTION_KINDS);
  const kind = obj && r.exactlyOne(obj, path, DISTRIBUTION_KINDS, 'a distribution');
  if (!obj || !kind) return undefined;
  const at: Path = [...path, kind];
  const body = obj[kind];
  switch (kind) {
    case 'constant': {
      const v = value(body, at);
      return v === undefined ? undefined : { kind, value: v };
    }
    case 'uniform': {
      const m = r.mapping(body, at, ['min', 'max']);
      const min = m && r.required(m, at, 'min', value);
      const max = m && r.required(m, at, 'max', value);
      if (min === undefined || max === undefined) return undefined;
      if (min > max) return r.fail([...at, 'min'], `min ${showValue(min, unit)} is more than max ${showValue(max, unit)}`);
      return { kind, min, max };
    }
    case 'exponential': {
      const m = r.mapping(body, at, ['mean']);
      const mean = m && r.required(m, at, 'mean', value);
      if (mean === undefined) return undefined;
      return mean > 0 ? { kind, mean } : r.fail([...at, 'mean'], 'mean must be greater than 0');
    }
    case 'lognormal': {
      const m = r.mapping(body, at, ['p50', 'p99']);
      const p50 = m && r.required(m, at, 'p50', value);
      const p99 = m && r.required(m, at, 'p99', value);
      if (p50 === undefined || p99 === undefined) return undefined;
      // The median fixes the log-mean, so it must be positive; p99 below it has no lognormal.
      if (p50 <= 0) return r.fail([...at, 'p50'], 'p50 must be greater than 0');
      if (p99 < p50) return r.fail([...at, 'p99'], `p99 ${showValue(p99, unit)} is less than p50 ${showValue(p50, unit)}`);
      return { kind, p50, p99 };
    }
    case 'histogram': {
      const buckets = r.list(body, at, (item, ip) => {
        const b = r.mapping(item, ip, ['up_to', 'weight']);
        const upTo = b && r.required(b, ip, 'up_to', value);
        const weight = b && r.required(b, ip, 'weight', (v, p) => r.number(v, p, { above: 0 }));
        return upTo === undefined || weight === undefined ? undefined : { upTo, weight };
      });
      if (!buckets) return undefined;
      if (buckets.length === 0) return r.fail(at, 'expected at least 1 bucket');
      for (let i = 1; i < buckets.length; i++) {
        if (buckets[i].upTo <= buckets[i - 1].upTo) {
          return r.fail([...at, i, 'up_to'], `buckets must go up: ${showValue(buckets[i].upTo, unit)} is not above ${showValue(buckets[i - 1].upTo, unit)}`);
        }
      }
      return { kind, buckets };
    }
  }
}

// ---------------------------------------------------------------------------------------
// Traffic

/** The traffic sources, and every name given, with its arrival model when that is sound. */
function readTraffic(r: Reader, top: Obj, duration: number): { traffic: TrafficSource[]; names: SourceNames } {
  const names: SourceNames = new Map();
  const entries = Array.isArray(top.traffic) ? top.traffic : [];
  entries.forEach((entry, i) => {
    // Named even when the source itself is broken, so that a timeline event or filter
    // naming it is not also reported.
    const given = isObj(entry) ? entry.name : undefined;
    const name = typeof given === 'string' || typeof given === 'number' ? String(given) : `traffic-${i + 1}`;
    const kind = isObj(entry) ? ARRIVAL_KINDS.filter((k) => k in entry) : [];
    if (names.has(name)) r.fail(['traffic', i, 'name'], `traffic name ${JSON.stringify(name)} is already used by traffic[${entries.findIndex((e) => isObj(e) && String(e.name) === name)}]`);
    else names.set(name, kind.length === 1 ? kind[0] : undefined);
  });
  const traffic = r.required(top, [], 'traffic', (v, p) => r.list(v, p, (item, ip) => readSource(r, item, ip, duration))) ?? [];
  if (Array.isArray(top.traffic) && top.traffic.length === 0) r.fail(['traffic'], 'expected at least 1 traffic source');
  return { traffic, names };
}

type SourceNames = Map<string, (typeof ARRIVAL_KINDS)[number] | undefined>;

function readSource(r: Reader, input: unknown, path: Path, duration: number): TrafficSource | undefined {
  const obj = r.mapping(input, path, TRAFFIC_KEYS);
  if (!obj) return undefined;
  const o = <T>(key: string, read: (v: unknown, p: Path) => T | undefined) => r.optional(obj, path, key, read);
  const index = path[path.length - 1] as number;
  const name = o('name', (v, p) => r.string(v, p)) ?? `traffic-${index + 1}`;
  const kind = r.exactlyOne(obj, path, ARRIVAL_KINDS, 'an arrival model');
  const arrivals = kind && readArrivals(r, kind, obj[kind], [...path, kind]);
  const mix = r.required(obj, path, 'mix', (v, p) => r.list(v, p, (item, ip) => readTemplate(r, item, ip)));
  if (Array.isArray(obj.mix) && obj.mix.length === 0) r.fail([...path, 'mix'], 'expected at least 1 request in the mix');
  const abort = o('abort', (v, p) => {
    const a = r.mapping(v, p, ['rate', 'after']);
    const rate = a && r.required(a, p, 'rate', (x, xp) => r.share(x, xp));
    const after = a && r.required(a, p, 'after', (x, xp) => r.time(x, xp));
    return rate === undefined || after === undefined ? undefined : { rate, after };
  });
  const start = o('start', (v, p) => r.time(v, p)) ?? 0;
  const stop = o('stop', (v, p) => r.time(v, p)) ?? duration;
  if (obj.stop != null && stop > duration) r.fail([...path, 'stop'], `stop ${showTime(stop)} is after duration ${showTime(duration)}, when all traffic stops`);
  else if (start >= stop) r.fail([...path, 'start'], `start ${showTime(start)} is not before stop ${showTime(stop)}`);
  // Read before deciding, so that every error of the source is reported at once.
  const listener = o('listener', (v, p) => r.string(v, p));
  const connection = o('connection', (v, p) => r.oneOf(v, p, ['keep_alive', 'per_request'] as const)) ?? 'keep_alive';
  const maxConnections = o('max_connections', (v, p) => r.integer(v, p, { min: 1 })) ?? 64;
  const timeout = o('timeout', (v, p) => r.time(v, p, { positive: true }));
  if (!arrivals || !mix) return undefined;
  return {
    name,
    ...defined({ listener }),
    arrivals,
    mix,
    connection,
    maxConnections,
    ...defined({ timeout, abortRate: abort?.rate, abortAfter: abort?.after }),
    start,
    stop,
  };
}

function readArrivals(r: Reader, kind: (typeof ARRIVAL_KINDS)[number], input: unknown, path: Path): Arrivals | undefined {
  const rate = (v: unknown, p: Path) => r.number(v, p, { min: 0 });
  switch (kind) {
    case 'poisson':
    case 'constant': {
      const m = r.mapping(input, path, ['rate']);
      const value = m && r.required(m, path, 'rate', rate);
      return value === undefined ? undefined : { kind, rate: value };
    }
    case 'ramp': {
      const m = r.mapping(input, path, ['from', 'to', 'over']);
      const from = m && r.required(m, path, 'from', rate);
      const to = m && r.required(m, path, 'to', rate);
      const over = m && r.required(m, path, 'over', (v, p) => r.time(v, p, { positive: true }));
      return from === undefined || to === undefined || over === undefined ? undefined : { kind, from, to, over };
    }
    case 'burst': {
      const m = r.mapping(input, path, ['count', 'every']);
      const count = m && r.required(m, path, 'count', (v, p) => r.integer(v, p, { min: 1 }));
      const every = m && r.optional(m, path, 'every', (v, p) => r.time(v, p, { positive: true }));
      return count === undefined ? undefined : { kind, count, ...defined({ every }) };
    }
    case 'closed': {
      const m = r.mapping(input, path, ['clients', 'think_time']);
      const clients = m && r.required(m, path, 'clients', (v, p) => r.integer(v, p, { min: 0 }));
      const thinkTime = m && r.optional(m, path, 'think_time', (v, p) => readDistribution(r, v, p, 'time'));
      return clients === undefined ? undefined : { kind, clients, thinkTime: thinkTime ?? { kind: 'constant', value: 0 } };
    }
  }
}

function readTemplate(r: Reader, input: unknown, path: Path): RequestTemplate | undefined {
  const obj = r.mapping(input, path, MIX_KEYS);
  if (!obj) return undefined;
  const o = <T>(key: string, read: (v: unknown, p: Path) => T | undefined) => r.optional(obj, path, key, read);
  const authority = r.required(obj, path, 'authority', (v, p) => r.string(v, p));
  const method = o('method', (v, p) => (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(String(v)) ? r.string(v, p) : r.fail(p, `invalid method ${show(v)}`)));
  const requestPath = o('path', (v, p) => {
    const s = r.string(v, p);
    return s === undefined || s.startsWith('/') || s === '*' ? s : r.fail(p, `path must start with "/", got ${show(s)}`);
  });
  const weight = o('weight', (v, p) => r.number(v, p, { above: 0 })) ?? 1;
  const headers = o('headers', (v, p) => r.headers(v, p)) ?? [];
  const bodyBytes = o('body_bytes', (v, p) => readDistribution(r, v, p, 'bytes'));
  if (authority === undefined) return undefined;
  return { weight, method: method ?? 'GET', authority, path: requestPath ?? '/', headers, ...defined({ bodyBytes }) };
}

// ---------------------------------------------------------------------------------------
// Timeline

function readTimeline(r: Reader, top: Obj, sources: SourceNames, duration: number | undefined): TimelineEvent[] {
  const events = r.optional(top, [], 'timeline', (v, p) => r.list(v, p, (item, ip) => readEvent(r, item, ip, sources, duration))) ?? [];
  // Array.prototype.sort is stable: events at the same time keep the file's order.
  return events.sort((a, b) => a.at - b.at);
}

function readEvent(r: Reader, input: unknown, path: Path, sources: SourceNames, duration: number | undefined): TimelineEvent | undefined {
  const allKeys = ['at', ...Object.values(TIMELINE_ACTIONS).flat()];
  const obj = r.mapping(input, path, allKeys);
  if (!obj) return undefined;
  const at = r.required(obj, path, 'at', (v, p) => r.time(v, p));
  if (at !== undefined && duration !== undefined && at > duration) {
    r.warn([...path, 'at'], `at ${showTime(at)} is after duration ${showTime(duration)}: traffic has stopped by then`);
  }
  const kind = r.exactlyOne(obj, path, Object.keys(TIMELINE_ACTIONS) as Array<keyof typeof TIMELINE_ACTIONS>, 'an action', 'set');
  if (!kind) return undefined;
  for (const key of Object.keys(obj)) {
    if (key !== 'at' && allKeys.includes(key) && !(TIMELINE_ACTIONS[kind] as readonly string[]).includes(key)) {
      r.fail([...path, key], `${key} does not go with a ${kind} event`, 'key');
    }
  }
  const action = readAction(r, kind, obj, path, sources);
  return at === undefined || !action ? undefined : { at, action, label: `timeline[${String(path[path.length - 1])}]` };
}

function readAction(r: Reader, kind: keyof typeof TIMELINE_ACTIONS, obj: Obj, path: Path, sources: SourceNames): TimelineAction | undefined {
  switch (kind) {
    case 'host': {
      const select = r.required(obj, path, 'host', (v, p) => {
        const m = r.mapping(v, p, SELECTOR_KEYS);
        return m && readSelector(r, m, p);
      });
      const set = r.required(obj, path, 'set', (v, p) => readBehaviour(r, r.mapping(v, p, BEHAVIOUR_KEYS), p));
      return select && set && { kind, select, set };
    }
    case 'traffic': {
      const source = r.required(obj, path, 'traffic', (v, p) => {
        const name = r.string(v, p);
        if (name === undefined || sources.has(name)) return name;
        return r.fail(p, `no traffic source is named ${JSON.stringify(name)}${didYouMean(name, [...sources.keys()])}`);
      });
      const change = r.exactlyOne(obj, path, ['rate', 'clients', 'stop'] as const, 'a change');
      const model = source === undefined ? undefined : sources.get(source);
      if (!change || source === undefined) return undefined;
      const at: Path = [...path, change];
      if (change === 'stop') {
        return obj.stop === true ? { kind, source, stop: true } : r.fail(at, `expected true, got ${show(obj.stop)}`);
      }
      if (change === 'clients' && model !== undefined && model !== 'closed') return r.fail(at, `${source} sends open-loop traffic (${model}): change its rate, not clients`, 'key');
      if (change === 'rate' && (model === 'closed' || model === 'burst')) {
        return r.fail(at, `${source} is a ${model} source: ${model === 'closed' ? 'change its clients' : 'it has no rate'}`, 'key');
      }
      const value = change === 'rate' ? r.number(obj.rate, at, { min: 0 }) : r.integer(obj.clients, at, { min: 0 });
      if (value === undefined) return undefined;
      return change === 'rate' ? { kind, source, rate: value } : { kind, source, clients: value };
    }
    case 'health_check': {
      const state = r.oneOf(obj.health_check, [...path, 'health_check'], ['fail', 'ok'] as const);
      return state && { kind, fail: state === 'fail' };
    }
    case 'drain_listeners':
      return obj.drain_listeners === true ? { kind } : r.fail([...path, 'drain_listeners'], `expected true, got ${show(obj.drain_listeners)}`);
  }
}

// ---------------------------------------------------------------------------------------
// Expectations

interface Bounds {
  min?: number;
  max?: number;
}

function readExpectation(r: Reader, input: unknown, path: Path, sources: SourceNames): LabelledExpectation | undefined {
  const obj = r.mapping(input, path, ['name', ...EXPECTATION_KINDS]);
  if (!obj) return undefined;
  const label = r.optional(obj, path, 'name', (v, p) => r.string(v, p));
  const kind = r.exactlyOne(obj, path, EXPECTATION_KINDS, 'an expectation');
  if (!kind) return undefined;
  const at: Path = [...path, kind];
  const filter = (m: Obj, key: string) => r.optional(m, at, key, (v, p) => readFilter(r, v, p, sources));
  let expectation: Expectation | undefined;
  switch (kind) {
    case 'share': {
      const m = r.mapping(obj[kind], at, ['where', 'of', ...BOUND_KEYS]);
      if (!m) return undefined;
      const where = r.required(m, at, 'where', (v, p) => readFilter(r, v, p, sources));
      const of = filter(m, 'of');
      const bounds = readBounds(r, m, at, (v, p) => r.share(v, p));
      expectation = where && bounds && { kind, where, ...defined({ of }), ...bounds };
      break;
    }
    case 'count': {
      const m = r.mapping(obj[kind], at, ['where', ...BOUND_KEYS]);
      if (!m) return undefined;
      const where = filter(m, 'where') ?? {};
      const bounds = readBounds(r, m, at, (v, p) => r.number(v, p, { min: 0 }));
      expectation = bounds && { kind, where, ...bounds };
      break;
    }
    case 'stat': {
      const m = r.mapping(obj[kind], at, ['name', ...BOUND_KEYS]);
      if (!m) return undefined;
      const name = r.required(m, at, 'name', (v, p) => r.string(v, p));
      const bounds = readBounds(r, m, at, (v, p) => r.number(v, p));
      expectation = name !== undefined && bounds ? { kind, name, ...bounds } : undefined;
      break;
    }
    case 'latency': {
      const m = r.mapping(obj[kind], at, ['quantile', 'where', ...BOUND_KEYS]);
      if (!m) return undefined;
      const quantile = r.required(m, at, 'quantile', (v, p) => {
        if (v === 'max') return 1;
        // p95 is 0.95 and p999 is 0.999: the digits after "p" are the fraction's.
        const digits = typeof v === 'string' ? /^p(\d+)$/.exec(v)?.[1] : undefined;
        if (digits && Number(`0.${digits}`) > 0) return Number(`0.${digits}`);
        if (typeof v === 'number' && v > 0 && v <= 1) return v;
        return r.fail(p, `expected p50, p90, p95, p99, p999, max or a number in (0, 1] such as 0.95, got ${show(v)}`);
      });
      const where = filter(m, 'where');
      const bounds = readBounds(r, m, at, (v, p) => r.time(v, p));
      expectation = quantile !== undefined && bounds ? { kind, quantile, ...defined({ where }), ...bounds } : undefined;
      break;
    }
    case 'request': {
      const m = r.mapping(obj[kind], at, ['index', 'host', 'attempt', 'status', 'flag']);
      if (!m) return undefined;
      const index = r.required(m, at, 'index', (v, p) => r.integer(v, p, { min: 1 }));
      const rest = defined({
        host: r.optional(m, at, 'host', (v, p) => r.string(v, p)),
        attempt: r.optional(m, at, 'attempt', (v, p) => r.integer(v, p, { min: 1 })),
        status: r.optional(m, at, 'status', (v, p) => r.status(v, p)),
        flag: r.optional(m, at, 'flag', (v, p) => r.flag(v, p)),
      });
      expectation = index === undefined ? undefined : { kind, index, ...rest };
      break;
    }
    case 'ejected': {
      const m = r.mapping(obj[kind], at, ['host', 'cluster', 'before', 'after', 'reason']);
      if (!m) return undefined;
      const host = r.required(m, at, 'host', (v, p) => r.string(v, p));
      const before = r.optional(m, at, 'before', (v, p) => r.time(v, p));
      const after = r.optional(m, at, 'after', (v, p) => r.time(v, p));
      if (before !== undefined && after !== undefined && after > before) {
        r.fail([...at, 'after'], `after ${showTime(after)} is later than before ${showTime(before)}`);
      }
      const reason = r.optional(m, at, 'reason', (v, p) => r.oneOf(v, p, ['outlier', 'health'] as const)) ?? 'outlier';
      const cluster = r.optional(m, at, 'cluster', (v, p) => r.string(v, p));
      expectation = host === undefined ? undefined : { kind, host, ...defined({ cluster, before, after }), reason };
      break;
    }
  }
  return expectation && { expectation, label: label ?? describeExpectation(expectation) };
}

function readBounds(r: Reader, m: Obj, path: Path, read: (v: unknown, p: Path) => number | undefined): Bounds | undefined {
  const present = BOUND_KEYS.filter((k) => m[k] != null);
  if (present.length === 0) return r.fail(path, 'expected between, at_least or at_most', 'key');
  if (present.includes('between') && present.length > 1) {
    return r.fail([...path, present.find((k) => k !== 'between')!], 'between already gives both bounds; use between or at_least/at_most', 'key');
  }
  if (present[0] === 'between') {
    const at: Path = [...path, 'between'];
    const pair = r.list(m.between, at, read);
    if (!pair) return undefined;
    if (pair.length !== 2) return r.fail(at, `expected [min, max], got ${pair.length} value${pair.length === 1 ? '' : 's'}`);
    const [min, max] = pair;
    if (min > max) return r.fail(at, `min ${show((m.between as unknown[])[0])} is more than max ${show((m.between as unknown[])[1])}`);
    return { min, max };
  }
  const min = r.optional(m, path, 'at_least', read);
  const max = r.optional(m, path, 'at_most', read);
  if ((m.at_least != null && min === undefined) || (m.at_most != null && max === undefined)) return undefined;
  if (min !== undefined && max !== undefined && min > max) return r.fail([...path, 'at_least'], `at_least ${show(m.at_least)} is more than at_most ${show(m.at_most)}`);
  return defined({ min, max });
}

function readFilter(r: Reader, input: unknown, path: Path, sources: SourceNames): RequestFilter | undefined {
  const m = r.mapping(input, path, FILTER_KEYS);
  if (!m) return undefined;
  return defined<RequestFilter>({
    status: r.optional(m, path, 'status', (v, p) => r.status(v, p)),
    statusClass: r.optional(m, path, 'status_class', (v, p) => {
      const s = typeof v === 'string' ? v.toLowerCase() : undefined;
      return s && /^[1-5]xx$/.test(s) ? s : r.fail(p, `expected a status class such as "2xx" or "5xx", got ${show(v)}`);
    }),
    flag: r.optional(m, path, 'flag', (v, p) => r.flag(v, p)),
    cluster: r.optional(m, path, 'cluster', (v, p) => r.string(v, p)),
    source: r.optional(m, path, 'source', (v, p) => {
      const name = r.string(v, p);
      if (name === undefined || sources.has(name)) return name;
      return r.fail(p, `no traffic source is named ${JSON.stringify(name)}${didYouMean(name, [...sources.keys()])}`);
    }),
  });
}

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
  ].filter(Boolean);
  return parts.length ? parts.join(' and ') : 'all requests';
}

function describeBounds(b: Bounds, format: (n: number) => string): string {
  if (b.min !== undefined && b.max !== undefined) return `between ${format(b.min)} and ${format(b.max)}`;
  return b.min !== undefined ? `at least ${format(b.min)}` : `at most ${format(b.max!)}`;
}

const showShare = (x: number) => `${+(x * 100).toFixed(6)}%`;

/** Milliseconds as the file would write them: `5s`, `250ms`, `1.5ms`. */
function showTime(ms: number): string {
  if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${+ms.toFixed(6)}ms`;
}

const showValue = (n: number, unit: 'time' | 'bytes') => (unit === 'time' ? showTime(n) : String(n));

const didYouMean = (key: string, names: readonly string[]) => {
  const guess = closest(key, names, key.length <= 4 ? 1 : 2);
  return guess ? ` (did you mean '${guess}'?)` : '';
};

// ---------------------------------------------------------------------------------------
// Scalars

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

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `value` without its undefined fields, so a loaded scenario only has what was said. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Reads values at paths, collecting every problem instead of stopping at the first. Each
 * reader returns undefined when it reported one, so a caller only builds what is sound.
 */
class Reader {
  readonly errors: ConfigDiagnostic[] = [];
  readonly warnings: ConfigDiagnostic[] = [];

  constructor(private readonly source: Source) {}

  fail(path: Path, message: string, at: 'key' | 'value' = 'value'): undefined {
    this.errors.push(this.source.diagnostic(path, message, at));
    return undefined;
  }

  warn(path: Path, message: string): void {
    this.warnings.push(this.source.diagnostic(path, message));
  }

  /** A mapping whose keys are all in `known`; an unknown key is an error at that key. */
  mapping(v: unknown, path: Path, known: readonly string[]): Obj | undefined {
    if (v === null || v === undefined) return {};
    if (!isObj(v)) return this.fail(path, `expected a mapping, got ${show(v)}`);
    for (const key of Object.keys(v)) {
      if (!known.includes(key)) this.fail([...path, key], `unknown field '${key}'${didYouMean(key, known)}`, 'key');
    }
    return v;
  }

  list<T>(v: unknown, path: Path, item: (v: unknown, p: Path) => T | undefined): T[] | undefined {
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v)) return this.fail(path, `expected a list, got ${show(v)}`);
    const out = v.map((x, i) => item(x, [...path, i]));
    return out.every((x) => x !== undefined) ? (out as T[]) : undefined;
  }

  /** `obj[key]` read by `read`; absent (or null) is undefined without an error. */
  optional<T>(obj: Obj, path: Path, key: string, read: (v: unknown, p: Path) => T | undefined): T | undefined {
    return obj[key] == null ? undefined : read(obj[key], [...path, key]);
  }

  required<T>(obj: Obj, path: Path, key: string, read: (v: unknown, p: Path) => T | undefined): T | undefined {
    return obj[key] == null ? this.fail([...path, key], 'missing required field') : read(obj[key], [...path, key]);
  }

  /** The one key of `kinds` that `obj` has; none or several is an error. */
  exactlyOne<K extends string>(obj: Obj, path: Path, kinds: readonly K[], what: string, ...companions: string[]): K | undefined {
    const present = kinds.filter((k) => k in obj);
    const list = kinds.length > 2 ? `${kinds.slice(0, -1).join(', ')} or ${kinds[kinds.length - 1]}` : kinds.join(' or ');
    if (present.length === 0) {
      // `set:` without `host:` means a host event whose selector is missing, not no action.
      const companion = companions.find((c) => c in obj);
      if (companion) return this.fail([...path, kinds[0]], 'missing required field');
      return this.fail(path, `expected ${what}: one of ${list}`, 'key');
    }
    if (present.length > 1) return this.fail([...path, present[1]], `${present[0]} and ${present[1]} both given: expected exactly one of ${list}`, 'key');
    return present[0];
  }

  string(v: unknown, path: Path): string | undefined {
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number') return String(v);
    return this.fail(path, `expected a string, got ${show(v)}`);
  }

  boolean(v: unknown, path: Path): boolean | undefined {
    return typeof v === 'boolean' ? v : this.fail(path, `expected true or false, got ${show(v)}`);
  }

  number(v: unknown, path: Path, { min, above }: { min?: number; above?: number } = {}): number | undefined {
    if (typeof v !== 'number' || !Number.isFinite(v)) return this.fail(path, `expected a number, got ${show(v)}`);
    if (min !== undefined && v < min) return this.fail(path, `must be at least ${min}, got ${v}`);
    if (above !== undefined && v <= above) return this.fail(path, `must be greater than ${above}, got ${v}`);
    return v;
  }

  integer(v: unknown, path: Path, { min }: { min?: number } = {}): number | undefined {
    if (typeof v !== 'number' || !Number.isInteger(v)) return this.fail(path, `expected a whole number, got ${show(v)}`);
    return this.number(v, path, { min });
  }

  status(v: unknown, path: Path): number | undefined {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 100 && v <= 599) return v;
    return this.fail(path, `expected an HTTP status from 100 to 599, got ${show(v)}`);
  }

  oneOf<const T extends string>(v: unknown, path: Path, values: readonly T[]): T | undefined {
    if (values.includes(v as T)) return v as T;
    const guess = typeof v === 'string' ? didYouMean(v, values) : '';
    return this.fail(path, `expected ${values.map((x) => JSON.stringify(x)).join(' or ')}, got ${show(v)}${guess}`);
  }

  time(v: unknown, path: Path, { positive = false } = {}): number | undefined {
    // 0 is 0 in any unit; any other bare number could be seconds or milliseconds.
    if (v === 0) return positive ? this.fail(path, 'must be greater than 0, got 0') : 0;
    if (typeof v === 'number') return this.fail(path, `a time needs a unit: expected ${DURATION_HINT}, got ${v}`);
    const ms = typeof v === 'string' ? parseSimDuration(v.trim()) : undefined;
    if (ms === undefined) return this.fail(path, `invalid duration ${show(v)}: expected ${DURATION_HINT}`);
    if (positive && ms === 0) return this.fail(path, `must be greater than 0, got ${show(v)}`);
    return ms;
  }

  /** A fraction in [0, 1]: `0.02` or `"2%"`. */
  share(v: unknown, path: Path): number | undefined {
    const hint = 'expected a fraction from 0 to 1 such as 0.02, or a percentage such as "2%"';
    if (typeof v === 'number') {
      if (v >= 0 && v <= 1) return v;
      return this.fail(path, `${hint}, got ${v}${v > 1 && v <= 100 ? ` (for ${v} percent write "${v}%")` : ''}`);
    }
    const match = typeof v === 'string' ? /^(\d+(?:\.\d*)?|\.\d+)\s*%$/.exec(v.trim()) : null;
    const value = match ? Number(match[1]) / 100 : undefined;
    if (value === undefined || value > 1) return this.fail(path, `${hint}, got ${show(v)}`);
    return value;
  }

  flag(v: unknown, path: Path): string | undefined {
    const s = this.string(v, path);
    if (s === undefined || isResponseFlag(s)) return s;
    return this.fail(path, `unknown response flag ${JSON.stringify(s)}${didYouMean(s.toUpperCase(), RESPONSE_FLAG_ORDER)}`);
  }

  /** A mapping of header names to values, in file order. */
  headers(v: unknown, path: Path): Array<[string, string]> | undefined {
    const m = isObj(v) ? v : this.fail(path, `expected a mapping of header names to values, got ${show(v)}`);
    if (!m) return undefined;
    const out: Array<[string, string]> = [];
    for (const [name, value] of Object.entries(m)) {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out.push([name, String(value)]);
      else return this.fail([...path, name], `expected a header value, got ${show(value)}`);
    }
    return out;
  }
}
