import type { CidrRange, FilterChain } from '../config/types';

/**
 * FilterChainManagerImpl::findFilterChain, in Envoy's order: destination port,
 * destination IP, server name (SNI), transport protocol, application protocols (ALPN),
 * source IP, source port. At each
 * step the most specific match wins and chains without that criterion act as the wildcard.
 */
export interface ConnectionAddresses {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** from the TLS inspector; absent when it did not run or the client sent no SNI */
  serverName?: string;
  /** `tls` / `raw_buffer` from the TLS inspector; Envoy's default is raw_buffer */
  transportProtocol?: string;
  /** the ALPN list the ClientHello offered, in the client's order (absent or empty: none) */
  applicationProtocols?: readonly string[];
}

/**
 * FilterChainManagerImpl::findFilterChainForApplicationProtocols: the client's protocols in
 * its own order; the first one some chain lists picks those chains, and only when none is
 * listed anywhere do the chains without application_protocols match. A higher score for an
 * earlier protocol gives that order.
 */
function applicationProtocolScore(wanted: readonly string[] | undefined, offered: readonly string[]): number | undefined {
  if (!wanted || wanted.length === 0) return undefined;
  const i = offered.findIndex((p) => wanted.includes(p));
  return i < 0 ? -Infinity : offered.length - i;
}

/**
 * FilterChainManagerImpl::findFilterChainForServerName: an exact name beats the longest
 * `*.suffix` wildcard, which beats a chain without server_names.
 */
function serverNameScore(names: readonly string[] | undefined, sni: string | undefined): number | undefined {
  if (!names || names.length === 0) return undefined;
  if (sni === undefined) return -Infinity;
  let best = -Infinity;
  for (const name of names) {
    const n = name.toLowerCase();
    if (n === sni) best = Math.max(best, 1_000_000);
    else if (n.startsWith('*.') && sni.endsWith(n.slice(1)) && sni.length > n.length - 1) best = Math.max(best, n.length);
  }
  return best;
}

export interface FilterChainChoice {
  chain: FilterChain | undefined;
  reason: string;
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    const v = Number(p);
    if (!Number.isInteger(v) || v < 0 || v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/** Prefix length of the longest range containing `ip`, or -1. */
function longestPrefixMatch(ranges: readonly CidrRange[], ip: string): number {
  const addr = ipv4ToInt(ip);
  let best = -1;
  for (const r of ranges) {
    const base = ipv4ToInt(r.address_prefix);
    if (addr === undefined || base === undefined) {
      if (r.address_prefix === ip) best = Math.max(best, 128);
      continue;
    }
    const len = Math.min(32, r.prefix_len);
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    if (((addr & mask) >>> 0) === ((base & mask) >>> 0)) best = Math.max(best, len);
  }
  return best;
}

/** Keep the candidates that match most specifically on one criterion. */
function narrow(chains: FilterChain[], score: (c: FilterChain) => number | undefined): FilterChain[] {
  // undefined = criterion absent (wildcard, score 0 but below any explicit match); -Infinity = no match
  let best = -Infinity;
  const scored = chains.map((c) => {
    const s = score(c);
    const value = s === undefined ? -1 : s;
    if (value > best) best = value;
    return { c, value };
  });
  return scored.filter((x) => x.value === best && x.value !== -Infinity).map((x) => x.c);
}

export function findFilterChain(chains: readonly FilterChain[], defaultChain: FilterChain | undefined, cx: ConnectionAddresses): FilterChainChoice {
  let candidates = [...chains];
  candidates = narrow(candidates, (c) => (c.filter_chain_match.destination_port === undefined ? undefined : c.filter_chain_match.destination_port === cx.localPort ? 1 : -Infinity));
  candidates = narrow(candidates, (c) => {
    const ranges = c.filter_chain_match.prefix_ranges;
    if (ranges.length === 0) return undefined;
    const len = longestPrefixMatch(ranges, cx.localAddress);
    return len < 0 ? -Infinity : len;
  });
  candidates = narrow(candidates, (c) => serverNameScore(c.filter_chain_match.server_names, cx.serverName));
  candidates = narrow(candidates, (c) => {
    const wanted = c.filter_chain_match.transport_protocol;
    if (wanted === undefined) return undefined;
    return wanted === (cx.transportProtocol ?? 'raw_buffer') ? 1 : -Infinity;
  });
  const alpn = cx.applicationProtocols ?? [];
  candidates = narrow(candidates, (c) => applicationProtocolScore(c.filter_chain_match.application_protocols, alpn));
  candidates = narrow(candidates, (c) => {
    const ranges = c.filter_chain_match.source_prefix_ranges;
    if (ranges.length === 0) return undefined;
    const len = longestPrefixMatch(ranges, cx.remoteAddress);
    return len < 0 ? -Infinity : len;
  });
  candidates = narrow(candidates, (c) => {
    const ports = c.filter_chain_match.source_ports;
    if (ports.length === 0) return undefined;
    return ports.includes(cx.remotePort) ? 1 : -Infinity;
  });
  const chain = candidates[0];
  if (chain) {
    const m = chain.filter_chain_match;
    const criteria: string[] = [];
    if (m.destination_port !== undefined) criteria.push(`destination_port ${m.destination_port}`);
    if (m.prefix_ranges.length) criteria.push(`destination ${cx.localAddress} in prefix_ranges`);
    if (m.server_names?.length) criteria.push(`server name ${JSON.stringify(cx.serverName)} in server_names`);
    if (m.transport_protocol !== undefined) criteria.push(`transport_protocol ${m.transport_protocol}`);
    if (m.application_protocols?.length) {
      const picked = alpn.find((p) => m.application_protocols!.includes(p));
      criteria.push(`application protocol ${JSON.stringify(picked)} (ALPN ${alpn.join(', ')}) in application_protocols`);
    }
    if (m.source_prefix_ranges.length) criteria.push(`source ${cx.remoteAddress} in source_prefix_ranges`);
    if (m.source_ports.length) criteria.push(`source port ${cx.remotePort}`);
    return { chain, reason: criteria.length ? `matched on ${criteria.join(', ')}` : 'matched (no criteria: wildcard chain)' };
  }
  if (defaultChain) return { chain: defaultChain, reason: 'no filter chain matched; default_filter_chain used' };
  const tls =
    cx.transportProtocol === 'tls'
      ? ` (tls, server name ${cx.serverName === undefined ? 'none' : JSON.stringify(cx.serverName)}, ALPN ${alpn.length ? alpn.join(', ') : 'none'})`
      : '';
  return { chain: undefined, reason: `no filter chain matches ${cx.remoteAddress}:${cx.remotePort} -> ${cx.localAddress}:${cx.localPort}${tls}` };
}
