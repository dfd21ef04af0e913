/**
 * A local reply sent while its request's head is being decoded (a direct_response, a 404,
 * a filter's abort) ends the exchange before llhttp reports the end of that request. The
 * connection must go on to the next request, pipelined or not.
 */
import { describe, expect, it } from 'vitest';
import * as b from './support/config-builders';
import { faultFilter, loadEnvoy, percent } from './support/envoy-config';
import { RawClient, startProxy, startUpstream } from './support/upstreams';

describe('keep-alive after a local reply from decodeHeaders', () => {
  it('serves the next request after a direct_response and a 404, one at a time and pipelined', async () => {
    const direct = b.route({ name: 'direct', match: { prefix: '/direct' }, direct_response: { status: 200, body: 'direct' } });
    const proxy = await startProxy(b.bootstrap([b.listener(b.hcm(b.routeConfig([b.vhost('all', ['*'], [direct])])))], []));
    const client = await RawClient.connect(proxy.port);
    client.write('GET /direct HTTP/1.1\r\nHost: x\r\n\r\n');
    await client.waitForResponses(1);
    client.write('GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n');
    await client.waitForResponses(2);
    client.write('GET /direct HTTP/1.1\r\nHost: x\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: x\r\n\r\nGET /direct HTTP/1.1\r\nHost: x\r\n\r\n');
    const responses = await client.waitForResponses(5);
    expect(responses.map((r) => r.status)).toEqual([200, 404, 200, 404, 200]);
    expect(client.closed).toBe(false);
  });

  it('serves the next request after a filter’s local reply', async () => {
    const up = await startUpstream();
    const config = loadEnvoy({ listenerPort: 0, clusterPort: up.port, httpFilters: [faultFilter({ abort: { header_abort: {}, percentage: percent(100) } })] });
    const proxy = await startProxy(config);
    const client = await RawClient.connect(proxy.port);
    client.write('GET /a HTTP/1.1\r\nHost: x\r\nx-envoy-fault-abort-request: 500\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    const responses = await client.waitForResponses(2);
    expect(responses.map((r) => r.status)).toEqual([500, 200]);
    expect(up.requests.map((r) => r.url)).toEqual(['/b']);
  });
});
