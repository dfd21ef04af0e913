import type { Actor } from 'xstate';
import type { RouteResult } from '../router/route-matcher';
import { applyLayeredHeaderMutations } from '../router/header-mutations';
import { startTraced, stopTraced, type EngineContext } from '../seams/actors';
import { post } from '../seams/clock';
import type { StreamSteps } from '../seams/step';
import type { ActorMeta } from '../seams/tracer';
import type {
  DecoderFilterCallbacks,
  EncoderFilterCallbacks,
  FilterDataStatus,
  LocalReplyOptions,
  StreamDecoderFilter,
  StreamEncoderFilter,
  StreamFilter,
} from './filter';
import { HeaderMap, type RequestHead, type ResponseHead } from './headers';
import type { LocalReplyData, LocalReplyResult } from './local-reply';
import { isUpgradeAccepted } from './upgrade';
import type { StreamInfo } from './stream-info';
import { streamMachine, type StreamMachineOwner } from './stream.machine';
import { filterChainMachine, type FilterChainEvent, type FilterChainOwner, type FilterStop } from './filter-chain.machine';

/** What an ActiveStream needs from its connection manager. */
export interface StreamOwner {
  readonly engine: EngineContext;
  /** HCM proxy_100_continue: upstream 1xx heads go on to the client */
  readonly proxy100Continue: boolean;
  /** an interim (1xx) head to the client, ahead of the response (ActiveStream::encode1xxHeaders) */
  writeInformationalHeaders(stream: ActiveStream, head: ResponseHead): void;
  /** route lookup for this request (RouteMatcher::route), with its facts */
  routeFor(stream: ActiveStream): RouteResult;
  /** an upgrade request that neither the route nor the HCM allows: answered 403 here, true (optional) */
  rejectUpgrade?(stream: ActiveStream): boolean;
  /** local_reply_config (LocalReply::rewrite); undefined when the HCM has none */
  rewriteLocalReply?(stream: ActiveStream, reply: LocalReplyData, headers: HeaderMap): LocalReplyResult | undefined;
  /** HCM response header finishing (server header and the like) */
  finalizeResponseHeaders(head: ResponseHead): void;
  writeResponseHeaders(stream: ActiveStream, head: ResponseHead, endStream: boolean): void;
  /** false when the downstream is slow */
  writeResponseData(stream: ActiveStream, chunk: Uint8Array, endStream: boolean): boolean;
  readDisable(disable: boolean): void;
  onStreamComplete(stream: ActiveStream): void;
  onStreamReset(stream: ActiveStream, reason: string): void;
  /** ActiveStream::onRequestTimeout, run by the stream machine's request_timeout: count it, report it, answer it (`sendTimeoutReply`) */
  onRequestTimeout(stream: ActiveStream): void;
  /** ActiveStream::onIdleTimeout, run by the stream machine's stream_idle_timeout */
  onStreamIdleTimeout(stream: ActiveStream): void;
}

/** The stream's timeouts as its connection manager configures them; 0 = off. */
export interface StreamTimeouts {
  /** HCM request_timeout; 0 as well when the headers ended the request */
  request: number;
  /** HCM stream_idle_timeout (a route's idle_timeout may replace it) */
  streamIdle: number;
}

const NO_TIMEOUTS: StreamTimeouts = { request: 0, streamIdle: 0 };

/** Request body the stream holds for a stopped filter (Envoy's per-stream buffer limit, 1 MiB default). */
const DECODE_BUFFER_LIMIT = 1024 * 1024;

/** The filter chain's states before a response starts: the chain is still on the request. */
const DECODING: ReadonlySet<string> = new Set(['decoding_headers', 'decoding_headers_stopped', 'decoding_data', 'decoding_data_stopped', 'decode_complete']);

/**
 * ConnectionManagerImpl::ActiveStream + FilterManager: runs one request through the
 * decoder filters in order and its response through the encoder filters in reverse.
 * Where the exchange is lives in two machines, the stream's and its filter chain's
 * (`<stream>/filters`); this class holds the data (headers, the filters, the held body),
 * calls the filters, and carries out what the machines decide.
 */
