/// <reference types="vite/client" />
/**
 * The engine's machine runtime (src/fsm/) against xstate's own interpreter, machine by
 * machine. For every machine the runtime compiles, from every reachable state, for every
 * event the machine knows (its `after` events too) and every outcome of the guards on the
 * way, both interpreters must agree on:
 * - the next state and the status (active / done),
 * - the actions run, guards asked and events emitted, in order,
 * - the timers armed and cancelled, with their delays.
 * Named actions and guards are replaced by probes that log and follow a script, so the
 * machine's structure is what is compared; xstate/graph's shortest paths are replayed too.
 * The whole engine on both interpreters is compared in fsm-trace-equivalence.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createActor, emit, setup, assign, fromCallback, fromPromise, raise, type AnyStateMachine } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { compileMachine, compileRefusal, MachineCompileError, NEVER_MS } from '../src/fsm/compile';
import { MachineInstance } from '../src/fsm/machine-instance';
import type { Clock, TimerId } from '../src/seams/clock';

const modules = import.meta.glob('../src/**/*.machine.ts', { eager: true }) as Record<string, Record<string, unknown>>;
const machines: Array<{ file: string; name: string; machine: AnyStateMachine }> = [];
for (const [file, mod] of Object.entries(modules)) {
  for (const [name, value] of Object.entries(mod)) {
    if (value && typeof value === 'object' && 'root' in value && 'implementations' in value) machines.push({ file, name, machine: value as AnyStateMachine });
  }
}

/**
 * The engine's machines are mostly flat today; this one has what nested machines bring
 * (compound states, `after` on a parent, re-entering and non-re-entering self and parent
 * targets, targets across branches, a final state with exit actions), so the runtime's
 * exit and entry sets are checked against xstate's whatever the engine's machines use.
 */
const nestedFixture = setup({
  actions: { enterOuter() {}, exitOuter() {}, enterOne() {}, exitOne() {}, enterTwo() {}, exitTwo() {}, toTwo() {}, onReset() {}, tick() {}, enterOther() {}, exitOther() {}, enterDeep() {}, enterDone() {}, exitDone() {} },
  guards: { canLeave: () => true, readyForTwo: () => true },
  delays: { outerLimit: 500, oneLimit: 50 },
}).createMachine({
  id: 'nested_fixture',
  initial: 'outer',
  states: {
    outer: {
      entry: 'enterOuter',
      exit: 'exitOuter',
      after: { outerLimit: 'done' },
      initial: 'one',
      on: {
        reset: { target: 'outer', reenter: true, actions: 'onReset' },
        stay: { target: 'outer' },
        jump: '#nested_fixture.other.deep',
        child: '.two',
        leave: { guard: 'canLeave', target: 'other' },
      },
      states: {
        one: {
          entry: 'enterOne',
          exit: 'exitOne',
          after: { oneLimit: 'two' },
          on: { next: [{ guard: 'readyForTwo', target: 'two', actions: 'toTwo' }, { target: 'one', reenter: true }], self: 'one', tick: { actions: 'tick' } },
        },
        two: { entry: 'enterTwo', exit: 'exitTwo', on: { next: 'one', up: '#nested_fixture.other' } },
      },
    },
    other: {
      entry: 'enterOther',
      exit: 'exitOther',
      initial: 'shallow',
      on: { finish: 'done' },
      states: { shallow: { on: { down: 'deep' } }, deep: { entry: 'enterDeep', on: { back: '#nested_fixture.outer.two', reset: { target: 'deep', reenter: true } } } },
    },
    done: { type: 'final', entry: 'enterDone', exit: 'exitDone' },
  },
});
machines.push({ file: '(this test)', name: 'nestedFixture', machine: nestedFixture });

/** A clock that records what is armed and cancelled, and fires only when told. */
class RecordingClock implements Clock {
  private next = 1;
  readonly pending = new Map<number, { fn: () => void; ms: number }>();
  constructor(private readonly log: string[]) {}
  now(): number {
    return 0;
  }
  wallTime(): number {
    return 0;
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.next++;
    this.pending.set(id, { fn, ms });
    this.log.push(`arm ${ms}`);
    return id;
  }
  clearTimeout(id: TimerId): void {
    const timer = this.pending.get(id as number);
    if (!timer) return;
    this.pending.delete(id as number);
    this.log.push(`cancel ${timer.ms}`);
  }
  /** Fires the timer armed first among those pending. */
  fireFirst(): boolean {
    const [first] = this.pending.keys();
    if (first === undefined) return false;
    const timer = this.pending.get(first)!;
    this.pending.delete(first);
    timer.fn();
    return true;
  }
}

