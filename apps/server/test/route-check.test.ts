/**
 * `proxyscope route-check`: Envoy's router_check_tool test pairs (fixtures/router_check/,
 * copied from envoyproxy/envoy test/tools/router_check/test/config/) run through the engine,
 * with the outcomes Envoy's own route_tests.sh expects of the tool. Most runs are in-process
 * (the same main the CLI calls); one run each goes through the real command for its exit
 * code and output streams.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { routeCheckMain } from '../src/route-check/route-check';
import { runCli, tempDir } from './support/cli-process';

const FIXTURES = fileURLToPath(new URL('./fixtures/router_check/', import.meta.url));
const at = (name: string) => path.resolve(FIXTURES, name);

interface Run {
  code: number;
  stdout: string[];
  stderr: string[];
  /** both streams in the order written, as `2>&1` shows them */
  all: string;
}

async function routeCheck(...args: string[]): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const all: string[] = [];
  const code = await routeCheckMain(
    args.map((a) => (/\.(ya?ml|json|pb_text)$/.test(a) ? at(a) : a)),
    (line) => {
      stdout.push(line);
      all.push(line);
    },
    (line) => {
      stderr.push(line);
      all.push(line);
    },
  );
  return { code, stdout, stderr, all: all.join('\n') };
}

/** `*"a"*"b"*` in bash: the pieces appear in this order. */
function inOrder(text: string, pieces: string[]): boolean {
  let from = 0;
  for (const p of pieces) {
    const i = text.indexOf(p, from);
    if (i < 0) return false;
    from = i + p.length;
  }
  return true;
}

describe("route_tests.sh: the suite's pairs pass", () => {
  // route_tests.sh's TESTS list, minus DirectResponse and HeaderMatchedRouting: their
  // config and test files at the versions available to us do not belong together (see
  // docs/route-check.md).
  for (const name of ['ContentType', 'ClusterHeader', 'Redirect', 'Redirect2', 'Redirect3', 'Redirect4', 'Runtime', 'TestRoutes', 'Weighted']) {
    it(`${name}: every test passes`, async () => {
      const run = await routeCheck('-c', `${name}.yaml`, '-t', `${name}.golden.proto.json`, '--details');
      expect(run.stderr.filter((l) => !l.startsWith('warning: '))).toEqual([]);
      expect(run.code).toBe(0);
      expect(run.stdout.at(-1)).toMatch(/^Current route coverage: /);
    });
  }

  it('the YAML and the proto text forms of the Weighted tests pass', async () => {
    for (const tests of ['Weighted.golden.proto.yaml', 'Weighted.golden.proto.pb_text']) {
      const run = await routeCheck('-c', 'Weighted.yaml', '-t', tests, '--details');
      expect(run.code, tests).toBe(0);
      expect(run.stdout.slice(0, 2)).toEqual(['Test_1', 'Test_2']);
    }
  });
});

