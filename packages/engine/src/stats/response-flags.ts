/**
 * Envoy response flags (`%RESPONSE_FLAGS%`): short codes that say why a request ended the
 * way it did. Several can be set on one stream; they are printed in one fixed order
 * (Envoy `ResponseFlagUtils::CORE_RESPONSE_FLAGS`), not in the order they were set, so a
 * log line reads the same however the failure unfolded.
 */

/** Long name -> short code, in Envoy's fixed print order. */
export const ResponseFlag = {
  FailedLocalHealthCheck: 'LH',
  NoHealthyUpstream: 'UH',
  UpstreamRequestTimeout: 'UT',
  LocalReset: 'LR',
  UpstreamRemoteReset: 'UR',
  UpstreamConnectionFailure: 'UF',
  UpstreamConnectionTermination: 'UC',
  UpstreamOverflow: 'UO',
  NoRouteFound: 'NR',
  DelayInjected: 'DI',
  FaultInjected: 'FI',
  RateLimited: 'RL',
  UnauthorizedExternalService: 'UAEX',
  RateLimitServiceError: 'RLSE',
  DownstreamConnectionTermination: 'DC',
  UpstreamRetryLimitExceeded: 'URX',
  StreamIdleTimeout: 'SI',
  InvalidEnvoyRequestHeaders: 'IH',
  DownstreamProtocolError: 'DPE',
  UpstreamMaxStreamDurationReached: 'UMSDR',
  ResponseFromCacheFilter: 'RFCF',
  NoFilterConfigFound: 'NFCF',
  DurationTimeout: 'DT',
  UpstreamProtocolError: 'UPE',
  NoClusterFound: 'NC',
  OverloadManagerTerminated: 'OM',
  DnsResolutionFailed: 'DF',
  DropOverload: 'DO',
  DownstreamRemoteReset: 'DR',
} as const;

export type ResponseFlag = (typeof ResponseFlag)[keyof typeof ResponseFlag];
export type ResponseFlagLongName = keyof typeof ResponseFlag;

/** Short codes in print order (object key order is insertion order for string keys). */
export const RESPONSE_FLAG_ORDER: readonly ResponseFlag[] = Object.values(ResponseFlag);

/** Short code -> long name, for `%RESPONSE_FLAGS_LONG%`. */
export const RESPONSE_FLAG_LONG_NAMES: Readonly<Record<ResponseFlag, ResponseFlagLongName>> =
  Object.fromEntries(
    (Object.entries(ResponseFlag) as Array<[ResponseFlagLongName, ResponseFlag]>).map(([long, short]) => [
      short,
      long,
    ]),
  ) as Record<ResponseFlag, ResponseFlagLongName>;

const KNOWN = new Set<string>(RESPONSE_FLAG_ORDER);

export function isResponseFlag(value: string): value is ResponseFlag {
  return KNOWN.has(value);
}

/**
 * Known flags in Envoy order, then any unknown strings in first-seen order. Unknown ones are
 * kept rather than dropped (Envoy prints custom flags after the core ones), so a misspelt
 * flag shows up in the log instead of vanishing.
 */
function ordered(flags: Iterable<string>): string[] {
  const set = flags instanceof Set ? (flags as ReadonlySet<string>) : new Set(flags);
  if (set.size === 0) return [];
  const out: string[] = [];
  for (const flag of RESPONSE_FLAG_ORDER) if (set.has(flag)) out.push(flag);
  if (out.length < set.size) for (const flag of set) if (!KNOWN.has(flag)) out.push(flag);
  return out;
}

/** `%RESPONSE_FLAGS%`: e.g. `UF,URX`, or `-` when no flag is set. */
export function formatResponseFlags(flags: Iterable<string>): string {
  const list = ordered(flags);
  return list.length === 0 ? '-' : list.join(',');
}

/** `%RESPONSE_FLAGS_LONG%`: e.g. `UpstreamConnectionFailure,UpstreamRetryLimitExceeded`. */
export function formatResponseFlagsLong(flags: Iterable<string>): string {
  const list = ordered(flags);
  if (list.length === 0) return '-';
  return list.map((f) => (isResponseFlag(f) ? RESPONSE_FLAG_LONG_NAMES[f] : f)).join(',');
}
