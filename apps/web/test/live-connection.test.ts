/**
 * The UI's WebSocket client against a real admin server (hello, history, live events into
 * a store) and against a scripted one that misbehaves (bad frames are reported precisely
 * and skipped; a dropped connection is retried and the next hello continues the store).
 */
import { afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { encodeEventBatch, type HelloMessage, type TraceEvent } from '@proxyscope/protocol';
import { httpRequest, keepAliveAgent } from '../../../packages/engine/test/support/upstreams';
import { startLive, until } from '../../server/test/support/stream';
import { EventStoreImpl } from '../src/model/event-store';
import { LiveConnection, type ConnectionState } from '../src/net/live-connection';

beforeAll(() => {
  // Node 20 has no global WebSocket; `ws` speaks the same browser API.
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
});

const connections: LiveConnection[] = [];
afterEach(() => {
  for (const c of connections.splice(0)) c.close();
});

function connect(url: string) {
  const store = new EventStoreImpl('live');
  const problems: string[] = [];
  const states: ConnectionState[] = [];
  const hellos: Array<{ hello: HelloMessage; fresh: boolean }> = [];
  const connection = new LiveConnection(url, {
    onHello: (hello, fresh) => {
      hellos.push({ hello, fresh });
      store.setSource({ mode: hello.mode, topology: hello.topology, startedAt: hello.startedAt });
    },
    onEvents: (events) => store.append(events),
    onState: (s) => states.push(s),
    onProblem: (p) => problems.push(p),
  });
  connections.push(connection);
  return { store, problems, states, hellos, connection };
}

/** A real server's hello, and a ws server of our own to misbehave with it. */
async function misbehavingServer() {
  const live = await startLive();
  const real = connect(`${live.wsUrl}?subscribe=none`);
  await until('it', () => real.hellos.length === 1);
  const hello = real.hellos[0]!.hello;
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  return { hello, server };
}

describe('LiveConnection', () => {
  it('subscribes with history and keeps receiving live events from a real server', async () => {
    const live = await startLive();
    const agent = keepAliveAgent();
    const c = connect(`${live.wsUrl}?subscribe=none`);
    await until('history', () => c.states.some((s) => s.status === 'open' && s.historyDone));
    expect(c.store.topology?.listeners.length).toBeGreaterThan(0);
    await httpRequest(live.proxy.port, { path: '/live', agent });
    await until('the request', () => c.store.requestIds().length === 1 && c.store.requestAt(c.store.requestIds()[0]!, c.store.length - 1)?.done === true);
    expect(c.store.requestAt(c.store.requestIds()[0]!, c.store.length - 1)!.path).toBe('/live');
    // A second page gets it as history.
    const late = connect(`${live.wsUrl}?subscribe=none`);
    await until('late history', () => late.states.some((s) => s.status === 'open' && s.historyDone));
    expect(late.store.requestIds().map((id) => late.store.requestAt(id, late.store.length - 1)!.path)).toContain('/live');
    expect(c.connection.connected).toBe(true);
    expect(c.problems).toEqual([]);
    const ack = await c.connection.request({ type: 'ping' });
    expect(ack).toMatchObject({ type: 'ack', request: 'ping' });
  });

  it('reports a bad frame precisely, skips it and keeps the connection', async () => {
    const { hello, server } = await misbehavingServer();
    const event = (seq: number): TraceEvent => ({ type: 'spawn', seq, t: seq, actor: `listener:l/cx:1/stream:${seq}`, machine: 'stream', ids: { cx: 1, stream: seq }, state: 'decoding_headers' });
    server.on('connection', (socket) => {
      socket.send(JSON.stringify(hello));
      socket.send('not json');
      const bad = encodeEventBatch([event(1), event(2)]);
      (bad.events[1] as unknown[])[1] = 99;
      socket.send(JSON.stringify(bad));
      socket.send(JSON.stringify({ type: 'stats', t: 'soon' }));
      socket.send(JSON.stringify(encodeEventBatch([event(3), event(4)])));
    });
    const port = (server.address() as { port: number }).port;
    const c = connect(`ws://127.0.0.1:${port}/ws`);
    await until('it', () => c.store.length === 2);
    expect(c.problems[0]).toMatch(/not JSON/);
    expect(c.problems[1]).toMatch(/events batch from seq 1 could not be read: events batch, events\[1\]\[1\]: actor index 99/);
    expect(c.problems[2]).toMatch(/invalid "stats" message \(field (t|stats|stream)\)/);
    expect(c.store.get(0).seq).toBe(3);
    expect(c.connection.connected).toBe(true);
  });

  it('retries when the server goes away and continues the same store after the next hello', async () => {
    const { hello, server } = await misbehavingServer();
    let n = 0;
    server.on('connection', (socket) => {
      n++;
      socket.send(JSON.stringify(hello));
      if (n === 1) setTimeout(() => socket.terminate(), 50);
    });
    const port = (server.address() as { port: number }).port;
    const c = connect(`ws://127.0.0.1:${port}/ws`);
    await until('it', () => c.states.some((s) => s.status === 'waiting'));
    const waiting = c.states.find((s) => s.status === 'waiting')!;
    expect(waiting).toMatchObject({ everConnected: true });
    await until('it', () => c.hellos.length === 2, 10_000);
    expect(c.hellos[1]!.fresh).toBe(false);
  });

  it('says the server is unreachable when nothing listens', async () => {
    const c = connect('ws://127.0.0.1:9/ws');
    await until('it', () => c.states.some((s) => s.status === 'waiting'));
    expect(c.states.find((s) => s.status === 'waiting')).toMatchObject({ everConnected: false });
    expect(c.connection.connected).toBe(false);
    await expect(c.connection.request({ type: 'ping' })).rejects.toThrow(/not connected/);
  });
});
