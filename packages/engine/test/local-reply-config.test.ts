/**
 * HCM local_reply_config: mappers and body formats applied to the replies the proxy makes
 * itself (LocalReplyImpl::rewrite), through the proxy on real sockets.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrap } from '../src/config/load';
import { envoyYaml, faultFilter, loadEnvoy, percent } from './support/envoy-config';
import { closedPort, httpRequest, startProxy, startUpstream } from './support/upstreams';

const statusIs = (value: number, op = 'EQ') => ({ status_code_filter: { comparison: { op, value: { default_value: value, runtime_key: 'lr.status' } } } });

const routes = [
  { name: 'api', match: { prefix: '/api' }, route: { cluster: 'backend' } },
  { name: 'gone', match: { prefix: '/gone' }, direct_response: { status: 410, body: { inline_string: 'gone for good' } } },
];

describe('local_reply_config', () => {
  it('a mapper rewrites status, body and headers of a 404 no-route reply, then body_format renders it', async () => {
    const config = loadEnvoy({
      routes,
      hcm: {
        local_reply_config: {
          mappers: [
            {
              filter: statusIs(404),
              status_code: 401,
              body: { inline_string: 'nothing here' },
              headers_to_add: [{ header: { key: 'x-mapped', value: 'yes' } }],
            },
          ],
          body_format: { text_format_source: { inline_string: '[%LOCAL_REPLY_BODY%] %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %REQ(x-missing)%\n' } },
        },
      },
    });
    const proxy = await startProxy(config);
    const res = await httpRequest(proxy.port, { path: '/nowhere' });
    expect(res.status).toBe(401);
    expect(res.text).toBe('[nothing here] 401 route_not_found -\n');
    expect(res.headers['x-mapped']).toBe('yes');
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.text)));
    // The access log and the stats see the status that was sent.
    expect(proxy.stat('http.ingress_http.downstream_rq_4xx')).toBe(1);
    const fact = proxy.events.find((e) => e.type === 'fact' && e.fact === 'stream.local_reply');
    expect(fact && fact.type === 'fact' && fact.data).toMatchObject({ status: 401, originalStatus: 404, mapper: 0, details: 'route_not_found' });
  });

  it('json_format keeps operator types, prints unset values as null and sets application/json', async () => {
    const port = await closedPort();
    const config = loadEnvoy({
      routes,
      clusterPort: port,
      hcm: {
        local_reply_config: {
          body_format: {
            json_format: { code: '%RESPONSE_CODE%', message: '%LOCAL_REPLY_BODY%', flags: '%RESPONSE_FLAGS%', path: '%REQ(:PATH)%', missing: '%REQ(x-missing)%', note: 'at %REQ(:PATH)%', fixed: 7 },
          },
        },
      },
    });
    const proxy = await startProxy(config);
    const res = await httpRequest(proxy.port, { path: '/api/x' });
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.text.endsWith('\n')).toBe(true);
    const body = JSON.parse(res.text);
    expect(body).toEqual({
      code: 503,
      message: expect.stringContaining('upstream connect error or disconnect/reset before headers'),
      flags: 'UF',
      path: '/api/x',
      missing: null,
      note: 'at /api/x',
      fixed: 7,
    });
  });

  it('the first matching mapper wins; filters on flags, request headers and and/or/not', async () => {
    const config = loadEnvoy({
      routes,
      httpFilters: [faultFilter({ abort: { header_abort: {}, percentage: percent(100) } })],
      hcm: {
        local_reply_config: {
          mappers: [
            // A fault abort sets FI; only for requests that say so.
            {
              filter: { and_filter: { filters: [{ response_flag_filter: { flags: ['FI'] } }, { header_filter: { header: { name: 'x-tenant', string_match: { exact: 'blue' } } } }] } },
              status_code: 418,
              body_format_override: { text_format_source: { inline_string: 'blue fault: %RESPONSE_CODE%' }, content_type: 'text/x-blue' },
            },
            { filter: { or_filter: { filters: [statusIs(500), statusIs(502)] } }, body: { inline_string: 'server trouble' } },
            { filter: statusIs(400, 'GE'), body: { inline_string: 'never reached for 500' } },
          ],
        },
      },
    });
    const proxy = await startProxy(config);
    const blue = await httpRequest(proxy.port, { path: '/api', headers: { 'x-envoy-fault-abort-request': '500', 'x-tenant': 'blue' } });
    expect(blue.status).toBe(418);
    expect(blue.text).toBe('blue fault: 418');
    expect(blue.headers['content-type']).toBe('text/x-blue');
    const red = await httpRequest(proxy.port, { path: '/api', headers: { 'x-envoy-fault-abort-request': '500', 'x-tenant': 'red' } });
    expect(red.status).toBe(500);
    expect(red.text).toBe('server trouble');
    const bad = await httpRequest(proxy.port, { path: '/api', headers: { 'x-envoy-fault-abort-request': '429' } });
    expect(bad.status).toBe(429);
    expect(bad.text).toBe('never reached for 500');
  });

  it('applies to direct_response (a local reply in Envoy) but never to upstream responses', async () => {
    const up = await startUpstream({ respond: () => ({ status: 404, body: 'upstream says no' }) });
    const config = loadEnvoy({
      routes,
      clusterPort: up.port,
      hcm: { local_reply_config: { mappers: [{ filter: statusIs(400, 'GE'), status_code: 299, body: { inline_string: 'mapped' } }] } },
    });
    const proxy = await startProxy(config);
    const direct = await httpRequest(proxy.port, { path: '/gone' });
    expect([direct.status, direct.text]).toEqual([299, 'mapped']);
    const upstream = await httpRequest(proxy.port, { path: '/api' });
    expect([upstream.status, upstream.text]).toEqual([404, 'upstream says no']);
  });

  it('refuses filters it cannot evaluate, naming the line', () => {
    const yaml = envoyYaml({ hcm: { local_reply_config: { mappers: [{ filter: { grpc_status_filter: { statuses: ['OK'] } }, status_code: 200 }] } } });
    let error: unknown;
    try {
      loadBootstrap(yaml, 'envoy.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const [d] = (error as ConfigError).diagnostics;
    expect(d!.path).toMatch(/local_reply_config\.mappers\[0\]\.filter\.grpc_status_filter$/);
    expect(d!.message).toMatch(/unsupported access log filter grpc_status_filter/);
    expect(yaml.split('\n')[d!.line - 1]).toContain('grpc_status_filter');
  });

  it('rejects a bad operator in a body format and an unknown response flag', () => {
    const bad = (localReply: unknown) => () => loadBootstrap(envoyYaml({ hcm: { local_reply_config: localReply } }), 'envoy.yaml');
    expect(bad({ body_format: { json_format: { a: { b: '%NOPE%' } } } })).toThrow(/json_format\.a\.b.*unknown command operator %NOPE%/);
    expect(bad({ mappers: [{ filter: { response_flag_filter: { flags: ['ZZ'] } } }] })).toThrow(/response_flag_filter\.flags\[0\]: .*(unknown response flag|value must be in list)/);
  });
});
