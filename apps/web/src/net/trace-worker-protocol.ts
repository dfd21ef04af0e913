import type { TraceHeader } from '@proxyscope/protocol';
import type { ColumnChunk } from '../model/columns';
import type { TraceReadResult } from './trace-reader';

export interface WorkerRequest {
  file: Blob;
  /** a later part of a trace file: events from its first line, no header */
  headerless?: boolean;
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'header'; header: TraceHeader }
  | { type: 'chunk'; chunk: ColumnChunk }
  | { type: 'progress'; bytesRead: number; totalBytes: number; events: number }
  | { type: 'done'; result: TraceReadResult };
