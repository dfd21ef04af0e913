/**
 * The route table, end to end through real sockets: virtual host selection, path and
 * header matching, route actions (cluster, direct_response, redirect, rewrites) and the
 * headers the proxy adds, removes and never forwards (semantics doc §2).
 */
import { describe, expect, it } from 'vitest';
import type { HeaderValueOption } from '../src/config/types';
import { bootstrap, cluster, listener, route, vhost } from './support/config-builders';
import {
  eventually,
  httpRequest,
  loggedHcm,
  parseAccessLog,
  rawRequest,
  startProxy,
  startUpstream,
  type Upstream,
} from './support/upstreams';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function add(key: string, value: string, append_action: HeaderValueOption['append_action'] = 'APPEND_IF_EXISTS_OR_ADD'): HeaderValueOption {
  return { key, value, append_action };
}

/** Tags every response of a route so the test can tell which route answered. */
function tagged(name: string): { name: string; response_headers_to_add: HeaderValueOption[] } {
  return { name, response_headers_to_add: [add('x-route', name)] };
}

interface Setup {
  a: Upstream;
  b: Upstream;
  c: Upstream;
  proxy: Awaited<ReturnType<typeof startProxy>>;
}

/** Three upstreams (a, b, c) behind three virtual hosts; the default vhost has one route per feature. */
async function setup(): Promise<Setup> {
  const a = await startUpstream({ name: 'a' });
  const b = await startUpstream({ name: 'b' });
  const c = await startUpstream({
    name: 'c',
    respond: (req) => (req.url.startsWith('/mutate') ? { headers: { 'x-upstream-private': 'internal', 'x-upstream-public': 'ok' } } : {}),
  });
  const config = bootstrap(
    [
      listener(
        loggedHcm([
          vhost('exact', ['exact.example'], [route({ ...tagged('exact-all'), match: { prefix: '/' }, route: { cluster: 'a' } })]),
          vhost('wild', ['*.example'], [route({ ...tagged('wild-all'), match: { prefix: '/' }, route: { cluster: 'b' } })]),
          vhost('default', ['*'], [
            route({ ...tagged('path'), match: { path: '/exact' }, route: { cluster: 'c' } }),
            route({ ...tagged('regex'), match: { safe_regex: '/items/[0-9]+' }, route: { cluster: 'c' } }),
            route({
              ...tagged('canary'),
              match: { prefix: '/h', headers: [{ name: 'x-canary', invert_match: false, string_match: { exact: 'yes', ignore_case: false } }] },
              route: { cluster: 'c' },
            }),
            route({ name: 'direct', match: { prefix: '/direct' }, direct_response: { status: 403, body: 'go away' } }),
            route({
              name: 'redirect',
              match: { prefix: '/old' },
              redirect: { https_redirect: false, prefix_rewrite: '/new', response_code: 302, strip_query: false },
            }),
            route({ ...tagged('rewrite'), match: { prefix: '/api/v1/' }, route: { cluster: 'c', prefix_rewrite: '/v2/' } }),
            route({ ...tagged('hostrw'), match: { prefix: '/hostrw' }, route: { cluster: 'c', host_rewrite_literal: 'internal.svc' } }),
            route({
              name: 'mutate',
              match: { prefix: '/mutate' },
              route: { cluster: 'c' },
              request_headers_to_add: [add('x-added', 'by-route'), add('x-replaced', 'new', 'OVERWRITE_IF_EXISTS_OR_ADD')],
              request_headers_to_remove: ['x-secret'],
              response_headers_to_add: [add('x-resp-added', 'yes')],
              response_headers_to_remove: ['x-upstream-private'],
            }),
            route({ ...tagged('prefix'), match: { prefix: '/prefix' }, route: { cluster: 'c' } }),
          ]),
        ]),
      ),
    ],
    [cluster('a', [a.port]), cluster('b', [b.port]), cluster('c', [c.port])],
  );
  const proxy = await startProxy(config);
  return { a, b, c, proxy };
}

