/**
 * Runs test requests through the real engine on virtual time. The route configuration is
 * wrapped in a bootstrap of one listener (HCM + router), one simulated cluster per cluster
 * name, and a runtime layer; the engine runs on SimClock and SimNetwork; each cluster's one
 * host is a SimEndpoint that records the request as it arrived and answers 200. A test
 * request is written by a simulated downstream client as HTTP/1.1 bytes, and what the
 * engine decided is read back from what happened: which host got the request and how it
 * looked, the response the client got, and the engine's trace facts.
 */
import type { TraceEvent } from '@proxyscope/protocol';
import { ProxyEngine, seededRandom, type Random } from '@proxyscope/engine';
import { ConfigError, loadBootstrap, type ConfigDiagnostic } from '@proxyscope/engine/config';
import { HttpParser, type ParsedHead } from '@proxyscope/engine/codec/llhttp-parser';
import { SimClock } from '@proxyscope/engine/sim/sim-clock';
import { SimNetwork, type SimConnection, type SimEndpoint } from '@proxyscope/engine/sim/sim-network';
import { stringify } from 'yaml';
import type { ValidationInput } from './test-file';

const LISTENER = { address: '10.0.0.1', port: 10000 };
const CLIENT_ADDRESS = '127.0.0.1';
/** virtual time one request may take before route-check gives up on it */
const REQUEST_DEADLINE_MS = 120_000;
const LIMITS = { maxHeaderBytes: 1 << 20, maxHeadersCount: 10_000 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface SeenRequest {
  cluster: string;
  method: string;
  path: string;
  /** as sent on the wire, names lower-cased (Host included) */
  headers: Array<[string, string]>;
}

export interface SeenResponse {
  status: number;
  headers: Array<[string, string]>;
  body: string;
}

/** What one test request did. */
export interface Observation {
  /** route.virtual_host: the virtual host found (null: none) */
  vhost: string | null | undefined;
  /** route.match: the route's (unique) name; undefined when no route matched */
  route: string | undefined;
  /** route.match: the cluster the route chose (before the router looked it up) */
  matchCluster: string | undefined;
  /** cluster.selected: the router's cluster (absent for redirects, direct responses, no route) */
  clusterSelected: { cluster: string; found: boolean } | undefined;
  /** the request as the upstream host received it; absent when the proxy answered itself */
  upstream: SeenRequest | undefined;
  response: SeenResponse | undefined;
  /** the request as the client wrote it */
  sent: { method: string; path: string; authority: string; headers: Array<[string, string]> };
}

/**
 * The engine's one Random, with a seam: `fix(v)` makes the next u32 draw return v. With
 * request ids off, the first draw of a new stream is its random value (the one Envoy's
 * router takes for weighted clusters and runtime fractions), so a test's random_value
 * reaches the engine's own choice unchanged. The value is passed as is (up to 2^53), as
 * Envoy's random_value is a uint64 and only its remainder is ever used.
 */
class FixedNextRandom implements Random {
  private readonly inner = seededRandom(1);
  private fixed: number | undefined;

  fix(value: number): void {
    this.fixed = value;
  }

  u32(): number {
    if (this.fixed !== undefined) {
      const v = this.fixed;
      this.fixed = undefined;
      return v;
    }
    return this.inner.u32();
  }

  next(): number {
    return this.inner.next();
  }

  int(n: number): number {
    return this.inner.int(n);
  }
}

/** The host of one cluster: records each request, answers 200 with the test's response headers. */
class RecordingHost implements SimEndpoint {
  constructor(
    readonly cluster: string,
    private readonly world: World,
  ) {}

  connectMs(): number {
    return 1;
  }

  refuses(): boolean {
    return false;
  }

  blackholes(): boolean {
    return false;
  }

  accept(connection: SimConnection): void {
    let head: ParsedHead | undefined;
    const parser = new HttpParser(
      'request',
      {
        onMessageBegin: () => {},
        onHeadersComplete: (h) => {
          head = h;
          return 'continue';
        },
        onBody: () => 'continue',
        onMessageComplete: () => {
          const h = head!;
          this.world.seen({ cluster: this.cluster, method: h.method ?? '', path: h.url ?? '', headers: h.headers.map(([k, v]) => [k.toLowerCase(), v]) });
          const extra = this.world.responseHeaders.map(({ key, value }) => `${key}: ${value}\r\n`).join('');
          connection.write(`HTTP/1.1 200 OK\r\ncontent-length: 0\r\n${extra}\r\n`);
          return 'continue';
        },
      },
      LIMITS,
    );
    connection.setHandlers({
      onData: (chunk) => void parser.execute(chunk),
      onEnd: () => connection.end(),
      onClose: () => parser.destroy(),
      onDrain: () => {},
    });
  }
}

/** What the hosts and the tracer report into while one request runs. */
interface World {
  responseHeaders: Array<{ key: string; value: string }>;
  seen(request: SeenRequest): void;
}

export class EngineStartError extends Error {
  constructor(readonly diagnostics: ConfigDiagnostic[]) {
    super(diagnostics.map((d) => `${d.path}: ${d.message}`).join('\n'));
  }
}

export interface HarnessOptions {
  /** the route configuration, as it will be given to the HCM */
  routeConfig: Record<string, unknown>;
  clusters: string[];
  /** runtime keys and values for the bootstrap's static layer */
  runtime: Record<string, string>;
}

/** One engine for one route configuration and runtime; requests run one after another. */
export class Harness implements World {
  private readonly clock = new SimClock();
  private readonly network = new SimNetwork(this.clock);
  private readonly random = new FixedNextRandom();
  private readonly engine: ProxyEngine;
  readonly warnings: ConfigDiagnostic[];
  private nextClientPort = 40000;
  private facts: Array<{ fact: string; data: Record<string, unknown> }> = [];
  private upstream: SeenRequest | undefined;
  responseHeaders: Array<{ key: string; value: string }> = [];

  constructor(options: HarnessOptions) {
    const bootstrap = {
      static_resources: {
        listeners: [
          {
            name: 'route_check',
            address: { socket_address: { address: LISTENER.address, port_value: LISTENER.port } },
            filter_chains: [
              {
                filters: [
                  {
                    name: 'envoy.filters.network.http_connection_manager',
                    typed_config: {
                      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                      stat_prefix: 'route_check',
                      // A request id would take the stream's first random draw (see FixedNextRandom).
                      generate_request_id: false,
                      route_config: options.routeConfig,
                      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
                    },
                  },
                ],
              },
            ],
          },
        ],
        clusters: options.clusters.map((name, i) => ({
          name,
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: name,
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: hostAddress(i), port_value: 80 } } } }] }],
          },
        })),
      },
      ...(Object.keys(options.runtime).length > 0 && { layered_runtime: { layers: [{ name: 'route_check', static_layer: options.runtime }] } }),
    };
    let loaded;
    try {
      loaded = loadBootstrap(stringify(bootstrap, { lineWidth: 0 }), 'route-check');
    } catch (e) {
      if (e instanceof ConfigError) throw new EngineStartError(e.diagnostics);
      throw e;
    }
    this.warnings = loaded.warnings;
    this.engine = new ProxyEngine({ config: loaded.config, transport: this.network, clock: this.clock, random: this.random });
    options.clusters.forEach((name, i) => this.network.attach(hostAddress(i), 80, new RecordingHost(name, this)));
    this.engine.tracer.attach((event: TraceEvent) => {
      if (event.type === 'fact') this.facts.push({ fact: event.fact, data: event.data as Record<string, unknown> });
    });
  }

  async start(): Promise<void> {
    await this.clock.settle(this.engine.start(), 'the engine to start');
  }

  async stop(): Promise<void> {
    await this.engine.stop();
  }

  seen(request: SeenRequest): void {
    this.upstream = request;
  }

  /** One test request, to its response (or until the deadline on virtual time). */
  async run(input: ValidationInput): Promise<Observation> {
    this.facts = [];
    this.upstream = undefined;
    this.responseHeaders = input.additionalResponseHeaders;
    this.random.fix(input.randomValue);
    // The tool's request: :authority, :path, :method, x-forwarded-proto (and :scheme) from
    // ssl, x-envoy-internal when internal, then the additional headers.
    const headers: Array<[string, string]> = [['x-forwarded-proto', input.ssl ? 'https' : 'http']];
    if (input.internal) headers.push(['x-envoy-internal', 'true']);
    let authority = input.authority;
    for (const h of input.additionalRequestHeaders) {
      if (h.key.toLowerCase() === ':authority' || h.key.toLowerCase() === 'host') authority = h.value;
      else if (!h.key.startsWith(':')) headers.push([h.key, h.value]);
    }
    const method = input.method;
    const path = input.path;
    const wire = `${method} ${path} HTTP/1.1\r\nhost: ${authority}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
    const sent = { method, path, authority, headers };

    let response: SeenResponse | undefined;
    let head: ParsedHead | undefined;
    let body = '';
    const parser = new HttpParser(
      'response',
      {
        onMessageBegin: () => {},
        onHeadersComplete: (h) => {
          head = h;
          return method === 'HEAD' ? 'skip-body' : 'continue';
        },
        onBody: (chunk) => {
          body += decoder.decode(chunk, { stream: true });
          return 'continue';
        },
        onMessageComplete: () => {
          if (head && (head.statusCode ?? 0) >= 200) {
            response = { status: head.statusCode ?? 0, headers: head.headers.map(([k, v]) => [k.toLowerCase(), v]), body };
          }
          head = undefined;
          body = '';
          return 'continue';
        },
      },
      LIMITS,
    );
    const client = this.network.dial(LISTENER.address, LISTENER.port, [CLIENT_ADDRESS, this.nextClientPort++]);
    if (!client) throw new Error('route-check: the listener is not bound');
    let closed = false;
    client.setHandlers({
      onData: (chunk) => void parser.execute(chunk),
      onEnd: () => {
        parser.finish();
        closed = true;
      },
      onClose: () => (closed = true),
      onDrain: () => {},
    });
    client.write(encoder.encode(wire));
    const deadline = this.clock.now() + REQUEST_DEADLINE_MS;
    // Each fired event is one delivery or timer of the simulated world. Nothing due and no
    // response yet: the engine may be waiting on a promise, so let the platform run it.
    for (let idle = 0; !response && !closed && this.clock.now() <= deadline && idle <= MAX_IDLE_YIELDS; ) {
      if (this.clock.fireNext(deadline)) idle = 0;
      else {
        idle++;
        await yieldToPlatform();
      }
    }
    client.destroy();
    // Let the proxy see the close and finish the stream before the next test.
    this.clock.runUntil(this.clock.now() + 1);
    parser.destroy();

    const vhostFact = this.facts.find((f) => f.fact === 'route.virtual_host');
    const match = this.facts.find((f) => f.fact === 'route.match');
    const selected = this.facts.find((f) => f.fact === 'cluster.selected');
    return {
      vhost: vhostFact ? (vhostFact.data.vhost as string | null) : undefined,
      route: match ? String(match.data.route) : undefined,
      matchCluster: match && typeof match.data.cluster === 'string' ? match.data.cluster : undefined,
      clusterSelected: selected ? { cluster: String(selected.data.cluster ?? ''), found: selected.data.found === true } : undefined,
      upstream: this.upstream,
      response,
      sent,
    };
  }
}

/** how many times in a row the simulated world may be idle before route-check stops waiting */
const MAX_IDLE_YIELDS = 100;

function yieldToPlatform(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function hostAddress(i: number): string {
  return `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}
