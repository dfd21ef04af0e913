import { NEVER_MS } from '../fsm/compile';
import { assign, fromCallback, setup } from 'xstate';
import type { TlsContext, TlsVerdict } from '../network/tls-context';
import type { Transport, TransportConnection, TransportError } from '../seams/transport';

/**
 * ConnectionPool::ActiveClient with its CodecClient: one upstream connection, as the
 * pool sees it. HTTP/1 carries one stream at a time, so ready and busy alternate. A
 * cluster with a TLS transport_socket handshakes between the TCP connect and ready.
 */
export interface ClientOwner {
  /**
   * ConnPoolImplBase::transitionActiveClientState: the client joins the pool's list for
   * the state it enters (owningList: connecting while connecting or handshaking, busy while
   * busy or draining), leaving the one it was in; already there, it keeps its place.
   */
  moveToList(list: ClientList): void;
  /** ActiveClient::removeFromList: the client is closed and in no list */
  removeFromList(): void;
  onConnected(connection: TransportConnection): void;
  /** the TLS handshake's outcome, for the trace and the connection's stats */
  onHandshake?(verdict: TlsVerdict): void;
  /** ms left of connect_timeout, which runs until the handshake is done (Connected) */
  connectTimeLeft?(): number;
  /** ConnPoolImplBase::onUpstreamReady: the client can take a stream (pending ones attach) */
  onReady(): void;
  /**
   * ConnPoolImplBase::drainConnectionsImpl / ActiveClient::onConnectionDurationTimeout:
   * the client takes no new stream (`then`: it closes now, or after the one on it).
   */
  onDrain(reason: ClientDrainReason | undefined, then: 'close' | 'close after the stream'): void;
  /** close the socket (and its codec) now */
  closeConnection(): void;
  onClosed(reason: ClientCloseReason, error?: TransportError): void;
  /** Dispatcher::post: run once the machine's current step is over */
  post(fn: () => void): void;
}

/** The pool's lists (ConnPoolImplBase::connecting_clients_, ready_clients_, busy_clients_). */
export type ClientList = 'connecting' | 'ready' | 'busy';

/** Why a client drains; absent: the pool drains it (host health failure, host removed). */
export type ClientDrainReason = 'max_connection_duration';

export type ClientCloseReason = 'connect_failure' | 'connect_timeout' | 'tls_failure' | 'remote_close' | 'local_close' | 'idle_timeout';

export interface ClientMachineInput {
  transport: Transport;
  address: string;
  port: number;
  /** cluster connect_timeout, ms */
  connectTimeout: number;
  /** the cluster's idle_timeout (common_http_protocol_options), ms; 0 = none */
  idleTimeout: number;
  /** the cluster's UpstreamTlsContext; absent = raw_buffer */
  tls?: TlsContext;
  owner: ClientOwner;
}

