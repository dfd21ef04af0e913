import { setup } from 'xstate';

/**
 * ConnPoolImplBase for one (worker, host): idle with no connections and no pending
 * streams, active otherwise (ready keep-alive connections keep it active). Its lists (connecting, ready, busy, pending) and every decision made
 * on them are reported as `pool.*` facts by the pool that drives this chart.
 */
export type PoolEvent = { type: 'pool.activate' } | { type: 'pool.idle' } | { type: 'pool.drain' };

export const poolMachine = setup({
  types: { events: {} as PoolEvent },
}).createMachine({
  id: 'pool',
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
    draining: {
      meta: { envoy: 'ConnPoolImplBase::drainConnectionsImpl' },
      on: { 'pool.idle': 'idle' },
    },
  },
});
