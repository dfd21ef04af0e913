/**
 * `proxyscope route-check -c ROUTES -t TESTS`: Envoy's router_check_tool, with its test
 * files, flags, output lines and exit codes, answered by ProxyScope's engine on virtual
 * time instead of by a route lookup (docs/route-check.md).
 */
import { parseFlags, UsageError } from '../cli-args';
import { checkTest, type TestResult } from './checks';
import { Coverage, formatDouble } from './coverage';
import { EngineStartError, Harness } from './harness';
import { readRouteConfigs, type RouteConfigSource } from './route-config';
import { prepareRouteTable, userPosition, type RouteTable } from './route-table';
import { SourceError } from './source-tree';
import { readTests, type ValidationItem } from './test-file';

/** router_check_tool returns EXIT_FAILURE for a failing test, missed coverage, a bad file or a bad command line. */
const EXIT_SUCCESS = 0;
const EXIT_FAILURE = 1;

export const ROUTE_CHECK_HELP = `proxyscope route-check - run Envoy router_check_tool tests through the ProxyScope engine

Usage:
  proxyscope route-check -c ROUTES -t TESTS [options]

Runs every test of TESTS as a real request through the engine, in simulation on virtual
time: one listener with the router, one simulated host per cluster that records what
arrives. Test files, flags, output and exit codes are router_check_tool's.

  -c, --config-path FILE   an envoy.config.route.v3.RouteConfiguration (YAML or JSON), or a
                           v3 bootstrap: then every inline route_config in it, in turn
  -t, --test-path FILE     the tests (envoy.RouterCheckToolSchema.Validation) in JSON, YAML
                           or proto text (.pb_text)
  -d, --details            print every test's name, and each failure under its test
      --only-show-failures print only failing tests (with their failures)
  -f, --fail-under PCT     fail unless route coverage is at least PCT percent
      --covall             comprehensive coverage: every checkable field of every route;
                           lists the routes no test reached
      --detailed-coverage  list the routes no test reached, by name
      --disable-deprecation-check  accepted; route-check never fails on deprecated fields
  -h, --help               show this help

Output: passing test names on stdout, failing ones with 'expected: [..], actual: [..],
test type: ..' lines on stderr; then 'Current route coverage: N%' if every test passed.

Exit codes:
  0 every test passed (and coverage met --fail-under)
  1 a test failed, coverage was under --fail-under, or a file or the command line was bad
Not supported (see docs/route-check.md): -o/--output-path, validate.dynamic_metadata,
route configs in proto text, RDS.
`;

interface Options {
  config: string;
  tests: string;
  details: boolean;
  onlyShowFailures: boolean;
  failUnder: number;
  covall: boolean;
  detailedCoverage: boolean;
}

