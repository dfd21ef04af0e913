/**
 * Load a lesson file (docs/lessons.md): YAML with source positions, then `lessonSchema`;
 * every error at its file, line and field path. Browser-safe: whether the config and
 * scenario files exist is asked of `exists`, given by the caller that can see files.
 */
import type { z } from 'zod';
import type { ConfigDiagnostic } from '../config/types';
import { ConfigError, parseYaml } from '../config/yaml-source';
import { isAboutKey } from '../sim/scenario-schema';
import { type Lesson, lessonSchema } from './lesson-schema';

export interface LoadLessonOptions {
  /** whether a path (resolved against the lesson file) exists; absent: not checked */
  exists?: (resolvedPath: string) => boolean;
}

/** `ref` relative to the directory of `file`, with `.` and `..` folded, `/`-separated. */
export function resolveLessonPath(file: string, ref: string): string {
  const parts = ref.startsWith('/') ? [] : file.split('/').slice(0, -1);
  for (const part of ref.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.' && part !== '') parts.push(part);
  }
  return (file.startsWith('/') || ref.startsWith('/') ? '/' : '') + parts.filter((p) => p !== '').join('/');
}

type Issue = z.core.$ZodIssue;

/** How far a union branch is from fitting: its unknown keys and missing fields. */
const misfit = (branch: Issue[]) => branch.filter((i) => i.code === 'unrecognized_keys' || (i.code === 'invalid_type' && i.input === undefined)).length;

/**
 * A union's "Invalid input" says nothing a user can act on. Report instead the issues of
 * the form the value was meant to be (the branch it fits best: fewest unknown keys and
 * missing fields), so `highlight: { panel: trace }` says which panels there are.
 */
function flatten(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
  const best = [...issue.errors].sort((a, b) => misfit(a) - misfit(b) || a.length - b.length)[0]!;
  if (misfit(best) > 0 && issue.errors.filter((b) => misfit(b) === misfit(best)).length > 1) return [issue];
  return best.flatMap((i) => flatten({ ...i, path: [...issue.path, ...i.path] } as Issue));
}

export function loadLesson(text: string, file: string, options: LoadLessonOptions = {}): Lesson {
  const source = parseYaml(text, file);
  const result = lessonSchema.safeParse(source.doc.toJS());
  const errors: ConfigDiagnostic[] = [];
  if (!result.success) {
    for (const issue of result.error.issues.flatMap(flatten)) {
      const unknown = issue.code === 'unrecognized_keys';
      if (unknown) for (const key of issue.keys) errors.push(source.diagnostic([...issue.path, key], `unknown field '${key}'`, 'key'));
      else errors.push(source.diagnostic(issue.path, issue.message, isAboutKey(issue) ? 'key' : 'value'));
    }
  } else if (options.exists) {
    for (const field of ['config', 'scenario'] as const) {
      const resolved = resolveLessonPath(file, result.data[field]);
      if (!options.exists(resolved)) errors.push(source.diagnostic([field], `${field} file '${result.data[field]}' not found (looked for ${resolved})`));
    }
  }
  if (errors.length) throw new ConfigError(errors.sort((a, b) => a.line - b.line || a.column - b.column), []);
  return result.data!;
}
