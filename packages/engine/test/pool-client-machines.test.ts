import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { serverCodecMachine, clientCodecMachine } from '../src/codec/http1-codec.machine';
import { compileRefusal } from '../src/fsm/compile';
import { ManualClock } from '../src/seams/clock';
import type { ConnectCallbacks, Transport, TransportConnection } from '../src/seams/transport';
import { clientMachine, type ClientList, type ClientOwner } from '../src/upstream/client.machine';
import { poolMachine } from '../src/upstream/pool.machine';

/**
 * The pool, client and codec machines on their own, with owners that record what the
 * machines ask of them: the pool's lists follow the client machine's states because the
 * machine's entry actions move the client, and the codec decides when llhttp resumes.
 */

const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

function fakeConnection(): TransportConnection {
  return {
    localAddress: '127.0.0.1',
    localPort: 40000,
    remoteAddress: '10.0.0.1',
    remotePort: 8080,
    setHandlers: () => {},
    write: () => true,
    end: () => {},
    destroy: () => {},
    pause: () => {},
    resume: () => {},
  };
}

function startClient(idleTimeout = 0) {
  let connect: ConnectCallbacks | undefined;
  const transport = {
    connect: (_address: string, _port: number, callbacks: ConnectCallbacks) => {
      connect = callbacks;
      return { cancel: () => {} };
    },
  } as unknown as Transport;
  const log: string[] = [];
  /** the list the pool would hold the client in, from the owner calls alone */
  let list: ClientList | 'none' = 'none';
  const owner: ClientOwner = {
    moveToList: (to) => {
      if (list !== to) log.push(`list ${to}`);
      list = to;
    },
    removeFromList: () => {
      log.push('list none');
      list = 'none';
    },
    onConnected: () => log.push('connected'),
    onReady: () => log.push('ready'),
    onDrain: (reason, then) => log.push(`drain ${reason ?? 'pool'}: ${then}`),
    closeConnection: () => log.push('close socket'),
    onClosed: (reason) => log.push(`closed ${reason}`),
    post: (fn) => queueMicrotask(fn),
  };
  const clock = new ManualClock();
  const actor = createActor(clientMachine, {
    input: { transport, address: '10.0.0.1', port: 8080, connectTimeout: 1000, idleTimeout, owner },
    clock,
  } as never);
  actor.start();
  return { actor, log, list: () => list, connected: () => connect!.onConnect(fakeConnection()), clock };
}

describe('client machine: the pool lists follow its states', () => {
  it('is in the connecting list from the start, ready once connected, busy while a stream is on it', () => {
    const c = startClient();
    expect(c.list()).toBe('connecting');
    c.connected();
    expect(c.actor.getSnapshot().value).toBe('ready');
    expect(c.list()).toBe('ready');
    c.actor.send({ type: 'client.attach', lastStream: false });
    expect(c.list()).toBe('busy');
    c.actor.send({ type: 'client.release' });
    expect(c.list()).toBe('ready');
    expect(c.log).toEqual(['list connecting', 'connected', 'list ready', 'ready', 'list busy', 'list ready', 'ready']);
  });

  it('stays in the busy list while draining its last stream, and leaves every list when closed', async () => {
    const c = startClient();
    c.connected();
    c.actor.send({ type: 'client.attach', lastStream: true });
    expect(c.actor.getSnapshot().value).toBe('draining');
    expect(c.list()).toBe('busy');
    c.actor.send({ type: 'client.release' });
    expect(c.actor.getSnapshot().value).toBe('closed');
    expect(c.list()).toBe('none');
    await settle();
    expect(c.log.slice(-3)).toEqual(['list none', 'close socket', 'closed local_close']);
  });

  it('drains as the machine decides: a ready client closes at once, a busy one after its stream, others ignore it', () => {
    const ready = startClient();
    ready.connected();
    ready.actor.send({ type: 'client.drain', reason: 'max_connection_duration' });
    expect(ready.actor.getSnapshot().value).toBe('closed');
    expect(ready.log).toContain('drain max_connection_duration: close');

    const busy = startClient();
    busy.connected();
    busy.actor.send({ type: 'client.attach', lastStream: false });
    busy.actor.send({ type: 'client.drain' });
    expect(busy.actor.getSnapshot().value).toBe('draining');
    expect(busy.log).toContain('drain pool: close after the stream');
    // Drained once: a second drain (the max_connection_duration timer) asks nothing more.
    busy.actor.send({ type: 'client.drain', reason: 'max_connection_duration' });
    expect(busy.log.filter((l) => l.startsWith('drain'))).toHaveLength(1);

    const connecting = startClient();
    connecting.actor.send({ type: 'client.drain' });
    expect(connecting.actor.getSnapshot().value).toBe('connecting');
    expect(connecting.log.some((l) => l.startsWith('drain'))).toBe(false);
  });

  it('closes after idle_timeout ready with no stream; a stream in between starts the time again', async () => {
    const c = startClient(500);
    c.connected();
    c.clock.advance(400);
    c.actor.send({ type: 'client.attach', lastStream: false });
    c.clock.advance(1000);
    expect(c.actor.getSnapshot().value).toBe('busy');
    c.actor.send({ type: 'client.release' });
    c.clock.advance(499);
    expect(c.actor.getSnapshot().value).toBe('ready');
    c.clock.advance(1);
    expect(c.actor.getSnapshot().value).toBe('closed');
    await settle();
    expect(c.log.at(-1)).toBe('closed idle_timeout');
    expect(c.clock.pendingTimers()).toBe(0);
  });

  it('keeps a ready connection without an idle_timeout (0)', () => {
    const c = startClient(0);
    c.connected();
    c.clock.advance(2 ** 31);
    expect(c.actor.getSnapshot().value).toBe('ready');
  });

  it('leaves the connecting list when its connect times out', () => {
    const c = startClient();
    c.clock.advance(1000);
    expect(c.actor.getSnapshot().value).toBe('closed');
    expect(c.list()).toBe('none');
  });
});

