/**
 * The stream machine's own timers (http/stream.machine.ts) headless on a ManualClock:
 * request_timeout and stream_idle_timeout are `after` transitions of its live states, the
 * first counted from the stream's start whatever state it is in, the second from the last
 * activity, which costs no clock timer per body chunk. The owner here is a stand-in that
 * records when each timeout's action ran.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { streamMachine, type StreamEvent, type StreamMachineOwner } from '../src/http/stream.machine';
import { ManualClock } from '../src/seams/clock';

/** A ManualClock that counts the timers set on it. */
class CountingClock extends ManualClock {
  set = 0;
  override setTimeout(fn: (...args: unknown[]) => void, ms: number) {
    this.set++;
    return super.setTimeout(fn, ms);
  }
}

function setup(options: { requestTimeout?: number; idle?: number } = {}) {
  const clock = new CountingClock();
  const requestTimeout = options.requestTimeout ?? 0;
  let idleMs = options.idle ?? 0;
  let lastActivity = 0;
  const fired: string[] = [];
  const owner: StreamMachineOwner = {
    notifyAboveWriteBufferHighWatermark: () => {},
    notifyBelowWriteBufferLowWatermark: () => {},
    requestTimeLeft: () => requestTimeout - clock.now(),
    onRequestTimeout: () => fired.push(`request_timeout@${clock.now()}`),
    streamIdleTimeLeft: () => (idleMs > 0 ? lastActivity + idleMs - clock.now() : undefined),
    onStreamIdleTimeout: () => fired.push(`stream_idle_timeout@${clock.now()}`),
  };
  const actor = createActor(streamMachine, { input: { owner, requestTimeout }, clock } as never);
  actor.start();
  const send = (event: StreamEvent) => actor.send(event);
  /** a byte moved (ActiveStream::resetIdleTimer) */
  const activity = () => (lastActivity = clock.now());
  const refreshIdle = (ms: number) => {
    idleMs = ms;
    lastActivity = clock.now();
    send({ type: 'stream.idle_timeout.refresh' });
  };
  const state = () => actor.getSnapshot().value as string;
  return { clock, actor, fired, send, activity, refreshIdle, state };
}

describe('request_timeout on the stream machine', () => {
  it('counts from the stream start through its states, fires once, and a later re-entry does not fire it again', () => {
    const { clock, fired, send, activity, state } = setup({ requestTimeout: 500, idle: 100 });
    // Bytes every 50 ms: the idle timer wakes, finds activity and re-enters its state.
    const tick = (n: number) => {
      for (let i = 0; i < n; i++) {
        clock.advance(50);
        activity();
      }
    };
    send({ type: 'stream.decode.headers', endStream: false });
    tick(2);
    send({ type: 'stream.decode.headers.done', endStream: false });
    expect(state()).toBe('decoding_body');
    tick(4);
    // The response starts before the request is all in: the timer still runs.
    send({ type: 'stream.encode.headers', local: false });
    expect(state()).toBe('encoding_headers');
    tick(3);
    clock.advance(49);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['request_timeout@500']);
    activity();
    tick(10);
    send({ type: 'stream.encode.headers.done', endStream: false });
    tick(2);
    expect(fired).toEqual(['request_timeout@500']);
  });

  it("stops at the request's last byte, even while a filter still holds the body", () => {
    const { clock, fired, send, state } = setup({ requestTimeout: 500 });
    send({ type: 'stream.decode.headers', endStream: false });
    send({ type: 'stream.decode.headers.done', endStream: false });
    clock.advance(300);
    send({ type: 'stream.decode.data', endStream: false });
    clock.advance(100);
    send({ type: 'stream.decode.data', endStream: true });
    expect(state()).toBe('decoding_body');
    clock.advance(10_000);
    expect(fired).toEqual([]);
  });

  it('does not run once a 101 made the stream a tunnel', () => {
    const { clock, fired, send, state } = setup({ requestTimeout: 500 });
    send({ type: 'stream.decode.headers', endStream: false });
    send({ type: 'stream.encode.headers', local: false });
    clock.advance(100);
    send({ type: 'stream.upgrade.accepted' });
    expect(state()).toBe('upgraded');
    clock.advance(10_000);
    expect(fired).toEqual([]);
  });

  it('is not armed with a request_timeout of 0', () => {
    const { clock, fired, send } = setup({ requestTimeout: 0 });
    send({ type: 'stream.decode.headers', endStream: false });
    clock.advance(3_600_000);
    expect(fired).toEqual([]);
  });
});

describe('stream_idle_timeout on the stream machine', () => {
  it('fires idle_timeout after the last activity; body chunks in between set no clock timer', () => {
    const { clock, fired, send, activity } = setup({ idle: 1000 });
    send({ type: 'stream.decode.headers', endStream: false });
    send({ type: 'stream.decode.headers.done', endStream: false });
    const timersBefore = clock.set;
    for (let i = 0; i < 100; i++) {
      clock.advance(5);
      activity();
      send({ type: 'stream.decode.data', endStream: false });
    }
    expect(clock.set).toBe(timersBefore);
    expect(clock.now()).toBe(500);
    clock.advance(999);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['stream_idle_timeout@1500']);
  });

  it('runs in every live state, the request complete or not', () => {
    const { clock, fired, send, activity } = setup({ idle: 200 });
    send({ type: 'stream.decode.headers', endStream: true });
    send({ type: 'stream.decode.headers.done', endStream: true });
    clock.advance(150);
    activity();
    send({ type: 'stream.encode.headers', local: false });
    send({ type: 'stream.encode.headers.done', endStream: false });
    clock.advance(199);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['stream_idle_timeout@350']);
  });

  it("a shorter route idle_timeout takes over from the moment it is set; 0 turns it off", () => {
    const short = setup({ idle: 1000 });
    short.send({ type: 'stream.decode.headers', endStream: true });
    short.clock.advance(100);
    short.refreshIdle(200);
    short.clock.advance(200);
    expect(short.fired).toEqual(['stream_idle_timeout@300']);

    const off = setup({ idle: 1000 });
    off.send({ type: 'stream.decode.headers', endStream: true });
    off.clock.advance(100);
    off.refreshIdle(0);
    off.clock.advance(3_600_000);
    expect(off.fired).toEqual([]);
  });

  it('ends with the stream: a reset leaves no timer to fire', () => {
    const { clock, fired, send, state } = setup({ requestTimeout: 500, idle: 1000 });
    send({ type: 'stream.decode.headers', endStream: false });
    send({ type: 'stream.reset', reason: 'downstream connection termination' });
    expect(state()).toBe('reset');
    clock.advance(10_000);
    expect(fired).toEqual([]);
  });
});