export class ActiveStream implements DecoderFilterCallbacks, EncoderFilterCallbacks, StreamMachineOwner, FilterChainOwner {
  readonly actor: Actor<typeof streamMachine>;
  /** FilterManager's iteration (filter-chain.machine.ts) */
  readonly filterChain: Actor<typeof filterChainMachine>;
  readonly filterChainMeta: ActorMeta;
  /** the connection's engine context, on this request's own clock when it can be held */
  readonly engine: EngineContext;
  /** built when the request head arrives (a route may switch filters off) */
  /** every filter once, in configured order (for onDestroy) */
  private filters: StreamFilter[] = [];
  private decoders: StreamDecoderFilter[] = [];
  private encoders: StreamEncoderFilter[] = [];
  /** body held for a stopped filter, in order */
  private held: Array<{ chunk: Uint8Array; endStream: boolean }> = [];
  private heldBytes = 0;
  /** setDecoderBufferLimit: what a buffering filter may hold before the request fails with 413 */
  private decodeBufferLimit = DECODE_BUFFER_LIMIT;
  /** index of the encoder filter whose encodeData is running, for injectEncodedDataToFilterChain */
  private encodingDataAt = -1;
  private head: RequestHead | undefined;
  private routeResult: RouteResult | undefined;
  // What the stream machine's timers are counted from (stream.machine.ts), on this stream's clock.
  /** when request_timeout runs out */
  private readonly requestDeadline: number;
  /** ActiveStream::idle_timeout_ms_: stream_idle_timeout, or the route's idle_timeout; 0 = off */
  private idleTimeoutMs: number;
  /** the last byte either way (resetIdleTimer), or the start of the idle timeout */
  private lastActivityAt: number;

  constructor(
    private readonly owner: StreamOwner,
    readonly meta: ActorMeta,
    readonly streamInfo: StreamInfo,
    /** FilterChainFactory::createFilterChain, called once the request head is known */
    private readonly createFilters: (stream: ActiveStream) => StreamFilter[],
    /** the stream's random value: weighted clusters and runtime fractions use it */
    readonly randomValue: number,
    /** step mode's hold points (seams/step.ts) */
    readonly steps: StreamSteps,
    timeouts: StreamTimeouts = NO_TIMEOUTS,
  ) {
    this.engine = steps.clock === owner.engine.clock ? owner.engine : { ...owner.engine, clock: steps.clock };
    const now = this.engine.clock.now();
    this.requestDeadline = now + timeouts.request;
    this.idleTimeoutMs = timeouts.streamIdle;
    this.lastActivityAt = now;
    this.actor = startTraced(this.engine, streamMachine, { input: { owner: this, requestTimeout: timeouts.request }, path: meta.actor, kind: 'stream', ids: meta.ids });
    this.filterChainMeta = { actor: `${meta.actor}/filters`, machine: 'filter_chain', ids: meta.ids, envoy: {} };
    this.filterChain = startTraced(this.engine, filterChainMachine, { input: { owner: this }, path: this.filterChainMeta.actor, kind: 'filter_chain', ids: meta.ids });
  }

  /** the stream machine reached complete or reset */
  private get ended(): boolean {
    return this.actor.getSnapshot().status !== 'active';
  }

  /** the filter chain is still on the request (no response has started) */
  private get decoding(): boolean {
    return !this.ended && DECODING.has(this.filterChain.getSnapshot().value);
  }

  /** a response (the proxy's own or upstream's) has begun */
  private get responseStarted(): boolean {
    return !DECODING.has(this.filterChain.getSnapshot().value);
  }

  /** sendLocalReply decided the response: the rest of the request is read and dropped */
  private get localReplySent(): boolean {
    return this.filterChain.getSnapshot().context.localReply;
  }

  /** the codec has decoded the request's last byte */
  get requestComplete(): boolean {
    return this.actor.getSnapshot().context.requestComplete;
  }

  /** the stream machine is in `upgraded`: a tunnel after a 101 */
  get upgraded(): boolean {
    return this.actor.getSnapshot().value === 'upgraded';
  }

  get isHeadRequest(): boolean {
    return this.head?.method === 'HEAD';
  }

  // --- decode path (from the codec) --------------------------------------------------

