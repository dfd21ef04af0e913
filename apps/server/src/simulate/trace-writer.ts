import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { formatTraceLine, type TraceEvent, type TraceHeader } from '@proxyscope/protocol';

/**
 * The trace file of a simulated run. The run is one synchronous loop, so the file is
 * written synchronously in 1 MiB pieces: nothing is buffered without bound and, unlike a
 * live recording, nothing is ever dropped for a slow disk, so the same run always writes
 * the same bytes. A name ending in .gz is written plain beside it first and compressed as
 * one gzip stream when the run is over: browsers' DecompressionStream reads only the first
 * member of a multi-member gzip file.
 */
const PIECE = 1024 * 1024;

export class SimTraceWriter {
  events = 0;
  private readonly fd: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private readonly plainPath: string;

  constructor(
    readonly path: string,
    header: TraceHeader,
  ) {
    this.plainPath = path.endsWith('.gz') ? `${path}.partial` : path;
    // The final name is opened first, so a path that cannot be written fails before the run.
    if (this.plainPath !== path) fs.closeSync(fs.openSync(path, 'w', 0o644));
    this.fd = fs.openSync(this.plainPath, 'w', 0o644);
    this.push(formatTraceLine(header));
  }

  readonly write = (event: TraceEvent): void => {
    this.events++;
    this.push(formatTraceLine(event));
  };

  async close(): Promise<void> {
    this.flush();
    fs.closeSync(this.fd);
    if (this.plainPath === this.path) return;
    try {
      await pipeline(fs.createReadStream(this.plainPath), createGzip(), fs.createWriteStream(this.path));
    } finally {
      fs.rmSync(this.plainPath, { force: true });
    }
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
    fs.writeSync(this.fd, text);
  }
}
