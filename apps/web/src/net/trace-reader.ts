import { DEFAULT_MAX_TRACE_LINE_BYTES, parseTraceEvent, parseTraceHeader, TraceFormatError, type TraceEvent, type TraceHeader } from '@proxyscope/protocol';
import { ChunkEncoder, type ColumnChunk } from '../model/columns';
import { fastTraceEvent } from './fast-event';

/**
 * Reads a trace file (NDJSON, gzipped or not: detected by its magic bytes, whatever the
 * name) as a stream and hands the events on as column chunks. Runs in the trace worker,
 * or on the page when no worker can start.
 *
 * It applies the rules of the protocol's TraceStreamReader (header first, one event per
 * line, increasing seq, no empty or over-long line, no line cut off at the end) line by
 * line, so that when a line is bad every event before it has already been handed on, and
 * it validates a line with the protocol's parser only when the quick check (fast-event.ts)
 * does not pass it, so that a bad line gets the parser's exact message.
 */

export const EVENTS_PER_CHUNK = 32_768;

export interface TraceReadSink {
  header(header: TraceHeader): void;
  chunk(chunk: ColumnChunk): void | Promise<void>;
  progress(bytesRead: number, totalBytes: number, events: number): void;
}

export interface TraceReadProblem {
  message: string;
  /** 1-based line of the file, when the problem is in a line */
  line?: number;
  field?: string;
  /** the problem without its place, to restate the line of a part read on its own */
  reason?: string;
  /** events read (and handed on) before the problem */
  events: number;
}

export interface TraceReadResult {
  events: number;
  firstSeq?: number;
  lastSeq: number;
  /** lines read, the header's included */
  lines: number;
  gzip: boolean;
  /** set when reading stopped early; everything before it was kept */
  problem?: TraceReadProblem;
}

export async function isGzip(blob: Blob): Promise<boolean> {
  const head = new Uint8Array(await blob.slice(0, 2).arrayBuffer());
  return head.length === 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** Line-by-line trace parsing with the TraceStreamReader's rules. */
class LineParser {
  header: TraceHeader | undefined;
  lines = 0;
  firstSeq: number | undefined;
  lastSeq = 0;

  /** `headerless`: a later part of a file, events from its first line on */
  constructor(private readonly headerless: boolean) {}

  line(raw: string): TraceEvent | undefined {
    const text = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    const n = ++this.lines;
    if (n === 1 && !this.headerless) {
      if (text === '') throw new TraceFormatError(1, '', 'empty trace: the header line is missing');
      this.header = parseTraceHeader(text, 1);
      return undefined;
    }
    if (text === '') throw new TraceFormatError(n, '', 'empty line');
    let event: TraceEvent | null = null;
    try {
      event = fastTraceEvent(JSON.parse(text));
    } catch {
      event = null;
    }
    event ??= parseTraceEvent(text, n);
    if (event.seq <= this.lastSeq) throw new TraceFormatError(n, 'seq', `sequence ${event.seq} does not follow ${this.lastSeq}`);
    this.lastSeq = event.seq;
    this.firstSeq ??= event.seq;
    return event;
  }
}

export interface TraceReadOptions {
  yieldEveryChunk?: boolean;
  maxLineBytes?: number;
  /** the blob is a later part of a trace file: no header, events from the first line (line numbers count from it) */
  headerless?: boolean;
}

export async function readTraceFile(blob: Blob, sink: TraceReadSink, options: TraceReadOptions = {}): Promise<TraceReadResult> {
  const maxLine = options.maxLineBytes ?? DEFAULT_MAX_TRACE_LINE_BYTES;
  const gzip = await isGzip(blob);
  const total = blob.size;
  let bytesRead = 0;
  const counted = blob.stream().pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytesRead += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  const stream = gzip ? counted.pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>) : counted;
  const parser = new LineParser(options.headerless === true);
  const encoder = new ChunkEncoder();
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending: TraceEvent[] = [];
  let handed = 0;
  let headerSent = false;
  let carry = '';

  const flush = async () => {
    if (pending.length === 0) return;
    const chunk = encoder.encode(pending);
    handed += pending.length;
    pending = [];
    await sink.chunk(chunk);
    if (options.yieldEveryChunk) await new Promise((r) => setTimeout(r, 0));
  };
  const line = (text: string) => {
    const event = parser.line(text);
    if (event) pending.push(event);
    else if (!headerSent && parser.header) {
      headerSent = true;
      sink.header(parser.header);
    }
  };
  const pushText = async (text: string) => {
    let start = 0;
    let nl = text.indexOf('\n');
    if (nl >= 0 && carry) {
      line(carry + text.slice(0, nl));
      carry = '';
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    while (nl >= 0) {
      line(text.slice(start, nl));
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    carry += text.slice(start);
    if (carry.length > maxLine) throw new TraceFormatError(parser.lines + 1, '', `line longer than ${maxLine} bytes (is this an NDJSON trace?)`);
    if (pending.length >= EVENTS_PER_CHUNK) await flush();
  };

  const source = stream.getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await source.read();
      } catch (err) {
        throw new TraceFormatError(parser.lines + 1, '', gzip ? `the gzip data is corrupt or cut off (${(err as Error).message})` : `the file could not be read (${(err as Error).message})`);
      }
      if (next.done) break;
      let text: string;
      try {
        text = decoder.decode(next.value, { stream: true });
      } catch {
        throw new TraceFormatError(parser.lines + 1, '', 'not valid UTF-8 text (is the file binary, or compressed with something other than gzip?)');
      }
      await pushText(text);
      sink.progress(bytesRead, total, handed + pending.length);
    }
    try {
      carry += decoder.decode();
    } catch {
      throw new TraceFormatError(parser.lines + 1, '', 'not valid UTF-8 text at the end of the file');
    }
    if (carry.replace(/\r$/, '') !== '') {
      // A writer ends every line with a newline: a last line without one was cut off,
      // unless it happens to be complete JSON (accepted, as the protocol's reader does).
      try {
        JSON.parse(carry);
      } catch {
        throw new TraceFormatError(parser.lines + 1, '', `truncated: the input ends in the middle of line ${parser.lines + 1} (${carry.length} bytes without a newline)`);
      }
      line(carry);
    }
    carry = '';
    if (!parser.header && !options.headerless) throw new TraceFormatError(1, '', 'empty trace: the header line is missing');
    await flush();
    sink.progress(total, total, handed);
    return { events: handed, firstSeq: parser.firstSeq, lastSeq: parser.lastSeq, lines: parser.lines, gzip };
  } catch (err) {
    // Keep what was read before the bad line: those events are valid.
    await flush();
    source.cancel().catch(() => {});
    const problem: TraceReadProblem =
      err instanceof TraceFormatError
        ? { message: err.message, line: err.line, field: err.field || undefined, reason: err.reason, events: handed }
        : { message: (err as Error).message ?? String(err), events: handed };
    return { events: handed, firstSeq: parser.firstSeq, lastSeq: parser.lastSeq, lines: parser.lines, gzip, problem };
  }
}
