/**
 * The shipped lessons (lessons/NN-slug/lesson.yaml): each validates, and run with its
 * seed reaches every step's run_to in order, has an answer for every check, and names
 * only topology nodes its config has. Task checks really run the edited files.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '@proxyscope/protocol';
import { loadBootstrap } from '../src/config/load';
import { ConfigError } from '../src/config/yaml-source';
import { answerFromTrace, findRunTo, judgeAnswer, loadLesson, resolveLessonPath, runTask, topologyNodeIds, type Lesson, type TaskCheck } from '../src/lessons';
import { loadScenario } from '../src/sim/scenario';
import { Simulation } from '../src/sim/simulation';

const LESSONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../lessons');
const shipped = readdirSync(LESSONS).filter((d) => existsSync(path.join(LESSONS, d, 'lesson.yaml'))).sort();

/** A browser has to hold the whole trace of a lesson's run. */
const MAX_EVENTS = 60_000;

async function run(file: string) {
  const lesson = loadLesson(readFileSync(file, 'utf8'), file, { exists: existsSync });
  const scenarioFile = resolveLessonPath(file, lesson.scenario);
  const { scenario } = loadScenario(readFileSync(scenarioFile, 'utf8'), scenarioFile);
  const configFile = resolveLessonPath(file, lesson.config);
  const { config } = loadBootstrap(readFileSync(configFile, 'utf8'), configFile);
  const events: TraceEvent[] = [];
  const sim = new Simulation({ config, scenario, seed: lesson.seed, sink: (e) => events.push(e as TraceEvent) });
  await sim.run();
  return { lesson, events, nodes: topologyNodeIds(sim.engine.topology()), configFile, scenarioFile };
}

const runs = new Map<string, ReturnType<typeof run>>();
const runOf = (dir: string) => {
  if (!runs.has(dir)) runs.set(dir, run(path.join(LESSONS, dir, 'lesson.yaml')));
  return runs.get(dir)!;
};

function taskOf(lesson: Lesson): TaskCheck {
  const task = lesson.steps.map((s) => s.check).find((c): c is TaskCheck => c !== undefined && 'task' in c);
  if (!task) throw new Error(`${lesson.id} has no task step`);
  return task;
}

