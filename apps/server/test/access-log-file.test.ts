/**
 * `envoy.access_loggers.file` through the CLI: a YAML config's custom text format is what
 * lands in the file at `path`, while a stdout logger's lines go to stdout.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { httpGet, startCli, tempDir, waitFor, writeConfig } from './support/cli-process';

describe('file access log from the CLI', () => {
  it('writes lines in the configured text format to the file at path', async () => {
    const upstream = http.createServer((_req, res) => res.end('hi'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void upstream.close());
    const upstreamPort = (upstream.address() as AddressInfo).port;

    const dir = tempDir();
    const logFile = path.join(dir, 'access.log');
    const configFile = writeConfig(
      `static_resources:
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
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logFile}
              log_format:
                text_format_source:
                  inline_string: "custom %REQ(:METHOD)% %REQ(:PATH)% -> %RESPONSE_CODE% %RESPONSE_FLAGS% via %UPSTREAM_CLUSTER%\\n"
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
              log_format: { text_format_source: { inline_string: "stdout %RESPONSE_CODE%\\n" } }
          http_filters:
          - name: envoy.filters.http.fault
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
              abort: { header_abort: {}, percentage: { numerator: 100 } }
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: backend }
  clusters:
  - name: backend
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } }
`,
      dir,
    );
    const cli = startCli(['--config', configFile, '--admin', '127.0.0.1:0']);
    const [, port] = await cli.waitForOutput(/listener ingress\s+http:\/\/127\.0\.0\.1:(\d+)/);
    expect(cli.stderr()).toBe('');

    expect((await httpGet(`http://127.0.0.1:${port}/hello`)).status).toBe(200);
    const aborted = await httpGet(`http://127.0.0.1:${port}/broken`, { 'x-envoy-fault-abort-request': '503' });
    expect(aborted.status).toBe(503);

    const lines = await waitFor('two lines in the log file', () => {
      const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      return text.split('\n').filter(Boolean).length >= 2 ? text : undefined;
    });
    expect(lines).toBe('custom GET /hello -> 200 - via backend\ncustom GET /broken -> 503 FI via -\n');
    // stdout is a pipe: its bytes may still be on the way.
    await cli.waitForOutput(/stdout 503\n/);
    expect(cli.stdout()).toContain('stdout 200\nstdout 503\n');
    expect(cli.stdout()).not.toContain('custom GET');
  });
});
