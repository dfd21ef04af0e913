/**
 * Whether a lesson holds together with the run of its scenario: every step's `run_to` is
 * reached, in order, and every question has an answer in the trace (one of its `choices`,
 * and its `correct`, when given). The problems are placed at the lesson's own lines, like
 * its load errors, for `proxyscope validate --lesson` and for the page that plays it.
 */
import type { TraceEvent } from '@proxyscope/protocol';
import type { ConfigDiagnostic } from '../config/types';
import { parseYaml } from '../config/yaml-source';
import type { RequestFilter } from '../sim/scenario-types';
import { answerFromTrace, findRunTo, judgeAnswer } from './evaluate';
import type { Lesson } from './lesson-schema';

export interface LessonRun {
  /** the lesson file's text and name, for the lines of the problems */
  text: string;
  file: string;
  lesson: Lesson;
  /** the trace of the lesson's scenario run with its seed */
  events: readonly TraceEvent[];
  /** the scenario's traffic source names, which a task's expectations may filter on */
  sources: readonly string[];
  /** the topology's node ids (`topologyNodeIds`), to check `{node}` highlights; absent: not checked */
  nodes?: ReadonlySet<string>;
}

export function lessonRunProblems({ text, file, lesson, events, sources, nodes }: LessonRun): ConfigDiagnostic[] {
  const source = parseYaml(text, file);
  const problems: ConfigDiagnostic[] = [];
  let last: { seq: number; step: number } | undefined;
  for (const [i, step] of lesson.steps.entries()) {
    const at = findRunTo(step.run_to, events);
    if (!at) problems.push(source.diagnostic(['steps', i, 'run_to'], 'never reached in the run of the lesson\'s scenario with its seed'));
    else if (last && at.seq < last.seq) problems.push(source.diagnostic(['steps', i, 'run_to'], `reached before step ${last.step}'s run_to (event ${at.seq}, before ${last.seq}): steps must follow the run`));
    if (at) last = { seq: at.seq, step: i + 1 };
    if (nodes && 'node' in step.highlight && !nodes.has(step.highlight.node)) {
      problems.push(source.diagnostic(['steps', i, 'highlight', 'node'], `no topology node '${step.highlight.node}' in the lesson's config (ids look like listener:NAME, route:ROUTE_CONFIG/VHOST/ROUTE, cluster:NAME, host:CLUSTER/IP:PORT)`));
    }
    const check = step.check;
    if (check && 'question' in check) {
      const answer = answerFromTrace(check.answer, events);
      if (answer === undefined) problems.push(source.diagnostic(['steps', i, 'check', 'answer'], 'the trace has no answer to this query'));
      else {
        if (check.choices && !check.choices.map(String).includes(String(answer))) problems.push(source.diagnostic(['steps', i, 'check', 'choices'], `the trace's answer ${JSON.stringify(answer)} is not among the choices`));
        if (check.correct !== undefined && !judgeAnswer(check.correct, check.answer, events)) problems.push(source.diagnostic(['steps', i, 'check', 'correct'], `the trace's answer is ${JSON.stringify(answer)}`));
      }
    }
    if (check && 'task' in check) {
      check.expect.forEach(({ expectation: e }, j) => {
        const filters = ('where' in e ? [e.where, ...('of' in e ? [e.of] : [])] : []).filter((f): f is RequestFilter => f !== undefined);
        for (const f of filters) {
          if (f.source !== undefined && !sources.includes(f.source)) problems.push(source.diagnostic(['steps', i, 'check', 'expect', j], `source '${f.source}' is not a traffic source of the scenario (it has ${sources.join(', ')})`));
        }
      });
    }
  }
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}
