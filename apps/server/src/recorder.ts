import fs from 'node:fs';
import { createGzip } from 'node:zlib';
import { formatTraceLine, TRACE_FORMAT, TRACE_FORMAT_VERSION, type TraceEvent } from '@proxyscope/protocol';
import { ENGINE_VERSION, type ProxyEngine } from '@proxyscope/engine';

/**
 * Writes every trace event to an NDJSON trace file (gzipped when the name ends in .gz).
 * Lines are batched into one write per tick so recording keeps up with a busy proxy.
 */
export class TraceRecorder {
  private readonly out: NodeJS.WritableStream;
  private readonly file: fs.WriteStream;
  private batch: string[] = [];
  private scheduled = false;
  events = 0;

  constructor(
    readonly path: string,
    engine: ProxyEngine,
    rawConfig: unknown,
  ) {
    this.file = fs.createWriteStream(path);
    if (path.endsWith('.gz')) {
      const gzip = createGzip();
      gzip.pipe(this.file);
      this.out = gzip;
    } else {
      this.out = this.file;
    }
    this.out.write(
      formatTraceLine({
        format: TRACE_FORMAT,
        version: TRACE_FORMAT_VERSION,
        engineVersion: ENGINE_VERSION,
        startedAt: new Date().toISOString(),
        topology: engine.topology(),
        config: rawConfig,
      }),
    );
  }

  readonly sink = (event: TraceEvent): void => {
    this.events++;
    this.batch.push(formatTraceLine(event));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  };

  private flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    this.out.write(this.batch.join(''));
    this.batch = [];
  }

  /** Flush and close; the file ends with a complete line. */
  close(): Promise<void> {
    this.flush();
    return new Promise((resolve) => {
      this.file.once('close', () => resolve());
      this.out.end();
    });
  }
}
