import { describe, expect, it } from 'vitest';
import type {
  HeaderMatcher,
  Route,
  RouteAction,
  RouteConfiguration,
  RouteMatch,
  StringMatcher,
  VirtualHost,
} from '../src/config/types';
import { HeaderMap, type RequestHead } from '../src/http/headers';
import { pickWeightedCluster, RouteMatcher } from '../src/router/route-matcher';

// ---------------------------------------------------------------------------------------
// Builders for normalized config (defaults as the loader would fill them)

const NO_MUTATIONS = {
  request_headers_to_add: [],
  request_headers_to_remove: [],
  response_headers_to_add: [],
  response_headers_to_remove: [],
};

function action(a: Partial<RouteAction> = {}): RouteAction {
  return { cluster_not_found_response_code: 503, timeout: 15_000, ...a };
}

function route(name: string, match: Partial<RouteMatch>, a: Partial<RouteAction> = { cluster: 'backend' }): Route {
  return { name, match: { case_sensitive: true, headers: [], ...match }, route: action(a), ...NO_MUTATIONS };
}

function vhost(name: string, domains: string[], routes: Route[] = [route(`${name}/route_0`, { prefix: '/' })]): VirtualHost {
  return { name, domains, routes, ...NO_MUTATIONS };
}

function config(virtual_hosts: VirtualHost[], ignorePort = false): RouteConfiguration {
  return { name: 'local', validate_clusters: true, ignore_port_in_host_matching: ignorePort, virtual_hosts, ...NO_MUTATIONS };
}

function request(
  authority: string,
  path = '/',
  opts: { method?: string; scheme?: 'http' | 'https'; headers?: Array<[string, string]> } = {},
): RequestHead {
  return {
    method: opts.method ?? 'GET',
    path,
    authority,
    scheme: opts.scheme ?? 'http',
    protocol: 'HTTP/1.1',
    headers: HeaderMap.from(opts.headers ?? []),
  };
}

function header(name: string, spec: Partial<HeaderMatcher> = {}): HeaderMatcher {
  return { name, invert_match: false, ...spec };
}

function str(m: Record<string, string>, ignore_case = false): StringMatcher {
  return { ...m, ignore_case } as StringMatcher;
}

// ---------------------------------------------------------------------------------------
// 2.1 virtual host selection

