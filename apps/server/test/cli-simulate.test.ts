/**
 * `proxyscope simulate`: the built-in demo runs to the end and passes its expectations; a
 * scenario whose expectation fails exits 1 naming it; a bad scenario exits 3 at its line;
 * the same seed writes the same trace and summary bytes, another seed does not.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './support/cli-process';

const CONFIG = `static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config:
            virtual_hosts:
            - name: app
              domains: ["app.example.com"]
              routes:
              - match: { prefix: "/" }
                route:
                  cluster: app
                  retry_policy: { retry_on: 5xx, num_retries: 1 }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: app
    connect_timeout: 1s
    load_assignment:
      cluster_name: app
      endpoints:
      - lb_endpoints:
        - endpoint: { hostname: app-1, address: { socket_address: { address: 10.0.0.1, port_value: 8080 } } }
        - endpoint: { hostname: app-2, address: { socket_address: { address: 10.0.0.2, port_value: 8080 } } }
`;

function scenario(expect: string): string {
  return `name: two hosts, one failing
config: envoy.yaml
duration: 2s
defaults:
  service_time: { lognormal: { p50: 10ms, p99: 50ms } }
hosts:
  - host: app-2
    errors: [{ status: 503, rate: 50% }]
traffic:
  - name: clients
    poisson: { rate: 100 }
    mix: [{ authority: app.example.com, path: /items }]
expect:
${expect}`;
}

function files(expect: string): { dir: string; scenarioFile: string } {
  const dir = tempDir('proxyscope-sim-');
  fs.writeFileSync(path.join(dir, 'envoy.yaml'), CONFIG);
  const scenarioFile = path.join(dir, 'scenario.yaml');
  fs.writeFileSync(scenarioFile, scenario(expect));
  return { dir, scenarioFile };
}

describe('proxyscope simulate', () => {
  it('runs the built-in demo to the end: a summary, and every expectation passes', async () => {
    const run = await runCli(['simulate'], { timeoutMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^scenario demo, seed 1: \d+ requests over 3\d\.\d+ s of virtual time/);
    expect(run.stdout).toMatch(/\n {2}web-2 \(web\): served \d+, received \d+; 200 \d+, 503 \d+; .*ejected at 1\d\.\d+ s/);
    expect(run.stdout).toContain('PASS  web-2 is ejected soon after it starts failing');
    expect(run.stdout).not.toContain('FAIL');
  }, 70_000);

  it('retries the failing host on the other one; the same seed writes the same bytes, another seed differs', async () => {
    const { dir, scenarioFile } = files(`  - stat: { name: cluster.app.upstream_rq_retry, at_least: 10 }
  - share: { where: { status_class: 2xx }, at_least: 90% }
`);
    const out = (name: string) => path.join(dir, name);
    const runs = await Promise.all(
      [
        ['--seed', '7', '--record', out('a.ndjson'), '--summary', out('a.json')],
        ['--seed', '7', '--record', out('b.ndjson'), '--summary', out('b.json')],
        ['--seed', '8', '--record', out('c.ndjson'), '--summary', out('c.json')],
      ].map((args) => runCli(['simulate', '--scenario', scenarioFile, ...args], { timeoutMs: 60_000 })),
    );
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    expect(runs[0]!.stdout).toContain('PASS  stat cluster.app.upstream_rq_retry');
    const a = fs.readFileSync(out('a.ndjson'));
    expect(a.length).toBeGreaterThan(10_000);
    expect(a.equals(fs.readFileSync(out('b.ndjson')))).toBe(true);
    expect(fs.readFileSync(out('a.json')).equals(fs.readFileSync(out('b.json')))).toBe(true);
    expect(a.equals(fs.readFileSync(out('c.ndjson')))).toBe(false);
    const header = JSON.parse(a.toString('utf8').split('\n', 1)[0]!);
    expect(header.simulation).toEqual({ scenario: 'two hosts, one failing', seed: 7 });
    const summary = JSON.parse(fs.readFileSync(out('a.json'), 'utf8'));
    expect(summary.retries).toBeGreaterThanOrEqual(10);
    expect(summary.hosts.map((h: { name: string }) => h.name)).toEqual(['app-1', 'app-2']);
  }, 70_000);

  it('runs a config without a scenario on default traffic through its routes', async () => {
    const { dir } = files('');
    const run = await runCli(['simulate', '--config', path.join(dir, 'envoy.yaml')], { timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^scenario default traffic, seed 1: \d{3} requests over 10(\.\d+)? s of virtual time/);
    // app-2 answers 503 half the time only in the scenario; default traffic finds every host healthy.
    expect(run.stdout).toMatch(/\n {2}status: {4}2xx \d+\n/);
    expect(run.stdout).toMatch(/app-1 \(app\): served \d+/);
  }, 70_000);

  it('writes --record FILE.gz as one gzip stream, which browsers can read (they stop after a first member)', async () => {
    const { dir, scenarioFile } = files('');
    const file = path.join(dir, 'trace.ndjson.gz');
    const run = await runCli(['simulate', '--scenario', scenarioFile, '--record', file], { timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    const gz = fs.readFileSync(file);
    expect([gz[0], gz[1]]).toEqual([0x1f, 0x8b]);
    // Node's gzip header has no optional fields: 10 bytes, then one deflate stream, then the 8-byte trailer.
    const { buffer, engine } = zlib.inflateRawSync(gz.subarray(10), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    expect(10 + engine.bytesWritten + 8).toBe(gz.length);
    // More than one 1 MiB piece of the writer, so a member per piece would have shown.
    expect(buffer.length).toBeGreaterThan(1024 * 1024);
    const lines = buffer.toString('utf8').trimEnd().split('\n');
    expect(JSON.parse(lines[0]!).format).toBe('proxyscope-trace');
    expect(run.stdout).toContain(`trace: ${lines.length - 1} events written to ${file}`);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  }, 70_000);

  it('exits 1 and names an expectation that fails', async () => {
    const { scenarioFile } = files(`  - name: nobody ever sees a 5xx
    count: { where: { status_class: 5xx }, at_most: 0 }
`);
    const run = await runCli(['simulate', '--scenario', scenarioFile, '--seed', '3'], { timeoutMs: 60_000 });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAIL {2}nobody ever sees a 5xx: [1-9]\d*/);
    expect(run.stderr).toMatch(/proxyscope: expectation failed: nobody ever sees a 5xx \(got [1-9]\d*\)/);
  }, 70_000);

  it('exits 3 for a bad scenario, at its file, line and field', async () => {
    const { scenarioFile } = files(`  - stat: { name: cluster.app.upstream_rq_retry, at_lest: 10 }
`);
    const run = await runCli(['simulate', '--scenario', scenarioFile], { timeoutMs: 60_000 });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`${scenarioFile}:14:50: expect[0].stat.at_lest: unknown field`);
    expect(run.stderr).toMatch(/expect\[0\]\.stat.*at_lest.*did you mean .?at_least/);
  }, 70_000);

  it('is in --help, and refuses --speed without --serve', async () => {
    const help = await runCli(['simulate', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('proxyscope simulate - run the proxy on virtual time');
    const bad = await runCli(['simulate', '--speed', '10']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--speed needs --serve');
  }, 30_000);
});
