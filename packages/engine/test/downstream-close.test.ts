/**
 * Who closed a downstream connection, as Envoy counts it: a client that sends its FIN
 * (half-close is off in the HCM) makes a RemoteClose, `downstream_cx_destroy_remote`; the
 * proxy closing after `connection: close` is a local close.
 */
import { describe, expect, it } from 'vitest';
import { eventually, RawClient, singleClusterConfig, startProxy, startUpstream } from './support/upstreams';

describe('downstream connection close', () => {
  it('counts a client FIN as a remote close', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const client = await RawClient.connect(proxy.port);
    client.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    await client.waitForResponses(1);
    client.end();
    await eventually(() => proxy.stat('http.ingress_http.downstream_cx_destroy') === 1, 'the connection to close');
    expect(proxy.stat('http.ingress_http.downstream_cx_destroy_remote')).toBe(1);
    expect(proxy.stat('http.ingress_http.downstream_cx_destroy_local')).toBe(0);
  });

  it('counts the proxy closing after connection: close as a local close', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const client = await RawClient.connect(proxy.port);
    client.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    await client.waitForClose();
    await eventually(() => proxy.stat('http.ingress_http.downstream_cx_destroy') === 1, 'the connection to close');
    expect(proxy.stat('http.ingress_http.downstream_cx_destroy_local')).toBe(1);
    expect(proxy.stat('http.ingress_http.downstream_cx_destroy_remote')).toBe(0);
  });
});
