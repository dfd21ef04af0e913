import { useCallback, useRef, useState } from 'react';
import type { TaskCheck as Task, TaskResult } from '@proxyscope/engine/lessons';
import type { InPageRun } from '../inpage/in-page-run';
import { YamlEditor } from '../playground/YamlEditor';
import { checkConfig, checkScenario, hasErrors, type Problem } from '../playground/diagnostics';
import type { LessonsModule } from './lessons-module';
import { CheckIcon, CrossIcon } from '../app/icons';
import type { TaskRequest } from './task-worker';

/** How long a check may take before the page gives up on it (a scenario made to run for hours). */
const TASK_TIMEOUT_MS = 60_000;

function checkInWorker(request: TaskRequest): Promise<TaskResult> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./task-worker.ts', import.meta.url), { type: 'module', name: 'proxyscope-task' });
    const done = (result: TaskResult) => {
      clearTimeout(timer);
      worker.terminate();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, problems: [`the run did not finish in ${TASK_TIMEOUT_MS / 1000} s: is the scenario's duration very long?`], expectations: [] }), TASK_TIMEOUT_MS);
    worker.onmessage = (e: MessageEvent<TaskResult>) => done(e.data);
    worker.onerror = (e) => done({ ok: false, problems: [`the check failed: ${e.message}`], expectations: [] });
    worker.postMessage(request);
  });
}

/** A task: edit the lesson's config (or scenario) here, then run it and see the task's expectations judged. */
export function TaskCheck({ check, run, onPass }: { module: LessonsModule; check: Task; run: InPageRun; onPass(): void }) {
  const editsConfig = check.edit === 'config';
  const original = editsConfig ? run.config : run.scenario;
  const fileName = editsConfig ? run.configName : run.scenarioName;
  const text = useRef(original);
  const [problems, setProblems] = useState<readonly Problem[] | null>(null);
  const [result, setResult] = useState<TaskResult | null>(null);
  const [running, setRunning] = useState(false);

  const verify = useCallback(() => {
    setRunning(true);
    setResult(null);
    const input = {
      configText: editsConfig ? text.current : run.config,
      configName: run.configName,
      scenarioText: editsConfig ? run.scenario : text.current,
      scenarioName: run.scenarioName,
      seed: run.seed ?? 1,
    };
    checkInWorker({ check, input }).then((r) => {
      setRunning(false);
      setResult(r);
      if (r.ok) onPass();
    });
  }, [check, editsConfig, run, onPass]);

  const blocked = problems !== null && hasErrors(problems);
  return (
    <div className="ps-lesson-task">
      <p className="ps-lesson-question">
        <strong>Task:</strong> {check.task}
      </p>
      <div className="ps-lesson-editor">
        <YamlEditor
          title={editsConfig ? 'Envoy config' : 'Scenario'}
          fileName={fileName}
          testId="lesson-task-editor"
          initialText={original}
          check={editsConfig ? checkConfig : checkScenario}
          onChange={(t) => {
            text.current = t;
            setResult(null);
          }}
          onProblems={setProblems}
        />
      </div>
      <div className="ps-lesson-actions">
        <button className="ps-btn primary" onClick={verify} disabled={running || blocked} data-testid="lesson-task-run" title={blocked ? 'Mend the errors marked in the editor first' : 'Run the scenario with your change and judge the task'}>
          {running ? 'Running…' : 'Check my change'}
        </button>
      </div>
      {result && (
        <div className={`ps-lesson-feedback ${result.ok ? 'right' : 'wrong'}`} data-testid="lesson-feedback" data-result={result.ok ? 'right' : 'wrong'} role="status">
          <p>{result.ok ? 'Done: the run does what the task asks.' : result.problems.length ? 'The changed files did not run:' : 'Not yet: the run does not do what the task asks.'}</p>
          {result.problems.length > 0 && (
            <ul className="mono">
              {result.problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
          {result.expectations.length > 0 && (
            <ul className="ps-lesson-expectations">
              {result.expectations.map((x) => (
                <li key={x.name} data-pass={x.pass ? '' : undefined}>
                  {x.pass ? <CheckIcon /> : <CrossIcon />} {x.name} <span className="ps-lesson-detail">{x.detail}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
