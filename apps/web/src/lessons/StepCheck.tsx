import { useState } from 'react';
import type { TraceEvent } from '@proxyscope/protocol';
import type { InPageRun } from '../inpage/in-page-run';
import type { Lesson, LessonsModule, LessonStep } from './lessons-module';
import { Hint } from './Hint';
import { TaskCheck } from './TaskCheck';

type Check = NonNullable<LessonStep['check']>;
type Question = Extract<Check, { question: string }>;

interface Props {
  module: LessonsModule;
  check: Check;
  hint: string | undefined;
  /** the run's whole trace; null while it runs */
  events: readonly TraceEvent[] | null;
  reached: boolean;
  presenter: boolean;
  lesson: Lesson;
  run: InPageRun;
  onRight(): void;
}

/** A step's check: a question answered from the trace, or a task verified by running the scenario again. */
export function StepCheck(props: Props) {
  const { check } = props;
  if ('question' in check) return <QuestionCheck {...props} check={check} />;
  return (
    <div className="ps-lesson-check" data-testid="lesson-check" data-kind="task">
      <TaskCheck module={props.module} check={check} run={props.run} onPass={props.onRight} />
      {props.hint && <Hint text={props.hint} />}
    </div>
  );
}

function QuestionCheck({ module, check, hint, events, presenter, onRight }: Props & { check: Question }) {
  const [given, setGiven] = useState('');
  const [verdict, setVerdict] = useState<{ answer: string; right: boolean } | null>(null);
  const [wrongTries, setWrongTries] = useState(0);
  const [revealed, setRevealed] = useState(false);
  const answer = events ? module.answerFromTrace(check.answer, events) : undefined;

  const judge = (value: string | number) => {
    if (!events) return;
    const right = module.judgeAnswer(value, check.answer, events);
    setVerdict({ answer: String(value), right });
    if (right) onRight();
    else setWrongTries((n) => n + 1);
  };

  return (
    <div className="ps-lesson-check" data-testid="lesson-check" data-kind="question">
      <p className="ps-lesson-question">
        <strong>Check:</strong> {check.question}
      </p>
      {events === null ? (
        <p className="ps-lesson-status">The answer comes from the trace: it is ready when the run is.</p>
      ) : check.choices ? (
        <div className="ps-lesson-choices" role="group" aria-label="Answers">
          {check.choices.map((c) => (
            <button key={String(c)} className="ps-btn" onClick={() => judge(c)} data-testid="lesson-choice" aria-pressed={verdict?.answer === String(c)}>
              {String(c)}
            </button>
          ))}
        </div>
      ) : (
        <form
          className="ps-lesson-answer"
          onSubmit={(e) => {
            e.preventDefault();
            if (given.trim()) judge(given.trim());
          }}
        >
          <input className="ps-input" value={given} onChange={(e) => setGiven(e.target.value)} aria-label="Your answer" data-testid="lesson-answer" placeholder="your answer" />
          <button className="ps-btn" type="submit" disabled={!given.trim()} data-testid="lesson-submit">
            Check
          </button>
        </form>
      )}
      {verdict && (
        <p className={`ps-lesson-feedback ${verdict.right ? 'right' : 'wrong'}`} data-testid="lesson-feedback" data-result={verdict.right ? 'right' : 'wrong'} role="status">
          {verdict.right ? `Right: ${verdict.answer}.` : `Not quite: ${verdict.answer} is not what the trace says. Try again${hint ? ', or take the hint' : ''}.`}
        </p>
      )}
      {events !== null && !verdict?.right && (presenter || wrongTries > 0) && !revealed && (
        <button className="ps-btn" onClick={() => setRevealed(true)} data-testid="lesson-reveal">
          Show the answer
        </button>
      )}
      {revealed && answer !== undefined && (
        <p className="ps-lesson-feedback revealed" data-testid="lesson-revealed">
          The trace says: <strong>{String(answer)}</strong>
        </p>
      )}
      {hint && <Hint text={hint} />}
    </div>
  );
}
