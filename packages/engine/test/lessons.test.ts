/**
 * The shipped lessons (lessons/NN-slug/lesson.yaml): each validates, and run with its
 * seed reaches every step's run_to in order and has an answer for every check.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '@proxyscope/protocol';
import { loadBootstrap } from '../src/config/load';
import { ConfigError } from '../src/config/yaml-source';
import { answerFromTrace, findRunTo, judgeAnswer, loadLesson, resolveLessonPath } from '../src/lessons';
import { loadScenario } from '../src/sim/scenario';
import { Simulation } from '../src/sim/simulation';

const LESSONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../lessons');
const shipped = readdirSync(LESSONS).filter((d) => existsSync(path.join(LESSONS, d, 'lesson.yaml'))).sort();

async function run(file: string) {
  const lesson = loadLesson(readFileSync(file, 'utf8'), file, { exists: existsSync });
  const scenarioFile = resolveLessonPath(file, lesson.scenario);
  const { scenario } = loadScenario(readFileSync(scenarioFile, 'utf8'), scenarioFile);
  const configFile = resolveLessonPath(file, lesson.config);
  const { config } = loadBootstrap(readFileSync(configFile, 'utf8'), configFile);
  const events: TraceEvent[] = [];
  await new Simulation({ config, scenario, seed: lesson.seed, sink: (e) => events.push(e as TraceEvent) }).run();
  return { lesson, events };
}

describe('shipped lessons', () => {
  it('are found', () => expect(shipped.length).toBeGreaterThanOrEqual(2));
  for (const dir of shipped) {
    it(`${dir}: every step is reached in order and every check has its answer`, async () => {
      const { lesson, events } = await run(path.join(LESSONS, dir, 'lesson.yaml'));
      let last = 0;
      for (const [i, step] of lesson.steps.entries()) {
        const at = findRunTo(step.run_to, events);
        expect(at, `step ${i + 1} run_to is reached`).toBeDefined();
        expect(at!.seq, `step ${i + 1} comes no earlier than step ${i}`).toBeGreaterThanOrEqual(last);
        last = at!.seq;
        if (step.check && 'question' in step.check) {
          const answer = answerFromTrace(step.check.answer, events);
          expect(answer, `step ${i + 1} answer`).toBeDefined();
          if (step.check.correct !== undefined) expect(judgeAnswer(step.check.correct, step.check.answer, events)).toBe(true);
          if (step.check.choices) expect(step.check.choices.map(String)).toContain(String(answer));
        }
      }
    }, 60_000);
  }

  it('judges a wrong answer wrong', async () => {
    const { events } = await run(path.join(LESSONS, '01-life-of-a-request', 'lesson.yaml'));
    expect(judgeAnswer(200, { response_code_of: { request: 1 } }, events)).toBe(true);
    expect(judgeAnswer(503, { response_code_of: { request: 1 } }, events)).toBe(false);
  }, 60_000);
});

describe('invalid lessons', () => {
  const base = `id: x\ntitle: T\nsummary: S\nconfig: envoy.yaml\nscenario: scenario.yaml\nseed: 1\nsteps:\n  - narration: n\n    envoy: Router::Filter::doRetry\n`;
  const errors = (text: string, exists?: (p: string) => boolean) => {
    try {
      loadLesson(text, 'lessons/x/lesson.yaml', exists ? { exists } : {});
    } catch (e) {
      return (e as ConfigError).diagnostics.map((d) => `${d.file}:${d.line} ${d.message}`);
    }
    return [];
  };
  it('rejects an unknown field at its line', () => {
    expect(errors(`${base}    run_to: { time_ms: 1 }\n    highlight: { panel: stats }\n    colour: red\n`)).toEqual([expect.stringMatching(/lesson\.yaml:12 unknown field 'colour'/)]);
  });
  it('rejects a state the machine does not have', () => {
    expect(errors(`${base}    run_to: { machine: router, state: retrying }\n    highlight: { panel: stats }\n`).join()).toMatch(/lesson\.yaml:10 .*no state 'retrying'/);
  });
  it('rejects a bad run_to', () => {
    expect(errors(`${base}    run_to: { time: 5 }\n    highlight: { panel: stats }\n`).join()).toMatch(/lesson\.yaml:10/);
  });
  it('reports a missing config file at its field', () => {
    expect(errors(`${base}    run_to: { time_ms: 1 }\n    highlight: { panel: stats }\n`, (p) => !p.endsWith('envoy.yaml'))).toEqual([expect.stringMatching(/lesson\.yaml:4 config file 'envoy.yaml' not found/)]);
  });
});
