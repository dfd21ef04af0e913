import { and, assign, setup } from 'xstate';
import { NEVER_MS } from '../fsm/compile';

/**
 * Http::ConnectionManagerImpl at the connection level: its `drain_state_` and its three
 * connection timers, one actor per downstream HTTP connection at `<connection>/hcm`. The
 * class beside it (connection-manager.ts) holds the codec and the stream, counts the
 * stats, writes the `timer.fired` facts and closes the connection when an action says so.
 *
 * - `awaiting_data`: no byte yet, so Envoy has no codec; a timer that fires here closes at
 *   once (onIdleTimeout / onConnectionDurationTimeout with `!codec_`).
 * - `open` (DrainState::NotDraining) and `draining` (Draining: startDrainSequence), each
 *   `idle` or `active` (a stream in flight; HTTP/1 has one at a time), and `closing`
 *   (Closing): `active` until the last stream ends, then `flushing`, the close issued and
 *   what is queued still being written. `closed` is the socket gone.
 * - What sets Closing: a request that does not keep the connection (HTTP/1.0, `connection:
 *   close`, an upgrade), max_requests_per_connection, a response before its request's end
 *   (codec errors answer so), a response the codec frames by the close, the listener
 *   draining (drain_close), or any response once draining: HTTP/1 says so with
 *   `connection: close`, so the response ends the connection.
 *
 * Timers, `after` transitions on the engine clock:
 * - `idle_timeout` (idle_timer_) on `awaiting_data` and on `open`, counted from the
 *   connection's start or its last stream's end. Envoy disables it while a stream is
 *   active and enables it again at the stream's end; here, as the stream machine's idle
 *   timer, it lives on `open` across streams and wakes once per idle period: it fires when
 *   no stream is active and the connection has been idle for the whole timeout, else it
 *   re-enters `open` (unseen in the trace: the state does not change) to wait out the rest.
 *   So keep-alive traffic arms no clock timer per request.
 * - `max_connection_duration` (connection_duration_timer_) on `awaiting_data` and `open`,
 *   its delay the time left since the connection's start (a re-entry of `open` re-arms
 *   what is left).
 * - `drain_timeout` (drain_timer_) on `draining`: onDrainTimeout moves to Closing, closing
 *   now or after the stream in flight.
 * Once draining or closing, Envoy's idle and duration timers can still fire, but only to
 * count (drain_state_ is no longer NotDraining); here they stop with `open`.
 */
export interface ConnectionManagerMachineOwner {
  now(): number;
  /** a stream is in flight (ConnectionManagerImpl::streams_ is not empty) */
  readonly hasActiveStream: boolean;
  /** ConnectionManagerImpl::onIdleTimeout: stats and the fact; `then` says what follows */
  onIdleTimeout(then: 'drain' | 'close'): void;
  /** ConnectionManagerImpl::onConnectionDurationTimeout */
  onConnectionDurationTimeout(then: 'drain' | 'close'): void;
  /** ConnectionManagerImpl::onDrainTimeout */
  onDrainTimeout(then: 'close' | 'close after the stream'): void;
  /** drain_close_.drainClose(): the listener drains, so this response closes the connection */
  onDrainClose(): void;
  /** doConnectionClose (ConnectionCloseType::FlushWrite) */
  closeConnection(reason: string): void;
  /** the peer half-closed: close as Envoy's RemoteClose, after what is queued */
  closeOnRemoteEnd(): void;
}

export interface ConnectionManagerMachineInput {
  owner: ConnectionManagerMachineOwner;
  /** idle_timeout in ms; 0 = off */
  idleTimeout: number;
  /** max_connection_duration in ms; 0 = unlimited */
  maxConnectionDuration: number;
  drainTimeout: number;
  /** engine-clock ms the connection started */
  connectedAt: number;
}

export type ConnectionManagerEvent =
  /** ConnectionManagerImpl::onData: bytes read (the first ones give Envoy its codec) */
  | { type: 'hcm.data' }
  /** ConnectionManagerImpl::newStream */
  | { type: 'hcm.stream.begin' }
  /** the stream completed (doEndStream without a reset) */
  | { type: 'hcm.stream.end' }
  /** the stream was reset: an HTTP/1 stream is reset by closing its connection */
  | { type: 'hcm.stream.reset' }
  /** the stream in flight is the connection's last (DrainState::Closing) */
  | { type: 'hcm.close_after_response' }
  /** ActiveStream::encodeHeaders: the response head is about to be written */
  | { type: 'hcm.encode.headers'; listenerDraining: boolean }
  /** the peer sent its FIN */
  | { type: 'hcm.remote.end' }
  /** the connection is gone (ConnectionManagerImpl::onEvent LocalClose / RemoteClose) */
  | { type: 'hcm.closed' };

