/**
 * The workbench's pure parts: what the address opens (a lesson, the list, a playground
 * link), the bundled lessons found by the names an instructor would type, and a run in the
 * page saved as a trace file that reads back as the same events.
 */
import { describe, expect, it } from 'vitest';
import { parseTraceEvent, parseTraceHeader } from '@proxyscope/protocol';
import { readBench } from '../src/app/bench';
import { canDownloadTrace, traceFileName, traceText } from '../src/app/trace-download';
import { findLessonFile, LESSON_FILES } from '../src/lessons/catalog';
import { lessonSearch, readLessonRequest } from '../src/lessons/lesson-url';
import { encodePermalink } from '../src/playground/permalink';
import { simulatedStore } from './support/sim-store';

describe('the lesson in the address', () => {
  it('reads ?lesson=N&step=K (steps from 1 in the address) and ?lessons', () => {
    expect(readLessonRequest('?lesson=4&step=2')).toEqual({ kind: 'lesson', lesson: '4', step: 1 });
    expect(readLessonRequest('?lesson=canary-split')).toEqual({ kind: 'lesson', lesson: 'canary-split', step: null });
    expect(readLessonRequest('?lesson=4&step=0')).toEqual({ kind: 'lesson', lesson: '4', step: null });
    expect(readLessonRequest('?lessons')).toEqual({ kind: 'list' });
    expect(readLessonRequest('?token=x')).toBeNull();
  });

  it('writes it back, keeping the other parameters', () => {
    expect(lessonSearch('?token=x&presenter', { kind: 'lesson', lesson: '04-canary-split', step: 2 })).toBe('?token=x&presenter&lesson=04-canary-split&step=3');
    expect(lessonSearch('?lesson=4&step=2&token=x', null)).toBe('?token=x');
    expect(lessonSearch('', { kind: 'list' })).toBe('?lessons');
  });

  it('tells a playground link, a bare playground and a damaged link apart', () => {
    const link = { config: 'static_resources: {}\n', scenario: 'name: x\n', seed: 3, speed: 'max' as const };
    expect(readBench(`?playground=${encodePermalink(link)}`)).toMatchObject({ bench: { kind: 'playground' }, link, linkProblem: null });
    expect(readBench('?playground')).toEqual({ bench: { kind: 'playground' }, link: null, linkProblem: null });
    expect(readBench('?playground=AAAA').linkProblem).toMatch(/damaged/);
    expect(readBench('?lesson=2').bench).toEqual({ kind: 'lesson', lesson: '2', step: null });
  });
});

describe('the bundled lessons', () => {
  it('are every lesson directory, in order', () => {
    expect(LESSON_FILES.length).toBeGreaterThanOrEqual(9);
    const dirs = LESSON_FILES.map((l) => l.dir);
    expect(dirs).toEqual([...dirs].sort());
  });

  it('are found by number, directory or slug', () => {
    const canary = LESSON_FILES.find((l) => l.dir.endsWith('canary-split'))!;
    const n = String(Number(canary.dir.split('-')[0]));
    expect(findLessonFile(n)).toBe(canary);
    expect(findLessonFile(canary.dir)).toBe(canary);
    expect(findLessonFile('canary-split')).toBe(canary);
    expect(findLessonFile('no-such-lesson')).toBeUndefined();
  });
});

describe('a run in the page saved as a trace file', () => {
  it('reads back as the same events, from seq 1, under a valid header', async () => {
    const store = await simulatedStore('retries-previous-hosts');
    expect(canDownloadTrace(store)).toBe(true);
    const simulation = { scenario: 'retries-previous-hosts', seed: 1, durationMs: 6000, graceMs: 0, clock: { t: 0, paused: false, speed: 1, finished: true } } as never;
    const lines = traceText(store, simulation).trimEnd().split('\n');
    const header = parseTraceHeader(lines[0]!);
    expect(header.simulation).toEqual({ scenario: 'retries-previous-hosts', seed: 1 });
    expect(header.topology).toEqual(store.topology);
    expect(lines.length - 1).toBe(store.length);
    for (const i of [0, 1, Math.floor(store.length / 2), store.length - 1]) expect(parseTraceEvent(lines[i + 1]!, i + 2)).toEqual(store.get(i));
    expect(traceFileName(simulation)).toBe('retries-previous-hosts-seed1.ndjson');
  });

  it('is not offered for a page that let its oldest events go', async () => {
    const store = await simulatedStore('retries-previous-hosts');
    const newest = store.newest(100);
    expect(canDownloadTrace(newest)).toBe(false);
    expect(() => traceText(newest, null)).toThrow(/first event/);
  });
});
