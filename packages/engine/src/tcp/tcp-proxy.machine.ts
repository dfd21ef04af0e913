import { assign, fromCallback, setup } from 'xstate';

/**
 * TcpProxy::Filter: one downstream connection on a tcp_proxy chain, piped to one upstream
 * connection. It connects (retrying other hosts up to max_connect_attempts), then copies
 * bytes both ways until either side closes or nothing moves for idle_timeout. The class
 * beside it (tcp-proxy.ts) owns the sockets, stats and trace facts; this chart decides.
 */
export type TcpProxyCloseReason =
  | 'no_healthy_upstream'
  | 'overflow'
  | 'connect_failed'
  | 'idle_timeout'
  | 'downstream_close'
  | 'upstream_close';

/**
 * How the chart closes an upstream connection it still holds (Network::ConnectionCloseType):
 * FlushWrite writes what is queued and sends FIN, NoFlush drops it. Left out when there is
 * no upstream to close (still connecting) or it is already gone.
 */
export type UpstreamCloseType = 'FlushWrite' | 'NoFlush';

export interface TcpProxyOwner {
  /**
   * One connect attempt (Filter::initializeUpstreamConnection): check the circuit breaker,
   * pick a host, connect. Reports with `tcp.upstream.*` events; the returned function
   * abandons an attempt still in flight.
   */
  connectUpstream(attempt: number, report: (event: TcpProxyEvent) => void): () => void;
  /** the attempt ran out of connect_timeout (Filter::onConnectTimeout) */
  onConnectTimeout(attempt: number): void;
  /** connected: downstream reads resume and what came early goes up */
  onConnected(): void;
  /** the downstream sent FIN: pass it on upstream */
  endUpstream(): void;
  /** the upstream sent FIN: pass it on downstream */
  endDownstream(): void;
  /** the upstream still has bytes it has not written */
  upstreamHasUnflushedData(): boolean;
  /** ms left until idle_timeout since the last byte either way; <= 0 means it ran out */
  idleTimeLeft(): number;
  onDraining(): void;
  /** the Drainer is done (flushed, closed, or idle): upstream_flush_active goes down */
  onDrainerDone(): void;
  onClosed(reason: TcpProxyCloseReason, upstream: UpstreamCloseType | undefined): void;
}

export interface TcpProxyMachineInput {
  owner: TcpProxyOwner;
  /** the cluster's connect_timeout, ms */
  connectTimeout: number;
  maxConnectAttempts: number;
}

export type TcpProxyEvent =
  | { type: 'tcp.upstream.connected' }
  | { type: 'tcp.upstream.connect_failed' }
  | { type: 'tcp.upstream.no_healthy_host' }
  | { type: 'tcp.upstream.overflow' }
  | { type: 'tcp.upstream.end' }
  | { type: 'tcp.upstream.drained' }
  | { type: 'tcp.upstream.closed' }
  | { type: 'tcp.downstream.end' }
  | { type: 'tcp.downstream.closed' };

interface TcpProxyContext extends TcpProxyMachineInput {
  /** connect attempts made so far */
  attempts: number;
  closeReason?: TcpProxyCloseReason;
  closeUpstream?: UpstreamCloseType;
}

/** The idle check wakes at most every 2^31-1 ms, the longest a timer may wait. */
const MAX_TIMER_MS = 2_147_483_647;