interface ConnectionManagerContext {
  owner: ConnectionManagerMachineOwner;
  idleTimeout: number;
  maxConnectionDuration: number;
  drainTimeout: number;
  connectedAt: number;
  /** engine-clock ms the connection last had no stream: its start, or its last stream's end */
  idleSince: number;
}

/** A wait no clock can hold wakes at the longest and waits again. */
const wait = (ms: number) => Math.min(NEVER_MS - 1, Math.max(0, ms));

const idleTimeLeft = (c: ConnectionManagerContext) => c.idleSince + c.idleTimeout - c.owner.now();
const durationLeft = (c: ConnectionManagerContext) => c.connectedAt + c.maxConnectionDuration - c.owner.now();

const closeConnection = (reason: string) => ({ type: 'closeConnection', params: { reason } }) as const;

/** What every state but `closed` takes: the socket going away. */
const onClosed = { 'hcm.closed': '#http_connection_manager.closed' } as const;

/** The peer's FIN (half-close off, the HCM's default) closes the connection, a stream in flight or not. */
const onRemoteEnd = { 'hcm.remote.end': { target: '#http_connection_manager.closing.flushing', actions: 'closeOnRemoteEnd' } } as const;

const onStreamReset = { 'hcm.stream.reset': { target: '#http_connection_manager.closing.flushing', actions: closeConnection('stream reset') } } as const;

