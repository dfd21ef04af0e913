import type { MachineInterpreter } from '../seams/actors';
import type { TraceSink } from '../seams/tracer';
import type { StreamInfo } from '../http/stream-info';
import type { Bootstrap, Cluster } from '../config/types';
import { ProxyEngine } from '../engine';
import { ipVersion, MemoryResolver } from '../seams/resolver';
import { seededRandom } from '../seams/random';
import { hostKey } from '../upstream/host';
import { SimClock } from './sim-clock';
import { SimNetwork } from './sim-network';
import { SimHost } from './upstream-host';
import { SIM_REQUEST_HEADER, TrafficGenerator, type RunContext } from './traffic';
import { Ledger } from './ledger';
import { streamSeed } from './distributions';
import { evaluateExpectations, type ExpectationResult } from './expectations';
import { buildSummary, type SimulationSummary } from './summary';
import type { HostBehaviour, HostSelector, Scenario, TimelineEvent } from './scenario-types';

/**
 * One simulated run: the real engine (the same ProxyEngine, machines and code path as
 * live mode) on a SimClock and a SimNetwork, with simulated upstream hosts, traffic and a
 * timeline from a scenario. Nothing in it reads the wall clock or the platform's
 * randomness: the same config, scenario and seed give the same trace and summary.
 */

export interface SimulationOptions {
  config: Bootstrap;
  scenario: Scenario;
  /** overrides the scenario's seed (default 1) */
  seed?: number;
  /** every trace event; absent: tracing off */
  sink?: TraceSink;
  /** access-log lines of the config's access loggers */
  accessLog?: (line: string, path: string | undefined) => void;
  /** the date virtual time 0 stands for (default 2026-01-01T00:00:00Z) */
  epochMs?: number;
  /** logical workers (default 1) */
  concurrency?: number;
  /** every finished stream's StreamInfo, besides the run's own ledger (tests compare it with a live run's) */
  onStreamComplete?: (info: StreamInfo) => void;
  /** which interpreter runs the machines (EngineOptions.interpreter; default 'compiled') */
  interpreter?: MachineInterpreter;
}

/** A host ejected by outlier detection or failing its active health check, and when. */
export interface HostFailure {
  host: string;
  cluster: string;
  at: number;
  reason: 'outlier' | 'health';
}

