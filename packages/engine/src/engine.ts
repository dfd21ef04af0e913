import type { Topology, TopologyCluster } from '@proxyscope/protocol';
import type { Bootstrap } from './config/types';
import { isModelledHttpFilter } from './http/filter-registry';
import { EngineIds, type EngineContext, type MachineInterpreter } from './seams/actors';
import type { CompressionProvider } from './seams/compression';
import { Listener } from './listener/listener';
import { realClock, type Clock } from './seams/clock';
import { entropyRandom, seededRandom, type Random } from './seams/random';
import { RuntimeSnapshot } from './runtime/runtime';
import type { SteppableMachine } from '@proxyscope/protocol';
import { StepController } from './seams/step';
import { Tracer } from './seams/tracer';
import { filterChainMachine } from './http/filter-chain.machine';
import { streamMachine } from './http/stream.machine';
import { routerMachine } from './router/router.machine';
import { upstreamRequestMachine } from './router/upstream-request.machine';
import { retryMachine } from './router/retry.machine';
import type { Transport } from './seams/transport';
import type { StreamInfo } from './http/stream-info';
import { MemoryResolver, type Resolver } from './seams/resolver';
import { StatsStore } from './stats/stats';
import { ClusterManager, type ClusterInfo } from './upstream/cluster-manager';
import { hostKey } from './upstream/host';
import { Worker } from './worker';

export const ENGINE_VERSION = '0.1.0';

export interface EngineOptions {
  config: Bootstrap;
  transport: Transport;
  /** DNS for STRICT_DNS / LOGICAL_DNS clusters; default: a MemoryResolver that knows IP literals and localhost only */
  resolver?: Resolver;
  clock?: Clock;
  /**
   * seed for the engine's one Random (load balancing, weighted clusters, jitter, request
   * ids); 'entropy' draws from the platform's CSPRNG instead (live mode without --seed).
   * Default 1, so simulation and tests are reproducible.
   */
  seed?: number | 'entropy';
  /** replaces the seeded Random (route-check fixes the next draw: a test's random_value); wins over `seed` */
  random?: Random;
  /** logical workers, each with its own pools and load-balancer state (default 1) */
  concurrency?: number;
  /** receives each access-log line; `path` is the file logger's path, undefined for stdout */
  accessLog?: (line: string, path: string | undefined) => void;
  /** every finished HTTP stream, as an access logger sees it (seams/actors.ts) */
  onStreamComplete?: (info: StreamInfo) => void;
  /** compression libraries for envoy.filters.http.compressor (Node: nodeCompression); absent: it cannot compress */
  compression?: CompressionProvider;
  /**
   * Which interpreter runs the machines: 'compiled' (default) runs every machine the
   * engine's runtime compiles on it (fsm/), 'xstate' runs them all on xstate's own
   * interpreter. The two give the same trace; 'xstate' is the reference the tests compare to.
   */
  interpreter?: MachineInterpreter;
}

/** The states a breakpoint may name, read from the machines themselves. */
const STEPPABLE_STATES: Record<SteppableMachine, readonly string[]> = {
  stream: Object.keys(streamMachine.config.states ?? {}),
  filter_chain: Object.keys(filterChainMachine.config.states ?? {}),
  router: Object.keys(routerMachine.config.states ?? {}),
  upstream_request: Object.keys(upstreamRequestMachine.config.states ?? {}),
  retry: Object.keys(retryMachine.config.states ?? {}),
};

/** Envoy's server states, as `/ready` and `server.state` report them. */
export type ServerState = 'PRE_INITIALIZING' | 'INITIALIZING' | 'LIVE' | 'DRAINING';
const STATE_GAUGE: Record<ServerState, number> = { LIVE: 0, DRAINING: 1, PRE_INITIALIZING: 2, INITIALIZING: 3 };

/**
 * Server::InstanceImpl, reduced to the request path: cluster manager, workers and
 * listeners built from a bootstrap config, on a transport, a clock and one tracer.
 */
export class ProxyEngine {
  readonly stats = new StatsStore();
  readonly tracer: Tracer;
  readonly clock: Clock;
  /** step mode: breakpoints that hold live requests (seams/step.ts) */
  readonly stepper: StepController;
  readonly random: Random;
  /** the bootstrap's layered_runtime, flattened (Runtime::Loader's snapshot; static here) */
  readonly runtime: RuntimeSnapshot;
  readonly clusterManager: ClusterManager;
  readonly workers: Worker[];
  readonly listeners: Listener[] = [];
  readonly warnings: string[] = [];
  state: ServerState = 'PRE_INITIALIZING';
  /** POST /healthcheck/fail until /healthcheck/ok: the health_check filter answers 503 */
  private healthCheckFailed = false;
  readonly startedAt: number;
  private readonly ids = new EngineIds();

