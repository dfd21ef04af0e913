/**
 * A scenario, as the simulation runs it: what the upstream hosts do, what traffic
 * arrives, what changes when, and what must be true at the end. `scenario.ts` reads the
 * YAML form (docs/scenarios.md) into this; every time here is in virtual milliseconds,
 * every rate per virtual second, every share a fraction in [0, 1].
 */

/** A value drawn per use: a service time or connect time in ms, a body size in bytes. */
export type Distribution =
  | { kind: 'constant'; value: number }
  | { kind: 'uniform'; min: number; max: number }
  | { kind: 'exponential'; mean: number }
  /** lognormal with this median and 99th percentile */
  | { kind: 'lognormal'; p50: number; p99: number }
  /** empirical: a bucket is picked by weight, the value is uniform inside it (from the previous bucket's upper bound) */
  | { kind: 'histogram'; buckets: Array<{ upTo: number; weight: number }> };

/** How one simulated upstream host behaves. Every field is optional: unset means "as the defaults say". */
export interface HostBehaviour {
  /** time from the request's last byte to the response head */
  serviceTime?: Distribution;
  /** it serves this many requests at a time; the rest wait inside the host, in order (0 = no limit) */
  concurrency?: number;
  /** SYN to established */
  connectTime?: Distribution;
  /** connects are refused (ECONNREFUSED) */
  refuse?: boolean;
  /** connects are never answered (a black-holed SYN: the connect timeout decides) */
  blackhole?: boolean;
  /** error responses: each request is answered with the first status whose draw hits */
  errors?: Array<{ status: number; rate: number }>;
  /** the connection is reset before any response (`request`: the proxy may retry it), after the response head, or halfway through its body */
  resets?: Array<{ rate: number; after: 'request' | 'headers' | 'body' }>;
  /** share of requests that are never answered */
  hangRate?: number;
  /** time from the response head to its body (a slow body); default 0 */
  bodyTime?: Distribution;
  /** response body size, bytes */
  responseBytes?: Distribution;
  /** after this many responses on a connection, the host answers with `connection: close` and closes it (0 = never) */
  closeAfter?: number;
  /** the host is down: connects are refused and open connections reset */
  down?: boolean;
  /** added to every response */
  headers?: Record<string, string>;
  /** answers the active health check's path with this status (default: 200, or 503 when `down` or `refuse`) */
  healthStatus?: number;
}

/** Which hosts a behaviour or an event applies to. Fields that are set must all match. */
export interface HostSelector {
  cluster?: string;
  /** the endpoint's `hostname`, its `address:port`, or its address (a DNS name) */
  host?: string;
}

export interface RequestTemplate {
  weight: number;
  method: string;
  authority: string;
  path: string;
  headers: Array<[string, string]>;
  /** request body size, bytes (0: no body) */
  bodyBytes?: Distribution;
}

export type Arrivals =
  | { kind: 'poisson'; rate: number }
  | { kind: 'constant'; rate: number }
  /** the rate moves linearly from `from` to `to` over `over` ms, then stays at `to` */
  | { kind: 'ramp'; from: number; to: number; over: number }
  /** `count` requests at once, every `every` ms (once when absent) */
  | { kind: 'burst'; count: number; every?: number }
  /** closed loop: `clients` clients, each sending its next request `thinkTime` after its last answer */
  | { kind: 'closed'; clients: number; thinkTime: Distribution };

export interface TrafficSource {
  name: string;
  /** the listener it connects to (default: the first) */
  listener?: string;
  arrivals: Arrivals;
  mix: RequestTemplate[];
  /** keep-alive: reuse an idle connection of this source; per_request: a new connection each time */
  connection: 'keep_alive' | 'per_request';
  /** most connections this source keeps open at once (keep_alive), default 64 */
  maxConnections: number;
  /** the client gives up (and closes its connection) this long after sending */
  timeout?: number;
  /** share of requests the client aborts `abortAfter` ms after sending */
  abortRate?: number;
  abortAfter?: number;
  /** virtual time the source starts and stops sending */
  start: number;
  stop: number;
}

export type TimelineAction =
  /** a host's behaviour changes (merged over what it had) */
  | { kind: 'host'; select: HostSelector; set: HostBehaviour }
  /** a traffic source's rate (open loop) or client count (closed loop) changes */
  | { kind: 'traffic'; source: string; rate?: number; clients?: number; stop?: boolean }
  /** POST /healthcheck/fail or /healthcheck/ok */
  | { kind: 'health_check'; fail: boolean }
  /** POST /drain_listeners */
  | { kind: 'drain_listeners' };

export interface TimelineEvent {
  at: number;
  action: TimelineAction;
  /** where it came from, for the report (`timeline[2]`) */
  label: string;
}

/** What a request of the summary is counted by. */
export interface RequestFilter {
  status?: number;
  /** '2xx', '5xx', ... */
  statusClass?: string;
  /** a response flag (UO, URX, UF, ...) */
  flag?: string;
  cluster?: string;
  source?: string;
  /** the host that answered the request's last attempt (as the summary's "served" counts it) */
  host?: string;
  /** sent at or after / before this virtual time */
  sentAfter?: number;
  sentBefore?: number;
}

export type Expectation =
  /** the share of requests matching `where` (of those matching `of`, default all) lies in [min, max] */
  | { kind: 'share'; where: RequestFilter; of?: RequestFilter; min?: number; max?: number }
  /** the number of requests matching `where` lies in [min, max] */
  | { kind: 'count'; where: RequestFilter; min?: number; max?: number }
  /** a stat (counter or gauge) at the end lies in [min, max] */
  | { kind: 'stat'; name: string; min?: number; max?: number }
  /** latency quantile `quantile` (0.99 = p99), ms, of requests matching `where`, lies in [min, max] */
  | { kind: 'latency'; quantile: number; where?: RequestFilter; min?: number; max?: number }
  /** the `index`th request (1-based, in send order) was answered by `host` on attempt `attempt` with `status` */
  | { kind: 'request'; index: number; host?: string; attempt?: number; status?: number; flag?: string }
  /** the host was ejected by outlier detection (or failed its health check: `health`) at a time in [after, before] */
  | { kind: 'ejected'; host: string; cluster?: string; before?: number; after?: number; reason: 'outlier' | 'health' };

export interface LabelledExpectation {
  expectation: Expectation;
  /** the scenario's own words for it, or a generated description */
  label: string;
}

export interface Scenario {
  name: string;
  description?: string;
  seed?: number;
  /** traffic stops at this virtual time; the run ends when what is in flight is done, or `grace` after */
  duration: number;
  grace: number;
  /** a config file, relative to the scenario file */
  config?: string;
  /** behaviour for every host, then per selector, later entries over earlier */
  defaults: HostBehaviour;
  hosts: Array<{ select: HostSelector; behaviour: HostBehaviour }>;
  /** DNS names: what they resolve to (absent: every name resolves to one simulated address of its own) */
  dns: Array<{ name: string; addresses?: string[]; fail?: string }>;
  traffic: TrafficSource[];
  timeline: TimelineEvent[];
  expect: LabelledExpectation[];
  /** one-way network delay, ms (default 0) */
  networkLatency: number;
  /** per-second series in the summary (default true) */
  series: boolean;
}
