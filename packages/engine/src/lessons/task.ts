/**
 * A lesson's task check (docs/lessons.md): the user edits the config or the scenario, and the
 * task is done when the run of the edited files meets the task's `expect` list. The files
 * are loaded with the loaders `proxyscope simulate` uses and the expectations judged by its
 * evaluator, so a task passes in the page exactly when the CLI would say PASS. Browser-safe:
 * texts in, a result out, nothing read or written.
 */
import { ConfigError, formatDiagnostic, loadBootstrap } from '../config/load';
import type { Bootstrap } from '../config/types';
import { loadScenario } from '../sim/scenario';
import type { RequestFilter, Scenario } from '../sim/scenario-types';
import { Simulation } from '../sim/simulation';
import type { TaskCheck } from './lesson-schema';

export interface TaskInput {
  configText: string;
  /** the file name diagnostics give, e.g. `scenarios/canary-split/envoy.yaml` */
  configName: string;
  scenarioText: string;
  scenarioName: string;
  /** the lesson's seed, so the edited run is the lesson's run but for the edit */
  seed: number;
}

export interface TaskResult {
  /** no problem, and every expectation passed */
  ok: boolean;
  /** why the edited files did not run: each diagnostic as `formatDiagnostic` prints it */
  problems: string[];
  /** the task's expectations, in its order; empty when the files did not load */
  expectations: Array<{ name: string; pass: boolean; detail: string }>;
}

/** Loads `load`, or turns its ConfigError into problems; anything else is a bug and is thrown. */
function attempt<T>(problems: string[], load: () => T): T | undefined {
  try {
    return load();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.diagnostics.map(formatDiagnostic));
    return undefined;
  }
}

const filtersOf = (check: TaskCheck): RequestFilter[] =>
  check.expect.flatMap(({ expectation: e }) => ('where' in e ? [e.where, ...('of' in e && e.of ? [e.of] : [])] : []).filter((f): f is RequestFilter => f !== undefined));

export async function runTask(check: TaskCheck, input: TaskInput): Promise<TaskResult> {
  const problems: string[] = [];
  const config: Bootstrap | undefined = attempt(problems, () => loadBootstrap(input.configText, input.configName).config);
  const scenario: Scenario | undefined = attempt(problems, () => loadScenario(input.scenarioText, input.scenarioName).scenario);
  if (!config || !scenario) return { ok: false, problems, expectations: [] };
  // The lesson's schema could not check these: it does not know the scenario's sources.
  const sources = new Set(scenario.traffic.map((t) => t.name));
  for (const f of filtersOf(check)) {
    if (f.source !== undefined && !sources.has(f.source)) problems.push(`${input.scenarioName}: the task's expect names source '${f.source}', which the scenario does not have (it has ${[...sources].join(', ')})`);
  }
  if (problems.length) return { ok: false, problems, expectations: [] };
  try {
    const summary = await new Simulation({ config, scenario: { ...scenario, expect: check.expect }, seed: input.seed }).run();
    const expectations = summary.expectations.map((e) => ({ name: e.label, pass: e.pass, detail: e.actual }));
    return { ok: expectations.every((e) => e.pass), problems, expectations };
  } catch (e) {
    // An edit can make a config the engine refuses to build (a route to a cluster that is gone).
    return { ok: false, problems: [`${input.configName}: the run failed: ${(e as Error).message}`], expectations: [] };
  }
}