/** The guard outcomes one step follows: each guard call takes the next answer (false once they run out). */
class Script {
  private at = 0;
  calls = 0;
  constructor(private answers: boolean[] = []) {}
  answer(): boolean {
    this.calls++;
    return this.answers[this.at++] ?? false;
  }
  use(answers: boolean[]): void {
    this.answers = answers;
    this.at = 0;
    this.calls = 0;
  }
}

interface Probe {
  machine: AnyStateMachine;
  log: string[];
  script: Script;
}

/** The machine with every named custom action, assign and guard replaced by a logging probe, and named delays fixed. */
function probe(machine: AnyStateMachine): Probe {
  const log: string[] = [];
  const script = new Script();
  const impl = machine.implementations as { actions: Record<string, any>; guards: Record<string, any>; delays: Record<string, any> };
  const actions: Record<string, any> = {};
  for (const [name, action] of Object.entries(impl.actions)) {
    if (action && typeof action === 'function' && 'resolve' in action && action.type === 'xstate.emit') continue;
    actions[name] = (_args: unknown, params: unknown) => log.push(`action ${name}${params === undefined ? '' : ' ' + JSON.stringify(params)}`);
  }
  const guards: Record<string, any> = {};
  for (const name of Object.keys(impl.guards)) {
    guards[name] = (_args: unknown, params: unknown) => {
      const answer = script.answer();
      log.push(`guard ${name}${params === undefined ? '' : ' ' + JSON.stringify(params)} -> ${answer}`);
      return answer;
    };
  }
  const delays: Record<string, number> = {};
  Object.keys(impl.delays).forEach((name, i) => (delays[name] = 100 + 10 * i));
  // Invoked callback actors: started and stopped when xstate would, and able to answer.
  const actors: Record<string, unknown> = {};
  for (const name of Object.keys((machine.implementations as { actors: Record<string, unknown> }).actors ?? {})) {
    actors[name] = fromCallback(() => {
      log.push(`start ${name}`);
      return () => log.push(`stop ${name}`);
    });
  }
  return { machine: machine.provide({ actions, guards, delays, actors } as never), log, script };
}

interface Runner {
  send(event: { type: string }): void;
  fire(): boolean;
  state(): { value: unknown; status: string };
}

function startXstate(p: Probe, input: unknown): Runner {
  const clock = new RecordingClock(p.log);
  const actor = createActor(p.machine, { input, clock } as never);
  actor.on('*', (e: { type: string }) => p.log.push(`emit ${e.type}`));
  actor.start();
  return {
    send: (event) => actor.send(event as never),
    fire: () => clock.fireFirst(),
    state: () => ({ value: actor.getSnapshot().value, status: actor.getSnapshot().status }),
  };
}

function startRuntime(p: Probe, input: unknown): Runner {
  const clock = new RecordingClock(p.log);
  const instance = new MachineInstance(compileMachine(p.machine), clock, input, undefined, 'probe');
  instance.on('*', (e) => p.log.push(`emit ${e.type}`));
  instance.start();
  return {
    send: (event) => instance.send(event),
    fire: () => clock.fireFirst(),
    state: () => ({ value: instance.value, status: instance.status }),
  };
}

/** One step of a path: an event (or firing the first armed timer) under a guard script. */
interface Step {
  event: string;
  answers: boolean[];
}
const FIRE = '(fire the first armed timer)';

interface Pair {
  x: { probe: Probe; run: Runner };
  r: { probe: Probe; run: Runner };
}

function startPair(machine: AnyStateMachine, input: unknown): Pair {
  const xp = probe(machine);
  const rp = probe(machine);
  const pair = { x: { probe: xp, run: startXstate(xp, input) }, r: { probe: rp, run: startRuntime(rp, input) } };
  return pair;
}

/** Applies a step to both; returns what each did. */
function apply(pair: Pair, step: Step): { x: string[]; r: string[]; guardCalls: number } {
  const out = { x: [] as string[], r: [] as string[], guardCalls: 0 };
  for (const side of ['x', 'r'] as const) {
    const { probe: p, run } = pair[side];
    p.log.length = 0;
    p.script.use(step.answers);
    if (step.event === FIRE) run.fire();
    else run.send({ type: step.event });
    const { value, status } = run.state();
    out[side] = [...p.log, `=> ${JSON.stringify(value)} ${status}`];
    if (side === 'x') out.guardCalls = p.script.calls;
  }
  return out;
}

const INPUTS: Record<string, unknown> = {};

