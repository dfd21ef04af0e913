/**
 * `envoy.access_loggers.file` through the CLI: a YAML config's custom text format is what
 * lands in the file at `path`, while a stdout logger's lines go to stdout.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/proxyscope.mjs', import.meta.url));
const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function get(port: number, pathname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

describe('file access log from the CLI', () => {
  it('writes lines in the configured text format to the file at path', async () => {
    const upstream = http.createServer((_req, res) => res.end('hi'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => upstream.close());
    const upstreamPort = (upstream.address() as AddressInfo).port;

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxyscope-log-'));
    const logFile = path.join(dir, 'access.log');
    const configFile = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(
      configFile,
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
              log_format: { text_format: "stdout %RESPONSE_CODE%\\n" }
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
    );
    const child = spawn(process.execPath, [BIN, '--config', configFile, '--admin', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanup.push(() => child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const port = await waitFor('the listener address', () => {
      const m = /listener ingress\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      return m ? Number(m[1]) : undefined;
    });
    expect(err).toBe('');

    expect(await get(port, '/hello')).toBe(200);
    const aborted = await new Promise<number>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/broken', agent: false, headers: { 'x-envoy-fault-abort-request': '503' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    expect(aborted).toBe(503);

    const lines = await waitFor('two lines in the log file', () => {
      const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      return text.split('\n').filter(Boolean).length >= 2 ? text : undefined;
    });
    expect(lines).toBe('custom GET /hello -> 200 - via backend\ncustom GET /broken -> 503 FI via -\n');
    // stdout is a pipe: its bytes may still be on the way.
    await waitFor('the stdout logger lines', () => (out.includes('stdout 503\n') ? true : undefined));
    expect(out).toContain('stdout 200\nstdout 503\n');
    expect(out).not.toContain('custom GET');
  });
});
