/**
 * The breakpoint panel's choices are the states the engine accepts: every preset and
 * every listed state names a real state of the machine (the engine refuses any other).
 */
import { describe, expect, it } from 'vitest';
import { STEPPABLE_MACHINES } from '@proxyscope/protocol';
import { streamMachine } from '../../../packages/engine/src/http/stream.machine';
import { routerMachine } from '../../../packages/engine/src/router/router.machine';
import { retryMachine } from '../../../packages/engine/src/router/retry.machine';
import { upstreamRequestMachine } from '../../../packages/engine/src/router/upstream-request.machine';
import { PRESETS, statesOf, toggleBreakpoint } from '../src/views/breakpoints/step-state';

const engineStates = {
  stream: Object.keys(streamMachine.config.states ?? {}),
  router: Object.keys(routerMachine.config.states ?? {}),
  upstream_request: Object.keys(upstreamRequestMachine.config.states ?? {}),
  retry: Object.keys(retryMachine.config.states ?? {}),
};

describe('breakpoint choices', () => {
  it('offers exactly the states of each steppable machine', () => {
    for (const machine of STEPPABLE_MACHINES) expect(statesOf(machine)).toEqual(engineStates[machine]);
  });

  it('has presets that all name real states', () => {
    for (const p of PRESETS) expect(engineStates[p.breakpoint.machine]).toContain(p.breakpoint.state);
  });

  it('adds a breakpoint once and removes it again', () => {
    const bp = { machine: 'retry' as const, state: 'backoff' };
    const once = toggleBreakpoint([], bp);
    expect(once).toEqual([bp]);
    expect(toggleBreakpoint(once, { ...bp })).toEqual([]);
  });
});