describe('shipped lessons', () => {
  it('are found, nine topics at least', () => expect(shipped.length).toBeGreaterThanOrEqual(9));

  it('have distinct ids', () => {
    const ids = shipped.map((dir) => loadLesson(readFileSync(path.join(LESSONS, dir, 'lesson.yaml'), 'utf8'), dir).id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  for (const dir of shipped) {
    it(`${dir}: every step is reached in order and every check has its answer`, async () => {
      const { lesson, events } = await runOf(dir);
      expect(events.length, 'trace events').toBeLessThan(MAX_EVENTS);
      let last = 0;
      for (const [i, step] of lesson.steps.entries()) {
        const at = findRunTo(step.run_to, events);
        expect(at, `step ${i + 1} run_to is reached`).toBeDefined();
        expect(at!.seq, `step ${i + 1} comes no earlier than step ${i}`).toBeGreaterThanOrEqual(last);
        last = at!.seq;
        if (step.check && 'question' in step.check) {
          const answer = answerFromTrace(step.check.answer, events);
          expect(answer, `step ${i + 1} answer`).toBeDefined();
          if (step.check.correct !== undefined) expect(judgeAnswer(step.check.correct, step.check.answer, events), `step ${i + 1} correct`).toBe(true);
          if (step.check.choices) expect(step.check.choices.map(String), `step ${i + 1} choices`).toContain(String(answer));
        }
      }
    }, 60_000);

    it(`${dir}: teaches in 3 to 5 steps, each citing an Envoy function, most with a check`, async () => {
      const { lesson } = await runOf(dir);
      expect(lesson.steps.length).toBeGreaterThanOrEqual(3);
      expect(lesson.steps.length).toBeLessThanOrEqual(5);
      // A class method (Router::Filter::doRetry) or a bare Envoy member function (chooseHost).
      for (const step of lesson.steps) expect(step.envoy).toMatch(/::[a-z~]\w*$|^[a-z]+[A-Z]\w*$/);
      expect(lesson.steps.filter((s) => s.check).length * 2).toBeGreaterThan(lesson.steps.length);
    }, 60_000);

    it(`${dir}: every node highlight is a node of its config's topology`, async () => {
      const { lesson, nodes } = await runOf(dir);
      for (const [i, step] of lesson.steps.entries()) {
        if ('node' in step.highlight) expect([...nodes], `step ${i + 1} highlight`).toContain(step.highlight.node);
      }
    }, 60_000);
  }

  it('judges a wrong answer wrong', async () => {
    const { events } = await runOf('01-life-of-a-request');
    expect(judgeAnswer(200, { response_code_of: { request: 1 } }, events)).toBe(true);
    expect(judgeAnswer(503, { response_code_of: { request: 1 } }, events)).toBe(false);
  }, 60_000);

  it('explains route matching from the trace: virtual host, failed candidates and why', async () => {
    const { events } = await runOf('03-route-matching');
    expect(answerFromTrace({ virtual_host_of: { request: 5 } }, events)).toBe('www');
    expect(answerFromTrace({ routes_failed_of: { request: 2 } }, events)).toBe(3);
    expect(answerFromTrace({ route_failed_on: { request: 2, route: 'health' } }, events)).toBe('path');
    expect(answerFromTrace({ route_failed_on: { request: 3, route: 'admin' } }, events)).toBeUndefined();
    expect(answerFromTrace({ virtual_host_of: { request: 6 } }, events)).toBeUndefined();
  }, 60_000);
});

describe('task checks', () => {
  async function canary() {
    const file = path.join(LESSONS, '04-canary-split', 'lesson.yaml');
    const lesson = loadLesson(readFileSync(file, 'utf8'), file);
    const configName = resolveLessonPath(file, lesson.config);
    const scenarioName = resolveLessonPath(file, lesson.scenario);
    return { task: taskOf(lesson), seed: lesson.seed, configName, scenarioName, configText: readFileSync(configName, 'utf8'), scenarioText: readFileSync(scenarioName, 'utf8') };
  }

  it('the canary task fails on the shipped 90/10 config and passes once the weights are 50/50', async () => {
    const { task, ...input } = await canary();
    const before = await runTask(task, input);
    expect(before.ok).toBe(false);
    expect(before.problems).toEqual([]);
    expect(before.expectations[0]).toMatchObject({ name: 'the canary gets about half of the requests', pass: false });
    expect(before.expectations[0]!.detail).toMatch(/^\d+(\.\d+)?% \(\d+ of \d+\)$/);

    const edited = input.configText.replace('{ name: web, weight: 90 }', '{ name: web, weight: 50 }').replace('{ name: web_canary, weight: 10 }', '{ name: web_canary, weight: 50 }');
    expect(edited).not.toBe(input.configText);
    const after = await runTask(task, { ...input, configText: edited });
    expect(after).toMatchObject({ ok: true, problems: [] });
    expect(after.expectations.map((e) => e.pass)).toEqual([true, true]);
  }, 60_000);

  it('a broken edit is a problem at its line, not a throw', async () => {
    const { task, ...input } = await canary();
    const lines = input.configText.split('\n');
    const at = lines.findIndex((l) => l.includes('weight: 10'));
    lines[at] = lines[at]!.replace('{ name: web_canary, weight: 10 }', '{ name: web_canary, weight: 10');
    const result = await runTask(task, { ...input, configText: lines.join('\n') });
    expect(result.ok).toBe(false);
    expect(result.expectations).toEqual([]);
    expect(result.problems.length).toBeGreaterThan(0);
    expect(result.problems[0]).toMatch(new RegExp(`^${input.configName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
  }, 60_000);

  it('a config the schema refuses is reported with file, line and field', async () => {
    const { task, ...input } = await canary();
    const text = input.configText.replace('{ name: web_canary, weight: 10 }', '{ name: web_canary, weight: ten }');
    const line = text.split('\n').findIndex((l) => l.includes('weight: ten')) + 1;
    const result = await runTask(task, { ...input, configText: text });
    expect(result.ok).toBe(false);
    expect(result.problems.join('\n')).toContain(`${input.configName}:${line}:`);
    expect(result.problems.join('\n')).toMatch(/weighted_clusters\.clusters\[1\]\.weight/);
  }, 60_000);

  it('the panic task passes once healthy_panic_threshold is 0', async () => {
    const file = path.join(LESSONS, '10-health-checks-panic', 'lesson.yaml');
    const lesson = loadLesson(readFileSync(file, 'utf8'), file);
    const configName = resolveLessonPath(file, lesson.config);
    const scenarioName = resolveLessonPath(file, lesson.scenario);
    const input = { seed: lesson.seed, configName, scenarioName, configText: readFileSync(configName, 'utf8'), scenarioText: readFileSync(scenarioName, 'utf8') };
    expect((await runTask(taskOf(lesson), input)).ok).toBe(false);
    const edited = input.configText.replace('healthy_panic_threshold: { value: 50 }', 'healthy_panic_threshold: { value: 0 }');
    expect(edited).not.toBe(input.configText);
    expect(await runTask(taskOf(lesson), { ...input, configText: edited })).toMatchObject({ ok: true, problems: [] });
  }, 60_000);

  it('an expectation naming a traffic source the scenario lacks is a problem', async () => {
    const { task, ...input } = await canary();
    const lesson = loadLesson(`${TASK_BASE}        - count: { where: { source: nobody }, at_least: 1 }\n`, 'lessons/x/lesson.yaml');
    const result = await runTask(taskOf(lesson), input);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([expect.stringMatching(/source 'nobody'.*it has shoppers/)]);
    void task;
  }, 60_000);
});

const TASK_BASE = `id: x\ntitle: T\nsummary: S\nconfig: envoy.yaml\nscenario: scenario.yaml\nseed: 1\nsteps:\n  - narration: n\n    envoy: Router::Filter::doRetry\n    run_to: { time_ms: 1 }\n    highlight: { panel: stats }\n    check:\n      task: do it\n      edit: config\n      expect:\n`;

describe('invalid lessons', () => {
  const base = `id: x\ntitle: T\nsummary: S\nconfig: envoy.yaml\nscenario: scenario.yaml\nseed: 1\nsteps:\n  - narration: n\n    envoy: Router::Filter::doRetry\n`;
  const errors = (text: string, exists?: (p: string) => boolean) => {
    try {
      loadLesson(text, 'lessons/x/lesson.yaml', exists ? { exists } : {});
    } catch (e) {
      return (e as ConfigError).diagnostics.map((d) => `${d.file}:${d.line} ${d.path}: ${d.message}`);
    }
    return [];
  };
  it('rejects an unknown field at its line', () => {
    expect(errors(`${base}    run_to: { time_ms: 1 }\n    highlight: { panel: stats }\n    colour: red\n`)).toEqual([expect.stringMatching(/lesson\.yaml:12 .*unknown field 'colour'/)]);
  });
  it('rejects a state the machine does not have', () => {
    expect(errors(`${base}    run_to: { machine: router, state: retrying }\n    highlight: { panel: stats }\n`).join()).toMatch(/lesson\.yaml:10 .*no state 'retrying'/);
  });
  it('rejects a bad run_to', () => {
    expect(errors(`${base}    run_to: { time: 5 }\n    highlight: { panel: stats }\n`).join()).toMatch(/lesson\.yaml:10/);
  });
  it('rejects a panel the UI does not have', () => {
    expect(errors(`${base}    run_to: { time_ms: 1 }\n    highlight: { panel: trace }\n`).join()).toMatch(/lesson\.yaml:11 .*machines/);
  });
  it('reports a missing config file at its field', () => {
    expect(errors(`${base}    run_to: { time_ms: 1 }\n    highlight: { panel: stats }\n`, (p) => !p.endsWith('envoy.yaml'))).toEqual([expect.stringMatching(/lesson\.yaml:4 config: config file 'envoy.yaml' not found/)]);
  });
  it("checks a task's expect list with the scenario format's own rules, at the line of the mistake", () => {
    const found = errors(`${TASK_BASE}        - share: { where: { cluster: web_canary }, between: [60%, 40%] }\n        - count: { where: { flag: XX }, at_least: 1 }\n`);
    expect(found).toEqual([
      expect.stringMatching(/lesson\.yaml:16 steps\[0\]\.check\.expect\[0\]\.share\.between: min "60%" is more than max "40%"/),
      expect.stringMatching(/lesson\.yaml:17 steps\[0\]\.check\.expect\[1\]\.count\.where\.flag: /),
    ]);
  });
  it('refuses the old task form', () => {
    expect(errors(`${base}    run_to: { time_ms: 1 }\n    highlight: { panel: stats }\n    check: { task: t, expectations: [x] }\n`).join()).toMatch(/lesson\.yaml:12/);
  });
});
