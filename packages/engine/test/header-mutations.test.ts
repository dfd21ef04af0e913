import { describe, expect, it } from 'vitest';
import type { HeaderMutations, HeaderValueOption, RedirectAction } from '../src/config/types';
import { HeaderMap, type RequestHead } from '../src/http/headers';
import {
  applyHeaderMutations,
  applyLayeredHeaderMutations,
  buildRedirectLocation,
  headerValueFormatter,
  rewritePath,
} from '../src/router/header-mutations';

type Action = HeaderValueOption['append_action'];

function opt(key: string, value: string, append_action: Action = 'APPEND_IF_EXISTS_OR_ADD'): HeaderValueOption {
  return { key, value, append_action };
}

function pairs(h: HeaderMap): Array<[string, string]> {
  return h.entries().map(([k, v]) => [k, v]);
}

function mutations(m: Partial<HeaderMutations>): HeaderMutations {
  return { request_headers_to_add: [], request_headers_to_remove: [], response_headers_to_add: [], response_headers_to_remove: [], ...m };
}

// ---------------------------------------------------------------------------------------
// append_action

describe('applyHeaderMutations', () => {
  it.each<[string, Array<[string, string]>, HeaderValueOption[], string[], Array<[string, string]>]>([
    ['APPEND_IF_EXISTS_OR_ADD adds another value', [['x-a', '1']], [opt('x-a', '2')], [], [['x-a', '1'], ['x-a', '2']]],
    ['APPEND_IF_EXISTS_OR_ADD adds when absent', [], [opt('x-a', '2')], [], [['x-a', '2']]],
    ['ADD_IF_ABSENT leaves an existing header', [['x-a', '1']], [opt('x-a', '2', 'ADD_IF_ABSENT')], [], [['x-a', '1']]],
    ['ADD_IF_ABSENT adds when absent', [], [opt('x-a', '2', 'ADD_IF_ABSENT')], [], [['x-a', '2']]],
    [
      'OVERWRITE_IF_EXISTS_OR_ADD replaces every value',
      [['x-a', '1'], ['x-b', 'b'], ['x-a', '3']],
      [opt('x-a', '2', 'OVERWRITE_IF_EXISTS_OR_ADD')],
      [],
      [['x-b', 'b'], ['x-a', '2']],
    ],
    ['OVERWRITE_IF_EXISTS_OR_ADD adds when absent', [], [opt('x-a', '2', 'OVERWRITE_IF_EXISTS_OR_ADD')], [], [['x-a', '2']]],
    ['OVERWRITE_IF_EXISTS replaces', [['x-a', '1']], [opt('x-a', '2', 'OVERWRITE_IF_EXISTS')], [], [['x-a', '2']]],
    ['OVERWRITE_IF_EXISTS does nothing when absent', [], [opt('x-a', '2', 'OVERWRITE_IF_EXISTS')], [], []],
    ['keys are lower-cased and matched case-insensitively', [['x-a', '1']], [opt('X-A', '2', 'ADD_IF_ABSENT'), opt('X-New', 'n')], [], [['x-a', '1'], ['x-new', 'n']]],
    ['removals happen before additions', [['x-a', 'old']], [opt('x-a', 'new', 'ADD_IF_ABSENT')], ['x-a'], [['x-a', 'new']]],
    ['remove takes every value, any case', [['x-a', '1'], ['x-b', 'b'], ['x-a', '2']], [], ['X-A'], [['x-b', 'b']]],
    ['empty values are not added (no keep_empty_value)', [], [opt('x-a', '')], [], []],
    // Envoy decides every entry against the headers before this level adds anything
    ['two ADD_IF_ABSENT for one absent key both add', [], [opt('x-a', '1', 'ADD_IF_ABSENT'), opt('x-a', '2', 'ADD_IF_ABSENT')], [], [['x-a', '1'], ['x-a', '2']]],
    ['OVERWRITE_IF_EXISTS does not see a value added in the same level', [], [opt('x-a', '1'), opt('x-a', '2', 'OVERWRITE_IF_EXISTS')], [], [['x-a', '1']]],
    // overwrites are written first, then appends
    ['overwrite then append within one level', [['x-a', '0']], [opt('x-a', '1'), opt('x-a', '2', 'OVERWRITE_IF_EXISTS_OR_ADD')], [], [['x-a', '2'], ['x-a', '1']]],
  ])('%s', (_label, before, add, remove, after) => {
    const h = HeaderMap.from(before);
    applyHeaderMutations(h, add, remove);
    expect(pairs(h)).toEqual(after);
  });
});