describe('machine runtime vs xstate, machine by machine', () => {
  const compilable = machines.filter(({ machine }) => compileRefusal(machine) === undefined);

  it('finds the engine machines, and every per-request machine compiles', () => {
    expect(machines.length).toBeGreaterThanOrEqual(10);
    const ids = compilable.map(({ machine }) => machine.id);
    for (const id of ['stream', 'filter_chain', 'router', 'upstream_request', 'retry', 'http1_server_codec', 'http1_client_codec']) {
      expect(ids, `${id} runs on the runtime`).toContain(id);
    }
    // Only the listener stays on xstate: its bind is a promise actor with onDone.
    expect(machines.filter(({ machine }) => compileRefusal(machine) !== undefined).map(({ machine }) => machine.id)).toEqual(['listener']);
  });

  for (const { file, name, machine } of compilable) {
    it(`${name} (${file.replace('../src/', '')}): every reachable state × event × guard outcome`, () => {
      const input = INPUTS[machine.id] ?? {};
      const events = [...compileMachine(machine).eventTypes, FIRE];
      // Start: both enter the same initial state with the same entry actions and timers.
      {
        const pair = startPair(machine, input);
        const start = (side: 'x' | 'r') => [...pair[side].probe.log, `=> ${JSON.stringify(pair[side].run.state().value)} ${pair[side].run.state().status}`];
        expect(start('r')).toEqual(start('x'));
      }
      // Breadth-first over states, keeping the path that reached each.
      const paths = new Map<string, Step[]>([[JSON.stringify(startPair(machine, input).x.run.state().value), []]]);
      const queue = [...paths.values()];
      let cases = 0;
      while (queue.length > 0) {
        const path = queue.shift()!;
        for (const event of events) {
          // Discover how many guard calls this event makes when every guard says no,
          // then try each "the k-th guard says yes" outcome as well.
          const replay = (): Pair => {
            const pair = startPair(machine, input);
            for (const step of path) apply(pair, step);
            return pair;
          };
          const none = apply(replay(), { event, answers: [] });
          const outcomes: boolean[][] = [[]];
          for (let k = 0; k < none.guardCalls; k++) outcomes.push([...Array(k).fill(false), true]);
          for (const answers of outcomes) {
            const pair = replay();
            const step = { event, answers };
            const result = apply(pair, step);
            cases++;
            expect(result.r, `${machine.id} after [${path.map((s) => s.event).join(', ')}] then ${event} with guards ${JSON.stringify(answers)}`).toEqual(result.x);
            const state = pair.x.run.state();
            const key = JSON.stringify(state.value);
            if (state.status === 'active' && !paths.has(key)) {
              const next = [...path, step];
              paths.set(key, next);
              queue.push(next);
            }
          }
        }
      }
      expect(cases).toBeGreaterThan(events.length);
    });

    it(`${name}: xstate/graph shortest paths replay the same on both`, () => {
      for (const answer of [true, false]) {
        const p = probe(machine);
        p.script.use(Array(10_000).fill(answer));
        const input = INPUTS[machine.id] ?? {};
        const graph = getShortestPaths(p.machine, { input, events: compileMachine(machine).eventTypes.map((type) => ({ type })) } as never);
        expect(graph.length).toBeGreaterThan(0);
        for (const path of graph) {
          const pair = startPair(machine, input);
          for (const step of path.steps.slice(1)) {
            const result = apply(pair, { event: (step.event as { type: string }).type, answers: Array(64).fill(answer) });
            expect(result.r).toEqual(result.x);
          }
        }
      }
    });
  }
});