  decodeHeaders(head: RequestHead, endStream: boolean): void {
    const tracer = this.engine.tracer;
    if (tracer.enabled) {
      tracer.fact(this.meta, 'codec.request_headers', { method: head.method, path: head.path, authority: head.authority, protocol: head.protocol, headers: head.headers.toObject(), endStream }, 'ConnectionManagerImpl::ActiveStream::decodeHeaders');
    }
    this.head = head;
    this.streamInfo.request = head;
    this.actor.send({ type: 'stream.decode.headers', endStream });
    if (endStream) this.streamInfo.requestCompleteAt = this.engine.clock.now();
    // The stream was just spawned in decoding_headers: a breakpoint there holds it before any filter runs.
    this.steps.after(this.meta, this.actor, () => {
      if (this.ended) return;
      // ActiveStream::decodeHeaders: an upgrade no config allows is refused before any filter runs.
      if (this.owner.rejectUpgrade?.(this)) return;
      this.createFilterChain();
      this.iterateDecodeHeaders(0, endStream);
    });
  }

  decodeData(chunk: Uint8Array, endStream: boolean): void {
    this.steps.run(() => this.decodeDataNow(chunk, endStream));
  }

  private decodeDataNow(chunk: Uint8Array, endStream: boolean): void {
    if (this.ended) return;
    this.streamInfo.bytesReceived += chunk.byteLength;
    this.actor.send({ type: 'stream.decode.data', endStream });
    if (endStream) this.streamInfo.requestCompleteAt = this.engine.clock.now();
    // Once a local reply is decided, the rest of the body is read and dropped.
    if (this.localReplySent) return;
    if (this.upgraded) {
      // Tunnel bytes: every decoder sees them, in order, as body data that never ends.
      for (const filter of this.decoders) {
        if ((filter.decodeData?.(chunk, false) ?? 'Continue') !== 'Continue') break;
      }
      return;
    }
    this.iterateDecodeData(0, chunk, endStream);
  }

  // --- DecoderFilterCallbacks -------------------------------------------------------

  route(): RouteResult {
    if (!this.routeResult) {
      this.routeResult = this.owner.routeFor(this);
      // %ROUTE_NAME% is the stream's route, whichever filter looked it up first.
      if (this.routeResult.matched) this.streamInfo.routeName = this.routeResult.route.name;
    }
    return this.routeResult;
  }

  /**
   * ActiveStreamFilterBase::commonContinue: headers held by a stopped filter go on to the
   * next one, then the body held for it; or, when only body was held, that body goes on.
   */
  continueDecoding(): void {
    if (!this.head || !this.decoding) return;
    const { headersStoppedAt, dataStoppedAt } = this.filterChain.getSnapshot().context;
    if (headersStoppedAt >= 0) {
      const tracer = this.engine.tracer;
      if (tracer.enabled) {
        tracer.fact(this.meta, 'stream.decoder_filter', { filter: this.decoders[headersStoppedAt]!.name, index: headersStoppedAt, phase: 'headers', call: 'continue', heldBytes: this.heldBytes }, 'ActiveStreamDecoderFilter::continueDecoding');
      }
      this.sendFilters({ type: 'filters.decode.headers.continue' }, () => {
        if (!this.decoding) return;
        this.iterateDecodeHeaders(headersStoppedAt + 1, this.requestComplete && this.held.length === 0);
        if (!this.decoding) return;
        this.releaseHeld(headersStoppedAt + 1);
      });
    } else if (dataStoppedAt >= 0) {
      this.releaseHeld(dataStoppedAt + 1);
    }
  }

  sendLocalReply(status: number, body: string, options: LocalReplyOptions): void {
    this.steps.run(() => this.sendLocalReplyNow(status, body, options));
  }

