import { NEVER_MS } from '../fsm/compile';
import { setup } from 'xstate';

/**
 * What the upstream-request machine asks of its Router::UpstreamRequest: the request holds
 * the data (its per-try deadline) and tells the router when the deadline passed.
 */
export interface UpstreamRequestMachineOwner {
  /**
   * ms left of the attempt's per_try_timeout, or undefined while it is not running: none
   * configured, or not set up yet (UpstreamRequest::setupPerTryTimeout runs once the whole
   * downstream request is in).
   */
  perTryTimeLeft(): number | undefined;
  /** UpstreamRequest::onPerTryTimeout: the router resets the attempt, then retries it or answers 504 UT */
  onPerTryTimeout(): void;
}

export interface UpstreamRequestMachineInput {
  owner: UpstreamRequestMachineOwner;
}

/**
 * Router::UpstreamRequest: one attempt at the upstream, from asking the pool for a
 * stream to the last byte of the response.
 */
export type UpstreamRequestEvent =
  | { type: 'upstream.pool.ready' }
  | { type: 'upstream.pool.failure'; reason: string }
  | { type: 'upstream.request.sent' }
  /** UpstreamRequest::setupPerTryTimeout: the attempt's per-try timeout runs from now */
  | { type: 'upstream.per_try.started' }
  | { type: 'upstream.headers'; endStream: boolean; upgrade?: boolean }
  | { type: 'upstream.complete' }
  | { type: 'upstream.reset'; reason: string };

/**
 * The per-try timeout runs until the response headers arrive, whichever of the first three
 * states the attempt is in, so each has it as an `after` with the time left of the
 * attempt's deadline. Firing, it leaves the state to the router (Filter::onPerTryTimeout
 * resets this attempt, which then fails as any reset one does). The runtime contract has
 * no conditional `after`: while the timeout does not run its delay is NEVER_MS and
 * `isPerTryTimeoutRunning` refuses it; `upstream.per_try.started` re-enters the state (no
 * change the trace shows) so the real timer starts.
 */
const perTryTimeout = { guard: 'isPerTryTimeoutRunning', actions: 'onPerTryTimeout' } as const;

export const upstreamRequestMachine = setup({
  types: {
    input: {} as UpstreamRequestMachineInput,
    context: {} as UpstreamRequestMachineInput,
    events: {} as UpstreamRequestEvent,
  },
  delays: {
    // A timeout that is not running waits NEVER_MS, which the runtime sets no timer for
    // and the guard would refuse anyway.
    perTryTimeout: ({ context }) => context.owner.perTryTimeLeft() ?? NEVER_MS,
  },
  guards: {
    endsStream: ({ event }) => event.type === 'upstream.headers' && event.endStream,
    opensTunnel: ({ event }) => event.type === 'upstream.headers' && event.upgrade === true,
    isPerTryTimeoutRunning: ({ context }) => context.owner.perTryTimeLeft() !== undefined,
  },
  actions: {
    onPerTryTimeout: ({ context }) => context.owner.onPerTryTimeout(),
  },
}).createMachine({
  id: 'upstream_request',
  context: ({ input }) => ({ owner: input.owner }),
  initial: 'pending_pool',
  states: {
    pending_pool: {
      meta: { envoy: 'HttpConnPoolImplBase::newStream' },
      after: { perTryTimeout },
      on: {
        'upstream.per_try.started': { target: 'pending_pool', reenter: true },
        'upstream.pool.ready': 'sending',
        'upstream.pool.failure': 'failed',
        'upstream.reset': 'failed',
      },
    },
    sending: {
      meta: { envoy: 'UpstreamRequest::onPoolReady' },
      after: { perTryTimeout },
      on: {
        'upstream.per_try.started': { target: 'sending', reenter: true },
        'upstream.request.sent': 'awaiting_headers',
        // An upstream may answer before it has read the whole request; an upgrade request
        // never ends, and its 101 turns the attempt into a tunnel.
        'upstream.headers': [{ guard: 'opensTunnel', target: 'tunneling' }, { guard: 'endsStream', target: 'done' }, { target: 'receiving_body' }],
        'upstream.reset': 'failed',
      },
    },
    awaiting_headers: {
      meta: { envoy: 'UpstreamRequest::encodeData (end_stream)' },
      after: { perTryTimeout },
      on: {
        'upstream.per_try.started': { target: 'awaiting_headers', reenter: true },
        'upstream.headers': [{ guard: 'endsStream', target: 'done' }, { target: 'receiving_body' }],
        'upstream.reset': 'failed',
      },
    },
    receiving_body: {
      meta: { envoy: 'UpstreamRequest::decodeHeaders' },
      on: { 'upstream.complete': 'done', 'upstream.reset': 'failed' },
    },
    // After the 101: raw bytes both ways on a connection that is never returned to its pool.
    tunneling: {
      meta: { envoy: 'UpstreamRequest::decodeHeaders (101 Switching Protocols)' },
      on: { 'upstream.complete': 'done', 'upstream.reset': 'failed' },
    },
    done: { meta: { envoy: 'UpstreamRequest::decodeData (end_stream)' }, type: 'final' },
    failed: { meta: { envoy: 'UpstreamRequest::onResetStream' }, type: 'final' },
  },
});
