/**
 * `proxyscope validate --lesson FILE`: the lesson, its config and its scenario load, and the
 * run of the scenario with the lesson's seed reaches every step and answers every question.
 * Each problem at the lesson's own line and field; exit 0 or 3 as for --config.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateMain } from '../src/validate';
import { runCli, tempDir } from './support/cli-process';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SHIPPED = path.join(ROOT, 'lessons', '04-canary-split', 'lesson.yaml');

async function validate(args: string[]) {
  const out: string[] = [];
  const errs: string[] = [];
  const code = await validateMain(args, (l) => out.push(l), (l) => errs.push(l));
  return { code, stdout: out.join('\n'), stderr: errs.join('\n') };
}

/** A lesson in a temporary directory, on the life-of-a-request scenario of the repository. */
function writeLesson(steps: string): string {
  const file = path.join(tempDir(), 'lesson.yaml');
  const scenario = path.join(ROOT, 'scenarios', 'life-of-a-request');
  fs.writeFileSync(file, `id: t\ntitle: T\nsummary: S\nconfig: ${scenario}/envoy.yaml\nscenario: ${scenario}/scenario.yaml\nseed: 1\nsteps:\n${steps}`);
  return file;
}

const lineOf = (file: string, needle: string) => fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('proxyscope validate --lesson', () => {
  it('exits 0 for a shipped lesson, run and checked (through the real CLI)', async () => {
    const { code, stdout } = await runCli(['validate', '--lesson', SHIPPED]);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n').pop()).toBe(`proxyscope: lesson ${SHIPPED} is valid (0 warnings)`);
  });

  it('names the step whose run_to the run never reaches, the question it cannot answer and the node the topology lacks', async () => {
    const file = writeLesson(
      [
        '  - narration: n\n    envoy: Router::Filter::decodeHeaders\n    run_to: { request: 1, machine: router, state: route_matched }\n    highlight: { node: "cluster:nowhere" }\n',
        '  - narration: n\n    envoy: Router::Filter::doRetry\n    run_to: { machine: retry, state: backoff }\n    highlight: { panel: stats }\n',
        '  - narration: n\n    envoy: UpstreamRequest::decodeHeaders\n    run_to: { request: 1, machine: router, state: complete }\n    highlight: { panel: request }\n    check:\n      question: q\n      answer: { response_code_of: { request: 7 } }\n',
        '  - narration: n\n    envoy: UpstreamRequest::decodeHeaders\n    run_to: { request: 1, machine: router, state: complete }\n    highlight: { panel: request }\n    check:\n      question: q\n      answer: { response_code_of: { request: 1 } }\n      choices: [404, 503]\n',
      ].join(''),
    );
    const { code, stdout } = await validate(['--lesson', file]);
    expect(code).toBe(3);
    // file:line:column: the column is the YAML node's, not worth pinning here
    const errors = stdout.split('\n').filter((l) => l.startsWith('error: ')).map((l) => l.replace(/^(error: [^:]+:\d+):\d+:/, '$1:'));
    expect(errors).toEqual([
      `error: ${file}:${lineOf(file, 'cluster:nowhere')}: steps[0].highlight.node: no topology node 'cluster:nowhere' in the lesson's config (ids look like listener:NAME, route:ROUTE_CONFIG/VHOST/ROUTE, cluster:NAME, host:CLUSTER/IP:PORT)`,
      `error: ${file}:${lineOf(file, 'state: backoff')}: steps[1].run_to: never reached in the run of the lesson's scenario with its seed`,
      `error: ${file}:${lineOf(file, 'request: 7')}: steps[2].check.answer: the trace has no answer to this query`,
      `error: ${file}:${lineOf(file, '[404, 503]')}: steps[3].check.choices: the trace's answer 200 is not among the choices`,
    ]);
    expect(stdout.trim().split('\n').pop()).toBe(`proxyscope: lesson ${file} is invalid (4 errors, 0 warnings)`);
  });

  it('reports a lesson that does not load at its line and field, and runs nothing', async () => {
    const file = writeLesson('  - narration: n\n    envoy: Router::Filter::doRetry\n    run_to: { machine: router, state: retrying }\n    highlight: { panel: trace }\n');
    const { code, stdout } = await validate(['--lesson', file]);
    expect(code).toBe(3);
    expect(stdout).toMatch(new RegExp(`error: ${file}:10:\\d+: steps\\[0\\]\\.run_to\\.state: machine 'router' has no state 'retrying'`));
    expect(stdout).toMatch(new RegExp(`error: ${file}:11:\\d+: steps\\[0\\]\\.highlight\\.panel: .*machines`));
  });

  it("reports an error in the lesson's config at the config's own line", async () => {
    const dir = tempDir();
    const config = path.join(dir, 'envoy.yaml');
    const text = fs.readFileSync(path.join(ROOT, 'scenarios', 'life-of-a-request', 'envoy.yaml'), 'utf8').replace('connect_timeout: 0.25s', 'connect_timeout: soon');
    fs.writeFileSync(config, text);
    const file = path.join(dir, 'lesson.yaml');
    fs.writeFileSync(file, `id: t\ntitle: T\nsummary: S\nconfig: envoy.yaml\nscenario: ${ROOT}/scenarios/life-of-a-request/scenario.yaml\nseed: 1\nsteps:\n  - narration: n\n    envoy: Router::Filter::doRetry\n    run_to: { time_ms: 1 }\n    highlight: { panel: stats }\n`);
    const { code, stdout } = await validate(['--lesson', file]);
    expect(code).toBe(3);
    expect(stdout).toContain(`error: ${config}:${lineOf(config, 'connect_timeout: soon')}:`);
  });

  it('is a usage error with --config too, and a read error for a missing file', async () => {
    expect((await validate(['--lesson', SHIPPED, '--config', 'envoy.yaml'])).code).toBe(2);
    const missing = await validate(['--lesson', path.join(tempDir(), 'nope.yaml')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/cannot read lesson/);
  });
});
