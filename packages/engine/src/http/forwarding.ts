/**
 * Request headers the HTTP connection manager and router add on the way upstream:
 * x-forwarded-for, x-forwarded-proto, x-request-id (Envoy `ConnectionManagerUtility::
 * mutateRequestHeaders`) and x-envoy-expected-rq-timeout-ms (router).
 *
 * Each function changes one header and returns whether it changed anything, so the caller
 * can put that in the trace.
 */
import type { HeaderMap } from './headers';

/** Only what we need from the seeded `Random` seam, so tests can pass a fixed sequence. */
export interface U32Source {
  u32(): number;
}

/**
 * x-forwarded-for. With `use_remote_address: true` Envoy is the edge: it appends the
 * downstream peer address, comma-separated without a space (Envoy `Utility::appendXff`).
 * Otherwise XFF is forwarded exactly as it came, since a trusted proxy in front owns it.
 * Repeated XFF lines are folded into one value first.
 *
 * Simplification: Envoy appends its own local address instead when the peer is loopback;
 * we always append `remoteAddress` (on a teaching setup both are loopback anyway).
 */
export function appendForwardedFor(headers: HeaderMap, remoteAddress: string, useRemoteAddress: boolean): boolean {
  if (!useRemoteAddress || remoteAddress === '') return false;
  const existing = headers.getJoined('x-forwarded-for');
  headers.set('x-forwarded-for', existing ? `${existing},${remoteAddress}` : remoteAddress);
  return true;
}

export interface ForwardedProtoOptions {
  useRemoteAddress?: boolean;
  xffNumTrustedHops?: number;
}

/**
 * x-forwarded-proto: set to the downstream connection's scheme when missing. At the edge
 * (`use_remote_address: true`) with no trusted hops, Envoy also overwrites a value the client
 * sent, because nobody trusted set it; pass the options to get that behaviour.
 */
export function ensureForwardedProto(
  headers: HeaderMap,
  connectionScheme: 'http' | 'https',
  options: ForwardedProtoOptions = {},
): boolean {
  const untrustedEdge = options.useRemoteAddress === true && (options.xffNumTrustedHops ?? 0) === 0;
  const current = headers.get('x-forwarded-proto');
  if (current !== undefined && !untrustedEdge) return false;
  if (current === connectionScheme && headers.getJoined('x-forwarded-proto') === current) return false;
  headers.set('x-forwarded-proto', connectionScheme);
  return true;
}

const HEX = '0123456789abcdef';

/**
 * A random (version 4) UUID in the usual 8-4-4-4-12 lower-case form, built from four u32
 * draws so a seeded source gives the same ids on every run.
 */
export function uuidV4(random: U32Source): string {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i += 4) {
    const n = random.u32() >>> 0;
    bytes[i] = n >>> 24;
    bytes[i + 1] = (n >>> 16) & 0xff;
    bytes[i + 2] = (n >>> 8) & 0xff;
    bytes[i + 3] = n & 0xff;
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 variant
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[bytes[i]! >>> 4]! + HEX[bytes[i]! & 0x0f]!;
  }
  return out;
}

/**
 * x-request-id: keep the incoming one, or generate one when missing (HCM
 * `generate_request_id`, default true). `force` replaces an incoming id; Envoy does that for
 * edge requests unless `preserve_external_request_id` is set.
 * Returns the id the request now carries.
 */
export function ensureRequestId(
  headers: HeaderMap,
  random: U32Source,
  force = false,
): { id: string; generated: boolean } {
  const existing = headers.get('x-request-id');
  if (existing !== undefined && existing !== '' && !force) return { id: existing, generated: false };
  const id = uuidV4(random);
  headers.set('x-request-id', id);
  return { id, generated: true };
}

/**
 * x-envoy-expected-rq-timeout-ms: tells the upstream how long Envoy will wait. The per-try
 * timeout when it is set and shorter than the route timeout (a per-try timeout at or above a
 * finite route timeout is ignored), else the route timeout; nothing when that is 0
 * (infinite). Envoy also subtracts time already spent; callers pass the remaining time.
 */
export function setExpectedRequestTimeout(headers: HeaderMap, routeTimeoutMs: number, perTryTimeoutMs = 0): boolean {
  const perTryApplies = perTryTimeoutMs > 0 && (routeTimeoutMs === 0 || perTryTimeoutMs < routeTimeoutMs);
  const expected = perTryApplies ? perTryTimeoutMs : routeTimeoutMs;
  if (!(expected > 0)) return false;
  headers.set('x-envoy-expected-rq-timeout-ms', String(Math.floor(expected)));
  return true;
}

/**
 * Whether a request counts as internal, so the router honours its `x-envoy-*` control
 * headers (retry and timeout overrides; docs/resilience.md). ProxyScope's rule: the
 * downstream peer is a loopback or private address (127.0.0.0/8, 10.0.0.0/8,
 * 172.16.0.0/12, 192.168.0.0/16, ::1, fc00::/7) and the request arrived without an
 * `x-forwarded-for`, i.e. nobody says it was forwarded from elsewhere. Envoy asks the same
 * of the address XFF processing ends with (ConnectionManagerUtility: exactly one XFF
 * address, and an internal one), which this matches with `use_remote_address: true`.
 * Call it before XFF is appended.
 */
export function isInternalRequest(remoteAddress: string, headers: HeaderMap): boolean {
  return isInternalAddress(remoteAddress) && !headers.has('x-forwarded-for');
}

/** Loopback or private (RFC 1918, IPv6 unique local) address, IPv4-mapped IPv6 included. */
export function isInternalAddress(address: string): boolean {
  let a = address.toLowerCase();
  if (a.startsWith('::ffff:') && a.includes('.')) a = a.slice(7);
  if (a === '::1') return true;
  if (a.includes(':')) return a.startsWith('fc') || a.startsWith('fd');
  if (a.startsWith('127.') || a.startsWith('10.') || a.startsWith('192.168.')) return true;
  if (!a.startsWith('172.')) return false;
  const second = Number(a.split('.')[1]);
  return second >= 16 && second <= 31;
}
