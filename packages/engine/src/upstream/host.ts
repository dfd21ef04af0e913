import type { Actor } from 'xstate';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import type { ActorMeta } from '../seams/tracer';
import { failedActiveHc, hostHealthMachine, isEjected, type HostHealthEvent, type HostHealthInput, type HostHealthState } from './host-health.machine';

/** Per-host counters and gauges, shown by `/clusters` (not by `/stats`, as in Envoy). */
export interface HostStats {
  cx_active: number;
  cx_connect_fail: number;
  cx_total: number;
  rq_active: number;
  rq_error: number;
  rq_success: number;
  rq_timeout: number;
  rq_total: number;
}

/** `/clusters` health_flags for each host-health state. */
const HEALTH_FLAGS: Record<HostHealthState, string> = {
  pending: '/failed_active_hc/pending_active_hc',
  healthy: 'healthy',
  unhealthy: '/failed_active_hc',
  ejected: '/failed_outlier_check',
  unhealthy_ejected: '/failed_active_hc/failed_outlier_check',
};

/** Consecutive-error bookkeeping of the outlier detector (Envoy's DetectorHostMonitorImpl). */
export interface OutlierMonitor {
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  numEjections: number;
  /** the ejection-time multiplier: grows with each ejection, decays by one per healthy interval */
  ejectTimeBackoff: number;
  lastEjectionTime: number | undefined;
  lastUnejectionTime: number | undefined;
}

/** Upstream::HostImpl: one endpoint of a cluster. */
export class Host {
  /** `ip:port`, Envoy's host address form */
  readonly key: string;
  readonly stats: HostStats = {
    cx_active: 0,
    cx_connect_fail: 0,
    cx_total: 0,
    rq_active: 0,
    rq_error: 0,
    rq_success: 0,
    rq_timeout: 0,
    rq_total: 0,
  };
  /**
   * Whether load balancers may pick this host (outside panic mode): the host-health
   * machine is in `healthy`. Always true for a cluster that checks no health.
   */
  healthy = true;
  /** the host-health state; `healthy` when no machine runs */
  healthState: HostHealthState = 'healthy';
  /** the host-health actor, when the cluster has health checks or outlier detection */
  health: Actor<typeof hostHealthMachine> | undefined;
  /** where host-health facts are reported (`cluster:<name>/host:<ip:port>`) */
  readonly healthMeta: ActorMeta;
  /** set by the outlier detector of the host's cluster */
  outlier: OutlierMonitor | undefined;

  constructor(
    readonly cluster: string,
    readonly address: string,
    readonly port: number,
    readonly weight: number,
    readonly hostname: string | undefined,
  ) {
    this.key = hostKey(address, port);
    this.healthMeta = { actor: `cluster:${cluster}/host:${this.key}`, machine: 'host_health', ids: { cluster, host: this.key }, envoy: {} };
  }

  /** `/clusters` health_flags: `healthy`, or flags such as `/failed_active_hc/failed_outlier_check`. */
  get healthFlags(): string {
    return HEALTH_FLAGS[this.healthState];
  }

  /** the host failed active health checking (pending counts: it has not passed yet) */
  get failedActiveHealthCheck(): boolean {
    return failedActiveHc(this.healthState);
  }

  get ejected(): boolean {
    return isEjected(this.healthState);
  }

  /**
   * Start the host-health machine; `onChange` runs after every change of state, once
   * `healthy` and `healthState` already say the new one.
   */
  startHealth(engine: EngineContext, input: HostHealthInput, onChange: (host: Host, from: HostHealthState) => void): void {
    const actor = startTraced(engine, hostHealthMachine, { input, path: this.healthMeta.actor, kind: 'host_health', ids: this.healthMeta.ids });
    this.health = actor;
    this.applyHealth(actor.getSnapshot().value as HostHealthState);
    actor.subscribe((snapshot) => {
      const state = snapshot.value as HostHealthState;
      if (state === this.healthState) return;
      const from = this.healthState;
      this.applyHealth(state);
      onChange(this, from);
    });
  }

  /** Report a health event to the machine (nothing happens without one). */
  sendHealth(event: HostHealthEvent): void {
    this.health?.send(event);
  }

  stopHealth(engine: EngineContext): void {
    if (this.health) stopTraced(engine, this.health);
  }

  private applyHealth(state: HostHealthState): void {
    this.healthState = state;
    this.healthy = state === 'healthy';
  }
}

/** How a host is named in stats, traces and /clusters: `ip:port`, IPv6 in brackets. */
export function hostKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
