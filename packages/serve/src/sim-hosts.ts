import type { Distribution, HostBehaviour, Scenario, SimHost, Simulation } from '@proxyscope/engine/sim';
import type { DemoHostInfo, HostFault } from '@proxyscope/protocol';

/**
 * The UI's host controls on a simulation's hosts. A `host_fault` becomes a scenario
 * timeline event at the current virtual time (`Simulation.applyNow`), with the live
 * fault kinds mapped to HostBehaviour fields; `clear` goes back to what the scenario
 * says the host does at this virtual time (its behaviour at the start, with the
 * scenario's own timeline events so far). Hosts are described in the live demo's
 * `DemoHostInfo` shape, so the UI shows and controls them the same way.
 */

export class SimHosts {
  /** each host's behaviour before the run started */
  private readonly initial = new Map<SimHost, HostBehaviour>();

  constructor(
    private readonly sim: Simulation,
    private readonly scenario: Scenario,
  ) {
    for (const host of sim.hosts) this.initial.set(host, { ...host.behaviour });
  }

  find(name: string): SimHost | undefined {
    return this.sim.hosts.find((h) => h.name === name) ?? this.sim.hosts.find((h) => h.selectors.includes(name));
  }

  names(): string[] {
    return this.sim.hosts.map((h) => h.name);
  }

  /** What `fault` sets on `host`: the HostBehaviour fields of a timeline event. */
  behaviourFor(host: SimHost, fault: HostFault): HostBehaviour {
    if ('fail' in fault) return { errors: [{ status: fault.fail.status, rate: fault.fail.rate }] };
    if ('latency' in fault) return { serviceTime: { kind: 'constant', value: fault.latency.ms } };
    if ('reset' in fault) return { resets: [{ rate: 1, after: 'headers' }] };
    if ('down' in fault) return { down: true };
    if ('up' in fault) return { down: false };
    // clear: every field the host has now, set to what the scenario says; unset ones cleared.
    const scenario = this.scenarioBehaviour(host);
    const set: HostBehaviour = {};
    for (const key of new Set([...Object.keys(host.behaviour), ...Object.keys(scenario)]) as Set<keyof HostBehaviour>) {
      (set as Record<string, unknown>)[key] = scenario[key];
    }
    return set;
  }

  /** The scenario's behaviour for `host` at the current virtual time, without the UI's faults. */
  scenarioBehaviour(host: SimHost): HostBehaviour {
    let behaviour: HostBehaviour = { ...this.initial.get(host) };
    const now = this.sim.now();
    for (const event of this.scenario.timeline) {
      if (event.at > now || event.action.kind !== 'host') continue;
      const { select, set } = event.action;
      if (select.cluster !== undefined && !host.clusters.includes(select.cluster)) continue;
      if (select.host !== undefined && !host.selectors.includes(select.host)) continue;
      behaviour = { ...behaviour, ...set };
    }
    return behaviour;
  }

  info(): DemoHostInfo[] {
    return this.sim.hosts.map((host) => {
      const key = host.selectors[1] ?? host.name;
      const port = Number(key.slice(key.lastIndexOf(':') + 1));
      return {
        name: host.name,
        service: host.clusters[0] ?? '',
        port: Number.isInteger(port) ? port : 0,
        address: key,
        behaviour: summarise(host.behaviour),
        faulted: !sameBehaviour(host.behaviour, this.scenarioBehaviour(host)),
      };
    });
  }
}

/** A HostBehaviour in the live demo's terms: typical latency, error share and status, resets, down. */
function summarise(b: HostBehaviour): DemoHostInfo['behaviour'] {
  const errors = b.errors ?? [];
  const errorRate = 1 - errors.reduce((p, e) => p * (1 - e.rate), 1);
  return {
    latencyMs: Math.round(median(b.serviceTime) * 1000) / 1000,
    errorRate: Math.round(errorRate * 10_000) / 10_000,
    errorStatus: errors.find((e) => e.rate > 0)?.status ?? errors[0]?.status ?? 503,
    reset: (b.resets ?? []).some((r) => r.rate > 0),
    down: b.down === true || b.refuse === true,
  };
}

function median(d: Distribution | undefined): number {
  if (!d) return 0;
  switch (d.kind) {
    case 'constant':
      return d.value;
    case 'uniform':
      return (d.min + d.max) / 2;
    case 'exponential':
      return d.mean * Math.LN2;
    case 'lognormal':
      return d.p50;
    case 'histogram': {
      const total = d.buckets.reduce((n, b) => n + b.weight, 0);
      let seen = 0;
      let lower = 0;
      for (const bucket of d.buckets) {
        if (bucket.weight > 0 && seen + bucket.weight >= total / 2) return lower + ((total / 2 - seen) / bucket.weight) * (bucket.upTo - lower);
        seen += bucket.weight;
        lower = bucket.upTo;
      }
      return lower;
    }
  }
}

/** Same behaviour, treating an unset field like one set to nothing (false, no entries). */
function sameBehaviour(a: HostBehaviour, b: HostBehaviour): boolean {
  const norm = (x: HostBehaviour) => canonical({ ...x, down: x.down === true, refuse: x.refuse === true, errors: x.errors ?? [], resets: x.resets ?? [] });
  return norm(a) === norm(b);
}

/** JSON with object keys sorted and undefined fields left out, at every depth. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
