import { setup } from 'xstate';

/**
 * Network::ConnectionImpl with its FilterManagerImpl: the downstream TCP connection and
 * the network filters it feeds (the last being the HTTP connection manager).
 */
export type ConnectionEvent =
  | { type: 'cx.data' }
  | { type: 'cx.remote.end' }
  | { type: 'cx.close.local'; reason: string }
  | { type: 'cx.closed'; reason: string };

export const connectionMachine = setup({
  types: {
    events: {} as ConnectionEvent,
  },
}).createMachine({
  id: 'connection',
  initial: 'open',
  states: {
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
