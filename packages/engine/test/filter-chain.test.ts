/**
 * The filter chain as a machine of its own (`<stream>/filters`, kind `filter_chain`): a
 * filter that pauses the chain is a visible state with the filter's name in the trace,
 * continueDecoding resumes it, a body over the buffer limit fails the request, step mode
 * can hold a request at a filter-chain state, and the machine alone walks its states.
 */
import type { FactEvent, TraceEvent, TransitionEvent } from '@proxyscope/protocol';
import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { filterChainMachine, type FilterChainOwner, type FilterStop } from '../src/http/filter-chain.machine';
import { faultFilter, percent } from './support/envoy-config';
import { filterProxy } from './support/filter-proxy';
import { settle } from './support/memory-origin';

const BUFFER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer';
const buffer = (max_request_bytes: number) => ({ name: 'envoy.filters.http.buffer', typed_config: { '@type': BUFFER_TYPE, max_request_bytes } });
const post = (length: number) => `POST /upload HTTP/1.1\r\nHost: example.com\r\ncontent-length: ${length}\r\n\r\n`;

const chainStates = (events: TraceEvent[]) =>
  events.filter((e): e is TransitionEvent => e.type === 'transition' && e.machine === 'filter_chain').map((e) => e.to);
const chainFacts = (events: TraceEvent[], fact: string) =>
  events.filter((e): e is FactEvent => e.type === 'fact' && e.machine === 'filter_chain' && e.fact === fact).map((e) => e.data);

describe('filter chain machine in the trace', () => {
  it('is one actor per stream, a child of the stream, that walks the decode and encode states of a plain GET', async () => {
    const p = await filterProxy({ httpFilters: [] });
    const [res] = await p.send({ path: '/a' });
    expect(res!.status).toBe(200);
    const spawn = p.events.find((e) => e.type === 'spawn' && e.machine === 'filter_chain');
    const stream = p.events.find((e) => e.type === 'spawn' && e.machine === 'stream');
    expect(spawn?.actor).toBe(`${stream!.actor}/filters`);
    expect(spawn?.ids.stream).toBe(stream!.ids.stream);
    expect(chainStates(p.events)).toEqual(['decode_complete', 'encoding_headers', 'encoding_data', 'encode_complete']);
    expect(p.events.some((e) => e.type === 'stop' && e.machine === 'filter_chain' && e.state === 'encode_complete')).toBe(true);
  });

  it('a fault delay is decoding_headers_stopped, named for the fault filter, until the delay ends', async () => {
    const p = await filterProxy({ httpFilters: [faultFilter({ delay: { fixed_delay: '2s', percentage: percent(100) } })] });
    p.connection.write('GET /slow HTTP/1.1\r\nHost: example.com\r\n\r\n');
    await p.advance(1000);
    expect(chainStates(p.events)).toEqual(['decoding_headers_stopped']);
    expect(chainFacts(p.events, 'filter_chain.stopped')).toEqual([
      { filter: 'envoy.filters.http.fault', index: 0, phase: 'headers', status: 'StopIteration', heldBytes: 0 },
    ]);
    expect(p.origin.requests).toHaveLength(0);
    await p.advance(1000);
    expect(p.origin.requests).toHaveLength(1);
    expect(chainStates(p.events)).toEqual(['decoding_headers_stopped', 'decoding_headers', 'decode_complete', 'encoding_headers', 'encoding_data', 'encode_complete']);
    expect(chainFacts(p.events, 'filter_chain.continued')).toEqual([
      { filter: 'envoy.filters.http.fault', index: 0, phase: 'headers', status: 'StopIteration', heldBytes: 0 },
    ]);
  });

  it('the buffer filter holds the headers (decoding_headers_stopped) and the body behind them until the last byte', async () => {
    const p = await filterProxy({ httpFilters: [buffer(100)] });
    p.connection.write(post(30));
    p.connection.write('a'.repeat(10));
    await settle();
    expect(chainStates(p.events)).toEqual(['decoding_headers_stopped']);
    expect(chainFacts(p.events, 'filter_chain.stopped')).toEqual([
      { filter: 'envoy.filters.http.buffer', index: 0, phase: 'headers', status: 'StopIteration', heldBytes: 0 },
    ]);
    expect(p.origin.connections).toHaveLength(0);
    p.connection.write('b'.repeat(20));
    await settle();
    expect(p.origin.requests.map((r) => r.body)).toEqual(['a'.repeat(10) + 'b'.repeat(20)]);
    expect(chainStates(p.events)).toEqual(['decoding_headers_stopped', 'decoding_headers', 'decoding_data', 'decode_complete', 'encoding_headers', 'encoding_data', 'encode_complete']);
    // Continued once, with the whole body it kept; the body behind the headers is not a stop of its own.
    expect(chainFacts(p.events, 'filter_chain.continued')).toEqual([
      { filter: 'envoy.filters.http.buffer', index: 0, phase: 'headers', status: 'StopIteration', heldBytes: 30 },
    ]);
  });

  it('a buffered body over the limit is answered 413: from the stopped chain straight to encoding a local reply', async () => {
    const p = await filterProxy({ httpFilters: [buffer(16)] });
    p.connection.write(post(40));
    p.connection.write('x'.repeat(10));
    await settle();
    p.connection.write('x'.repeat(10));
    await settle();
    expect(p.connection.text()).toMatch(/^HTTP\/1.1 413 Payload Too Large/);
    expect(p.origin.requests).toHaveLength(0);
    expect(chainStates(p.events)).toEqual(['decoding_headers_stopped', 'encoding_headers', 'encoding_data', 'encode_complete']);
  });

  it('step mode holds a request at a filter-chain state and steps through it', async () => {
    const p = await filterProxy({ httpFilters: [faultFilter({ delay: { fixed_delay: '1s', percentage: percent(100) } })] });
    p.engine.stepper.setBreakpoints([{ machine: 'filter_chain', state: 'decoding_headers_stopped' }]);
    p.connection.write('GET /held HTTP/1.1\r\nHost: example.com\r\n\r\n');
    await settle();
    const [held] = p.engine.stepper.held();
    expect(held).toMatchObject({ machine: 'filter_chain', state: 'decoding_headers_stopped', reason: 'breakpoint' });
    expect(held!.machineActor).toMatch(/\/stream:\d+\/filters$/);
    // Its timers are frozen while it is held: the fault delay does not end.
    await p.advance(5000);
    expect(p.origin.requests).toHaveLength(0);
    p.engine.stepper.setBreakpoints([]);
    p.engine.stepper.resume();
    await p.advance(1000);
    expect(p.origin.requests).toHaveLength(1);
    expect(p.connection.text()).toMatch(/^HTTP\/1.1 200/);
  });

  it('refuses a breakpoint on a state the filter chain does not have', async () => {
    const p = await filterProxy({ httpFilters: [] });
    expect(() => p.engine.stepper.setBreakpoints([{ machine: 'filter_chain', state: 'decoding_trailers' }])).toThrow(/filter_chain has no state "decoding_trailers"/);
  });
});

