/**
 * envoy.filters.http.rbac: ALLOW and DENY policies over headers, paths, methods and
 * client addresses, composed with and/or/not; shadow rules that only count; RBACPerRoute;
 * 403 "RBAC: access denied" and the rbac.* stats.
 */
import { describe, expect, it } from 'vitest';
import type { RbacMatcher } from '../src/config/filters/rbac';
import { loadEnvoy } from './support/envoy-config';
import { filterProxy } from './support/filter-proxy';
import { MemoryOrigin, ok, settle, startSimulated } from './support/memory-origin';
import { parseResponses } from './support/upstreams';

const RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const rbac = (config: Record<string, unknown>) => ({ name: 'envoy.filters.http.rbac', typed_config: { '@type': RBAC_TYPE, ...config } });
const counts = (p: { stat(n: string): number }, prefix = '') =>
  Object.fromEntries(['allowed', 'denied', 'shadow_allowed', 'shadow_denied'].map((s) => [s, p.stat(`http.ingress_http.rbac.${s.startsWith('shadow') ? '' : prefix}${s}`)]));

describe('RBAC filter', () => {
  it('ALLOW: lets through what a policy matches (GET under /public, or anyone with the admin header), 403 for the rest', async () => {
    const p = await filterProxy({
      httpFilters: [
        rbac({
          rules: {
            action: 'ALLOW',
            policies: {
              'public-read': {
                permissions: [{ and_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'GET' } } }, { url_path: { path: { prefix: '/public/' } } }] } }],
                principals: [{ any: true }],
              },
              admins: { permissions: [{ any: true }], principals: [{ header: { name: 'x-role', string_match: { exact: 'admin' } } }] },
            },
          },
        }),
      ],
    });
    const responses = await p.send(
      { path: '/public/a?x=1' },
      { path: '/private' },
      { path: '/private', headers: { 'x-role': 'admin' } },
      // last: a reply before the request body is read closes an HTTP/1 connection
      { method: 'POST', path: '/public/a', body: 'x' },
    );
    expect(responses.map((r) => r.status)).toEqual([200, 403, 200, 403]);
    expect(responses[1]!.body.toString()).toBe('RBAC: access denied');
    expect(p.origin.requests.map((r) => r.path)).toEqual(['/public/a?x=1', '/private']);
    expect(counts(p)).toEqual({ allowed: 2, denied: 2, shadow_allowed: 0, shadow_denied: 0 });
    expect(p.facts('filter.rbac')[2]).toMatchObject({ result: 'allowed', policy: 'admins' });
  });

  it('DENY: refuses what a policy matches, by client address (direct_remote_ip CIDR) and not_rule', async () => {
    const p = await filterProxy({
      httpFilters: [
        rbac({
          rules_stat_prefix: 'edge.',
          rules: {
            action: 'DENY',
            policies: {
              'loopback-except-health': {
                permissions: [{ not_rule: { url_path: { path: { exact: '/healthz' } } } }],
                principals: [{ direct_remote_ip: { address_prefix: '127.0.0.0', prefix_len: 8 } }],
              },
            },
          },
        }),
      ],
    });
    const responses = await p.send({ path: '/healthz' }, { path: '/other' });
    expect(responses.map((r) => r.status)).toEqual([200, 403]);
    expect(counts(p, 'edge.')).toMatchObject({ allowed: 1, denied: 1 });
  });

  it('remote_ip reads the client address from x-forwarded-for; or_ids takes either', async () => {
    const p = await filterProxy({
      httpFilters: [
        rbac({
          rules: {
            action: 'ALLOW',
            policies: { office: { permissions: [{ any: true }], principals: [{ or_ids: { ids: [{ remote_ip: { address_prefix: '10.1.0.0', prefix_len: 16 } }, { remote_ip: { address_prefix: '2001:db8::', prefix_len: 32 } }] } }] } },
          },
        }),
      ],
    });
    const responses = await p.send(
      { headers: { 'x-forwarded-for': '10.1.2.3' } },
      { headers: { 'x-forwarded-for': '192.0.2.1, 2001:db8::7' } },
      { headers: { 'x-forwarded-for': '10.2.0.1' } },
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200, 403]);
  });

  it('shadow_rules only count; RBACPerRoute replaces the rules for a route, or turns the filter off', async () => {
    const denyAll = { action: 'ALLOW', policies: {} };
    const p = await filterProxy({
      httpFilters: [rbac({ shadow_rules: { action: 'DENY', policies: { everything: { permissions: [{ any: true }], principals: [{ any: true }] } } } })],
      routes: [
        { name: 'locked', match: { prefix: '/locked' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.rbac': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute', rbac: { rules: denyAll } } } },
        { name: 'off', match: { prefix: '/off' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.rbac': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute' } } },
        { name: 'all', match: { prefix: '/' }, route: { cluster: 'backend' } },
      ],
    });
    const responses = await p.send({ path: '/open' }, { path: '/locked' }, { path: '/off' });
    expect(responses.map((r) => r.status)).toEqual([200, 403, 200]);
    // /open: shadow denied but let through; /locked: its own rules, no shadow; /off: filter off.
    expect(counts(p)).toEqual({ allowed: 0, denied: 1, shadow_allowed: 0, shadow_denied: 1 });
  });

  it('the matcher API: a DENY action for a request-header predicate (the Envoy sandbox\'s referer check), on_no_match ALLOW', async () => {
    // Loaded in code: the proto checker does not know HttpRequestHeaderMatchInput yet, though Envoy does.
    const matcher: RbacMatcher = {
      matchers: [{ predicate: { not: { header: 'referer', value: { safe_regex: 'https?://(www.)?envoyproxy.io/docs/envoy.*', ignore_case: false } } }, action: { name: 'illegal-referer', action: 'DENY' } }],
      on_no_match: { name: 'all-pass', action: 'ALLOW' },
    };
    const config = loadEnvoy({ httpFilters: [rbac({})] });
    const filter = config.static_resources.listeners[0]!.filter_chains[0]!.hcm!.http_filters[0]!;
    filter.typed_config = { ...filter.typed_config, matcher };
    const p = await startSimulated(config, new MemoryOrigin(() => ok()));
    const c = p.dial();
    for (const referer of ['https://www.envoyproxy.io/docs/envoy/latest/', 'https://elsewhere.example/', undefined]) {
      c.write(`GET / HTTP/1.1\r\nHost: example.com\r\n${referer ? `referer: ${referer}\r\n` : ''}\r\n`);
      await settle();
    }
    expect(parseResponses(Buffer.concat(c.received)).map((r) => r.status)).toEqual([200, 403, 403]);
    expect(counts(p)).toMatchObject({ allowed: 1, denied: 2 });
  });

  it('loads a matcher from YAML: on_no_match alone decides; rules and matcher together are refused', async () => {
    const deny = { action: { name: 'action', typed_config: { '@type': 'type.googleapis.com/envoy.config.rbac.v3.Action', name: 'closed', action: 'DENY' } } };
    const p = await filterProxy({ httpFilters: [rbac({ matcher: { on_no_match: deny } })] });
    const [res] = await p.send({});
    expect(res!.status).toBe(403);
    expect(p.facts('filter.rbac')[0]).toMatchObject({ result: 'denied', action: 'matcher', policy: 'closed' });
    const { loadBootstrap } = await import('../src/config/load');
    const { envoyYaml } = await import('./support/envoy-config');
    const yaml = envoyYaml({ httpFilters: [rbac({ rules: { action: 'ALLOW', policies: {} }, matcher: { on_no_match: deny } })] });
    expect(() => loadBootstrap(yaml, 'envoy.yaml')).toThrow(/http_filters\[0\]\.typed_config\.matcher: set either rules or matcher, not both/);
  });

  it('reports a permission without a rule at its field', async () => {
    const { loadBootstrap } = await import('../src/config/load');
    const { envoyYaml } = await import('./support/envoy-config');
    const yaml = envoyYaml({ httpFilters: [rbac({ rules: { policies: { p: { permissions: [{}], principals: [{ any: true }] } } } })] });
    expect(() => loadBootstrap(yaml, 'envoy.yaml')).toThrow(/http_filters\[0\]\.typed_config\.rules\.policies\.p\.permissions\[0\]: a permission needs one of any, header, url_path/);
  });
});
