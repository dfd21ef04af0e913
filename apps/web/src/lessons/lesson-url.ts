/**
 * The lesson in the address: `?lesson=4&step=2` opens lesson 4 at its second step (what an
 * instructor hands out; add `&presenter` for the projector), `?lessons` the list. Steps
 * count from 1 in the address, as the page shows them.
 */

export type LessonRequest = { kind: 'list' } | { kind: 'lesson'; lesson: string; step: number | null };

export function readLessonRequest(search: string): LessonRequest | null {
  const params = new URLSearchParams(search);
  const lesson = params.get('lesson');
  if (lesson) {
    const step = params.get('step');
    const n = step !== null && /^\d+$/.test(step) ? Number(step) : null;
    return { kind: 'lesson', lesson, step: n !== null && n >= 1 ? n - 1 : null };
  }
  if (params.has('lessons')) return { kind: 'list' };
  return null;
}

/** The address for `request` (null: no lesson), keeping the page's other parameters and its hash. */
export function lessonSearch(search: string, request: LessonRequest | null): string {
  const params = new URLSearchParams(search);
  params.delete('lesson');
  params.delete('step');
  params.delete('lessons');
  if (request?.kind === 'list') params.set('lessons', '');
  else if (request?.kind === 'lesson') {
    params.set('lesson', request.lesson);
    if (request.step !== null) params.set('step', String(request.step + 1));
  }
  // `?lessons=` and `?presenter=` read worse in a link than `?lessons`
  const query = params.toString().replace(/(^|&)(lessons|presenter)=(?=&|$)/g, '$1$2');
  return query ? `?${query}` : '';
}

export function writeLessonRequest(request: LessonRequest | null): void {
  const search = lessonSearch(window.location.search, request);
  if (search === window.location.search) return;
  history.replaceState(history.state, '', `${window.location.pathname}${search}${window.location.hash}`);
}
