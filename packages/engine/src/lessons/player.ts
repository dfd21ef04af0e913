/**
 * What a page that plays lessons needs: the loader and the queries over a run's trace, and
 * not `runTask` (it brings the whole simulation; a task check runs in a worker of its own).
 */
export { loadLesson, resolveLessonPath, type LoadLessonOptions } from './lesson';
export { findRunTo, answerFromTrace, judgeAnswer } from './evaluate';
export { ConfigError, formatDiagnostic } from '../config/yaml-source';
export type { Lesson, LessonStep, RunTo, AnswerQuery, TaskCheck } from './lesson-schema';
