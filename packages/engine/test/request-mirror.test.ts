/**
 * RouteAction.request_mirror_policies: a fire-and-forget copy of each request goes to the
 * mirror cluster with `-shadow` on its host (ShadowWriterImpl), and whatever happens to it
 * never reaches the client.
 */
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadBootstrap } from '../src/config/load';
import { envoyConfig } from './support/envoy-config';
import { closedPort, eventually, httpRequest, patternBytes, RawClient, sha256, startProxy, startUpstream } from './support/upstreams';

/** The standard test config with a second cluster `mirror` and the given mirror policies on its route. */
function mirrorConfig(backendPort: number, mirrorPort: number, policies: unknown[], route: Record<string, unknown> = {}) {
  const config = envoyConfig({
    clusterPort: backendPort,
    listenerPort: 0,
    routes: [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend', request_mirror_policies: policies, ...route } }],
  }) as { static_resources: { clusters: unknown[] } };
  config.static_resources.clusters.push({
    name: 'mirror',
    connect_timeout: '1s',
    load_assignment: { cluster_name: 'mirror', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: mirrorPort } } } }] }] },
  });
  const { config: loaded, warnings } = loadBootstrap(stringify(config), 'mirror.yaml');
  expect(warnings).toEqual([]);
  return loaded;
}

describe('request mirroring', () => {
  it('the mirror cluster gets a copy with -shadow on its host; the client sees only the main response', async () => {
    const backend = await startUpstream({ name: 'backend' });
    const mirror = await startUpstream({ name: 'mirror', respond: () => ({ status: 500, body: 'mirror broke' }) });
    const proxy = await startProxy(mirrorConfig(backend.port, mirror.port, [{ cluster: 'mirror' }]));
    const body = 'x'.repeat(3000);
    const res = await httpRequest(proxy.port, { method: 'POST', path: '/orders?id=7', headers: { host: 'api.example:8080', 'x-custom': 'yes' }, body });
    expect(res.status).toBe(200);
    expect(res.text).toBe('backend POST /orders?id=7');
    await eventually(() => mirror.requests.length === 1, 'the shadow request');
    const [copy] = mirror.requests;
    expect(copy!.method).toBe('POST');
    expect(copy!.url).toBe('/orders?id=7');
    expect(copy!.headers.host).toBe('api.example-shadow:8080');
    expect(copy!.headers['x-custom']).toBe('yes');
    expect(copy!.bodySha256).toBe(sha256(body));
    expect(backend.requests[0]!.headers.host).toBe('api.example:8080');
    // Stats land on the mirror cluster; the client's 200 is unchanged by its 500.
    await eventually(() => proxy.stat('cluster.mirror.upstream_rq_completed') === 1, 'mirror stats');
    expect(proxy.stat('cluster.mirror.upstream_rq_500')).toBe(1);
    expect(proxy.stat('http.ingress_http.downstream_rq_2xx')).toBe(1);
    const sent = proxy.events.find((e) => e.type === 'fact' && e.fact === 'router.shadow');
    expect(sent && sent.type === 'fact' && sent.data).toMatchObject({ decision: 'sent', cluster: 'mirror', authority: 'api.example-shadow:8080' });
    // The shadow's upstream request is an actor of its own below the stream.
    expect(proxy.events.some((e) => e.type === 'spawn' && e.machine === 'upstream_request' && /\/shadow:1\/upstream:1$/.test(e.actor))).toBe(true);
  });

  it('a mirror that cannot be reached or never answers does not change or delay the client’s response', async () => {
    const backend = await startUpstream();
    const dead = await closedPort();
    const proxy = await startProxy(mirrorConfig(backend.port, dead, [{ cluster: 'mirror' }]));
    const res = await httpRequest(proxy.port, { path: '/a' });
    expect([res.status, res.text]).toEqual([200, 'GET /a']);
    await eventually(() => proxy.stat('cluster.mirror.upstream_cx_connect_fail') === 1, 'the failed shadow connect');
    expect(proxy.stat('http.ingress_http.downstream_rq_5xx')).toBe(0);

    const hanging = await startUpstream({ respond: () => ({ hang: true }) });
    const proxy2 = await startProxy(mirrorConfig(backend.port, hanging.port, [{ cluster: 'mirror' }], { timeout: '0.2s' }));
    const second = await httpRequest(proxy2.port, { path: '/b' });
    expect([second.status, second.text]).toEqual([200, 'GET /b']);
    // The route timeout bounds the shadow too; it is counted on the mirror cluster only.
    await eventually(() => proxy2.stat('cluster.mirror.upstream_rq_timeout') === 1, 'the shadow timeout');
    expect(proxy2.stat('cluster.backend.upstream_rq_timeout')).toBe(0);
  });

  it('cluster_header picks the mirror per request; runtime_fraction 0% and a missing header shadow nothing', async () => {
    const backend = await startUpstream();
    const mirror = await startUpstream();
    const proxy = await startProxy(
      mirrorConfig(backend.port, mirror.port, [
        { cluster_header: 'x-mirror-cluster', disable_shadow_host_suffix_append: true },
        { cluster: 'mirror', runtime_fraction: { default_value: { numerator: 0 } } },
      ]),
    );
    await httpRequest(proxy.port, { path: '/no-header', headers: { host: 'svc' } });
    await httpRequest(proxy.port, { path: '/with-header', headers: { host: 'svc', 'x-mirror-cluster': 'mirror' } });
    await eventually(() => mirror.requests.length === 1, 'one shadow request');
    expect(mirror.requests.map((r) => [r.url, r.headers.host])).toEqual([['/with-header', 'svc']]);
    const decisions = proxy.events.flatMap((e) => (e.type === 'fact' && e.fact === 'router.shadow' ? [e.data.decision] : []));
    expect(decisions).toEqual(['not_sampled', 'no_cluster', 'not_sampled', 'sent']);
  });

  it('streams the body to the copy as it comes (past any buffer limit); a request that ends early cancels its copy', async () => {
    const backend = await startUpstream();
    const mirror = await startUpstream();
    const proxy = await startProxy(mirrorConfig(backend.port, mirror.port, [{ cluster: 'mirror' }]));
    const body = patternBytes(0, 3 * 1024 * 1024);
    const res = await httpRequest(proxy.port, { method: 'PUT', path: '/big', body });
    expect(res.status).toBe(200);
    await eventually(() => mirror.requests.length === 1, 'the whole copy');
    expect(mirror.requests[0]!.bodySha256).toBe(sha256(body));
    expect(backend.requests[0]!.bodySha256).toBe(sha256(body));

    // The client goes away halfway through its body: the copy goes with it.
    const client = await RawClient.connect(proxy.port);
    client.write('POST /partial HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nhalf');
    await eventually(() => mirror.arrivals.some((a) => a.url === '/partial'), 'the copy to start');
    client.destroy();
    await eventually(() => mirror.openSockets() === 0, 'the copy to be cancelled');
    expect(mirror.requests.map((r) => r.url)).toEqual(['/big']);
  });

  it('refuses a mirror policy naming an unknown cluster, at its line', () => {
    const config = envoyConfig({ routes: [{ match: { prefix: '/' }, route: { cluster: 'backend', request_mirror_policies: [{ cluster: 'nope' }] } }] });
    const yaml = stringify(config);
    expect(() => loadBootstrap(yaml, 'mirror.yaml')).toThrow(/mirror\.yaml:\d+:\d+: .*request_mirror_policies\[0\]\.cluster: unknown cluster 'nope'/);
  });
});
