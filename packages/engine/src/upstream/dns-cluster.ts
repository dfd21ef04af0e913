import type { Actor } from 'xstate';
import { dnsSettings, type DnsSettings } from '../config/dns';
import type { Endpoint } from '../config/types';
import { JitteredExponentialBackOff } from '../router/retry-policy';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import { post } from '../seams/clock';
import type { Random } from '../seams/random';
import type { DnsError, DnsResponse, Resolver } from '../seams/resolver';
import type { ActorMeta } from '../seams/tracer';
import type { ClusterInfo } from './cluster-manager';
import { dnsResolutionMachine, type BackOffStrategy, type DnsResolutionOwner } from './dns-resolution.machine';
import { Host, hostKey } from './host';

/** FixedBackOffStrategy: without dns_failure_refresh_rate a failure is retried at dns_refresh_rate. */
class FixedBackOff implements BackOffStrategy {
  constructor(private readonly ms: number) {}
  nextBackOffMs(): number {
    return this.ms;
  }
  reset(): void {}
}

export interface DnsClusterDeps {
  engine: EngineContext;
  resolver: Resolver;
  random: Random;
}

/**
 * DnsClusterImpl (StrictDnsClusterImpl / LogicalDnsCluster): a cluster whose hosts are
 * what its names resolve to, now. Each lb_endpoint's name is a ResolveTarget with its own
 * dns_resolution machine; the cluster's hosts are every target's hosts together. A
 * STRICT_DNS target makes a host of every address; a LOGICAL_DNS cluster has one target
 * and one host, at the first address, replaced when that address changes (as Envoy's
 * DnsClusterImpl replaces its logical host).
 *
 * Host changes go through `ClusterInfo.updateHosts`, so the cluster manager can start and
 * stop health checking for them and the workers can drain the pools of removed hosts.
 */
export class DnsCluster {
  readonly settings: DnsSettings;
  readonly targets: DnsResolveTarget[] = [];
  /** onPreInitComplete: the first answer or failure of any target (Envoy does not wait for all) */
  readonly initialized: Promise<void>;
  private completeInit!: () => void;
  readonly failureBackOff: BackOffStrategy;

  constructor(
    readonly info: ClusterInfo,
    readonly deps: DnsClusterDeps,
  ) {
    this.settings = dnsSettings(info.config);
    const { dns_failure_refresh_rate: failure, dns_refresh_rate } = this.settings;
    this.failureBackOff = failure ? new JitteredExponentialBackOff(failure.base_interval, failure.max_interval, deps.random) : new FixedBackOff(dns_refresh_rate);
    this.initialized = new Promise((resolve) => (this.completeInit = resolve));
    const paths = new Set<string>();
    info.config.endpoints.forEach((endpoint, i) => {
      let path = `cluster:${info.name}/dns:${endpoint.address.address}:${endpoint.address.port_value}`;
      if (paths.has(path)) path += `#${i}`;
      paths.add(path);
      this.targets.push(new DnsResolveTarget(this, endpoint, path));
    });
  }

  get logical(): boolean {
    return this.info.config.type === 'LOGICAL_DNS';
  }

  /** DnsClusterImpl::startPreInit: every target resolves now; no endpoints means nothing to wait for. */
  start(): void {
    for (const target of this.targets) target.start();
    if (this.targets.length === 0) this.completeInit();
  }

  stop(): void {
    for (const target of this.targets) target.stop();
    this.completeInit();
  }

  onTargetComplete(): void {
    this.completeInit();
  }

  /** For the startup log: why the cluster has no hosts, when it has none (a docker service name, say). */
  noHostsReason(): string | undefined {
    if (this.info.hosts.length > 0) return undefined;
    const names = this.targets.map((t) => `${t.dnsAddress}:${t.port} (${t.lastOutcome ?? 'no answer yet'})`);
    const rate = this.settings.dns_refresh_rate / 1000;
    return `cluster '${this.info.name}' (${this.info.config.type}) has no hosts: ${names.join(', ')}; requests routed to it get 503 UH until a name resolves (asked again every ${rate}s)`;
  }

  /** DnsClusterImpl::updateAllHosts: the cluster's hosts are every target's, in target order. */
  updateAllHosts(target: DnsResolveTarget, added: Host[], removed: Host[]): void {
    const hosts = this.targets.flatMap((t) => t.hosts);
    const { tracer } = this.deps.engine;
    if (tracer.enabled) {
      tracer.fact(
        target.meta,
        'cluster.hosts_changed',
        { cluster: this.info.name, hostname: target.dnsAddress, added: added.map((h) => h.key), removed: removed.map((h) => h.key), hosts: hosts.map((h) => h.key) },
        'DnsClusterImpl::updateAllHosts',
      );
    }
    this.info.updateHosts(hosts, added, removed);
  }
}