describe('virtual host selection', () => {
  const matcher = new RouteMatcher(
    config([
      vhost('api', ['api.example.com', 'a.example:8080']),
      vhost('suffix', ['*.example.com']),
      vhost('suffix-dash', ['*-bar.example.com']),
      vhost('prefix', ['shop.*']),
      vhost('prefix-long', ['shop.eu.*']),
      vhost('default', ['*']),
    ]),
  );

  it.each([
    ['api.example.com', 'api', 'exact domain "api.example.com"'],
    ['API.Example.COM', 'api', 'exact domain "api.example.com"'],
    ['a.example:8080', 'api', 'exact domain "a.example:8080"'],
    ['foo.example.com', 'suffix', 'suffix wildcard "*.example.com"'],
    ['FOO.EXAMPLE.COM', 'suffix', 'suffix wildcard "*.example.com"'],
    ['foo-bar.example.com', 'suffix-dash', 'suffix wildcard "*-bar.example.com" (longest of 2 matching)'],
    // `*` must stand for at least one character
    ['.example.com', 'default', 'default virtual host "*"'],
    ['-bar.example.com', 'suffix', 'suffix wildcard "*.example.com"'],
    ['shop.other.org', 'prefix', 'prefix wildcard "shop.*"'],
    ['shop.eu.other', 'prefix-long', 'prefix wildcard "shop.eu.*" (longest of 2 matching)'],
    ['shop.', 'default', 'default virtual host "*"'],
    // suffix wildcards are tried before prefix wildcards
    ['shop.example.com', 'suffix', 'suffix wildcard "*.example.com"'],
    // the port is part of the host unless ignore_port_in_host_matching
    ['api.example.com:8080', 'default', 'default virtual host "*"'],
    ['foo.example.com:80', 'default', 'default virtual host "*"'],
    ['', 'default', 'default virtual host "*"'],
  ])('%j → %s', (host, expected, reason) => {
    const found = matcher.findVirtualHost(request(host));
    expect(found.vhost?.name).toBe(expected);
    expect(found.reason).toBe(reason);
  });

  it('suffix wildcards win over prefix wildcards regardless of length', () => {
    const m = new RouteMatcher(config([vhost('short-suffix', ['*.com']), vhost('long-prefix', ['shop.example.*'])]));
    expect(m.findVirtualHost(request('shop.example.com')).vhost?.name).toBe('short-suffix');
    expect(m.findVirtualHost(request('shop.example.org')).vhost?.name).toBe('long-prefix');
  });

  it('exact beats every wildcard', () => {
    const m = new RouteMatcher(config([vhost('wild', ['*.example.com', 'shop.*']), vhost('exact', ['shop.example.com'])]));
    expect(m.findVirtualHost(request('shop.example.com')).vhost?.name).toBe('exact');
  });

  describe('ignore_port_in_host_matching', () => {
    const m = new RouteMatcher(config([vhost('api', ['api.example.com', '[::1]']), vhost('suffix', ['*.example.com'])], true));
    it.each([
      ['api.example.com:8080', 'api'],
      ['API.example.com:443', 'api'],
      ['x.example.com:80', 'suffix'],
      ['[::1]:8080', 'api'],
      ['[::1]', 'api'],
    ])('%j → %s', (host, expected) => {
      expect(m.findVirtualHost(request(host)).vhost?.name).toBe(expected);
    });
    it('still reports the host as sent when nothing matches', () => {
      expect(m.findVirtualHost(request('foo:8080'))).toEqual({ vhost: undefined, reason: 'no virtual host matches "foo:8080"' });
    });
  });

  it('no vhost and no default → undefined with a reason', () => {
    const m = new RouteMatcher(config([vhost('api', ['api.example.com'])]));
    expect(m.findVirtualHost(request('foo:8080'))).toEqual({ vhost: undefined, reason: 'no virtual host matches "foo:8080"' });
  });

  it('a config with only "*" uses it for any Host, even none', () => {
    const m = new RouteMatcher(config([vhost('only', ['*'])]));
    for (const host of ['', 'anything', 'x.y:9']) {
      const found = m.findVirtualHost(request(host));
      expect(found.vhost?.name).toBe('only');
      expect(found.reason).toBe('default virtual host "*" (the only virtual host)');
    }
  });

  it.each([
    [['a.com'], ['a.com']],
    [['a.com'], ['A.COM']],
    [['*.a.com'], ['*.A.com']],
    [['a.*'], ['a.*']],
    [['*'], ['*']],
  ])('rejects duplicate domains %j / %j', (first, second) => {
    expect(() => new RouteMatcher(config([vhost('one', first), vhost('two', second)]))).toThrow(/appears more than once/);
  });
});

// ---------------------------------------------------------------------------------------
// 2.2 routes: path specifiers