  private sendLocalReplyNow(status: number, body: string, options: LocalReplyOptions): void {
    if (this.ended) return;
    if (this.responseStarted) {
      this.resetStream(`local reply ${status} after response started`);
      return;
    }
    const info = this.streamInfo;
    if (options.flag) info.setFlag(options.flag);
    info.responseCodeDetails = options.details;
    const headers = new HeaderMap();
    for (const [name, value] of options.headers ?? []) headers.add(name, value);
    options.modifyHeaders?.(headers);
    const route = this.routeResult;
    if (route?.matched) {
      applyLayeredHeaderMutations(headers, 'response', { route: route.route, vhost: route.vhost });
    }
    // Utility::sendLocalReply: local_reply_config may rewrite status, body and headers; the
    // body's content type is set unless a filter chose one and the body is still its.
    const typeBefore = headers.get('content-type');
    const rewritten = this.owner.rewriteLocalReply?.(this, { status, body }, headers);
    const sentBody = rewritten?.body ?? body;
    const tracer = this.engine.tracer;
    if (tracer.enabled) {
      const mapped = rewritten ? { originalStatus: status, mapper: rewritten.mapper } : {};
      tracer.fact(this.meta, 'stream.local_reply', { status: rewritten?.status ?? status, flag: options.flag ?? null, details: options.details, body: sentBody, ...mapped }, 'FilterManager::sendLocalReply');
    }
    if (rewritten) status = rewritten.status;
    const bytes = new TextEncoder().encode(sentBody);
    if (bytes.byteLength > 0) {
      const typeKept = headers.get('content-type') === typeBefore;
      if (typeBefore === undefined || (sentBody !== body && typeKept)) headers.set('content-type', rewritten?.contentType ?? 'text/plain');
    } else {
      headers.remove('content-type');
    }
    headers.set('content-length', String(bytes.byteLength));
    const endStream = bytes.byteLength === 0;
    this.encodeHeadersInternal({ status, headers }, endStream, true);
    if (!endStream) this.encodeData(bytes, true);
  }

  /**
   * ActiveStreamDecoderFilter::encode1xxHeaders: without proxy_100_continue the interim
   * head is swallowed here, so a client that already had the proxy's own 100 Continue
   * never sees a second one. Encoder filters have no 1xx hook in this engine.
   */
  encode1xxHeaders(head: ResponseHead): void {
    this.steps.run(() => {
      if (this.ended || this.responseStarted) return;
      const forwarded = this.owner.proxy100Continue;
      const tracer = this.engine.tracer;
      if (tracer.enabled) {
        tracer.fact(this.meta, 'stream.1xx_headers', { status: head.status, forwarded }, forwarded ? 'ConnectionManagerImpl::ActiveStream::encode1xxHeaders' : 'ActiveStreamDecoderFilter::encode1xxHeaders (proxy_100_continue is false)');
      }
      if (forwarded) this.owner.writeInformationalHeaders(this, head);
    });
  }

  encodeHeaders(head: ResponseHead, endStream: boolean): void {
    this.steps.run(() => this.encodeHeadersInternal(head, endStream, false));
  }

  encodeData(chunk: Uint8Array, endStream: boolean): void {
    this.steps.run(() => this.encodeDataNow(chunk, endStream));
  }

  private encodeDataNow(chunk: Uint8Array, endStream: boolean): void {
    this.iterateEncodeData(0, chunk, endStream);
  }

  /** From encoder `from` on; a filter that answers other than Continue keeps the chunk (or injected its own). */
  private iterateEncodeData(from: number, chunk: Uint8Array, endStream: boolean): void {
    if (this.ended) return;
    for (let i = from; i < this.encoders.length; i++) {
      const filter = this.encoders[i]!;
      if (!filter.encodeData) continue;
      const outer = this.encodingDataAt;
      this.encodingDataAt = i;
      const status = filter.encodeData(chunk, endStream);
      this.encodingDataAt = outer;
      if (status !== 'Continue') return;
    }
    this.streamInfo.bytesSent += chunk.byteLength;
    const writable = this.owner.writeResponseData(this, chunk, endStream);
    if (!writable) this.actor.send({ type: 'stream.downstream.above_high_watermark' });
    if (endStream) {
      this.sendFilters({ type: 'filters.encode.complete' }, () => {
        if (this.ended) return;
        this.actor.send({ type: 'stream.encode.complete' });
        this.steps.after(this.meta, this.actor, () => this.onEncodeComplete());
      });
    }
  }

  /**
   * StreamEncoderFilterCallbacks::injectEncodedDataToFilterChain: from inside its encodeData,
   * a filter sends `chunk` on to the encoders after it (the compressor's output) and then
   * answers StopIterationNoBuffer for the chunk it was given.
   */
  injectEncodedDataToFilterChain(chunk: Uint8Array, endStream: boolean): void {
    if (this.encodingDataAt < 0) throw new Error('injectEncodedDataToFilterChain outside encodeData');
    this.iterateEncodeData(this.encodingDataAt + 1, chunk, endStream);
  }

  setDecoderBufferLimit(limit: number): void {
    this.decodeBufferLimit = limit;
  }

