/**
 * The DNS fields of a STRICT_DNS / LOGICAL_DNS cluster (Cluster.dns_refresh_rate,
 * dns_failure_refresh_rate, respect_dns_ttl, dns_lookup_family), as Envoy's DnsClusterImpl
 * reads them; the resolution itself is upstream/dns-resolution.machine.ts. (`dns_jitter`
 * belongs to the newer DnsCluster extension config, not to Cluster, so it is not here.)
 *
 * The zod piece comes from ./schema, which imports this file: it is built on first use
 * (a parse), by which time both modules are loaded.
 */
import { z } from 'zod';
import { DNS_LOOKUP_FAMILIES, type DnsLookupFamily } from '../seams/resolver';
import { duration, section } from './schema';

export { DNS_LOOKUP_FAMILIES, type DnsLookupFamily };

/** Envoy's dns_refresh_rate when unset (PROTOBUF_GET_MS_OR_DEFAULT(cluster, dns_refresh_rate, 5000)). */
export const DEFAULT_DNS_REFRESH_RATE_MS = 5000;

/** Cluster.RefreshRate, in ms. */
export interface DnsFailureRefreshRate {
  base_interval: number;
  /** default 10 × base_interval; at least base_interval */
  max_interval: number;
}

/** Cluster DNS settings with Envoy's defaults applied (what the engine runs on). */
export interface DnsSettings {
  dns_refresh_rate: number;
  /** absent: a failed resolution is retried at dns_refresh_rate (FixedBackOffStrategy) */
  dns_failure_refresh_rate?: DnsFailureRefreshRate;
  respect_dns_ttl: boolean;
  dns_lookup_family: DnsLookupFamily;
}

/** The settings of a loaded (or hand-built) cluster, defaults filled in. */
export function dnsSettings(cluster: Partial<DnsSettings>): DnsSettings {
  return {
    dns_refresh_rate: cluster.dns_refresh_rate ?? DEFAULT_DNS_REFRESH_RATE_MS,
    ...(cluster.dns_failure_refresh_rate && { dns_failure_refresh_rate: cluster.dns_failure_refresh_rate }),
    respect_dns_ttl: cluster.respect_dns_ttl ?? false,
    // Cluster.DnsLookupFamily's default value is AUTO: IPv6 first, IPv4 when there is none.
    dns_lookup_family: cluster.dns_lookup_family ?? 'AUTO',
  };
}

function build() {
  // Config::Utility::prepareDnsRefreshStrategy: max_interval defaults to 10 × base_interval
  // and may not be below it. Envoy requires both to be above 1 ms.
  return section({ base_interval: duration({ positive: true }), max_interval: duration({ positive: true }).optional() })
    .superRefine((r, ctx) => {
      if (r.max_interval !== undefined && r.base_interval !== undefined && r.max_interval < r.base_interval) {
        ctx.addIssue({ code: 'custom', path: ['max_interval'], message: 'dns_failure_refresh_rate must have max_interval greater than or equal to the base_interval' });
      }
    })
    .transform((r): DnsFailureRefreshRate => ({ base_interval: r.base_interval, max_interval: r.max_interval ?? r.base_interval * 10 }));
}

let built: ReturnType<typeof build> | undefined;

/**
 * Cluster.dns_failure_refresh_rate → its intervals in ms. A function declaration, so
 * ./schema can name it even when the engine loaded this file first (the import cycle).
 */
export function dnsFailureRefreshRate(): z.ZodType<DnsFailureRefreshRate> {
  return (built ??= build()) as never;
}