describe('pool machine', () => {
  it('closes every connection on entering draining, and is idle once they are gone', () => {
    let closes = 0;
    const actor = createActor(poolMachine, { input: { owner: { closeConnections: () => void closes++ } } });
    actor.start();
    actor.send({ type: 'pool.activate' });
    expect(closes).toBe(0);
    actor.send({ type: 'pool.drain' });
    expect(actor.getSnapshot().value).toBe('draining');
    expect(closes).toBe(1);
    actor.send({ type: 'pool.idle' });
    expect(actor.getSnapshot().value).toBe('idle');
  });
});

describe('HTTP/1 codec machines', () => {
  function server() {
    const log: string[] = [];
    const actor = createActor(serverCodecMachine, {
      input: { owner: { resumeParsing: () => log.push('resume llhttp'), newResponseEncoder: () => log.push('new encoder') } },
    });
    actor.start();
    return { actor, log, paused: () => actor.getSnapshot().value === 'complete' && !actor.getSnapshot().context.encodeComplete };
  }

  it('server: a request ends paused until its response is out, and llhttp resumes once', () => {
    const s = server();
    s.actor.send({ type: 'codec.message.begin' });
    s.actor.send({ type: 'codec.headers.complete', endStream: false });
    s.actor.send({ type: 'codec.message.complete' });
    expect(s.paused()).toBe(true);
    s.actor.send({ type: 'codec.encode.complete' });
    s.actor.send({ type: 'codec.encode.complete' });
    expect(s.paused()).toBe(false);
    expect(s.log).toEqual(['new encoder', 'resume llhttp']);
    // The next pipelined request starts a new exchange with its own response encoder.
    s.actor.send({ type: 'codec.message.begin' });
    expect(s.actor.getSnapshot().value).toBe('headers');
    expect(s.actor.getSnapshot().context.encodeComplete).toBe(false);
    expect(s.log).toEqual(['new encoder', 'resume llhttp', 'new encoder']);
  });

  it('server: a response that ended before its request (a local reply) leaves the request end unpaused', () => {
    const s = server();
    s.actor.send({ type: 'codec.message.begin' });
    s.actor.send({ type: 'codec.headers.complete', endStream: false });
    s.actor.send({ type: 'codec.encode.complete' });
    expect(s.actor.getSnapshot().value).toBe('body');
    s.actor.send({ type: 'codec.message.complete' });
    expect(s.actor.getSnapshot().value).toBe('complete');
    expect(s.paused()).toBe(false);
    expect(s.log).not.toContain('resume llhttp');
  });

  it('server: an error is final; nothing later moves it', () => {
    const s = server();
    s.actor.send({ type: 'codec.message.begin' });
    s.actor.send({ type: 'codec.error', code: 'HPE_INVALID_METHOD' });
    expect(s.actor.getSnapshot().status).toBe('done');
    s.actor.send({ type: 'codec.encode.complete' });
    expect(s.log).toEqual(['new encoder']);
  });

  it('client: the final head says whether the connection ends with the response; a 1xx head does not', () => {
    const actor = createActor(clientCodecMachine, { input: {} });
    actor.start();
    actor.send({ type: 'codec.message.begin' });
    actor.send({ type: 'codec.headers.interim' });
    actor.send({ type: 'codec.message.complete' });
    expect(actor.getSnapshot().value).toBe('idle');
    actor.send({ type: 'codec.message.begin' });
    actor.send({ type: 'codec.headers.complete', endStream: false, closeConnection: true });
    expect(actor.getSnapshot().context.closeConnection).toBe(true);
    actor.send({ type: 'codec.message.complete' });
    actor.send({ type: 'codec.message.begin' });
    actor.send({ type: 'codec.headers.complete', endStream: true, closeConnection: false });
    expect(actor.getSnapshot().context.closeConnection).toBe(false);
  });

  it('fit the engine runtime (the codecs run on it per request; the pool and the client too)', () => {
    for (const machine of [serverCodecMachine, clientCodecMachine, poolMachine, clientMachine]) expect(compileRefusal(machine)?.message).toBeUndefined();
  });
});