export type ClientEvent =
  | { type: 'client.connect.ok'; connection: TransportConnection }
  | { type: 'client.connect.fail'; error: TransportError }
  | { type: 'client.handshake.ok' }
  | { type: 'client.handshake.fail'; error: TransportError }
  | { type: 'client.attach'; lastStream: boolean }
  | { type: 'client.release' }
  | { type: 'client.drain'; reason?: ClientDrainReason }
  | { type: 'client.close' }
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
    // ClientSslSocket: the handshake on the connected socket, judged by the cluster's context.
    handshake: fromCallback<ClientEvent, { connection: TransportConnection; tls: TlsContext; owner: ClientOwner }>(({ input, sendBack }) => {
      const { connection, tls, owner } = input;
      let active = true;
      const settle = (verdict: TlsVerdict): void => {
        if (!active) return;
        owner.onHandshake?.(verdict);
        sendBack(verdict.ok ? { type: 'client.handshake.ok' } : { type: 'client.handshake.fail', error: { code: 'TLS', message: verdict.reason } });
      };
      if (!connection.startTls) {
        owner.post(() => settle(tls.failed({ code: 'ENOTSUP', message: 'this transport cannot do TLS' })));
        return () => {
          active = false;
        };
      }
      // Judged only while still handshaking: a verdict after connect_timeout counts for nothing.
      connection.startTls(tls.options, { onSecure: (info) => active && settle(tls.judge(info)), onError: (error) => active && settle(tls.failed(error)) });
      return () => {
        active = false;
      };
    }),
  },
  delays: {
    connectTimeout: ({ context }) => context.connectTimeout,
    connectTimeLeft: ({ context }) => Math.max(0, context.owner.connectTimeLeft?.() ?? context.connectTimeout),
    // Without an idle_timeout the delay is NEVER_MS (no clock timer is set) and
    // hasIdleTimeout keeps the connection.
    idleTimeout: ({ context }) => (context.idleTimeout > 0 ? context.idleTimeout : NEVER_MS),
  },
  guards: {
    isLastStream: ({ event }) => event.type === 'client.attach' && event.lastStream,
    isTls: ({ context }) => context.tls !== undefined,
    hasIdleTimeout: ({ context }) => context.idleTimeout > 0,
  },
  actions: {
    keepConnection: assign({
      connection: ({ event }) => (event.type === 'client.connect.ok' ? event.connection : undefined),
    }),
    handConnectionToOwner: ({ context }) => context.owner.onConnected(context.connection!),
    moveToList: ({ context }, params: { list: ClientList }) => context.owner.moveToList(params.list),
    removeFromList: ({ context }) => context.owner.removeFromList(),
    notifyReady: ({ context }) => context.owner.onReady(),
    drainClient: ({ context, event }, params: { then: 'close' | 'close after the stream' }) =>
      context.owner.onDrain(event.type === 'client.drain' ? event.reason : undefined, params.then),
    recordCloseReason: assign({
      closeReason: (_, params: { reason: ClientCloseReason }) => params.reason,
      error: ({ event }) =>
        event.type === 'client.connect.fail' || event.type === 'client.remote.close' || event.type === 'client.handshake.fail' ? event.error : undefined,
    }),
    closeConnection: ({ context }) => context.owner.closeConnection(),
    // Before ready the owner has no codec on the socket yet: the socket is closed here.
    destroySocket: ({ context }) => context.connection?.destroy(),
    // The pool's reaction (failing pending streams, local replies, retries) drives other
    // actors; it runs once this step is over rather than inside it.
    notifyClosed: ({ context }) => {
      const { owner, closeReason, error } = context;
      owner.post(() => owner.onClosed(closeReason ?? 'local_close', error));
    },
  },
}).createMachine({
  id: 'client',
  context: ({ input }) => ({ ...input }),
  initial: 'connecting',
  states: {
    connecting: {
      meta: { envoy: 'ConnPoolImplBase::tryCreateNewConnection' },
      entry: { type: 'moveToList', params: { list: 'connecting' } },
      invoke: {
        src: 'connect',
        input: ({ context }) => ({ transport: context.transport, address: context.address, port: context.port }),
      },
      after: {
        connectTimeout: { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'connect_timeout' } } },
      },
      on: {
        'client.connect.ok': [
          { guard: 'isTls', target: 'handshaking', actions: 'keepConnection' },
          { target: 'ready', actions: ['keepConnection', 'handConnectionToOwner'] },
        ],
        'client.connect.fail': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'connect_failure' } } },
        'client.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'local_close' } } },
      },
    },
    // SslSocket::doHandshake on the client side; Envoy raises Connected only after it, so
    // connect_timeout still runs (what is left of it).
    handshaking: {
      meta: { envoy: 'Extensions::TransportSockets::Tls::SslSocket::doHandshake (ClientSslSocket)' },
      // Still Connecting to the pool: Envoy raises Connected only after the handshake.
      entry: { type: 'moveToList', params: { list: 'connecting' } },
      invoke: {
        src: 'handshake',
        input: ({ context }) => ({ connection: context.connection!, tls: context.tls!, owner: context.owner }),
      },
      after: {
        connectTimeLeft: { target: 'closed', actions: [{ type: 'recordCloseReason', params: { reason: 'connect_timeout' } }, 'destroySocket'] },
      },
      on: {
        'client.handshake.ok': { target: 'ready', actions: 'handConnectionToOwner' },
        'client.handshake.fail': { target: 'closed', actions: [{ type: 'recordCloseReason', params: { reason: 'tls_failure' } }, 'destroySocket'] },
        'client.close': { target: 'closed', actions: [{ type: 'recordCloseReason', params: { reason: 'local_close' } }, 'destroySocket'] },
      },
    },
    ready: {
      meta: { envoy: 'ConnPoolImplBase::onUpstreamReady' },
      entry: [{ type: 'moveToList', params: { list: 'ready' } }, 'notifyReady'],
      // CodecClient::onIdleTimeout: ready (no stream) for the cluster's idle_timeout
      // (enableIdleTimer on entry, disableIdleTimer on leaving for a stream). This arms and
      // cancels a timer on every request. On the engine's runtime that is cheap: a
      // ready/busy cycle measured 0.20 us without it, 0.59 us with it, 0.26 us with an owner
      // DeadlineTimer moved by entry/exit actions, so +0.4 us a request buys the timer
      // in the chart. (On xstate's interpreter, EngineOptions.interpreter 'xstate', the same
      // `after` costs some +6 to +10 us a request.)
      after: {
        idleTimeout: { guard: 'hasIdleTimeout', target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'idle_timeout' } } },
      },
      on: {
        'client.attach': [{ guard: 'isLastStream', target: 'draining' }, { target: 'busy' }],
        'client.drain': {
          target: 'closed',
          actions: [{ type: 'drainClient', params: { then: 'close' } }, { type: 'recordCloseReason', params: { reason: 'local_close' } }],
        },
        'client.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'local_close' } } },
        'client.remote.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'remote_close' } } },
      },
    },
    busy: {
      meta: { envoy: 'ConnPoolImplBase::attachStreamToClient' },
      entry: { type: 'moveToList', params: { list: 'busy' } },
      on: {
        'client.release': 'ready',
        'client.drain': { target: 'draining', actions: { type: 'drainClient', params: { then: 'close after the stream' } } },
        'client.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'local_close' } } },
        'client.remote.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'remote_close' } } },
      },
    },
    // Serving its last stream (max_requests_per_connection reached, or Connection: close).
    draining: {
      meta: { envoy: 'ConnPoolImplBase::transitionActiveClientState (Draining)' },
      // owningList(Draining) is busy_clients_: it still carries a stream.
      entry: { type: 'moveToList', params: { list: 'busy' } },
      on: {
        'client.release': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'local_close' } } },
        'client.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'local_close' } } },
        'client.remote.close': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'remote_close' } } },
      },
    },
    closed: {
      meta: { envoy: 'ConnPoolImplBase::onConnectionEvent' },
      entry: ['removeFromList', 'closeConnection', 'notifyClosed'],
      type: 'final',
    },
  },
});
