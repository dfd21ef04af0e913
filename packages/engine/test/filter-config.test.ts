/**
 * Loading the fault and local rate limit filters, typed_per_filter_config, `disabled`, and
 * the connection / stream timeout fields: loaded shapes, errors and warnings with positions.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrap } from '../src/config/load';
import type { Bootstrap } from '../src/config/types';
import { envoyConfig, envoyYaml, FAULT_TYPE, faultFilter, FILTER_CONFIG_TYPE, LOCAL_RATELIMIT_TYPE, percent, rateLimitFilter, type EnvoyConfigOptions } from './support/envoy-config';
import { stringify } from 'yaml';

const hcmOf = (config: Bootstrap) => config.static_resources.listeners[0]!.filter_chains[0]!.hcm!;

function load(options: EnvoyConfigOptions) {
  return loadBootstrap(envoyYaml(options), 'test.yaml');
}

/** The messages (path: message) of the errors a config fails with. */
function errors(options: EnvoyConfigOptions): string[] {
  try {
    load(options);
  } catch (e) {
    if (e instanceof ConfigError) return e.diagnostics.map((d) => `${d.path}: ${d.message}`);
    throw e;
  }
  throw new Error('the config loaded');
}

const FILTER0 = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config';

describe('envoy.filters.http.fault config', () => {
  it('loads with Envoy defaults: unset percentages are 0%, durations in ms', () => {
    const { config, warnings } = load({
      httpFilters: [faultFilter({ delay: { fixed_delay: '1.5s' }, abort: { header_abort: {}, percentage: percent(5, 'TEN_THOUSAND') }, max_active_faults: 10 })],
    });
    expect(warnings).toEqual([]);
    expect(hcmOf(config).http_filters[0]).toEqual({
      name: 'envoy.filters.http.fault',
      type_url: FAULT_TYPE,
      extension: 'envoy.filters.http.fault',
      typed_config: {
        delay: { fixed_delay: 1500, header_delay: false, percentage: { numerator: 0, denominator: 100 } },
        abort: { header_abort: true, percentage: { numerator: 5, denominator: 10000 } },
        max_active_faults: 10,
        headers: [],
        downstream_nodes: [],
      },
    });
  });

  it('reports a delay or abort without its kind, a bad status and a wrong @type at their fields', () => {
    expect(errors({ httpFilters: [faultFilter({ delay: { percentage: percent(10) } })] })).toEqual([
      `${FILTER0}.delay: a fault delay needs one of fixed_delay, header_delay`,
    ]);
    expect(errors({ httpFilters: [faultFilter({ abort: { http_status: 700 } })] })).toEqual([`${FILTER0}.abort.http_status: expected an integer 200-599, got 700`]);
    // The @type, not the name, says which filter it is: this is a local rate limit filter missing its stat_prefix.
    expect(errors({ httpFilters: [{ name: 'envoy.filters.http.fault', typed_config: { '@type': LOCAL_RATELIMIT_TYPE } }] })).toEqual([
      `${FILTER0}.stat_prefix: missing required field`,
    ]);
  });

  it('warns about the fields it does not implement, at their keys', () => {
    const { warnings } = load({ httpFilters: [faultFilter({ response_rate_limit: { fixed_limit: { limit_kbps: 1 } }, abort: { http_status: 503 } })] });
    expect(warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      `${FILTER0}.response_rate_limit: unsupported field 'response_rate_limit' is ignored`,
    ]);
    // grpc_status and http_status are alternatives in Envoy's FaultAbort (oneof error_type).
    expect(errors({ httpFilters: [faultFilter({ abort: { grpc_status: 14, http_status: 503 } })] })).toEqual([
      `${FILTER0}.abort.http_status: 'grpc_status' and 'http_status' are both set, but they are alternatives (oneof error_type of FaultAbort); Envoy accepts only one`,
    ]);
  });
});

describe('envoy.filters.http.local_ratelimit config', () => {
  it('loads with Envoy defaults: status 429, filter_enabled and filter_enforced 0%', () => {
    const { config } = load({ httpFilters: [rateLimitFilter({ stat_prefix: 'rl', token_bucket: { max_tokens: 5, fill_interval: '0.5s' } })] });
    expect(hcmOf(config).http_filters[0]!.typed_config).toEqual({
      stat_prefix: 'rl',
      status: 429,
      token_bucket: { max_tokens: 5, tokens_per_fill: 1, fill_interval: 500 },
      filter_enabled: { runtime_key: '', default_value: { numerator: 0, denominator: 100 } },
      filter_enforced: { runtime_key: '', default_value: { numerator: 0, denominator: 100 } },
      response_headers_to_add: [],
      request_headers_to_add_when_not_enforced: [],
    });
  });

  it('needs a stat_prefix and a fill_interval of at least 50 ms', () => {
    expect(errors({ httpFilters: [rateLimitFilter({ token_bucket: { max_tokens: 1, fill_interval: '0.01s' } })] })).toEqual([
      `${FILTER0}: missing required field`.replace('typed_config:', 'typed_config.stat_prefix:'),
      `${FILTER0}.token_bucket.fill_interval: fill_interval must be at least 0.05s, got 0.01s`,
    ]);
  });

  it('keeps runtime keys (they are read) and warns that descriptors are not implemented', () => {
    const { config, warnings } = load({
      httpFilters: [rateLimitFilter({ stat_prefix: 'rl', filter_enabled: { default_value: percent(100), runtime_key: 'rl_enabled' }, descriptors: [] })],
    });
    expect(warnings.map((w) => w.message)).toEqual(["unsupported field 'descriptors' is ignored"]);
    expect(hcmOf(config).http_filters[0]!.typed_config).toMatchObject({ filter_enabled: { runtime_key: 'rl_enabled', default_value: { numerator: 100, denominator: 100 } } });
  });
});