/** DnsClusterImpl::ResolveTarget: one name (and port) of the cluster and the hosts it resolved to. */
export class DnsResolveTarget implements DnsResolutionOwner {
  hosts: Host[] = [];
  readonly meta: ActorMeta;
  readonly dnsAddress: string;
  readonly port: number;
  /** the hosts' hostname: the endpoint's `hostname`, else the name resolved */
  readonly hostname: string;
  /** what the last answer was, in words, for the startup log */
  lastOutcome: string | undefined;
  private actor: Actor<typeof dnsResolutionMachine> | undefined;

  constructor(
    private readonly cluster: DnsCluster,
    private readonly endpoint: Endpoint,
    path: string,
  ) {
    this.dnsAddress = endpoint.address.address;
    this.port = endpoint.address.port_value;
    this.hostname = endpoint.hostname ?? this.dnsAddress;
    this.meta = { actor: path, machine: 'dns_resolution', ids: { cluster: cluster.info.name }, envoy: {} };
  }

  start(): void {
    const { info, deps, settings, failureBackOff } = this.cluster;
    const { stats } = info;
    this.actor = startTraced(deps.engine, dnsResolutionMachine, {
      input: {
        resolver: deps.resolver,
        dnsAddress: this.dnsAddress,
        family: settings.dns_lookup_family,
        refreshRate: settings.dns_refresh_rate,
        respectDnsTtl: settings.respect_dns_ttl,
        logical: this.cluster.logical,
        failureBackOff,
        stats: { update_attempt: stats.update_attempt, update_success: stats.update_success, update_failure: stats.update_failure },
        owner: this,
      },
      path: this.meta.actor,
      kind: 'dns_resolution',
      ids: this.meta.ids,
    });
  }

  stop(): void {
    if (this.actor) stopTraced(this.cluster.deps.engine, this.actor);
    this.actor = undefined;
  }

  onResolved(responses: DnsResponse[], refreshMs: number): void {
    if (!this.actor) return; // stopped while the answer was on its way
    const { info, deps } = this.cluster;
    const { tracer } = deps.engine;
    if (tracer.enabled) {
      const ttl = responses.length > 0 ? Math.min(...responses.map((r) => r.ttl)) : null;
      tracer.fact(
        this.meta,
        'dns.resolved',
        { cluster: info.name, hostname: this.dnsAddress, addresses: responses.map((r) => r.address), ttl, refreshMs },
        'DnsClusterImpl::ResolveTarget::onResolutionComplete',
      );
    }
    this.lastOutcome = responses.length === 0 ? 'no such name, or no address of that family' : `${responses.length} address${responses.length > 1 ? 'es' : ''}`;
    const change = this.cluster.logical ? this.logicalHosts(responses) : this.strictHosts(responses);
    if (change) {
      this.hosts = change.hosts;
      this.cluster.updateAllHosts(this, change.added, change.removed);
    } else {
      info.stats.update_no_rebuild.inc();
    }
    this.cluster.onTargetComplete();
  }

  post(fn: () => void): void {
    post(this.cluster.deps.engine.clock, fn);
  }

  onFailed(error: DnsError, refreshMs: number): void {
    if (!this.actor) return;
    const { info, deps } = this.cluster;
    this.lastOutcome = `${error.code}: ${error.message}`;
    deps.engine.tracer.fact(
      this.meta,
      'dns.failed',
      { cluster: info.name, hostname: this.dnsAddress, code: error.code, message: error.message, refreshMs, hostsKept: this.hosts.map((h) => h.key) },
      'DnsClusterImpl::ResolveTarget::onResolutionComplete',
    );
    this.cluster.onTargetComplete();
  }

  /**
   * ResolveTarget::updateStrictDnsHosts (updateDynamicHostList): a host per distinct
   * address, in answer order; an address already known keeps its host (its pools, health
   * and stats), the others come and go. Undefined when nothing changed.
   */
  private strictHosts(responses: DnsResponse[]): { hosts: Host[]; added: Host[]; removed: Host[] } | undefined {
    const current = new Map(this.hosts.map((h) => [h.key, h]));
    const hosts: Host[] = [];
    const added: Host[] = [];
    const seen = new Set<string>();
    for (const { address } of responses) {
      const key = hostKey(address, this.port);
      if (seen.has(key)) continue;
      seen.add(key);
      const existing = current.get(key);
      if (existing) hosts.push(existing);
      else {
        const host = this.newHost(address);
        hosts.push(host);
        added.push(host);
      }
    }
    const removed = this.hosts.filter((h) => !seen.has(h.key));
    if (added.length === 0 && removed.length === 0) return undefined;
    return { hosts, added, removed };
  }

  /** ResolveTarget::updateLogicalDnsHosts: one host at the first address, replaced when it changes. */
  private logicalHosts(responses: DnsResponse[]): { hosts: Host[]; added: Host[]; removed: Host[] } | undefined {
    const first = responses[0]!.address;
    if (this.hosts[0]?.address === first) return undefined;
    const host = this.newHost(first);
    return { hosts: [host], added: [host], removed: this.hosts };
  }

  private newHost(address: string): Host {
    return new Host(this.cluster.info.name, address, this.port, this.endpoint.load_balancing_weight, this.hostname);
  }
}
