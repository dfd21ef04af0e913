import { useCallback, useEffect, useMemo, useState } from 'react';
import type { TraceEvent } from '@proxyscope/protocol';
import type { EventStoreImpl } from '../model/event-store';
import type { ServerConnection } from '../model/types';
import { PHASE_DWELL_MS, SPEEDS, type TimeControl } from '../app/time-control';
import type { InPageRun } from '../inpage/in-page-run';
import { SPAWN, STOP, TRANSITION } from '../model/columns';
import { bundledFile, findLessonFile, LESSON_FILES, type LessonFile } from './catalog';
import type { LessonRequest } from './lesson-url';
import { lessonProgress, markStepDone, rememberStep, type LessonProgress } from './progress';
import { Narration } from './Narration';
import { StepCheck } from './StepCheck';
import { Hint } from './Hint';
import { ArrowLeftIcon, ArrowRightIcon, CheckIcon, CrossIcon } from '../app/icons';
import { useLessonsModule, type Lesson, type LessonsModule, type LessonStep } from './lessons-module';
import './lessons.css';

/**
 * The lesson player. A lesson's scenario runs in this page at full speed, so its whole
 * trace is here in a second or two; each step is then a span of that trace, from where the
 * step before stopped to the step's own `run_to`. "Show me" plays that span on the map,
 * "Reset step" puts the cursor back at its start. Checks are answered from the same trace.
 */

/** What the page should point at for the current step. */
export interface LessonFocus {
  highlight: LessonStep['highlight'];
  /** the request the step's target event belongs to: selected, so the machines tab shows it */
  stream: number | null;
}

export interface LessonPaneProps {
  request: LessonRequest;
  onNavigate(request: LessonRequest | null): void;
  store: EventStoreImpl;
  version: number;
  time: TimeControl;
  connection: ServerConnection | null;
  /** whether the in-page run has finished (the simulation clock said so) */
  runFinished: boolean;
  startRun(run: InPageRun): void;
  presenter: boolean;
  onFocus(focus: LessonFocus | null): void;
}

export function LessonPane(props: LessonPaneProps) {
  const lessons = useLessonsModule();
  if (lessons.status === 'loading') return <div className="ps-lesson ps-empty">Loading the lessons…</div>;
  if (lessons.status === 'failed') return <div className="ps-lesson ps-banner error" role="alert">The lessons did not load: {lessons.message}</div>;
  if (props.request.kind === 'list') return <LessonList module={lessons.module} onOpen={(dir) => props.onNavigate({ kind: 'lesson', lesson: dir, step: null })} onClose={() => props.onNavigate(null)} />;
  const file = findLessonFile(props.request.lesson);
  if (!file)
    return (
      <div className="ps-lesson" data-testid="lesson-pane">
        <div className="ps-banner error" role="alert">
          There is no lesson “{props.request.lesson}”. <button className="ps-btn" onClick={() => props.onNavigate({ kind: 'list' })}>See the lessons</button>
        </div>
      </div>
    );
  return <LessonPlayer {...props} module={lessons.module} file={file} step={props.request.step} />;
}

type Loaded = { ok: true; lesson: Lesson; run: InPageRun } | { ok: false; problems: string[] };

function loadLessonFile(module: LessonsModule, file: LessonFile): Loaded {
  try {
    const lesson = module.loadLesson(file.text, file.path, { exists: (p) => bundledFile(p) !== undefined });
    const configName = module.resolveLessonPath(file.path, lesson.config);
    const scenarioName = module.resolveLessonPath(file.path, lesson.scenario);
    // loadLesson checked both exist
    const run: InPageRun = { config: bundledFile(configName)!, configName, scenario: bundledFile(scenarioName)!, scenarioName, seed: lesson.seed, speed: 'max', paused: false };
    return { ok: true, lesson, run };
  } catch (e) {
    return { ok: false, problems: e instanceof module.ConfigError ? e.diagnostics.map(module.formatDiagnostic) : [(e as Error).message] };
  }
}

