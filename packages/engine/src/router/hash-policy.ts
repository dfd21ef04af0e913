import type { HashPolicy } from '../config/types';
import type { StreamInfo } from '../http/stream-info';
import { xxHash64 } from '../upstream/xxhash64';
import { queryStart } from './route-matcher';

/**
 * Router::HashPolicyImpl::generateHash: the request's hash for RING_HASH and MAGLEV.
 * Each policy that finds its input adds `xxHash64(value)`; earlier results are rotated
 * left by one bit first so two identical policies do not cancel out. A `terminal` policy
 * that produced a hash ends the walk. No policy produced anything: undefined (the
 * balancer then picks at random).
 *
 * Called only by the hash balancers (through the router's LoadBalancerContext), so a
 * round-robin cluster never pays for it.
 */
export function computeRouteHash(policies: readonly HashPolicy[] | undefined, info: StreamInfo): bigint | undefined {
  if (!policies || policies.length === 0) return undefined;
  let hash: bigint | undefined;
  for (const policy of policies) {
    const value = policyInput(policy, info);
    if (value !== undefined) {
      const rotated = hash === undefined ? 0n : ((hash << 1n) | (hash >> 63n)) & 0xffff_ffff_ffff_ffffn;
      hash = rotated ^ xxHash64(value);
    }
    if (policy.terminal && hash !== undefined) break;
  }
  return hash;
}

/** The text one policy hashes, or undefined when the request does not have it. */
function policyInput(policy: HashPolicy, info: StreamInfo): string | undefined {
  if (policy.header) {
    // `:authority`, `:path` and `:method` are headers too for hash policies.
    return info.requestHeader(policy.header.header_name);
  }
  if (policy.cookie) return cookieValue(info.requestHeader('cookie'), policy.cookie.name);
  if (policy.connection_properties?.source_ip) {
    // StreamInfo keeps `address:port`; the port is always the part after the last ':'.
    const remote = info.downstreamRemoteAddress;
    const colon = remote.lastIndexOf(':');
    return colon < 0 ? remote : remote.slice(0, colon);
  }
  if (policy.query_parameter) {
    const path = info.request?.path;
    return path === undefined ? undefined : queryParameter(path, policy.query_parameter.name);
  }
  return undefined;
}

/** The value of cookie `name` in a Cookie header (`a=1; b=2`), quotes removed. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  }
  return undefined;
}

/** The first value of query parameter `name` (as sent, not percent-decoded), '' for `?name`. */
export function queryParameter(path: string, name: string): string | undefined {
  const start = queryStart(path);
  if (start >= path.length || path[start] !== '?') return undefined;
  const hash = path.indexOf('#', start);
  const query = path.slice(start + 1, hash < 0 ? path.length : hash);
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (key === name) return eq < 0 ? '' : pair.slice(eq + 1);
  }
  return undefined;
}