describe('applyLayeredHeaderMutations (route, then vhost, then route config)', () => {
  it('the least specific level wins an overwrite', () => {
    const h = new HeaderMap();
    applyLayeredHeaderMutations(h, 'request', {
      route: mutations({ request_headers_to_add: [opt('x-who', 'route', 'OVERWRITE_IF_EXISTS_OR_ADD')] }),
      vhost: mutations({ request_headers_to_add: [opt('x-who', 'vhost', 'OVERWRITE_IF_EXISTS_OR_ADD')] }),
      routeConfig: mutations({ request_headers_to_add: [opt('x-who', 'config', 'OVERWRITE_IF_EXISTS_OR_ADD')] }),
    });
    expect(pairs(h)).toEqual([['x-who', 'config']]);
  });

  it('appends collect in route, vhost, config order', () => {
    const h = new HeaderMap();
    applyLayeredHeaderMutations(h, 'request', {
      route: mutations({ request_headers_to_add: [opt('x-via', 'route')] }),
      vhost: mutations({ request_headers_to_add: [opt('x-via', 'vhost')] }),
      routeConfig: mutations({ request_headers_to_add: [opt('x-via', 'config')] }),
    });
    expect(h.getJoined('x-via')).toBe('route,vhost,config');
  });

  it('ADD_IF_ABSENT at a less specific level sees what the route added', () => {
    const h = new HeaderMap();
    applyLayeredHeaderMutations(h, 'request', {
      route: mutations({ request_headers_to_add: [opt('x-a', 'route')] }),
      vhost: mutations({ request_headers_to_add: [opt('x-a', 'vhost', 'ADD_IF_ABSENT')] }),
    });
    expect(pairs(h)).toEqual([['x-a', 'route']]);
  });

  it('a vhost removal also removes what the route added', () => {
    const h = HeaderMap.from([['x-debug', 'client']]);
    applyLayeredHeaderMutations(h, 'request', {
      route: mutations({ request_headers_to_add: [opt('x-debug', 'route')] }),
      vhost: mutations({ request_headers_to_remove: ['x-debug'] }),
    });
    expect(h.has('x-debug')).toBe(false);
  });

  it('response direction uses the response lists; missing levels are skipped', () => {
    const h = new HeaderMap();
    applyLayeredHeaderMutations(h, 'response', {
      route: mutations({ request_headers_to_add: [opt('x-req', '1')], response_headers_to_add: [opt('x-resp', 'route')] }),
      routeConfig: mutations({ response_headers_to_add: [opt('x-resp', 'config', 'ADD_IF_ABSENT')] }),
    });
    expect(pairs(h)).toEqual([['x-resp', 'route']]);
  });
});

// ---------------------------------------------------------------------------------------
// path rewrites

