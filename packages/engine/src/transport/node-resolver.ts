import { lookup, Resolver as AresResolver } from 'node:dns/promises';
import { ipVersion, selectFamily, type ActiveDnsQuery, type DnsLookupFamily, type DnsResolveCallbacks, type DnsResponse, type ResolveOptions, type Resolver } from '../seams/resolver';

/**
 * DNS through node:dns, behind the Resolver seam.
 *
 * Addresses come from `dns.lookup` (getaddrinfo), as Envoy's GetAddrInfoDnsResolver gets
 * them: it reads /etc/hosts, knows `localhost` and whatever the system's resolver is set
 * up with, which is what a user expects a name in their config to mean. getaddrinfo gives
 * no TTLs, so when a cluster refreshes at the TTL (respect_dns_ttl) the same name is also
 * asked of c-ares (node's `Resolver`, the library Envoy's default resolver uses) for A /
 * AAAA records with TTLs; an address only getaddrinfo knows (a hosts-file entry) has TTL 0,
 * which keeps dns_refresh_rate.
 *
 * "No such name" and "no record of that family" are an empty answer, not a failure, as in
 * both of Envoy's resolvers; anything else (EAI_AGAIN, a timeout, no server) is a failure.
 */

/** getaddrinfo's EAI_NONAME and EAI_NODATA both surface as ENOTFOUND in node; c-ares says ENODATA too. */
const NO_RECORDS = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);

/** A c-ares query that cannot reach a server gives up after this long: it only refines TTLs. */
const TTL_QUERY_TIMEOUT_MS = 1000;

async function lookupAll(name: string): Promise<DnsResponse[]> {
  if (ipVersion(name)) return [{ address: name, ttl: 0 }];
  const results = await lookup(name, { all: true });
  return results.map((r) => ({ address: r.address, ttl: 0 }));
}

/** address -> TTL seconds from c-ares, for the families the answer has; empty when c-ares cannot say. */
async function ttlsOf(name: string, records: readonly DnsResponse[]): Promise<Map<string, number>> {
  const ttls = new Map<string, number>();
  const ares = new AresResolver({ timeout: TTL_QUERY_TIMEOUT_MS, tries: 1 });
  const queries: Array<Promise<Array<{ address: string; ttl: number }>>> = [];
  if (records.some((r) => ipVersion(r.address) === 4)) queries.push(ares.resolve4(name, { ttl: true }));
  if (records.some((r) => ipVersion(r.address) === 6)) queries.push(ares.resolve6(name, { ttl: true }));
  for (const settled of await Promise.allSettled(queries)) {
    if (settled.status === 'fulfilled') for (const r of settled.value) ttls.set(r.address, r.ttl);
  }
  return ttls;
}

export const nodeResolver: Resolver = {
  resolve(name: string, family: DnsLookupFamily, callbacks: DnsResolveCallbacks, options?: ResolveOptions): ActiveDnsQuery {
    let cancelled = false;
    const run = async (): Promise<void> => {
      let records: DnsResponse[];
      try {
        records = selectFamily(await lookupAll(name), family);
      } catch (err) {
        if (cancelled) return;
        const e = err as NodeJS.ErrnoException;
        const code = e.code ?? 'EIO';
        if (NO_RECORDS.has(code)) callbacks.onResolved([]);
        else callbacks.onFailure({ code, message: e.message });
        return;
      }
      if (options?.ttl && records.length > 0 && !ipVersion(name)) {
        const ttls = await ttlsOf(name, records);
        records = records.map((r) => ({ address: r.address, ttl: ttls.get(r.address) ?? 0 }));
      }
      if (!cancelled) callbacks.onResolved(records);
    };
    void run();
    return {
      cancel: () => {
        cancelled = true;
      },
    };
  },
};
