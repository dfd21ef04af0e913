import { useEffect, useState } from 'react';

/**
 * The engine's lesson loader and trace queries, fetched when a lesson first opens: they
 * bring the machine definitions and zod, which the page does not need otherwise.
 */
export type LessonsModule = typeof import('@proxyscope/engine/lessons/player');
export type { Lesson, LessonStep } from '@proxyscope/engine/lessons/player';

type State = { status: 'loading' } | { status: 'ready'; module: LessonsModule } | { status: 'failed'; message: string };

let loading: Promise<LessonsModule> | null = null;

export function useLessonsModule(): State {
  const [state, setState] = useState<State>({ status: 'loading' });
  useEffect(() => {
    let live = true;
    loading ??= import('@proxyscope/engine/lessons/player');
    loading.then(
      (module) => live && setState({ status: 'ready', module }),
      (err: Error) => {
        loading = null;
        if (live) setState({ status: 'failed', message: err.message });
      },
    );
    return () => {
      live = false;
    };
  }, []);
  return state;
}