describe('path specifiers', () => {
  function firstMatch(match: Partial<RouteMatch>, path: string): boolean {
    const m = new RouteMatcher(config([vhost('v', ['*'], [route('r', match)])]));
    return m.route(request('h', path), 0).matched;
  }

  it.each([
    // prefix is on the whole :path, query included
    [{ prefix: '/api' }, '/api', true],
    [{ prefix: '/api' }, '/api/v1', true],
    [{ prefix: '/api' }, '/apix', true],
    [{ prefix: '/api' }, '/api?x', true],
    [{ prefix: '/api' }, '/ap', false],
    [{ prefix: '/api' }, '/API', false],
    [{ prefix: '/api?x' }, '/api?x=1', true],
    [{ prefix: '/' }, '/anything/at/all?q', true],
    [{ prefix: '/API', case_sensitive: false }, '/api/x', true],
    [{ prefix: '/api', case_sensitive: false }, '/ApI', true],
    // path ignores the query
    [{ path: '/login' }, '/login', true],
    [{ path: '/login' }, '/login?next=/', true],
    [{ path: '/login' }, '/login/', false],
    [{ path: '/login' }, '/logins', false],
    [{ path: '/login' }, '/Login', false],
    [{ path: '/login', case_sensitive: false }, '/LOGIN?x', true],
    // safe_regex: full match on the path without query; case_sensitive does not apply
    [{ safe_regex: '/v[0-9]+/users' }, '/v2/users', true],
    [{ safe_regex: '/v[0-9]+/users' }, '/v12/users?page=2', true],
    [{ safe_regex: '/v[0-9]+/users' }, '/v2/users/1', false],
    [{ safe_regex: '/v[0-9]+/users' }, '/x/v2/users', false],
    [{ safe_regex: '/v[0-9]+/users', case_sensitive: false }, '/V2/users', false],
    [{ safe_regex: '/a|/b' }, '/b', true],
    [{ safe_regex: '/a|/b' }, '/ab', false],
    [{ safe_regex: '(?i)/admin' }, '/ADMIN', true],
    // path_separated_prefix: whole segments only, query ignored
    [{ path_separated_prefix: '/svc' }, '/svc', true],
    [{ path_separated_prefix: '/svc' }, '/svc/', true],
    [{ path_separated_prefix: '/svc' }, '/svc/a/b', true],
    [{ path_separated_prefix: '/svc' }, '/svc?x=1', true],
    [{ path_separated_prefix: '/svc' }, '/svcx', false],
    [{ path_separated_prefix: '/svc' }, '/sv', false],
    [{ path_separated_prefix: '/svc', case_sensitive: false }, '/SVC/a', true],
  ])('%j on %j → %s', (match, path, expected) => {
    expect(firstMatch(match, path)).toBe(expected);
  });

  it('first matching route wins, in config order', () => {
    const m = new RouteMatcher(
      config([
        vhost('v', ['*'], [
          route('exact-a', { path: '/a' }),
          route('prefix-a', { prefix: '/a' }),
          route('catch-all', { prefix: '/' }),
          route('never', { path: '/b' }),
        ]),
      ]),
    );
    expect(m.route(request('h', '/a'), 0).route?.name).toBe('exact-a');
    expect(m.route(request('h', '/ab'), 0).route?.name).toBe('prefix-a');
    expect(m.route(request('h', '/b'), 0).route?.name).toBe('catch-all');
  });

  it('reports what matched and the matched prefix', () => {
    const m = new RouteMatcher(
      config([
        vhost('v', ['api.example.com'], [
          route('by-prefix', { prefix: '/API', case_sensitive: false }),
          route('by-regex', { safe_regex: '/r/[a-z]+' }),
        ]),
      ]),
    );
    const hit = m.route(request('api.example.com', '/api/x?y=1'), 0);
    expect(hit).toMatchObject({
      matched: true,
      vhostReason: 'exact domain "api.example.com"',
      reason: 'route "by-prefix" matched prefix "/API" (case-insensitive)',
      matchedOn: 'prefix "/API" (case-insensitive)',
      matchedPrefix: '/API',
    });
    expect(m.route(request('api.example.com', '/r/abc?q'), 0).matchedPrefix).toBe('/r/abc');
  });

  it('no route → reason names the vhost and request', () => {
    const m = new RouteMatcher(config([vhost('x', ['*'], [route('r', { path: '/only' })])]));
    const miss = m.route(request('h', '/foo'), 0);
    expect(miss.matched).toBe(false);
    expect(miss.vhost?.name).toBe('x');
    expect(miss.route).toBeUndefined();
    expect(miss.reason).toBe('no route in virtual host "x" matches GET /foo');
  });

  it('no vhost → no route, reason from vhost lookup', () => {
    const m = new RouteMatcher(config([vhost('x', ['a.com'])]));
    const miss = m.route(request('b.com', '/'), 0);
    expect(miss).toMatchObject({ matched: false, vhost: undefined, reason: 'no virtual host matches "b.com"' });
  });

  it('rejects an invalid regex at construction', () => {
    expect(() => new RouteMatcher(config([vhost('v', ['*'], [route('r', { safe_regex: '(' })])]))).toThrow(/invalid regex/);
  });
});

// ---------------------------------------------------------------------------------------
// 2.2 routes: header matchers

