/**
 * The lesson format (docs/lessons.md) as zod schemas. Strict like scenarios: an unknown key
 * is an error, since a typo'd `run-to` silently ignored would make a step stop nowhere.
 * Checks are data (queries over the trace), never code: nothing in a lesson is executed.
 */
import { z } from 'zod';
import type { StateMachineKind } from '@proxyscope/protocol';
import { MACHINES, stateNames } from '../machines';
import { describeIssue, isAboutKey, scenarioSchema } from '../sim/scenario-schema';
import type { LabelledExpectation } from '../sim/scenario-types';

/**
 * Each machine kind's states, read from the engine's own definitions (the registry the web
 * UI draws its charts from), so a lesson can only stop at a state the engine really has.
 */
export const MACHINE_STATES = {} as Record<StateMachineKind, readonly string[]>;
// MACHINES has an entry for every kind (machines.ts checks it), so every key is filled.
for (const { kind, machine } of MACHINES) MACHINE_STATES[kind] = stateNames(machine);

const machine = z.string().superRefine((m: string, ctx) => {
  if (!(m in MACHINE_STATES)) ctx.addIssue({ code: 'custom', message: `unknown machine '${m}': expected one of ${Object.keys(MACHINE_STATES).join(', ')}` });
});

/** A machine and one of its states; the state is checked against that machine's list. */
function machineState<S extends z.core.$ZodLooseShape>(extra: S) {
  return z.strictObject({ machine, state: z.string(), ...extra }).superRefine((value, ctx) => {
    const v = value as { machine: string; state: string };
    const states = MACHINE_STATES[v.machine as StateMachineKind];
    if (states && !states.includes(v.state)) ctx.addIssue({ code: 'custom', path: ['state'], message: `machine '${v.machine}' has no state '${v.state}': expected one of ${states.join(', ')}` });
  });
}

const positive = z.number().int().positive();

export const runToSchema = z.union([
  machineState({ request: positive }),
  machineState({}),
  z.strictObject({ time_ms: z.number().nonnegative() }),
]);

export const answerQuerySchema = z.union([
  z.strictObject({ host_of_attempt: z.strictObject({ request: positive, attempt: positive }) }),
  z.strictObject({ attempts_of: z.strictObject({ request: positive }) }),
  z.strictObject({ response_code_of: z.strictObject({ request: positive }) }),
  z.strictObject({ response_flags_of: z.strictObject({ request: positive }) }),
  z.strictObject({ cluster_of: z.strictObject({ request: positive }) }),
  z.strictObject({ route_of: z.strictObject({ request: positive }) }),
  z.strictObject({ count_requests: z.strictObject({ response_flags: z.string().optional(), status: z.number().int().optional(), cluster: z.string().optional() }) }),
  z.strictObject({ count_facts: z.strictObject({ fact: z.string(), request: positive.optional(), decision: z.string().optional(), where: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional() }) }),
  z.strictObject({ virtual_host_of: z.strictObject({ request: positive }) }),
  z.strictObject({ routes_failed_of: z.strictObject({ request: positive }) }),
  z.strictObject({ route_failed_on: z.strictObject({ request: positive, route: z.string().min(1) }) }),
  z.strictObject({ filter_chain_of: z.strictObject({ request: positive }) }),
]);

/**
 * A stand-in scenario around a task's `expect`, so the list is checked by the scenario
 * format's own expectation schema (the same syntax, defaults and messages as a scenario's
 * `expect:`). Whether a filter's `source` names a traffic source can only be known against
 * the lesson's real scenario: the stand-in has every source the list names, and `runTask`
 * checks them against the scenario the user runs.
 */
const standInSource = (name: string) => ({ name, burst: { count: 1 }, mix: [{ authority: 'lesson.invalid' }] });

/** Every `source` a filter of `list` names, so that the stand-in scenario has them all. */
function sourcesNamed(list: unknown[]): string[] {
  const names = new Set<string>(['lesson-task']);
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  for (const item of list) {
    for (const body of isObj(item) ? Object.values(item) : []) {
      for (const filter of isObj(body) ? [body.where, body.of] : []) if (isObj(filter) && typeof filter.source === 'string') names.add(filter.source);
    }
  }
  return [...names];
}

const taskExpect = z
  .array(z.unknown())
  .min(1)
  .transform((list, ctx): LabelledExpectation[] => {
    const standIn = { name: 'lesson-task', duration: '1s', traffic: sourcesNamed(list).map(standInSource), expect: list };
    const parsed = scenarioSchema.safeParse(standIn, { error: describeIssue });
    if (parsed.success) return parsed.data.expect;
    for (const issue of parsed.error.issues) {
      if (issue.path[0] !== 'expect') continue;
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path.slice(1) as PropertyKey[], ...(isAboutKey(issue) && { params: { at: 'key' } }) });
    }
    return z.NEVER;
  });

const scalarAnswer = z.union([z.string(), z.number()]);

const checkSchema = z.union([
  z.strictObject({ question: z.string().min(1), answer: answerQuerySchema, choices: z.array(scalarAnswer).min(2).optional(), correct: scalarAnswer.optional() }),
  z.strictObject({ task: z.string().min(1), edit: z.enum(['config', 'scenario']), expect: taskExpect }),
]);

/** The web UI's panels, as its layout names them. */
export const PANELS = ['topology', 'timeline', 'requests', 'request', 'machines', 'stats', 'step', 'controls'] as const;

const highlightSchema = z.union([
  z.strictObject({ node: z.string().min(1) }),
  machineState({}),
  z.strictObject({ panel: z.enum(PANELS) }),
]);

export const stepSchema = z.strictObject({
  narration: z.string().min(1),
  envoy: z.string().regex(/^[A-Za-z_][\w:~]*$/, 'expected an Envoy function name such as Router::Filter::doRetry'),
  run_to: runToSchema,
  highlight: highlightSchema,
  check: checkSchema.optional(),
  hint: z.string().optional(),
});

export const lessonSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/, 'expected lower-case letters, digits and dashes'),
  title: z.string().min(1),
  summary: z.string().min(1),
  config: z.string().min(1),
  scenario: z.string().min(1),
  seed: z.number().int(),
  steps: z.array(stepSchema).min(1),
});

export type Lesson = z.output<typeof lessonSchema>;
export type LessonStep = z.output<typeof stepSchema>;
export type RunTo = z.output<typeof runToSchema>;
export type AnswerQuery = z.output<typeof answerQuerySchema>;
export type LessonCheck = z.output<typeof checkSchema>;
export type QuestionCheck = Extract<LessonCheck, { question: string }>;
export type TaskCheck = Extract<LessonCheck, { task: string }>;
export type Highlight = z.output<typeof highlightSchema>;
export type Panel = (typeof PANELS)[number];
