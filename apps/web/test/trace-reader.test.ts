import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseTrace } from '@proxyscope/protocol';
import { EventStoreImpl } from '../src/model/event-store';
import { readTraceFile } from '../src/net/trace-reader';
import { fastTraceEvent } from '../src/net/fast-event';
import { parseTraceEvent } from '@proxyscope/protocol';

const text = readFileSync(join(import.meta.dirname, 'fixtures', 'demo.ndjson'), 'utf8');
const expected = parseTrace(text).events;

async function load(body: BlobPart) {
  const store = new EventStoreImpl('file');
  let header: unknown;
  const progress: number[] = [];
  const result = await readTraceFile(new Blob([body]), {
    header: (h) => (header = h),
    chunk: (chunk) => store.appendChunk(chunk),
    progress: (read) => progress.push(read),
  });
  return { store, header, result, progress };
}

describe('readTraceFile', () => {
  it('reads a plain NDJSON trace into the store', async () => {
    const { store, header, result, progress } = await load(text);
    expect(result.problem).toBeUndefined();
    expect(result.gzip).toBe(false);
    expect(store.length).toBe(expected.length);
    expect(store.get(777)).toEqual(expected[777]);
    expect((header as { format: string }).format).toBe('proxyscope-trace');
    expect(progress[progress.length - 1]).toBe(new Blob([text]).size);
  });

  it('detects gzip by its magic bytes and reads it the same', async () => {
    const { store, result } = await load(gzipSync(text));
    expect(result.gzip).toBe(true);
    expect(result.problem).toBeUndefined();
    expect(store.length).toBe(expected.length);
    expect(store.get(expected.length - 1)).toEqual(expected[expected.length - 1]);
  });

  it('names the line and field of a bad event and keeps every event before it', async () => {
    const lines = text.split('\n');
    const bad = lines.findIndex((l, i) => i >= 500 && /"cx":\d+/.test(l));
    lines[bad] = lines[bad]!.replace(/"cx":\d+/, '"cx":"seven"');
    const { store, result } = await load(lines.join('\n'));
    expect(result.problem?.line).toBe(bad + 1);
    expect(result.problem?.field).toBe('ids.cx');
    expect(result.problem?.message).toMatch(new RegExp(`^line ${bad + 1}, field ids\\.cx: `));
    // line 1 is the header: events before the bad line are lines 2..bad
    expect(store.length).toBe(bad - 1);
    expect(store.get(bad - 2)).toEqual(expected[bad - 2]);
  });

  it('reports a file cut off in the middle of a line', async () => {
    const { store, result } = await load(text.slice(0, text.length - 40));
    expect(result.problem?.message).toMatch(/truncated/);
    expect(store.length).toBe(expected.length - 1);
  });

  it('reports corrupt gzip data without throwing', async () => {
    const gz = gzipSync(text);
    const broken = gz.subarray(0, Math.floor(gz.length / 2));
    const { result } = await load(broken);
    expect(result.problem?.message).toMatch(/gzip/);
  });

  it('refuses a file that is not a trace with the reason', async () => {
    const { result, store } = await load('{"hello":"world"}\n');
    expect(result.problem?.line).toBe(1);
    expect(result.problem?.field).toBe('format');
    expect(store.length).toBe(0);
  });

  it('names a seq that does not increase and an empty line', async () => {
    const lines = text.split('\n');
    const swapped = [...lines];
    [swapped[10], swapped[11]] = [swapped[11]!, swapped[10]!];
    const a = await load(swapped.join('\n'));
    expect(a.result.problem?.message).toMatch(/^line 12, field seq: sequence \d+ does not follow \d+/);
    expect(a.store.length).toBe(10);
    const gap = [...lines];
    gap[20] = '';
    const b = await load(gap.join('\n'));
    expect(b.result.problem?.message).toBe('line 21: empty line');
  });
});

describe('fastTraceEvent', () => {
  it('accepts recorded events as the protocol parser reads them', () => {
    for (const line of text.split('\n').slice(1, 400)) {
      if (!line) continue;
      expect(fastTraceEvent(JSON.parse(line))).toEqual(parseTraceEvent(line, 2));
    }
  });

  it('leaves to the protocol parser every event it would refuse', () => {
    const good = JSON.parse(text.split('\n').find((l) => l.includes('"type":"fact"'))!);
    const bad = [
      { ...good, seq: 0 },
      { ...good, seq: 1.5 },
      { ...good, t: -1 },
      { ...good, actor: '' },
      { ...good, machine: 'toaster' },
      { ...good, ids: { ...good.ids, cx: '7' } },
      { ...good, ids: { ...good.ids, colour: 'red' } },
      { ...good, fact: 'made.up' },
      { ...good, data: [] },
      { ...good, envoy: 42 },
      { ...good, type: 'explode' },
    ];
    for (const value of bad) {
      expect(fastTraceEvent(value), JSON.stringify(value).slice(0, 80)).toBeNull();
      expect(() => parseTraceEvent(JSON.stringify(value), 9)).toThrow(/^line 9/);
    }
  });
});
