/**
 * Envoy v3 bootstraps written as plain objects and loaded through the real YAML loader, so
 * filter tests exercise the same path as a config file: one listener, one HCM with the
 * given HTTP filters (router appended), one virtual host, one STATIC cluster `backend`.
 */
import { stringify } from 'yaml';
import { expect } from 'vitest';
import { loadBootstrap } from '../../src/config/load';
import type { Bootstrap } from '../../src/config/types';

export const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
export const LOCAL_RATELIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
export const FILTER_CONFIG_TYPE = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

export interface EnvoyConfigOptions {
  /** entries before the router */
  httpFilters?: unknown[];
  /** extra virtual host fields (typed_per_filter_config, ...) */
  vhost?: Record<string, unknown>;
  /** replaces the one `prefix: /` route */
  routes?: unknown[];
  /** extra HCM fields */
  hcm?: Record<string, unknown>;
  listenerPort?: number;
  clusterPort?: number;
}

export function envoyConfig(options: EnvoyConfigOptions = {}): Record<string, unknown> {
  const routes = options.routes ?? [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend' } }];
  return {
    static_resources: {
      listeners: [
        {
          name: 'ingress',
          address: { socket_address: { address: '127.0.0.1', port_value: options.listenerPort ?? 10000 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress_http',
                    access_log: [{ name: 'envoy.access_loggers.stdout' }],
                    http_filters: [...(options.httpFilters ?? []), { name: 'envoy.filters.http.router' }],
                    route_config: { name: 'local_route', virtual_hosts: [{ name: 'all', domains: ['*'], routes, ...options.vhost }] },
                    ...options.hcm,
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'backend',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: 'backend',
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: options.clusterPort ?? 8080 } } } }] }],
          },
        },
      ],
    },
  };
}

/** YAML text for `envoyConfig(options)`. */
export function envoyYaml(options: EnvoyConfigOptions = {}): string {
  return stringify(envoyConfig(options));
}

/** Loads `envoyConfig(options)` through loadBootstrap; the test fails on any warning. */
export function loadEnvoy(options: EnvoyConfigOptions = {}): Bootstrap {
  const { config, warnings } = loadBootstrap(envoyYaml(options), 'test.yaml');
  expect(warnings).toEqual([]);
  return config;
}

export const faultFilter = (config: Record<string, unknown>) => ({ name: 'envoy.filters.http.fault', typed_config: { '@type': FAULT_TYPE, ...config } });
export const rateLimitFilter = (config: Record<string, unknown>) => ({ name: 'envoy.filters.http.local_ratelimit', typed_config: { '@type': LOCAL_RATELIMIT_TYPE, ...config } });
export const percent = (numerator: number, denominator = 'HUNDRED') => ({ numerator, denominator });
