import fs from 'node:fs';
import path from 'node:path';
import type { StatsMessage, TraceHeader } from '@proxyscope/protocol';
import { json, text, type Endpoint } from '../admin/admin-http';
import type { EventHub } from '@proxyscope/serve';
import { TraceRecorder, type RecordingSummary } from './recorder';

export class RecordingError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The one recording a proxy may have at a time: `--record FILE` at start, or
 * `POST /recording/start` later (into the recordings directory; a client never names a
 * server path), `POST /recording/stop`, and `GET /recording` to download the current or
 * last one. A recording holds the event hub, so the tracer stays attached while it runs.
 */
export class RecordingManager {
  current: TraceRecorder | undefined;
  last: RecordingSummary | undefined;
  private detach: (() => void) | undefined;
  private counter = 0;

  constructor(
    private readonly hub: EventHub,
    /** the header for a recording starting now (topology as it is now) */
    private readonly header: () => TraceHeader,
    /** where POST /recording/start writes */
    readonly dir: string,
    private readonly warn: (line: string) => void = () => {},
  ) {}

  /** Starts recording to `file`, or to a new file in `dir`. Throws RecordingError. */
  start(file?: string, gzip?: boolean): TraceRecorder {
    if (this.current) throw new RecordingError(409, `already recording to ${this.current.path}; POST /recording/stop first`);
    let target = file;
    if (!target) {
      try {
        fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      } catch (err) {
        throw new RecordingError(500, `cannot create the recordings directory ${this.dir}: ${(err as Error).message}`);
      }
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
      target = path.join(this.dir, `proxyscope-${stamp}-${process.pid}-${++this.counter}.ndjson${gzip ? '.gz' : ''}`);
    }
    // A recording that starts mid-run begins with the snapshot of what is alive now (the
    // tracer was attached, so it is current), and the hub's batches follow it.
    const tracing = this.hub.tracing;
    if (tracing) this.hub.flush();
    const snapshot = tracing ? this.hub.snapshotNow() : [];
    const header = this.header();
    if (snapshot.length > 0) header.snapshot = { events: snapshot.length, lastSeq: this.hub.lastFlushedSeq, counts: this.hub.countsNow() };
    let recorder: TraceRecorder;
    try {
      recorder = new TraceRecorder(target, header, {
        snapshot,
        gzip: gzip ?? target.endsWith('.gz'),
        onError: (err) => this.warn(`proxyscope: recording to ${target} failed: ${err.message}`),
      });
    } catch (err) {
      throw new RecordingError(500, `cannot write ${target}: ${(err as Error).message}`);
    }
    const release = this.hub.retain();
    const remove = this.hub.addConsumer(recorder.write);
    this.detach = () => {
      remove();
      release();
    };
    this.current = recorder;
    return recorder;
  }

  /** Stops the current recording; resolves once the file is complete. */
  async stop(): Promise<RecordingSummary> {
    const recorder = this.current;
    if (!recorder) throw new RecordingError(409, 'not recording; POST /recording/start first');
    this.hub.flush();
    this.detach?.();
    this.detach = undefined;
    this.current = undefined;
    this.last = await recorder.close();
    return this.last;
  }

  /** For `stats` messages. */
  status(): NonNullable<StatsMessage['recording']> {
    const r = this.current;
    if (r) return { active: true, events: r.events, dropped: r.dropped, bytes: r.bytes, gzip: r.gzip, file: path.basename(r.path) };
    const last = this.last;
    return { active: false, events: last?.events ?? 0, dropped: last?.dropped ?? 0, ...(last ? { bytes: last.bytes, gzip: last.gzip, file: path.basename(last.path) } : {}) };
  }

  async close(): Promise<void> {
    if (this.current) await this.stop();
  }

  endpoints(): Record<string, Endpoint> {
    const fail = (err: unknown) => {
      if (err instanceof RecordingError) return text(`${err.message}\n`, err.status);
      throw err;
    };
    const describe = (r: TraceRecorder) => ({ active: true, file: r.path, gzip: r.gzip, events: r.events, dropped: r.dropped, bytes: r.bytes });
    return {
      '/recording/start': {
        help: 'start recording every trace event to a new file (?gzip=1 to compress)',
        mutating: true,
        handle: (url) => {
          try {
            const gzipParam = url.searchParams.get('gzip');
            return json({ recording: describe(this.start(undefined, gzipParam === '1' || gzipParam === 'true')) });
          } catch (err) {
            return fail(err);
          }
        },
      },
      '/recording/stop': {
        help: 'stop the recording; GET /recording downloads it',
        mutating: true,
        handle: async () => {
          try {
            return json({ recording: { active: false, ...(await this.stop()) } });
          } catch (err) {
            return fail(err);
          }
        },
      },
      '/recording': {
        help: 'download the current or last recording (NDJSON trace, or gzip)',
        mutating: false,
        handle: async (_url, req, res) => {
          let file: string;
          let gzip: boolean;
          let size: number | undefined;
          if (this.current) {
            const r = this.current;
            if (r.gzip) return text('the recording is gzipped and still running: a gzip file is complete only once it ends. POST /recording/stop first.\n', 409);
            // Everything traced so far, up to the last complete line.
            this.hub.flush();
            await r.synced();
            file = r.path;
            gzip = false;
            size = fs.statSync(file).size;
          } else if (this.last) {
            file = this.last.path;
            gzip = this.last.gzip;
          } else {
            return text('no recording yet: POST /recording/start, or run with --record FILE\n', 404);
          }
          let stat: fs.Stats;
          try {
            stat = fs.statSync(file);
          } catch {
            return text(`the recording ${file} is gone\n`, 404);
          }
          const length = size ?? stat.size;
          res.writeHead(200, {
            'content-type': gzip ? 'application/gzip' : 'application/x-ndjson',
            'content-length': String(length),
            'content-disposition': `attachment; filename="${path.basename(file).replace(/[^\w.-]/g, '_')}"`,
            'cache-control': 'no-cache, max-age=0',
            'x-content-type-options': 'nosniff',
          });
          if (req.method === 'HEAD' || length === 0) {
            res.end();
            return undefined;
          }
          fs.createReadStream(file, { start: 0, end: length - 1 })
            .on('error', () => res.destroy())
            .pipe(res);
          return undefined;
        },
      },
    };
  }
}
