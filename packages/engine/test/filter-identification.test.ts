/**
 * Which filter an http_filters entry is: its typed_config @type decides, as in Envoy; the
 * name is only its display and stat name and its typed_per_filter_config key. Filters
 * ProxyScope does not model load with one warning and pass requests through, saying so in
 * the trace and the topology; nothing in their config runs.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrap } from '../src/config/load';
import { envoyYaml, FAULT_TYPE, FILTER_CONFIG_TYPE, percent, type EnvoyConfigOptions } from './support/envoy-config';
import { filterProxy } from './support/filter-proxy';

const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const LUA_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua';
const EXT_AUTHZ_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';

/** A config whose http_filters are exactly `filters` (no router appended). */
function yamlWith(filters: unknown[], extra: EnvoyConfigOptions = {}): string {
  return envoyYaml({ ...extra, hcm: { http_filters: filters, ...extra.hcm } });
}

const lua = {
  name: 'lua_filter_with_custom_name_0',
  typed_config: { '@type': LUA_TYPE, default_source_code: { inline_string: 'function envoy_on_request(h) h:respond({[":status"] = "418"}, "teapot") end' } },
};

describe('identifying HTTP filters', () => {
  it('finds the router by its @type whatever its name, and takes `typed_config: {}` or none by name', () => {
    for (const router of [{ name: 'envoy.router', typed_config: { '@type': ROUTER_TYPE } }, { name: 'envoy.filters.http.router', typed_config: {} }, { name: 'envoy.router' }]) {
      const { config, warnings } = loadBootstrap(yamlWith([router]), 'envoy.yaml');
      expect(warnings).toEqual([]);
      expect(config.static_resources.listeners[0]!.filter_chains[0]!.hcm?.http_filters[0]).toMatchObject({ name: router.name, extension: 'envoy.filters.http.router' });
    }
  });

  it('a fault filter with a custom name is a fault filter, and its typed_per_filter_config is keyed by that name', async () => {
    const p = await filterProxy({
      httpFilters: [{ name: 'my_faults', typed_config: { '@type': FAULT_TYPE, abort: { http_status: 503, percentage: percent(100) } } }],
      routes: [
        { name: 'calm', match: { prefix: '/calm' }, route: { cluster: 'backend' }, typed_per_filter_config: { my_faults: { '@type': FILTER_CONFIG_TYPE, disabled: true } } },
        { name: 'all', match: { prefix: '/' }, route: { cluster: 'backend' } },
      ],
    });
    const responses = await p.send({ path: '/x' }, { path: '/calm' });
    expect(responses.map((r) => r.status)).toEqual([503, 200]);
    expect(p.stat('http.ingress_http.fault.aborts_injected')).toBe(1);
    expect(p.facts('stream.decoder_filter').some((d) => d.filter === 'my_faults')).toBe(true);
  });

  it('reports a bad config of a filter found by @type at its file, line and field', () => {
    const yaml = yamlWith([
      { name: 'anything', typed_config: { '@type': FAULT_TYPE, abort: { http_status: 700 } } },
      { name: 'envoy.filters.http.router' },
    ]);
    try {
      loadBootstrap(yaml, 'envoy.yaml');
      throw new Error('loaded');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const [d] = (e as ConfigError).diagnostics;
      expect(d).toMatchObject({ file: 'envoy.yaml', path: `${HCM}.http_filters[0].typed_config.abort.http_status`, message: 'expected an integer 200-599, got 700' });
      expect(yaml.split('\n')[d!.line - 1]).toContain('http_status: 700');
    }
  });
});

