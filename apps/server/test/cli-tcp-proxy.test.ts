import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startCli, writeConfig } from './support/cli-process';

/**
 * The mysql sandbox's config (mysql_proxy before tcp_proxy), pointed at a local echo
 * server: the proxy starts with one warning for the sniffer, prints the listener as
 * tcp://, and pipes bytes.
 */

function config(upstreamPort: number): string {
  return `static_resources:
  listeners:
  - name: mysql_listener
    address:
      socket_address:
        address: 127.0.0.1
        port_value: 0
    filter_chains:
    - filters:
      - name: envoy.filters.network.mysql_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy
          stat_prefix: egress_mysql
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: mysql_tcp
          cluster: mysql_cluster
  clusters:
  - name: mysql_cluster
    type: STRICT_DNS
    load_assignment:
      cluster_name: mysql_cluster
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address:
                address: 127.0.0.1
                port_value: ${upstreamPort}
`;
}

describe('proxyscope with the mysql sandbox config', () => {
  it('warns once about mysql_proxy, prints a tcp:// listener and pipes bytes to the cluster', async () => {
    const echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void echo.close());
    const file = writeConfig(config((echo.address() as net.AddressInfo).port));
    const cli = startCli(['--config', file, '--admin', '127.0.0.1:0']);

    const [, port] = await cli.waitForOutput(/listener mysql_listener\s+tcp:\/\/127\.0\.0\.1:(\d+)/);
    const warnings = cli.stderr().split('\n').filter((line) => line.includes('warning'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${file}:10:9: static_resources.listeners[0].filter_chains[0].filters[0]: network filter 'envoy.filters.network.mysql_proxy'`);
    expect(warnings[0]).toContain('is not modelled by ProxyScope: bytes pass through it unchanged');

    const socket = net.connect(Number(port), '127.0.0.1');
    onTestFinished(() => void socket.destroy());
    socket.write('COM_PING');
    const reply = await new Promise<string>((resolve, reject) => {
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString()));
      socket.once('error', reject);
    });
    expect(reply).toBe('COM_PING');

    expect(await cli.stop()).toBe(0);
  });
});
