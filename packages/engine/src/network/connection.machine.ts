import { setup } from 'xstate';

/**
 * Network::ConnectionImpl with its FilterManagerImpl: the downstream TCP connection and
 * the network filters it feeds (the last being the HTTP connection manager). A TLS
 * connection (the filter chain's transport_socket) handshakes before it is open; a
 * raw_buffer one has nothing to do there.
 */
export interface ConnectionMachineInput {
  /** the filter chain's transport socket is TLS */
  tls: boolean;
}

export type ConnectionEvent =
  | { type: 'cx.handshake.done' }
  | { type: 'cx.handshake.failed'; reason: string }
  | { type: 'cx.data' }
  | { type: 'cx.remote.end' }
  | { type: 'cx.close.local'; reason: string }
  | { type: 'cx.closed'; reason: string };

export const connectionMachine = setup({
  types: {
    input: {} as ConnectionMachineInput,
    context: {} as ConnectionMachineInput,
    events: {} as ConnectionEvent,
  },
  guards: {
    isRawBuffer: ({ context }) => !context.tls,
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({ ...input }),
  initial: 'handshaking',
  states: {
    // Ssl::SslSocket::doHandshake, driven by ConnectionImpl::onReadReady/onWriteReady until
    // the handshake is done (raiseEvent Connected) or fails (close, NoFlush).
    handshaking: {
      meta: { envoy: 'Extensions::TransportSockets::Tls::SslSocket::doHandshake' },
      always: { guard: 'isRawBuffer', target: 'open' },
      on: {
        'cx.handshake.done': 'open',
        'cx.handshake.failed': 'closed',
        'cx.close.local': 'closing',
        'cx.closed': 'closed',
      },
    },
    open: {
      meta: { envoy: 'Network::FilterManagerImpl::initializeReadFilters' },
      on: {
        'cx.data': 'active',
        'cx.remote.end': 'half_closed',
        'cx.close.local': 'closing',
        'cx.closed': 'closed',
      },
    },
    active: {
      meta: { envoy: 'Network::ConnectionImpl::onReadReady' },
      on: {
        'cx.remote.end': 'half_closed',
        'cx.close.local': 'closing',
        'cx.closed': 'closed',
      },
    },
    // The peer sent FIN; a response in flight may still be written.
    half_closed: {
      meta: { envoy: 'Network::ConnectionImpl::onReadReady (end_stream)' },
      on: { 'cx.close.local': 'closing', 'cx.closed': 'closed' },
    },
    // Flushing what is buffered before the socket closes (ConnectionCloseType::FlushWrite).
    closing: {
      meta: { envoy: 'Network::ConnectionImpl::close' },
      on: { 'cx.closed': 'closed' },
    },
    closed: {
      meta: { envoy: 'Network::ConnectionImpl::closeSocket' },
      type: 'final',
    },
  },
});
