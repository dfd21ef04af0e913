import { describe, expect, it } from 'vitest';
import { parseTrace, readTraceStream, TraceFormatError, TraceStreamReader, TraceStreamWriter, type TraceEvent } from '../src';
import { HEADER, requests } from './fixtures';

function written(events: TraceEvent[], header = HEADER): string {
  let text = '';
  const writer = new TraceStreamWriter((chunk) => (text += chunk));
  writer.writeHeader(header);
  writer.writeEvents(events.slice(0, 10));
  writer.writeEvents(events.slice(10));
  expect(writer.events).toBe(events.length);
  return text;
}

function errorOf(text: string | Uint8Array[]): TraceFormatError {
  const reader = new TraceStreamReader();
  try {
    for (const chunk of typeof text === 'string' ? [text] : text) reader.push(chunk);
    reader.end();
  } catch (err) {
    expect(err).toBeInstanceOf(TraceFormatError);
    return err as TraceFormatError;
  }
  throw new Error('read without error');
}

describe('streaming trace reader and writer', () => {
  const events = requests([1, 2, 3]);
  const text = written(events);

  it('round-trip: every chunk boundary, as text and as bytes (a multi-byte character split too)', () => {
    const withUnicode = written(requests([4]).map((e) => (e.type === 'fact' ? { ...e, data: { ...e.data, note: 'héllo ✓ 😀' } } : e)));
    for (const source of [text, withUnicode]) {
      const bytes = new TextEncoder().encode(source);
      const expected = parseTrace(source);
      for (let cut = 0; cut <= bytes.length; cut += 7) {
        const reader = new TraceStreamReader();
        const out = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut)), ...reader.end()];
        expect(out).toEqual(expected.events);
        expect(reader.header).toEqual(expected.header);
      }
      const reader = new TraceStreamReader();
      const out: TraceEvent[] = [];
      for (let i = 0; i < source.length; i += 13) out.push(...reader.push(source.slice(i, i + 13)));
      out.push(...reader.end());
      expect(out).toEqual(expected.events);
      expect(reader.lines).toBe(expected.events.length + 1);
    }
    expect(parseTrace(text).events).toEqual(events);
  });

  it('reads an async source', async () => {
    async function* chunks() {
      for (let i = 0; i < text.length; i += 100) yield text.slice(i, i + 100);
    }
    const seen: TraceEvent[] = [];
    const info = await readTraceStream(chunks(), (batch) => {
      seen.push(...batch);
    });
    expect(seen).toEqual(events);
    expect(info).toMatchObject({ events: events.length, firstSeq: 1, lastSeq: events.length });
  });

  it('accepts CRLF and a last line without its newline if it is complete', () => {
    expect(parseTrace(text.replace(/\n/g, '\r\n')).events).toEqual(events);
    expect(parseTrace(text.slice(0, -1)).events).toEqual(events);
  });

  it('names the line and field of what is wrong', () => {
    const lines = text.split('\n');
    const replaceLine = (n: number, value: string) => lines.map((l, i) => (i === n - 1 ? value : l)).join('\n');
    expect(errorOf('')).toMatchObject({ line: 1, message: 'line 1: empty trace: the header line is missing' });
    expect(errorOf('{"format":"other"}\n')).toMatchObject({ line: 1, field: 'format' });
    expect(errorOf(replaceLine(1, JSON.stringify({ ...HEADER, version: 99 })))).toMatchObject({ line: 1, field: 'version' });
    expect(errorOf(replaceLine(4, '{"type":"spawn"'))).toMatchObject({ line: 4, message: expect.stringContaining('not valid JSON') });
    expect(errorOf(replaceLine(5, lines[4]!.replace('"machine":"', '"machine":"x')))).toMatchObject({ line: 5, field: 'machine' });
    expect(errorOf(replaceLine(3, lines[2]!.replace(/"seq":\d+/, '"seq":-1')))).toMatchObject({ line: 3, field: 'seq' });
    expect(errorOf(replaceLine(6, lines[2]!))).toMatchObject({ line: 6, field: 'seq', message: expect.stringContaining('does not follow') });
    expect(errorOf(replaceLine(7, ''))).toMatchObject({ line: 7, message: 'line 7: empty line' });
    // Truncated in the middle of line 9.
    const truncated = lines.slice(0, 8).join('\n') + '\n' + lines[8]!.slice(0, 30);
    expect(errorOf(truncated)).toMatchObject({ line: 9, message: expect.stringContaining('truncated') });
    expect(errorOf([new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x0a])])).toMatchObject({ line: 1, message: expect.stringContaining('UTF-8') });
    const long = new TraceStreamReader(1000);
    expect(() => long.push('x'.repeat(2000))).toThrow(/longer than 1000 bytes/);
  });

  it('the writer wants the header first and increasing seq', () => {
    const writer = new TraceStreamWriter(() => {});
    expect(() => writer.writeEvents(events)).toThrow(TraceFormatError);
    writer.writeHeader(HEADER);
    expect(() => writer.writeHeader(HEADER)).toThrow(TraceFormatError);
    writer.writeEvents(events.slice(0, 3));
    expect(() => writer.writeEvents([events[1]!])).toThrow(/line 5, field seq: sequence 2 does not follow 3/);
  });
});
