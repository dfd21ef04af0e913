import { describe, expect, it } from 'vitest';
import { CLIENT_MESSAGE_TYPES, parseClientMessage, parseServerMessage, WS_PROTOCOL_VERSION, type ServerMessage } from '../src';

const refusal = (text: string) => {
  const result = parseClientMessage(text);
  if (result.ok) throw new Error(`accepted ${text}`);
  return result.error;
};

describe('client messages', () => {
  it('accept each kind', () => {
    const ok = [
      { type: 'subscribe' },
      { type: 'subscribe', id: 'a', history: true, filter: { requests: [1, 2], connections: [3], clusters: ['web'], hosts: ['127.0.0.1:80'], machines: ['router'] } },
      { type: 'subscribe', id: 7, sample: { percent: 12.5, keepFailures: true } },
      { type: 'unsubscribe' },
      { type: 'control', id: 'c', action: 'drain_listeners' },
      { type: 'control', action: 'healthcheck_fail' },
      { type: 'control', action: 'healthcheck_ok' },
      { type: 'ping', id: 1 },
    ];
    for (const message of ok) expect(parseClientMessage(JSON.stringify(message))).toEqual({ ok: true, message });
    expect(new Set(ok.map((m) => m.type))).toEqual(new Set(CLIENT_MESSAGE_TYPES));
  });

  it('refuse bad JSON, non-objects, unknown types and invalid fields with a code and the field', () => {
    expect(refusal('{"type":')).toMatchObject({ type: 'error', code: 'bad_json' });
    expect(refusal('null')).toMatchObject({ code: 'invalid_message' });
    expect(refusal('"ping"')).toMatchObject({ code: 'invalid_message' });
    expect(refusal('[{"type":"ping"}]')).toMatchObject({ code: 'invalid_message' });
    expect(refusal('{"id":3}')).toMatchObject({ code: 'unknown_type', field: 'type', id: 3 });
    expect(refusal('{"type":"eval","id":"x","code":"process.exit()"}')).toMatchObject({ code: 'unknown_type', id: 'x' });
    expect(refusal('{"type":"subscribe","filter":{"requests":["1"]}}')).toMatchObject({ code: 'invalid_message', field: 'filter.requests.0' });
    expect(refusal('{"type":"subscribe","filter":{"machine":["router"]}}')).toMatchObject({ code: 'invalid_message', field: 'filter' });
    expect(refusal('{"type":"subscribe","sample":{"percent":-1}}')).toMatchObject({ code: 'invalid_message', field: 'sample.percent' });
    expect(refusal('{"type":"subscribe","sample":{}}')).toMatchObject({ code: 'invalid_message', field: 'sample.percent' });
    expect(refusal('{"type":"control","action":"send_request"}')).toMatchObject({ code: 'invalid_message', field: 'action' });
    expect(refusal('{"type":"ping","id":{"a":1}}')).toMatchObject({ code: 'invalid_message', field: 'id' });
    expect(refusal(`{"type":"subscribe","filter":{"requests":[${Array(1001).fill(1).join(',')}]}}`)).toMatchObject({ field: 'filter.requests' });
    expect(refusal('{"type":"ping","__proto__":{"polluted":true}}')).toMatchObject({ code: 'invalid_message' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('server messages', () => {
  it('validate every kind the server sends', () => {
    const messages: ServerMessage[] = [
      {
        type: 'hello',
        protocol: WS_PROTOCOL_VERSION,
        mode: 'live',
        engineVersion: '0.1.0',
        startedAt: '2026-01-01T00:00:00.000Z',
        topology: { workers: 1, listeners: [{ name: 'l', address: '127.0.0.1:1', filterChains: [] }], routeConfigs: [], clusters: [], pools: [] },
        subscription: {},
        history: { events: 0 },
        controls: ['drain_listeners'],
        limits: { maxMessageBytes: 65536, batchMs: 20, maxBatchEvents: 2048, maxQueuedEvents: 50000 },
      },
      { type: 'history_end', events: 3, lastSeq: 9 },
      {
        type: 'stats',
        t: 1.5,
        stats: { 'server.live': 1 },
        stream: { clients: 1, events: 10, eventsPerSec: 5, queued: 0, dropped: 0, held: 0, tracing: true },
        recording: { active: false, events: 0, dropped: 0 },
      },
      { type: 'topology', topology: { workers: 2, listeners: [], routeConfigs: [], clusters: [] } },
      { type: 'dropped', count: 5, total: 9, fromSeq: 10, toSeq: 20, reason: 'slow_client' },
      { type: 'ack', id: 'x', request: 'ping', seq: 3 },
      { type: 'error', code: 'bad_json', message: 'no' },
    ];
    for (const m of messages) expect(parseServerMessage(JSON.stringify(m))).toEqual(m);
    expect(() => parseServerMessage('{"type":"dropped","count":0,"total":1,"fromSeq":1,"toSeq":1,"reason":"slow_client"}')).toThrow(/field count/);
    expect(() => parseServerMessage('{"type":"nope"}')).toThrow(/invalid server message/);
  });
});
