/// <reference lib="webworker" />
import { chunkTransferables } from '../model/columns';
import { readTraceFile } from './trace-reader';
import type { WorkerReply, WorkerRequest } from './trace-worker-protocol';

/** Parses a trace file off the page's thread; chunks travel as transferred buffers. */
const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (reply: WorkerReply, transfer: Transferable[] = []) => scope.postMessage(reply, transfer);

scope.onmessage = async (message: MessageEvent<WorkerRequest>) => {
  const { file, headerless } = message.data;
  try {
    const result = await readTraceFile(file, {
      header: (header) => post({ type: 'header', header }),
      chunk: (chunk) => post({ type: 'chunk', chunk }, chunkTransferables(chunk)),
      progress: (bytesRead, totalBytes, events) => post({ type: 'progress', bytesRead, totalBytes, events }),
    }, { headerless });
    post({ type: 'done', result });
  } catch (err) {
    post({ type: 'done', result: { events: 0, lastSeq: 0, lines: 0, gzip: false, problem: { message: (err as Error).message ?? String(err), events: 0 } } });
  }
};
post({ type: 'ready' });
