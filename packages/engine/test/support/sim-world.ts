/**
 * A test world on virtual time: the real ProxyEngine (same machines, same code path as
 * live mode) on a SimClock and a SimNetwork, scripted HTTP/1 upstreams attached at the
 * config's endpoint addresses, and a downstream client that dials the listener on the
 * same network. Nothing here reads the wall clock or waits on the platform once the
 * engine is up: `request()` writes the bytes and fires virtual time until the response is
 * complete, the connection closed, nothing is left to happen, or a virtual-time limit
 * passed. A test's timings are therefore exact virtual milliseconds, the same every run.
 *
 * For tests about the engine's decisions (status, flags, stats, access logs, retries,
 * hosts). Tests about real sockets (a kernel's RST or half-close, the CLI, live mode)
 * stay on support/upstreams.ts.
 *
 * Call `SimWorld.start` from inside a test: it registers its own cleanup.
 */
import type { TraceEvent } from '@proxyscope/protocol';
import { expect, onTestFinished } from 'vitest';
import { HttpParser, type ParsedHead } from '../../src/codec/llhttp-parser';
import { loadBootstrap } from '../../src/config/load';
import type { Bootstrap } from '../../src/config/types';
import { ProxyEngine } from '../../src/engine';
import type { StreamInfo } from '../../src/http/stream-info';
import { MemoryResolver, type Resolver } from '../../src/seams/resolver';
import type { ConnectCallbacks, PendingConnect } from '../../src/seams/transport';
import { SimClock } from '../../src/sim/sim-clock';
import { SimNetwork, type SimConnection, type SimEndpoint } from '../../src/sim/sim-network';
import { parseAccessLog, type AccessLogLine } from './upstreams';

const LIMITS = { maxHeaderBytes: 96 * 1024, maxHeadersCount: 200 };
const encoder = new TextEncoder();
/** how long `request()` and `runUntil()` let virtual time run by default */
const DEFAULT_LIMIT_MS = 60_000;

// ---------------------------------------------------------------------------------------
// Scripted upstreams

/** One request as a scripted upstream saw it. */
export interface ScriptedRequest {
  /** 0 for the first request this upstream saw (health checks included), then 1, 2, ... */
  index: number;
  /** virtual ms when it arrived (its last byte; its head with `onHead`) */
  at: number;
  method: string;
  path: string;
  /** lower-cased names; repeated headers joined with ", " */
  headers: Record<string, string>;
  body: string;
  /** which of this upstream's connections (0, 1, ...) it came on */
  connection: number;
  /** sent by the engine's active health checker (user-agent Envoy/HC) */
  healthCheck: boolean;
}

/** An answer written as the upstream would send it. */
export interface ScriptedResponse {
  /** default 200 */
  status?: number;
  headers?: Record<string, string>;
  /** default `<name> <method> <path>` (the name only when the upstream has one); a content-length is added */
  body?: string;
  /** virtual ms between the request's arrival and the answer */
  delayMs?: number;
  /** exact bytes to write instead of a formed response (garbage, a cut-off head) */
  raw?: string;
  /** once written, close the connection: FIN (`close`) or RST (`reset`), `afterMs` later */
  then?: { action: 'close' | 'reset'; afterMs?: number };
}

/**
 * `'hang'` never answers (the connection stays open); `'close'` and `'reset'` drop the
 * connection without a byte (FIN or RST); `'reset-after-headers'` sends a 200 head that
 * announces a body, then an RST instead of the body.
 */
export type ScriptedAnswer = 'hang' | 'close' | 'reset' | 'reset-after-headers' | ScriptedResponse;

export interface ScriptedUpstreamOptions {
  /** the answer per request, health checks included; default 200 with body `<name> <method> <path>` */
  respond?: (request: ScriptedRequest) => ScriptedAnswer;
  /** names the default body, so tests with several upstreams can tell them apart */
  name?: string;
  /** answer as soon as the request head arrives, before its body */
  onHead?: boolean;
  /** connects are refused (ECONNREFUSED); may be changed during a test */
  refuse?: boolean;
  /** connects are never answered (the engine's connect timeout decides) */
  blackhole?: boolean;
  /** virtual ms from SYN to an established connection */
  connectMs?: number;
}

