/**
 * The ActiveTcpSocket chart alone, with a recording owner: what it does on data, on the
 * peer closing and at listener_filters_timeout, with and without
 * continue_on_listener_filters_timeout. Time is a ManualClock.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { activeTcpSocketMachine, type ActiveTcpSocketOwner } from '../src/listener/active-tcp-socket.machine';
import { ManualClock } from '../src/seams/clock';

function run(options: { timeout?: number; continueOnTimeout?: boolean } = {}) {
  const calls: string[] = [];
  let done = false;
  const owner: ActiveTcpSocketOwner = {
    inspectionDone: () => done,
    onInspected: () => calls.push('onInspected'),
    onTimeout: () => calls.push('onTimeout'),
    newConnection: () => calls.push('newConnection'),
    close: (reason) => calls.push(`close:${reason}`),
  };
  const clock = new ManualClock();
  const actor = createActor(activeTcpSocketMachine, {
    input: { owner, listenerFiltersTimeout: options.timeout ?? 15_000, continueOnListenerFiltersTimeout: options.continueOnTimeout ?? false },
    clock,
  } as never);
  actor.start();
  return {
    calls,
    clock,
    actor,
    state: () => actor.getSnapshot().value,
    finish: () => {
      done = true;
    },
  };
}

describe('activeTcpSocketMachine', () => {
  it('waits in inspecting while the inspector needs more, then hands the connection off', () => {
    const s = run();
    s.actor.send({ type: 'socket.data' });
    expect(s.state()).toBe('inspecting');
    expect(s.calls).toEqual([]);
    s.finish();
    s.actor.send({ type: 'socket.data' });
    expect(s.state()).toBe('handed_off');
    expect(s.actor.getSnapshot().status).toBe('done');
    expect(s.calls).toEqual(['onInspected', 'newConnection']);
  });

  it('closes at listener_filters_timeout', () => {
    const s = run({ timeout: 500 });
    s.clock.advance(499);
    expect(s.state()).toBe('inspecting');
    s.clock.advance(1);
    expect(s.state()).toBe('timed_out');
    expect(s.calls).toEqual(['onTimeout', 'close:listener_filters_timeout']);
  });

  it('with continue_on_listener_filters_timeout, hands off at the timeout instead', () => {
    const s = run({ timeout: 500, continueOnTimeout: true });
    s.clock.advance(500);
    expect(s.state()).toBe('handed_off');
    expect(s.calls).toEqual(['onTimeout', 'newConnection']);
  });

  it('never times out with listener_filters_timeout 0', () => {
    const s = run({ timeout: 0 });
    s.clock.advance(2_147_483_647 * 3);
    expect(s.state()).toBe('inspecting');
    expect(s.calls).toEqual([]);
    s.finish();
    s.actor.send({ type: 'socket.data' });
    expect(s.state()).toBe('handed_off');
  });

  it('ends closed when the peer closes during inspection, and its timer goes with it', () => {
    const s = run({ timeout: 500 });
    s.actor.send({ type: 'socket.closed' });
    expect(s.state()).toBe('closed');
    s.clock.advance(1000);
    expect(s.calls).toEqual(['close:remote_close']);
  });
});
