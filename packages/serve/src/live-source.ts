import { ENGINE_VERSION, StepError, type ProxyEngine } from '@proxyscope/engine';
import {
  CONTROL_ACTIONS,
  type ControlAction,
  type ControlName,
  type BreakpointsMessage,
  type HostFaultMessage,
  type StepAckDetail,
  type StepStateMessage,
  type SendRequestLimits,
  type SendRequestMessage,
  type StatsMessage,
  type Subscription,
  type TraceEvent,
} from '@proxyscope/protocol';
import type { ControlledHost } from './stream-source';
import { ControlError } from './control-error';
import type { EventHub } from './event-hub';
import { RequestSender, unsupportedSendTransport, type SendTransport, type SenderLimits } from './request-sender';
import type { StreamClient } from './stream-client';
import type { StreamSource } from './stream-source';
import { nextTurn, unref } from './next-turn';

/** Events a `step` ack carries: a step makes one state change, so this bounds only a pathological one. */
const MAX_STEP_EVENTS = 64;

/** The counters and gauges a `stats` message carries (Envoy names); everything else is in /stats. */
const KEY_STATS =
  /^(server\.(state|live)|http\.[^.]+\.(downstream_cx_active|downstream_rq_total|downstream_rq_active|downstream_rq_[2-5]xx)|cluster\.[^.]+\.(upstream_cx_active|upstream_cx_overflow|upstream_rq_total|upstream_rq_active|upstream_rq_pending_active|upstream_rq_pending_overflow|upstream_rq_retry|upstream_rq_[2-5]xx|membership_healthy|membership_total|outlier_detection\.ejections_active))$/;

export interface LiveSourceOptions {
  /** how often clients get `stats` (and a changed topology) */
  statsIntervalMs?: number;
  /** the recording's state, for `stats` */
  recording?: () => NonNullable<StatsMessage['recording']>;
  /** the built-in demo's upstream hosts, for `host_fault` (absent with --config) */
  demoHosts?: readonly ControlledHost[];
  /** what carries `send_request` to the proxy (absent: it is refused) */
  sendTransport?: SendTransport;
  /** bounds the `send_request` sender enforces (defaults: SEND_REQUEST_LIMITS) */
  sendRequest?: SenderLimits;
  /** seconds the server has been up, for `stats` (default: wall clock since the engine started; a simulation counts virtual time) */
  uptimeS?: () => number;
}

/**
 * The live stream: every hub batch goes to every client (each selects and queues by its
 * own subscription); each client holds the hub while connected, so the engine traces
 * only while someone watches (or records, or tracing is "always"). Once a second every
 * client gets `stats`, and `topology` when the proxy's shape changed.
 */
export class LiveSource implements StreamSource {
  readonly mode = 'live' as const;
  readonly clients = new Set<StreamClient>();
  private readonly releases = new Map<StreamClient, () => void>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private topologyJson: string;
  private lastTick = { at: Date.now(), received: 0, eventsPerSec: 0 };
  private readonly keyStat = new Map<string, boolean>();
  private readonly removeConsumer: () => void;
  private readonly sender: RequestSender;
  private readonly demoHosts: readonly ControlledHost[] | undefined;
  private readonly removeHostListeners: Array<() => void> = [];
  private readonly removeStepListener: () => void;
  private stepStateQueued = false;

  constructor(
    readonly hub: EventHub,
    private readonly engine: ProxyEngine,
    private readonly options: LiveSourceOptions = {},
  ) {
    this.topologyJson = JSON.stringify(engine.topology());
    this.removeConsumer = hub.addConsumer(this.onEvents);
    this.sender = new RequestSender(engine, hub, options.sendRequest, options.sendTransport ?? unsupportedSendTransport);
    this.demoHosts = options.demoHosts && options.demoHosts.length > 0 ? options.demoHosts : undefined;
    for (const host of this.demoHosts ?? []) this.removeHostListeners.push(host.onChange(this.onHostChange));
    this.removeStepListener = engine.stepper.onChange(this.onStepChange);
    // A breakpoint's `when.host` may name a demo host as the fault controls do (web-2).
    const demoHosts = this.demoHosts;
    if (demoHosts) engine.stepper.setHostNames((key) => demoHosts.filter((h) => h.address === key).map((h) => h.name));
  }

