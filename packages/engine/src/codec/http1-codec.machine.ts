import { setup } from 'xstate';

/**
 * Http1::ConnectionImpl: the parse state of one HTTP/1 connection, driven by llhttp's
 * callbacks. The server side (ServerConnectionImpl) parses requests, the client side
 * (ClientConnectionImpl) responses; the chart is the same, the Envoy functions differ.
 */
export type CodecEvent =
  | { type: 'codec.message.begin' }
  | { type: 'codec.headers.complete'; endStream: boolean }
  /** client side: the head was a 1xx (not 101); the final response follows on this connection */
  | { type: 'codec.headers.interim' }
  | { type: 'codec.message.complete' }
  /** the head was an upgrade (a request with Upgrade, or the 101 answering one): the rest is tunnel bytes */
  | { type: 'codec.upgrade' }
  | { type: 'codec.error'; code: string };

function createHttp1CodecMachine(role: 'server' | 'client') {
  const side = role === 'server' ? 'ServerConnectionImpl' : 'ClientConnectionImpl';
  // Only responses have interim (1xx) heads: llhttp reports each as a whole message, and
  // Envoy swallows that message's completion (ignore_message_complete_for_1xx_) and goes
  // on waiting for the final response.
  const interim = role === 'client';
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
          ...(interim && { 'codec.headers.interim': 'interim' }),
          'codec.error': 'error',
        },
      },
      ...(interim && {
        // A 1xx head: its message-complete is not the response's; back to waiting for the next head.
        interim: {
          meta: { envoy: 'Http1::ClientConnectionImpl::onHeadersCompleteBase (1xx: ignore_message_complete_for_1xx_)' },
          on: { 'codec.message.complete': 'idle', 'codec.error': 'error' },
        },
      }),
      body: {
        meta: { envoy: `Http1::${side}::onHeadersCompleteBase` },
        on: { 'codec.message.complete': 'complete', 'codec.error': 'error' },
      },
      // Headers ended the message (no body); message complete follows at once.
      headers_complete: {
        meta: { envoy: `Http1::${side}::onHeadersCompleteBase` },
        on: { 'codec.message.complete': 'complete', 'codec.upgrade': 'upgraded', 'codec.error': 'error' },
      },
      // handling_upgrade_: llhttp stopped at the end of the head (HPE_PAUSED_UPGRADE) and is
      // never resumed; every later byte goes to the stream as it is (maybeDirectDispatch)
      // until the connection closes.
      upgraded: {
        meta: { envoy: 'Http1::ConnectionImpl::maybeDirectDispatch (handling_upgrade_)' },
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