export const connectionManagerMachine = setup({
  types: {
    input: {} as ConnectionManagerMachineInput,
    context: {} as ConnectionManagerContext,
    events: {} as ConnectionManagerEvent,
  },
  delays: {
    // While a stream is active the idle timer does not run: it looks again a whole timeout later.
    idle_timeout: ({ context }) => (context.idleTimeout <= 0 ? NEVER_MS : wait(context.owner.hasActiveStream ? context.idleTimeout : idleTimeLeft(context))),
    max_connection_duration: ({ context }) => (context.maxConnectionDuration <= 0 ? NEVER_MS : wait(durationLeft(context))),
    drain_timeout: ({ context }) => wait(context.drainTimeout),
  },
  guards: {
    isStreamActive: ({ context }) => context.owner.hasActiveStream,
    isIdleTimerRunning: ({ context }) => context.idleTimeout > 0,
    /** no stream for the whole of idle_timeout */
    isIdleTimeoutReached: ({ context }) => context.idleTimeout > 0 && !context.owner.hasActiveStream && idleTimeLeft(context) <= 0,
    isConnectionDurationLimited: ({ context }) => context.maxConnectionDuration > 0,
    isMaxConnectionDurationReached: ({ context }) => context.maxConnectionDuration > 0 && durationLeft(context) <= 0,
    isListenerDraining: ({ event }) => event.type === 'hcm.encode.headers' && event.listenerDraining,
  },
  actions: {
    recordIdleStart: assign({ idleSince: ({ context }) => context.owner.now() }),
    onIdleTimeout: ({ context }, params: { then: 'drain' | 'close' }) => context.owner.onIdleTimeout(params.then),
    onConnectionDurationTimeout: ({ context }, params: { then: 'drain' | 'close' }) => context.owner.onConnectionDurationTimeout(params.then),
    onDrainTimeout: ({ context }, params: { then: 'close' | 'close after the stream' }) => context.owner.onDrainTimeout(params.then),
    onDrainClose: ({ context }) => context.owner.onDrainClose(),
    closeConnection: ({ context }, params: { reason: string }) => context.owner.closeConnection(params.reason),
    closeOnRemoteEnd: ({ context }) => context.owner.closeOnRemoteEnd(),
  },
}).createMachine({
  id: 'http_connection_manager',
  context: ({ input }) => ({ ...input, idleSince: input.connectedAt }),
  initial: 'awaiting_data',
  states: {
    awaiting_data: {
      meta: { envoy: 'ConnectionManagerImpl::initializeReadFilterCallbacks (no codec yet)' },
      after: {
        idle_timeout: [
          { guard: 'isIdleTimeoutReached', target: 'closing.flushing', actions: [{ type: 'onIdleTimeout', params: { then: 'close' } }, closeConnection('idle timeout')] },
          { guard: 'isIdleTimerRunning', target: 'awaiting_data', reenter: true },
        ],
        max_connection_duration: [
          {
            guard: 'isMaxConnectionDurationReached',
            target: 'closing.flushing',
            actions: [{ type: 'onConnectionDurationTimeout', params: { then: 'close' } }, closeConnection('max connection duration')],
          },
          { guard: 'isConnectionDurationLimited', target: 'awaiting_data', reenter: true },
        ],
      },
      on: { 'hcm.data': 'open', ...onRemoteEnd, ...onClosed },
    },
    // DrainState::NotDraining: responses keep the connection.
    open: {
      after: {
        idle_timeout: [
          { guard: 'isIdleTimeoutReached', target: 'draining', actions: { type: 'onIdleTimeout', params: { then: 'drain' } } },
          { guard: 'isStreamActive', target: '.active', reenter: true },
          { guard: 'isIdleTimerRunning', target: '.idle', reenter: true },
        ],
        max_connection_duration: [
          { guard: and(['isMaxConnectionDurationReached', 'isStreamActive']), target: 'draining.active', actions: { type: 'onConnectionDurationTimeout', params: { then: 'drain' } } },
          { guard: 'isMaxConnectionDurationReached', target: 'draining', actions: { type: 'onConnectionDurationTimeout', params: { then: 'drain' } } },
          { guard: and(['isConnectionDurationLimited', 'isStreamActive']), target: '.active', reenter: true },
          { guard: 'isConnectionDurationLimited', target: '.idle', reenter: true },
        ],
      },
      on: { ...onStreamReset, ...onRemoteEnd, ...onClosed },
      initial: 'idle',
      states: {
        idle: {
          meta: { envoy: 'ConnectionManagerImpl::doEndStream (no stream: idle_timer_ enabled)' },
          on: { 'hcm.stream.begin': 'active' },
        },
        active: {
          meta: { envoy: 'ConnectionManagerImpl::newStream' },
          on: {
            'hcm.stream.end': { target: 'idle', actions: 'recordIdleStart' },
            'hcm.close_after_response': '#http_connection_manager.closing.active',
            'hcm.encode.headers': { guard: 'isListenerDraining', target: '#http_connection_manager.closing.active', actions: 'onDrainClose' },
          },
        },
      },
    },
    // DrainState::Draining (startDrainSequence): the next response says `connection: close`.
    draining: {
      after: {
        drain_timeout: [
          { guard: 'isStreamActive', target: 'closing.active', actions: { type: 'onDrainTimeout', params: { then: 'close after the stream' } } },
          { target: 'closing.flushing', actions: [{ type: 'onDrainTimeout', params: { then: 'close' } }, closeConnection('drain timeout')] },
        ],
      },
      on: { ...onStreamReset, ...onRemoteEnd, ...onClosed },
      initial: 'idle',
      states: {
        idle: {
          meta: { envoy: 'ConnectionManagerImpl::startDrainSequence' },
          on: { 'hcm.stream.begin': 'active' },
        },
        active: {
          meta: { envoy: 'ConnectionManagerImpl::newStream (draining)' },
          on: {
            'hcm.stream.end': { target: 'idle', actions: 'recordIdleStart' },
            'hcm.close_after_response': '#http_connection_manager.closing.active',
            'hcm.encode.headers': [
              { guard: 'isListenerDraining', target: '#http_connection_manager.closing.active', actions: 'onDrainClose' },
              { target: '#http_connection_manager.closing.active' },
            ],
          },
        },
      },
    },
    // DrainState::Closing: no stream after this one.
    closing: {
      on: onClosed,
      initial: 'active',
      states: {
        active: {
          meta: { envoy: 'ConnectionManagerImpl::checkForDeferredClose (DrainState::Closing, a stream in flight)' },
          on: {
            'hcm.stream.end': { target: 'flushing', actions: closeConnection('connection: close') },
            ...onStreamReset,
            ...onRemoteEnd,
          },
        },
        flushing: {
          meta: { envoy: 'ConnectionManagerImpl::doConnectionClose (FlushWrite)' },
        },
      },
    },
    closed: {
      meta: { envoy: 'ConnectionManagerImpl::onEvent (LocalClose / RemoteClose)' },
      type: 'final',
    },
  },
});
