import { assign, fromCallback, setup } from 'xstate';
import type { Transport, TransportConnection, TransportError } from '../seams/transport';

/**
 * ConnectionPool::ActiveClient with its CodecClient: one upstream connection, as the
 * pool sees it. HTTP/1 carries one stream at a time, so ready and busy alternate.
 */
export interface ClientOwner {
  onConnected(connection: TransportConnection): void;
  onReady(): void;
  /** close the socket (and its codec) now */
  closeConnection(): void;
  onClosed(reason: ClientCloseReason, error?: TransportError): void;
}

export type ClientCloseReason = 'connect_failure' | 'connect_timeout' | 'remote_close' | 'local_close' | 'idle_timeout';

export interface ClientMachineInput {
  transport: Transport;
  address: string;
  port: number;
  /** cluster connect_timeout, ms */
  connectTimeout: number;
  owner: ClientOwner;
}

export type ClientEvent =
  | { type: 'client.connect.ok'; connection: TransportConnection }
  | { type: 'client.connect.fail'; error: TransportError }
  | { type: 'client.attach'; lastStream: boolean }
  | { type: 'client.release' }
  | { type: 'client.drain' }
  | { type: 'client.close' }
  /** the cluster's idle_timeout ran out while ready (sent by the pool's ActiveClient) */
  | { type: 'client.idle_timeout' }
  | { type: 'client.remote.close'; error?: TransportError };

interface ClientContext extends ClientMachineInput {
  connection?: TransportConnection;
  closeReason?: ClientCloseReason;
  error?: TransportError;
}

export const clientMachine = setup({
  types: {
    input: {} as ClientMachineInput,
    context: {} as ClientContext,
    events: {} as ClientEvent,
  },
  actors: {
    // The connect attempt lives only in `connecting`: leaving the state (timeout) cancels it.
    connect: fromCallback<ClientEvent, { transport: Transport; address: string; port: number }>(({ input, sendBack }) => {
      let connected = false;
      const pending = input.transport.connect(input.address, input.port, {
        onConnect: (connection) => {
          connected = true;
          sendBack({ type: 'client.connect.ok', connection });
        },
        onError: (error) => sendBack({ type: 'client.connect.fail', error }),
      });
      return () => {
        if (!connected) pending.cancel();
      };
    }),
  },
  delays: {
    connectTimeout: ({ context }) => context.connectTimeout,
  },
  guards: {
    isLastStream: ({ event }) => event.type === 'client.attach' && event.lastStream,
  },
  actions: {
    keepConnection: assign({
      connection: ({ event }) => (event.type === 'client.connect.ok' ? event.connection : undefined),
    }),
    handConnectionToOwner: ({ context }) => context.owner.onConnected(context.connection!),
    notifyReady: ({ context }) => context.owner.onReady(),
    recordCloseReason: assign({
      closeReason: (_, params: { reason: ClientCloseReason }) => params.reason,
      error: ({ event }) =>
        event.type === 'client.connect.fail' || event.type === 'client.remote.close' ? event.error : undefined,
    }),
    closeConnection: ({ context }) => context.owner.closeConnection(),
    // The pool's reaction (failing pending streams, local replies, retries) drives other
    // actors; it runs once this step is over rather than inside it.
    notifyClosed: ({ context }) => {
      const { owner, closeReason, error } = context;
      queueMicrotask(() => owner.onClosed(closeReason ?? 'local_close', error));
    },
  },
}).createMachine({
  id: 'client',
  context: ({ input }) => ({ ...input }),
  initial: 'connecting',
  states: {
    connecting: {
      meta: { envoy: 'ConnPoolImplBase::tryCreateNewConnection' },
      invoke: {
        src: 'connect',
        input: ({ context }) => ({ transport: context.transport, address: context.address, port: context.port }),
      },
      after: {
        connectTimeout: { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'connect_timeout' } } },
      },
      on: {
        'client.connect.ok': { target: 'ready', actions: ['keepConnection', 'handConnectionToOwner'] },
        'client.connect.fail': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'connect_failure' } } },
        'client.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'local_close' } } },
      },
    },
    ready: {
      meta: { envoy: 'ConnPoolImplBase::onUpstreamReady' },
      entry: 'notifyReady',
      on: {
        // ActiveClient::onIdleTimeout: ready (no stream) for the cluster's idle_timeout. The
        // pool's ActiveClient keeps that deadline rather than an `after` here, because an
        // `after` would schedule and cancel an xstate delayed event on every request.
        'client.idle_timeout': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'idle_timeout' } } },
        'client.attach': [{ guard: 'isLastStream', target: 'draining' }, { target: 'busy' }],
        'client.drain': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'local_close' } } },
        'client.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'local_close' } } },
        'client.remote.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'remote_close' } } },
      },
    },
    busy: {
      meta: { envoy: 'ConnPoolImplBase::attachStreamToClient' },
      on: {
        'client.release': 'ready',
        'client.drain': 'draining',
        'client.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'local_close' } } },
        'client.remote.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'remote_close' } } },
      },
    },
    // Serving its last stream (max_requests_per_connection reached, or Connection: close).
    draining: {
      meta: { envoy: 'ConnPoolImplBase::transitionActiveClientState (Draining)' },
      on: {
        'client.release': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'local_close' } } },
        'client.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'local_close' } } },
        'client.remote.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'remote_close' } } },
      },
    },
    closed: {
      meta: { envoy: 'ConnPoolImplBase::onConnectionEvent' },
      entry: ['closeConnection', 'notifyClosed'],
      type: 'final',
    },
  },
});
