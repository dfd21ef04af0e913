/**
 * The tracer's sink comes and goes (the server attaches it only while someone watches):
 * what it reports across a detach and a new attach.
 */
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import type { TraceEvent } from '@proxyscope/protocol';
import { EngineIds, startTraced } from '../src/seams/actors';
import { ManualClock } from '../src/seams/clock';
import { Tracer } from '../src/seams/tracer';

const light = createMachine({
  id: 'light',
  initial: 'green',
  states: {
    green: { on: { next: 'yellow' } },
    yellow: { on: { next: 'red' } },
    red: { on: { next: 'green' } },
  },
});

describe('Tracer attach and detach', () => {
  it('reports nothing while detached, and a transition after a new attach starts where the actor is', () => {
    const clock = new ManualClock();
    const tracer = new Tracer(clock);
    const engine = { clock, tracer, ids: new EngineIds() };
    const events: TraceEvent[] = [];
    tracer.attach((e) => events.push(e));
    const actor = startTraced(engine, light, { input: undefined, path: 'light:1', kind: 'stream', ids: { stream: 1 } });
    actor.send({ type: 'next' }); // green -> yellow, traced
    tracer.detach();
    actor.send({ type: 'next' }); // yellow -> red, not traced
    expect(events.map((e) => e.type)).toEqual(['spawn', 'transition']);
    tracer.attach((e) => events.push(e));
    actor.send({ type: 'next' }); // red -> green
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: 'transition', from: 'red', to: 'green', seq: 3 });
    // A second attach while attached only swaps the sink.
    const other: TraceEvent[] = [];
    tracer.attach((e) => other.push(e));
    actor.send({ type: 'next' });
    expect(other).toMatchObject([{ from: 'green', to: 'yellow', seq: 4 }]);
  });
});
