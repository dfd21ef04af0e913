import fs from 'node:fs';
import { constants as zlibConstants, createGzip, type Gzip } from 'node:zlib';
import { TraceStreamWriter, type TraceEvent, type TraceHeader } from '@proxyscope/protocol';

export interface RecorderOptions {
  /** events written right after the header (the header's `snapshot` says how many) */
  snapshot?: readonly TraceEvent[];
  /** bytes waiting for the disk past which new events are dropped (and counted) */
  maxBufferedBytes?: number;
  /** told once if the file cannot be written */
  onError?: (err: Error) => void;
  /** gzip: how often what was compressed so far is pushed to the file (default 1000 ms; 0: never) */
  gzipFlushMs?: number;
}

export interface RecordingSummary {
  path: string;
  gzip: boolean;
  events: number;
  dropped: number;
  /** bytes in the file (compressed size for gzip) */
  bytes: number;
  error?: string;
}

/**
 * Writes trace events to an NDJSON trace file (gzipped when asked, e.g. for a name ending
 * in .gz): the header line, the snapshot (when the recording starts mid-run), then the hub's batches, one write per batch, always whole
 * lines. A disk slower than the proxy does not grow memory without bound: past
 * `maxBufferedBytes` waiting, batches are dropped and counted (the file then has a gap in
 * seq, which readers accept). `close()` flushes, so the last line is complete.
 */
export class TraceRecorder {
  readonly gzip: boolean;
  events = 0;
  dropped = 0;
  error: Error | undefined;
  private readonly file: fs.WriteStream;
  private readonly out: fs.WriteStream | Gzip;
  private readonly writer: TraceStreamWriter;
  private readonly maxBufferedBytes: number;
  private lastWrite: Promise<void> = Promise.resolve();
  private closing: Promise<RecordingSummary> | undefined;
  private flushTimer: ReturnType<typeof setInterval> | undefined;

  /** Opens (truncates) the file now, so a path that cannot be written fails here. */
  constructor(
    readonly path: string,
    header: TraceHeader,
    options: RecorderOptions & { gzip?: boolean } = {},
  ) {
    this.gzip = options.gzip ?? path.endsWith('.gz');
    this.maxBufferedBytes = options.maxBufferedBytes ?? 64 * 1024 * 1024;
    const fd = fs.openSync(path, 'w', 0o600);
    this.file = fs.createWriteStream(path, { fd });
    const fail = (err: Error) => {
      if (this.error) return;
      this.error = err;
      options.onError?.(err);
    };
    this.file.on('error', fail);
    if (this.gzip) {
      const gzip = createGzip();
      gzip.on('error', fail);
      gzip.pipe(this.file);
      this.out = gzip;
      // zlib holds tens of kB before it writes a block. A sync flush (the dictionary stays,
      // so the ratio barely moves) lets the file size the UI shows grow as events arrive,
      // and leaves more of the file readable if the process dies.
      const every = options.gzipFlushMs ?? 1000;
      if (every > 0) {
        let written = 0;
        this.flushTimer = setInterval(() => {
          if (this.closing || this.error || gzip.bytesWritten === written) return;
          written = gzip.bytesWritten;
          gzip.flush(zlibConstants.Z_SYNC_FLUSH);
        }, every);
        this.flushTimer.unref();
      }
    } else {
      this.out = this.file;
    }
    this.writer = new TraceStreamWriter((chunk) => {
      this.lastWrite = new Promise((resolve) => this.out.write(chunk, () => resolve()));
    });
    this.writer.writeHeader(header);
    if (options.snapshot && options.snapshot.length > 0) {
      this.writer.writeEvents(options.snapshot);
      this.events += options.snapshot.length;
    }
  }

  /** Hub consumer: one batch of events, in seq order. */
  readonly write = (events: readonly TraceEvent[]): void => {
    if (this.error || this.closing) return;
    if (this.out.writableLength + (this.gzip ? this.file.writableLength : 0) > this.maxBufferedBytes) {
      this.dropped += events.length;
      return;
    }
    try {
      this.writer.writeEvents(events);
      this.events += events.length;
    } catch (err) {
      this.error = err as Error;
    }
  };

  /** Resolves once every line written so far has reached the file (not meaningful for gzip). */
  synced(): Promise<void> {
    return this.lastWrite;
  }

  /** Bytes that reached the file so far (compressed for gzip: what a download would be). */
  get bytes(): number {
    return this.file.bytesWritten;
  }

  get active(): boolean {
    return !this.closing;
  }

  /** Ends the file: everything written is flushed, the last line is complete. */
  close(): Promise<RecordingSummary> {
    clearInterval(this.flushTimer);
    this.closing ??= new Promise<RecordingSummary>((resolve) => {
      const done = () => {
        let bytes = 0;
        try {
          bytes = fs.statSync(this.path).size;
        } catch {
          // removed meanwhile
        }
        resolve({ path: this.path, gzip: this.gzip, events: this.events, dropped: this.dropped, bytes, ...(this.error ? { error: this.error.message } : {}) });
      };
      if (this.file.closed) return done();
      this.file.once('close', done);
      this.out.end();
    });
    return this.closing;
  }
}