describe('coverage', () => {
  it('-f 1.0 on Redirect passes and prints the coverage: 6 of its 9 route entries are checked', async () => {
    // 5 configured routes reached by a passing check, plus the require_tls redirect (one
    // route in Envoy for every virtual host), over 9 routes in the config.
    const run = await routeCheck('-c', 'Redirect.yaml', '-t', 'Redirect.golden.proto.json', '--details', '-f', '1.0');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Current route coverage: 66.6667%');
  });

  it('-f 100 on Redirect fails the requirement, on stderr, with exit 1', async () => {
    const run = await routeCheck('-c', 'Redirect.yaml', '-t', 'Redirect.golden.proto.json', '--details', '-f', '100');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Failed to meet coverage requirement: 100%');
  });

  it('--covall: ComprehensiveRoutes and Runtime check every field of every route', async () => {
    const comp = await routeCheck('-c', 'ComprehensiveRoutes.yaml', '-t', 'ComprehensiveRoutes.golden.proto.json', '--details', '-f', '100', '--covall');
    expect(comp.code).toBe(0);
    expect(comp.stdout).toContain('Current route coverage: 100%');
    const runtime = await routeCheck('-c', 'Runtime.yaml', '-t', 'Runtime.golden.proto.json', '--details', '--covall');
    expect(runtime.stdout).toContain('Current route coverage: 100%');
  });

  it('weighted clusters count one entry per cluster: 1 of Weighted.yaml\'s 6 is reached by the proto text tests', async () => {
    const run = await routeCheck('-c', 'Weighted.yaml', '-t', 'Weighted.golden.proto.pb_text');
    expect(run.stdout).toEqual(['Current route coverage: 16.6667%']);
  });

  it('--detailed-coverage names the routes no test reached, by their unique names; without it, none', async () => {
    const run = await routeCheck('-c', 'DetailedCoverage.yaml', '-t', 'DetailedCoverage.golden.proto.json', '--detailed-coverage');
    const missing = run.stdout.filter((l) => l.startsWith('Missing test for host:'));
    expect(missing).toHaveLength(2);
    expect(missing[0]).toMatch(/^Missing test for host: localhost, route name: new_endpoint2-.+/);
    expect(missing[1]).toMatch(/^Missing test for host: localhost, route name: -.+/);
    expect(run.stdout.at(-1)).toBe('Current route coverage: 50%');
    const plain = await routeCheck('-c', 'DetailedCoverage.yaml', '-t', 'DetailedCoverage.golden.proto.json');
    expect(plain.all).not.toMatch(/Missing test for host:/);
  });

  it('--covall on TestRoutes names the hosts and routes without a test (route_tests.sh)', async () => {
    const run = await routeCheck('-c', 'TestRoutes.yaml', '-t', 'TestRoutes.golden.proto.json', '--details', '--covall');
    expect(run.code).toBe(0);
    expect(inOrder(run.all, ['Missing test for host: www2_staging, route: prefix: "/"', 'Missing test for host: default, route: prefix: "/api/application_data"'])).toBe(true);
    // A BoolValue prints as a message; false is its default, so its body is empty.
    expect(run.all).toContain('Missing test for host: default, route: path: "/tar"\ncase_sensitive {\n}\n\n');
  });

  it('--covall names the routes no test reached by their match, in proto text', async () => {
    const run = await routeCheck('-c', 'DetailedCoverage.yaml', '-t', 'DetailedCoverage.golden.proto.json', '--covall');
    expect(run.all).toContain('Missing test for host: localhost, route: path: "/new_endpoint2"\n\n');
    expect(run.all).toContain('Missing test for host: localhost, route: prefix: "/no_name"\n\n');
  });
});

describe('failure output', () => {
  it('--details: every test name, each failure under its test', async () => {
    const run = await routeCheck('-c', 'TestRoutes.yaml', '-t', 'Weighted.golden.proto.json', '--details');
    expect(run.code).toBe(1);
    expect(
      inOrder(run.all, [
        'Test_1',
        'Test_2',
        'expected: [cluster1], actual: [instant-server], test type: cluster_name',
        'expected: [test_virtual_cluster], actual: [other], test type: virtual_cluster_name',
        'Test_3',
      ]),
    ).toBe(true);
    expect(run.all).not.toContain('Current route coverage');
  });

  it('--only-show-failures (with or without --details) leaves out the passing Test_1', async () => {
    for (const flags of [['--details', '--only-show-failures'], ['--only-show-failures']]) {
      const run = await routeCheck('-c', 'TestRoutes.yaml', '-t', 'Weighted.golden.proto.json', ...flags);
      expect(inOrder(run.all, ['Test_2', 'expected: [cluster1], actual: [instant-server], test type: cluster_name'])).toBe(true);
      expect(run.all.split('\n')).not.toContain('Test_1');
    }
  });

  it('header match failures read as the tool writes them (TestRoutesFailures)', async () => {
    const run = await routeCheck('-c', 'TestRoutes.yaml', '-t', 'TestRoutesFailures.golden.proto.json', '--only-show-failures');
    expect(run.code).toBe(1);
    expect(run.stderr).toEqual(
      expect.arrayContaining([
        'expected: [content-type: text/plain], actual: NOT [content-type: text/plain], test type: response_header_matches.string_match.exact',
        'actual: [content-length: 25], test type: response_header_matches.range_match',
        'expected: [x-ping-response: pong], actual: [x-ping-response: yes], test type: response_header_matches.string_match.exact',
        'expected: [has(x-ping-response):false], actual: [has(x-ping-response):true], test type: response_header_matches.present_match',
        'expected: [has(x-pong-response):true], actual: [has(x-pong-response):false], test type: response_header_matches.present_match',
      ]),
    );
  });
});

