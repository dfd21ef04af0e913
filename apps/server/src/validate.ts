/**
 * `proxyscope validate --config FILE`: Envoy's `--mode validate`. The config is loaded and
 * the engine built from it exactly as a run would, but nothing binds, resolves or sends:
 * the answer is every warning and error, and an exit code a script can test.
 * `proxyscope validate --lesson FILE` checks a lesson against the run of its scenario.
 */
import fs from 'node:fs';
import { ProxyEngine } from '@proxyscope/engine';
import { ConfigError, formatDiagnostic, loadBootstrap, type ConfigDiagnostic } from '@proxyscope/engine/config';
import { nodeTransport } from '@proxyscope/engine/node';
import { nodeTlsMaterial } from '@proxyscope/engine/node-tls';
import { loadScenario, Simulation } from '@proxyscope/engine/sim';
import { lessonRunProblems, loadLesson, resolveLessonPath, topologyNodeIds } from '@proxyscope/engine/lessons';
import type { TraceEvent } from '@proxyscope/protocol';
import { EXIT, parseFlags, UsageError } from './cli-args';

export const VALIDATE_HELP = `proxyscope validate - check an Envoy v3 bootstrap, or a lesson, without starting the proxy

Usage:
  proxyscope validate --config FILE
  proxyscope validate --lesson FILE

--config loads FILE as 'proxyscope --config FILE' would (like Envoy's --mode validate) and
prints every warning and error as 'warning: file:line:column: field.path: message' (or
'error: ...'), then one summary line. Nothing is bound and no upstream is contacted.

--lesson loads a lesson (docs/lessons.md), its config and its scenario, runs the scenario
with the lesson's seed on virtual time, and checks that every step's run_to is reached in
order, every question has its answer in the trace and every node highlight is a node of
the config's topology. Each problem is printed as 'error: file:line:column: field.path: message'.

Options:
  -c, --config FILE   Envoy v3 bootstrap YAML
  -l, --lesson FILE   lesson YAML (lessons/NN-slug/lesson.yaml)
  -h, --help          show this help

Exit codes:
  0 the config would start, or the lesson plays   2 bad command line
  3 invalid or unreadable config, lesson, or lesson that does not hold with its run
`;

type ValidateCli = { config: string } | { lesson: string };

function parseValidateCli(argv: string[]): ValidateCli | 'help' {
  const parsed = parseFlags({
    args: argv,
    allowPositionals: false,
    options: { config: { type: 'string', short: 'c' }, lesson: { type: 'string', short: 'l' }, help: { type: 'boolean', short: 'h' } },
  });
  const { config, lesson, help } = parsed.values;
  if (help) return 'help';
  if (config !== undefined && lesson !== undefined) throw new UsageError('validate takes --config FILE or --lesson FILE, not both (a lesson names its own config)');
  if (lesson !== undefined) return { lesson };
  if (config === undefined) throw new UsageError('validate needs --config FILE or --lesson FILE');
  return { config };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function validateMain(argv: string[], log: (line: string) => void, err: (line: string) => void): number | Promise<number> {
  let cli: ReturnType<typeof parseValidateCli>;
  try {
    cli = parseValidateCli(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`proxyscope: ${e.message}\nTry 'proxyscope validate --help'.`);
    return EXIT.USAGE;
  }
  if (cli === 'help') {
    log(VALIDATE_HELP);
    return EXIT.OK;
  }
  if ('lesson' in cli) return validateLesson(cli.lesson, log, err);
  const file = cli.config;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    err(`proxyscope: cannot read config '${file}': ${(e as Error).message}`);
    return EXIT.CONFIG;
  }

  const warnings: string[] = [];
  const errors: string[] = [];
  const byLine = (list: ConfigDiagnostic[]) => list.map(formatDiagnostic);
  try {
    // Certificate files are read and checked as a run reads them.
    const loaded = loadBootstrap(text, file, { tls: nodeTlsMaterial });
    warnings.push(...byLine(loaded.warnings));
    // Built, never started: the constructor's checks (HTTP filters the engine lacks, cluster
    // warnings) are part of "would it start", binding is not.
    const engine = new ProxyEngine({ config: loaded.config, transport: nodeTransport });
    warnings.push(...engine.warnings.map((w) => `${file}: ${w}`));
  } catch (e) {
    if (e instanceof ConfigError) {
      warnings.push(...byLine(e.warnings));
      errors.push(...byLine(e.diagnostics));
    } else {
      errors.push(`${file}: ${(e as Error).message}`);
    }
  }
  for (const w of warnings) log(`warning: ${w}`);
  for (const e of errors) log(`error: ${e}`);
  if (errors.length) {
    log(`proxyscope: ${file} is invalid (${plural(errors.length, 'error')}, ${plural(warnings.length, 'warning')})`);
    return EXIT.CONFIG;
  }
  log(`proxyscope: ${file} is valid (${plural(warnings.length, 'warning')})`);
  return EXIT.OK;
}

