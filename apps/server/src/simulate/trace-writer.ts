import fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import { formatTraceLine, type TraceEvent, type TraceHeader } from '@proxyscope/protocol';

/**
 * The trace file of a simulated run. The run is one synchronous loop, so the file is
 * written synchronously in 1 MiB pieces: nothing is buffered without bound and, unlike a
 * live recording, nothing is ever dropped for a slow disk, so the same run always writes
 * the same bytes. A name ending in .gz is written as gzip members, one per piece (gzip
 * readers, ours included, read them as one stream).
 */
const PIECE = 1024 * 1024;

export class SimTraceWriter {
  events = 0;
  private readonly fd: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private readonly gzip: boolean;

  constructor(
    readonly path: string,
    header: TraceHeader,
  ) {
    this.gzip = path.endsWith('.gz');
    this.fd = fs.openSync(path, 'w', 0o644);
    this.push(formatTraceLine(header));
  }

  readonly write = (event: TraceEvent): void => {
    this.events++;
    this.push(formatTraceLine(event));
  };

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }

  private push(line: string): void {
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= PIECE) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (this.gzip) fs.writeSync(this.fd, gzipSync(text));
    else fs.writeSync(this.fd, text);
  }
}
