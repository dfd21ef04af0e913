/**
 * x-request-id through the CLI: without --seed every run draws fresh ids (as Envoy does),
 * with --seed N two runs give the same sequence.
 */
import { describe, expect, it } from 'vitest';
import { httpGet, startCli, waitFor, writeConfig } from './support/cli-process';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function configFile(): string {
  return writeConfig(`static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          access_log:
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
              log_format: { text_format: "rid %REQ(X-REQUEST-ID)%\\n" }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                direct_response: { status: 200 }
  clusters: []
`);
}

/** Runs the CLI, sends two requests, returns the two x-request-ids it generated. */
async function firstIds(config: string, extra: string[]): Promise<string[]> {
  const cli = startCli(['--config', config, '--admin', '127.0.0.1:0', ...extra]);
  const [, port] = await cli.waitForOutput(/listener ingress\s+http:\/\/127\.0\.0\.1:(\d+)/);
  expect((await httpGet(`http://127.0.0.1:${port}/`)).status).toBe(200);
  expect((await httpGet(`http://127.0.0.1:${port}/`)).status).toBe(200);
  const ids = await waitFor('two access log lines', () => {
    const found = [...cli.stdout().matchAll(/^rid (\S+)$/gm)].map((m) => m[1]!);
    return found.length >= 2 ? found : undefined;
  });
  cli.child.kill('SIGINT');
  return ids;
}

describe('x-request-id and --seed', () => {
  it('two runs without --seed generate different ids', async () => {
    const config = configFile();
    const [a, b] = await Promise.all([firstIds(config, []), firstIds(config, [])]);
    for (const id of [...a, ...b]) expect(id).toMatch(UUID);
    expect(a[0]).not.toBe(b[0]);
    expect(a[1]).not.toBe(b[1]);
  });

  it('two runs with --seed 7 generate the same ids', async () => {
    const config = configFile();
    const [a, b] = await Promise.all([firstIds(config, ['--seed', '7']), firstIds(config, ['--seed', '7'])]);
    for (const id of a) expect(id).toMatch(UUID);
    expect(a).toEqual(b);
    expect(a[0]).not.toBe(a[1]);
  });
});
