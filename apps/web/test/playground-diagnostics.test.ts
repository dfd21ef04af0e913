import { readFileSync } from 'node:fs';
import { Text } from '@codemirror/state';
import { describe, expect, it } from 'vitest';
import { checkConfig, checkScenario, describeProblem, hasErrors, offsetOf, toCodeMirror, type Problem } from '../src/playground/diagnostics';

const config = readFileSync('scenarios/life-of-a-request/envoy.yaml', 'utf8');
const scenario = readFileSync('scenarios/life-of-a-request/scenario.yaml', 'utf8');
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('playground diagnostics', () => {
  it('puts a config error at its line, with the field path', async () => {
    const bad = config.replace('connect_timeout: 0.25s', 'connect_timeout: fast');
    const problems = await checkConfig(bad, 'playground/life-of-a-request/envoy.yaml');
    expect(hasErrors(problems)).toBe(true);
    const error = problems.find((p) => p.severity === 'error')!;
    expect(error.line).toBe(lineOf(bad, 'connect_timeout: fast'));
    expect(error.path).toBe('static_resources.clusters[0].connect_timeout');
    expect(describeProblem(error)).toMatch(new RegExp(`^line ${error.line}: static_resources\\.clusters\\[0\\]\\.connect_timeout: invalid duration "fast"`));
  });

  it('reports a YAML syntax error rather than nothing', async () => {
    const problems = await checkConfig('static_resources: [', 'envoy.yaml');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ line: 1, severity: 'error' });
  });

  it('warns, without an error, of an HTTP filter that is not modelled', async () => {
    const withFilter = config.replace(
      '                  - name: envoy.filters.http.router',
      '                  - name: envoy.filters.http.grpc_web\n                  - name: envoy.filters.http.router',
    );
    const problems = await checkConfig(withFilter, 'envoy.yaml');
    expect(hasErrors(problems)).toBe(false);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ severity: 'warning', line: lineOf(withFilter, 'grpc_web') });
    expect(problems[0].message).toMatch(/grpc_web.*not modelled/);
    expect(problems[0].path).toMatch(/http_filters\[0\]$/);
  });

  it('gives a valid config and scenario no problems', async () => {
    expect(await checkConfig(config, 'envoy.yaml')).toEqual([]);
    expect(await checkScenario(scenario, 'scenario.yaml')).toEqual([]);
  });

  it('puts a bad scenario field at its line', async () => {
    const bad = scenario.replace('service_time: 20ms', 'service_time: soon');
    const problems = await checkScenario(bad, 'scenario.yaml');
    expect(problems).toEqual([expect.objectContaining({ severity: 'error', line: lineOf(bad, 'service_time: soon'), path: 'defaults.service_time' })]);
    expect(problems[0].message).toMatch(/invalid duration "soon"/);
  });

  it('lists every missing field of an empty scenario', async () => {
    const paths = (await checkScenario('', 'scenario.yaml')).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'duration', 'traffic']));
  });
});

describe('diagnostic ranges', () => {
  const doc = Text.of(['name: demo', 'seed: x   ', '', 'duration: 1s']);
  const at = (line: number, column: number, severity: Problem['severity'] = 'error'): Problem => ({ line, column, severity, path: 'seed', message: 'not a number' });

  it('turns a line and column into the offset of that character', () => {
    expect(offsetOf(doc, 1, 1)).toBe(0);
    expect(offsetOf(doc, 2, 7)).toBe('name: demo\n'.length + 6);
    expect(doc.sliceString(offsetOf(doc, 4, 11), offsetOf(doc, 4, 13))).toBe('1s');
  });

  it('clamps a position the edited text no longer has', () => {
    expect(offsetOf(doc, 99, 1)).toBe(doc.line(4).from);
    expect(offsetOf(doc, 1, 500)).toBe(doc.line(1).to);
    expect(offsetOf(doc, 0, 0)).toBe(0);
    expect(offsetOf(doc, -3, 2)).toBe(1);
  });

  it('underlines from the column to the end of the line, without trailing spaces, with the path in the message', () => {
    const [d] = toCodeMirror([at(2, 7)], doc);
    expect(doc.sliceString(d.from, d.to)).toBe('x');
    expect(d).toMatchObject({ severity: 'error', message: 'seed: not a number' });
    const [w] = toCodeMirror([{ ...at(1, 1, 'warning'), path: '' }], doc);
    expect(doc.sliceString(w.from, w.to)).toBe('name: demo');
    expect(w).toMatchObject({ severity: 'warning', message: 'not a number' });
  });

  it('keeps a marker on an empty line or past the end inside the document', () => {
    const [empty, past] = toCodeMirror([at(3, 1), at(40, 40)], doc);
    expect(empty.from).toBe(doc.line(3).from);
    expect(empty.to).toBe(empty.from);
    expect(past.to).toBeLessThanOrEqual(doc.length);
    expect(past.from).toBe(doc.length);
  });
});