function parseCli(argv: string[]): Options | 'help' {
  const parsed = parseFlags({
    args: argv,
    allowPositionals: false,
    options: {
      'config-path': { type: 'string', short: 'c' },
      'test-path': { type: 'string', short: 't' },
      details: { type: 'boolean', short: 'd' },
      'only-show-failures': { type: 'boolean' },
      'fail-under': { type: 'string', short: 'f' },
      covall: { type: 'boolean' },
      'detailed-coverage': { type: 'boolean' },
      'disable-deprecation-check': { type: 'boolean' },
      'output-path': { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const v = parsed.values;
  if (v.help) return 'help';
  if (v['output-path'] !== undefined) throw new UsageError('-o/--output-path (a binary ValidationResult proto) is not supported by proxyscope route-check');
  if (v['config-path'] === undefined || v['test-path'] === undefined) throw new UsageError('Both --config-path/c and --test-path/t are mandatory');
  let failUnder = 0;
  if (v['fail-under'] !== undefined) {
    failUnder = Number(v['fail-under']);
    if (v['fail-under'].trim() === '' || !Number.isFinite(failUnder)) throw new UsageError(`-f/--fail-under expects a number, got '${v['fail-under']}'`);
  }
  return {
    config: v['config-path'],
    tests: v['test-path'],
    details: v.details === true,
    onlyShowFailures: v['only-show-failures'] === true,
    failUnder,
    covall: v.covall === true,
    detailedCoverage: v['detailed-coverage'] === true,
  };
}

/** RouterCheckTool::printResults */
function printResults(results: TestResult[], options: Options, log: (line: string) => void, err: (line: string) => void): void {
  for (const r of results) {
    if (!((options.details && !options.onlyShowFailures) || (options.onlyShowFailures && r.failures.length > 0))) continue;
    if (r.failures.length === 0) log(r.name);
    else {
      err(r.name);
      for (const f of r.failures) err(f);
    }
  }
}

/**
 * Active runtime (the test's `runtime` key) -> the bootstrap's runtime layer. The tool's
 * runtime mock enables a runtime_fraction only for the test's key (by its default
 * fraction and the test's random_value); every other key is off, here set to 0.
 */
function runtimeLayer(table: RouteTable, active: string): Record<string, string> {
  const layer: Record<string, string> = {};
  for (const key of table.runtimeKeys) if (key !== active) layer[key] = '0';
  return layer;
}

async function runConfig(source: RouteConfigSource, tests: ValidationItem[], options: Options, log: (line: string) => void, err: (line: string) => void): Promise<number> {
  const table = prepareRouteTable(source, tests);
  const coverage = new Coverage(table);
  const harnesses = new Map<string, Harness>();
  const results: TestResult[] = [];
  try {
    for (const test of tests) {
      const active = table.runtimeKeys.includes(test.input.runtime) ? test.input.runtime : '';
      let harness = harnesses.get(active);
      if (!harness) {
        harness = new Harness({ routeConfig: table.config, clusters: table.clusters, runtime: runtimeLayer(table, active) });
        if (harnesses.size === 0) {
          for (const w of harness.warnings) {
            // route-check evaluates virtual clusters itself (the engine does not model them).
            if (/virtual_clusters/.test(w.path)) continue;
            const at = userPosition(source, w.path);
            err(`warning: ${at ? `${source.file}:${at.line}:${at.column}: ${at.path}` : w.path}: ${w.message}`);
          }
        }
        harnesses.set(active, harness);
        await harness.start();
      }
      results.push(checkTest(test, await harness.run(test.input), table, coverage));
    }
  } finally {
    await Promise.all([...harnesses.values()].map((h) => h.stop()));
  }
  printResults(results, options, log, err);
  if (results.some((r) => r.failures.length > 0)) return EXIT_FAILURE;
  const current = Math.fround(options.covall ? coverage.comprehensiveReport(log) : coverage.report(options.detailedCoverage, log));
  log(`Current route coverage: ${formatDouble(current)}%`);
  if (options.failUnder !== 0 && current < options.failUnder) {
    err(`Failed to meet coverage requirement: ${formatDouble(options.failUnder)}%`);
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}

export async function routeCheckMain(argv: string[], log: (line: string) => void, err: (line: string) => void): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseCli(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`error: ${e.message}\nTry 'proxyscope route-check --help'.`);
    return EXIT_FAILURE;
  }
  if (options === 'help') {
    log(ROUTE_CHECK_HELP);
    return EXIT_SUCCESS;
  }
  let sources: RouteConfigSource[];
  let tests: ValidationItem[];
  try {
    sources = readRouteConfigs(options.config);
    tests = readTests(options.tests);
  } catch (e) {
    if (e instanceof SourceError) {
      err(`error: ${e.message}`);
      return EXIT_FAILURE;
    }
    throw e;
  }
  let code = EXIT_SUCCESS;
  for (const source of sources) {
    if (sources.length > 1) log(`Route configuration: ${source.label}`);
    try {
      code = Math.max(code, await runConfig(source, tests, options, log, err));
    } catch (e) {
      if (e instanceof EngineStartError) {
        for (const d of e.diagnostics) {
          const at = userPosition(source, d.path);
          err(`error: ${at ? `${source.file}:${at.line}:${at.column}: ${at.path}` : d.path}: ${d.message}`);
        }
        code = EXIT_FAILURE;
      } else if (e instanceof SourceError) {
        err(`error: ${e.message}`);
        code = EXIT_FAILURE;
      } else throw e;
    }
  }
  return code;
}
