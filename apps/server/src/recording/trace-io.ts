import fs from 'node:fs';
import { createGunzip } from 'node:zlib';
import { TraceFormatError, TraceStreamReader, type TraceEvent, type TraceHeader } from '@proxyscope/protocol';

/** What a full read of a trace file found. */
export interface TraceFileInfo {
  header: TraceHeader;
  events: number;
  firstSeq: number | undefined;
  lastSeq: number;
  gzip: boolean;
  bytes: number;
}

/** gzip files start with 1f 8b, whatever their name. */
function isGzip(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const magic = Buffer.alloc(2);
    return fs.readSync(fd, magic, 0, 2, 0) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Streams a trace file (NDJSON, or gzipped NDJSON) through the protocol's reader with
 * bounded memory, handing over each chunk's events. Throws TraceFormatError with the line
 * and field for a bad line, a truncated file or a broken gzip stream; a file that cannot
 * be opened throws the system error.
 */
export async function readTraceFile(
  file: string,
  onEvents: (events: TraceEvent[], header: TraceHeader) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<TraceFileInfo> {
  const gzip = isGzip(file);
  const bytes = fs.statSync(file).size;
  const raw = fs.createReadStream(file, { highWaterMark: 256 * 1024, signal });
  const source: NodeJS.ReadableStream = gzip ? raw.pipe(createGunzip()) : raw;
  if (gzip) raw.on('error', (err) => (source as NodeJS.ReadableStream & { destroy(e: Error): void }).destroy(err));
  const reader = new TraceStreamReader();
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      const events = reader.push(chunk);
      if (events.length) await onEvents(events, reader.header!);
    }
  } catch (err) {
    raw.destroy();
    if (err instanceof TraceFormatError || (err as Error).name === 'AbortError') throw err;
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
      const reason = e.code === 'Z_BUF_ERROR' ? 'the gzip stream ends early (truncated file)' : `the gzip stream is corrupt (${e.message})`;
      throw new TraceFormatError(reader.lines + 1, '', reason);
    }
    throw err;
  }
  const last = reader.end();
  if (last.length) await onEvents(last, reader.header!);
  return { header: reader.header!, events: reader.events, firstSeq: reader.firstSeq, lastSeq: reader.lastSeq, gzip, bytes };
}

/** Reads a whole trace file into memory (tests, small files). */
export async function loadTraceFile(file: string): Promise<{ header: TraceHeader; events: TraceEvent[] }> {
  const all: TraceEvent[] = [];
  const info = await readTraceFile(file, (events) => {
    for (const e of events) all.push(e);
  });
  return { header: info.header, events: all };
}
