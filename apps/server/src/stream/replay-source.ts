import path from 'node:path';
import type { ControlAction, Subscription } from '@proxyscope/protocol';
import { readTraceFile, type TraceFileInfo } from '../recording/trace-io';
import { ControlError, type StreamClient } from '@proxyscope/serve';
import type { StreamSource } from './ws-endpoint';

/**
 * `proxyscope replay FILE`: the same stream as a live proxy, in mode "replay". Each client
 * gets `hello` (topology from the trace's header) and then the whole trace as history,
 * read from the file again for that client at the pace it reads (so memory stays bounded
 * whatever the file's size), then `history_end`. Nothing is live; controls are refused.
 */
export class ReplaySource implements StreamSource {
  readonly mode = 'replay' as const;
  readonly batchMs = 0;
  private readonly running = new Map<StreamClient, AbortController>();

  constructor(
    readonly file: string,
    readonly info: TraceFileInfo,
  ) {}

  hello() {
    return {
      engineVersion: this.info.header.engineVersion,
      startedAt: this.info.header.startedAt,
      topology: this.info.header.topology,
      history: { events: this.info.events, ...(this.info.firstSeq !== undefined ? { firstSeq: this.info.firstSeq, lastSeq: this.info.lastSeq } : {}) },
      // A trace that starts mid-run begins with its snapshot, replayed as it is.
      ...(this.info.header.snapshot ? { snapshot: this.info.header.snapshot } : {}),
      controls: [],
      trace: { file: path.basename(this.file), events: this.info.events },
    };
  }

  attach(client: StreamClient, history: boolean): void {
    if (history) void this.replay(client);
  }

  detach(client: StreamClient): void {
    this.running.get(client)?.abort();
    this.running.delete(client);
  }

  resubscribe(client: StreamClient, _subscription: Subscription | null, history: boolean): void {
    this.detach(client);
    if (history) void this.replay(client);
  }

  lastSeq(): number {
    return this.info.lastSeq;
  }

  control(action: ControlAction): Record<string, unknown> {
    throw new ControlError('not_supported', `${action}: this is a replay of ${path.basename(this.file)}; there is no proxy to control`);
  }

  sendRequest(): Record<string, unknown> {
    throw new ControlError('not_supported', `send_request: this is a replay of ${path.basename(this.file)}; there is no proxy to send a request through`);
  }

  hostFault(): Promise<Record<string, unknown>> {
    return Promise.reject(new ControlError('not_supported', `host_fault: this is a replay of ${path.basename(this.file)}; there are no upstream hosts`));
  }

  private async replay(client: StreamClient): Promise<void> {
    const abort = new AbortController();
    this.running.set(client, abort);
    const { maxQueuedEvents } = client.limits;
    // Feed slices small enough that the queue never overflows: replay never drops.
    const slice = Math.max(1, Math.floor(maxQueuedEvents / 4));
    let sent = 0;
    try {
      await readTraceFile(
        this.file,
        async (events) => {
          for (let i = 0; i < events.length; i += slice) {
            await client.whenQueueBelow(maxQueuedEvents / 2);
            if (abort.signal.aborted || client.closed) throw Object.assign(new Error('replay aborted'), { name: 'AbortError' });
            sent += client.offer(i === 0 && events.length <= slice ? events : events.slice(i, i + slice), true);
          }
        },
        abort.signal,
      );
      if (!abort.signal.aborted) client.send({ type: 'history_end', events: sent, lastSeq: this.info.lastSeq });
    } catch (err) {
      if ((err as Error).name !== 'AbortError' && !abort.signal.aborted) {
        client.send({ type: 'error', code: 'trace_error', message: `${path.basename(this.file)}: ${(err as Error).message}` });
      }
    } finally {
      if (this.running.get(client) === abort) this.running.delete(client);
    }
  }

  close(): void {
    for (const abort of this.running.values()) abort.abort();
    this.running.clear();
  }
}
