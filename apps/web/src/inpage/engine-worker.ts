/// <reference lib="webworker" />
import type { FromWorker, ToWorker } from './in-page-run';
import { RunLoadError, startInPageEngine, type InPageEngine } from './run-core';

/** The in-page engine's worker: one run, started by the page's `start`; its viewers' streams are messages. */
const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (message: FromWorker): void => scope.postMessage(message);
let engine: InPageEngine | undefined;
/** messages that came while the run was starting */
const early: ToWorker[] = [];
let starting = false;

function handle(message: ToWorker): void {
  if (!engine) {
    early.push(message);
    return;
  }
  switch (message.type) {
    case 'connect':
      return engine.connect(message.socket);
    case 'message':
      return engine.message(message.socket, message.text);
    case 'read':
      return engine.read(message.socket, message.bytes);
    case 'disconnect':
      return engine.disconnect(message.socket);
    case 'start':
      return;
  }
}

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const message = e.data;
  if (message.type !== 'start') return handle(message);
  if (starting) return;
  starting = true;
  startInPageEngine(message.run, post).then(
    (started) => {
      engine = started;
      post({ type: 'ready' });
      for (const m of early.splice(0)) handle(m);
    },
    (err: unknown) => post({ type: 'problems', problems: err instanceof RunLoadError ? err.problems : [`error: ${(err as Error).message}`] }),
  );
};
