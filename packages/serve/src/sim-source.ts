import type { Scenario, Simulation } from '@proxyscope/engine/sim';
import type {
  BreakpointsMessage,
  ControlAction,
  HelloMessage,
  HostFaultMessage,
  SendRequestLimits,
  SendRequestMessage,
  SimClock,
  SimClockMessage,
  Subscription,
} from '@proxyscope/protocol';
import { ControlError } from './control-error';
import type { LiveSource } from './live-source';
import type { StreamClient } from './stream-client';
import type { StreamSource } from './stream-source';
import type { Pacer } from './sim-pacer';
import { SimHosts } from './sim-hosts';
import type { RequestSender } from './request-sender';

/** Events a served simulation keeps for viewers that connect later: a whole demo run (about 65 000 events) fits. */
export const SIM_HISTORY = 100_000;
/** A viewer's queue takes the whole history at once, with room to spare, so a late joiner loses none of it. */
export const SIM_MAX_QUEUED_EVENTS = SIM_HISTORY + 50_000;

/**
 * The stream of a served simulation, in mode "simulation". Everything a viewer gets from
 * the engine (history, events, stats, topology, step mode) is the live source's, on the
 * same hub; this adds the scenario and the virtual clock to `hello`, `clock` messages,
 * the clock controls (`sim_clock`), host faults as timeline events and `send_request`
 * over the simulated network.
 */
export class SimulationSource implements StreamSource {
  readonly mode = 'simulation' as const;
  readonly hosts: SimHosts;
  private hostsJson: string;

  constructor(
    private readonly live: LiveSource,
    private readonly sim: Simulation,
    private readonly scenario: Scenario,
    private readonly pacer: Pacer,
    private readonly sender: RequestSender,
  ) {
    this.hosts = new SimHosts(sim, scenario);
    // A breakpoint's `when.host` may name a simulated host as the scenario does (web-2).
    live.setStepHostNames((key) => sim.hosts.find((h) => h.selectors.includes(key))?.selectors ?? []);
    this.hostsJson = JSON.stringify(this.hosts.info());
  }

  get batchMs(): number {
    return this.live.batchMs;
  }

  get sendRequestLimits(): SendRequestLimits {
    return this.sender.limits;
  }

  get clients(): ReadonlySet<StreamClient> {
    return this.live.clients;
  }

  hello(): ReturnType<StreamSource['hello']> {
    const base = this.live.hello();
    const controls = [...base.controls.filter((c) => c !== 'host_fault'), 'host_fault' as const, 'sim_clock' as const];
    const simulation: NonNullable<HelloMessage['simulation']> = {
      scenario: this.scenario.name,
      ...(this.scenario.description !== undefined && { description: this.scenario.description }),
      seed: this.sim.seed,
      durationMs: this.scenario.duration,
      graceMs: this.scenario.grace,
      clock: this.pacer.clock(),
    };
    return { ...base, controls, hosts: this.hosts.info(), simulation };
  }

  attach(client: StreamClient, history: boolean): void {
    this.live.attach(client, history);
  }

  detach(client: StreamClient): void {
    this.sender.abandon(client);
    this.live.detach(client);
  }

  resubscribe(client: StreamClient, subscription: Subscription | null, history: boolean): void {
    this.live.resubscribe(client, subscription, history);
  }

  lastSeq(): number {
    return this.live.lastSeq();
  }

  /** The admin controls, as the scenario's timeline would apply them: at the current virtual time. */
  control(action: ControlAction): Record<string, unknown> {
    if (action === 'drain_listeners') this.sim.applyNow({ label: 'ui', action: { kind: 'drain_listeners' } });
    else this.sim.applyNow({ label: 'ui', action: { kind: 'health_check', fail: action === 'healthcheck_fail' } });
    this.pacer.settle();
    return { action, state: this.sim.engine.state, t: this.pacer.clock().t };
  }

  sendRequest(client: StreamClient, message: SendRequestMessage): Record<string, unknown> {
    const ack = this.sender.send(message, client, (result) => client.send(result));
    return { ...ack, t: this.pacer.clock().t };
  }

  async hostFault(message: HostFaultMessage): Promise<Record<string, unknown>> {
    const host = this.hosts.find(message.host);
    if (!host) {
      throw new ControlError('invalid_message', `host_fault: host: no simulated host named '${message.host}' (hosts: ${this.hosts.names().join(', ')})`, 'host');
    }
    const set = this.hosts.behaviourFor(host, message.fault);
    this.sim.applyNow({ label: 'ui', action: { kind: 'host', select: { host: host.selectors[1] ?? host.name }, set } });
    this.pacer.settle();
    this.hostsChanged();
    return { host: this.hosts.info().find((h) => h.name === host.name), t: this.pacer.clock().t };
  }

  setBreakpoints(message: BreakpointsMessage): Record<string, unknown> {
    const detail = this.live.setBreakpoints(message);
    this.pacer.settle();
    return detail;
  }

  step(stream: number): Record<string, unknown> {
    const detail = this.live.step(stream);
    // What the step set going that takes no virtual time (posted work) happens now, as it would live.
    this.pacer.settle();
    return detail;
  }

  resume(stream: number | undefined): Record<string, unknown> {
    const detail = this.live.resume(stream);
    this.pacer.settle();
    return detail;
  }

  async simClock(message: SimClockMessage): Promise<Record<string, unknown>> {
    switch (message.action) {
      case 'pause':
        this.pacer.pause();
        break;
      case 'resume':
        this.pacer.resume();
        break;
      case 'speed':
        this.pacer.setSpeed(message.speed);
        break;
      case 'advance': {
        if (this.pacer.failed) throw new ControlError('control_failed', `sim_clock: the simulation stopped with an error: ${this.pacer.failed.message}`);
        const moved = await this.pacer.advance(message.ms);
        return { ...this.pacer.clock(), from: moved.from };
      }
    }
    return { ...this.pacer.clock() };
  }

  /** Every viewer gets the clock. */
  broadcastClock(clock: SimClock): void {
    const message = { type: 'clock' as const, ...clock };
    for (const client of this.live.clients) client.send(message);
  }

  /** Hosts may have changed (a fault, or the scenario's timeline): viewers get them when they did. */
  hostsChanged(): void {
    const hosts = this.hosts.info();
    const json = JSON.stringify(hosts);
    if (json === this.hostsJson) return;
    this.hostsJson = json;
    for (const client of this.live.clients) client.send({ type: 'hosts', hosts });
  }

  close(): void {
    this.sender.close();
  }
}
