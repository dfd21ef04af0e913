import { useEffect, useState } from 'react';
import { decodePermalink, PermalinkError, playgroundRequest, type PlaygroundLink } from '../playground/permalink';
import { readLessonRequest, type LessonRequest } from '../lessons/lesson-url';
import type { ServerConnection } from '../model/types';
import type { ConnectionState } from '../net/live-connection';

/**
 * The workbench: the column left of the map where the playground or a lesson lives. The
 * address says which opens (`?playground[=<link>]`, `?lesson=N&step=K`, `?lessons`); both run
 * the engine in this page.
 */
export type Bench = { kind: 'playground' } | LessonRequest;

export interface OpenedBench {
  bench: Bench | null;
  /** the permalink the page opened with, decoded */
  link: PlaygroundLink | null;
  /** why the permalink in the address could not be read */
  linkProblem: string | null;
}

export function readBench(search: string): OpenedBench {
  const playground = playgroundRequest(search);
  if (playground.open) {
    if (playground.payload === null) return { bench: { kind: 'playground' }, link: null, linkProblem: null };
    try {
      return { bench: { kind: 'playground' }, link: decodePermalink(playground.payload), linkProblem: null };
    } catch (e) {
      if (!(e instanceof PermalinkError)) throw e;
      return { bench: { kind: 'playground' }, link: null, linkProblem: e.message };
    }
  }
  return { bench: readLessonRequest(search), link: null, linkProblem: null };
}

/** Whether the run in this page has finished: from hello, then from each `clock` message of this connection. */
export function useRunFinished(connection: ServerConnection | null, state: ConnectionState | null): boolean {
  const [finished, setFinished] = useState<{ of: ServerConnection | null; done: boolean }>({ of: null, done: false });
  const fromHello = state?.status === 'open' && state.hello.simulation?.clock.finished === true;
  useEffect(() => {
    if (!connection) return;
    if (connection.lastClock?.finished) setFinished({ of: connection, done: true });
    return connection.on('clock', (m) => {
      if (m.finished) setFinished({ of: connection, done: true });
    });
  }, [connection]);
  return connection !== null && (fromHello || (finished.of === connection && finished.done));
}
