import type { Problem } from './diagnostics';

/** The seed field: undefined when empty (the scenario's own `seed:`), null when it is not a seed. */
export function parseSeed(text: string): number | undefined | null {
  if (text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** Why Run cannot start now, in words for the button's description, or null. */
export function runBlocker(config: readonly Problem[] | null, scenario: readonly Problem[] | null, seed: number | undefined | null): string | null {
  const errors = (list: readonly Problem[] | null) => list?.filter((p) => p.severity === 'error').length ?? 0;
  const where = [
    [errors(config), 'the Envoy config'],
    [errors(scenario), 'the scenario'],
  ] as const;
  const found = where.filter(([n]) => n > 0).map(([n, what]) => `${n} error${n > 1 ? 's' : ''} in ${what}`);
  if (found.length) return `Fix ${found.join(' and ')} to run.`;
  if (seed === null) return "The seed must be a whole number of 0 or more (or empty for the scenario's own).";
  return null;
}

/** Which editor and position a worker's problem line (`error: file:line:col: path: message`) is about, or null for another file or none. */
export function locateRunProblem(line: string, names: { configName: string; scenarioName: string }): { editor: 'config' | 'scenario'; line: number; column: number } | null {
  const match = /^(?:error|warning): (.+?):(\d+):(\d+):/.exec(line);
  if (!match) return null;
  const editor = match[1] === names.configName ? 'config' : match[1] === names.scenarioName ? 'scenario' : null;
  return editor && { editor, line: Number(match[2]), column: Number(match[3]) };
}

export const severityOf = (line: string): Problem['severity'] => (line.startsWith('warning') ? 'warning' : 'error');