describe('filter chain machine, headless', () => {
  function chain() {
    const calls: string[] = [];
    const owner: FilterChainOwner = {
      onIterationStopped: (s: FilterStop) => calls.push(`stopped ${s.filter} ${s.phase} ${s.status}`),
      onIterationContinued: (s: FilterStop) => calls.push(`continued ${s.filter} ${s.phase}`),
      readDisable: (d) => calls.push(`readDisable ${d}`),
    };
    const actor = createActor(filterChainMachine, { input: { owner } });
    actor.start();
    return { actor, calls };
  }

  it('a watermark-buffering filter past the limit stops reading once, and reading resumes when its body goes on', () => {
    const { actor, calls } = chain();
    actor.send({ type: 'filters.decode.headers.done', endStream: false });
    const held = (heldBytes: number) => ({ type: 'filters.decode.data.held', index: 0, filter: 'w', status: 'StopIterationAndWatermark', heldBytes, bufferLimit: 10 }) as const;
    actor.send(held(6));
    actor.send(held(12));
    actor.send(held(18));
    expect(actor.getSnapshot().value).toBe('decoding_data_stopped');
    expect(actor.getSnapshot().context.payloadTooLarge).toBe(false);
    actor.send({ type: 'filters.decode.data.release' });
    expect(actor.getSnapshot().value).toBe('decoding_data');
    expect(calls).toEqual(['stopped w data StopIterationAndWatermark', 'readDisable true', 'continued w data', 'readDisable false']);
  });

  it('a body held in decoding_data_stopped past the buffer limit with StopIterationAndBuffer marks the request too large, once', () => {
    const { actor, calls } = chain();
    actor.send({ type: 'filters.decode.headers.done', endStream: false });
    actor.send({ type: 'filters.decode.data.held', index: 1, filter: 'b', status: 'StopIterationAndBuffer', heldBytes: 8, bufferLimit: 10 });
    expect(actor.getSnapshot().value).toBe('decoding_data_stopped');
    expect(actor.getSnapshot().context.payloadTooLarge).toBe(false);
    actor.send({ type: 'filters.decode.data.held', index: 1, filter: 'b', status: 'StopIterationAndBuffer', heldBytes: 16, bufferLimit: 10 });
    expect(actor.getSnapshot().context.payloadTooLarge).toBe(true);
    expect(calls).toEqual(['stopped b data StopIterationAndBuffer']);
  });

  it('a local reply from a stopped chain records that the response is the proxy\'s own', () => {
    const { actor } = chain();
    actor.send({ type: 'filters.decode.headers.stopped', index: 0, filter: 'f' });
    actor.send({ type: 'filters.encode.headers', local: true });
    expect(actor.getSnapshot().value).toBe('encoding_headers');
    expect(actor.getSnapshot().context.localReply).toBe(true);
    actor.send({ type: 'filters.encode.headers.done', endStream: true });
    expect(actor.getSnapshot().status).toBe('done');
  });
});