describe('header matchers', () => {
  function matches(matchers: HeaderMatcher[], req: RequestHead): boolean {
    const m = new RouteMatcher(config([vhost('v', ['*'], [route('r', { prefix: '/', headers: matchers })])]));
    return m.route(req, 0).matched;
  }
  const withHeaders = (...headers: Array<[string, string]>) => request('h', '/', { headers });
  const none = withHeaders();

  it.each<[string, HeaderMatcher, RequestHead, boolean]>([
    ['exact hit', header('x-env', { string_match: str({ exact: 'prod' }) }), withHeaders(['x-env', 'prod']), true],
    ['exact is case-sensitive', header('x-env', { string_match: str({ exact: 'prod' }) }), withHeaders(['x-env', 'Prod']), false],
    ['exact ignore_case', header('x-env', { string_match: str({ exact: 'prod' }, true) }), withHeaders(['x-env', 'PROD']), true],
    ['exact on missing header', header('x-env', { string_match: str({ exact: 'prod' }) }), none, false],
    ['inverted exact, other value', header('x-env', { string_match: str({ exact: 'prod' }), invert_match: true }), withHeaders(['x-env', 'dev']), true],
    ['inverted exact, same value', header('x-env', { string_match: str({ exact: 'prod' }), invert_match: true }), withHeaders(['x-env', 'prod']), false],
    // Envoy: a value matcher never matches a missing header, even inverted
    ['inverted exact, missing header', header('x-env', { string_match: str({ exact: 'prod' }), invert_match: true }), none, false],
    ['prefix', header('user-agent', { string_match: str({ prefix: 'curl/' }) }), withHeaders(['user-agent', 'curl/8.1']), true],
    ['prefix miss', header('user-agent', { string_match: str({ prefix: 'curl/' }) }), withHeaders(['user-agent', 'Curl/8.1']), false],
    ['prefix ignore_case', header('user-agent', { string_match: str({ prefix: 'curl/' }, true) }), withHeaders(['user-agent', 'CURL/8']), true],
    ['suffix', header('x-file', { string_match: str({ suffix: '.json' }) }), withHeaders(['x-file', 'a.json']), true],
    ['suffix miss', header('x-file', { string_match: str({ suffix: '.json' }) }), withHeaders(['x-file', 'a.json.gz']), false],
    ['contains', header('cookie', { string_match: str({ contains: 'beta=1' }) }), withHeaders(['cookie', 'a=b; beta=1; c=d']), true],
    ['contains ignore_case', header('cookie', { string_match: str({ contains: 'BETA=1' }, true) }), withHeaders(['cookie', 'beta=1']), true],
    ['regex is a full match', header('x-id', { string_match: str({ safe_regex: '[0-9]+' }) }), withHeaders(['x-id', '123']), true],
    ['regex partial is no match', header('x-id', { string_match: str({ safe_regex: '[0-9]+' }) }), withHeaders(['x-id', '123a']), false],
    ['range low bound included', header('x-n', { range_match: { start: 10, end: 20 } }), withHeaders(['x-n', '10']), true],
    ['range inside', header('x-n', { range_match: { start: 10, end: 20 } }), withHeaders(['x-n', '19']), true],
    ['range end excluded', header('x-n', { range_match: { start: 10, end: 20 } }), withHeaders(['x-n', '20']), false],
    ['range below', header('x-n', { range_match: { start: 10, end: 20 } }), withHeaders(['x-n', '9']), false],
    ['range negative', header('x-n', { range_match: { start: -10, end: 0 } }), withHeaders(['x-n', '-5']), true],
    ['range explicit plus sign', header('x-n', { range_match: { start: 10, end: 20 } }), withHeaders(['x-n', '+15']), true],
    ['range not an integer', header('x-n', { range_match: { start: 10, end: 20 } }), withHeaders(['x-n', '15.5']), false],
    ['range not base 10', header('x-n', { range_match: { start: 10, end: 20 } }), withHeaders(['x-n', '0x10']), false],
    ['range text', header('x-n', { range_match: { start: 10, end: 20 } }), withHeaders(['x-n', 'abc']), false],
    ['range missing', header('x-n', { range_match: { start: 10, end: 20 } }), none, false],
    ['range inverted', header('x-n', { range_match: { start: 10, end: 20 }, invert_match: true }), withHeaders(['x-n', '25']), true],
    ['present_match true, present', header('x-a', { present_match: true }), withHeaders(['x-a', '']), true],
    ['present_match true, absent', header('x-a', { present_match: true }), none, false],
    ['present_match false, absent', header('x-a', { present_match: false }), none, true],
    ['present_match false, present', header('x-a', { present_match: false }), withHeaders(['x-a', '1']), false],
    ['present_match true inverted, absent', header('x-a', { present_match: true, invert_match: true }), none, true],
    ['no specifier = presence', header('x-a'), withHeaders(['x-a', 'anything']), true],
    ['no specifier, absent', header('x-a'), none, false],
    ['no specifier inverted, absent', header('x-a', { invert_match: true }), none, true],
    ['no specifier inverted, present', header('x-a', { invert_match: true }), withHeaders(['x-a', '1']), false],
    ['header name is case-insensitive', header('X-Env', { string_match: str({ exact: 'prod' }) }), withHeaders(['X-ENV', 'prod']), true],
    ['repeated headers are joined with ","', header('x-tag', { string_match: str({ exact: 'a,b' }) }), withHeaders(['x-tag', 'a'], ['x-tag', 'b']), true],
    [':method', header(':method', { string_match: str({ exact: 'POST' }) }), request('h', '/', { method: 'POST' }), true],
    [':method miss', header(':method', { string_match: str({ exact: 'POST' }) }), request('h', '/'), false],
    [':authority', header(':authority', { string_match: str({ suffix: ':8080' }) }), request('a.com:8080', '/'), true],
    [':path includes query', header(':path', { string_match: str({ contains: 'debug=1' }) }), request('h', '/x?debug=1'), true],
    [':scheme', header(':scheme', { string_match: str({ exact: 'https' }) }), request('h', '/', { scheme: 'https' }), true],
  ])('%s', (_label, matcher, req, expected) => {
    expect(matches([matcher], req)).toBe(expected);
  });

  it('all matchers must match (AND), otherwise the next route is tried', () => {
    const m = new RouteMatcher(
      config([
        vhost('v', ['*'], [
          route('canary', { prefix: '/', headers: [header(':method', { string_match: str({ exact: 'GET' }) }), header('x-canary')] }, { cluster: 'canary' }),
          route('stable', { prefix: '/' }, { cluster: 'stable' }),
        ]),
      ]),
    );
    const both = m.route(request('h', '/', { headers: [['x-canary', '1']] }), 0);
    expect(both.route?.name).toBe('canary');
    expect(both.matchedOn).toBe('prefix "/" + header ":method" exact "GET" + header "x-canary" present');
    expect(m.route(request('h', '/', { method: 'POST', headers: [['x-canary', '1']] }), 0).route?.name).toBe('stable');
    expect(m.route(request('h', '/'), 0).route?.name).toBe('stable');
  });
});

