/** Lessons (docs/lessons.md): the format, its loader, the queries over a run's trace, and task checks. */
export { loadLesson, resolveLessonPath, type LoadLessonOptions } from './lesson';
export { findRunTo, answerFromTrace, judgeAnswer } from './evaluate';
export { runTask, type TaskInput, type TaskResult } from './task';
export { lessonRunProblems, type LessonRun } from './check-run';
export { topologyNodeId, topologyNodeIds } from './topology-nodes';
export {
  lessonSchema,
  MACHINE_STATES,
  PANELS,
  type Lesson,
  type LessonStep,
  type LessonCheck,
  type QuestionCheck,
  type TaskCheck,
  type Highlight,
  type Panel,
  type RunTo,
  type AnswerQuery,
} from './lesson-schema';
