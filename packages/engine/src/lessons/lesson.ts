/**
 * Load a lesson file (docs/lessons.md): YAML with source positions, then `lessonSchema`;
 * every error at its file, line and field path. Browser-safe: whether the config and
 * scenario files exist is asked of `exists`, given by the caller that can see files.
 */
import type { ConfigDiagnostic } from '../config/types';
import { ConfigError, parseYaml } from '../config/yaml-source';
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

export function loadLesson(text: string, file: string, options: LoadLessonOptions = {}): Lesson {
  const source = parseYaml(text, file);
  const result = lessonSchema.safeParse(source.doc.toJS());
  const errors: ConfigDiagnostic[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const unknown = issue.code === 'unrecognized_keys';
      if (unknown) for (const key of issue.keys) errors.push(source.diagnostic([...issue.path, key], `unknown field '${key}'`, 'key'));
      else errors.push(source.diagnostic(issue.path, issue.message));
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