  continueEncoding(): void {
    // Encoder filters in this engine do not stop iteration yet; nothing is held back.
  }

  onDecoderFilterAboveWriteBufferHighWatermark(): void {
    this.owner.readDisable(true);
  }

  onDecoderFilterBelowWriteBufferLowWatermark(): void {
    this.owner.readDisable(false);
  }

  resetStream(reason: string): void {
    if (this.ended) return;
    this.actor.send({ type: 'stream.reset', reason });
    this.finish();
    this.owner.onStreamReset(this, reason);
  }

  // --- timers (the stream machine's `after` transitions) ------------------------------

  /** ActiveStream::resetIdleTimer: bytes moved for the stream; the idle timer counts from now. */
  resetIdleTimer(): void {
    this.lastActivityAt = this.engine.clock.now();
  }

  /** ActiveStream::refreshIdleTimeout: the route's idle_timeout replaces the HCM's, counted from now. */
  refreshIdleTimeout(ms: number): void {
    this.idleTimeoutMs = ms;
    this.lastActivityAt = this.engine.clock.now();
    this.actor.send({ type: 'stream.idle_timeout.refresh' });
  }

  /** the idle timeout in force for this stream (for its `timer.fired` fact) */
  get idleTimeout(): number {
    return this.idleTimeoutMs;
  }

  requestTimeLeft(): number {
    return this.requestDeadline - this.engine.clock.now();
  }

  streamIdleTimeLeft(): number | undefined {
    if (this.idleTimeoutMs <= 0) return undefined;
    return this.lastActivityAt + this.idleTimeoutMs - this.engine.clock.now();
  }

  onRequestTimeout(): void {
    this.owner.onRequestTimeout(this);
  }

  onStreamIdleTimeout(): void {
    this.owner.onStreamIdleTimeout(this);
  }

  /**
   * The reply of a timeout of the stream machine. The timer's action runs inside the
   * machine's step, and the reply drives that same machine, so it is made once the step is
   * over, as the retry machine's next attempt is; it then runs straight on, so a step that
   * fired the timer goes on to the reply's first state change and holds there.
   */
  sendTimeoutReply(status: number, body: string, options: LocalReplyOptions): void {
    post(this.engine.clock, () => this.sendLocalReplyNow(status, body, options));
  }

  // --- StreamMachineOwner / FilterChainOwner ----------------------------------------

  notifyAboveWriteBufferHighWatermark(): void {
    for (const f of this.decoders) f.onAboveWriteBufferHighWatermark?.();
  }

  notifyBelowWriteBufferLowWatermark(): void {
    for (const f of this.decoders) f.onBelowWriteBufferLowWatermark?.();
  }

  onIterationStopped(stop: FilterStop): void {
    const tracer = this.engine.tracer;
    if (tracer.enabled) {
      const envoy = stop.phase === 'headers' ? 'ActiveStreamDecoderFilter::decodeHeaders (StopIteration)' : `ActiveStreamDecoderFilter::decodeData (${stop.status})`;
      tracer.fact(this.filterChainMeta, 'filter_chain.stopped', { ...stop }, envoy);
    }
  }

  onIterationContinued(stop: FilterStop): void {
    const tracer = this.engine.tracer;
    if (tracer.enabled) tracer.fact(this.filterChainMeta, 'filter_chain.continued', { ...stop }, 'ActiveStreamFilterBase::commonContinue');
  }

  readDisable(disable: boolean): void {
    this.owner.readDisable(disable);
  }

  // --- from the connection manager ---------------------------------------------------

  /** The downstream can take more again: let filters resume their upstream reads. */
  onBelowWriteBufferLowWatermark(): void {
    this.actor.send({ type: 'stream.downstream.below_low_watermark' });
  }

  /** The client went away mid-exchange (response flag DC). */
  onDownstreamReset(): void {
    if (this.ended) {
      // Held at complete by step mode: the response is out; the stream just ends here.
      this.finish();
      return;
    }
    this.streamInfo.setFlag('DC');
    this.actor.send({ type: 'stream.reset', reason: 'downstream connection termination' });
    this.finish();
  }

  // --- internals ---------------------------------------------------------------------

