import { describe, expect, it } from 'vitest';
import type { Problem } from '../src/playground/diagnostics';
import { locateRunProblem, parseSeed, runBlocker, severityOf } from '../src/playground/run-controls';
import { fileNames } from '../src/playground/templates';

const error: Problem = { line: 3, column: 5, severity: 'error', path: 'duration', message: 'missing required field' };
const warning: Problem = { ...error, severity: 'warning' };
const names = fileNames('front-proxy');

describe('playground run controls', () => {
  it('reads an empty seed as the scenario\'s own, and refuses what is not a whole number', () => {
    expect(parseSeed('')).toBeUndefined();
    expect(parseSeed('  ')).toBeUndefined();
    expect(parseSeed('42')).toBe(42);
    expect(parseSeed('0')).toBe(0);
    for (const bad of ['1.5', '-1', 'abc', '1e400']) expect(parseSeed(bad), bad).toBeNull();
  });

  it('says which editor holds the errors that stop Run, and lets warnings through', () => {
    expect(runBlocker([error, error, warning], [error], undefined)).toBe('Fix 2 errors in the Envoy config and 1 error in the scenario to run.');
    expect(runBlocker(null, [error], 7)).toBe('Fix 1 error in the scenario to run.');
    expect(runBlocker([warning], [], 7)).toBeNull();
    expect(runBlocker(null, null, undefined)).toBeNull();
    expect(runBlocker([], [], null)).toMatch(/seed must be a whole number/);
  });

  it('finds the editor and position of a problem the worker reported, by its file name', () => {
    expect(locateRunProblem(`error: ${names.scenarioName}:11:11: duration: invalid duration "4"`, names)).toEqual({ editor: 'scenario', line: 11, column: 11 });
    expect(locateRunProblem(`warning: ${names.configName}:40:7: static_resources.listeners[0]: not modelled`, names)).toEqual({ editor: 'config', line: 40, column: 7 });
    expect(locateRunProblem('error: playground/demo/envoy.yaml:1:1: x', names)).toBeNull();
    expect(locateRunProblem('error: the worker stopped', names)).toBeNull();
    expect(severityOf('warning: a')).toBe('warning');
    expect(severityOf('error: a')).toBe('error');
  });
});