  /** Other names of upstream hosts for breakpoint conditions (a simulation's host names). */
  setStepHostNames(names: (hostKey: string) => readonly string[]): void {
    this.engine.stepper.setHostNames(names);
  }

  get batchMs(): number {
    return this.hub.batchMs;
  }

  get sendRequestLimits(): SendRequestLimits {
    return this.sender.limits;
  }

  hello() {
    const topology = this.engine.topology();
    this.topologyJson = JSON.stringify(topology);
    const snapshot = this.hub.snapshotInfo();
    const controls: ControlName[] = [...CONTROL_ACTIONS, 'send_request', 'breakpoints', 'step', 'resume'];
    if (this.demoHosts) controls.push('host_fault');
    return {
      engineVersion: ENGINE_VERSION,
      startedAt: new Date(this.engine.startedAt).toISOString(),
      topology,
      history: this.hub.historyRange(),
      ...(snapshot ? { snapshot } : {}),
      controls,
      ...(this.demoHosts ? { hosts: this.demoHosts.map((h) => h.info()) } : {}),
      step: this.stepState(),
    };
  }

  attach(client: StreamClient, history: boolean): void {
    this.clients.add(client);
    this.releases.set(client, this.hub.retain());
    if (history) this.sendHistory(client);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.options.statsIntervalMs ?? 1000);
      unref(this.timer);
    }
  }

  detach(client: StreamClient): void {
    this.sender.abandon(client);
    this.clients.delete(client);
    // Nobody is left to step or resume: held requests go on and breakpoints are cleared,
    // so a closed tab does not leave the proxy holding every request.
    if (this.clients.size === 0) this.engine.stepper.clear();
    this.releases.get(client)?.();
    this.releases.delete(client);
    if (this.clients.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  resubscribe(client: StreamClient, _subscription: Subscription | null, history: boolean): void {
    if (history) this.sendHistory(client);
  }

  lastSeq(): number {
    return this.hub.lastFlushedSeq;
  }

  control(action: ControlAction): Record<string, unknown> {
    switch (action) {
      case 'drain_listeners':
        this.engine.drainListeners();
        break;
      case 'healthcheck_fail':
        this.engine.setHealthCheckFailed(true);
        break;
      case 'healthcheck_ok':
        this.engine.setHealthCheckFailed(false);
        break;
    }
    return { action, state: this.engine.state };
  }

  sendRequest(client: StreamClient, message: SendRequestMessage): Record<string, unknown> {
    const ack = this.sender.send(message, client, (result) => client.send(result));
    return { ...ack };
  }

  async hostFault(message: HostFaultMessage): Promise<Record<string, unknown>> {
    if (!this.demoHosts) {
      throw new ControlError('not_supported', 'host_fault: only the built-in demo has upstream hosts to control (this proxy runs from --config)');
    }
    const host = this.demoHosts.find((h) => h.name === message.host);
    if (!host) {
      throw new ControlError('invalid_message', `host_fault: host: no demo host named '${message.host}' (hosts: ${this.demoHosts.map((h) => h.name).join(', ')})`, 'host');
    }
    await host.apply(message.fault);
    return { host: host.info() };
  }

  /** `breakpoints`: replace the engine's breakpoints (shared by every viewer). */
  setBreakpoints(message: BreakpointsMessage): Record<string, unknown> {
    const stepper = this.engine.stepper;
    try {
      stepper.setBreakpoints(message.breakpoints);
    } catch (err) {
      if (err instanceof StepError) throw new ControlError('invalid_message', `breakpoints: ${err.message}`, err.field);
      throw err;
    }
    if (message.pauseAll !== undefined) stepper.setPauseAll(message.pauseAll);
    return { ...this.stepState() };
  }

  /** `step`: one state change of a held request. */
  step(stream: number): Record<string, unknown> {
    try {
      // The engine is single-threaded: everything traced while the step runs is what the
      // step did, the held request's events and those of shared machines it set going
      // (its pool's decision carries no stream id). Flushing first keeps earlier events out.
      this.hub.flush();
      const events: TraceEvent[] = [];
      const stop = this.hub.addConsumer((batch) => {
        for (const e of batch) events.push(e);
      });
      let result;
      try {
        result = this.engine.stepper.step(stream);
        // The step's transitions reach clients before the step_state that follows them.
        this.hub.flush();
      } finally {
        stop();
      }
      const detail: StepAckDetail = { ...result, events: events.slice(0, MAX_STEP_EVENTS) };
      if (events.length > MAX_STEP_EVENTS) detail.eventsTruncated = events.length - MAX_STEP_EVENTS;
      return { ...detail };
    } catch (err) {
      if (err instanceof StepError) throw new ControlError('invalid_message', `step: stream: ${err.message}`, err.field);
      throw err;
    }
  }

  /** `resume`: a held request (or all of them) runs free. */
  resume(stream: number | undefined): Record<string, unknown> {
    try {
      return { resumed: this.engine.stepper.resume(stream) };
    } catch (err) {
      if (err instanceof StepError) throw new ControlError('invalid_message', `resume: stream: ${err.message}`, err.field);
      throw err;
    }
  }

  private stepState(): Omit<StepStateMessage, 'type'> {
    const stepper = this.engine.stepper;
    return { breakpoints: [...stepper.breakpointList], pauseAll: stepper.pauseAll, held: stepper.held() };
  }

  /**
   * Breakpoints or held requests changed. Many changes in one turn of the event loop (a
   * burst of requests meeting a breakpoint) make one `step_state`, sent after the events
   * that led to it.
   */
  private readonly onStepChange = (): void => {
    if (this.stepStateQueued) return;
    this.stepStateQueued = true;
    nextTurn(() => {
      this.stepStateQueued = false;
      this.hub.flush();
      const message: StepStateMessage = { type: 'step_state', ...this.stepState() };
      for (const client of this.clients) client.send(message);
    });
  };

  /** A demo host changed: every client gets the hosts as they are now. */
  private readonly onHostChange = (): void => {
    if (!this.demoHosts) return;
    const hosts = this.demoHosts.map((h) => h.info());
    for (const client of this.clients) client.send({ type: 'hosts', hosts });
  };

  private sendHistory(client: StreamClient): void {
    // The snapshot first (the state of what is alive when the history begins), then the
    // history: together, what the client would have folded had it been here from the start.
    const snapshot = this.hub.snapshot();
    const sent = (snapshot.length > 0 ? client.offer(snapshot, true) : 0) + client.offer(this.hub.history(), true);
    client.send({ type: 'history_end', events: sent, lastSeq: this.hub.lastFlushedSeq });
  }

  private readonly onEvents = (events: readonly TraceEvent[]): void => {
    for (const client of this.clients) client.offer(events);
  };

  /** Builds the shared part of `stats` once and gives each client its own stream figures. */
  tick(): void {
    const now = Date.now();
    const received = this.hub.received;
    const seconds = (now - this.lastTick.at) / 1000;
    const eventsPerSec = seconds > 0 ? Math.round((received - this.lastTick.received) / seconds) : 0;
    this.lastTick = { at: now, received, eventsPerSec };

    const topology = this.engine.topology();
    const topologyJson = JSON.stringify(topology);
    const topologyChanged = topologyJson !== this.topologyJson;
    this.topologyJson = topologyJson;

    const stats: Record<string, number> = {};
    const snapshot = this.engine.stats.snapshot();
    for (const s of [...snapshot.counters, ...snapshot.gauges]) {
      let key = this.keyStat.get(s.name);
      if (key === undefined) {
        key = KEY_STATS.test(s.name);
        this.keyStat.set(s.name, key);
      }
      if (key && s.used) stats[s.name] = s.value;
    }
    const base = {
      type: 'stats' as const,
      t: Math.round(this.engine.tracer.now() * 1000) / 1000,
      server: { state: this.engine.state, uptimeS: this.options.uptimeS ? this.options.uptimeS() : Math.floor((now - this.engine.startedAt) / 1000) },
      stats,
      ...(this.options.recording ? { recording: this.options.recording() } : {}),
    };
    for (const client of this.clients) {
      if (topologyChanged) client.send({ type: 'topology', topology });
      const message: StatsMessage = {
        ...base,
        stream: {
          clients: this.clients.size,
          events: received,
          eventsPerSec,
          queued: client.queuedEvents,
          dropped: client.droppedTotal,
          held: client.held,
          tracing: this.hub.tracing,
        },
      };
      client.setStats(JSON.stringify(message));
    }
  }

  close(): void {
    this.sender.close();
    for (const remove of this.removeHostListeners) remove();
    this.removeStepListener();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const release of this.releases.values()) release();
    this.releases.clear();
    this.clients.clear();
    this.removeConsumer();
  }
}
