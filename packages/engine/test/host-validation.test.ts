/**
 * Host and absolute-form authority checks at the downstream codec (RFC 9112 §3.2, RFC 9110
 * §7.2, RFC 3986 §3.2.2; Envoy's HeaderUtility::requestHeadersValid / authorityIsValid):
 * a bad request is answered 400 before anything is routed, and never reaches an upstream.
 */
import { describe, expect, it } from 'vitest';
import type { FactEvent } from '@proxyscope/protocol';
import { authorityIsValid } from '../src/http/authority';
import { eventually, parseAccessLog, rawRequest, singleClusterConfig, startProxy, startUpstream } from './support/upstreams';

function localReplyDetails(events: { type: string }[]): unknown[] {
  return events.filter((e): e is FactEvent => e.type === 'fact' && (e as FactEvent).fact === 'stream.local_reply').map((e) => e.data.details);
}

const REJECTED: Array<[label: string, requestHead: string, details: string]> = [
  ['two Host headers', 'GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n', 'http.invalid_authority'],
  ['two identical Host headers', 'GET / HTTP/1.1\r\nHost: a.example\r\nhost: a.example\r\n', 'http.invalid_authority'],
  ['a space in Host', 'GET / HTTP/1.1\r\nHost: a b.example\r\n', 'http.invalid_authority'],
  ['userinfo in Host', 'GET / HTTP/1.1\r\nHost: user@a.example\r\n', 'http.invalid_authority'],
  ['a path in Host', 'GET / HTTP/1.1\r\nHost: a.example/admin\r\n', 'http.invalid_authority'],
  ['a backslash in Host', 'GET / HTTP/1.1\r\nHost: a.example\\admin\r\n', 'http.invalid_authority'],
  ['a second colon in Host', 'GET / HTTP/1.1\r\nHost: a.example:80:81\r\n', 'http.invalid_authority'],
  ['a port that is not digits', 'GET / HTTP/1.1\r\nHost: a.example:8o\r\n', 'http.invalid_authority'],
  ['a broken %-escape in Host', 'GET / HTTP/1.1\r\nHost: a%2.example\r\n', 'http.invalid_authority'],
  ['userinfo in an absolute-form target', 'GET http://user:pw@a.example/x HTTP/1.1\r\nHost: a.example\r\n', 'http.invalid_authority'],
  ['an absolute-form target without an authority', 'GET http:///x HTTP/1.1\r\nHost: a.example\r\n', 'http1.invalid_url'],
];

describe('Host validation', () => {
  for (const [label, head, details] of REJECTED) {
    it(`${label}: 400, closed, the upstream sees nothing`, async () => {
      const up = await startUpstream();
      const proxy = await startProxy(singleClusterConfig([up.port]));
      const { responses, client } = await rawRequest(proxy.port, head + '\r\n');
      expect(responses[0]!.status).toBe(400);
      await client.waitForClose();
      expect(up.arrivals).toHaveLength(0);
      expect(localReplyDetails(proxy.events)).toEqual([details]);
      await eventually(() => proxy.logs.length === 1, 'the access log line');
      expect(parseAccessLog(proxy.logs[0]!)).toMatchObject({ status: 400, flags: 'DPE' });
      expect(proxy.stat('http.ingress_http.downstream_rq_4xx')).toBe(1);
      expect(proxy.stat('http.ingress_http.downstream_cx_protocol_error')).toBe(1);
      expect(proxy.stat('cluster.backend.upstream_rq_total')).toBe(0);
    });
  }

  it('a control character in Host is refused by llhttp itself (400)', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const { responses } = await rawRequest(proxy.port, 'GET / HTTP/1.1\r\nHost: a\x01b.example\r\n\r\n');
    expect(responses[0]!.status).toBe(400);
    expect(up.arrivals).toHaveLength(0);
  });

  it('valid hosts go through: names, ports, IPv4, IPv6 literals', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]), { trace: false });
    for (const host of ['a.example', 'A.Example:8080', '127.0.0.1:10000', '[::1]:8080', '[2001:db8::7]', 'xn--bcher-kva.example', 'a_b.example']) {
      const { responses } = await rawRequest(proxy.port, `GET /h HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(responses[0]!.status, host).toBe(200);
      expect(up.requests.at(-1)!.headers.host, host).toBe(host);
    }
  });

  it('an absolute-form target wins over a Host header that disagrees (RFC 9112 §3.2.2)', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const { responses } = await rawRequest(proxy.port, 'GET http://target.example:8080/p?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n');
    expect(responses[0]!.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.url).toBe('/p?q=1');
    expect(up.requests[0]!.headers.host).toBe('target.example:8080');
    // The replaced Host is not forwarded as well.
    expect(up.requests[0]!.rawHeaders.filter((_, i, all) => i % 2 === 0 && all[i]!.toLowerCase() === 'host')).toHaveLength(1);
  });
});

describe('authorityIsValid', () => {
  it('follows RFC 3986 host [":" port]', () => {
    const valid = ['a.example', 'a.example:', 'a.example:65535', '10.0.0.1', '[::1]', '[::ffff:10.0.0.1]:80', '[v1.fe80::a+en1]', "a-b_c~d!$&'()*+,;=.example", 'caf%C3%A9.example', ''];
    const invalid = ['a b', 'u@h', 'h/p', 'h\\p', 'h?q', 'h#f', '[::1', '[::1]x', '[::1]:8o', '[zz::1]', 'h:1:2', 'h%zz', 'h%', 'h\t', 'café.example', 'h"q', 'h<q>', 'h{q}', 'h|q', 'h^q', 'h`q'];
    for (const v of valid) expect(authorityIsValid(v), v).toBe(true);
    for (const v of invalid) expect(authorityIsValid(v), v).toBe(false);
  });
});
