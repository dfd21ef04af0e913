/**
 * The shipped lessons and every file they may name, bundled as text: a lesson opens with
 * nothing fetched and no server. Paths are the repository's (`lessons/04-canary-split/lesson.yaml`,
 * `scenarios/canary-split/envoy.yaml`), so `resolveLessonPath` and the diagnostics name
 * the files a reader can find in the repo.
 */

const BUNDLED = {
  ...import.meta.glob<string>('../../../../lessons/**/*.yaml', { query: '?raw', import: 'default', eager: true }),
  ...import.meta.glob<string>('../../../../scenarios/*/*.yaml', { query: '?raw', import: 'default', eager: true }),
};

const FILES = new Map(Object.entries(BUNDLED).map(([key, text]) => [key.replace(/^(\.\.\/)+/, ''), text]));

export interface LessonFile {
  /** the lesson's directory name, `04-canary-split`: what `?lesson=` names */
  dir: string;
  path: string;
  text: string;
}

/** In the order of their directory names, which are numbered. */
export const LESSON_FILES: readonly LessonFile[] = [...FILES.entries()]
  .filter(([path]) => /^lessons\/[^/]+\/lesson\.yaml$/.test(path))
  .map(([path, text]) => ({ dir: path.split('/')[1]!, path, text }))
  .sort((a, b) => a.dir.localeCompare(b.dir));

export function bundledFile(path: string): string | undefined {
  return FILES.get(path);
}

/**
 * `?lesson=` names a lesson by its number (`4`, `04`), its directory (`04-canary-split`) or
 * its directory without the number (`canary-split`).
 */
export function findLessonFile(name: string): LessonFile | undefined {
  const wanted = name.trim().toLowerCase();
  if (/^\d+$/.test(wanted)) {
    const n = Number(wanted);
    return LESSON_FILES.find((l) => Number(l.dir.split('-')[0]) === n) ?? LESSON_FILES[n - 1];
  }
  return LESSON_FILES.find((l) => l.dir === wanted || l.dir.replace(/^\d+-/, '') === wanted);
}