describe('filters ProxyScope does not model', () => {
  const options: EnvoyConfigOptions = {
    httpFilters: [lua, { name: 'envoy.filters.http.ext_authz', typed_config: { '@type': EXT_AUTHZ_TYPE, http_service: { server_uri: { uri: 'authz:9000', cluster: 'authz', timeout: '1s' } } } }],
  };

  it('load with one warning each, at the filter, naming it and its @type', () => {
    const yaml = envoyYaml(options);
    const { warnings } = loadBootstrap(yaml, 'envoy.yaml');
    expect(warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      `${HCM}.http_filters[0]: HTTP filter 'lua_filter_with_custom_name_0' (@type ${LUA_TYPE}) is not modelled by ProxyScope: requests pass through it unchanged`,
      `${HCM}.http_filters[1]: HTTP filter 'envoy.filters.http.ext_authz' (@type ${EXT_AUTHZ_TYPE}) is not modelled by ProxyScope: requests pass through it unchanged`,
    ]);
    expect(yaml.split('\n')[warnings[0]!.line - 1]).toContain('name: lua_filter_with_custom_name_0');
  });

  it('pass every request through unchanged, never run their config, and say so in the trace and the topology', async () => {
    const { config } = loadBootstrap(envoyYaml(options), 'envoy.yaml');
    const { startSimulated, MemoryOrigin, ok } = await import('./support/memory-origin');
    const p = await startSimulated(config, new MemoryOrigin(() => ok('from upstream')));
    const facts: Record<string, unknown>[] = [];
    p.engine.tracer.attach((e) => {
      if (e.type === 'fact' && e.fact === 'filter.not_modelled') facts.push(e.data);
    });
    const c = p.dial();
    c.write('GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n');
    await p.advance(0);
    // The Lua script would have answered 418; it never runs, and no authz call is made.
    expect(c.text()).toMatch(/^HTTP\/1.1 200 OK/);
    expect(c.text()).toContain('from upstream');
    expect(p.origin.requests).toHaveLength(1);
    expect(facts).toEqual([
      { filter: 'lua_filter_with_custom_name_0', type_url: LUA_TYPE, action: 'passed_through' },
      { filter: 'envoy.filters.http.ext_authz', type_url: EXT_AUTHZ_TYPE, action: 'passed_through' },
    ]);
    const chain = p.engine.topology().listeners[0]!.filterChains[0]!;
    expect(chain.httpFilterDetails).toEqual([
      { name: 'lua_filter_with_custom_name_0', typeUrl: LUA_TYPE, modelled: false },
      { name: 'envoy.filters.http.ext_authz', typeUrl: EXT_AUTHZ_TYPE, modelled: false },
      { name: 'envoy.filters.http.router', modelled: true },
    ]);
    await p.engine.stop();
  });

  it('a name-only entry ProxyScope does not know is warned about too', () => {
    const { warnings } = loadBootstrap(envoyYaml({ httpFilters: [{ name: 'envoy.filters.http.grpc_web' }] }), 'envoy.yaml');
    expect(warnings.map((w) => w.message)).toEqual([
      "HTTP filter 'envoy.filters.http.grpc_web' (no @type) is not modelled by ProxyScope: requests pass through it unchanged",
    ]);
  });
});

describe('the same inputs give the same trace', () => {
  it('through CORS, RBAC, a not-modelled Lua filter, the compressor and a fault at 50%', async () => {
    const { nodeCompression } = await import('../src/transport/node-compression');
    const run = async () => {
      const p = await filterProxy(
        {
          allowWarnings: /is not modelled/,
          httpFilters: [
            { name: 'envoy.filters.http.cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } },
            { name: 'rbac', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: { action: 'DENY', policies: { no_admin: { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] } } } } },
            lua,
            {
              name: 'gzip',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor',
                compressor_library: { name: 'g', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip' } },
              },
            },
            { name: 'faults', typed_config: { '@type': FAULT_TYPE, abort: { http_status: 503, percentage: percent(50) } } },
          ],
          vhost: { typed_per_filter_config: { 'envoy.filters.http.cors': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy', allow_origin_string_match: [{ prefix: 'https://' }] } } },
        },
        () => `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 200\r\n\r\n${'z'.repeat(200)}`,
        { compression: nodeCompression },
      );
      const paths = ['/a', '/admin', '/b', '/c', '/d', '/e'];
      const responses = await p.send(...paths.map((path) => ({ path, headers: { origin: 'https://web.example', 'accept-encoding': 'gzip' } })));
      // What happened, without connection ids (numbered across engines by the in-memory transport).
      const what = p.events.map((e) => (e.type === 'fact' ? `${e.fact} ${JSON.stringify(e.data, (k, v) => (k === 'cx' || k === 'client' ? undefined : v))}` : `${e.type} ${e.machine}`));
      return { what, wire: responses.map((r) => r.raw.toString('base64')) };
    };
    const first = await run();
    // /admin stops at RBAC, before the Lua filter: five requests pass it.
    expect(first.what.filter((w) => w.startsWith('filter.not_modelled'))).toHaveLength(5);
    expect(first.wire).toHaveLength(6);
    const second = await run();
    expect(second.wire).toEqual(first.wire);
    expect(second.what).toEqual(first.what);
  });
});
