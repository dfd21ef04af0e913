import { assign, not, setup } from 'xstate';
import { NEVER_MS } from '../fsm/compile';

/**
 * ConnectionManagerImpl::ActiveStream: one request/response exchange. The filters' own
 * iteration is a machine of its own (filter-chain.machine.ts, the stream's `/filters`
 * child); this one knows how far the request and the response are, whether the whole
 * request is in, and whether the downstream is above its write-buffer high watermark.
 * ActiveStream (active-stream.ts) holds the data and carries out the actions through
 * StreamMachineOwner.
 *
 * The stream's two timers are `after` transitions of its live states, on the stream's own
 * clock (frozen while step mode holds the request):
 * - `request_timeout` (ActiveStream::request_timer_) runs from the stream's start until the
 *   codec has the request's last byte, or a 101 makes the stream a tunnel. Its delay is the
 *   time left of the one deadline, so each state it runs in re-arms what is left of it.
 * - `stream_idle_timeout` (ActiveStream::stream_idle_timer_, or the route's idle_timeout)
 *   runs in every live state. Envoy re-arms it on every byte (resetIdleTimer); here a byte
 *   only records the time (the owner's `streamIdleTimeLeft`), and the timer, on waking,
 *   either fires or, when something moved meanwhile, re-enters its state to wait out the
 *   rest. So a body of many chunks costs no timer per chunk; what it costs is a timer
 *   armed and cancelled on each state change, about 1.4 us a request (its four or five
 *   state changes) on the compiled runtime (docs/resilience.md, "Cost on the request path").
 * Firing, a timer stays in its state: what Envoy does then (a local reply, or a reset once
 * the response started) moves the machine as any local reply does.
 */
export interface StreamMachineOwner {
  /** the downstream write buffer went above its high watermark: decoder filters hear of it */
  notifyAboveWriteBufferHighWatermark(): void;
  notifyBelowWriteBufferLowWatermark(): void;
  /** ms left of request_timeout, counted from the stream's start on its own clock */
  requestTimeLeft(): number;
  /** ActiveStream::onRequestTimeout: 408 (the request is not all in) */
  onRequestTimeout(): void;
  /** ms left of the stream idle timeout since the stream's last activity; undefined while it is off */
  streamIdleTimeLeft(): number | undefined;
  /** ActiveStream::onIdleTimeout: 408 or 504 before the response, a reset after it started */
  onStreamIdleTimeout(): void;
}

export interface StreamMachineInput {
  owner: StreamMachineOwner;
  /** request_timeout in ms for this stream; 0 = not armed (off, or the headers ended the request) */
  requestTimeout: number;
}

export type StreamEvent =
  /** request bytes the codec decoded: `endStream` says the request is complete */
  | { type: 'stream.decode.headers'; endStream: boolean }
  | { type: 'stream.decode.data'; endStream: boolean }
  | { type: 'stream.decode.headers.done'; endStream: boolean }
  | { type: 'stream.decode.complete' }
  | { type: 'stream.encode.headers'; local: boolean }
  | { type: 'stream.encode.headers.done'; endStream: boolean }
  | { type: 'stream.encode.complete' }
  /** the response was the 101 accepting the request's upgrade: the stream is a tunnel now */
  | { type: 'stream.upgrade.accepted' }
  /** writing the response: the downstream connection would not take more / takes more again */
  | { type: 'stream.downstream.above_high_watermark' }
  | { type: 'stream.downstream.below_low_watermark' }
  /** the route chose its own idle_timeout (ActiveStream::refreshIdleTimeout): the idle timer starts again with it */
  | { type: 'stream.idle_timeout.refresh' }
  | { type: 'stream.reset'; reason: string };

interface StreamContext {
  owner: StreamMachineOwner;
  /** request_timer_ is armed: not fired, the request not yet all in, no tunnel */
  requestTimerRunning: boolean;
  /** the codec has decoded the request's last byte (ActiveStream::state_.codec_saw_local_complete_) */
  requestComplete: boolean;
  /** the downstream is above its high watermark for this stream's response */
  downstreamAboveHighWatermark: boolean;
}