// ---------------------------------------------------------------------------------------
// 2.3 cluster choice

describe('cluster choice', () => {
  const weighted = { clusters: [{ name: 'a', weight: 30 }, { name: 'b', weight: 70 }], total_weight: 100 };

  it.each<[bigint | number, string]>([
    [0, 'a'],
    [29, 'a'],
    [30, 'b'], // exact boundary belongs to the next interval
    [99, 'b'], // total - 1
    [100, 'a'], // wraps: 100 % 100 = 0
    [130, 'b'],
    [2n ** 64n - 1n, 'a'], // (2^64 - 1) % 100 = 15
    [12345678901234567890n, 'b'], // % 100 = 90
  ])('random %s → %s', (random, expected) => {
    expect(pickWeightedCluster(weighted, random).name).toBe(expected);
  });

  it('explains the pick', () => {
    expect(pickWeightedCluster(weighted, 1234).reason).toBe('weighted_clusters: 1234 % 100 = 34 → "b" [30, 100)');
  });

  it('skips zero-weight entries and uses the sum of weights as total', () => {
    const w = { clusters: [{ name: 'a', weight: 5 }, { name: 'zero', weight: 0 }, { name: 'c', weight: 5 }], total_weight: 100 };
    expect(pickWeightedCluster(w, 4).name).toBe('a');
    expect(pickWeightedCluster(w, 5).name).toBe('c');
    expect(pickWeightedCluster(w, 9).name).toBe('c');
    expect(pickWeightedCluster(w, 10).name).toBe('a');
  });

  it('route() uses the same random value for the weighted pick', () => {
    const m = new RouteMatcher(config([vhost('v', ['*'], [route('r', { prefix: '/' }, { weighted_clusters: weighted })])]));
    expect(m.route(request('h', '/'), 29n).cluster?.name).toBe('a');
    expect(m.route(request('h', '/'), 30n).cluster?.name).toBe('b');
  });

  it('cluster_header takes the cluster from a request header; missing → empty name', () => {
    const m = new RouteMatcher(config([vhost('v', ['*'], [route('r', { prefix: '/' }, { cluster_header: 'X-Cluster' })])]));
    expect(m.route(request('h', '/', { headers: [['x-cluster', 'blue'], ['x-cluster', 'green']] }), 0).cluster).toEqual({
      name: 'blue',
      reason: 'cluster_header "x-cluster" = "blue"',
    });
    expect(m.route(request('h', '/'), 0).cluster).toEqual({ name: '', reason: 'cluster_header "x-cluster" missing → empty cluster name' });
  });

  it('redirect and direct_response routes have no cluster', () => {
    const redirect: Route = {
      name: 'redir',
      match: { prefix: '/old', case_sensitive: true, headers: [] },
      redirect: { https_redirect: true, response_code: 301, strip_query: false },
      ...NO_MUTATIONS,
    };
    const direct: Route = { name: 'direct', match: { prefix: '/', case_sensitive: true, headers: [] }, direct_response: { status: 200, body: 'ok' }, ...NO_MUTATIONS };
    const m = new RouteMatcher(config([vhost('v', ['*'], [redirect, direct])]));
    expect(m.route(request('h', '/old'), 0)).toMatchObject({ matched: true, route: { name: 'redir' }, cluster: undefined });
    expect(m.route(request('h', '/x'), 0)).toMatchObject({ matched: true, route: { name: 'direct' }, cluster: undefined });
  });
});