describe('the compiler refuses what the runtime does not run', () => {
  const refusal = (machine: AnyStateMachine): string => {
    const err = compileRefusal(machine);
    expect(err).toBeInstanceOf(MachineCompileError);
    return err!.message;
  };

  it('a promise actor, parallel states, a targetless eventless transition and raise() are refused with the machine and state named', () => {
    const promising = setup({ actors: { work: fromPromise(async () => 1) } }).createMachine({ id: 'm1', initial: 'a', states: { a: { invoke: { src: 'work' } } } });
    expect(refusal(promising)).toMatch(/machine 'm1' at 'a': invoking 'work', which is not a fromCallback actor/);
    const withDone = setup({ actors: { work: fromCallback(() => {}) } }).createMachine({ id: 'm1b', initial: 'a', states: { a: { invoke: { src: 'work', onDone: 'b' } }, b: {} } });
    expect(refusal(withDone)).toMatch(/m1b' at 'a': invoke with 'onDone'/);
    const parallel = setup({}).createMachine({ id: 'm2', type: 'parallel', states: { a: {}, b: {} } });
    expect(refusal(parallel)).toMatch(/m2.*parallel/);
    const eventless = setup({ actions: { note() {} } }).createMachine({ id: 'm3', initial: 'a', states: { a: { always: { actions: 'note' } }, b: {} } });
    expect(refusal(eventless)).toMatch(/m3' at 'a'.*targetless 'always'/);
    const raising = setup({}).createMachine({ id: 'm4', initial: 'a', states: { a: { on: { go: { actions: raise({ type: 'x' }) } } } } });
    expect(refusal(raising)).toMatch(/m4' at 'a'.*raise/);
  });

  it('an action or guard named but not implemented is refused, not run as a no-op', () => {
    const m = setup({}).createMachine({ id: 'm5', initial: 'a', states: { a: { on: { go: { target: 'a', actions: 'missing' as never } } } } });
    expect(refusal(m)).toMatch(/unimplemented action 'missing'/);
  });
});

describe('runtime semantics the engine relies on', () => {
  it('a timer of NEVER_MS (a timeout that is not running) sets no clock timer on the runtime; xstate sets a 24-day one', () => {
    const m = setup({ delays: { notRunning: NEVER_MS } }).createMachine({ id: 'never', initial: 'a', states: { a: { after: { notRunning: 'b' }, on: { leave: 'b' } }, b: {} } });
    const log: string[] = [];
    const instance = new MachineInstance(compileMachine(m), new RecordingClock(log), undefined, undefined, 'n').start();
    instance.send({ type: 'leave' });
    expect([log, instance.value]).toEqual([[], 'b']);
    const xlog: string[] = [];
    const actor = createActor(m, { clock: new RecordingClock(xlog) } as never).start();
    actor.send({ type: 'leave' });
    expect(xlog).toEqual([`arm ${NEVER_MS}`, `cancel ${NEVER_MS}`]);
  });

  const machine = setup({
    types: { context: {} as { n: number; seen: number[] }, events: {} as { type: 'go' } | { type: 'again' } },
    actions: {
      count: assign({ n: ({ context }) => context.n + 1 }),
      note: ({ context, self }) => context.seen.push((self as { getSnapshot(): { value: unknown } }).getSnapshot().value === 'a' ? 0 : 1),
      tell: emit({ type: 'told' }),
    },
    delays: { later: ({ context }) => context.n * 100 },
  }).createMachine({
    id: 'semantics',
    context: () => ({ n: 0, seen: [] }),
    initial: 'a',
    states: {
      a: { on: { go: { target: 'b', actions: ['count', 'note', 'tell'] } } },
      b: { after: { later: 'c' }, on: { again: 'a' } },
      c: { type: 'final' },
    },
  });

  for (const kind of ['xstate', 'runtime'] as const) {
    it(`${kind}: stop() from inside a step drops what was queued and stops after the step`, () => {
      const m = setup({}).createMachine({ id: 'stopper', initial: 'a', states: { a: { on: { go: 'b' } }, b: { on: { go: 'c' } }, c: { on: { go: 'd' } }, d: {} } });
      const actor: any = kind === 'xstate' ? createActor(m, { clock: new RecordingClock([]) } as never) : new MachineInstance(compileMachine(m), new RecordingClock([]), undefined, undefined, 's');
      actor.start();
      let steps = 0;
      actor.subscribe(() => {
        steps++;
        // The first step queues two more; the second (run from the queue) stops the actor.
        if (steps === 1) {
          actor.send({ type: 'go' });
          actor.send({ type: 'go' });
        }
        if (steps === 2) actor.stop();
      });
      actor.send({ type: 'go' });
      expect([actor.getSnapshot().status, actor.getSnapshot().value]).toEqual(['stopped', 'c']);
    });

    it(`${kind}: actions see the old state, emits and timers follow the step, a self-sent event waits its turn`, () => {
      const log: string[] = [];
      const clock = new RecordingClock(log);
      const actor: any = kind === 'xstate' ? createActor(machine, { clock } as never) : new MachineInstance(compileMachine(machine), clock, undefined, undefined, 's');
      actor.on('told', () => {
        log.push(`told in ${JSON.stringify(actor.getSnapshot().value)}`);
        actor.send({ type: 'again' });
        log.push('sent again');
      });
      actor.start();
      actor.send({ type: 'go' });
      // `again` ran after `go` finished: b's timer was armed (n = 1: 100 ms), then cancelled.
      expect(log).toEqual(['told in "b"', 'sent again', 'arm 100', 'cancel 100']);
      expect(actor.getSnapshot().value).toBe('a');
      expect(actor.getSnapshot().context).toEqual({ n: 1, seen: [0] });
      actor.send({ type: 'go' });
      expect(clock.fireFirst()).toBe(false);
    });
  }
});
