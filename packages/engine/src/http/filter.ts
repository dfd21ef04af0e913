import type { RouteResult } from '../router/route-matcher';
import type { HeaderMap, RequestHead, ResponseHead } from './headers';
import type { StreamInfo } from './stream-info';

/**
 * The HTTP filter contract, after Envoy's StreamDecoderFilter / StreamEncoderFilter.
 * A filter may stop iteration and continue later through its callbacks (docs/filters.md).
 *
 * Headers: `StopIteration` holds the headers at this filter; later filters see nothing
 * until it calls `continueDecoding()`. Body chunks that arrive meanwhile still go to the
 * filters up to and including the stopped one (as in Envoy), whose `decodeData` says what
 * happens to them:
 * - `Continue`: from the filter that stopped headers, resumes the headers (then this chunk);
 * - `StopIterationAndBuffer`: the stream keeps the chunk; past the buffer limit the request
 *   fails with 413;
 * - `StopIterationAndWatermark`: the same, but past the limit the downstream stops being
 *   read instead, until `continueDecoding()`;
 * - `StopIterationNoBuffer`: the filter took the chunk (the router does this).
 * A filter without `decodeData` lets data through (`Continue`).
 *
 * Where the chain stands (iterating, stopped at a filter, through) is the stream's filter
 * chain machine (filter-chain.machine.ts): a stop is its `decoding_headers_stopped` or
 * `decoding_data_stopped` state, with the filter's name in a `filter_chain.stopped` fact.
 */
export type FilterHeadersStatus = 'Continue' | 'StopIteration';
export type FilterDataStatus = 'Continue' | 'StopIterationAndBuffer' | 'StopIterationAndWatermark' | 'StopIterationNoBuffer';

export interface LocalReplyOptions {
  /** response flag to set, e.g. 'NR' */
  flag?: string;
  /** %RESPONSE_CODE_DETAILS%, e.g. 'route_not_found' */
  details: string;
  headers?: Array<[string, string]>;
  /** last word on the reply's headers, before content-length / content-type are set (Envoy's modify_headers) */
  modifyHeaders?: (headers: HeaderMap) => void;
}

export interface DecoderFilterCallbacks {
  readonly streamInfo: StreamInfo;
  /** the stream's stable random value (weighted clusters, runtime fractions, mirroring) */
  readonly randomValue: number;
  /** the route chosen for this request (looked up once, cached) */
  route(): RouteResult;
  continueDecoding(): void;
  sendLocalReply(status: number, body: string, options: LocalReplyOptions): void;
  /**
   * An interim (1xx) head from upstream. It reaches the client only with the HCM's
   * proxy_100_continue; otherwise it is swallowed (ActiveStreamDecoderFilter::encode1xxHeaders).
   */
  encode1xxHeaders(head: ResponseHead): void;
  /** used by the terminal filter to start the response */
  encodeHeaders(head: ResponseHead, endStream: boolean): void;
  encodeData(chunk: Uint8Array, endStream: boolean): void;
  /** the most request body a StopIterationAndBuffer filter may make the stream hold (default 1 MiB); past it, 413 */
  setDecoderBufferLimit(limit: number): void;
  /** read-side backpressure on the downstream while the upstream cannot take more */
  onDecoderFilterAboveWriteBufferHighWatermark(): void;
  onDecoderFilterBelowWriteBufferLowWatermark(): void;
  resetStream(reason: string): void;
}

export interface EncoderFilterCallbacks {
  readonly streamInfo: StreamInfo;
  continueEncoding(): void;
  /**
   * Only from inside encodeData: send `chunk` on to the encoder filters after this one (and
   * then the client), e.g. a body the filter transformed; encodeData then answers
   * StopIterationNoBuffer for the chunk it was given.
   */
  injectEncodedDataToFilterChain(chunk: Uint8Array, endStream: boolean): void;
}

export interface StreamDecoderFilter {
  readonly name: string;
  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void;
  decodeHeaders(head: RequestHead, endStream: boolean): FilterHeadersStatus;
  /** optional: absent means `Continue` */
  decodeData?(chunk: Uint8Array, endStream: boolean): FilterDataStatus;
  /** the downstream can take more response bytes again / is full */
  onAboveWriteBufferHighWatermark?(): void;
  onBelowWriteBufferLowWatermark?(): void;
  onDestroy?(): void;
}

export interface StreamEncoderFilter {
  readonly name: string;
  setEncoderFilterCallbacks(callbacks: EncoderFilterCallbacks): void;
  encodeHeaders(head: ResponseHead, endStream: boolean): FilterHeadersStatus;
  /** optional: absent means `Continue` */
  encodeData?(chunk: Uint8Array, endStream: boolean): FilterDataStatus;
  onDestroy?(): void;
}

export type StreamFilter = Partial<StreamDecoderFilter & StreamEncoderFilter> & { readonly name: string };
