/**
 * Micro benchmark: one machine instance and one transition, on the engine's compiled
 * runtime (packages/engine/src/fsm/) and on xstate's interpreter, same definition, same
 * clock. The machine is shaped like the request path's: a guard on the event, entry and
 * transition actions, and a state with an `after` timer armed on entry and cancelled on exit.
 */
import { createActor, setup } from 'xstate';
import { compileMachine } from '../packages/engine/src/fsm/compile';
import { MachineInstance } from '../packages/engine/src/fsm/machine-instance';
import { ManualClock } from '../packages/engine/src/seams/clock';

interface Owner {
  calls: number;
}

const machine = setup({
  types: { context: {} as { owner: Owner }, input: {} as { owner: Owner }, events: {} as { type: 'go'; last: boolean } | { type: 'back' } | { type: 'wait' } },
  guards: { isLast: ({ event }) => event.type === 'go' && event.last },
  actions: {
    onEnter: ({ context }) => {
      context.owner.calls++;
    },
    onGo: ({ context }) => {
      context.owner.calls++;
    },
  },
  delays: { perTryTimeout: 1000 },
}).createMachine({
  id: 'bench',
  context: ({ input }) => ({ owner: input.owner }),
  initial: 'a',
  states: {
    a: { entry: 'onEnter', on: { go: [{ guard: 'isLast', target: 'done' }, { target: 'b', actions: 'onGo' }], wait: 'timed' } },
    b: { entry: 'onEnter', on: { back: 'a' } },
    timed: { entry: 'onEnter', after: { perTryTimeout: 'done' }, on: { back: 'a' } },
    done: { type: 'final' },
  },
});

type Runner = { send(e: { type: string; last?: boolean }): void; stop(): void };

function make(kind: 'runtime' | 'xstate', clock: ManualClock, owner: Owner): Runner {
  if (kind === 'runtime') return new MachineInstance(compileMachine(machine), clock, { owner }, undefined, 'bench').start();
  return createActor(machine, { input: { owner }, clock } as never).start() as unknown as Runner;
}

function time(iterations: number, op: () => void): number {
  const warm = Math.max(1, Math.floor(iterations / 10));
  for (let i = 0; i < warm; i++) op();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) op();
  return Number(process.hrtime.bigint() - t0) / iterations;
}

export function machineMicro(n: number, log: (line: string) => void): void {
  const clock = new ManualClock();
  const owner: Owner = { calls: 0 };
  const row = (label: string, xs: number, rt: number) =>
    log(`  ${label.padEnd(46)} ${rt.toFixed(3).padStart(9)} µs  ${xs.toFixed(3).padStart(9)} µs  ${(xs / rt).toFixed(0).padStart(5)}x`);
  log(`\nMicro benchmark: one machine on the compiled runtime vs xstate ${'(same definition, ManualClock)'}`);
  log(`  ${'operation'.padEnd(46)} ${'runtime'.padStart(12)} ${'xstate'.padStart(12)}  faster`);
  const instances = Math.max(1, Math.floor(n / 10));
  const inst = (kind: 'runtime' | 'xstate') => time(instances, () => make(kind, clock, owner).stop()) / 1000;
  const instXs = inst('xstate');
  const instRt = inst('runtime');
  row('create + start + stop an instance', instXs, instRt);
  const pingPong = (kind: 'runtime' | 'xstate') => {
    const r = make(kind, clock, owner);
    const go = { type: 'go', last: false };
    const back = { type: 'back' };
    return time(n, () => {
      r.send(go);
      r.send(back);
    }) / 2000;
  };
  const stepXs = pingPong('xstate');
  const stepRt = pingPong('runtime');
  row('a transition (guard, exit/entry/transition actions)', stepXs, stepRt);
  const timed = (kind: 'runtime' | 'xstate') => {
    const r = make(kind, clock, owner);
    const wait = { type: 'wait' };
    const back = { type: 'back' };
    return time(n, () => {
      r.send(wait);
      r.send(back);
    }) / 2000;
  };
  row('a transition arming or cancelling an `after` timer', timed('xstate'), timed('runtime'));
  if (owner.calls === 0) throw new Error('machine micro: no action ran');
  const target = (what: string, us: number, bound: number) =>
    log(`  target (issue 12): ${what} <= ${bound} µs -> ${us.toFixed(3)} µs ${us <= bound ? 'MET' : 'NOT MET'}`);
  target('a runtime transition', stepRt, 0.2);
  target('a machine instance (create + start + stop)', instRt, 1);
}
