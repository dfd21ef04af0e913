/** Lessons (docs/lessons.md): the format, its loader, and the queries over a run's trace. */
export { loadLesson, resolveLessonPath, type LoadLessonOptions } from './lesson';
export { findRunTo, answerFromTrace, judgeAnswer } from './evaluate';
export { lessonSchema, MACHINE_STATES, type Lesson, type LessonStep, type RunTo, type AnswerQuery } from './lesson-schema';
