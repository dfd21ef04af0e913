import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrap, type ConfigDiagnostic } from '../src/config/index';

/** The DNS fields of a cluster as the loader reads them (config/dns.ts). */

const config = (clusterFields: string, type = 'STRICT_DNS') => `static_resources:
  listeners: []
  clusters:
  - name: service
    type: ${type}
${clusterFields}    load_assignment:
      cluster_name: service
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: service1, port_value: 8080 }
`;

const load = (fields: string, type?: string) => loadBootstrap(config(fields, type), 'envoy.yaml');

function errorsOf(fields: string): ConfigDiagnostic[] {
  try {
    load(fields);
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

describe('cluster DNS fields', () => {
  it('reads dns_refresh_rate, respect_dns_ttl, dns_lookup_family and dns_failure_refresh_rate', () => {
    const { config: c, warnings } = load(
      [
        '    dns_refresh_rate: 10s',
        '    respect_dns_ttl: true',
        '    dns_lookup_family: V4_ONLY',
        '    dns_failure_refresh_rate: { base_interval: 1s, max_interval: 30s }',
        '',
      ].join('\n'),
    );
    expect(warnings).toEqual([]);
    expect(c.static_resources.clusters[0]).toMatchObject({
      dns_refresh_rate: 10_000,
      respect_dns_ttl: true,
      dns_lookup_family: 'V4_ONLY',
      dns_failure_refresh_rate: { base_interval: 1000, max_interval: 30_000 },
    });
  });

  it('leaves them out when not configured (the engine applies Envoy defaults)', () => {
    const cluster = load('').config.static_resources.clusters[0]!;
    expect(cluster).not.toHaveProperty('dns_refresh_rate');
    expect(cluster).not.toHaveProperty('dns_lookup_family');
  });

  it('defaults max_interval to ten times base_interval', () => {
    const cluster = load('    dns_failure_refresh_rate: { base_interval: 2s }\n').config.static_resources.clusters[0]!;
    expect(cluster.dns_failure_refresh_rate).toEqual({ base_interval: 2000, max_interval: 20_000 });
  });

  it('rejects a max_interval below base_interval, and a zero refresh rate, naming the field', () => {
    expect(errorsOf('    dns_failure_refresh_rate: { base_interval: 5s, max_interval: 1s }\n').map((e) => [e.path, e.message])).toEqual([
      ['static_resources.clusters[0].dns_failure_refresh_rate.max_interval', 'dns_failure_refresh_rate must have max_interval greater than or equal to the base_interval'],
    ]);
    expect(errorsOf('    dns_refresh_rate: 0s\n').map((e) => e.path)).toEqual(['static_resources.clusters[0].dns_refresh_rate']);
    expect(errorsOf('    dns_failure_refresh_rate: { max_interval: 1s }\n').map((e) => e.path)).toEqual(['static_resources.clusters[0].dns_failure_refresh_rate.base_interval']);
  });

  it('rejects an unknown lookup family with the list of valid ones', () => {
    const [error] = errorsOf('    dns_lookup_family: V5_ONLY\n');
    expect(error!.path).toBe('static_resources.clusters[0].dns_lookup_family');
    expect(error!.message).toContain('AUTO, V4_ONLY, V6_ONLY, V4_PREFERRED, ALL');
  });

  it('accepts resolver settings it does not model, with a warning', () => {
    const { warnings } = load(
      [
        '    dns_resolvers: [{ socket_address: { address: 8.8.8.8, port_value: 53 } }]',
        '    typed_dns_resolver_config:',
        '      name: envoy.network.dns_resolver.getaddrinfo',
        '      typed_config: { "@type": type.googleapis.com/envoy.extensions.network.dns_resolver.getaddrinfo.v3.GetAddrInfoDnsResolverConfig }',
        '',
      ].join('\n'),
    );
    expect(warnings.map((w) => w.message)).toEqual(expect.arrayContaining(["unsupported field 'dns_resolvers' is ignored", "unsupported field 'typed_dns_resolver_config' is ignored"]));
  });
});
