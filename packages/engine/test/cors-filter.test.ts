/**
 * envoy.filters.http.cors: preflights answered at the proxy, allow-origin on simple
 * requests from allowed origins, policies from typed_per_filter_config or the legacy
 * `cors` field, shadow mode, and the cors.origin_valid / origin_invalid stats.
 */
import { describe, expect, it } from 'vitest';
import { percent } from './support/envoy-config';
import { filterProxy } from './support/filter-proxy';

const CORS = { name: 'envoy.filters.http.cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } };
const POLICY_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
const policy = {
  allow_origin_string_match: [{ exact: 'https://app.example.com' }, { suffix: '.trusted.example' }],
  allow_methods: 'GET, PUT',
  allow_headers: 'content-type, x-token',
  expose_headers: 'x-request-id',
  max_age: '600',
  allow_credentials: true,
};
const vhostPolicy = (extra: Record<string, unknown> = {}) => ({ typed_per_filter_config: { 'envoy.filters.http.cors': { '@type': POLICY_TYPE, ...policy, ...extra } } });
const preflight = (origin: string) => ({ method: 'OPTIONS', path: '/api', headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-token' } });
const stats = (p: { stat(n: string): number }) => ({ valid: p.stat('http.ingress_http.cors.origin_valid'), invalid: p.stat('http.ingress_http.cors.origin_invalid') });

describe('CORS filter', () => {
  it('answers a preflight from an allowed origin itself with the allow-* headers; the upstream never sees it', async () => {
    const p = await filterProxy({ httpFilters: [CORS], vhost: vhostPolicy() });
    const [res] = await p.send(preflight('https://app.example.com'));
    expect(res!.status).toBe(200);
    expect(res!.headers).toMatchObject({
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-methods': 'GET, PUT',
      'access-control-allow-headers': 'content-type, x-token',
      'access-control-max-age': '600',
      'access-control-allow-credentials': 'true',
    });
    expect(p.origin.requests).toHaveLength(0);
    expect(stats(p)).toEqual({ valid: 1, invalid: 0 });
  });

  it('adds allow-origin, credentials and expose-headers to a simple request from an allowed origin, nothing for others', async () => {
    const p = await filterProxy({ httpFilters: [CORS], vhost: vhostPolicy() });
    const [ok, other, none] = await p.send(
      { path: '/a', headers: { origin: 'https://x.trusted.example' } },
      { path: '/b', headers: { origin: 'https://evil.example' } },
      { path: '/c' },
    );
    expect(ok!.headers['access-control-allow-origin']).toBe('https://x.trusted.example');
    expect(ok!.headers['access-control-allow-credentials']).toBe('true');
    expect(ok!.headers['access-control-expose-headers']).toBe('x-request-id');
    expect(other!.status).toBe(200);
    expect(other!.headers['access-control-allow-origin']).toBeUndefined();
    expect(none!.headers['access-control-allow-origin']).toBeUndefined();
    expect(p.origin.requests.map((r) => r.path)).toEqual(['/a', '/b', '/c']);
    expect(stats(p)).toEqual({ valid: 1, invalid: 1 });
  });

  it('forwards a preflight from a disallowed origin upstream (forward_not_matching_preflights defaults to true), or answers it without allow-origin when false', async () => {
    const p = await filterProxy({ httpFilters: [CORS], vhost: vhostPolicy() });
    await p.send(preflight('https://evil.example'));
    expect(p.origin.requests.map((r) => r.method)).toEqual(['OPTIONS']);
    const q = await filterProxy({ httpFilters: [CORS], vhost: vhostPolicy({ forward_not_matching_preflights: false }) });
    const [res] = await q.send(preflight('https://evil.example'));
    expect(res!.status).toBe(200);
    expect(res!.headers['access-control-allow-origin']).toBeUndefined();
    expect(q.origin.requests).toHaveLength(0);
  });

  it('"*" in allow_methods / allow_headers echoes what the preflight asked for', async () => {
    const p = await filterProxy({ httpFilters: [CORS], vhost: vhostPolicy({ allow_methods: '*', allow_headers: '*' }) });
    const [res] = await p.send(preflight('https://app.example.com'));
    expect(res!.headers['access-control-allow-methods']).toBe('PUT');
    expect(res!.headers['access-control-allow-headers']).toBe('x-token');
  });

  it("a route's policy wins over its virtual host's field by field; the legacy route `cors` field applies when no typed policy does", async () => {
    const p = await filterProxy({
      httpFilters: [CORS],
      vhost: vhostPolicy(),
      routes: [
        { name: 'open', match: { prefix: '/open' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.cors': { '@type': POLICY_TYPE, allow_origin_string_match: [{ prefix: 'https://' }] } } },
        { name: 'all', match: { prefix: '/' }, route: { cluster: 'backend' } },
      ],
    });
    const [open] = await p.send({ path: '/open', headers: { origin: 'https://anyone.example' } });
    expect(open!.headers['access-control-allow-origin']).toBe('https://anyone.example');
    // expose_headers comes from the virtual host's policy.
    expect(open!.headers['access-control-expose-headers']).toBe('x-request-id');

    const legacy = await filterProxy({
      allowWarnings: /field 'cors' is deprecated/,
      httpFilters: [CORS],
      routes: [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend', cors: { allow_origin_string_match: [{ exact: 'https://old.example' }], allow_methods: 'POST' } } }],
    });
    const [res] = await legacy.send(preflight('https://old.example'));
    expect(res!.headers['access-control-allow-methods']).toBe('POST');
    expect(legacy.origin.requests).toHaveLength(0);
  });

  it('shadow_enabled without filter_enabled only counts: no preflight answer, no headers', async () => {
    const p = await filterProxy({ httpFilters: [CORS], vhost: vhostPolicy({ filter_enabled: { default_value: percent(0) }, shadow_enabled: { default_value: percent(100) } }) });
    const [pre, simple] = await p.send(preflight('https://app.example.com'), { path: '/s', headers: { origin: 'https://evil.example' } });
    expect(pre!.headers['access-control-allow-origin']).toBeUndefined();
    expect(simple!.headers['access-control-allow-origin']).toBeUndefined();
    expect(p.origin.requests.map((r) => r.method)).toEqual(['OPTIONS', 'GET']);
    expect(stats(p)).toEqual({ valid: 1, invalid: 1 });
  });
});