describe('virtual host selection', () => {
  it('an exact domain beats a wildcard, a wildcard beats the default vhost', async () => {
    const { a, b, c, proxy } = await setup();
    const exact = await httpRequest(proxy.port, { path: '/x', headers: { host: 'exact.example' } });
    expect(exact.status).toBe(200);
    expect(exact.text).toBe('a GET /x');
    expect(exact.headers['x-route']).toBe('exact-all');

    const wild = await httpRequest(proxy.port, { path: '/x', headers: { host: 'shop.example' } });
    expect(wild.text).toBe('b GET /x');
    expect(wild.headers['x-route']).toBe('wild-all');

    // Host is matched case-insensitively.
    const upper = await httpRequest(proxy.port, { path: '/x', headers: { host: 'EXACT.Example' } });
    expect(upper.text).toBe('a GET /x');

    const other = await httpRequest(proxy.port, { path: '/prefix/x', headers: { host: 'other.test' } });
    expect(other.text).toBe('c GET /prefix/x');

    // The port is part of the host unless ignore_port_in_host_matching: it falls to the default vhost.
    const withPort = await httpRequest(proxy.port, { path: '/prefix/p', headers: { host: 'exact.example:8080' } });
    expect(withPort.text).toBe('c GET /prefix/p');

    expect(a.requests).toHaveLength(2);
    expect(b.requests).toHaveLength(1);
    expect(c.requests).toHaveLength(2);
  });

  it('with no default vhost an unknown Host gets 404 NR', async () => {
    const up = await startUpstream();
    const config = bootstrap(
      [listener(loggedHcm([vhost('only', ['only.example'], [route({ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend' } })])]))],
      [cluster('backend', [up.port])],
    );
    const proxy = await startProxy(config);
    const res = await httpRequest(proxy.port, { path: '/', headers: { host: 'nobody.example' } });
    expect(res.status).toBe(404);
    expect(res.body.length).toBe(0);
    await eventually(() => proxy.logs.length === 1, 'one access log line');
    expect(parseAccessLog(proxy.logs[0]!).flags).toBe('NR');
    expect(up.requests).toHaveLength(0);
  });
});

describe('routes inside a virtual host', () => {
  it('path matches the path without its query; it is not a prefix', async () => {
    const { c, proxy } = await setup();
    const res = await httpRequest(proxy.port, { path: '/exact?debug=1' });
    expect(res.status).toBe(200);
    expect(res.headers['x-route']).toBe('path');
    expect(c.requests[0]!.url).toBe('/exact?debug=1');

    const longer = await httpRequest(proxy.port, { path: '/exactly' });
    expect(longer.status).toBe(404);
  });

  it('safe_regex must match the whole path', async () => {
    const { proxy } = await setup();
    expect((await httpRequest(proxy.port, { path: '/items/42' })).headers['x-route']).toBe('regex');
    expect((await httpRequest(proxy.port, { path: '/items/42?x=y' })).headers['x-route']).toBe('regex');
    expect((await httpRequest(proxy.port, { path: '/items/42/more' })).status).toBe(404);
    expect((await httpRequest(proxy.port, { path: '/items/abc' })).status).toBe(404);
  });

  it('a prefix route matches longer paths, query included', async () => {
    const { c, proxy } = await setup();
    const res = await httpRequest(proxy.port, { path: '/prefix/deep/path?q=1' });
    expect(res.headers['x-route']).toBe('prefix');
    expect(c.requests[0]!.url).toBe('/prefix/deep/path?q=1');
  });

  it('a header matcher selects the route only when the header matches', async () => {
    const { c, proxy } = await setup();
    const canary = await httpRequest(proxy.port, { path: '/h', headers: { 'x-canary': 'yes' } });
    expect(canary.status).toBe(200);
    expect(canary.headers['x-route']).toBe('canary');
    // Values are case-sensitive unless ignore_case; without a match nothing else routes /h.
    expect((await httpRequest(proxy.port, { path: '/h', headers: { 'x-canary': 'YES' } })).status).toBe(404);
    expect((await httpRequest(proxy.port, { path: '/h' })).status).toBe(404);
    expect(c.requests).toHaveLength(1);
  });

  it('no matching route → 404 with an empty body, flag NR and http.<prefix>.no_route', async () => {
    const { a, b, c, proxy } = await setup();
    const res = await httpRequest(proxy.port, { path: '/nothing/here' });
    expect(res.status).toBe(404);
    expect(res.body.length).toBe(0);
    expect(res.headers['server']).toBe('envoy');
    await eventually(() => proxy.logs.length === 1, 'one access log line');
    const log = parseAccessLog(proxy.logs[0]!);
    expect(log).toMatchObject({ method: 'GET', path: '/nothing/here', protocol: 'HTTP/1.1', status: 404, flags: 'NR', upstreamHost: '-' });
    expect(proxy.stat('http.ingress_http.no_route')).toBe(1);
    expect(proxy.stat('http.ingress_http.rq_total')).toBe(1);
    expect(proxy.stat('http.ingress_http.downstream_rq_4xx')).toBe(1);
    expect(a.requests.length + b.requests.length + c.requests.length).toBe(0);
  });
});

describe('route actions', () => {
  it('direct_response answers with its status and body, no upstream involved', async () => {
    const { c, proxy } = await setup();
    const res = await httpRequest(proxy.port, { path: '/direct' });
    expect(res.status).toBe(403);
    expect(res.text).toBe('go away');
    expect(res.headers['content-length']).toBe('7');
    expect(res.headers['server']).toBe('envoy');
    expect(c.requests).toHaveLength(0);
    expect(proxy.stat('http.ingress_http.rq_direct_response')).toBe(1);
    await eventually(() => proxy.logs.length === 1, 'one access log line');
    expect(parseAccessLog(proxy.logs[0]!)).toMatchObject({ status: 403, flags: '-' });
  });

  it('redirect answers with Location built from prefix_rewrite, keeping the query', async () => {
    const { c, proxy } = await setup();
    const res = await httpRequest(proxy.port, { path: '/old/page?x=1', headers: { host: 'site.test' } });
    expect(res.status).toBe(302);
    expect(res.headers['location']).toBe('http://site.test/new/page?x=1');
    expect(res.body.length).toBe(0);
    expect(c.requests).toHaveLength(0);
  });

  it('prefix_rewrite: the upstream sees the new path and x-envoy-original-path', async () => {
    const { c, proxy } = await setup();
    const res = await httpRequest(proxy.port, { path: '/api/v1/users?id=7' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('c GET /v2/users?id=7');
    expect(c.requests[0]!.url).toBe('/v2/users?id=7');
    expect(c.requests[0]!.headers['x-envoy-original-path']).toBe('/api/v1/users?id=7');
    // The access log prints the original path.
    await eventually(() => proxy.logs.length === 1, 'one access log line');
    expect(parseAccessLog(proxy.logs[0]!).path).toBe('/api/v1/users?id=7');
  });

  it('host_rewrite_literal: the upstream sees the new Host', async () => {
    const { c, proxy } = await setup();
    const res = await httpRequest(proxy.port, { path: '/hostrw', headers: { host: 'public.test' } });
    expect(res.status).toBe(200);
    expect(c.requests[0]!.headers['host']).toBe('internal.svc');
    // Host goes out exactly once.
    expect(c.requests[0]!.rawHeaders.filter((_, i, all) => i % 2 === 0 && all[i]!.toLowerCase() === 'host')).toHaveLength(1);
  });

  it('request and response headers are added and removed per route', async () => {
    const { c, proxy } = await setup();
    const res = await httpRequest(proxy.port, { path: '/mutate', headers: { 'x-secret': 'password', 'x-replaced': 'old', 'x-kept': 'k' } });
    expect(res.status).toBe(200);
    const seen = c.requests[0]!.headers;
    expect(seen['x-added']).toBe('by-route');
    expect(seen['x-replaced']).toBe('new');
    expect(seen['x-secret']).toBeUndefined();
    expect(seen['x-kept']).toBe('k');
    expect(res.headers['x-resp-added']).toBe('yes');
    expect(res.headers['x-upstream-private']).toBeUndefined();
    expect(res.headers['x-upstream-public']).toBe('ok');
  });
});

describe('headers the proxy manages', () => {
  it('adds x-request-id and x-forwarded-proto upstream, and server: envoy downstream', async () => {
    const { c, proxy } = await setup();
    const res = await httpRequest(proxy.port, { path: '/prefix/ids' });
    expect(res.headers['server']).toBe('envoy');
    const seen = c.requests[0]!.headers;
    expect(seen['x-request-id']).toMatch(UUID);
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-envoy-expected-rq-timeout-ms']).toBe('15000');

    // An incoming request id is kept; every generated one is different.
    await httpRequest(proxy.port, { path: '/prefix/ids', headers: { 'x-request-id': 'from-client' } });
    await httpRequest(proxy.port, { path: '/prefix/ids' });
    expect(c.requests[1]!.headers['x-request-id']).toBe('from-client');
    expect(c.requests[2]!.headers['x-request-id']).toMatch(UUID);
    expect(c.requests[2]!.headers['x-request-id']).not.toBe(seen['x-request-id']);
  });

  it('the upstream server header is replaced by server: envoy', async () => {
    const up = await startUpstream({ respond: () => ({ headers: { server: 'backend/1.0' } }) });
    const config = bootstrap(
      [listener(loggedHcm([vhost('all', ['*'], [route({ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend' } })])]))],
      [cluster('backend', [up.port])],
    );
    const proxy = await startProxy(config);
    const res = await httpRequest(proxy.port, { path: '/' });
    expect(res.headers['server']).toBe('envoy');
  });

  it('hop-by-hop headers (Connection, Keep-Alive and the ones Connection names) are not forwarded either way', async () => {
    const { c, proxy } = await setup();
    const request =
      'GET /prefix/hop HTTP/1.1\r\n' +
      'Host: hop.test\r\n' +
      'Connection: keep-alive, x-hop\r\n' +
      'Keep-Alive: timeout=5\r\n' +
      'Proxy-Connection: keep-alive\r\n' +
      'x-hop: per-hop-secret\r\n' +
      'x-end-to-end: kept\r\n' +
      '\r\n';
    const { responses } = await rawRequest(proxy.port, request);
    expect(responses[0]!.status).toBe(200);
    const names = c.requests[0]!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names).not.toContain('connection');
    expect(names).not.toContain('keep-alive');
    expect(names).not.toContain('proxy-connection');
    expect(names).not.toContain('x-hop');
    expect(c.requests[0]!.headers['x-end-to-end']).toBe('kept');
    // node:http upstreams answer with Connection: keep-alive and Keep-Alive: timeout=...;
    // those describe the upstream hop and must not reach the client.
    expect(responses[0]!.headers['keep-alive']).toBeUndefined();
    expect(responses[0]!.headers['connection']).toBeUndefined();
  });
});
