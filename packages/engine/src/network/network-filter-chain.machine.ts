import { and, assign, setup } from 'xstate';

/** Network::FilterStatus: what a read filter answers from onNewConnection and onData. */
export type FilterStatus = 'Continue' | 'StopIteration';

/**
 * Network::FilterManagerImpl's iteration over one connection's read filters. The owner
 * (ServerConnection, Network::ConnectionImpl) holds the filters and the bytes, calls the
 * filter `nextFilterCall` names and tells this machine what it answered; the machine knows
 * where iteration is: onNewConnection going down the chain, a filter holding it (its
 * answer, StopIteration, and to which call), every filter through, or a read going down
 * it again. One actor per downstream connection, at `<connection>/network_filters`.
 *
 * As in onContinueReading, a read starts at the first filter, a filter reached for the
 * first time gets onNewConnection before its bytes, and continueReading goes on from the
 * filter after the one that held the chain. The connection does not keep bytes a filter
 * left unread (every filter here reads all it is given), so what follows a continue is
 * only the onNewConnection of the filters not reached yet.
 */
export interface NetworkFilterChainOwner {
  /** a filter answered StopIteration (Network::ActiveReadFilter holds the chain) */
  onIterationStopped(stop: NetworkFilterStop): void;
  /** ReadFilterCallbacks::continueReading from the filter that held the chain */
  onIterationContinued(stop: NetworkFilterStop): void;
}

export interface NetworkFilterStop {
  filter: string;
  index: number;
  call: 'onNewConnection' | 'onData';
  status: FilterStatus;
}

export interface NetworkFilterChainInput {
  owner: NetworkFilterChainOwner;
  /** the read filters' names, in configured order (the terminal one last) */
  filters: readonly string[];
}

type Answer = { index: number; filter: string; status: FilterStatus };

export type NetworkFilterChainEvent =
  /** a filter's onNewConnection answered */
  | ({ type: 'network_filters.new_connection' } & Answer)
  /** a filter's onData answered (bytes, or the peer's end_stream) */
  | ({ type: 'network_filters.data' } & Answer)
  /** ConnectionImpl::onRead: bytes (or the FIN) go down the chain from its first filter */
  | { type: 'network_filters.read' }
  /** a filter (its index) called ReadFilterCallbacks::continueReading */
  | { type: 'network_filters.continue_reading'; index: number }
  | { type: 'network_filters.closed' };

interface NetworkFilterChainContext {
  owner: NetworkFilterChainOwner;
  filters: readonly string[];
  /** the filter the iteration calls next */
  next: number;
  /** filters [0, initialized) have had onNewConnection */
  initialized: number;
  /** the filter holding the chain, or -1 */
  stoppedAt: number;
  stoppedBy: string;
  stoppedIn: NetworkFilterStop['call'] | '';
}

const answerOf = (e: NetworkFilterChainEvent): Answer | undefined =>
  e.type === 'network_filters.new_connection' || e.type === 'network_filters.data' ? e : undefined;

/**
 * Held at a filter, which calls continueReading: iteration goes on to the filters not
 * reached yet, or there is nothing left to call. Another filter's continue moves nothing.
 */
const continueReading = [
  { guard: and(['isHeldByCaller', 'hasUninitializedFilter']), target: 'initializing', actions: ['reportContinued', 'resumeAfterStop', 'clearStop'] },
  { guard: 'isHeldByCaller', target: 'idle', actions: ['reportContinued', 'clearStop'] },
] as const;

const read = { target: 'iterating', actions: ['clearStop', 'startAtFirstFilter'] } as const;

