import type { TraceHeader } from '@proxyscope/protocol';
import type { EventStoreImpl } from '../model/event-store';
import { readTraceFile, type TraceReadResult } from './trace-reader';
import type { WorkerReply } from './trace-worker-protocol';

/**
 * Loads a trace file into a store: in a Web Worker when one starts, else on this thread in
 * chunks (yielding between them so the page stays responsive).
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
  usedWorker: boolean;
  ms: number;
}

const WORKER_START_TIMEOUT_MS = 3000;

export async function openTraceFile(file: Blob, store: EventStoreImpl, handlers: LoadHandlers, options: { worker?: boolean } = {}): Promise<LoadResult> {
  const started = performance.now();
  if (options.worker !== false && typeof Worker !== 'undefined') {
    const result = await viaWorker(file, store, handlers).catch(() => null);
    if (result) return { ...result, usedWorker: true, ms: performance.now() - started };
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
  return { ...result, usedWorker: false, ms: performance.now() - started };
}

/** Resolves null when the worker could not start (then nothing reached the store). */
function viaWorker(file: Blob, store: EventStoreImpl, handlers: LoadHandlers): Promise<TraceReadResult | null> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(new URL('./trace-worker.ts', import.meta.url), { type: 'module' });
    } catch {
      resolve(null);
      return;
    }
    let started = false;
    const startTimer = setTimeout(() => {
      if (started) return;
      worker.terminate();
      resolve(null);
    }, WORKER_START_TIMEOUT_MS);
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      clearTimeout(startTimer);
      if (!started) resolve(null);
      else resolve({ events: store.length, lastSeq: store.length ? store.seqAt(store.length - 1) : 0, gzip: false, problem: { message: `the trace reader stopped: ${event.message || 'worker error'}`, events: store.length } });
    };
    worker.onmessage = (message: MessageEvent<WorkerReply>) => {
      const reply = message.data;
      switch (reply.type) {
        case 'ready':
          started = true;
          clearTimeout(startTimer);
          worker.postMessage({ file });
          break;
        case 'header':
          handlers.header(reply.header);
          break;
        case 'chunk':
          store.appendChunk(reply.chunk);
          break;
        case 'progress':
          handlers.progress(reply);
          break;
        case 'done':
          worker.terminate();
          resolve(reply.result);
          break;
      }
    };
  });
}