class UpstreamConnection {
  readonly parser: HttpParser;
  head: ParsedHead | undefined;
  body: Uint8Array[] = [];
  /** the request answered on its head: its body is not waited for */
  answeredOnHead = false;
  closed = false;
  readonly timers: unknown[] = [];

  constructor(
    readonly upstream: ScriptedUpstream,
    readonly socket: SimConnection,
    readonly index: number,
  ) {
    this.parser = new HttpParser(
      'request',
      {
        onMessageBegin: () => {
          this.body = [];
          this.answeredOnHead = false;
        },
        onHeadersComplete: (head) => {
          this.head = head;
          upstream.onHead(this, head);
          return 'continue';
        },
        onBody: (chunk) => {
          this.body.push(chunk.slice());
          return 'continue';
        },
        onMessageComplete: () => {
          upstream.onComplete(this, this.head!, this.body);
          return 'continue';
        },
      },
      LIMITS,
    );
    socket.setHandlers({
      onData: (chunk) => {
        if (this.parser.execute(chunk).kind === 'error') socket.reset();
      },
      // As a node server with allowHalfOpen false: the proxy's FIN closes our end too.
      onEnd: () => socket.destroy(),
      onClose: () => this.dispose(),
      onDrain: () => {},
    });
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.parser.destroy();
    this.upstream.forget(this);
  }
}

/** An HTTP/1.1 origin on the SimNetwork whose every answer a test scripts. */
export class ScriptedUpstream implements SimEndpoint {
  /** requests whose last byte arrived (with `onHead`: whose head arrived), in order */
  readonly requests: ScriptedRequest[] = [];
  /** every request whose head arrived, complete or not */
  readonly arrivals: Array<{ at: number; method: string; path: string; connection: number }> = [];
  /** virtual ms at which each connection was accepted */
  readonly acceptedAt: number[] = [];
  /** virtual ms at which each connection closed, in the order they closed */
  readonly closedAt: number[] = [];
  /** connect attempts refused */
  refused = 0;
  refuse: boolean;
  blackhole: boolean;
  connectDelayMs: number;
  respond: (request: ScriptedRequest) => ScriptedAnswer;
  private readonly open = new Set<UpstreamConnection>();

  constructor(
    readonly address: string,
    readonly port: number,
    private readonly clock: SimClock,
    private readonly options: ScriptedUpstreamOptions = {},
  ) {
    this.refuse = options.refuse ?? false;
    this.blackhole = options.blackhole ?? false;
    this.connectDelayMs = options.connectMs ?? 0;
    this.respond = options.respond ?? (() => ({}));
  }

  get key(): string {
    return `${this.address}:${this.port}`;
  }

  /** connections accepted so far */
  get connections(): number {
    return this.acceptedAt.length;
  }

  /** connections open right now */
  openConnections(): number {
    return this.open.size;
  }

  /** requests that are not health checks */
  traffic(): ScriptedRequest[] {
    return this.requests.filter((r) => !r.healthCheck);
  }

  /** health-check requests */
  healthChecks(): ScriptedRequest[] {
    return this.requests.filter((r) => r.healthCheck);
  }

  /** Like stopping a server and destroying its sockets: new connects are refused, open connections get a FIN. */
  down(): void {
    this.refuse = true;
    for (const connection of [...this.open]) connection.socket.destroy();
  }

  // SimEndpoint

  connectMs(): number {
    return this.connectDelayMs;
  }

  refuses(): boolean {
    if (this.refuse) this.refused++;
    return this.refuse;
  }

  blackholes(): boolean {
    return this.blackhole;
  }

  accept(socket: SimConnection): void {
    const connection = new UpstreamConnection(this, socket, this.acceptedAt.length);
    this.acceptedAt.push(this.clock.now());
    this.open.add(connection);
  }

  // from UpstreamConnection

  forget(connection: UpstreamConnection): void {
    if (!this.open.delete(connection)) return;
    for (const timer of connection.timers) this.clock.clearTimeout(timer);
    this.closedAt.push(this.clock.now());
  }

