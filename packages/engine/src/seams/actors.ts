import type { CorrelationIds, MachineKind } from '@proxyscope/protocol';
import { createActor, type Actor, type AnyStateMachine, type InputFrom } from 'xstate';
import { post, type Clock } from './clock';
import type { CompressionProvider } from './compression';
import type { StepController } from './step';
import type { RuntimeSnapshot } from '../runtime/runtime';
import type { StreamInfo } from '../http/stream-info';
import { envoyNames, type Tracer } from './tracer';
import { compiledOrUndefined } from '../fsm/compile';
import { MachineInstance } from '../fsm/machine-instance';

/**
 * Connection, stream and upstream-connection ids, counted per engine rather than per
 * process: two engines in one process (a simulation beside a live proxy, two runs of one
 * scenario) each number from 1, so the same run gives the same ids.
 */
export class EngineIds {
  private readonly last = { connection: 0, stream: 0, client: 0 };

  next(kind: keyof EngineIds['last']): number {
    return ++this.last[kind];
  }

  /** the id `next(kind)` will give, for a decision reported before what it creates */
  peek(kind: keyof EngineIds['last']): number {
    return this.last[kind] + 1;
  }
}

export interface EngineContext {
  clock: Clock;
  /** ids of connections, streams and upstream connections, numbered per engine */
  ids: EngineIds;
  tracer: Tracer;
  /** step mode (breakpoints on live traffic); absent where nothing can be held */
  stepper?: StepController;
  /** compression libraries (seams/compression.ts); absent: the compressor filter has none */
  compression?: CompressionProvider;
  /** Server::Instance::healthCheckFailed: POST /healthcheck/fail was called (absent = never) */
  healthCheckFailed?: () => boolean;
  /**
   * An access logger the host program adds (AccessLog::Instance): every finished HTTP
   * stream's StreamInfo, as the configured access logs see it. The simulation counts
   * response flags, hosts and attempts from it.
   */
  onStreamComplete?: (info: StreamInfo) => void;
  /** Server::Instance::runtime(): the layered_runtime snapshot (absent = empty) */
  runtime?: RuntimeSnapshot;
  /** absent or 'compiled': machines the runtime compiles run on it; 'xstate': all on xstate */
  interpreter?: MachineInterpreter;
}

export type MachineInterpreter = 'compiled' | 'xstate';

export interface TracedActorOptions<M extends AnyStateMachine> {
  input: InputFrom<M>;
  path: string;
  kind: MachineKind;
  ids: CorrelationIds;
}

/**
 * Starts a machine as a traced actor on the engine's clock. Every machine of the request
 * path is started through here, so each one is reported the same way.
 *
 * A machine the runtime compiles (`fsm/compile.ts`) runs as a MachineInstance: the same
 * definition, states, guards, actions and `after` timers, interpreted from tables. One that
 * uses what the runtime leaves out (a promise actor with onDone, parallel states: today only
 * the listener) runs on xstate's interpreter; `compileRefusal` says why. The per-request
 * machines must compile (test/fsm-differential.test.ts). The instance keeps the part of
 * xstate's Actor API the classes use (send, getSnapshot().value / status / context, on,
 * subscribe, stop), hence the type.
 */
export function startTraced<M extends AnyStateMachine>(engine: EngineContext, machine: M, options: TracedActorOptions<M>): Actor<M> {
  const compiled = engine.interpreter === 'xstate' ? undefined : compiledOrUndefined(machine);
  if (compiled) {
    const instance = new MachineInstance(compiled, engine.clock, options.input, engine.tracer, options.path);
    engine.tracer.registerMachine(instance, { actor: options.path, machine: options.kind, ids: options.ids, envoy: compiled.envoy });
    instance.start();
    return instance as unknown as Actor<M>;
  }
  const actor = createActor(machine, {
    input: options.input,
    id: options.path,
    clock: engine.clock,
  } as never) as Actor<M>;
  engine.tracer.register(actor, { actor: options.path, machine: options.kind, ids: options.ids, envoy: envoyNames(machine) });
  actor.start();
  return actor;
}

/**
 * Every owner ends its actors here, final state or not, so the tracer forgets them.
 * Owners often do it from inside the actor's own last step (an entry action of a final
 * state); the stop waits for that step to finish so its transition is still reported.
 */
export function stopTraced(engine: EngineContext, actor: Actor<AnyStateMachine> | MachineInstance): void {
  post(engine.clock, () => {
    engine.tracer.stopped(actor as never);
    actor.stop();
  });
}
