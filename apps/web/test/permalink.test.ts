import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodePermalink, encodePermalink, PermalinkError, permalinkUrl, playgroundRequest } from '../src/playground/permalink';

const config = readFileSync('scenarios/front-proxy/envoy.yaml', 'utf8');
const scenario = readFileSync('scenarios/front-proxy/scenario.yaml', 'utf8');
const location = { origin: 'http://127.0.0.1:9901', pathname: '/', search: '?token=abc', hash: '#req=3&seq=120' };

describe('playground permalink', () => {
  it('gives back the same config, scenario, seed and speed', () => {
    const link = { config, scenario, seed: 42, speed: 10 as const, template: 'front-proxy' };
    expect(decodePermalink(encodePermalink(link))).toEqual(link);
    expect(decodePermalink(encodePermalink({ config: 'a: 1', scenario: '', speed: 'max' }))).toEqual({ config: 'a: 1', scenario: '', speed: 'max' });
  });

  it('keeps the other query parameters and the UI position, and reads its payload back from the address', () => {
    const url = new URL(permalinkUrl({ config, scenario, seed: 7, speed: 1 }, location));
    expect(url.searchParams.get('token')).toBe('abc');
    expect(url.hash).toBe('#req=3&seq=120');
    const request = playgroundRequest(url.search);
    expect(request.open).toBe(true);
    if (!request.open || request.payload === null) throw new Error('no payload in the address');
    expect(decodePermalink(request.payload)).toMatchObject({ config, scenario, seed: 7 });
  });

  it('survives the query being rewritten by URLSearchParams (presenter mode) or percent-encoded', () => {
    const url = new URL(permalinkUrl({ config, scenario, seed: 7, speed: 1 }, location));
    const rewritten = new URLSearchParams(url.search);
    rewritten.set('presenter', '');
    const request = playgroundRequest(`?${rewritten.toString()}`);
    if (!request.open || request.payload === null) throw new Error('no payload in the address');
    expect(decodePermalink(request.payload)).toMatchObject({ config, scenario, seed: 7 });
    const encoded = playgroundRequest(url.search.replace(/\+/g, '%2B'));
    if (!encoded.open || encoded.payload === null) throw new Error('no payload in the address');
    expect(decodePermalink(encoded.payload)).toMatchObject({ config, scenario, seed: 7 });
  });

  it('tells a bare ?playground from a link, and an address without one', () => {
    expect(playgroundRequest('?playground')).toEqual({ open: true, payload: null });
    expect(playgroundRequest('?token=x')).toEqual({ open: false });
  });

  it('says a truncated or corrupt link is damaged rather than crashing', () => {
    const payload = encodePermalink({ config, scenario, speed: 1 });
    for (const bad of [payload.slice(0, Math.floor(payload.length / 2)), 'not-a-link', '']) {
      expect(() => decodePermalink(bad)).toThrow(PermalinkError);
    }
    expect(() => decodePermalink(payload.slice(0, 40))).toThrow(/damaged/);
  });

  it('refuses a link that decompresses to something else', async () => {
    const { compressToEncodedURIComponent } = await import('lz-string');
    expect(() => decodePermalink(compressToEncodedURIComponent('[1,2]'))).toThrow('holds no playground');
    expect(() => decodePermalink(compressToEncodedURIComponent(JSON.stringify({ v: 1, config: 'a', scenario: 'b', speed: 3 })))).toThrow(/speed 3/);
  });

  // The query reaches the server: Node's default limit for a request's headers is 16 KiB.
  it('keeps the front-proxy sandbox link smaller than its text and within what the admin server accepts', () => {
    const url = permalinkUrl({ config, scenario, seed: 1, speed: 1 }, location);
    const plain = config.length + scenario.length;
    expect(url.length).toBeLessThan(plain);
    expect(url.length).toBeLessThan(16 * 1024);
  });
});
