import { setup } from 'xstate';

/**
 * Http1::ConnectionImpl: the parse state of one HTTP/1 connection, driven by llhttp's
 * callbacks. The server side (ServerConnectionImpl) parses requests, the client side
 * (ClientConnectionImpl) responses; the chart is the same, the Envoy functions differ.
 */
export type CodecEvent =
  | { type: 'codec.message.begin' }
  | { type: 'codec.headers.complete'; endStream: boolean }
  | { type: 'codec.message.complete' }
  | { type: 'codec.error'; code: string };

function createHttp1CodecMachine(role: 'server' | 'client') {
  const side = role === 'server' ? 'ServerConnectionImpl' : 'ClientConnectionImpl';
  return setup({
    types: { events: {} as CodecEvent },
    guards: {
      messageHasNoBody: ({ event }) => event.type === 'codec.headers.complete' && event.endStream,
    },
  }).createMachine({
    id: `http1_${role}_codec`,
    initial: 'idle',
    states: {
      idle: {
        meta: { envoy: 'Http1::ConnectionImpl::dispatch' },
        on: { 'codec.message.begin': 'headers', 'codec.error': 'error' },
      },
      headers: {
        meta: { envoy: `Http1::${side}::onMessageBeginBase` },
        on: {
          'codec.headers.complete': [{ guard: 'messageHasNoBody', target: 'headers_complete' }, { target: 'body' }],
          'codec.error': 'error',
        },
      },
      body: {
        meta: { envoy: `Http1::${side}::onHeadersCompleteBase` },
        on: { 'codec.message.complete': 'complete', 'codec.error': 'error' },
      },
      // Headers ended the message (no body); message complete follows at once.
      headers_complete: {
        meta: { envoy: `Http1::${side}::onHeadersCompleteBase` },
        on: { 'codec.message.complete': 'complete', 'codec.error': 'error' },
      },
      // The message is done. On the server side parsing stays paused until the response
      // has gone out, so pipelined requests wait their turn; the next message starts here.
      complete: {
        meta: { envoy: `Http1::${side}::onMessageCompleteBase` },
        on: { 'codec.message.begin': 'headers', 'codec.error': 'error' },
      },
      error: {
        meta: { envoy: role === 'server' ? 'Http1::ServerConnectionImpl::sendProtocolError' : 'Http1::ClientConnectionImpl::onMessageBeginBase (protocol error)' },
        type: 'final',
      },
    },
  });
}

export const serverCodecMachine = createHttp1CodecMachine('server');
export const clientCodecMachine = createHttp1CodecMachine('client');
