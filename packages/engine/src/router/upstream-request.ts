import type { Actor } from 'xstate';
import type { RequestHead, ResponseHead } from '../http/headers';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import type { StreamSteps } from '../seams/step';
import type { ActorMeta } from '../seams/tracer';
import type { CodecClient, RequestEncoder, ResponseDecoder, StreamResetReason } from '../upstream/codec-client';
import type { Cancellable, Http1ConnPool, PoolCallbacks, PoolFailureReason } from '../upstream/conn-pool';
import type { Host } from '../upstream/host';
import { isUpgradeAccepted } from '../http/upgrade';
import { upstreamRequestMachine, type UpstreamRequestMachineOwner } from './upstream-request.machine';

/** What the router hears back from one upstream attempt. */
export interface UpstreamRequestOwner {
  onUpstream1xxHeaders(request: UpstreamRequest, head: ResponseHead): void;
  onUpstreamHeaders(request: UpstreamRequest, head: ResponseHead, endStream: boolean): void;
  onUpstreamData(request: UpstreamRequest, chunk: Uint8Array, endStream: boolean): void;
  onUpstreamReset(request: UpstreamRequest, reason: StreamResetReason, detail: string | undefined): void;
  /** Router::Filter::onPerTryTimeout: the attempt's per-try timeout fired before its response headers */
  onPerTryTimeout(request: UpstreamRequest): void;
  /** the upstream can take more request body */
  onUpstreamWritable(): void;
}

const POOL_FAILURE_TO_RESET: Record<PoolFailureReason, StreamResetReason> = {
  Overflow: 'Overflow',
  LocalConnectionFailure: 'LocalConnectionFailure',
  RemoteConnectionFailure: 'RemoteConnectionFailure',
  Timeout: 'ConnectionTimeout',
};

/**
 * Router::UpstreamRequest: one attempt. Holds request body that arrives before the pool
 * has a connection, then streams it; hands the response back to the router.
 */
export class UpstreamRequest implements PoolCallbacks, ResponseDecoder, UpstreamRequestMachineOwner {
  readonly actor: Actor<typeof upstreamRequestMachine>;
  readonly meta: ActorMeta;
  private cancellable: Cancellable | null = null;
  private client: CodecClient | undefined;
  private encoder: RequestEncoder | undefined;
  private buffered: Uint8Array[] = [];
  private bufferedEnd = false;
  bufferedBytes = 0;
  /** engine-clock time the per-try timeout fires (UpstreamRequest::per_try_timeout_), once set up */
  private perTryDeadline: number | undefined;
  /** engine-clock time the first request byte went upstream / response headers arrived */
  sentAt: number | undefined;
  /** the whole request (headers and body) has been written upstream */
  requestComplete = false;
  responseHeadersAt: number | undefined;

  constructor(
    private readonly engine: EngineContext,
    /** the request's hold points (step mode): pool and response callbacks wait while it is held */
    private readonly steps: StreamSteps,
    private readonly owner: UpstreamRequestOwner,
    private readonly pool: Http1ConnPool,
    readonly host: Host,
    private readonly head: RequestHead,
    private readonly requestEnded: boolean,
    parent: ActorMeta,
    readonly attempt: number,
  ) {
    this.meta = {
      actor: `${parent.actor}/upstream:${attempt}`,
      machine: 'upstream_request',
      ids: { ...parent.ids, cluster: pool.cluster.name, host: host.key, pool: pool.meta.ids.pool },
      envoy: {},
    };
    this.bufferedEnd = requestEnded;
    this.actor = startTraced(engine, upstreamRequestMachine, { input: { owner: this }, path: this.meta.actor, kind: 'upstream_request', ids: this.meta.ids });
  }

  /** reset, failed or finished: the machine is in a final state (or stopped) */
  private get done(): boolean {
    return this.actor.getSnapshot().status !== 'active';
  }

  /** UpstreamRequest::setupPerTryTimeout: the attempt's per-try timeout (`ms`, 0 = none) runs from now. */
  setupPerTryTimeout(ms: number): void {
    if (ms <= 0 || this.perTryDeadline !== undefined || this.done) return;
    this.perTryDeadline = this.engine.clock.now() + ms;
    this.actor.send({ type: 'upstream.per_try.started' });
  }

  perTryTimeLeft(): number | undefined {
    return this.perTryDeadline === undefined ? undefined : Math.max(0, this.perTryDeadline - this.engine.clock.now());
  }

  onPerTryTimeout(): void {
    this.owner.onPerTryTimeout(this);
  }

  start(): void {
    this.cancellable = this.pool.newStream(this);
  }

  // --- request direction -------------------------------------------------------------

  /** Body from downstream; returns false when the caller should stop reading. */
  encodeData(chunk: Uint8Array, endStream: boolean): boolean {
    if (this.done) return true;
    if (!this.encoder) {
      if (chunk.byteLength > 0) this.buffered.push(chunk);
      this.bufferedBytes += chunk.byteLength;
      if (endStream) this.bufferedEnd = true;
      return true;
    }
    const writable = this.encoder.encodeData(chunk, endStream);
    if (endStream) this.requestSent();
    return writable;
  }