export const networkFilterChainMachine = setup({
  types: {
    input: {} as NetworkFilterChainInput,
    context: {} as NetworkFilterChainContext,
    events: {} as NetworkFilterChainEvent,
  },
  guards: {
    isStopIteration: ({ event }) => answerOf(event)?.status === 'StopIteration',
    isLastFilter: ({ context, event }) => {
      const e = answerOf(event);
      return e !== undefined && e.index >= context.filters.length - 1;
    },
    isHeldByCaller: ({ context, event }) => event.type === 'network_filters.continue_reading' && event.index === context.stoppedAt,
    hasUninitializedFilter: ({ context }) => context.initialized < context.filters.length,
  },
  actions: {
    markInitialized: assign(({ event }) => {
      const e = answerOf(event);
      return e ? { initialized: e.index + 1 } : {};
    }),
    advance: assign(({ event }) => {
      const e = answerOf(event);
      return e ? { next: e.index + 1 } : {};
    }),
    recordStop: assign(({ event }) => {
      const e = answerOf(event);
      if (!e) return {};
      return { stoppedAt: e.index, stoppedBy: e.filter, stoppedIn: event.type === 'network_filters.new_connection' ? ('onNewConnection' as const) : ('onData' as const) };
    }),
    clearStop: assign({ stoppedAt: -1, stoppedBy: '', stoppedIn: '' as const }),
    startAtFirstFilter: assign({ next: 0 }),
    // Filters between the one that held the chain and the first not reached have no bytes waiting.
    resumeAfterStop: assign({ next: ({ context }) => context.initialized }),
    reportStopped: ({ context }) => context.owner.onIterationStopped(stopOf(context)),
    reportContinued: ({ context }) => context.owner.onIterationContinued(stopOf(context)),
  },
}).createMachine({
  id: 'network_filter_chain',
  context: ({ input }) => ({ owner: input.owner, filters: input.filters, next: 0, initialized: 0, stoppedAt: -1, stoppedBy: '', stoppedIn: '' }),
  initial: 'initializing',
  states: {
    initializing: {
      meta: { envoy: 'Network::FilterManagerImpl::initializeReadFilters' },
      on: {
        'network_filters.new_connection': [
          { guard: 'isStopIteration', target: 'initializing_stopped', actions: ['markInitialized', 'recordStop'] },
          { guard: 'isLastFilter', target: 'idle', actions: ['markInitialized', 'advance'] },
          { actions: ['markInitialized', 'advance'] },
        ],
        'network_filters.closed': 'closed',
      },
    },
    // A filter waits before later filters may see the connection: tcp_proxy until its
    // upstream is connected (downstream reads are off meanwhile).
    initializing_stopped: {
      meta: { envoy: 'Network::ReadFilter::onNewConnection (StopIteration)' },
      entry: 'reportStopped',
      on: {
        'network_filters.read': read,
        'network_filters.continue_reading': [...continueReading],
        'network_filters.closed': 'closed',
      },
    },
    // Every filter was called; the chain waits for the next read.
    idle: {
      meta: { envoy: 'Network::FilterManagerImpl::onContinueReading (every filter continued)' },
      on: {
        'network_filters.read': read,
        'network_filters.closed': 'closed',
      },
    },
    iterating: {
      meta: { envoy: 'Network::FilterManagerImpl::onContinueReading' },
      on: {
        // The first read to reach a filter a StopIteration had kept back from onNewConnection.
        'network_filters.new_connection': [
          { guard: 'isStopIteration', target: 'initializing_stopped', actions: ['markInitialized', 'recordStop'] },
          { actions: 'markInitialized' },
        ],
        'network_filters.data': [
          { guard: 'isStopIteration', target: 'stopped', actions: 'recordStop' },
          { guard: 'isLastFilter', target: 'idle', actions: 'advance' },
          { actions: 'advance' },
        ],
        'network_filters.closed': 'closed',
      },
    },
    // A filter kept what it read. The terminal filter (the HCM, tcp_proxy) always does:
    // the bytes are its own.
    stopped: {
      meta: { envoy: 'Network::ReadFilter::onData (StopIteration)' },
      entry: 'reportStopped',
      on: {
        'network_filters.read': read,
        'network_filters.continue_reading': [...continueReading],
        'network_filters.closed': 'closed',
      },
    },
    closed: {
      meta: { envoy: 'Network::ConnectionImpl::closeSocket' },
      type: 'final',
    },
  },
});

function stopOf(context: NetworkFilterChainContext): NetworkFilterStop {
  return { filter: context.stoppedBy, index: context.stoppedAt, call: context.stoppedIn === '' ? 'onData' : context.stoppedIn, status: 'StopIteration' };
}

/**
 * The filter call the chain is at, for the owner to make: its index and which callback.
 * Undefined when iteration is not going (held, through, closed).
 */
export function nextFilterCall(state: unknown, context: NetworkFilterChainContext): { index: number; call: NetworkFilterStop['call'] } | undefined {
  if (context.next >= context.filters.length) return undefined;
  if (state === 'initializing') return { index: context.next, call: 'onNewConnection' };
  if (state === 'iterating') return { index: context.next, call: context.next < context.initialized ? 'onData' : 'onNewConnection' };
  return undefined;
}
