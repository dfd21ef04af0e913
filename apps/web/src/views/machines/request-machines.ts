import type { MachineKind, TraceEvent, UpstreamRequestState } from '@proxyscope/protocol';
import type { EventStore } from '../../model/types';

/**
 * The machines one request touched, and what each did up to the cursor: the states it
 * visited, the transitions it took and where it is now. The pool and the upstream connection
 * are shared with other requests, so only their moves while this request used them count.
 */
export interface MachineRun {
  actor: string;
  machine: MachineKind;
  /** why it is listed, for the shared ones: "attempt 2 on 10.0.0.1:80" */
  role?: string;
  current?: string;
  /** the actor stopped (final state reached) at or before the cursor */
  stopped: boolean;
  visited: Set<string>;
  /** "from>to" */
  taken: Set<string>;
  /** states in the order entered, with the Envoy function and trace time */
  path: Array<{ state: string; t: number; envoy?: string; event?: string }>;
}

const ORDER: Partial<Record<MachineKind, number>> = { stream: 0, filter_chain: 1, router: 2, retry: 3, upstream_request: 4, pool: 5, client: 6, client_codec: 7, codec: 8 };

export function requestMachines(store: EventStore, stream: number, cursor: number): MachineRun[] {
  const indexes = store.eventsOfRequest(stream);
  const runs = new Map<string, MachineRun>();
  const attempts: Array<{ actor: string; pool?: string; worker?: number; host?: string; start: number; sending?: number; end?: number }> = [];
  let requestEnd = cursor;
  for (const i of indexes) {
    if (i > cursor) break;
    const e = store.get(i);
    const run = runOf(runs, e);
    apply(run, e);
    if (e.machine === 'upstream_request') {
      let a = attempts.find((x) => x.actor === e.actor);
      if (!a) attempts.push((a = { actor: e.actor, pool: e.ids.pool, worker: e.ids.worker, host: e.ids.host, start: i }));
      if (e.type === 'transition' && (e.from as UpstreamRequestState) === 'pending_pool' && (e.to as UpstreamRequestState) === 'sending') a.sending = i;
      if (e.type === 'stop') a.end = i;
    }
    if (e.machine === 'stream' && e.type === 'stop') requestEnd = i;
  }
  for (const [n, a] of attempts.entries()) {
    if (!a.pool) continue;
    const poolActor = `worker:${a.worker ?? 0}/pool:${a.pool}`;
    const until = Math.min(cursor, a.end ?? requestEnd);
    const poolRun = sharedRun(store, poolActor, 'pool', a.start, until, `attempt ${n + 1} on ${a.host ?? a.pool}`);
    if (poolRun) runs.set(`${poolActor}#${n}`, poolRun);
    const ucx = a.sending !== undefined ? attachedClient(store, poolActor, a.sending) : undefined;
    if (ucx !== undefined) {
      const clientActor = `${poolActor}/ucx:${ucx}`;
      const clientRun = sharedRun(store, clientActor, 'client', a.start, until, `attempt ${n + 1}: connection ${ucx} to ${a.host ?? ''}`);
      if (clientRun) runs.set(`${clientActor}#${n}`, clientRun);
    }
  }
  // Map order is insertion order: a request's own actors as first seen, then pool and
  // connection per attempt, so shared machines stay in attempt order.
  const listed = [...runs.values()];
  return listed.sort((a, b) => (ORDER[a.machine] ?? 9) - (ORDER[b.machine] ?? 9) || (a.role || b.role ? listed.indexOf(a) - listed.indexOf(b) : a.actor.localeCompare(b.actor, undefined, { numeric: true })));
}

function runOf(runs: Map<string, MachineRun>, e: TraceEvent): MachineRun {
  let r = runs.get(e.actor);
  if (!r) runs.set(e.actor, (r = { actor: e.actor, machine: e.machine, stopped: false, visited: new Set(), taken: new Set(), path: [] }));
  return r;
}

function apply(run: MachineRun, e: TraceEvent) {
  if (e.type === 'spawn') {
    enter(run, e.state, e.t, undefined, undefined);
  } else if (e.type === 'transition') {
    if (run.current === undefined) enter(run, e.from, e.t, undefined, undefined);
    run.taken.add(`${e.from}>${e.to}`);
    enter(run, e.to, e.t, e.envoy, e.event);
  } else if (e.type === 'stop') {
    run.stopped = true;
    if (run.current === undefined) enter(run, e.state, e.t, undefined, undefined);
  }
}

function enter(run: MachineRun, state: string, t: number, envoy: string | undefined, event: string | undefined) {
  run.current = state;
  run.visited.add(state);
  run.path.push({ state, t, envoy, event });
}

/** A shared actor's moves in [from, until]; its state just before `from` counts as visited. */
function sharedRun(store: EventStore, actor: string, machine: MachineKind, from: number, until: number, role: string): MachineRun | undefined {
  const idx = store.eventsOfActor(actor);
  if (idx.length === 0) return undefined;
  const run: MachineRun = { actor, machine, role, stopped: false, visited: new Set(), taken: new Set(), path: [] };
  let before: Exclude<TraceEvent, { type: 'fact' }> | undefined;
  for (const i of idx) {
    if (i > until) break;
    const e = store.get(i);
    if (i < from) {
      if (e.type !== 'fact') before = e;
      continue;
    }
    if (run.current === undefined && before) {
      const s = before.type === 'transition' ? before.to : before.state;
      enter(run, s, before.t, undefined, undefined);
    }
    apply(run, e);
  }
  if (run.current === undefined && before) enter(run, before.type === 'transition' ? before.to : before.state, before.t, undefined, undefined);
  return run.current === undefined ? undefined : run;
}

/** The connection the pool attached just before the attempt started sending (`pool.attach`). */
function attachedClient(store: EventStore, poolActor: string, sendingIndex: number): number | undefined {
  const idx = store.eventsOfActor(poolActor);
  for (let k = idx.length - 1; k >= 0; k--) {
    if (idx[k] > sendingIndex) continue;
    const e = store.get(idx[k]);
    if (e.type === 'fact' && e.fact === 'pool.attach' && typeof e.data.client === 'number') return e.data.client;
  }
  return undefined;
}
