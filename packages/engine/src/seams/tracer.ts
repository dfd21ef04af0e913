import type { CorrelationIds, FactName, MachineKind, TraceEvent, UnstampedEvent } from '@proxyscope/protocol';
import type { AnyActorRef, AnyStateMachine, InspectionEvent, Subscription } from 'xstate';
import type { Clock } from './clock';
import type { MachineInstance, MachineObserver } from '../fsm/machine-instance';

export type TraceSink = (event: TraceEvent) => void;

/** What the tracer knows about one live actor. */
export interface ActorMeta {
  /** path such as `listener:ingress/cx:7/stream:2` */
  actor: string;
  machine: MachineKind;
  ids: CorrelationIds;
  /** state name -> Envoy function, read from the chart's `meta.envoy` */
  envoy: Record<string, string>;
  /** last state reported, so a snapshot that did not move is not a transition */
  last?: string;
}

const envoyNamesByMachine = new WeakMap<AnyStateMachine, Record<string, string>>();

/** State names (a nested one `parent.child`) mapped to the Envoy function each mirrors (from state meta). */
export function envoyNames(machine: AnyStateMachine): Record<string, string> {
  let names = envoyNamesByMachine.get(machine);
  if (!names) {
    const found: Record<string, string> = {};
    // A nested state is named `parent.child`, as the tracer names it (and fsm/compile.ts).
    const walk = (states: Record<string, { meta?: unknown; states: Record<string, unknown> }>, prefix: string): void => {
      for (const [key, node] of Object.entries(states)) {
        const envoy = (node.meta as { envoy?: string } | undefined)?.envoy;
        if (envoy) found[prefix + key] = envoy;
        walk(node.states as typeof states, `${prefix}${key}.`);
      }
    };
    walk(machine.root.states as Record<string, { meta?: unknown; states: Record<string, unknown> }>, '');
    names = found;
    envoyNamesByMachine.set(machine, names);
  }
  return names;
}

export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [key, inner] = Object.entries(value)[0] ?? [];
    return key === undefined ? '' : `${key}.${stateName(inner)}`;
  }
  return String(value);
}

/**
 * The engine's single trace sink. With no sink attached no actor has an inspection
 * observer at all (xstate then builds no inspection events) and every fact returns at
 * its first line. Attaching a sink subscribes to every live actor, so a trace started
 * mid-flight still sees long-lived connections and pools.
 */
export class Tracer implements MachineObserver {
  private sink: TraceSink | null = null;
  private seq = 0;
  private readonly t0: number;
  private readonly metas = new WeakMap<object, ActorMeta>();
  private readonly live = new Set<AnyActorRef>();
  private readonly subscriptions = new Map<AnyActorRef, Subscription>();

  constructor(private readonly clock: Clock) {
    this.t0 = clock.now();
  }

  get enabled(): boolean {
    return this.sink !== null;
  }

  attach(sink: TraceSink): void {
    const reattached = this.sink === null;
    this.sink = sink;
    for (const ref of this.live) {
      // An actor traced before a detach may have moved since: its next transition must
      // start from where it is now, not from the last state reported.
      const meta = this.metas.get(ref);
      if (reattached && meta && meta.last !== undefined && meta.last !== '#stopped') {
        meta.last = stateName((ref.getSnapshot() as { value?: unknown }).value);
      }
      this.observe(ref);
    }
  }

  detach(): void {
    this.sink = null;
    for (const subscription of this.subscriptions.values()) subscription.unsubscribe();
    this.subscriptions.clear();
  }

  /** Milliseconds since this tracer started, on the engine's clock. */
  now(): number {
    return this.clock.now() - this.t0;
  }

  emit(event: UnstampedEvent): void {
    const sink = this.sink;
    if (!sink) return;
    (event as TraceEvent).seq = ++this.seq;
    (event as TraceEvent).t = Math.round((this.clock.now() - this.t0) * 1000) / 1000;
    sink(event as TraceEvent);
  }

  fact(meta: ActorMeta, fact: FactName, data: Record<string, unknown>, envoy?: string): void {
    if (!this.sink) return;
    const event: UnstampedEvent = { type: 'fact', actor: meta.actor, machine: meta.machine, ids: meta.ids, fact, data };
    if (envoy) event.envoy = envoy;
    this.emit(event);
  }