type LiveState = 'decoding_headers' | 'decoding_body' | 'awaiting_response' | 'encoding_headers' | 'upgraded' | 'encoding_body';

/**
 * What every live state takes: request bytes, write-buffer watermarks, a reset. Where
 * request_timeout runs (`timed`), the request's last byte stops it by re-entering the
 * state (a re-entry the trace does not show: the state does not change), whose timer then
 * has no time to wait; a refreshed idle timeout re-arms the idle timer the same way.
 */
function live(self: LiveState, timed: boolean) {
  const requestBytes = timed
    ? ([{ guard: 'completesTimedRequest', target: self, reenter: true, actions: 'recordRequestComplete' }, { actions: 'recordRequestComplete' }] as const)
    : ({ actions: 'recordRequestComplete' } as const);
  return {
    'stream.decode.headers': requestBytes,
    'stream.decode.data': requestBytes,
    'stream.idle_timeout.refresh': { target: self, reenter: true },
    'stream.downstream.above_high_watermark': { guard: not('isDownstreamAboveHighWatermark'), actions: ['markDownstreamAboveHighWatermark', 'notifyAboveWriteBufferHighWatermark'] },
    'stream.downstream.below_low_watermark': { guard: 'isDownstreamAboveHighWatermark', actions: ['markDownstreamBelowLowWatermark', 'notifyBelowWriteBufferLowWatermark'] },
    'stream.reset': 'reset',
  } as const;
}

// A timer that fires stays in its state without re-entering it (nothing is re-armed), and
// the chart draws the firing as the loop it is; the reply it sends moves the machine on.

/** ActiveStream::onRequestTimeout, once. */
function requestTimer(self: LiveState) {
  return {
    request_timeout: { guard: 'isRequestTimerRunning', target: self, actions: ['stopRequestTimer', 'onRequestTimeout'] },
  } as const;
}

/** ActiveStream::onIdleTimeout when nothing moved for the whole timeout; else the rest of it, from the last activity. */
function streamIdleTimer(self: LiveState) {
  return {
    stream_idle_timeout: [
      { guard: 'isStreamIdleTimeoutReached', target: self, actions: 'onStreamIdleTimeout' },
      { guard: 'isStreamIdleTimerRunning', target: self, reenter: true },
    ],
  } as const;
}

