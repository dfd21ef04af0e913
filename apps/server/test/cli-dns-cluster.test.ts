import http from 'node:http';
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runCli, startCli, writeConfig } from './support/cli-process';

/**
 * A config from a docker-compose sandbox names its upstreams by service name, which does
 * not resolve on the user's machine. The proxy must still start, say it is ready, answer
 * 503 UH for that cluster, and keep serving the clusters that do resolve (`localhost`
 * here, through the real system resolver).
 */

function config(upstreamPort: number): string {
  return `
static_resources:
  listeners:
    - name: ingress
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: { prefix: /local }
                          route: { cluster: local }
                        - match: { prefix: / }
                          route: { cluster: service1 }
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: service1
      type: STRICT_DNS
      dns_refresh_rate: 1s
      load_assignment:
        cluster_name: service1
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: service1.invalid, port_value: 8080 } } }
    - name: local
      type: LOGICAL_DNS
      dns_lookup_family: V4_ONLY
      load_assignment:
        cluster_name: local
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: localhost, port_value: ${upstreamPort} } } }
`;
}

describe('proxyscope with a cluster whose name does not resolve', () => {
  it('starts, is ready, answers 503 UH for that cluster and serves the others', async () => {
    const upstream = http.createServer((_req, res) => res.end('from localhost'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void upstream.close());
    const upstreamPort = (upstream.address() as { port: number }).port;

    const cli = startCli(['--config', writeConfig(config(upstreamPort)), '--admin', '127.0.0.1:0']);
    const admin = await cli.adminUrl();
    const listener = await cli.listenerUrl('ingress');
    expect(cli.child.exitCode).toBeNull();

    const ready = await fetch(`${admin}/ready`);
    expect(ready.status).toBe(200);

    const res = await fetch(`${listener}/anything`);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('no healthy upstream');

    const local = await fetch(`${listener}/local`);
    expect(local.status).toBe(200);
    expect(await local.text()).toBe('from localhost');

    // The name was asked, is asked again every dns_refresh_rate, and gave no hosts.
    const stat = async (name: string) => Number(new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)$`, 'm').exec(await (await fetch(`${admin}/stats`)).text())?.[1]);
    expect(await stat('cluster.service1.update_attempt')).toBeGreaterThanOrEqual(1);
    expect(await stat('cluster.service1.membership_total')).toBe(0);
    expect(await stat('cluster.service1.upstream_cx_none_healthy')).toBe(1);
    // dns_refresh_rate 1s: the name is asked again while the proxy runs.
    let attempts = 0;
    for (let i = 0; i < 200 && attempts < 2; i++) {
      attempts = await stat('cluster.service1.update_attempt');
      if (attempts < 2) await new Promise((r) => setTimeout(r, 50));
    }
    expect(attempts).toBeGreaterThanOrEqual(2);

    expect(cli.stderr()).toContain("proxyscope: warning: cluster 'service1' (STRICT_DNS) has no hosts: service1.invalid:8080");
    expect(cli.stderr()).toContain('requests routed to it get 503 UH until a name resolves');
    const clusters = await (await fetch(`${admin}/clusters`)).text();
    expect(clusters).toContain('service1::observability_name::service1');
    expect(clusters).not.toMatch(/^service1::[\d.]+:\d+::/m);
    expect(clusters).toMatch(new RegExp(`^local::127\\.0\\.0\\.1:${upstreamPort}::hostname::localhost$`, 'm'));

    expect(await cli.stop()).toBe(0);
  });

  it('exits 4 only when an address is in use', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void taken.close());
    const port = (taken.address() as { port: number }).port;
    const file = writeConfig(config(8080).replace('port_value: 0', `port_value: ${port}`));
    const { code, stderr } = await runCli(['--config', file, '--admin', '127.0.0.1:0']);
    expect(code).toBe(4);
    expect(stderr).toContain('address already in use');
  });
});