/** The listener address every simulated STRICT_DNS / LOGICAL_DNS name gets, in config order. */
function simulatedAddress(n: number): string {
  return `10.2.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
}

export class Simulation {
  readonly clock: SimClock;
  readonly network: SimNetwork;
  readonly engine: ProxyEngine;
  readonly seed: number;
  readonly hosts: SimHost[] = [];
  readonly ledger: Ledger;
  readonly failures: HostFailure[] = [];
  private readonly generators = new Map<string, TrafficGenerator>();
  /** `address:port` the engine connects to -> the host's display name */
  private readonly names = new Map<string, string>();
  private nextId = 0;
  private outstanding = 0;
  private started = false;
  /** every traffic source has stopped sending */
  private trafficDone = false;

  constructor(readonly options: SimulationOptions) {
    const { scenario, config } = options;
    this.seed = options.seed ?? scenario.seed ?? 1;
    this.clock = new SimClock(options.epochMs ?? Date.UTC(2026, 0, 1));
    this.network = new SimNetwork(this.clock, scenario.networkLatency);
    const resolver = new MemoryResolver({ clock: this.clock });
    this.buildHosts(config.static_resources.clusters, resolver);
    this.ledger = new Ledger(scenario.expect, (key) => this.names.get(key) ?? key, scenario.series);
    this.engine = new ProxyEngine({
      config,
      transport: this.network,
      resolver,
      clock: this.clock,
      seed: this.seed,
      concurrency: options.concurrency ?? 1,
      ...(options.interpreter && { interpreter: options.interpreter }),
      ...(options.accessLog && { accessLog: options.accessLog }),
      onStreamComplete: (info) => {
        const id = info.request?.headers.get(SIM_REQUEST_HEADER);
        this.ledger.onStream(info, id === undefined ? undefined : Number(id));
        options.onStreamComplete?.(info);
      },
    });
    if (options.sink) this.engine.tracer.attach(options.sink);
  }

  /**
   * Start the engine on virtual time (cluster warm-up, first health-check rounds,
   * listeners), then the traffic and the timeline. Startup is the only part that awaits:
   * the engine's start() is a promise; the loop below fires virtual time until it settles.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.clock.settle(this.engine.start(), 'the simulated engine to start');
    this.watchFailures();
    this.startTraffic();
    this.scheduleTimeline(this.options.scenario.timeline);
  }

  /** Virtual ms since the run started. */
  now(): number {
    return this.clock.now();
  }

  /** The run's traffic is over and every request has its answer, or the grace time is up. */
  get finished(): boolean {
    const { duration, grace } = this.options.scenario;
    const now = this.clock.now();
    if (now >= duration + grace) return true;
    return now >= duration && this.trafficDone && this.outstanding === 0;
  }

  /** Run virtual time up to `time` (or the end of the run, if sooner). Synchronous. */
  runUntil(time: number): void {
    const { duration, grace } = this.options.scenario;
    const end = Math.min(time, duration + grace);
    while (!this.finished && this.clock.fireNext(end)) {
      // one event at a time, so the end of the run is noticed at once
    }
    if (!this.finished && this.clock.now() < end) this.clock.runUntil(end);
  }

  /** Run to the end and summarise. */
  async run(): Promise<SimulationSummary> {
    await this.start();
    this.runUntil(Infinity);
    return this.summary();
  }

  summary(): SimulationSummary {
    this.ledger.flush();
    const expectations: ExpectationResult[] = evaluateExpectations(this.options.scenario.expect, this.ledger, this.engine.stats, this.failures);
    return buildSummary(this, expectations);
  }

  /** A fault set from outside (the UI's host controls): a timeline event at the current virtual time. */
  applyNow(event: Omit<TimelineEvent, 'at'>): void {
    this.apply({ ...event, at: this.clock.now() });
  }

  hostName(key: string): string {
    return this.names.get(key) ?? key;
  }

  // -------------------------------------------------------------------------------------

  private buildHosts(clusters: readonly Cluster[], resolver: MemoryResolver): void {
    const { scenario } = this.options;
    const byKey = new Map<string, SimHost>();
    const dnsNames = new Map<string, string[]>();
    for (const entry of scenario.dns) {
      if (entry.fail) resolver.fail(entry.name, entry.fail);
      else dnsNames.set(entry.name.toLowerCase(), entry.addresses ?? []);
    }
    for (const cluster of clusters) {
      for (const endpoint of cluster.endpoints) {
        const { address, port_value: port } = endpoint.address;
        let addresses: string[];
        if (ipVersion(address)) {
          addresses = [address];
        } else {
          const lower = address.toLowerCase();
          let known = dnsNames.get(lower);
          if (!known && !scenario.dns.some((d) => d.name.toLowerCase() === lower)) {
            known = [simulatedAddress(dnsNames.size)];
            dnsNames.set(lower, known);
          }
          addresses = known ?? [];
          resolver.answer(address, addresses);
        }
        for (const ip of addresses) {
          const key = hostKey(ip, port);
          const display = endpoint.hostname ?? (ipVersion(address) ? key : addresses.length > 1 ? `${address}/${ip}:${port}` : `${address}:${port}`);
          let host = byKey.get(key);
          if (!host) {
            const behaviour = behaviourFor(scenario, cluster.name, [display, key, address, endpoint.hostname]);
            host = new SimHost(display, behaviour, this.clock, seededRandom(streamSeed(this.seed, `host:${key}`)));
            host.selectors = [display, key, address, ...(endpoint.hostname ? [endpoint.hostname] : [])];
            host.clusters.push(cluster.name);
            byKey.set(key, host);
            this.hosts.push(host);
            this.network.attach(ip, port, host);
            this.names.set(key, display);
          } else if (!host.clusters.includes(cluster.name)) {
            host.clusters.push(cluster.name);
          }
        }
      }
    }
  }

  private watchFailures(): void {
    const manager = this.engine.clusterManager;
    const before = manager.onHostHealthFailure;
    manager.onHostHealthFailure = (host) => {
      before(host);
      const at = this.clock.now();
      const name = this.hostName(host.key);
      if (host.ejected && !this.failures.some((f) => f.host === name && f.reason === 'outlier' && f.at === at)) {
        this.failures.push({ host: name, cluster: host.cluster, at, reason: 'outlier' });
      }
      if (host.failedActiveHealthCheck && !this.failures.some((f) => f.host === name && f.reason === 'health' && f.at === at)) {
        this.failures.push({ host: name, cluster: host.cluster, at, reason: 'health' });
      }
    };
  }

  private startTraffic(): void {
    const { scenario } = this.options;
    const bound = this.engine.listeners;
    const run: RunContext = {
      clock: this.clock,
      network: this.network,
      nextRequestId: () => {
        this.outstanding++;
        this.ledger.onSent(this.clock.now());
        return ++this.nextId;
      },
      done: (result) => {
        this.outstanding--;
        this.ledger.onClient(result);
      },
    };
    scenario.traffic.forEach((source, index) => {
      // By name, or by address for the unnamed listeners of many real configs (their names are generated).
      const named = (l: (typeof bound)[number]) =>
        l.config.name === source.listener || l.boundAddress === source.listener || `${l.config.address.address}:${l.config.address.port_value}` === source.listener;
      const listener = source.listener ? bound.find(named) : bound.find((l) => l.config.filter_chains.some((c) => c.hcm));
      if (!listener) throw new Error(`traffic ${source.name}: no listener ${source.listener ? `named ${source.listener}` : 'with an HTTP connection manager'}`);
      const [address, port] = splitAddress(listener.boundAddress ?? `${listener.config.address.address}:${listener.config.address.port_value}`);
      const generator = new TrafficGenerator(source, { address, port }, run, seededRandom(streamSeed(this.seed, `traffic:${source.name}`)), index);
      this.generators.set(source.name, generator);
      generator.start();
    });
    const lastStop = Math.max(0, ...scenario.traffic.map((s) => s.stop));
    this.clock.setTimeout(() => void (this.trafficDone = true), Math.max(0, lastStop - this.clock.now()));
  }

  private scheduleTimeline(events: readonly TimelineEvent[]): void {
    for (const event of events) this.clock.setTimeout(() => this.apply(event), Math.max(0, event.at - this.clock.now()));
  }

  private apply(event: TimelineEvent): void {
    const action = event.action;
    switch (action.kind) {
      case 'host':
        for (const host of this.hosts) if (selects(action.select, host)) host.update(action.set);
        return;
      case 'traffic': {
        const generator = this.generators.get(action.source);
        if (!generator) return;
        if (action.stop) generator.stop();
        if (action.rate !== undefined) generator.setRate(action.rate);
        if (action.clients !== undefined) generator.setClients(action.clients);
        return;
      }
      case 'health_check':
        this.engine.setHealthCheckFailed(action.fail);
        return;
      case 'drain_listeners':
        this.engine.drainListeners();
        return;
    }
  }
}

function selects(select: HostSelector, host: SimHost): boolean {
  if (select.cluster !== undefined && !host.clusters.includes(select.cluster)) return false;
  if (select.host !== undefined && !host.selectors.includes(select.host)) return false;
  return true;
}

function behaviourFor(scenario: Scenario, cluster: string, names: Array<string | undefined>): HostBehaviour {
  let behaviour: HostBehaviour = { ...scenario.defaults };
  for (const entry of scenario.hosts) {
    if (entry.select.cluster !== undefined && entry.select.cluster !== cluster) continue;
    if (entry.select.host !== undefined && !names.includes(entry.select.host)) continue;
    behaviour = { ...behaviour, ...entry.behaviour };
  }
  return behaviour;
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}
