import { and, assign, not, setup } from 'xstate';
import type { FilterDataStatus } from './filter';

/**
 * Http::FilterManager's iteration over one stream's HTTP filters: decoder filters in
 * configured order, encoder filters in reverse. The FilterManager side of ActiveStream
 * (active-stream.ts) holds the filters, the headers and the held body, calls each filter
 * and tells this machine what the filter answered; the machine knows where the chain is
 * (iterating, stopped at a filter, through), which filter holds it, and what a held body
 * over the buffer limit means. One actor per stream, at `<stream>/filters`.
 *
 * HTTP/1 here carries no trailers, and no encoder filter stops iteration yet (the
 * compressor injects its own output instead), so the chain has no trailers states and
 * the encoding states have no `stopped` counterpart: `continueEncoding` resumes nothing.
 */
export interface FilterChainOwner {
  /** a filter stopped the chain (StopIteration from decodeHeaders, or a buffering decodeData) */
  onIterationStopped(stop: FilterStop): void;
  /** the chain went on past the filter that stopped it (ActiveStreamFilterBase::commonContinue) */
  onIterationContinued(stop: FilterStop): void;
  /** watermark buffering over the limit: stop (true) or resume (false) reading the downstream */
  readDisable(disable: boolean): void;
}

export interface FilterStop {
  filter: string;
  index: number;
  phase: 'headers' | 'data';
  /** what the filter answered */
  status: string;
  /** body the chain holds for it */
  heldBytes: number;
}

export interface FilterChainInput {
  owner: FilterChainOwner;
}

export type FilterChainEvent =
  /** a decoder (not the last) answered StopIteration from decodeHeaders */
  | { type: 'filters.decode.headers.stopped'; index: number; filter: string }
  /** continueDecoding() from the filter holding the headers: the later decoders get them */
  | { type: 'filters.decode.headers.continue' }
  /** the headers went through every decoder (the last one may keep them: the router does) */
  | { type: 'filters.decode.headers.done'; endStream: boolean }
  /** a decoder kept a body chunk (StopIterationAndBuffer / StopIterationAndWatermark) */
  | { type: 'filters.decode.data.held'; index: number; filter: string; status: FilterDataStatus; heldBytes: number; bufferLimit: number }
  /** the held body goes on from the filter after the one that kept it */
  | { type: 'filters.decode.data.release' }
  /** the request's last byte went through every decoder */
  | { type: 'filters.decode.complete' }
  /** the response starts: a local reply, or the router's upstream response */
  | { type: 'filters.encode.headers'; local: boolean }
  | { type: 'filters.encode.headers.done'; endStream: boolean }
  | { type: 'filters.encode.complete' };

interface FilterChainContext {
  owner: FilterChainOwner;
  /** the decoder holding the headers, or -1 */
  headersStoppedAt: number;
  headersStoppedBy: string;
  /** the decoder the held body waits for, or -1 */
  dataStoppedAt: number;
  dataStoppedBy: string;
  dataStatus: string;
  heldBytes: number;
  /** a watermark buffer over the limit turned downstream reads off */
  readDisabled: boolean;
  /** a StopIterationAndBuffer filter's body passed the buffer limit: the request fails with 413 */
  payloadTooLarge: boolean;
  /** the response is the proxy's own (sendLocalReply): the rest of the request is read and dropped */
  localReply: boolean;
}

const heldEvent = (e: FilterChainEvent) => (e.type === 'filters.decode.data.held' ? e : undefined);

/** A chunk held while decoding: where it waits, and what the limit makes of it. */
const holdChunk = (target?: string) => [
  { guard: and(['isOverBufferLimit', 'isBuffering']), target, actions: ['recordDataStop', 'failPayloadTooLarge'] },
  { guard: and(['isOverBufferLimit', 'isWatermarkBuffering', not('isReadDisabled')]), target, actions: ['recordDataStop', 'markReadDisabled', 'stopReading'] },
  { target, actions: 'recordDataStop' },
] as const;

/**
 * Held body released: reading resumes if the watermark had stopped it. Out of
 * decoding_data_stopped that is the chain going on (reported); elsewhere it is the body
 * that waited behind stopped headers, which the headers' continue already reported.
 */
const releaseBody = (target?: string) =>
  target
    ? ([
        { guard: 'isReadDisabled', target, actions: ['reportDataContinued', 'clearDataStop', 'markReadEnabled', 'resumeReading'] },
        { target, actions: ['reportDataContinued', 'clearDataStop'] },
      ] as const)
    : ([{ guard: 'isReadDisabled', actions: ['clearDataStop', 'markReadEnabled', 'resumeReading'] }, { guard: 'isBodyHeld', actions: 'clearDataStop' }] as const);

const startResponse = { target: 'encoding_headers', actions: 'recordLocalReply' } as const;