describe('rewritePath', () => {
  it.each<[string, string, string | undefined, Parameters<typeof rewritePath>[2], string]>([
    ['prefix_rewrite keeps the rest and the query', '/api/users?x=1', '/api', { prefix_rewrite: '/v2' }, '/v2/users?x=1'],
    ['prefix_rewrite to "/"', '/api', '/api', { prefix_rewrite: '/' }, '/'],
    ['prefix_rewrite is textual ("/apix" → "/x")', '/apix', '/api', { prefix_rewrite: '/' }, '/x'],
    ['prefix_rewrite on a path route keeps the query', '/login?next=1', '/login', { prefix_rewrite: '/auth/login' }, '/auth/login?next=1'],
    ['case-insensitive match: length of the matched prefix is replaced', '/API/x', '/api', { prefix_rewrite: '/v2' }, '/v2/x'],
    ['empty prefix_rewrite means unset', '/api/x', '/api', { prefix_rewrite: '' }, '/api/x'],
    ['no rewrite', '/a?b', '/a', {}, '/a?b'],
    [
      'regex_rewrite with groups keeps the query',
      '/service/foo/v1/api?x=1',
      undefined,
      { regex_rewrite: { pattern: '^/service/([^/]+)(/.*)$', substitution: '\\2/instance/\\1' } },
      '/v1/api/instance/foo?x=1',
    ],
    ['regex_rewrite replaces every match', '/xxx/one/yyy/one/zzz', undefined, { regex_rewrite: { pattern: 'one', substitution: 'two' } }, '/xxx/two/yyy/two/zzz'],
    ['regex_rewrite never touches the query', '/a?a=a', undefined, { regex_rewrite: { pattern: 'a', substitution: 'b' } }, '/b?a=a'],
    ['regex_rewrite \\0 and $ are literal-safe', '/p', undefined, { regex_rewrite: { pattern: '/p', substitution: '\\0$1\\\\' } }, '/p$1\\'],
  ])('%s', (_label, path, matched, action, expected) => {
    expect(rewritePath(path, matched, action)).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------
// redirects

function req(authority: string, path: string, scheme: 'http' | 'https' = 'http', headers: Array<[string, string]> = []): RequestHead {
  return { method: 'GET', authority, path, scheme, protocol: 'HTTP/1.1', headers: HeaderMap.from(headers) };
}

function redirect(r: Partial<RedirectAction>): RedirectAction {
  return { https_redirect: false, response_code: 301, strip_query: false, ...r };
}

describe('buildRedirectLocation', () => {
  it.each<[string, RequestHead, RedirectAction, string | undefined, string]>([
    ['https_redirect keeps host, path and query', req('a.com', '/x?y=1'), redirect({ https_redirect: true }), undefined, 'https://a.com/x?y=1'],
    ['switching scheme drops an explicit :80', req('a.com:80', '/x'), redirect({ https_redirect: true }), undefined, 'https://a.com/x'],
    ['switching scheme keeps a non-default port', req('a.com:8080', '/x'), redirect({ https_redirect: true }), undefined, 'https://a.com:8080/x'],
    ['switching to http drops :443', req('a.com:443', '/', 'https'), redirect({ scheme_redirect: 'http' }), undefined, 'http://a.com/'],
    ['same scheme keeps the default port', req('a.com:443', '/', 'https'), redirect({ https_redirect: true }), undefined, 'https://a.com:443/'],
    ['scheme_redirect beats https_redirect', req('a.com', '/'), redirect({ https_redirect: true, scheme_redirect: 'ftp' }), undefined, 'ftp://a.com/'],
    ['IPv6 literal port is dropped on scheme switch', req('[::1]:80', '/x'), redirect({ https_redirect: true }), undefined, 'https://[::1]/x'],
    ['IPv6 literal without port is kept', req('[::1]', '/x'), redirect({ https_redirect: true }), undefined, 'https://[::1]/x'],
    ['x-forwarded-proto decides which default port drops', req('a.com:443', '/', 'http', [['x-forwarded-proto', 'https']]), redirect({ scheme_redirect: 'http' }), undefined, 'http://a.com/'],
    ['without a scheme change the scheme is x-forwarded-proto (newUri)', req('a.com', '/x', 'http', [['x-forwarded-proto', 'https']]), redirect({ path_redirect: '/y' }), undefined, 'https://a.com/y'],
    ['host_redirect replaces host and port', req('a.com:8080', '/x'), redirect({ host_redirect: 'b.com' }), undefined, 'http://b.com/x'],
    ['port_redirect replaces the request port', req('a.com:8080', '/x'), redirect({ port_redirect: 8443 }), undefined, 'http://a.com:8443/x'],
    ['port_redirect adds a port', req('a.com', '/x'), redirect({ port_redirect: 8443 }), undefined, 'http://a.com:8443/x'],
    ['host_redirect with port_redirect', req('a.com', '/x'), redirect({ host_redirect: 'b.com', port_redirect: 9000, https_redirect: true }), undefined, 'https://b.com:9000/x'],
    ['path_redirect keeps the request query', req('a.com', '/old?y=1'), redirect({ path_redirect: '/new' }), undefined, 'http://a.com/new?y=1'],
    ['path_redirect with strip_query', req('a.com', '/old?y=1'), redirect({ path_redirect: '/new', strip_query: true }), undefined, 'http://a.com/new'],
    ['path_redirect own query wins', req('a.com', '/old?y=1'), redirect({ path_redirect: '/new?z=2' }), undefined, 'http://a.com/new?z=2'],
    ['path_redirect own query is never stripped', req('a.com', '/old?y=1'), redirect({ path_redirect: '/new?z=2', strip_query: true }), undefined, 'http://a.com/new?z=2'],
    ['path_redirect gets a leading slash', req('a.com', '/old'), redirect({ path_redirect: 'new' }), undefined, 'http://a.com/new'],
    ['prefix_rewrite replaces the matched prefix', req('a.com', '/v1/items?x=1'), redirect({ prefix_rewrite: '/v2' }), '/v1', 'http://a.com/v2/items?x=1'],
    ['prefix_rewrite with strip_query', req('a.com', '/v1/items?x=1'), redirect({ prefix_rewrite: '/v2', strip_query: true }), '/v1', 'http://a.com/v2/items'],
    ['strip_query alone', req('a.com', '/p?q=1'), redirect({ strip_query: true }), undefined, 'http://a.com/p'],
  ])('%s', (_label, head, action, matched, expected) => {
    expect(buildRedirectLocation(head, action, matched)).toBe(expected);
  });
});

describe('headerValueFormatter (HeaderParser substitution formats)', () => {
  const context = { startTime: 0, requestHeaders: (n: string) => (n === 'x-user' ? 'ann' : undefined), responseHeaders: () => undefined, protocol: 'HTTP/1.1', responseCode: 0, responseFlags: [], bytesReceived: 0, bytesSent: 0, downstreamRemoteAddress: '127.0.0.1:40000' };

  it('evaluates %COMMAND% values per request, leaves plain text alone and adds nothing for an unset command', () => {
    const headers = HeaderMap.from([]);
    let built = 0;
    const format = headerValueFormatter(() => (built++, context));
    applyHeaderMutations(
      headers,
      [
        { key: 'x-client-ip', value: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', append_action: 'APPEND_IF_EXISTS_OR_ADD' },
        { key: 'x-who', value: 'user=%REQ(x-user)%', append_action: 'APPEND_IF_EXISTS_OR_ADD' },
        { key: 'x-missing', value: '%REQ(x-none)%', append_action: 'APPEND_IF_EXISTS_OR_ADD' },
        { key: 'x-plain', value: 'yes', append_action: 'APPEND_IF_EXISTS_OR_ADD' },
      ],
      [],
      format,
    );
    expect(headers.get('x-client-ip')).toBe('127.0.0.1');
    expect(headers.get('x-who')).toBe('user=ann');
    expect(headers.has('x-missing')).toBe(false);
    expect(headers.get('x-plain')).toBe('yes');
    expect(built).toBe(1);
  });
});