  onHead(connection: UpstreamConnection, head: ParsedHead): void {
    this.arrivals.push({ at: this.clock.now(), method: head.method ?? '', path: head.url ?? '', connection: connection.index });
    if (!this.options.onHead) return;
    connection.answeredOnHead = true;
    this.answer(connection, this.record(connection, head, []));
  }

  onComplete(connection: UpstreamConnection, head: ParsedHead, body: Uint8Array[]): void {
    if (connection.answeredOnHead) return;
    this.answer(connection, this.record(connection, head, body));
  }

  private record(connection: UpstreamConnection, head: ParsedHead, body: Uint8Array[]): ScriptedRequest {
    const headers = joinHeaders(head.headers);
    const request: ScriptedRequest = {
      index: this.requests.length,
      at: this.clock.now(),
      method: head.method ?? '',
      path: head.url ?? '',
      headers,
      body: new TextDecoder().decode(concat(body)),
      connection: connection.index,
      healthCheck: headers['user-agent'] === 'Envoy/HC',
    };
    this.requests.push(request);
    return request;
  }

  private answer(connection: UpstreamConnection, request: ScriptedRequest): void {
    const answer = this.respond(request);
    const socket = connection.socket;
    if (answer === 'hang') return;
    if (answer === 'close') return socket.destroy();
    if (answer === 'reset') return socket.reset();
    if (answer === 'reset-after-headers') {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 16\r\n\r\n');
      socket.reset();
      return;
    }
    // As an HTTP/1.1 server: a request that asked to close (or an HTTP/1.0 one) gets its answer, then a FIN.
    const keepAlive = connection.head?.shouldKeepAlive ?? true;
    const send = (): void => {
      if (connection.closed) return;
      socket.write(answer.raw ?? this.format(request, answer, keepAlive));
      const then = answer.then ?? (keepAlive || answer.raw !== undefined ? undefined : { action: 'close' as const });
      if (!then) return;
      const act = (): void => {
        if (connection.closed) return;
        if (then.action === 'close') socket.destroy();
        else socket.reset();
      };
      if (then.afterMs) connection.timers.push(this.clock.setTimeout(act, then.afterMs));
      else act();
    };
    if (answer.delayMs) connection.timers.push(this.clock.setTimeout(send, answer.delayMs));
    else send();
  }

  private format(request: ScriptedRequest, answer: ScriptedResponse, keepAlive: boolean): string {
    const status = answer.status ?? 200;
    let head = `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Scripted'}\r\n`;
    for (const [name, value] of Object.entries(answer.headers ?? {})) head += `${name}: ${value}\r\n`;
    if (!keepAlive) head += 'connection: close\r\n';
    // RFC 9110 §6.4.1: these carry no body, so no content-length either.
    if (status < 200 || status === 204 || status === 304) return `${head}\r\n`;
    const body = answer.body ?? `${this.options.name ? `${this.options.name} ` : ''}${request.method} ${request.path}`;
    return `${head}content-length: ${encoder.encode(body).byteLength}\r\n\r\n${body}`;
  }
}

// ---------------------------------------------------------------------------------------
// The downstream client

/** A response as the client read it. */
export interface SimResponse {
  status: number;
  reason: string;
  /** lower-cased names; repeated headers joined with ", " */
  headers: Record<string, string>;
  body: string;
  /** virtual ms when its last byte arrived */
  at: number;
}

export interface SimRequestSpec {
  method?: string;
  path?: string;
  /** default `host: test.local`; a content-length is added for a body */
  headers?: Record<string, string>;
  body?: string;
}

/** One client connection to the listener. */
export class SimClient {
  /** final (non-1xx) responses, complete, in order */
  readonly responses: SimResponse[] = [];
  /** 1xx responses */
  readonly interim: SimResponse[] = [];
  /** the connection is gone (the proxy closed it, or we did) */
  closed = false;
  /** the proxy reset it (ECONNRESET) */
  reset = false;
  /** virtual ms when it closed */
  closedAt: number | undefined;
  private readonly chunks: Uint8Array[] = [];
  private readonly parser: HttpParser;
  private current: { head: ParsedHead; body: Uint8Array[] } | undefined;
  /** methods of the requests written with `send`, to know which responses carry no body */
  private readonly methods: string[] = [];
  parseError: string | undefined;

