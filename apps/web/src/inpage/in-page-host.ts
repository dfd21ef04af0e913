import type { StreamSocketLike } from '../net/live-connection';
import type { FromWorker, InPageRun, ToWorker } from './in-page-run';

/**
 * The page's side of the in-page engine: one worker running one run, and WebSocket-like
 * sockets over it, so LiveConnection talks to the worker exactly as it talks to a server.
 */
export class InPageHost {
  private readonly worker: Worker;
  private ready = false;
  private failed: string | null = null;
  private nextSocket = 1;
  private readonly sockets = new Map<number, WorkerSocket>();

  constructor(
    run: InPageRun,
    private readonly onProblems: (problems: string[]) => void,
  ) {
    this.worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module', name: 'proxyscope-engine' });
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => this.receive(e.data);
    this.worker.onerror = (e) => this.fail([`error: the in-page engine failed: ${e.message}`]);
    this.post({ type: 'start', run });
  }

  post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  /** A LiveConnection's socket factory. */
  readonly openSocket = (): StreamSocketLike => {
    const socket = new WorkerSocket(this.nextSocket++, this);
    this.sockets.set(socket.id, socket);
    if (this.ready) socket.connect();
    else if (this.failed !== null) queueMicrotask(() => socket.closed(1011, this.failed!));
    return socket;
  };

  forget(socket: WorkerSocket): void {
    this.sockets.delete(socket.id);
  }

  terminate(): void {
    for (const socket of this.sockets.values()) socket.closed(1001, 'the run was replaced');
    this.worker.terminate();
  }

  private fail(problems: string[]): void {
    this.failed = problems.find((p) => p.startsWith('error')) ?? problems[0] ?? 'the run did not start';
    this.onProblems(problems);
    for (const socket of [...this.sockets.values()]) socket.closed(1011, this.failed);
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case 'ready':
        this.ready = true;
        for (const socket of this.sockets.values()) socket.connect();
        return;
      case 'problems':
        return this.fail(message.problems);
      case 'frame':
        return this.sockets.get(message.socket)?.frame(message.text);
      case 'closed':
        return this.sockets.get(message.socket)?.closed(1011, message.reason);
    }
  }
}

class WorkerSocket implements StreamSocketLike {
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((frame: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;

  constructor(
    readonly id: number,
    private readonly host: InPageHost,
  ) {}

  connect(): void {
    if (this.readyState !== 0) return;
    this.readyState = 1;
    this.host.post({ type: 'connect', socket: this.id });
    this.onopen?.();
  }

  send(text: string): void {
    if (this.readyState === 1) this.host.post({ type: 'message', socket: this.id, text });
  }

  frame(text: string): void {
    if (this.readyState !== 1) return;
    this.onmessage?.({ data: text });
    // Read: the worker may send more (its flow control, as a socket's buffer would be).
    this.host.post({ type: 'read', socket: this.id, bytes: text.length });
  }

  close(): void {
    if (this.readyState >= 2) return;
    if (this.readyState === 1) this.host.post({ type: 'disconnect', socket: this.id });
    this.closed(1000, '');
  }

  closed(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.host.forget(this);
    this.onclose?.({ code, reason });
  }
}
