import { assign, fromPromise, setup } from 'xstate';

/**
 * ListenerImpl / ActiveTcpListener: a listener warms (binds its socket), accepts while
 * active, drains when asked, and is stopped at the end.
 */
export interface ListenerMachineInput {
  /** binds the socket; resolves with the bound `address:port` */
  bind: () => Promise<string>;
  /** closes the socket */
  unbind: () => void;
}

export type ListenerEvent = { type: 'listener.drain' } | { type: 'listener.stop' };

export const listenerMachine = setup({
  types: {
    input: {} as ListenerMachineInput,
    context: {} as ListenerMachineInput & { boundAddress?: string; error?: string; errorCode?: string },
    events: {} as ListenerEvent,
  },
  actors: {
    bindSocket: fromPromise<string, { bind: () => Promise<string> }>(({ input }) => input.bind()),
  },
  actions: {
    closeSocket: ({ context }) => context.unbind(),
  },
}).createMachine({
  id: 'listener',
  context: ({ input }) => ({ ...input }),
  initial: 'warming',
  states: {
    warming: {
      meta: { envoy: 'ListenerManagerImpl::addOrUpdateListener' },
      invoke: {
        src: 'bindSocket',
        input: ({ context }) => ({ bind: context.bind }),
        onDone: { target: 'active', actions: assign({ boundAddress: ({ event }) => event.output }) },
        onError: {
          target: 'stopped',
          actions: assign({
            error: ({ event }) => String((event.error as Error)?.message ?? event.error),
            // EADDRINUSE and the like: the CLI's exit code depends on it
            errorCode: ({ event }) => (event.error as { code?: string } | undefined)?.code,
          }),
        },
      },
    },
    active: {
      meta: { envoy: 'ConnectionHandlerImpl::ActiveTcpListener::onAccept' },
      on: { 'listener.drain': 'draining', 'listener.stop': 'stopped' },
    },
    draining: {
      meta: { envoy: 'ListenerImpl::drainListener' },
      on: { 'listener.stop': 'stopped' },
    },
    stopped: {
      meta: { envoy: 'ListenerManagerImpl::stopListener' },
      entry: 'closeSocket',
      type: 'final',
    },
  },
});
