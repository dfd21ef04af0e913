import http from 'node:http';
import zlib from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { httpGet, startCli, writeConfig } from './support/cli-process';

/**
 * `proxyscope` on a config with filters from real Envoy setups: a Lua filter (not
 * modelled: one warning, passed through), gzip compression through node:zlib on real
 * sockets, and health checks answered by the proxy and failed from the admin.
 */

const PAGE = 'hello from the upstream, compress me please. '.repeat(100);

function config(upstreamPort: number): string {
  return `static_resources:
  listeners:
    - name: ingress
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: { prefix: / }
                          route: { cluster: web }
                http_filters:
                  - name: envoy.filters.http.health_check
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
                      pass_through_mode: false
                      headers:
                        - name: ":path"
                          string_match: { exact: /healthz }
                  - name: lua_filter_with_custom_name_0
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
                      default_source_code:
                        inline_string: |
                          function envoy_on_request(handle) handle:respond({[":status"] = "418"}, "teapot") end
                  - name: envoy.filters.http.compressor
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
                      compressor_library:
                        name: text_optimized
                        typed_config:
                          "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip
                  - name: envoy.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: web
      load_assignment:
        cluster_name: web
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } }
`;
}

describe('proxyscope with health_check, Lua and compressor filters', () => {
  it('warns once about the Lua filter and never runs it, gzips on real sockets, answers /healthz and fails it from the admin', async () => {
    const upstream = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(PAGE));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void upstream.close());
    const upstreamPort = (upstream.address() as { port: number }).port;

    const yaml = config(upstreamPort);
    const file = writeConfig(yaml);
    const cli = startCli(['--config', file, '--admin', '127.0.0.1:0']);
    const admin = await cli.adminUrl();
    const listener = await cli.listenerUrl('ingress');

    const luaLine = yaml.split('\n').findIndex((l) => l.includes('name: lua_filter_with_custom_name_0')) + 1;
    const warnings = cli.stderr().split('\n').filter((l) => l.includes('is not modelled'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${file}:${luaLine}:`);
    expect(warnings[0]).toContain("HTTP filter 'lua_filter_with_custom_name_0' (@type type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua)");

    const res = await httpGet(`${listener}/page`, { 'accept-encoding': 'gzip' });
    expect(res.status).toBe(200); // the Lua script would have said 418
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(res.body).toString()).toBe(PAGE);

    expect((await httpGet(`${listener}/healthz`)).status).toBe(200);
    expect((await fetch(`${admin}/healthcheck/fail`, { method: 'POST' })).status).toBe(200);
    expect((await httpGet(`${listener}/healthz`)).status).toBe(503);
    const stats = await (await fetch(`${admin}/stats`)).text();
    expect(stats).toMatch(/^http\.ingress_http\.compressor\.text_optimized\.gzip\.compressed: 1$/m);

    expect(await cli.stop()).toBe(0);
  });
});
