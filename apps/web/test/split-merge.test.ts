/**
 * A trace file read as two halves (two workers in the page) ends as the same store as one
 * read: every event and every index, and a bad line or a seq that goes back gets the line
 * number of the whole file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventStoreImpl } from '../src/model/event-store';
import { SplitMerge } from '../src/net/split-merge';
import { readTraceFile, type TraceReadResult } from '../src/net/trace-reader';

const text = readFileSync(join(import.meta.dirname, 'fixtures', 'demo.ndjson'), 'utf8');

async function whole(body: string) {
  const store = new EventStoreImpl('file');
  const result = await readTraceFile(new Blob([body]), { header: () => {}, chunk: (c) => store.appendChunk(c), progress: () => {} });
  return { store, result };
}

/** Reads `body` as two halves split after line `at` (1-based), the second half's chunks arriving first. */
async function halves(body: string, at: number) {
  const lines = body.split('\n');
  const head = lines.slice(0, at).join('\n') + '\n';
  const tail = lines.slice(at).join('\n');
  const store = new EventStoreImpl('file');
  const merge = new SplitMerge(store);
  // small chunks, so the second half's table numbering differs from the store's
  const second = await readTraceFile(new Blob([tail]), { header: () => {}, chunk: (c) => merge.secondChunk(c), progress: () => {} }, { headerless: true });
  const first = await readTraceFile(new Blob([head]), { header: () => {}, chunk: (c) => merge.firstChunk(c), progress: () => {} });
  const result: TraceReadResult = merge.firstDone(first) ? merge.result(second) : merge.result(null);
  return { store, result };
}

describe('a trace read as two halves', () => {
  it('gives the same events, requests and summaries as one read', async () => {
    const one = await whole(text);
    const lineCount = text.split('\n').length - 1;
    const two = await halves(text, Math.floor(lineCount / 2));
    expect(two.result.problem).toBeUndefined();
    expect(two.result.events).toBe(one.result.events);
    expect(two.result.lines).toBe(one.result.lines);
    expect(two.result.lastSeq).toBe(one.result.lastSeq);
    expect(two.store.length).toBe(one.store.length);
    for (let i = 0; i < one.store.length; i++) expect(two.store.get(i)).toEqual(one.store.get(i));
    expect(two.store.requestIds()).toEqual(one.store.requestIds());
    for (const stream of one.store.requestIds()) {
      expect(two.store.eventsOfRequest(stream)).toEqual(one.store.eventsOfRequest(stream));
      expect(two.store.requestAt(stream, one.store.length - 1)).toEqual(one.store.requestAt(stream, one.store.length - 1));
    }
  });

  it('names a bad line in the second half by its line in the whole file, keeping every event before it', async () => {
    const lines = text.split('\n');
    const bad = Math.floor(lines.length * 0.75);
    lines[bad - 1] = lines[bad - 1]!.replace(/"seq":\d+/, '"seq":"x"');
    const broken = lines.join('\n');
    const one = await whole(broken);
    const two = await halves(broken, Math.floor(lines.length / 2));
    expect(one.result.problem?.line).toBe(bad);
    expect(two.result.problem).toMatchObject({ line: bad, field: one.result.problem!.field, message: one.result.problem!.message, events: one.result.events });
    expect(two.store.length).toBe(one.store.length);
  });

  it('refuses a second half whose seqs do not follow the first', async () => {
    const lines = text.split('\n');
    const at = Math.floor(lines.length / 2);
    // the line after the split goes back to seq 1
    lines[at] = lines[at]!.replace(/"seq":\d+/, '"seq":1');
    const two = await halves(lines.join('\n'), at);
    expect(two.result.problem).toMatchObject({ line: at + 1, field: 'seq' });
    expect(two.result.problem!.message).toMatch(new RegExp(`^line ${at + 1}, field seq: sequence 1 does not follow \\d+`));
    expect(two.store.length).toBe(two.result.events);
    expect(two.result.events).toBe(at - 1);
  });
});
