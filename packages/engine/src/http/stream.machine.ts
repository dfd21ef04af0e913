import { setup } from 'xstate';

/**
 * ConnectionManagerImpl::ActiveStream with its FilterManager: one request/response
 * exchange. Decoder filters run in configured order, encoder filters in reverse; each
 * filter call is reported as a fact while the stream sits in the matching state.
 */
export type StreamEvent =
  | { type: 'stream.decode.headers.done'; endStream: boolean }
  | { type: 'stream.decode.complete' }
  | { type: 'stream.encode.headers'; local: boolean }
  | { type: 'stream.encode.headers.done'; endStream: boolean }
  | { type: 'stream.encode.complete' }
  /** the response was the 101 accepting the request's upgrade: the stream is a tunnel now */
  | { type: 'stream.upgrade.accepted' }
  | { type: 'stream.reset'; reason: string };

export const streamMachine = setup({
  types: { events: {} as StreamEvent },
  guards: {
    endsStream: ({ event }) =>
      (event.type === 'stream.decode.headers.done' || event.type === 'stream.encode.headers.done') && event.endStream,
  },
}).createMachine({
  id: 'stream',
  initial: 'decoding_headers',
  states: {
    decoding_headers: {
      meta: { envoy: 'ConnectionManagerImpl::ActiveStream::decodeHeaders' },
      on: {
        'stream.decode.headers.done': [{ guard: 'endsStream', target: 'awaiting_response' }, { target: 'decoding_body' }],
        'stream.encode.headers': 'encoding_headers',
        'stream.reset': 'reset',
      },
    },
    decoding_body: {
      meta: { envoy: 'ConnectionManagerImpl::ActiveStream::decodeData' },
      on: {
        'stream.decode.complete': 'awaiting_response',
        'stream.encode.headers': 'encoding_headers',
        'stream.reset': 'reset',
      },
    },
    // The whole request went through the decoder filters; the router owns it now.
    awaiting_response: {
      meta: { envoy: 'Router::Filter::onRequestComplete' },
      on: { 'stream.encode.headers': 'encoding_headers', 'stream.reset': 'reset' },
    },
    encoding_headers: {
      meta: { envoy: 'FilterManager::encodeHeaders' },
      on: {
        'stream.encode.headers.done': [{ guard: 'endsStream', target: 'complete' }, { target: 'encoding_body' }],
        'stream.upgrade.accepted': 'upgraded',
        'stream.reset': 'reset',
      },
    },
    // A WebSocket (or other upgrade) tunnel: bytes flow both ways through the filters as
    // body data, never ending the request; it ends when either side closes (a reset,
    // flagged DC or UC as in Envoy).
    upgraded: {
      meta: { envoy: 'ConnectionManagerImpl::ActiveStream (upgrade: Http1::ConnectionImpl::handling_upgrade_)' },
      on: { 'stream.encode.complete': 'complete', 'stream.reset': 'reset' },
    },
    encoding_body: {
      meta: { envoy: 'FilterManager::encodeData' },
      on: { 'stream.encode.complete': 'complete', 'stream.reset': 'reset' },
    },
    complete: {
      meta: { envoy: 'ConnectionManagerImpl::doEndStream' },
      type: 'final',
    },
    reset: {
      meta: { envoy: 'ConnectionManagerImpl::ActiveStream::onResetStream' },
      type: 'final',
    },
  },
});
