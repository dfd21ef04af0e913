import { TraceFormatError } from '@proxyscope/protocol';
import type { ColumnChunk } from '../model/columns';
import { ChunkRemap, type EventStoreImpl } from '../model/event-store';
import type { TraceReadProblem, TraceReadResult } from './trace-reader';

/**
 * A big trace file read as two halves at once, by two workers (JSON.parse is most of the
 * time, and there are two cores): the first half's chunks go into the store as they come;
 * the second half's wait until the first half is done, then go in renumbered (they come
 * from another encoder). The two results become one, with line numbers of the whole file.
 */
export class SplitMerge {
  private readonly remap = new ChunkRemap();
  private waiting: ColumnChunk[] = [];
  private first: TraceReadResult | null = null;
  private secondApplied = 0;
  private secondStarted = false;
  private seqProblem: TraceReadProblem | undefined;

  constructor(private readonly store: EventStoreImpl) {}

  /** Events that have been read but not put in the store yet. */
  get waitingEvents(): number {
    return this.waiting.reduce((n, c) => n + c.n, 0);
  }

  firstChunk(chunk: ColumnChunk): void {
    this.store.appendChunk(chunk);
  }

  secondChunk(chunk: ColumnChunk): void {
    if (this.first === null) this.waiting.push(chunk);
    else this.apply(chunk);
  }

  /** The first half is read. False when the second half is not wanted (a problem in the first, or where they meet). */
  firstDone(result: TraceReadResult): boolean {
    this.first = result;
    if (result.problem) {
      this.waiting = [];
      return false;
    }
    for (const chunk of this.waiting) this.apply(chunk);
    this.waiting = [];
    return this.seqProblem === undefined;
  }

  /** Both halves are read: the result for the whole file. */
  result(second: TraceReadResult | null): TraceReadResult {
    const first = this.first!;
    if (first.problem) return first;
    if (this.seqProblem) return { ...first, problem: this.seqProblem };
    if (second === null) return first;
    const events = first.events + this.secondApplied;
    const combined: TraceReadResult = {
      events,
      firstSeq: first.firstSeq ?? second.firstSeq,
      lastSeq: this.secondApplied > 0 ? second.lastSeq : first.lastSeq,
      lines: first.lines + second.lines,
      gzip: false,
    };
    const p = second.problem;
    if (p) {
      // The second half counted its lines from its own start.
      const line = p.line !== undefined ? first.lines + p.line : undefined;
      const message = line !== undefined && p.reason !== undefined ? new TraceFormatError(line, p.field ?? '', p.reason).message : p.message;
      combined.problem = { ...p, message, line, events };
    }
    return combined;
  }

  private apply(chunk: ColumnChunk): void {
    if (this.seqProblem || chunk.n === 0) return;
    if (!this.secondStarted) {
      this.secondStarted = true;
      // Each half checked its own seqs; where they meet is checked here.
      const last = this.store.length > 0 ? this.store.seqAt(this.store.length - 1) : 0;
      if (chunk.seq[0]! <= last) {
        const line = this.first!.lines + 1;
        const reason = `sequence ${chunk.seq[0]} does not follow ${last}`;
        this.seqProblem = { message: new TraceFormatError(line, 'seq', reason).message, line, field: 'seq', reason, events: this.first!.events };
        return;
      }
    }
    this.store.appendRemapped(chunk, this.remap);
    this.secondApplied += chunk.n;
  }
}