  constructor(
    readonly socket: SimConnection,
    private readonly clock: SimClock,
  ) {
    this.parser = new HttpParser(
      'response',
      {
        onMessageBegin: () => {},
        onHeadersComplete: (head) => {
          this.current = { head, body: [] };
          const status = head.statusCode ?? 0;
          if (status < 200) return 'skip-body';
          const method = this.methods[this.responses.length];
          return method === 'HEAD' || status === 204 || status === 304 ? 'skip-body' : 'continue';
        },
        onBody: (chunk) => {
          this.current?.body.push(chunk.slice());
          return 'continue';
        },
        onMessageComplete: () => {
          const { head, body } = this.current!;
          this.current = undefined;
          const response: SimResponse = {
            status: head.statusCode ?? 0,
            reason: head.statusMessage ?? '',
            headers: joinHeaders(head.headers),
            body: new TextDecoder().decode(concat(body)),
            at: this.clock.now(),
          };
          (response.status < 200 ? this.interim : this.responses).push(response);
          return 'continue';
        },
      },
      LIMITS,
    );
    socket.setHandlers({
      onData: (chunk) => {
        this.chunks.push(chunk.slice());
        const result = this.parser.execute(chunk);
        if (result.kind === 'error') this.parseError ??= `${result.code}: ${result.reason}`;
      },
      // Like an ordinary client (allowHalfOpen false): the proxy's FIN ends our side too.
      onEnd: () => {
        this.parser.finish();
        socket.destroy();
      },
      onClose: (error) => {
        if (this.closed) return;
        if (error?.code === 'ECONNRESET') this.reset = true;
        else this.parser.finish();
        this.closed = true;
        this.closedAt = this.clock.now();
        this.parser.destroy();
      },
      onDrain: () => {},
    });
  }

  /** everything received, as latin1 text */
  get text(): string {
    return new TextDecoder('latin1').decode(concat(this.chunks));
  }

  /** a response whose head arrived but not its end (the connection closed under it) */
  get partial(): { status: number; body: string } | undefined {
    if (!this.current) return undefined;
    return { status: this.current.head.statusCode ?? 0, body: new TextDecoder().decode(concat(this.current.body)) };
  }

  write(bytes: string): void {
    this.socket.write(bytes);
  }

