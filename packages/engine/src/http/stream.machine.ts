import { assign, not, setup } from 'xstate';

/**
 * ConnectionManagerImpl::ActiveStream: one request/response exchange. The filters' own
 * iteration is a machine of its own (filter-chain.machine.ts, the stream's `/filters`
 * child); this one knows how far the request and the response are, whether the whole
 * request is in, and whether the downstream is above its write-buffer high watermark.
 * ActiveStream (active-stream.ts) holds the data and carries out the actions through
 * StreamMachineOwner.
 */
export interface StreamMachineOwner {
  /** the downstream write buffer went above its high watermark: decoder filters hear of it */
  notifyAboveWriteBufferHighWatermark(): void;
  notifyBelowWriteBufferLowWatermark(): void;
}

export interface StreamMachineInput {
  owner: StreamMachineOwner;
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
  | { type: 'stream.reset'; reason: string };

interface StreamContext {
  owner: StreamMachineOwner;
  /** the codec has decoded the request's last byte (ActiveStream::state_.codec_saw_local_complete_) */
  requestComplete: boolean;
  /** the downstream is above its high watermark for this stream's response */
  downstreamAboveHighWatermark: boolean;
}

/** What every live state takes: request bytes, write-buffer watermarks, a reset. */
const live = {
  'stream.decode.headers': { actions: 'recordRequestComplete' },
  'stream.decode.data': { actions: 'recordRequestComplete' },
  'stream.downstream.above_high_watermark': { guard: not('isDownstreamAboveHighWatermark'), actions: ['markDownstreamAboveHighWatermark', 'notifyAboveWriteBufferHighWatermark'] },
  'stream.downstream.below_low_watermark': { guard: 'isDownstreamAboveHighWatermark', actions: ['markDownstreamBelowLowWatermark', 'notifyBelowWriteBufferLowWatermark'] },
  'stream.reset': 'reset',
} as const;

export const streamMachine = setup({
  types: {
    input: {} as StreamMachineInput,
    context: {} as StreamContext,
    events: {} as StreamEvent,
  },
  guards: {
    endsStream: ({ event }) =>
      (event.type === 'stream.decode.headers.done' || event.type === 'stream.encode.headers.done') && event.endStream,
    isDownstreamAboveHighWatermark: ({ context }) => context.downstreamAboveHighWatermark,
  },
  actions: {
    recordRequestComplete: assign({
      requestComplete: ({ context, event }) => context.requestComplete || ((event.type === 'stream.decode.headers' || event.type === 'stream.decode.data') && event.endStream),
    }),
    markDownstreamAboveHighWatermark: assign({ downstreamAboveHighWatermark: true }),
    markDownstreamBelowLowWatermark: assign({ downstreamAboveHighWatermark: false }),
    notifyAboveWriteBufferHighWatermark: ({ context }) => context.owner.notifyAboveWriteBufferHighWatermark(),
    notifyBelowWriteBufferLowWatermark: ({ context }) => context.owner.notifyBelowWriteBufferLowWatermark(),
  },
}).createMachine({
  id: 'stream',
  context: ({ input }) => ({ owner: input.owner, requestComplete: false, downstreamAboveHighWatermark: false }),
  initial: 'decoding_headers',
  states: {
    decoding_headers: {
      meta: { envoy: 'ConnectionManagerImpl::ActiveStream::decodeHeaders' },
      on: {
        ...live,
        'stream.decode.headers.done': [{ guard: 'endsStream', target: 'awaiting_response' }, { target: 'decoding_body' }],
        'stream.encode.headers': 'encoding_headers',
      },
    },
    decoding_body: {
      meta: { envoy: 'ConnectionManagerImpl::ActiveStream::decodeData' },
      on: {
        ...live,
        'stream.decode.complete': 'awaiting_response',
        'stream.encode.headers': 'encoding_headers',
      },
    },
    // The whole request went through the decoder filters; the router owns it now.
    awaiting_response: {
      meta: { envoy: 'Router::Filter::onRequestComplete' },
      on: { ...live, 'stream.encode.headers': 'encoding_headers' },
    },
    encoding_headers: {
      meta: { envoy: 'FilterManager::encodeHeaders' },
      on: {
        ...live,
        'stream.encode.headers.done': [{ guard: 'endsStream', target: 'complete' }, { target: 'encoding_body' }],
        'stream.upgrade.accepted': 'upgraded',
      },
    },
    // A WebSocket (or other upgrade) tunnel: bytes flow both ways through the filters as
    // body data, never ending the request; it ends when either side closes (a reset,
    // flagged DC or UC as in Envoy).
    upgraded: {
      meta: { envoy: 'ConnectionManagerImpl::ActiveStream (upgrade: Http1::ConnectionImpl::handling_upgrade_)' },
      on: { ...live, 'stream.encode.complete': 'complete' },
    },
    encoding_body: {
      meta: { envoy: 'FilterManager::encodeData' },
      on: { ...live, 'stream.encode.complete': 'complete' },
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