function LessonList({ module, onOpen, onClose }: { module: LessonsModule; onOpen(dir: string): void; onClose(): void }) {
  const progress = useMemo(() => LESSON_FILES.map((f) => ({ file: f, loaded: loadLessonFile(module, f) })), [module]);
  return (
    <div className="ps-lesson" data-testid="lesson-list">
      <div className="ps-lesson-head">
        <h2>Lessons</h2>
        <button className="ps-btn" onClick={onClose} aria-label="Close the lessons">
          Close
        </button>
      </div>
      <p className="ps-lesson-intro">Envoy's request path, one piece at a time. Each lesson runs a scenario in this page and stops where there is something to see.</p>
      <ol className="ps-lesson-items">
        {progress.map(({ file, loaded }, n) => {
          const id = loaded.ok ? loaded.lesson.id : file.dir;
          const p = lessonProgress(id);
          const total = loaded.ok ? loaded.lesson.steps.length : 0;
          return (
            <li key={file.dir}>
              <button className="ps-lesson-item" onClick={() => onOpen(file.dir)} data-testid="lesson-item" data-lesson={file.dir}>
                <span className="ps-lesson-item-title">
                  {n + 1}. {loaded.ok ? loaded.lesson.title : file.dir}
                </span>
                <span className="ps-lesson-item-sub">{loaded.ok ? loaded.lesson.summary : 'does not load: open it to see why'}</span>
                {total > 0 && (
                  <span className="ps-lesson-item-progress" aria-label={`${p.done.length} of ${total} steps done`}>
                    {p.done.length >= total ? <><CheckIcon /> done</> : `${p.done.length}/${total}`}
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ol>
    </div>
  );
}

const isStateChange = (kind: number) => kind === TRANSITION || kind === SPAWN || kind === STOP;
/** "Show me" lasts about this long, whatever the span */
const SHOW_ME_MS = 10_000;

function LessonPlayer({ module, file, step: requestedStep, onNavigate, store, version, time, connection, runFinished, startRun, presenter, onFocus }: LessonPaneProps & { module: LessonsModule; file: LessonFile; step: number | null }) {
  const loaded = useMemo(() => loadLessonFile(module, file), [module, file]);
  const lesson = loaded.ok ? loaded.lesson : null;
  const [progress, setProgress] = useState<LessonProgress>(() => lessonProgress(lesson?.id ?? file.dir));
  const step = Math.min(requestedStep ?? progress.last, (lesson?.steps.length ?? 1) - 1);

  // The lesson's run: started once per lesson. Until its connection replaces the one before
  // it, the store is still the last run's (another lesson's, the demo), not this one's.
  const [runOf, setRunOf] = useState<{ file: LessonFile; before: ServerConnection | null } | null>(null);
  useEffect(() => {
    if (!loaded.ok) return;
    setRunOf({ file, before: connection });
    startRun(loaded.run);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [loaded, startRun]);
  const ours = runOf !== null && runOf.file === file && connection !== runOf.before;
  useEffect(() => {
    if (lesson) {
      rememberStep(lesson.id, step);
      setProgress(lessonProgress(lesson.id));
    }
  }, [lesson, step]);

  // The whole trace, once the run is over: the steps' targets and the checks' answers.
  const length = store.length;
  const events = useMemo<TraceEvent[] | null>(() => {
    if (!runFinished || !ours) return null;
    const out: TraceEvent[] = new Array(length);
    for (let i = 0; i < length; i++) out[i] = store.get(i);
    return out;
  }, [store, length, runFinished, ours]);
  const targets = useMemo(() => (lesson && events ? lesson.steps.map((s) => module.findRunTo(s.run_to, events)) : null), [lesson, events, module]);
  const targetIndex = (k: number): number | null => {
    const t = targets?.[k];
    return t ? store.indexAtOrBefore(t.seq) : null;
  };
  const startIndex = (k: number): number => (k === 0 ? 0 : (targetIndex(k - 1) ?? 0));
  const target = targetIndex(step);
  const start = startIndex(step);
  const ready = targets !== null;

  // Entering a step (or the run becoming ready) puts the cursor at the step's start.
  const { seek, playTo, setPacing, setSpeed } = time;
  useEffect(() => {
    if (ready) seek(start);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ready, step, file.dir]);

  useEffect(() => {
    if (!lesson) return onFocus(null);
    const s = lesson.steps[step]!;
    const stream = target !== null ? store.streamAt(target) : -1;
    // a pool's or a host's event belongs to no request
    onFocus({ highlight: s.highlight, stream: stream >= 0 ? stream : null });
  }, [lesson, step, target, store, onFocus]);
  useEffect(() => () => onFocus(null), [onFocus]);

  const reached = target !== null && time.cursor >= target;
  const current = lesson?.steps[step];
  const [answered, setAnswered] = useState<Record<number, boolean>>({});
  useEffect(() => setAnswered({}), [file.dir]);
  const needsCheck = current?.check !== undefined;
  const stepDone = reached && (!needsCheck || answered[step] === true);
  useEffect(() => {
    if (lesson && stepDone) setProgress(markStepDone(lesson.id, step));
  }, [lesson, step, stepDone]);

  const showMe = useCallback(() => {
    if (target === null) return;
    let changes = 0;
    for (let i = start + 1; i <= target; i++) if (isStateChange(store.kindAt(i))) changes++;
    // By phase each state change stays on screen 450 ms / speed: pick the speed that plays
    // the span in about SHOW_ME_MS; a long span plays by the clock instead.
    const byPhase = [1, 2, 5, 10].find((s) => (changes * PHASE_DWELL_MS) / s <= SHOW_ME_MS);
    const span = store.tAt(target) - store.tAt(Math.max(0, start));
    const byTime = SPEEDS.find((s) => span / s <= SHOW_ME_MS) ?? SPEEDS[SPEEDS.length - 1];
    setPacing(byPhase !== undefined ? 'phase' : 'time');
    setSpeed(byPhase ?? byTime);
    // from where a paused "Show me" stopped, else from the step's start (the updates queue in order)
    if (time.cursor < start || time.cursor >= target) seek(start);
    playTo(target);
  }, [target, start, store, setPacing, setSpeed, seek, playTo, time.cursor]);

  const resetStep = useCallback(() => {
    seek(start);
    setAnswered((a) => ({ ...a, [step]: false }));
  }, [seek, start, step]);

  if (!loaded.ok)
    return (
      <div className="ps-lesson" data-testid="lesson-pane">
        <div className="ps-lesson-head">
          <h2>{file.dir}</h2>
          <button className="ps-btn" onClick={() => onNavigate({ kind: 'list' })}>
            All lessons
          </button>
        </div>
        <div className="ps-banner error" role="alert" data-testid="lesson-problems">
          <div>
            <strong>This lesson does not load.</strong>
            {loaded.problems.map((p) => (
              <div key={p} className="mono">
                {p}
              </div>
            ))}
          </div>
        </div>
      </div>
    );
  const l = loaded.lesson;
  const s = l.steps[step]!;
  const go = (k: number) => onNavigate({ kind: 'lesson', lesson: file.dir, step: k });
  const last = step === l.steps.length - 1;
  const next = LESSON_FILES[LESSON_FILES.indexOf(file) + 1];
  const allDone = progress.done.length >= l.steps.length;
  const status = !ready ? 'running the lesson’s scenario in this page…' : target === null ? 'this step’s stop is not in the trace' : reached ? `here: t = ${store.tAt(target).toFixed(1)} ms` : time.playing ? 'playing…' : 'press Show me to play to this step';
  void version;

  return (
    <div className={presenter ? 'ps-lesson ps-lesson-presenter' : 'ps-lesson'} data-testid="lesson-pane" data-lesson={file.dir} data-step={step + 1} data-reached={reached ? '' : undefined}>
      <header className="ps-lesson-top">
      <div className="ps-lesson-head">
        <button className="ps-btn ps-btn-quiet" onClick={() => onNavigate({ kind: 'list' })} data-testid="lesson-all">
          <ArrowLeftIcon /> All lessons
        </button>
        <span className="ps-lesson-number">Lesson {LESSON_FILES.indexOf(file) + 1} of {LESSON_FILES.length}</span>
        {!presenter && (
          <button className="ps-btn ps-btn-quiet" onClick={() => onNavigate(null)} aria-label="Close the lesson" title="Close the lesson">
            <CrossIcon />
          </button>
        )}
      </div>
      <h2 className="ps-lesson-title" data-testid="lesson-title" title={l.summary}>
        {l.title}
      </h2>
      <nav className="ps-lesson-steps" aria-label="Steps">
        {l.steps.map((_, k) => (
          <button key={k} className="ps-lesson-dot" aria-current={k === step ? 'step' : undefined} data-done={progress.done.includes(k) ? '' : undefined} onClick={() => go(k)} aria-label={`Step ${k + 1}${progress.done.includes(k) ? ' (done)' : ''}`}>
            {progress.done.includes(k) ? <CheckIcon /> : k + 1}
          </button>
        ))}
        <span className="ps-lesson-step" data-testid="lesson-step">
          Step {step + 1} of {l.steps.length}
        </span>
      </nav>
      </header>
      <div className="ps-lesson-body">
        <div className="ps-lesson-text">
          <Narration text={s.narration} />
          <div className="ps-lesson-envoy" data-testid="lesson-envoy" title="The Envoy function this step mirrors">
            Envoy: <code>{s.envoy}</code>
          </div>
        </div>
        <div className="ps-lesson-work">
        <div className="ps-lesson-actions">
          <button className="ps-btn primary" onClick={showMe} disabled={target === null} data-testid="lesson-show-me" title="Play the trace to where this step stops">
            Show me
          </button>
          <button className="ps-btn" onClick={resetStep} disabled={!ready} data-testid="lesson-reset" title="Back to the start of this step">
            Reset step
          </button>
          <span className="ps-lesson-status" data-testid="lesson-status" role="status">
            {status}
          </span>
        </div>
        {s.check && (
          <StepCheck
            key={`${file.dir}/${step}`}
            module={module}
            check={s.check}
            hint={s.hint}
            events={events}
            reached={reached}
            presenter={presenter}
            lesson={l}
            run={loaded.run}
            onRight={() => setAnswered((a) => ({ ...a, [step]: true }))}
          />
        )}
        {!s.check && s.hint && <Hint text={s.hint} />}
        </div>
      </div>
      <div className="ps-lesson-foot">
        <button className="ps-btn" onClick={() => go(step - 1)} disabled={step === 0} data-testid="lesson-prev">
          <ArrowLeftIcon /> Previous
        </button>
        {last ? (
          allDone ? (
            <span className="ps-lesson-complete" data-testid="lesson-complete">
              Lesson done.{' '}
              {next && (
                <button className="ps-btn primary" onClick={() => onNavigate({ kind: 'lesson', lesson: next.dir, step: 0 })}>
                  Next lesson <ArrowRightIcon />
                </button>
              )}
            </span>
          ) : (
            <span className="ps-lesson-status">{stepDone ? '' : 'the last step'}</span>
          )
        ) : (
          <button className={stepDone ? 'ps-btn primary' : 'ps-btn'} onClick={() => go(step + 1)} data-testid="lesson-next">
            Next <ArrowRightIcon />
          </button>
        )}
      </div>
    </div>
  );
}
