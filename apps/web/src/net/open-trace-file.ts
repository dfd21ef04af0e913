import type { TraceHeader } from '@proxyscope/protocol';
import type { ColumnChunk } from '../model/columns';
import type { EventStoreImpl } from '../model/event-store';
import { SplitMerge } from './split-merge';
import { isGzip, readTraceFile, type TraceReadResult } from './trace-reader';
import type { WorkerReply, WorkerRequest } from './trace-worker-protocol';

/**
 * Loads a trace file into a store: in Web Workers when they start (a big uncompressed file
 * as two halves, one worker each), else on this thread in chunks (yielding between them so
 * the page stays responsive).
 */

export interface LoadProgress {
  bytesRead: number;
  totalBytes: number;
  events: number;
}

export interface LoadHandlers {
  header(header: TraceHeader): void;
  progress(progress: LoadProgress): void;
}

export interface LoadResult extends TraceReadResult {
  /** how many workers read the file (0: this thread) */
  workers: number;
  ms: number;
}

const WORKER_START_TIMEOUT_MS = 3000;
/** Below this a second worker costs more than it saves. */
const SPLIT_MIN_BYTES = 8 * 1024 * 1024;
/** Where to look for the end of the line that straddles the middle. */
const SPLIT_WINDOW_BYTES = 1024 * 1024;

export async function openTraceFile(file: Blob, store: EventStoreImpl, given: LoadHandlers, options: { worker?: boolean } = {}): Promise<LoadResult> {
  const started = performance.now();
  // A trace that starts mid-run begins with a snapshot (docs/trace-format.md "Snapshot").
  const handlers: LoadHandlers = {
    ...given,
    header: (header) => {
      if (header.snapshot) store.setSource({ snapshotSeq: header.snapshot.lastSeq, snapshotCounts: header.snapshot.counts ?? null });
      given.header(header);
    },
  };
  const done = (result: TraceReadResult, workers: number): LoadResult => ({ ...result, workers, ms: performance.now() - started });
  if (options.worker !== false && typeof Worker !== 'undefined') {
    const split = await splitPoint(file);
    if (split !== null) {
      const [a, b] = await Promise.all([readyWorker(), readyWorker()]);
      if (a && b) return done(await inHalves(file, split, a, b, store, handlers), 2);
      a?.terminate();
      b?.terminate();
    }
    const worker = await readyWorker();
    if (worker) {
      const result = await runWorker(worker, { file }, {
        header: handlers.header,
        chunk: (chunk) => store.appendChunk(chunk),
        progress: (bytesRead, totalBytes) => handlers.progress({ bytesRead, totalBytes, events: store.length }),
        fallbackEvents: () => store.length,
      });
      return done(result, 1);
    }
  }
  const result = await readTraceFile(
    file,
    {
      header: handlers.header,
      chunk: (chunk) => store.appendChunk(chunk),
      progress: (bytesRead, totalBytes, events) => handlers.progress({ bytesRead, totalBytes, events }),
    },
    { yieldEveryChunk: true },
  );
  return done(result, 0);
}

/** The start of the first line after the middle of a big uncompressed file, or null: read it whole. */
async function splitPoint(file: Blob): Promise<number | null> {
  if (file.size < SPLIT_MIN_BYTES || (globalThis.navigator?.hardwareConcurrency ?? 1) < 2 || (await isGzip(file))) return null;
  const middle = Math.floor(file.size / 2);
  const window = new Uint8Array(await file.slice(middle, middle + SPLIT_WINDOW_BYTES).arrayBuffer());
  const newline = window.indexOf(0x0a);
  if (newline < 0 || middle + newline + 1 >= file.size) return null;
  return middle + newline + 1;
}

async function inHalves(file: Blob, split: number, a: Worker, b: Worker, store: EventStoreImpl, handlers: LoadHandlers): Promise<TraceReadResult> {
  const merge = new SplitMerge(store);
  const read = [0, 0];
  const progress = () => handlers.progress({ bytesRead: read[0]! + read[1]!, totalBytes: file.size, events: store.length + merge.waitingEvents });
  const second = runWorker(b, { file: file.slice(split), headerless: true }, {
    header: () => {},
    chunk: (chunk) => merge.secondChunk(chunk),
    progress: (bytesRead) => {
      read[1] = bytesRead;
      progress();
    },
    fallbackEvents: () => 0,
  });
  const first = await runWorker(a, { file: file.slice(0, split) }, {
    header: handlers.header,
    chunk: (chunk) => merge.firstChunk(chunk),
    progress: (bytesRead) => {
      read[0] = bytesRead;
      progress();
    },
    fallbackEvents: () => store.length,
  });
  if (!merge.firstDone(first)) {
    b.terminate();
    return merge.result(null);
  }
  return merge.result(await second);
}

/** A trace worker that has said it is ready, or null when none starts. */
function readyWorker(): Promise<Worker | null> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(new URL('./trace-worker.ts', import.meta.url), { type: 'module' });
    } catch {
      resolve(null);
      return;
    }
    const timer = setTimeout(() => {
      worker.terminate();
      resolve(null);
    }, WORKER_START_TIMEOUT_MS);
    worker.onerror = (event) => {
      event.preventDefault();
      clearTimeout(timer);
      worker.terminate();
      resolve(null);
    };
    worker.onmessage = (message: MessageEvent<WorkerReply>) => {
      if (message.data.type !== 'ready') return;
      clearTimeout(timer);
      resolve(worker);
    };
  });
}

interface WorkerSink {
  header(header: TraceHeader): void;
  chunk(chunk: ColumnChunk): void;
  progress(bytesRead: number, totalBytes: number): void;
  /** events kept if the worker dies */
  fallbackEvents(): number;
}

/** Reads one blob in a ready worker; resolves with its result (a dead worker is a problem, not an exception). */
function runWorker(worker: Worker, request: WorkerRequest, sink: WorkerSink): Promise<TraceReadResult> {
  return new Promise((resolve) => {
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      const events = sink.fallbackEvents();
      resolve({ events, lastSeq: 0, lines: 0, gzip: false, problem: { message: `the trace reader stopped: ${event.message || 'worker error'}`, events } });
    };
    worker.onmessage = (message: MessageEvent<WorkerReply>) => {
      const reply = message.data;
      switch (reply.type) {
        case 'header':
          sink.header(reply.header);
          break;
        case 'chunk':
          sink.chunk(reply.chunk);
          break;
        case 'progress':
          sink.progress(reply.bytesRead, reply.totalBytes);
          break;
        case 'done':
          worker.terminate();
          resolve(reply.result);
          break;
      }
    };
    worker.postMessage(request);
  });
}
