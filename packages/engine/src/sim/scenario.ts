/**
 * Load a scenario file (docs/scenarios.md) into a `Scenario`: YAML with source positions
 * (config/yaml-source.ts), then `scenarioSchema` (scenario-schema.ts, the format itself).
 * Every error found is reported at once, each at its file, line, column and field path.
 */
import type { ConfigDiagnostic } from '../config/types';
import { ConfigError, parseYaml } from '../config/yaml-source';
import { describeIssue, isAboutKey, scenarioSchema, showTime } from './scenario-schema';
import type { Scenario } from './scenario-types';

export { describeExpectation, parseSimDuration } from './scenario-schema';

export function loadScenario(text: string, file: string): { scenario: Scenario; warnings: ConfigDiagnostic[] } {
  const source = parseYaml(text, file);
  const result = scenarioSchema.safeParse(source.doc.toJS({ maxAliasCount: 1000 }), { error: describeIssue });
  if (!result.success) {
    const errors = result.error.issues.map((issue) => source.diagnostic(issue.path, issue.message, isAboutKey(issue) ? 'key' : 'value'));
    throw new ConfigError(sorted(errors), sorted(source.warnings));
  }
  const scenario = result.data;
  // A warning, so not a schema issue (zod has only failures); found while the timeline is
  // still in file order, so that each is placed at its event.
  const late = scenario.timeline.flatMap((e, i) =>
    e.at > scenario.duration ? [source.diagnostic(['timeline', i, 'at'], `at ${showTime(e.at)} is after duration ${showTime(scenario.duration)}: traffic has stopped by then`)] : [],
  );
  // Array.prototype.sort is stable: events at the same time keep the file's order.
  scenario.timeline.sort((a, b) => a.at - b.at);
  return { scenario, warnings: sorted([...source.warnings, ...late]) };
}

const sorted = (list: ConfigDiagnostic[]) => list.sort((a, b) => a.line - b.line || a.column - b.column);