  readDisable(disable: boolean): void {
    this.encoder?.readDisable(disable);
  }

  /** Give up on this attempt (downstream went away, timeout). */
  reset(): void {
    if (this.done) return;
    if (this.cancellable) {
      this.cancellable.cancel();
      this.cancellable = null;
    }
    this.client?.reset();
    this.actor.send({ type: 'upstream.reset', reason: 'local reset' });
    stopTraced(this.engine, this.actor);
  }

  // --- pool callbacks ----------------------------------------------------------------

  onPoolReady(client: CodecClient, info: { clientId: number; reused: boolean; waitedMs: number }): void {
    this.cancellable = null;
    if (this.done) return;
    this.client = client;
    this.encoder = client.newStream(this);
    this.steps.run(() => {
      if (this.done) return;
      this.actor.send({ type: 'upstream.pool.ready' });
      this.steps.after(this.meta, this.actor, () => this.sendRequest(info));
    });
  }

  /** UpstreamRequest::onPoolReady, last part: the headers and any body buffered so far go upstream. */
  private sendRequest(info: { clientId: number; reused: boolean; waitedMs: number }): void {
    if (this.done || !this.encoder) return;
    this.sentAt = this.engine.clock.now();
    const endStream = this.bufferedEnd && this.buffered.length === 0;
    this.encoder.encodeHeaders(this.head, endStream);
    if (endStream) {
      this.requestSent();
      return;
    }
    const chunks = this.buffered;
    this.buffered = [];
    for (let i = 0; i < chunks.length; i++) {
      const last = i === chunks.length - 1 && this.bufferedEnd;
      this.encoder.encodeData(chunks[i]!, last);
    }
    if (this.bufferedEnd && chunks.length > 0) this.requestSent();
    this.bufferedBytes = 0;
    void info;
    this.owner.onUpstreamWritable();
  }

  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string | undefined): void {
    this.cancellable = null;
    if (this.done) return;
    this.steps.run(() => {
      this.actor.send({ type: 'upstream.pool.failure', reason });
      stopTraced(this.engine, this.actor);
      this.steps.after(this.meta, this.actor, () => this.owner.onUpstreamReset(this, POOL_FAILURE_TO_RESET[reason], transportFailureReason));
    });
  }

  // --- response direction ------------------------------------------------------------

  /** UpstreamRequest::decode1xxHeaders: an interim head; the attempt still waits for the final one. */
  decode1xxHeaders(head: ResponseHead): void {
    this.steps.run(() => {
      if (this.done) return;
      const tracer = this.engine.tracer;
      if (tracer.enabled) {
        tracer.fact(this.meta, 'upstream.response_1xx_headers', { status: head.status, headers: head.headers.toObject() }, 'UpstreamRequest::decode1xxHeaders');
      }
      this.owner.onUpstream1xxHeaders(this, head);
    });
  }

  decodeHeaders(head: ResponseHead, endStream: boolean): void {
    this.steps.run(() => {
      if (this.done) return;
      this.responseHeadersAt = this.engine.clock.now();
      const tracer = this.engine.tracer;
      if (tracer.enabled) {
        tracer.fact(this.meta, 'upstream.response_headers', { status: head.status, endStream, headers: head.headers.toObject() }, 'UpstreamRequest::decodeHeaders');
      }
      this.actor.send({ type: 'upstream.headers', endStream, upgrade: !endStream && isUpgradeAccepted(this.head.headers, head.status, head.headers) });
      if (endStream) stopTraced(this.engine, this.actor);
      this.steps.after(this.meta, this.actor, () => this.owner.onUpstreamHeaders(this, head, endStream));
    });
  }

  decodeData(chunk: Uint8Array, endStream: boolean): void {
    this.steps.run(() => {
      if (this.done) return;
      if (!endStream) {
        this.owner.onUpstreamData(this, chunk, false);
        return;
      }
      this.actor.send({ type: 'upstream.complete' });
      stopTraced(this.engine, this.actor);
      this.steps.after(this.meta, this.actor, () => this.owner.onUpstreamData(this, chunk, true));
    });
  }

  onResetStream(reason: StreamResetReason, detail?: string): void {
    this.steps.run(() => {
      if (this.done) return;
      this.engine.tracer.fact(this.meta, 'upstream.reset', { reason, detail: detail ?? null }, 'UpstreamRequest::onResetStream');
      this.actor.send({ type: 'upstream.reset', reason });
      stopTraced(this.engine, this.actor);
      this.steps.after(this.meta, this.actor, () => this.owner.onUpstreamReset(this, reason, detail));
    });
  }

  onBelowWriteBufferLowWatermark(): void {
    this.owner.onUpstreamWritable();
  }

  private requestSent(): void {
    this.requestComplete = true;
    this.engine.tracer.fact(this.meta, 'upstream.request_sent', { bytes: this.client?.requestBytesWritten ?? 0 }, 'UpstreamRequest::encodeData');
    this.actor.send({ type: 'upstream.request.sent' });
    this.steps.after(this.meta, this.actor);
  }
}