export const tcpProxyMachine = setup({
  types: {
    input: {} as TcpProxyMachineInput,
    context: {} as TcpProxyContext,
    events: {} as TcpProxyEvent,
  },
  actors: {
    // The attempt lives only in `connecting`: leaving the state (timeout, close) abandons it.
    establishUpstreamConnection: fromCallback<TcpProxyEvent, { owner: TcpProxyOwner; attempt: number }>(({ input, sendBack }) =>
      input.owner.connectUpstream(input.attempt, sendBack),
    ),
  },
  delays: {
    connectTimeout: ({ context }) => context.connectTimeout,
    // One wake-up per idle period rather than a timer per chunk: on waking the deadline is
    // checked against the last byte seen, and the wait starts again if there was one.
    idleTimeLeft: ({ context }) => Math.min(MAX_TIMER_MS, Math.max(0, context.owner.idleTimeLeft())),
  },
  guards: {
    hasConnectAttemptsLeft: ({ context }) => context.attempts < context.maxConnectAttempts,
    idleTimeoutReached: ({ context }) => context.owner.idleTimeLeft() <= 0,
    upstreamHasUnflushedData: ({ context }) => context.owner.upstreamHasUnflushedData(),
  },
  actions: {
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1 }),
    recordCloseReason: assign((_, params: { reason: TcpProxyCloseReason; upstream?: UpstreamCloseType }) => ({ closeReason: params.reason, closeUpstream: params.upstream })),
    reportConnectTimeout: ({ context }) => context.owner.onConnectTimeout(context.attempts),
    startProxying: ({ context }) => context.owner.onConnected(),
    endUpstream: ({ context }) => context.owner.endUpstream(),
    endDownstream: ({ context }) => context.owner.endDownstream(),
    startDraining: ({ context }) => context.owner.onDraining(),
    finishDraining: ({ context }) => context.owner.onDrainerDone(),
    notifyClosed: ({ context }) => context.owner.onClosed(context.closeReason ?? 'downstream_close', context.closeUpstream),
  },
}).createMachine({
  id: 'tcp_proxy',
  context: ({ input }) => ({ ...input, attempts: 1 }),
  initial: 'connecting',
  states: {
    // A failed attempt re-enters this state for the next host until max_connect_attempts;
    // then UF,URX (upstream_cx_connect_attempts_exceeded).
    connecting: {
      meta: { envoy: 'TcpProxy::Filter::initializeUpstreamConnection' },
      invoke: {
        src: 'establishUpstreamConnection',
        input: ({ context }) => ({ owner: context.owner, attempt: context.attempts }),
      },
      after: {
        connectTimeout: [
          { guard: 'hasConnectAttemptsLeft', target: 'connecting', reenter: true, actions: ['reportConnectTimeout', 'countAttempt'] },
          { target: 'closed', actions: ['reportConnectTimeout', { type: 'recordCloseReason', params: { reason: 'connect_failed' } }] },
        ],
      },
      on: {
        'tcp.upstream.connected': { target: 'proxying', actions: 'startProxying' },
        'tcp.upstream.connect_failed': [
          { guard: 'hasConnectAttemptsLeft', target: 'connecting', reenter: true, actions: 'countAttempt' },
          { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'connect_failed' } } },
        ],
        'tcp.upstream.no_healthy_host': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'no_healthy_upstream' } } },
        'tcp.upstream.overflow': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'overflow' } } },
        'tcp.downstream.closed': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'downstream_close' } } },
      },
    },
    proxying: {
      meta: { envoy: 'TcpProxy::Filter::onData / onUpstreamData' },
      after: {
        idleTimeLeft: [
          { guard: 'idleTimeoutReached', target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'idle_timeout', upstream: 'NoFlush' } } },
          { target: 'proxying', reenter: true },
        ],
      },
      on: {
        'tcp.downstream.end': { target: 'half_closed', actions: 'endUpstream' },
        'tcp.upstream.end': { target: 'half_closed', actions: 'endDownstream' },
        'tcp.downstream.closed': [
          { guard: 'upstreamHasUnflushedData', target: 'draining', actions: 'startDraining' },
          { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'downstream_close', upstream: 'FlushWrite' } } },
        ],
        'tcp.upstream.closed': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'upstream_close' } } },
      },
    },
    // One side sent FIN (end_stream); the other may keep sending until it does too and the
    // sockets close (enableHalfClose(true)).
    half_closed: {
      meta: { envoy: 'TcpProxy::Filter::onData / onUpstreamData (end_stream)' },
      after: {
        idleTimeLeft: [
          { guard: 'idleTimeoutReached', target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'idle_timeout', upstream: 'NoFlush' } } },
          { target: 'half_closed', reenter: true },
        ],
      },
      on: {
        'tcp.downstream.end': { actions: 'endUpstream' },
        'tcp.upstream.end': { actions: 'endDownstream' },
        'tcp.downstream.closed': [
          { guard: 'upstreamHasUnflushedData', target: 'draining', actions: 'startDraining' },
          { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'downstream_close', upstream: 'FlushWrite' } } },
        ],
        'tcp.upstream.closed': { target: 'closed', actions: { type: 'recordCloseReason', params: { reason: 'upstream_close' } } },
      },
    },
    // The downstream is gone but the upstream has bytes still to write: a Drainer flushes them
    // (upstream_flush_total) until the upstream drains or closes, or idle_timeout.
    draining: {
      meta: { envoy: 'TcpProxy::UpstreamDrainManager::add (Drainer)' },
      after: {
        idleTimeLeft: [
          { guard: 'idleTimeoutReached', target: 'closed', actions: ['finishDraining', { type: 'recordCloseReason', params: { reason: 'idle_timeout', upstream: 'NoFlush' } }] },
          { target: 'draining', reenter: true },
        ],
      },
      on: {
        // The Drainer already sent FIN after the bytes; once they are written the connection goes.
        'tcp.upstream.drained': { target: 'closed', actions: ['finishDraining', { type: 'recordCloseReason', params: { reason: 'downstream_close', upstream: 'NoFlush' } }] },
        'tcp.upstream.closed': { target: 'closed', actions: ['finishDraining', { type: 'recordCloseReason', params: { reason: 'downstream_close' } }] },
      },
    },
    closed: {
      meta: { envoy: 'TcpProxy::Filter::~Filter (access log)' },
      entry: 'notifyClosed',
      type: 'final',
    },
  },
});
