import { describe, expect, it } from 'vitest';
import { BatchFormatError, decodeEventBatch, encodeEventBatch, EventBatchEncoder, parseServerMessage, type EventsMessage, type TraceEvent } from '../src';
import { requestEvents, requests } from './fixtures';

/** What a client does: JSON over the wire, validate, decode. */
const wire = (message: EventsMessage) => parseServerMessage(JSON.stringify(message)) as EventsMessage;

describe('compact event batches', () => {
  it('decode to the very events encoded, every kind, through JSON', () => {
    const events = requests([7, 8, 9]);
    const message = wire(encodeEventBatch(events));
    expect(message.seq).toBe(1);
    expect(decodeEventBatch(message)).toEqual(events);
  });

  it('carry each string and actor once, and cost a fraction of NDJSON', () => {
    const events = requests(Array.from({ length: 50 }, (_, i) => i + 1));
    const message = encodeEventBatch(events);
    expect(new Set(message.strings).size).toBe(message.strings.length);
    expect(message.strings.filter((s) => s === 'stream')).toHaveLength(1);
    // One actor entry per actor path.
    expect(message.actors.length).toBe(new Set(events.map((e) => e.actor)).size);
    const compact = JSON.stringify(message).length;
    const ndjson = events.map((e) => JSON.stringify(e) + '\n').join('').length;
    expect(compact / ndjson).toBeLessThan(0.45);
  });

  it('keep seq gaps, time in µs, optional envoy, and one actor path seen with two sets of ids', () => {
    const base: TraceEvent = { type: 'spawn', seq: 10, t: 0.001, actor: 'a', machine: 'stream', ids: { cx: 1, stream: 2 }, state: 's' };
    const events: TraceEvent[] = [
      base,
      { type: 'transition', seq: 15, t: 1.5, actor: 'a', machine: 'stream', ids: { cx: 1, stream: 2 }, from: 's', to: 't', event: 'e' },
      { type: 'transition', seq: 16, t: 1.5, actor: 'a', machine: 'stream', ids: { cx: 9 }, from: 't', to: 'u', event: 'e', envoy: 'X::y' },
      { type: 'fact', seq: 400, t: 12345.678, actor: 'b', machine: 'pool', ids: {}, fact: 'pool.decision', data: { nested: { list: [1, 'two', null] } } },
      { type: 'stop', seq: 401, t: 12345.679, actor: 'a', machine: 'stream', ids: { cx: 9 }, state: 'u' },
    ];
    const message = wire(new EventBatchEncoder().encode(events, 0, events.length, true));
    expect(message.history).toBe(true);
    expect(message.actors).toHaveLength(3);
    expect(decodeEventBatch(message)).toEqual(events);
    // Released held events (sampling) may go back in seq.
    const backwards = [...requestEvents(5, { seq0: 100 }), ...requestEvents(4, { seq0: 50 })];
    expect(decodeEventBatch(wire(encodeEventBatch(backwards)))).toEqual(backwards);
  });

  it('encode a slice of an array', () => {
    const events = requests([1, 2]);
    const message = new EventBatchEncoder().encode(events, 5, 9);
    expect(decodeEventBatch(message)).toEqual(events.slice(5, 9));
    expect(() => new EventBatchEncoder().encode(events, 3, 3)).toThrow(RangeError);
  });

  it('reject what does not decode, naming the position', () => {
    const message = encodeEventBatch(requestEvents(1));
    const broken = (mutate: (m: EventsMessage) => void) => {
      const copy = JSON.parse(JSON.stringify(message)) as EventsMessage;
      mutate(copy);
      try {
        decodeEventBatch(copy);
      } catch (err) {
        expect(err).toBeInstanceOf(BatchFormatError);
        return (err as BatchFormatError).field;
      }
      throw new Error('decoded');
    };
    expect(broken((m) => ((m.events[1] as number[])[4] = 999))).toBe('events[1][4]');
    expect(broken((m) => ((m.events[0] as number[])[1] = 99))).toBe('events[0][1]');
    expect(broken((m) => ((m.events[0] as number[])[0] = 7))).toBe('events[0][0]');
    expect(broken((m) => ((m.events[0] as number[])[2] = 3))).toBe('events[0][2]');
    expect(broken((m) => ((m.events[3] as number[])[3] = 0.5))).toBe('events[3][3]');
    expect(broken((m) => (m.events[2] as unknown[]).splice(5, 1, 'not data'))).toBe('events[2][5]');
    expect(broken((m) => (m.actors[0] = [0] as never))).toBe('actors[0]');
    expect(broken((m) => (m.events[1] as number[]).push(1, 2, 3))).toBe('events[1]');
  });
});