export const filterChainMachine = setup({
  types: {
    input: {} as FilterChainInput,
    context: {} as FilterChainContext,
    events: {} as FilterChainEvent,
  },
  guards: {
    endsStream: ({ event }) => (event.type === 'filters.decode.headers.done' || event.type === 'filters.encode.headers.done') && event.endStream,
    isOverBufferLimit: ({ event }) => {
      const e = heldEvent(event);
      return e !== undefined && e.heldBytes > e.bufferLimit;
    },
    isBuffering: ({ event }) => heldEvent(event)?.status === 'StopIterationAndBuffer',
    isWatermarkBuffering: ({ event }) => heldEvent(event)?.status === 'StopIterationAndWatermark',
    isReadDisabled: ({ context }) => context.readDisabled,
    isBodyHeld: ({ context }) => context.dataStoppedAt >= 0,
  },
  actions: {
    recordHeadersStop: assign(({ event }) =>
      event.type === 'filters.decode.headers.stopped' ? { headersStoppedAt: event.index, headersStoppedBy: event.filter } : {},
    ),
    clearHeadersStop: assign({ headersStoppedAt: -1, headersStoppedBy: '' }),
    recordDataStop: assign(({ event }) => {
      const e = heldEvent(event);
      return e ? { dataStoppedAt: e.index, dataStoppedBy: e.filter, dataStatus: e.status, heldBytes: e.heldBytes } : {};
    }),
    clearDataStop: assign({ dataStoppedAt: -1, dataStoppedBy: '', dataStatus: '', heldBytes: 0 }),
    failPayloadTooLarge: assign({ payloadTooLarge: true }),
    markReadDisabled: assign({ readDisabled: true }),
    markReadEnabled: assign({ readDisabled: false }),
    stopReading: ({ context }) => context.owner.readDisable(true),
    resumeReading: ({ context }) => context.owner.readDisable(false),
    recordLocalReply: assign({ localReply: ({ event }) => event.type === 'filters.encode.headers' && event.local }),
    reportHeadersStopped: ({ context }) =>
      context.owner.onIterationStopped({ filter: context.headersStoppedBy, index: context.headersStoppedAt, phase: 'headers', status: 'StopIteration', heldBytes: context.heldBytes }),
    reportDataStopped: ({ context }) =>
      context.owner.onIterationStopped({ filter: context.dataStoppedBy, index: context.dataStoppedAt, phase: 'data', status: context.dataStatus, heldBytes: context.heldBytes }),
    reportHeadersContinued: ({ context }) =>
      context.owner.onIterationContinued({ filter: context.headersStoppedBy, index: context.headersStoppedAt, phase: 'headers', status: 'StopIteration', heldBytes: context.heldBytes }),
    reportDataContinued: ({ context }) =>
      context.owner.onIterationContinued({ filter: context.dataStoppedBy, index: context.dataStoppedAt, phase: 'data', status: context.dataStatus, heldBytes: context.heldBytes }),
  },
}).createMachine({
  id: 'filter_chain',
  context: ({ input }) => ({
    owner: input.owner,
    headersStoppedAt: -1,
    headersStoppedBy: '',
    dataStoppedAt: -1,
    dataStoppedBy: '',
    dataStatus: '',
    heldBytes: 0,
    readDisabled: false,
    payloadTooLarge: false,
    localReply: false,
  }),
  initial: 'decoding_headers',
  states: {
    decoding_headers: {
      meta: { envoy: 'FilterManager::decodeHeaders' },
      on: {
        'filters.decode.headers.stopped': { target: 'decoding_headers_stopped', actions: 'recordHeadersStop' },
        'filters.decode.headers.done': [{ guard: 'endsStream', target: 'decode_complete' }, { target: 'decoding_data' }],
        'filters.decode.data.held': [...holdChunk()],
        'filters.decode.data.release': [...releaseBody()],
        'filters.encode.headers': startResponse,
      },
    },
    // A decoder answered StopIteration (a fault delay, a rate limit's wait): later decoders
    // see nothing until it calls continueDecoding(). Body that arrives meanwhile still
    // reaches the filters up to this one, which may keep it.
    decoding_headers_stopped: {
      meta: { envoy: 'ActiveStreamDecoderFilter::decodeHeaders (StopIteration)' },
      entry: 'reportHeadersStopped',
      on: {
        'filters.decode.data.held': [...holdChunk()],
        'filters.decode.data.release': [...releaseBody()],
        'filters.decode.headers.continue': { target: 'decoding_headers', actions: ['reportHeadersContinued', 'clearHeadersStop'] },
        'filters.encode.headers': startResponse,
      },
    },
    decoding_data: {
      meta: { envoy: 'FilterManager::decodeData' },
      on: {
        'filters.decode.data.held': [...holdChunk('decoding_data_stopped')],
        'filters.decode.data.release': [...releaseBody()],
        'filters.decode.complete': 'decode_complete',
        'filters.encode.headers': startResponse,
      },
    },
    // A decoder keeps the body (the buffer filter, a watermark-buffering filter) until it
    // calls continueDecoding(); past the buffer limit, 413 or no more reading.
    decoding_data_stopped: {
      meta: { envoy: 'FilterManager::decodeData (StopIterationAndBuffer)' },
      entry: 'reportDataStopped',
      on: {
        'filters.decode.data.held': [...holdChunk()],
        'filters.decode.data.release': [...releaseBody('decoding_data')],
        'filters.encode.headers': startResponse,
      },
    },
    // The whole request went through the decoders; the router (the last one) owns it.
    decode_complete: {
      meta: { envoy: 'FilterManager::decodeData (end_stream: every decoder done)' },
      on: { 'filters.encode.headers': startResponse },
    },
    encoding_headers: {
      meta: { envoy: 'FilterManager::encodeHeaders' },
      on: { 'filters.encode.headers.done': [{ guard: 'endsStream', target: 'encode_complete' }, { target: 'encoding_data' }] },
    },
    encoding_data: {
      meta: { envoy: 'FilterManager::encodeData' },
      on: { 'filters.encode.complete': 'encode_complete' },
    },
    encode_complete: {
      meta: { envoy: 'FilterManager::encodeData (end_stream: every encoder done)' },
      type: 'final',
    },
  },
});
