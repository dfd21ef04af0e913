import type { CidrRange, FilterChain } from '../config/types';

/**
 * FilterChainManagerImpl::findFilterChain, for the criteria a plain-TCP HTTP listener
 * uses: destination port, destination IP, source IP, source port. At each step the most
 * specific match wins and chains without that criterion act as the wildcard.
 */
export interface ConnectionAddresses {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
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
    if (m.source_prefix_ranges.length) criteria.push(`source ${cx.remoteAddress} in source_prefix_ranges`);
    if (m.source_ports.length) criteria.push(`source port ${cx.remotePort}`);
    return { chain, reason: criteria.length ? `matched on ${criteria.join(', ')}` : 'matched (no criteria: wildcard chain)' };
  }
  if (defaultChain) return { chain: defaultChain, reason: 'no filter chain matched; default_filter_chain used' };
  return { chain: undefined, reason: `no filter chain matches ${cx.remoteAddress}:${cx.remotePort} -> ${cx.localAddress}:${cx.localPort}` };
}
