import { setup } from 'xstate';

/**
 * Router::UpstreamRequest: one attempt at the upstream, from asking the pool for a
 * stream to the last byte of the response.
 */
export type UpstreamRequestEvent =
  | { type: 'upstream.pool.ready' }
  | { type: 'upstream.pool.failure'; reason: string }
  | { type: 'upstream.request.sent' }
  | { type: 'upstream.headers'; endStream: boolean; upgrade?: boolean }
  | { type: 'upstream.complete' }
  | { type: 'upstream.reset'; reason: string };

export const upstreamRequestMachine = setup({
  types: { events: {} as UpstreamRequestEvent },
  guards: {
    endsStream: ({ event }) => event.type === 'upstream.headers' && event.endStream,
    opensTunnel: ({ event }) => event.type === 'upstream.headers' && event.upgrade === true,
  },
}).createMachine({
  id: 'upstream_request',
  initial: 'pending_pool',
  states: {
    pending_pool: {
      meta: { envoy: 'HttpConnPoolImplBase::newStream' },
      on: {
        'upstream.pool.ready': 'sending',
        'upstream.pool.failure': 'failed',
        'upstream.reset': 'failed',
      },
    },
    sending: {
      meta: { envoy: 'UpstreamRequest::onPoolReady' },
      on: {
        'upstream.request.sent': 'awaiting_headers',
        // An upstream may answer before it has read the whole request; an upgrade request
        // never ends, and its 101 turns the attempt into a tunnel.
        'upstream.headers': [{ guard: 'opensTunnel', target: 'tunneling' }, { guard: 'endsStream', target: 'done' }, { target: 'receiving_body' }],
        'upstream.reset': 'failed',
      },
    },
    awaiting_headers: {
      meta: { envoy: 'UpstreamRequest::encodeData (end_stream)' },
      on: {
        'upstream.headers': [{ guard: 'endsStream', target: 'done' }, { target: 'receiving_body' }],
        'upstream.reset': 'failed',
      },
    },
    receiving_body: {
      meta: { envoy: 'UpstreamRequest::decodeHeaders' },
      on: { 'upstream.complete': 'done', 'upstream.reset': 'failed' },
    },
    // After the 101: raw bytes both ways on a connection that is never returned to its pool.
    tunneling: {
      meta: { envoy: 'UpstreamRequest::decodeHeaders (101 Switching Protocols)' },
      on: { 'upstream.complete': 'done', 'upstream.reset': 'failed' },
    },
    done: { meta: { envoy: 'UpstreamRequest::decodeData (end_stream)' }, type: 'final' },
    failed: { meta: { envoy: 'UpstreamRequest::onResetStream' }, type: 'final' },
  },
});