  constructor(private readonly options: EngineOptions) {
    this.clock = options.clock ?? realClock;
    this.startedAt = this.clock.wallTime();
    this.random = options.random ?? (options.seed === 'entropy' ? entropyRandom() : seededRandom(options.seed ?? 1));
    this.runtime = new RuntimeSnapshot(options.config.runtime ?? {});
    this.tracer = new Tracer(this.clock);
    this.stepper = new StepController(this.tracer, STEPPABLE_STATES);
    const engineContext = this.engineContext();
    const concurrency = Math.max(1, options.concurrency ?? 1);
    this.workers = Array.from({ length: concurrency }, (_, i) => new Worker(i, engineContext, options.transport, this.random));
    this.clusterManager = new ClusterManager(options.config.static_resources.clusters, this.stats, this.runtime);
    this.warnings.push(...this.clusterManager.warnings);
    this.stats.gauge('server.concurrency').set(concurrency);
    this.setState('PRE_INITIALIZING');
  }

  /** What every actor and filter of this engine shares (seams/actors.ts). */
  private engineContext(): EngineContext {
    return {
      clock: this.clock,
      ids: this.ids,
      tracer: this.tracer,
      stepper: this.stepper,
      compression: this.options.compression,
      healthCheckFailed: () => this.healthCheckFailed,
      ...(this.options.onStreamComplete && { onStreamComplete: this.options.onStreamComplete }),
      runtime: this.runtime,
      ...(this.options.interpreter && { interpreter: this.options.interpreter }),
    };
  }

  get config(): Bootstrap {
    return this.options.config;
  }

  /** Resolve clusters, bind every listener; resolves with their bound addresses once LIVE. */
  async start(): Promise<Array<{ name: string; address: string }>> {
    this.setState('INITIALIZING');
    const engineContext = this.engineContext();
    // Health checking runs on the engine's clock and transport; warm-up waits for its first round.
    this.clusterManager.onHostHealthFailure = (host) => {
      for (const worker of this.workers) worker.drainHost(host);
    };
    this.clusterManager.onHostRemoved = (host) => {
      for (const worker of this.workers) worker.removeHost(host);
    };
    const resolver = this.options.resolver ?? new MemoryResolver({ clock: this.clock });
    await this.clusterManager.initialize(this.options.transport, { engine: engineContext, random: this.random }, resolver);
    const accessLog = this.options.accessLog ?? (() => {});
    for (const config of this.options.config.static_resources.listeners) {
      this.listeners.push(
        new Listener(engineContext, config, {
          engine: engineContext,
          transport: this.options.transport,
          store: this.stats,
          workers: this.workers,
          clusterManager: this.clusterManager,
          random: this.random,
          runtime: this.runtime,
          accessLog,
        }),
      );
    }
    const bound: Array<{ name: string; address: string }> = [];
    for (const listener of this.listeners) bound.push({ name: listener.config.name, address: await listener.whenActive() });
    this.stats.counter('listener_manager.listener_added').inc(this.listeners.length);
    this.stats.gauge('listener_manager.total_listeners_active').set(this.listeners.length);
    this.stats.gauge('listener_manager.workers_started').set(this.workers.length);
    this.setState('LIVE');
    return bound;
  }

  /** POST /drain_listeners: listeners keep serving but close connections after responses. */
  drainListeners(): void {
    for (const listener of this.listeners) listener.drain();
    this.stats.gauge('listener_manager.total_listeners_draining').set(this.listeners.length);
  }

  /** POST /healthcheck/fail and /healthcheck/ok */
  setHealthCheckFailed(failed: boolean): void {
    this.healthCheckFailed = failed;
    this.setState(failed ? 'DRAINING' : 'LIVE');
  }

