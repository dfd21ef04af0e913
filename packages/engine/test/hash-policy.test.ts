import { describe, expect, it } from 'vitest';
import type { HashPolicy } from '../src/config/types';
import { HeaderMap } from '../src/http/headers';
import { StreamInfo } from '../src/http/stream-info';
import { computeRouteHash, cookieValue, queryParameter } from '../src/router/hash-policy';
import { xxHash64 } from '../src/upstream/xxhash64';

/** Router::HashPolicyImpl: which part of a request each hash_policy entry hashes. */

function request(path: string, headers: Array<[string, string]> = [], remote = '192.0.2.7:51234'): StreamInfo {
  const info = new StreamInfo(0, 0, remote, '127.0.0.1:10000');
  info.request = { method: 'GET', path, authority: 'example.com', scheme: 'http', protocol: 'HTTP/1.1', headers: HeaderMap.from(headers) };
  return info;
}

const header = (name: string, terminal = false): HashPolicy => ({ header: { header_name: name }, terminal });
const cookie = (name: string, terminal = false): HashPolicy => ({ cookie: { name }, terminal });
const sourceIp = (terminal = false): HashPolicy => ({ connection_properties: { source_ip: true }, terminal });
const query = (name: string, terminal = false): HashPolicy => ({ query_parameter: { name }, terminal });

const rotl1 = (h: bigint): bigint => ((h << 1n) | (h >> 63n)) & 0xffff_ffff_ffff_ffffn;

describe('hash policies', () => {
  it('hash a header value', () => {
    expect(computeRouteHash([header('x-user')], request('/', [['x-user', 'alice']]))).toBe(xxHash64('alice'));
  });

  it('hash :authority like a header', () => {
    expect(computeRouteHash([header(':authority')], request('/'))).toBe(xxHash64('example.com'));
  });

  it('hash a cookie value', () => {
    const info = request('/', [['cookie', 'theme=dark; session="abc123"; x=1']]);
    expect(computeRouteHash([cookie('session')], info)).toBe(xxHash64('abc123'));
  });

  it('hash the source IP without its port', () => {
    expect(computeRouteHash([sourceIp()], request('/'))).toBe(xxHash64('192.0.2.7'));
    expect(computeRouteHash([sourceIp()], request('/', [], '::1:4000'))).toBe(xxHash64('::1'));
  });

  it('hash a query parameter (first value, as sent)', () => {
    expect(computeRouteHash([query('user')], request('/a?x=1&user=bob&user=eve'))).toBe(xxHash64('bob'));
    expect(computeRouteHash([query('flag')], request('/a?flag'))).toBe(xxHash64(''));
  });

  it('produce no hash when the request lacks every input', () => {
    expect(computeRouteHash([header('x-user'), cookie('s'), query('u')], request('/'))).toBeUndefined();
    expect(computeRouteHash(undefined, request('/'))).toBeUndefined();
  });

  it('combine several hashes, rotating the earlier one so equal inputs do not cancel', () => {
    const info = request('/?u=bob', [['x-user', 'alice']]);
    expect(computeRouteHash([header('x-user'), query('u')], info)).toBe(rotl1(xxHash64('alice')) ^ xxHash64('bob'));
    expect(computeRouteHash([header('x-user'), header('x-user')], info)).not.toBe(0n);
  });

  it('stop at a terminal policy that produced a hash', () => {
    const info = request('/?u=bob', [['x-user', 'alice']]);
    expect(computeRouteHash([header('x-user', true), query('u')], info)).toBe(xxHash64('alice'));
    // A terminal policy with nothing to hash does not stop the walk.
    expect(computeRouteHash([header('x-missing', true), query('u')], info)).toBe(xxHash64('bob'));
  });

  it('read cookies and query parameters exactly', () => {
    expect(cookieValue('a=1;b=2', 'b')).toBe('2');
    expect(cookieValue('ab=1', 'a')).toBeUndefined();
    expect(queryParameter('/p?a=1#b=2', 'b')).toBeUndefined();
    expect(queryParameter('/p#?a=1', 'a')).toBeUndefined();
  });
});