describe('typed_per_filter_config and disabled', () => {
  const routeWith = (typed_per_filter_config: Record<string, unknown>) => [{ name: 'r', match: { prefix: '/' }, route: { cluster: 'backend' }, typed_per_filter_config }];

  it('loads a filter config, a FilterConfig wrapper, and passes other filters’ configs through', () => {
    const { config, warnings } = load({
      httpFilters: [faultFilter({}), rateLimitFilter({ stat_prefix: 'rl' })],
      vhost: { typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': FILTER_CONFIG_TYPE, disabled: true } } },
      routes: routeWith({
        'envoy.filters.http.local_ratelimit': { '@type': FILTER_CONFIG_TYPE, config: { '@type': LOCAL_RATELIMIT_TYPE, stat_prefix: 'route', token_bucket: { max_tokens: 1, fill_interval: '1s' } } },
        'example.mine': { '@type': 'type.googleapis.com/example.Mine', knob: 3 },
      }),
    });
    expect(warnings).toEqual([]);
    const vh = hcmOf(config).route_config.virtual_hosts[0]!;
    expect(vh.typed_per_filter_config).toEqual({ 'envoy.filters.http.fault': { disabled: true } });
    expect(vh.routes[0]!.typed_per_filter_config).toMatchObject({
      'envoy.filters.http.local_ratelimit': { disabled: false, config: { stat_prefix: 'route', token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: 1000 } } },
      'example.mine': { disabled: false, config: { knob: 3 } },
    });
  });

  it('a per-route local_ratelimit needs its own token_bucket (as Envoy insists)', () => {
    const messages = errors({ httpFilters: [rateLimitFilter({ stat_prefix: 'rl' })], routes: routeWith({ 'envoy.filters.http.local_ratelimit': { '@type': LOCAL_RATELIMIT_TYPE, stat_prefix: 'r' } }) });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/routes\[0\]\.typed_per_filter_config\["envoy\.filters\.http\.local_ratelimit"\]: a per-route local_ratelimit config needs a token_bucket$/);
  });

  it('loads disabled on an HTTP filter, and refuses it on the router', () => {
    const { config } = load({ httpFilters: [{ ...faultFilter({}), disabled: true }] });
    expect(hcmOf(config).http_filters[0]!.disabled).toBe(true);
    const raw = envoyConfig() as { static_resources: { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: { http_filters: Array<Record<string, unknown>> } }> }> }> } };
    raw.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config.http_filters[0]!.disabled = true;
    expect(() => loadBootstrap(stringify(raw), 'test.yaml')).toThrow(/envoy\.filters\.http\.router is the terminal filter and cannot be disabled/);
  });
});

describe('timeouts', () => {
  it('loads HCM max_connection_duration and drain_timeout, a route idle_timeout and a cluster max_connection_duration', () => {
    const base = envoyConfig({
      hcm: { drain_timeout: '2s', common_http_protocol_options: { idle_timeout: '30s', max_connection_duration: '60s' } },
      routes: [{ name: 'r', match: { prefix: '/' }, route: { cluster: 'backend', idle_timeout: '0.5s' } }],
    }) as { static_resources: { clusters: Array<Record<string, unknown>> } };
    base.static_resources.clusters[0]!.typed_extension_protocol_options = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        common_http_protocol_options: { idle_timeout: '10s', max_connection_duration: '120s' },
        explicit_http_config: { http_protocol_options: {} },
      },
    };
    const { config, warnings } = loadBootstrap(stringify(base), 'test.yaml');
    expect(warnings).toEqual([]);
    const hcm = hcmOf(config);
    expect([hcm.idle_timeout, hcm.max_connection_duration, hcm.drain_timeout]).toEqual([30_000, 60_000, 2000]);
    expect(hcm.route_config.virtual_hosts[0]!.routes[0]!.route!.idle_timeout).toBe(500);
    const cluster = config.static_resources.clusters[0]!;
    expect([cluster.idle_timeout, cluster.max_connection_duration]).toEqual([10_000, 120_000]);
  });

  it('leaves them out when not configured (engine defaults: drain 5s, no maximum duration, the HCM idle timeout)', () => {
    const { config } = load({});
    const hcm = hcmOf(config);
    expect(hcm.max_connection_duration).toBeUndefined();
    expect(hcm.drain_timeout).toBeUndefined();
    expect(hcm.route_config.virtual_hosts[0]!.routes[0]!.route!.idle_timeout).toBeUndefined();
    expect(config.static_resources.clusters[0]!.max_connection_duration).toBeUndefined();
  });
});