  /** Called for every actor before it starts. */
  register(ref: AnyActorRef, meta: ActorMeta): void {
    this.metas.set(ref, meta);
    this.live.add(ref);
    if (this.sink) this.observe(ref);
  }

  /** Reports a stop for actors stopped from outside (xstate does not snapshot those). */
  stopped(ref: AnyActorRef | MachineInstance): void {
    const onRuntime = 'traceMeta' in ref;
    if (!onRuntime) this.forget(ref);
    const meta = onRuntime ? (ref.traceMeta as ActorMeta | undefined) : this.metas.get(ref);
    if (!meta || meta.last === '#stopped') return;
    if (this.sink && meta.last !== undefined) {
      this.emit({ type: 'stop', actor: meta.actor, machine: meta.machine, ids: meta.ids, state: meta.last });
    }
    meta.last = '#stopped';
  }

  /**
   * Called for every instance on the engine's machine runtime before it starts. Unlike an
   * xstate actor it needs no inspection subscription: it calls machineStarted / Moved /
   * Ended itself, and keeps `last` current while no sink listens, so a trace attached
   * mid-flight continues from where it is.
   */
  registerMachine(instance: MachineInstance, meta: ActorMeta): void {
    instance.traceMeta = meta;
  }

  machineStarted(instance: MachineInstance, state: string): void {
    if (!this.sink) return;
    const meta = instance.traceMeta as ActorMeta | undefined;
    if (!meta || meta.last !== undefined) return;
    this.emit({ type: 'spawn', actor: meta.actor, machine: meta.machine, ids: meta.ids, state });
    meta.last = state;
  }

  machineMoved(instance: MachineInstance, to: string, eventType: string): void {
    const meta = instance.traceMeta as ActorMeta | undefined;
    if (!meta || meta.last === '#stopped') return;
    if (!this.sink) {
      // Untraced since it started: its first traced step reports it as a spawn.
      if (meta.last !== undefined) meta.last = to;
      return;
    }
    if (meta.last === undefined) {
      this.emit({ type: 'spawn', actor: meta.actor, machine: meta.machine, ids: meta.ids, state: to });
    } else if (meta.last !== to) {
      const event: UnstampedEvent = { type: 'transition', actor: meta.actor, machine: meta.machine, ids: meta.ids, from: meta.last, to, event: eventType };
      const envoy = meta.envoy[to];
      if (envoy) event.envoy = envoy;
      this.emit(event);
    }
    meta.last = to;
  }

  machineEnded(instance: MachineInstance, state: string): void {
    const meta = instance.traceMeta as ActorMeta | undefined;
    if (!meta || meta.last === '#stopped') return;
    if (this.sink && meta.last !== undefined) {
      this.emit({ type: 'stop', actor: meta.actor, machine: meta.machine, ids: meta.ids, state });
    }
    meta.last = '#stopped';
  }

  private observe(ref: AnyActorRef): void {
    if (!this.subscriptions.has(ref)) this.subscriptions.set(ref, ref.system.inspect(this.inspect));
  }

  private forget(ref: AnyActorRef): void {
    this.live.delete(ref);
    const subscription = this.subscriptions.get(ref);
    if (subscription) {
      subscription.unsubscribe();
      this.subscriptions.delete(ref);
    }
  }

  /** xstate `inspect` observer: turns snapshots into spawn / transition / stop events. */
  readonly inspect = (ev: InspectionEvent): void => {
    if (!this.sink || ev.type !== '@xstate.snapshot') return;
    const meta = this.metas.get(ev.actorRef);
    if (!meta || meta.last === '#stopped') return;
    const snapshot = ev.snapshot as { value?: unknown; status?: string };
    const to = stateName(snapshot.value);
    if (meta.last === undefined) {
      this.emit({ type: 'spawn', actor: meta.actor, machine: meta.machine, ids: meta.ids, state: to });
    } else if (meta.last !== to) {
      const event: UnstampedEvent = {
        type: 'transition',
        actor: meta.actor,
        machine: meta.machine,
        ids: meta.ids,
        from: meta.last,
        to,
        event: ev.event.type,
      };
      const envoy = meta.envoy[to];
      if (envoy) event.envoy = envoy;
      this.emit(event);
    }
    meta.last = to;
    if (snapshot.status === 'done' || snapshot.status === 'stopped' || snapshot.status === 'error') {
      this.emit({ type: 'stop', actor: meta.actor, machine: meta.machine, ids: meta.ids, state: to });
      meta.last = '#stopped';
    }
  };
}