describe('require_tls (VirtualHostImpl SSL_REDIRECT_ROUTE)', () => {
  const tls = (require_tls: VirtualHost['require_tls']) => new RouteMatcher(config([{ ...vhost('v', ['*']), require_tls }]));
  const xfp = (proto: string, internal = false): Array<[string, string]> => [['x-forwarded-proto', proto], ...(internal ? [['x-envoy-internal', 'true'] as [string, string]] : [])];

  it('ALL: a request that is not https gets the https redirect before any route', () => {
    const r = tls('ALL').route(request('h', '/x', { headers: xfp('http', true) }), 0);
    expect(r).toMatchObject({ matched: true, route: { name: 'v/require_tls', redirect: { https_redirect: true, response_code: 301 } }, cluster: undefined });
    expect(tls('ALL').route(request('h', '/x', { headers: xfp('https') }), 0)).toMatchObject({ matched: true, route: { name: 'v/route_0' } });
  });

  it('EXTERNAL_ONLY: x-envoy-internal requests are let through on http', () => {
    expect(tls('EXTERNAL_ONLY').route(request('h', '/x', { headers: xfp('http', true) }), 0)).toMatchObject({ route: { name: 'v/route_0' } });
    expect(tls('EXTERNAL_ONLY').route(request('h', '/x', { headers: xfp('http') }), 0)).toMatchObject({ route: { name: 'v/require_tls' } });
  });

  it('NONE (or absent) never redirects', () => {
    expect(tls('NONE').route(request('h', '/x', { headers: xfp('http') }), 0)).toMatchObject({ route: { name: 'v/route_0' } });
    expect(tls(undefined).route(request('h', '/x', { headers: xfp('http') }), 0)).toMatchObject({ route: { name: 'v/route_0' } });
  });
});
