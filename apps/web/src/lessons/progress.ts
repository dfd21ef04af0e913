/**
 * What a student has done, kept in this browser (localStorage): per lesson, the steps
 * finished (reached, and their check answered right or their task passed). Nothing leaves
 * the page. A store that cannot be read (private mode, a damaged value) starts empty.
 */

const KEY = 'proxyscope.lessons.v1';

export interface LessonProgress {
  /** 0-based indexes of the finished steps */
  done: number[];
  /** the step last open, to come back to */
  last: number;
}

type Saved = Record<string, LessonProgress>;

function read(): Saved {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return {};
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
    const out: Saved = {};
    for (const [id, p] of Object.entries(value as Record<string, unknown>)) {
      const entry = p as Partial<LessonProgress> | null;
      const done = Array.isArray(entry?.done) ? entry.done.filter((n): n is number => Number.isSafeInteger(n) && n >= 0) : [];
      const last = Number.isSafeInteger(entry?.last) && (entry!.last as number) >= 0 ? (entry!.last as number) : 0;
      out[id] = { done: [...new Set(done)].sort((a, b) => a - b), last };
    }
    return out;
  } catch {
    return {};
  }
}

function write(saved: Saved): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(saved));
  } catch {
    // private mode or a full store: progress lasts for this page only
  }
}

export function lessonProgress(id: string): LessonProgress {
  return read()[id] ?? { done: [], last: 0 };
}

export function allProgress(): Readonly<Saved> {
  return read();
}

export function markStepDone(id: string, step: number): LessonProgress {
  const saved = read();
  const p = saved[id] ?? { done: [], last: step };
  if (!p.done.includes(step)) p.done = [...p.done, step].sort((a, b) => a - b);
  saved[id] = p;
  write(saved);
  return p;
}

export function rememberStep(id: string, step: number): void {
  const saved = read();
  saved[id] = { done: saved[id]?.done ?? [], last: step };
  write(saved);
}

export function forgetLesson(id: string): void {
  const saved = read();
  delete saved[id];
  write(saved);
}
