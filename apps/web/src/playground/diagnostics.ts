import type { Diagnostic } from '@codemirror/lint';
import type { Text } from '@codemirror/state';

/** One problem the engine's loader found in an editor's text, at its 1-based line and column. */
export interface Problem {
  line: number;
  column: number;
  severity: 'error' | 'warning';
  /** the field path, e.g. `static_resources.clusters[0].connect_timeout`; '' when there is none */
  path: string;
  message: string;
}

interface LoaderDiagnostic {
  line: number;
  column: number;
  path: string;
  message: string;
}

/** What a loader throws: ConfigError's shape, read structurally so the engine stays a lazy chunk. */
interface LoaderError {
  diagnostics: LoaderDiagnostic[];
  warnings: LoaderDiagnostic[];
}

// Dynamic imports: the loaders (zod schemas, Envoy's API tables) are a chunk of their own,
// fetched when the playground first checks a text, not with the page.
const configModule = () => import('@proxyscope/engine/config');
// the scenario loader alone: the simulation itself is not needed to check a scenario
const simModule = () => import('@proxyscope/engine/sim/scenario');

/** The config as `proxyscope simulate` would load it: its errors and warnings, in file order. */
export async function checkConfig(text: string, file: string): Promise<Problem[]> {
  const { loadBootstrap } = await configModule();
  return check(() => loadBootstrap(text, file).warnings);
}

/** The scenario as `proxyscope simulate` would load it. */
export async function checkScenario(text: string, file: string): Promise<Problem[]> {
  const { loadScenario } = await simModule();
  return check(() => loadScenario(text, file).warnings);
}

function check(load: () => LoaderDiagnostic[]): Problem[] {
  try {
    return load().map((w) => problem(w, 'warning'));
  } catch (e) {
    if (isLoaderError(e)) return sortProblems([...e.diagnostics.map((d) => problem(d, 'error')), ...e.warnings.map((w) => problem(w, 'warning'))]);
    // A loader that trips on its input is still a problem with that input, not a blank pane.
    return [{ line: 1, column: 1, severity: 'error', path: '', message: (e as Error).message ?? String(e) }];
  }
}

function isLoaderError(e: unknown): e is LoaderError {
  return e instanceof Error && e.name === 'ConfigError' && Array.isArray((e as Partial<LoaderError>).diagnostics) && Array.isArray((e as Partial<LoaderError>).warnings);
}

const problem = (d: LoaderDiagnostic, severity: Problem['severity']): Problem => ({ line: d.line, column: d.column, severity, path: d.path, message: d.message });

const sortProblems = (list: Problem[]) => list.sort((a, b) => a.line - b.line || a.column - b.column || (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));

export const hasErrors = (problems: readonly Problem[]) => problems.some((p) => p.severity === 'error');

/** How the list under an editor shows a problem: `line N: path: message`. */
export const describeProblem = (p: Problem) => `line ${p.line}: ${p.path ? `${p.path}: ` : ''}${p.message}`;

/** The document offset of a 1-based line and column, clamped to the document (the text may have changed since the check). */
export function offsetOf(doc: Text, line: number, column: number): number {
  const l = doc.line(Math.min(Math.max(1, Math.floor(line) || 1), doc.lines));
  return l.from + Math.min(Math.max(0, (Math.floor(column) || 1) - 1), l.length);
}

/**
 * CodeMirror diagnostics for `problems`: each underlines from its column to the end of its
 * line (a YAML value or key rarely spans lines), and never less than one character when the
 * line has one, so the marker can be seen and hovered.
 */
export function toCodeMirror(problems: readonly Problem[], doc: Text): Diagnostic[] {
  return problems.map((p) => {
    const from = offsetOf(doc, p.line, p.column);
    const line = doc.lineAt(from);
    const end = line.from + line.text.trimEnd().length;
    const to = end > from ? end : Math.min(from + 1, line.to);
    return { from, to, severity: p.severity, message: p.path ? `${p.path}: ${p.message}` : p.message, source: 'proxyscope' };
  });
}
