import { assign, setup } from 'xstate';

/**
 * Http1::ConnectionImpl: the parse state of one HTTP/1 connection, driven by llhttp's
 * callbacks. The server side (ServerConnectionImpl) parses requests, the client side
 * (ClientConnectionImpl) responses; the chart is the same, the Envoy functions differ.
 *
 * The class beside it (ServerCodec, CodecClient) runs llhttp and hands what it parsed to
 * the connection manager or the router. Those hand-offs stay in the class, after `send`
 * returns, rather than being actions here: they run whole filter chains and other
 * actors, whose steps must come after this machine's own in the trace (actions run before
 * the tracer hears of the step), and they may re-enter the codec (a local reply ends the
 * response while llhttp is still inside the request). What belongs to the codec itself
 * is here: which message part is being read, whether the other side's message is over,
 * whether the connection may carry another exchange, and resuming llhttp.
 */
export type CodecEvent =
  | { type: 'codec.message.begin' }
  /** `closeConnection` (client side): the response ends the connection (Connection: close, HTTP/1.0, 101) */
  | { type: 'codec.headers.complete'; endStream: boolean; closeConnection?: boolean }
  /** client side: the head was a 1xx (not 101); the final response follows on this connection */
  | { type: 'codec.headers.interim' }
  | { type: 'codec.message.complete' }
  /** the head was an upgrade (a request with Upgrade, or the 101 answering one): the rest is tunnel bytes */
  | { type: 'codec.upgrade' }
  | { type: 'codec.error'; code: string }
  /** server side: the response went out whole (ServerConnectionImpl::onEncodeComplete) */
  | { type: 'codec.encode.complete' };

/** What the codec machine asks of its class (server side; the client side asks nothing). */
export interface CodecOwner {
  /**
   * ConnectionImpl::dispatch resuming llhttp: the response is out, so the next pipelined
   * request may be parsed. The class feeds the bytes it held back once the step is over.
   */
  resumeParsing(): void;
  /** onMessageBeginBase: a fresh ResponseEncoderImpl for this request's response */
  newResponseEncoder(): void;
}

export interface CodecContext {
  owner: CodecOwner | undefined;
  /**
   * server side: the response of the current request is out (Envoy's encode_complete_,
   * reset by the next request's onMessageBeginBase). A request that completes after its
   * response did (a local reply from decodeHeaders) does not pause llhttp.
   */
  encodeComplete: boolean;
  /** client side: the final response's head said the connection ends with it */
  closeConnection: boolean;
}

function createHttp1CodecMachine(role: 'server' | 'client') {
  const side = role === 'server' ? 'ServerConnectionImpl' : 'ClientConnectionImpl';
  // Only responses have interim (1xx) heads: llhttp reports each as a whole message, and
  // Envoy swallows that message's completion (ignore_message_complete_for_1xx_) and goes
  // on waiting for the final response.
  const interim = role === 'client';
  const server = role === 'server';
  // While the request is read, the response's end is only noted (the request completes
  // without pausing llhttp); once it is complete llhttp is paused and resumes.
  const encodeCompleteEarly = server && { 'codec.encode.complete': { actions: 'recordEncodeComplete' as const } };
  const beginMessage = server ? { actions: ['newResponseEncoder' as const, 'beginExchange' as const] } : {};
  const headersComplete = server ? {} : { actions: 'recordConnectionClose' as const };
  return setup({
    types: { input: {} as { owner?: CodecOwner }, context: {} as CodecContext, events: {} as CodecEvent },
    guards: {
      messageHasNoBody: ({ event }) => event.type === 'codec.headers.complete' && event.endStream,
      /** llhttp is paused at this request's end, waiting for the response to go out */
      isAwaitingEncode: ({ context }) => !context.encodeComplete,
    },
    actions: {
      resumeParsing: ({ context }) => context.owner!.resumeParsing(),
      newResponseEncoder: ({ context }) => context.owner!.newResponseEncoder(),
      recordEncodeComplete: assign({ encodeComplete: true }),
      beginExchange: assign({ encodeComplete: false }),
      recordConnectionClose: assign({
        closeConnection: ({ event }) => event.type === 'codec.headers.complete' && event.closeConnection === true,
      }),
    },
  }).createMachine({
    id: `http1_${role}_codec`,
    context: ({ input }) => ({ owner: input.owner, encodeComplete: false, closeConnection: false }),
    initial: 'idle',
    states: {
      idle: {
        meta: { envoy: 'Http1::ConnectionImpl::dispatch' },
        on: { 'codec.message.begin': { target: 'headers', ...beginMessage }, 'codec.error': 'error' },
      },
      headers: {
        meta: { envoy: `Http1::${side}::onMessageBeginBase` },
        on: {
          'codec.headers.complete': [
            { guard: 'messageHasNoBody', target: 'headers_complete', ...headersComplete },
            { target: 'body', ...headersComplete },
          ],
          ...(interim && { 'codec.headers.interim': 'interim' }),
          'codec.error': 'error',
          ...encodeCompleteEarly,
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
        on: { 'codec.message.complete': 'complete', 'codec.error': 'error', ...encodeCompleteEarly },
      },
      // Headers ended the message (no body); message complete follows at once.
      headers_complete: {
        meta: { envoy: `Http1::${side}::onHeadersCompleteBase` },
        on: { 'codec.message.complete': 'complete', 'codec.upgrade': 'upgraded', 'codec.error': 'error', ...encodeCompleteEarly },
      },
      // handling_upgrade_: llhttp stopped at the end of the head (HPE_PAUSED_UPGRADE) and is
      // never resumed; every later byte goes to the stream as it is (maybeDirectDispatch)
      // until the connection closes.
      upgraded: {
        meta: { envoy: 'Http1::ConnectionImpl::maybeDirectDispatch (handling_upgrade_)' },
      },
      // The message is done. On the server side llhttp stays paused here until the response
      // has gone out (unless it already had), so pipelined requests wait their turn; the
      // next message starts here.
      complete: {
        meta: { envoy: `Http1::${side}::onMessageCompleteBase` },
        on: {
          'codec.message.begin': { target: 'headers', ...beginMessage },
          'codec.error': 'error',
          ...(server && { 'codec.encode.complete': { guard: 'isAwaitingEncode', actions: ['recordEncodeComplete', 'resumeParsing'] } }),
        },
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
