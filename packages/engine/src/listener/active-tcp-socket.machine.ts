import { setup } from 'xstate';

/**
 * ActiveTcpSocket: an accepted connection while its listener filters run, before it has a
 * filter chain. The only listener filter ProxyScope models is the TLS inspector, so
 * `inspecting` is TlsInspector::onData waiting for a whole ClientHello (or the first bytes
 * that are not one). It ends handed off to ActiveTcpListener::newConnection, timed out at
 * listener_filters_timeout, or closed by the peer. The class beside it (active-tcp-socket.ts)
 * holds the bytes read so far and implements the actions.
 */
export interface ActiveTcpSocketOwner {
  /** TlsInspector::onData came to a result over the bytes buffered so far */
  inspectionDone(): boolean;
  /** the inspector's result: stats and the `tls.inspected` fact */
  onInspected(): void;
  /** ActiveTcpSocket::onTimeout: the stat and the `tls.inspected` timeout fact */
  onTimeout(): void;
  /** ActiveTcpSocket::newConnection: pick the filter chain with what is known, hand on the bytes */
  newConnection(): void;
  /** the socket goes without a connection: closed at the timeout, or the peer closed it */
  close(reason: 'listener_filters_timeout' | 'remote_close'): void;
}

export interface ActiveTcpSocketMachineInput {
  owner: ActiveTcpSocketOwner;
  /** listener_filters_timeout, ms; 0 = none */
  listenerFiltersTimeout: number;
  continueOnListenerFiltersTimeout: boolean;
}

export type ActiveTcpSocketEvent =
  /** bytes arrived and were buffered (ListenerFilterBufferImpl::onFileEvent) */
  | { type: 'socket.data' }
  /** the peer sent FIN or reset while the filters still waited */
  | { type: 'socket.closed' };

/** With listener_filters_timeout 0 the wait is re-armed at the longest a timer may wait. */
const MAX_TIMER_MS = 2_147_483_647;

export const activeTcpSocketMachine = setup({
  types: {
    input: {} as ActiveTcpSocketMachineInput,
    context: {} as ActiveTcpSocketMachineInput,
    events: {} as ActiveTcpSocketEvent,
  },
  delays: {
    listenerFiltersTimeout: ({ context }) => (context.listenerFiltersTimeout > 0 ? context.listenerFiltersTimeout : MAX_TIMER_MS),
  },
  guards: {
    inspectionDone: ({ context }) => context.owner.inspectionDone(),
    // ActiveTcpSocket::startTimer: no timer at all when the timeout is 0
    noListenerFiltersTimeout: ({ context }) => context.listenerFiltersTimeout <= 0,
    continueOnListenerFiltersTimeout: ({ context }) => context.continueOnListenerFiltersTimeout,
  },
  actions: {
    reportInspection: ({ context }) => context.owner.onInspected(),
    reportTimeout: ({ context }) => context.owner.onTimeout(),
    newConnection: ({ context }) => context.owner.newConnection(),
    closeOnTimeout: ({ context }) => context.owner.close('listener_filters_timeout'),
    closeOnRemoteClose: ({ context }) => context.owner.close('remote_close'),
  },
}).createMachine({
  id: 'active_tcp_socket',
  context: ({ input }) => ({ ...input }),
  initial: 'inspecting',
  states: {
    inspecting: {
      meta: { envoy: 'ActiveTcpSocket::continueFilterChain (TlsInspector::onData)' },
      on: {
        // Not done yet: the inspector waits for more of the record (StopIteration).
        'socket.data': { guard: 'inspectionDone', target: 'handed_off', actions: 'reportInspection' },
        'socket.closed': 'closed',
      },
      after: {
        listenerFiltersTimeout: [
          { guard: 'noListenerFiltersTimeout', target: 'inspecting', reenter: true },
          // continue_on_listener_filters_timeout: a chain is picked with what the filters found so far
          { guard: 'continueOnListenerFiltersTimeout', target: 'handed_off', actions: 'reportTimeout' },
          { target: 'timed_out', actions: 'reportTimeout' },
        ],
      },
    },
    handed_off: {
      meta: { envoy: 'ActiveTcpSocket::newConnection' },
      entry: 'newConnection',
      type: 'final',
    },
    timed_out: {
      meta: { envoy: 'ActiveTcpSocket::onTimeout' },
      entry: 'closeOnTimeout',
      type: 'final',
    },
    closed: {
      meta: { envoy: 'ActiveTcpSocket::continueFilterChain(false) (listener filter buffer: peer closed)' },
      entry: 'closeOnRemoteClose',
      type: 'final',
    },
  },
});
