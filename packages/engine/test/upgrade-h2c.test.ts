/**
 * `Upgrade: h2c` (what `curl --http2` sends to an http:// URL): Envoy's HTTP/1 codec drops
 * the upgrade and serves the request as HTTP/1.1, so does ProxyScope; the connection keeps
 * serving requests.
 */
import { describe, expect, it } from 'vitest';
import { RawClient, singleClusterConfig, startProxy, startUpstream } from './support/upstreams';

const H2C = 'GET /first HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n';

describe('h2c upgrade requests', () => {
  it('are served as HTTP/1.1 without the upgrade headers, and the connection goes on', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const client = await RawClient.connect(proxy.port);
    client.write(H2C);
    const [first] = await client.waitForResponses(1);
    expect(first!.status).toBe(200);
    client.write('GET /second HTTP/1.1\r\nHost: x\r\n\r\n' + H2C.replace('/first', '/third'));
    const responses = await client.waitForResponses(3);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(up.requests.map((r) => r.url)).toEqual(['/first', '/second', '/third']);
    for (const r of up.requests) {
      expect(r.headers.upgrade).toBeUndefined();
      expect(r.headers['http2-settings']).toBeUndefined();
    }
    expect(client.closed).toBe(false);
  });
});