  /** Writes one HTTP/1.1 request. */
  send(spec: SimRequestSpec = {}): void {
    const method = spec.method ?? 'GET';
    this.methods.push(method);
    const headers: Record<string, string> = { host: 'test.local', ...spec.headers };
    if (spec.body !== undefined && !Object.keys(headers).some((n) => /^(content-length|transfer-encoding)$/i.test(n))) {
      headers['content-length'] = String(encoder.encode(spec.body).byteLength);
    }
    let text = `${method} ${spec.path ?? '/'} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
    this.socket.write(`${text}\r\n${spec.body ?? ''}`);
  }

  /** half-close (FIN) */
  end(): void {
    this.socket.end();
  }

  /** close now (FIN to the proxy) */
  destroy(): void {
    this.socket.destroy();
  }

  /** close with an RST */
  abort(): void {
    this.socket.reset();
  }
}

// ---------------------------------------------------------------------------------------
// The world

export interface SimWorldOptions {
  /** scripts by `address:port` as in the config; an endpoint not named gets a default upstream answering 200 */
  upstreams?: Record<string, ScriptedUpstreamOptions>;
  /** the engine's seed (default 1) */
  seed?: number;
  /** one-way delay of every network delivery, virtual ms (default 0) */
  latencyMs?: number;
  concurrency?: number;
  /** for STRICT_DNS / LOGICAL_DNS clusters; default knows IP literals only */
  resolver?: Resolver;
  /** collect trace events (default true; off is faster) */
  trace?: boolean;
}

/** The SimNetwork, counting the connects the engine gave up on (a connect timeout, a stop). */
class WorldNetwork extends SimNetwork {
  cancelledConnects = 0;

  override connect(address: string, port: number, callbacks: ConnectCallbacks): PendingConnect {
    const pending = super.connect(address, port, callbacks);
    return {
      cancel: () => {
        this.cancelledConnects++;
        pending.cancel();
      },
    };
  }
}

export class SimWorld {
  readonly clock: SimClock;
  readonly network: WorldNetwork;
  readonly engine: ProxyEngine;
  /** every trace event, in order */
  readonly events: TraceEvent[] = [];
  /** access-log lines, in the order they were written */
  readonly logs: string[] = [];
  /** every finished HTTP stream, as an access logger sees it */
  readonly streams: StreamInfo[] = [];
  /** the first listener's address */
  address = '';
  port = 0;
  private readonly upstreamsByKey = new Map<string, ScriptedUpstream>();
  private nextClientPort = 1;
  private stopped = false;

  private constructor(config: Bootstrap, options: SimWorldOptions) {
    this.clock = new SimClock();
    this.network = new WorldNetwork(this.clock, options.latencyMs ?? 0);
    for (const cluster of config.static_resources.clusters) {
      for (const endpoint of cluster.endpoints) {
        const { address, port_value: port } = endpoint.address;
        const key = `${address}:${port}`;
        if (this.upstreamsByKey.has(key)) continue;
        const upstream = new ScriptedUpstream(address, port, this.clock, options.upstreams?.[key]);
        this.upstreamsByKey.set(key, upstream);
        this.network.attach(address, port, upstream);
      }
    }
    for (const key of Object.keys(options.upstreams ?? {})) {
      if (!this.upstreamsByKey.has(key)) throw new Error(`sim-world: no cluster endpoint at ${key} for its upstream script`);
    }
    this.engine = new ProxyEngine({
      config,
      transport: this.network,
      resolver: options.resolver ?? new MemoryResolver({ clock: this.clock }),
      clock: this.clock,
      seed: options.seed ?? 1,
      concurrency: options.concurrency ?? 1,
      accessLog: (line) => this.logs.push(line),
      onStreamComplete: (info) => this.streams.push(info),
    });
    if (options.trace !== false) this.engine.tracer.attach((event) => this.events.push(event));
  }

  /**
   * Builds the world from a YAML bootstrap (loaded by the real loader; the test fails on
   * a warning) or an already normalized Bootstrap, and starts the engine on virtual time.
   * The test fails if xstate warns that an event went to a stopped actor.
   */
  static async start(config: string | Bootstrap, options: SimWorldOptions = {}): Promise<SimWorld> {
    const world = SimWorld.create(config, options);
    await world.start();
    return world;
  }

  /** The world with the engine not started yet (for tests about start-up itself). */
  static create(config: string | Bootstrap, options: SimWorldOptions = {}): SimWorld {
    let bootstrap: Bootstrap;
    if (typeof config === 'string') {
      const loaded = loadBootstrap(config, 'sim-world.yaml');
      expect(loaded.warnings).toEqual([]);
      bootstrap = loaded.config;
    } else {
      bootstrap = config;
    }
    // A plain wrapper rather than vi.spyOn: several worlds in one test each keep their own
    // record, and restoring in reverse order leaves console.warn as it was.
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => {
      warnings.push(args.map(String).join(' '));
      original.apply(console, args);
    };
    const world = new SimWorld(bootstrap, options);
    // Stop first, so what stopping sends to stopped actors is caught too.
    onTestFinished(async () => {
      try {
        await world.stop();
      } finally {
        console.warn = original;
      }
      const stale = warnings.filter((text) => text.includes('stopped actor'));
      if (stale.length > 0) throw new Error(`xstate: ${stale.length} event(s) sent to stopped actors, first: ${stale[0]}`);
    });
    return world;
  }

  /** Starts the engine (cluster warm-up, first health-check rounds, listeners), firing virtual time until it is LIVE. */
  async start(): Promise<void> {
    this.noteListener(await this.drive(this.engine.start(), 'the engine to start'));
  }

  /** Records the first listener's bound address, from what engine.start() resolved with. */
  noteListener(bound: Array<{ address: string }>): void {
    const address = bound[0]?.address;
    if (address === undefined) return;
    const colon = address.lastIndexOf(':');
    this.address = address.slice(0, colon);
    this.port = Number(address.slice(colon + 1));
  }

  /** virtual ms since the world began */
  now(): number {
    return this.clock.now();
  }

  /** The scripted upstream at `address:port` (or just a port on 127.0.0.1). */
  upstream(key: string | number): ScriptedUpstream {
    const k = typeof key === 'number' ? `127.0.0.1:${key}` : key;
    const upstream = this.upstreamsByKey.get(k);
    if (!upstream) throw new Error(`sim-world: no upstream at ${k}; there are ${[...this.upstreamsByKey.keys()].join(', ')}`);
    return upstream;
  }

  /** a stat's current value, 0 when it was never created */
  stat(name: string): number {
    return this.engine.stats.valueOf(name) ?? 0;
  }

  /** the access-log lines, parsed (Envoy's default format) */
  accessLog(): AccessLogLine[] {
    return this.logs.map(parseAccessLog);
  }

  /** the data of every trace fact named `fact`, in order */
  facts(fact: string): Array<Record<string, unknown>> {
    return this.events.filter((e) => e.type === 'fact' && e.fact === fact).map((e) => (e as unknown as { data: Record<string, unknown> }).data);
  }

  /** A new client connection to the listener (to `port`, default the first listener's). */
  connect(port = this.port, address = this.address): SimClient {
    const socket = this.network.dial(address, port, ['10.0.0.2', 30000 + this.nextClientPort++]);
    if (!socket) throw new Error(`sim-world: nothing listens on ${address}:${port}`);
    return new SimClient(socket, this.clock);
  }

  /** Writes a request on a new connection and returns at once: time does not move. */
  send(spec: SimRequestSpec = {}): SimClient {
    const client = this.connect();
    client.send(spec);
    return client;
  }

  /**
   * One request on a new connection: fires virtual time until its response is complete,
   * then lets everything else due at that same virtual instant happen (the access log,
   * the pool's release), and returns the response. Fails with what arrived if the
   * connection closed first, nothing was left to happen, or `limitMs` of virtual time passed.
   */
  request(spec: SimRequestSpec = {}, limitMs = DEFAULT_LIMIT_MS): SimResponse {
    return this.response(this.send(spec), limitMs);
  }

  /** Runs until `client` has its next response (see `request`). */
  response(client: SimClient, limitMs = DEFAULT_LIMIT_MS, n = 1): SimResponse {
    this.runUntil(() => client.responses.length >= n || client.closed, limitMs);
    this.settle();
    const response = client.responses[n - 1];
    if (!response) {
      throw new Error(
        `sim-world: no response at ${this.now()} ms (closed=${client.closed}, reset=${client.reset}, idle=${this.clock.idle()}); received ${JSON.stringify(client.text.slice(0, 600))}`,
      );
    }
    return response;
  }

  /**
   * Fires virtual time, one event at a time, until `done()` holds; stops when nothing is
   * left to fire or `limitMs` from now passed (standing at the limit then). Returns done().
   */
  runUntil(done: () => boolean, limitMs = DEFAULT_LIMIT_MS): boolean {
    const deadline = this.clock.now() + limitMs;
    this.clock.drain();
    while (!done()) {
      if (this.clock.fireNext(deadline)) continue;
      if (this.clock.nextDue() !== undefined && this.clock.now() < deadline) this.clock.runUntil(deadline);
      break;
    }
    return done();
  }

  /** Like runUntil, but fails the test with `what` when the condition never held. */
  waitUntil(done: () => boolean, what: string, limitMs = DEFAULT_LIMIT_MS): void {
    if (!this.runUntil(done, limitMs)) throw new Error(`sim-world: at ${this.now()} ms still waiting for ${what}`);
  }

  /** Fires everything due in the next `ms` virtual ms, then stands at now + ms. */
  runFor(ms: number): void {
    this.clock.advance(ms);
  }

  /** Fires everything due at the current virtual instant. */
  settle(): void {
    this.clock.advance(0);
  }

  /** Stops the engine (listeners, health checkers, pools) and lets the closes land. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.drive(this.engine.stop(), 'the engine to stop');
    this.settle();
  }

  /**
   * Awaits an engine promise (start/stop are the only async parts), firing virtual time
   * while it is pending: its continuations need platform turns, its progress needs events.
   */
  drive<T>(promise: Promise<T>, what: string): Promise<T> {
    return this.clock.settle(promise, what);
  }
}

function joinHeaders(list: ReadonlyArray<[string, string]>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of list) {
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  return headers;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