describe('bad files', () => {
  it('a test file given as the route config is refused: INVALID_ARGUMENT ... RouteConfiguration ... tests', async () => {
    const run = await routeCheck('-c', 'Redirect.golden.proto.json', '-t', 'TestRoutes.yaml');
    expect(run.code).toBe(1);
    expect(run.all).toMatch(/INVALID_ARGUMENT.*envoy\.config\.route\.v3\.RouteConfiguration.*tests/);
  });

  it('an unknown test field is file:line:column: field path', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'tests.yaml');
    fs.writeFileSync(file, 'tests:\n- test_name: t\n  input: { authority: a, path: /, method: GET }\n  validate:\n    clutser_name: x\n');
    const run = await routeCheck('-c', 'ContentType.yaml', '-t', file);
    expect(run.code).toBe(1);
    expect(run.stderr).toEqual([
      `error: ${file}:5:5: tests[0].validate.clutser_name: INVALID_ARGUMENT: envoy.RouterCheckToolSchema.ValidationAssert has no field "clutser_name"`,
    ]);
  });

  it('a broken proto text file names the line and column, and a missing method is the proto rule', async () => {
    const dir = tempDir();
    const broken = path.join(dir, 'broken.pb_text');
    fs.writeFileSync(broken, 'tests {\n  test_name: "t"\n  input {\n    authority: "a"\n');
    const run = await routeCheck('-c', 'ContentType.yaml', '-t', broken);
    expect(run.stderr).toEqual([`error: ${broken}:5:1: expected "}" to close the message opened at 3:9, got end of file`]);
    const noMethod = path.join(dir, 'nomethod.pb_text');
    fs.writeFileSync(noMethod, 'tests {\n  test_name: "t"\n  input { authority: "a" path: "/" }\n  validate { cluster_name { value: "x" } }\n}\n');
    const second = await routeCheck('-c', 'ContentType.yaml', '-t', noMethod);
    expect(second.code).toBe(1);
    expect(second.stderr[0]).toBe(`error: ${noMethod}:3:9: tests[0].input.method: INVALID_ARGUMENT: value length must be at least 3 characters (validation.proto)`);
  });

  it('a route config the engine refuses is reported at its line in the user\'s file', async () => {
    const dir = tempDir();
    const routes = path.join(dir, 'routes.yaml');
    fs.writeFileSync(routes, 'virtual_hosts:\n- name: a\n  domains: ["*"]\n  routes:\n  - match: { prefix: / }\n    route: { cluster: c, timeout: soon }\n');
    const run = await routeCheck('-c', routes, '-t', 'ContentType.golden.proto.json');
    expect(run.code).toBe(1);
    expect(run.stderr.join('\n')).toMatch(new RegExp(`^error: ${routes.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6:\\d+: virtual_hosts\\[0\\]\\.routes\\[0\\]\\.route\\.timeout: `, 'm'));
  });
});

describe('a bootstrap as -c', () => {
  it("tests each HTTP connection manager's inline route_config in turn", async () => {
    const dir = tempDir();
    const hcm = (name: string, cluster: string) => `
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${name}
          route_config:
            name: ${name}
            virtual_hosts:
            - name: ${name}_host
              domains: ["*"]
              routes:
              - match: { prefix: "/api" }
                route: { cluster: ${cluster}, prefix_rewrite: "/v2" }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }`;
    const bootstrap = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(bootstrap, `static_resources:
  listeners:
  - name: public
    address: { socket_address: { address: 0.0.0.0, port_value: 10000 } }
    filter_chains:${hcm('edge', 'api')}
  - name: internal
    address: { socket_address: { address: 0.0.0.0, port_value: 10001 } }
    filter_chains:${hcm('mesh', 'api_internal')}
`);
    const tests = path.join(dir, 'tests.yaml');
    fs.writeFileSync(tests, 'tests:\n- test_name: api\n  input: { authority: x, path: /api/users, method: GET }\n  validate: { cluster_name: api, path_rewrite: /v2/users }\n');
    const run = await routeCheck('-c', bootstrap, '-t', tests, '--details');
    expect(run.code).toBe(1);
    expect(run.stdout).toEqual(['Route configuration: listener public, route_config edge', 'api', 'Current route coverage: 100%', 'Route configuration: listener internal, route_config mesh']);
    expect(run.stderr).toEqual(['api', 'expected: [api], actual: [api_internal], test type: cluster_name']);
  });
});

describe('the command', () => {
  it('exits 1 with failures on stderr and test names on stdout, as the tool', async () => {
    const run = await runCli(['route-check', '-c', at('TestRoutes.yaml'), '-t', at('Weighted.golden.proto.json'), '--details']);
    expect(run.code).toBe(1);
    expect(run.stdout.split('\n')).toContain('Test_1');
    expect(run.stderr).toContain('expected: [cluster1], actual: [instant-server], test type: cluster_name');
  });

  it('--help describes the flags and exits 0; a missing -t is exit 1', async () => {
    const help = await runCli(['route-check', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--config-path', '--test-path', '--details', '--only-show-failures', '--fail-under', '--covall', '--detailed-coverage']) expect(help.stdout).toContain(flag);
    const bad = await runCli(['route-check', '-c', at('ContentType.yaml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Both --config-path/c and --test-path/t are mandatory');
  });
});
