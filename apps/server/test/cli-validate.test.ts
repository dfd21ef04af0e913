/**
 * `proxyscope validate --config FILE` (Envoy's --mode validate): every warning and error,
 * nothing bound, exit 0 or 3. And a refused `--config` run prints its warnings too.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeConfig } from './support/cli-process';

/** An envoyproxy/examples style bootstrap: unnamed listener, short HCM name, lower-case enums. */
function bootstrap({ port = 'port_value: 10000', extra = '' } = {}): string {
  return `static_resources:
  listeners:
  - address:
      socket_address: { address: 127.0.0.1, ${port} }
    filter_chains:
    - filters:
      - name: http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          codec_type: auto
          stat_prefix: ingress_http
          add_user_agent: true
          route_config:
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: service }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: service
    type: static
    lb_policy: round_robin
    load_assignment:
      cluster_name: service
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }
${extra}`;
}

const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('proxyscope validate', () => {
  it('exits 0 for a config that would start and prints each warning with file, line and field', async () => {
    const text = bootstrap();
    const file = writeConfig(text);
    const { code, stdout } = await runCli(['validate', '--config', file]);
    expect(code).toBe(0);
    const line = lineOf(text, 'add_user_agent');
    expect(stdout).toContain(
      `warning: ${file}:${line}:11: static_resources.listeners[0].filter_chains[0].filters[0].typed_config.add_user_agent: unsupported field 'add_user_agent' is ignored`,
    );
    expect(stdout.trim().split('\n').pop()).toBe(`proxyscope: ${file} is valid (1 warning)`);
  });

  it('binds nothing: a listener port already in use does not matter', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const file = writeConfig(bootstrap({ port: `port_value: ${(taken.address() as net.AddressInfo).port}` }));
      const { code, stdout } = await runCli(['validate', '-c', file]);
      expect(code).toBe(0);
      expect(stdout).toContain('is valid');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('exits 3 and prints every error and every warning of a config that would not start', async () => {
    const text = bootstrap({ port: 'port_value: 99999' });
    const file = writeConfig(text);
    const { code, stdout } = await runCli(['validate', '--config', file]);
    expect(code).toBe(3);
    expect(stdout).toContain(`error: ${file}:${lineOf(text, 'port_value: 99999')}:`);
    expect(stdout).toContain('static_resources.listeners[0].address.socket_address.port_value');
    expect(stdout).toContain(`warning: ${file}:${lineOf(text, 'add_user_agent')}:`);
    expect(stdout.trim().split('\n').pop()).toBe(`proxyscope: ${file} is invalid (1 error, 1 warning)`);
  });

  it('exits 3 for a file it cannot read, 2 without --config', async () => {
    const missing = await runCli(['validate', '--config', path.join(os.tmpdir(), 'no-such-dir-proxyscope', 'envoy.yaml')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('cannot read config');
    const usage = await runCli(['validate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('validate needs --config FILE');
  });

  it('is in --help', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('proxyscope validate --config FILE');
  });
});

describe('proxyscope --config with an invalid file', () => {
  it('prints the warnings as well as the errors before exiting 3', async () => {
    const text = bootstrap({ port: 'port_value: 99999' });
    const file = writeConfig(text);
    const { code, stderr } = await runCli(['--config', file, '--admin', '127.0.0.1:0']);
    expect(code).toBe(3);
    expect(stderr).toContain(`proxyscope: warning: ${file}:${lineOf(text, 'add_user_agent')}:`);
    expect(stderr).toContain(`${file}:${lineOf(text, 'port_value: 99999')}:`);
  });
});