  /**
   * An event for the filter chain; when it moved the chain to another state, that is a
   * hold point for step mode and `rest` runs behind it.
   */
  private sendFilters(event: FilterChainEvent, rest?: () => void): void {
    const before = this.filterChain.getSnapshot().value;
    this.filterChain.send(event);
    if (this.filterChain.getSnapshot().value !== before) this.steps.after(this.filterChainMeta, this.filterChain, rest);
    else rest?.();
  }

  /** The HCM's filter chain for this request; decoders in order, encoders in reverse. */
  private createFilterChain(): void {
    const filters = this.createFilters(this);
    this.filters = filters;
    this.decoders = filters.filter((f): f is StreamFilter & StreamDecoderFilter => typeof f.decodeHeaders === 'function');
    this.encoders = filters.filter((f): f is StreamFilter & StreamEncoderFilter => typeof f.encodeHeaders === 'function').reverse();
    // A filter needs only the callbacks of the directions it handles.
    for (const f of this.decoders) f.setDecoderFilterCallbacks?.(this);
    for (const f of this.encoders) f.setEncoderFilterCallbacks?.(this);
  }

  private iterateDecodeHeaders(from: number, endStream: boolean): void {
    const head = this.head!;
    const tracer = this.engine.tracer;
    for (let i = from; i < this.decoders.length; i++) {
      const filter = this.decoders[i]!;
      // Reported on the way in and on the way out: what the filter did happens between.
      if (tracer.enabled) {
        tracer.fact(this.meta, 'stream.decoder_filter', { filter: filter.name, index: i, phase: 'headers', call: 'enter' }, 'ActiveStreamDecoderFilter::decodeHeaders');
      }
      const status = filter.decodeHeaders(head, endStream);
      if (tracer.enabled) {
        tracer.fact(this.meta, 'stream.decoder_filter', { filter: filter.name, index: i, phase: 'headers', call: 'return', status }, 'ActiveStreamDecoderFilter::decodeHeaders');
      }
      if (!this.decoding) return;
      if (status === 'StopIteration') {
        // The last decoder (the router) keeps the headers: iteration is over, not stopped.
        if (i === this.decoders.length - 1) this.decodeHeadersDone(endStream);
        else this.sendFilters({ type: 'filters.decode.headers.stopped', index: i, filter: filter.name });
        return;
      }
    }
    this.decodeHeadersDone(endStream);
  }

  /** Behind whatever a filter parked on the way (the router holding at a breakpoint). */
  private decodeHeadersDone(endStream: boolean): void {
    this.steps.run(() => {
      if (!this.decoding) return;
      this.sendFilters({ type: 'filters.decode.headers.done', endStream }, () => {
        if (this.ended) return;
        this.actor.send({ type: 'stream.decode.headers.done', endStream });
        this.steps.after(this.meta, this.actor);
      });
    });
  }

  /**
   * One body chunk through the decoders from `from` up to the filter holding the headers
   * (all of them once the headers went through). See FilterDataStatus for what each
   * answer does.
   */
  private iterateDecodeData(from: number, chunk: Uint8Array, endStream: boolean): void {
    const chain = () => this.filterChain.getSnapshot().context;
    const stoppedAt = chain().headersStoppedAt;
    const limit = stoppedAt >= 0 ? stoppedAt : this.decoders.length - 1;
    for (let i = from; i <= limit; i++) {
      const filter = this.decoders[i]!;
      const status: FilterDataStatus = filter.decodeData ? filter.decodeData(chunk, endStream) : 'Continue';
      if (!this.decoding) return;
      if (status === 'Continue') {
        // Continue from the filter that holds headers (or body) lets everything held go on.
        if (i === chain().headersStoppedAt || i === chain().dataStoppedAt) {
          this.hold(i, filter.name, chunk, endStream, status);
          this.continueDecoding();
          return;
        }
        continue;
      }
      if (status === 'StopIterationNoBuffer') break;
      this.hold(i, filter.name, chunk, endStream, status);
      return;
    }
    if (endStream) {
      this.steps.run(() => {
        if (!this.decoding) return;
        this.sendFilters({ type: 'filters.decode.complete' }, () => {
          if (this.ended) return;
          this.actor.send({ type: 'stream.decode.complete' });
          this.steps.after(this.meta, this.actor);
        });
      });
    }
  }