export const streamMachine = setup({
  types: {
    input: {} as StreamMachineInput,
    context: {} as StreamContext,
    events: {} as StreamEvent,
  },
  delays: {
    // A timer that is not running waits NEVER_MS, which the runtime sets no timer for and
    // its guard would refuse anyway.
    request_timeout: ({ context }) => (context.requestTimerRunning ? Math.max(0, context.owner.requestTimeLeft()) : NEVER_MS),
    stream_idle_timeout: ({ context }) => {
      const left = context.owner.streamIdleTimeLeft();
      // An idle timeout longer than a clock can wait wakes at the longest and waits again.
      return left === undefined ? NEVER_MS : Math.min(NEVER_MS - 1, Math.max(0, left));
    },
  },
  guards: {
    endsStream: ({ event }) =>
      (event.type === 'stream.decode.headers.done' || event.type === 'stream.encode.headers.done') && event.endStream,
    isDownstreamAboveHighWatermark: ({ context }) => context.downstreamAboveHighWatermark,
    /** the request's last byte, while request_timeout runs */
    completesTimedRequest: ({ context, event }) =>
      context.requestTimerRunning && (event.type === 'stream.decode.headers' || event.type === 'stream.decode.data') && event.endStream,
    isRequestTimerRunning: ({ context }) => context.requestTimerRunning,
    isStreamIdleTimerRunning: ({ context }) => context.owner.streamIdleTimeLeft() !== undefined,
    isStreamIdleTimeoutReached: ({ context }) => (context.owner.streamIdleTimeLeft() ?? 1) <= 0,
  },
  actions: {
    recordRequestComplete: assign(({ context, event }) => {
      const complete = context.requestComplete || ((event.type === 'stream.decode.headers' || event.type === 'stream.decode.data') && event.endStream);
      // The whole request is in: request_timeout no longer applies.
      return { requestComplete: complete, requestTimerRunning: context.requestTimerRunning && !complete };
    }),
    stopRequestTimer: assign({ requestTimerRunning: false }),
    onRequestTimeout: ({ context }) => context.owner.onRequestTimeout(),
    onStreamIdleTimeout: ({ context }) => context.owner.onStreamIdleTimeout(),
    markDownstreamAboveHighWatermark: assign({ downstreamAboveHighWatermark: true }),
    markDownstreamBelowLowWatermark: assign({ downstreamAboveHighWatermark: false }),
    notifyAboveWriteBufferHighWatermark: ({ context }) => context.owner.notifyAboveWriteBufferHighWatermark(),
    notifyBelowWriteBufferLowWatermark: ({ context }) => context.owner.notifyBelowWriteBufferLowWatermark(),
  },
}).createMachine({
  id: 'stream',
  context: ({ input }) => ({ owner: input.owner, requestTimerRunning: input.requestTimeout > 0, requestComplete: false, downstreamAboveHighWatermark: false }),
  initial: 'decoding_headers',
  states: {
    decoding_headers: {
      meta: { envoy: 'ConnectionManagerImpl::ActiveStream::decodeHeaders' },
      after: { ...requestTimer('decoding_headers'), ...streamIdleTimer('decoding_headers') },
      on: {
        ...live('decoding_headers', true),
        'stream.decode.headers.done': [{ guard: 'endsStream', target: 'awaiting_response' }, { target: 'decoding_body' }],
        'stream.encode.headers': 'encoding_headers',
      },
    },
    decoding_body: {
      meta: { envoy: 'ConnectionManagerImpl::ActiveStream::decodeData' },
      after: { ...requestTimer('decoding_body'), ...streamIdleTimer('decoding_body') },
      on: {
        ...live('decoding_body', true),
        'stream.decode.complete': 'awaiting_response',
        'stream.encode.headers': 'encoding_headers',
      },
    },
    // The whole request went through the decoder filters; the router owns it now. The
    // request is all in, so request_timeout does not run here.
    awaiting_response: {
      meta: { envoy: 'Router::Filter::onRequestComplete' },
      after: streamIdleTimer('awaiting_response'),
      on: { ...live('awaiting_response', false), 'stream.encode.headers': 'encoding_headers' },
    },
    // A response (or local reply) may start before the request is all in: request_timeout
    // still runs until its last byte.
    encoding_headers: {
      meta: { envoy: 'FilterManager::encodeHeaders' },
      after: { ...requestTimer('encoding_headers'), ...streamIdleTimer('encoding_headers') },
      on: {
        ...live('encoding_headers', true),
        'stream.encode.headers.done': [{ guard: 'endsStream', target: 'complete' }, { target: 'encoding_body' }],
        'stream.upgrade.accepted': { target: 'upgraded', actions: 'stopRequestTimer' },
      },
    },
    // A WebSocket (or other upgrade) tunnel: bytes flow both ways through the filters as
    // body data, never ending the request; it ends when either side closes (a reset,
    // flagged DC or UC as in Envoy). The request head was all of the request, so there is
    // no request_timeout; the idle timeout still applies to the bytes.
    upgraded: {
      meta: { envoy: 'ConnectionManagerImpl::ActiveStream (upgrade: Http1::ConnectionImpl::handling_upgrade_)' },
      after: streamIdleTimer('upgraded'),
      on: { ...live('upgraded', false), 'stream.encode.complete': 'complete' },
    },
    encoding_body: {
      meta: { envoy: 'FilterManager::encodeData' },
      after: { ...requestTimer('encoding_body'), ...streamIdleTimer('encoding_body') },
      on: { ...live('encoding_body', true), 'stream.encode.complete': 'complete' },
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
