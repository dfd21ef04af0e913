import { setup } from 'xstate';

/**
 * ConnPoolImplBase for one (worker, host): idle with no connections and no pending
 * streams, active otherwise (ready keep-alive connections keep it active). Its lists
 * (connecting, ready, busy, pending) are data of the pool that drives this chart; the
 * client machine's entry actions move each client between them, and every decision made
 * on them is reported as a `pool.*` fact.
 */
export type PoolEvent =
  | { type: 'pool.activate' }
  /** isIdleImpl: no client in any list and nothing pending (the pool checks its lists) */
  | { type: 'pool.idle' }
  | { type: 'pool.drain' };

/** What the pool machine asks of the pool beside it. */
export interface PoolOwner {
  /** close every client now, connecting, ready or busy (the pool is going away) */
  closeConnections(): void;
}

export interface PoolMachineInput {
  owner: PoolOwner;
}

export const poolMachine = setup({
  types: { input: {} as PoolMachineInput, context: {} as PoolMachineInput, events: {} as PoolEvent },
  actions: {
    closeConnections: ({ context }) => context.owner.closeConnections(),
  },
}).createMachine({
  id: 'pool',
  context: ({ input }) => ({ owner: input.owner }),
  initial: 'idle',
  states: {
    idle: {
      meta: { envoy: 'ConnPoolImplBase::isIdleImpl' },
      on: { 'pool.activate': 'active', 'pool.drain': 'draining' },
    },
    active: {
      meta: { envoy: 'ConnPoolImplBase::newStreamImpl' },
      on: { 'pool.idle': 'idle', 'pool.drain': 'draining' },
    },
    // drainConnectionsImpl(DrainAndDelete): every client closes; once the last one is gone
    // the pool is idle (checkForIdleAndNotify), and its owner deletes it.
    draining: {
      meta: { envoy: 'ConnPoolImplBase::drainConnectionsImpl' },
      entry: 'closeConnections',
      on: { 'pool.idle': 'idle' },
    },
  },
});