  /** Keep a chunk for the filter at `index`; the filter chain decides what the buffer limit makes of it. */
  private hold(index: number, name: string, chunk: Uint8Array, endStream: boolean, status: FilterDataStatus): void {
    this.held.push({ chunk, endStream });
    this.heldBytes += chunk.byteLength;
    const wasTooLarge = this.filterChain.getSnapshot().context.payloadTooLarge;
    this.sendFilters({ type: 'filters.decode.data.held', index, filter: name, status, heldBytes: this.heldBytes, bufferLimit: this.decodeBufferLimit });
    // FilterManager: a buffering filter over the limit fails the request.
    if (!wasTooLarge && this.filterChain.getSnapshot().context.payloadTooLarge) {
      this.sendLocalReply(413, 'Payload Too Large', { details: 'request_payload_too_large' });
    }
  }

  /** Everything held goes on from filter `from`; a filter after it may hold it again. */
  private releaseHeld(from: number): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.sendFilters({ type: 'filters.decode.data.release' }, () => {
      for (let k = 0; k < held.length; k++) {
        const { chunk, endStream } = held[k]!;
        if (this.filterChain.getSnapshot().context.dataStoppedAt >= 0) {
          // Held again further on: the rest waits behind it, in order.
          this.held.push({ chunk, endStream });
          this.heldBytes += chunk.byteLength;
          continue;
        }
        this.iterateDecodeData(from, chunk, endStream);
        if (!this.decoding) return;
      }
    });
  }

  private encodeHeadersInternal(head: ResponseHead, endStream: boolean, local: boolean): void {
    if (this.ended) return;
    this.sendFilters({ type: 'filters.encode.headers', local }, () => {
      if (this.ended) return;
      this.actor.send({ type: 'stream.encode.headers', local });
      this.steps.after(this.meta, this.actor, () => this.runEncodeHeaders(head, endStream));
    });
  }

  private runEncodeHeaders(head: ResponseHead, endStream: boolean): void {
    if (this.ended) return;
    const tracer = this.engine.tracer;
    for (let i = 0; i < this.encoders.length; i++) {
      const filter = this.encoders[i]!;
      const status = filter.encodeHeaders(head, endStream);
      if (tracer.enabled) {
        tracer.fact(this.meta, 'stream.encoder_filter', { filter: filter.name, index: i, phase: 'headers', call: 'return', status }, 'ActiveStreamEncoderFilter::encodeHeaders');
      }
    }
    this.owner.finalizeResponseHeaders(head);
    const info = this.streamInfo;
    info.response = head;
    info.responseCode = head.status;
    info.firstResponseByteAt = this.engine.clock.now();
    this.owner.writeResponseHeaders(this, head, endStream);
    if (!endStream && isUpgradeAccepted(this.head?.headers, head.status, head.headers)) {
      const tracer = this.engine.tracer;
      if (tracer.enabled) tracer.fact(this.meta, 'stream.upgrade', { upgrade: head.headers.get('upgrade') ?? null, decision: 'tunnel' }, 'ConnectionManagerImpl::ActiveStream::encodeHeaders (101)');
      this.sendFilters({ type: 'filters.encode.headers.done', endStream: false }, () => {
        if (this.ended) return;
        this.actor.send({ type: 'stream.upgrade.accepted' });
        this.steps.after(this.meta, this.actor);
      });
      return;
    }
    this.sendFilters({ type: 'filters.encode.headers.done', endStream }, () => {
      if (this.ended) return;
      this.actor.send({ type: 'stream.encode.headers.done', endStream });
      this.steps.after(this.meta, this.actor, () => {
        if (endStream) this.onEncodeComplete();
      });
    });
  }

  private onEncodeComplete(): void {
    this.finish();
    this.owner.onStreamComplete(this);
  }

  /** ActiveStream's end: the filters are destroyed and both actors stopped (once; a second call finds nothing left). */
  private finish(): void {
    if (this.streamInfo.endAt !== undefined) return;
    this.held = [];
    this.heldBytes = 0;
    if (this.filterChain.getSnapshot().context.readDisabled) {
      // The next request on this connection must still be read.
      this.owner.readDisable(false);
    }
    this.streamInfo.endAt = this.engine.clock.now();
    for (const f of this.filters) f.onDestroy?.();
    this.steps.end();
    stopTraced(this.engine, this.filterChain);
    stopTraced(this.engine, this.actor);
  }
}
