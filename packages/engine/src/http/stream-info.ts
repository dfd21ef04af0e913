import type { TlsSessionInfo } from '../seams/transport';
import type { HeaderMap, RequestHead, ResponseHead } from './headers';

/**
 * StreamInfo: what one downstream request did, for the access log, stats and the trace.
 */
export class StreamInfo {
  /** epoch ms, for %START_TIME% */
  readonly startTime: number;
  /** engine clock ms, for durations */
  readonly startMonotonic: number;
  responseCode = 0;
  responseCodeDetails: string | undefined;
  readonly responseFlags = new Set<string>();
  bytesReceived = 0;
  bytesSent = 0;
  request: RequestHead | undefined;
  response: ResponseHead | undefined;
  routeName: string | undefined;
  upstreamCluster: string | undefined;
  upstreamHost: string | undefined;
  upstreamTransportFailureReason: string | undefined;
  attemptCount = 0;
  /** engine clock ms at which the last request byte arrived / the first response byte left / the stream ended */
  requestCompleteAt: number | undefined;
  firstResponseByteAt: number | undefined;
  endAt: number | undefined;
  /** true when the HCM treats the request as coming from inside (x-envoy-* headers honoured) */
  internal = false;
  /** the downstream connection's TLS session (Connection::ssl()), for %DOWNSTREAM_TLS_VERSION% and friends */
  downstreamTls: TlsSessionInfo | undefined;
  /**
   * StreamInfo::filterState: what the filters of one stream share by key (the compressor
   * filters agree on one encoding through it).
   */
  readonly filterState = new Map<string, unknown>();

  constructor(
    startTime: number,
    startMonotonic: number,
    readonly downstreamRemoteAddress: string,
    readonly downstreamLocalAddress: string,
  ) {
    this.startTime = startTime;
    this.startMonotonic = startMonotonic;
  }

  setFlag(flag: string): void {
    this.responseFlags.add(flag);
  }

  requestHeader(name: string): string | undefined {
    const head = this.request;
    if (!head) return undefined;
    switch (name) {
      case ':method':
        return head.method;
      case ':path':
        return head.path;
      case ':authority':
        return head.authority;
      case ':scheme':
        return head.scheme;
      default:
        return head.headers.get(name);
    }
  }

  responseHeader(name: string): string | undefined {
    const head = this.response;
    if (!head) return undefined;
    if (name === ':status') return String(head.status);
    return (head.headers as HeaderMap).get(name);
  }
}