/**
 * `validate --lesson FILE`: what the lesson player would find out the hard way. The lesson,
 * its config and its scenario load; the scenario, run with the lesson's seed, reaches every
 * step and answers every question. Certificates are not read, as for `simulate`.
 */
async function validateLesson(file: string, log: (line: string) => void, err: (line: string) => void): Promise<number> {
  const warnings: string[] = [];
  const errors: string[] = [];
  const report = () => {
    for (const w of warnings) log(`warning: ${w}`);
    for (const e of errors) log(`error: ${e}`);
    const counts = `${plural(errors.length, 'error')}, ${plural(warnings.length, 'warning')}`;
    log(errors.length ? `proxyscope: lesson ${file} is invalid (${counts})` : `proxyscope: lesson ${file} is valid (${plural(warnings.length, 'warning')})`);
    return errors.length ? EXIT.CONFIG : EXIT.OK;
  };
  const read = (path: string, what: string): string | undefined => {
    try {
      return fs.readFileSync(path, 'utf8');
    } catch (e) {
      err(`proxyscope: cannot read ${what} '${path}': ${(e as Error).message}`);
      return undefined;
    }
  };
  /** `load`, with its ConfigError's diagnostics and warnings reported; undefined when it failed */
  const attempt = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      warnings.push(...e.warnings.map(formatDiagnostic));
      errors.push(...e.diagnostics.map(formatDiagnostic));
      return undefined;
    }
  };

  const text = read(file, 'lesson');
  if (text === undefined) return EXIT.CONFIG;
  const lesson = attempt(() => loadLesson(text, file, { exists: (p) => fs.existsSync(p) }));
  if (!lesson) return report();
  const configFile = resolveLessonPath(file, lesson.config);
  const scenarioFile = resolveLessonPath(file, lesson.scenario);
  const [configText, scenarioText] = [read(configFile, 'config'), read(scenarioFile, 'scenario')];
  if (configText === undefined || scenarioText === undefined) return EXIT.CONFIG;
  const config = attempt(() => {
    const loaded = loadBootstrap(configText, configFile);
    warnings.push(...loaded.warnings.map(formatDiagnostic));
    return loaded.config;
  });
  const scenario = attempt(() => {
    const loaded = loadScenario(scenarioText, scenarioFile);
    warnings.push(...loaded.warnings.map(formatDiagnostic));
    return loaded.scenario;
  });
  if (!config || !scenario) return report();

  const events: TraceEvent[] = [];
  const sim = new Simulation({ config, scenario, seed: lesson.seed, sink: (e) => events.push(e as TraceEvent) });
  try {
    await sim.run();
  } catch (e) {
    errors.push(`${scenarioFile}: the lesson's run failed: ${(e as Error).message}`);
    return report();
  }
  const problems = lessonRunProblems({ text, file, lesson, events, sources: scenario.traffic.map((t) => t.name), nodes: topologyNodeIds(sim.engine.topology()) });
  errors.push(...problems.map(formatDiagnostic));
  return report();
}
