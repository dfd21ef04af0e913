/**
 * envoy.filters.http.csrf: mutating requests whose Origin (or Referer) is not the Host or
 * an additional origin get 403 "Invalid origin"; shadow mode only counts; the csrf.* stats.
 */
import { describe, expect, it } from 'vitest';
import { percent } from './support/envoy-config';
import { filterProxy } from './support/filter-proxy';

const CSRF_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.csrf.v3.CsrfPolicy';
const csrf = (config: Record<string, unknown>) => ({ name: 'envoy.filters.http.csrf', typed_config: { '@type': CSRF_TYPE, ...config } });
const on = { default_value: percent(100) };
const off = { default_value: percent(0) };
const counts = (p: { stat(n: string): number }) =>
  Object.fromEntries(['missing_source_origin', 'request_invalid', 'request_valid'].map((s) => [s, p.stat(`http.ingress_http.csrf.${s}`)]));
const post = (headers: Record<string, string>) => ({ method: 'POST', path: '/form', headers: { host: 'shop.example.com', ...headers } });

describe('CSRF filter', () => {
  it('lets a same-origin POST through and refuses a cross-origin one with 403 "Invalid origin"', async () => {
    const p = await filterProxy({ httpFilters: [csrf({ filter_enabled: on })] });
    const [same, get, cross] = await p.send(
      post({ origin: 'https://shop.example.com' }),
      { path: '/page', headers: { origin: 'https://evil.example' } },
      post({ origin: 'https://evil.example' }),
    );
    expect([same!.status, get!.status, cross!.status]).toEqual([200, 200, 403]);
    expect(cross!.body.toString()).toBe('Invalid origin');
    expect(p.origin.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
    expect(counts(p)).toEqual({ missing_source_origin: 0, request_invalid: 1, request_valid: 1 });
  });

  it('falls back to Referer, and counts a request with neither as missing_source_origin and invalid', async () => {
    const p = await filterProxy({ httpFilters: [csrf({ filter_enabled: on })] });
    const [referer] = await p.send(post({ referer: 'https://shop.example.com/cart?x=1' }));
    expect(referer!.status).toBe(200);
    const q = await filterProxy({ httpFilters: [csrf({ filter_enabled: on })] });
    const [none] = await q.send({ method: 'DELETE', path: '/item/1', headers: { host: 'shop.example.com' } });
    expect(none!.status).toBe(403);
    expect(counts(q)).toEqual({ missing_source_origin: 1, request_invalid: 1, request_valid: 0 });
  });

  it('accepts additional_origins, and in shadow mode only counts', async () => {
    const p = await filterProxy({ httpFilters: [csrf({ filter_enabled: on, additional_origins: [{ suffix: '.partner.example' }] })] });
    const [partner] = await p.send(post({ origin: 'https://pay.partner.example' }));
    expect(partner!.status).toBe(200);
    const q = await filterProxy({ httpFilters: [csrf({ filter_enabled: off, shadow_enabled: on })] });
    const [shadowed] = await q.send(post({ origin: 'https://evil.example' }));
    expect(shadowed!.status).toBe(200);
    expect(counts(q)).toEqual({ missing_source_origin: 0, request_invalid: 1, request_valid: 0 });
  });

  it('a route CsrfPolicy replaces the filter\'s: filter_enabled 0% there lets anything in', async () => {
    const p = await filterProxy({
      httpFilters: [csrf({ filter_enabled: on })],
      routes: [
        { name: 'hook', match: { prefix: '/webhook' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.csrf': { '@type': CSRF_TYPE, filter_enabled: off } } },
        { name: 'all', match: { prefix: '/' }, route: { cluster: 'backend' } },
      ],
    });
    const [hook] = await p.send({ method: 'POST', path: '/webhook', headers: { host: 'shop.example.com', origin: 'https://github.example' } });
    expect(hook!.status).toBe(200);
    expect(counts(p)).toEqual({ missing_source_origin: 0, request_invalid: 0, request_valid: 0 });
  });

  it('requires filter_enabled, at the filter', async () => {
    const { loadBootstrap } = await import('../src/config/load');
    const { envoyYaml } = await import('./support/envoy-config');
    expect(() => loadBootstrap(envoyYaml({ httpFilters: [csrf({})] }), 'envoy.yaml')).toThrow(/http_filters\[0\]\.typed_config\.filter_enabled: missing required field/);
  });
});
