import type { TraceEvent } from './events';
import { formatTraceLine, parseTraceEvent, parseTraceHeader, TraceFormatError, type TraceHeader } from './trace-file';

/**
 * Streaming NDJSON trace reader and writer (docs/trace-format.md). They work on chunks, so
 * a trace of any size is read or written with bounded memory; they know nothing of files
 * or gzip (the server does that with node:fs and node:zlib).
 */

/** Lines longer than this are refused, so a corrupt file without newlines cannot fill memory. */
export const DEFAULT_MAX_TRACE_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Feed it chunks as they come (`push`), then call `end`. Each call returns the events
 * completed by that chunk; the header is in `header` once its line has arrived. Every
 * problem is a TraceFormatError with the line number and field: invalid JSON, a field that
 * does not validate, a seq that does not increase, a missing header, a line cut off at the
 * end of the input (a truncated file), an over-long line.
 */
export class TraceStreamReader {
  header: TraceHeader | undefined;
  /** lines read so far (header included) */
  lines = 0;
  events = 0;
  firstSeq: number | undefined;
  lastSeq = 0;
  private partial = '';
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private ended = false;

  constructor(private readonly maxLineBytes = DEFAULT_MAX_TRACE_LINE_BYTES) {}

  push(chunk: Uint8Array | string): TraceEvent[] {
    if (this.ended) throw new Error('TraceStreamReader: push after end');
    let text: string;
    if (typeof chunk === 'string') {
      text = chunk;
    } else {
      try {
        text = this.decoder.decode(chunk, { stream: true });
      } catch {
        throw new TraceFormatError(this.lines + 1, '', 'not valid UTF-8 text (is the file gzipped or binary?)');
      }
    }
    const out: TraceEvent[] = [];
    let start = 0;
    let nl = text.indexOf('\n');
    if (nl < 0) {
      this.partial += text;
      this.checkLength();
      return out;
    }
    // The first line of this chunk continues what the last chunk left over.
    this.line(this.partial + text.slice(0, nl), out);
    this.partial = '';
    start = nl + 1;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      this.line(text.slice(start, nl), out);
      start = nl + 1;
    }
    this.partial = text.slice(start);
    this.checkLength();
    return out;
  }

  /** The input is complete: parses a last line that has no newline, checks the header came. */
  end(): TraceEvent[] {
    this.ended = true;
    const out: TraceEvent[] = [];
    let rest = this.partial;
    try {
      rest += this.decoder.decode();
    } catch {
      throw new TraceFormatError(this.lines + 1, '', 'not valid UTF-8 text at the end of the input');
    }
    this.partial = '';
    if (rest.replace(/\r$/, '') !== '') {
      // A writer ends every line with a newline: a last line without one was cut off,
      // unless it happens to be complete JSON (accepted).
      try {
        JSON.parse(rest);
      } catch {
        throw new TraceFormatError(this.lines + 1, '', `truncated: the input ends in the middle of line ${this.lines + 1} (${rest.length} bytes without a newline)`);
      }
      this.line(rest, out);
    }
    if (!this.header) throw new TraceFormatError(1, '', 'empty trace: the header line is missing');
    return out;
  }

  private checkLength(): void {
    if (this.partial.length > this.maxLineBytes) {
      throw new TraceFormatError(this.lines + 1, '', `line longer than ${this.maxLineBytes} bytes (is this an NDJSON trace?)`);
    }
  }

  private line(raw: string, out: TraceEvent[]): void {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const n = ++this.lines;
    if (n === 1) {
      if (text === '') throw new TraceFormatError(1, '', 'empty trace: the header line is missing');
      this.header = parseTraceHeader(text, 1);
      return;
    }
    if (text === '') throw new TraceFormatError(n, '', 'empty line');
    const event = parseTraceEvent(text, n);
    if (event.seq <= this.lastSeq) throw new TraceFormatError(n, 'seq', `sequence ${event.seq} does not follow ${this.lastSeq}`);
    this.lastSeq = event.seq;
    this.firstSeq ??= event.seq;
    this.events++;
    out.push(event);
  }
}

/**
 * Formats a trace as NDJSON text chunks: the header first, then events in increasing seq.
 * Each `write` hands `sink` one chunk of whole lines, so whatever it is written to always
 * ends with a complete line.
 */
export class TraceStreamWriter {
  /** lines written so far (header included) */
  lines = 0;
  events = 0;
  lastSeq = 0;

  constructor(private readonly sink: (chunk: string) => void) {}

  writeHeader(header: TraceHeader): void {
    if (this.lines !== 0) throw new TraceFormatError(1, '', 'the header must be the first line, written once');
    this.sink(formatTraceLine(header));
    this.lines = 1;
  }

  writeEvents(events: readonly TraceEvent[]): void {
    if (this.lines === 0) throw new TraceFormatError(1, '', 'write the header before any event');
    if (events.length === 0) return;
    let chunk = '';
    let last = this.lastSeq;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (!(e.seq > last)) throw new TraceFormatError(this.lines + i + 1, 'seq', `sequence ${e.seq} does not follow ${last}`);
      last = e.seq;
      chunk += JSON.stringify(e) + '\n';
    }
    this.sink(chunk);
    this.lastSeq = last;
    this.lines += events.length;
    this.events += events.length;
  }
}

/** Reads a trace from any async source of chunks (a file stream, a fetch body reader). */
export async function readTraceStream(
  source: AsyncIterable<Uint8Array | string>,
  onEvents: (events: TraceEvent[], header: TraceHeader) => void | Promise<void>,
): Promise<{ header: TraceHeader; events: number; firstSeq: number | undefined; lastSeq: number }> {
  const reader = new TraceStreamReader();
  for await (const chunk of source) {
    const events = reader.push(chunk);
    if (events.length) await onEvents(events, reader.header!);
  }
  const last = reader.end();
  if (last.length) await onEvents(last, reader.header!);
  return { header: reader.header!, events: reader.events, firstSeq: reader.firstSeq, lastSeq: reader.lastSeq };
}

/** Reads a whole trace held in memory, with the same checks as the streaming reader. */
export function parseTrace(text: string): { header: TraceHeader; events: TraceEvent[] } {
  const reader = new TraceStreamReader(Number.MAX_SAFE_INTEGER);
  const events = reader.push(text);
  for (const e of reader.end()) events.push(e);
  return { header: reader.header!, events };
}