  async stop(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.stop()));
    this.clusterManager.stop();
    for (const worker of this.workers) worker.stop();
  }

  topology(): Topology {
    const config = this.options.config.static_resources;
    return {
      workers: this.workers.length,
      // From the config, so a topology taken before start() lists the listeners too; the
      // bound address replaces the configured one once a listener is up.
      listeners: config.listeners.map((l) => ({
        name: l.name,
        address: this.listeners.find((b) => b.config === l)?.boundAddress ?? `${l.address.address}:${l.address.port_value}`,
        filterChains: l.filter_chains.map((c) => ({
          name: c.name,
          ...(c.passthrough_filters && { passthroughFilters: c.passthrough_filters.map((f) => f.name) }),
          ...(c.hcm
            ? {
                statPrefix: c.hcm.stat_prefix,
                routeConfig: c.hcm.route_config.name,
                httpFilters: c.hcm.http_filters.map((f) => f.name),
                httpFilterDetails: c.hcm.http_filters.map((f) => ({ name: f.name, ...(f.type_url && { typeUrl: f.type_url }), modelled: isModelledHttpFilter(f) })),
              }
            : {
                statPrefix: c.tcp_proxy!.stat_prefix,
                routeConfig: '',
                httpFilters: [],
                tcpProxy: { clusters: c.tcp_proxy!.cluster !== undefined ? [c.tcp_proxy!.cluster] : (c.tcp_proxy!.weighted_clusters ?? []).map((w) => w.name) },
              }),
        })),
      })),
      routeConfigs: config.listeners.flatMap((l) =>
        l.filter_chains.flatMap((c) => (c.hcm ? [c.hcm] : [])).map((hcm) => ({
          name: hcm.route_config.name,
          virtualHosts: hcm.route_config.virtual_hosts.map((v) => ({
            name: v.name,
            domains: v.domains,
            routes: v.routes.map((r) => ({
              name: r.name,
              match: describeMatch(r.match),
              action: r.route ? (r.route.cluster ?? r.route.cluster_header ?? 'weighted_clusters') : r.redirect ? 'redirect' : 'direct_response',
            })),
          })),
        })),
      ),
      clusters: [...this.clusterManager.clusters.values()].map((c) => ({
        name: c.name,
        type: c.config.type,
        lbPolicy: c.config.lb_policy,
        // Before start (a recording's header) a STATIC cluster's hosts are its endpoints, as Host
        // keys name them; a DNS cluster has none until its names resolve.
        hosts:
          this.state !== 'PRE_INITIALIZING'
            ? c.hosts.map((h) => h.key)
            : c.config.type === 'STATIC'
              ? c.config.endpoints.map((ep) => hostKey(ep.address.address, ep.address.port_value))
              : [],
        ...clusterResilience(c),
      })),
      pools: this.workers.flatMap((w) => w.allPools().map((p) => ({ worker: w.id, cluster: p.cluster.name, host: p.host.key, actor: p.meta.actor }))),
    };
  }

  private setState(state: ServerState): void {
    this.state = state;
    this.stats.gauge('server.state').set(STATE_GAUGE[state]);
    this.stats.gauge('server.live').set(state === 'LIVE' ? 1 : 0);
  }
}

/** The limits and health settings a cluster's host and cluster panels explain (TopologyCluster). */
function clusterResilience(c: ClusterInfo): Partial<TopologyCluster> {
  const { config, resources } = c;
  const weights: Record<string, number> = {};
  const hostnames: Record<string, string> = {};
  if (c.hosts.length > 0) {
    for (const h of c.hosts) {
      weights[h.key] = h.weight;
      if (h.hostname) hostnames[h.key] = h.hostname;
    }
  } else if (config.type === 'STATIC') {
    for (const ep of config.endpoints) {
      const key = hostKey(ep.address.address, ep.address.port_value);
      weights[key] = ep.load_balancing_weight;
      if (ep.hostname) hostnames[key] = ep.hostname;
    }
  }
  const budget = resources.thresholds.retry_budget;
  const hc = config.health_checks?.[0];
  const od = config.outlier_detection;
  return {
    weights,
    ...(Object.keys(hostnames).length > 0 && { hostnames }),
    circuitBreakers: {
      maxConnections: resources.connections.max,
      maxPendingRequests: resources.pending.max,
      maxRequests: resources.requests.max,
      maxRetries: budget ? null : resources.retries.max,
      ...(budget && { retryBudget: { budgetPercent: budget.budget_percent, minRetryConcurrency: budget.min_retry_concurrency } }),
    },
    panicThreshold: c.hostSet.panicThreshold,
    ...(hc && {
      healthCheck: { path: hc.http_health_check.path, intervalMs: hc.interval, timeoutMs: hc.timeout, healthyThreshold: hc.healthy_threshold, unhealthyThreshold: hc.unhealthy_threshold },
    }),
    ...(od && {
      outlierDetection: {
        consecutive5xx: od.consecutive_5xx,
        consecutiveGatewayFailure: od.consecutive_gateway_failure,
        intervalMs: od.interval,
        baseEjectionMs: od.base_ejection_time,
        maxEjectionMs: od.max_ejection_time,
        maxEjectionPercent: od.max_ejection_percent,
      },
    }),
  };
}

function describeMatch(match: { prefix?: string; path?: string; safe_regex?: string; path_separated_prefix?: string }): string {
  if (match.prefix !== undefined) return `prefix ${match.prefix}`;
  if (match.path !== undefined) return `path ${match.path}`;
  if (match.safe_regex !== undefined) return `regex ${match.safe_regex}`;
  return `path_separated_prefix ${match.path_separated_prefix}`;
}
