/// <reference lib="webworker" />
import { runTask, type TaskCheck, type TaskInput, type TaskResult } from '@proxyscope/engine/lessons';

/**
 * One task check: the edited files run to the end, off the page's thread so the page stays
 * responsive, and the task's expectations are judged as `proxyscope simulate` judges them.
 */
export interface TaskRequest {
  check: TaskCheck;
  input: TaskInput;
}

const scope = self as unknown as DedicatedWorkerGlobalScope;
scope.onmessage = (e: MessageEvent<TaskRequest>) => {
  runTask(e.data.check, e.data.input).then(
    (result) => scope.postMessage(result),
    (err: Error) => scope.postMessage({ ok: false, problems: [`the check failed: ${err.message}`], expectations: [] } satisfies TaskResult),
  );
};
