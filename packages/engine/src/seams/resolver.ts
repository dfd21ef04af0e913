/**
 * The engine's door to DNS (Envoy's Network::DnsResolver). STRICT_DNS and LOGICAL_DNS
 * clusters ask it for a name's addresses; `transport/node-resolver.ts` answers with the
 * operating system's resolver, `MemoryResolver` below with whatever a test or a
 * simulation scripted. Nothing here imports `node:`, so the engine still builds for a
 * browser.
 */
import { post, type Clock, type TimerId } from './clock';

/** Cluster.DnsLookupFamily. AUTO is "IPv6 preferred" (Envoy's proto default). */
export const DNS_LOOKUP_FAMILIES = ['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL'] as const;
export type DnsLookupFamily = (typeof DNS_LOOKUP_FAMILIES)[number];

/** Network::DnsResponse: one address and how long it may be cached. */
export interface DnsResponse {
  address: string;
  /** seconds; 0 when the resolver does not know (respect_dns_ttl then keeps dns_refresh_rate) */
  ttl: number;
}

export interface DnsResolveCallbacks {
  /**
   * ResolutionStatus::Completed. An empty list is an answer too: a name that does not
   * exist (NXDOMAIN) or has no record of the family (NODATA), as Envoy's c-ares and
   * getaddrinfo resolvers both report it.
   */
  onResolved(responses: DnsResponse[]): void;
  /** ResolutionStatus::Failure: no answer at all (timeout, SERVFAIL, refused, no server) */
  onFailure(error: DnsError): void;
}

export interface DnsError {
  /** stable code: ETIMEOUT, ESERVFAIL, ECONNREFUSED, EAI_AGAIN, ... */
  code: string;
  message: string;
}

/** Network::ActiveDnsQuery */
export interface ActiveDnsQuery {
  /** abandon the query; no callback fires afterwards */
  cancel(): void;
}

export interface ResolveOptions {
  /** the caller refreshes at the records' TTL (respect_dns_ttl): a resolver that must work for TTLs does it then */
  ttl?: boolean;
}

export interface Resolver {
  resolve(name: string, family: DnsLookupFamily, callbacks: DnsResolveCallbacks, options?: ResolveOptions): ActiveDnsQuery;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** 4 or 6 for an IP literal, else undefined. */
export function ipVersion(address: string): 4 | 6 | undefined {
  if (IPV4.test(address)) return 4;
  return address.includes(':') ? 6 : undefined;
}

/**
 * The answer a lookup family keeps from everything a name has, in the order given
 * (GetAddrInfoDnsResolver::processResponse; c-ares asks per family in the same order).
 */
export function selectFamily<T extends { address: string }>(records: readonly T[], family: DnsLookupFamily): T[] {
  const v4 = records.filter((r) => ipVersion(r.address) === 4);
  const v6 = records.filter((r) => ipVersion(r.address) === 6);
  switch (family) {
    case 'V4_ONLY':
      return v4;
    case 'V6_ONLY':
      return v6;
    case 'V4_PREFERRED':
      return v4.length > 0 ? v4 : v6;
    case 'AUTO':
      return v6.length > 0 ? v6 : v4;
    case 'ALL':
      return [...v6, ...v4];
  }
}

/** What a scripted name does: answer with these records, fail with a code, or never answer. */
export type ScriptedAnswer = { records: DnsResponse[] } | { error: string } | 'hang';

/** One query the resolver was asked, for tests and the simulation's record. */
export interface ResolverQuery {
  name: string;
  family: DnsLookupFamily;
  /** clock time of the query, when the resolver has a clock */
  at: number;
}

/**
 * A scriptable resolver for tests and simulation. Names answer what `answer`, `fail` or
 * `hang` last set; a name never scripted does not exist (an empty answer), except IP
 * literals and `localhost` (127.0.0.1 and ::1), which answer themselves as getaddrinfo
 * does. Answers arrive on a microtask, or after `latencyMs` on the clock when one is given,
 * so a resolution is always asynchronous, as the real one.
 */
export class MemoryResolver implements Resolver {
  readonly queries: ResolverQuery[] = [];
  private readonly script = new Map<string, ScriptedAnswer>();

  constructor(private readonly options: { clock?: Clock; latencyMs?: number } = {}) {}

  /** `name` answers with these addresses (`ttl` seconds each, default 0 = unknown). */
  answer(name: string, addresses: readonly string[], ttl = 0): this {
    this.script.set(name.toLowerCase(), { records: addresses.map((address) => ({ address, ttl })) });
    return this;
  }

  /** `name` fails to resolve with `code` (ResolutionStatus::Failure). */
  fail(name: string, code = 'ETIMEOUT'): this {
    this.script.set(name.toLowerCase(), { error: code });
    return this;
  }

  /** `name` is asked but never answers. */
  hang(name: string): this {
    this.script.set(name.toLowerCase(), 'hang');
    return this;
  }

  /** How many times `name` was asked. */
  count(name: string): number {
    const lower = name.toLowerCase();
    return this.queries.filter((q) => q.name.toLowerCase() === lower).length;
  }

  resolve(name: string, family: DnsLookupFamily, callbacks: DnsResolveCallbacks): ActiveDnsQuery {
    const { clock, latencyMs = 0 } = this.options;
    this.queries.push({ name, family, at: clock?.now() ?? 0 });
    const answer = this.lookup(name);
    if (answer === 'hang') return { cancel: () => {} };
    let cancelled = false;
    const deliver = (): void => {
      if (cancelled) return;
      if ('error' in answer) callbacks.onFailure({ code: answer.error, message: `query ${answer.error} ${name}` });
      else callbacks.onResolved(selectFamily(answer.records, family));
    };
    let timer: TimerId | undefined;
    if (clock && latencyMs > 0) timer = clock.setTimeout(deliver, latencyMs);
    else if (clock) post(clock, deliver);
    else queueMicrotask(deliver);
    return {
      cancel: () => {
        cancelled = true;
        if (timer !== undefined) clock!.clearTimeout(timer);
      },
    };
  }

  private lookup(name: string): ScriptedAnswer {
    const scripted = this.script.get(name.toLowerCase());
    if (scripted) return scripted;
    if (ipVersion(name)) return { records: [{ address: name, ttl: 0 }] };
    if (name.toLowerCase() === 'localhost') return { records: [{ address: '127.0.0.1', ttl: 0 }, { address: '::1', ttl: 0 }] };
    return { records: [] };
  }
}
