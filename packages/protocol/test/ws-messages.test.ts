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
      { type: 'send_request', method: 'GET', authority: 'shop.example.com', path: '/' },
      {
        type: 'send_request',
        id: 's',
        method: 'POST',
        authority: '127.0.0.1:10000',
        path: '/api/cart?x=1',
        headers: { 'content-type': 'application/json', 'X-Custom': 'a\tb' },
        body: '{"qty":1}',
        listener: 'ingress',
        tag: 'cart-1',
        timeoutMs: 5000,
      },
      { type: 'send_request', method: 'PUT', authority: '[::1]:8080', path: '/b', body: 'AAEC/w==', bodyEncoding: 'base64' },
      { type: 'host_fault', id: 'h', host: 'web-2', fault: { fail: { status: 503, rate: 0.5 } } },
      { type: 'host_fault', host: 'web-2', fault: { latency: { ms: 250 } } },
      { type: 'host_fault', host: 'api-1', fault: { reset: true } },
      { type: 'host_fault', host: 'api-1', fault: { down: true } },
      { type: 'host_fault', host: 'api-1', fault: { up: true } },
      { type: 'host_fault', host: 'api-1', fault: { clear: true } },
      { type: 'breakpoints', id: 'b', breakpoints: [{ machine: 'router', state: 'route_matched' }, { machine: 'retry', state: 'backoff' }], pauseAll: false },
      { type: 'breakpoints', breakpoints: [] },
      {
        type: 'breakpoints',
        breakpoints: [
          { machine: 'router', state: 'host_selected', when: { route: 'api', cluster: 'api', host: 'web-2', pathPrefix: '/api/', header: { name: 'x-user', value: 'ann' } }, once: true },
          { machine: 'stream', state: 'decoding_headers', when: { header: { name: ':authority' } } },
          { machine: 'retry', state: 'backoff', once: false },
        ],
      },
      { type: 'step', id: 'st', stream: 42 },
      { type: 'resume', stream: 42 },
      { type: 'resume' },
      { type: 'host_fault', host: '10.0.1.2:8080', fault: { down: true } },
      { type: 'sim_clock', id: 'k', action: 'pause' },
      { type: 'sim_clock', action: 'resume' },
      { type: 'sim_clock', action: 'speed', speed: 'max' },
      { type: 'sim_clock', action: 'speed', speed: 10 },
      { type: 'sim_clock', action: 'advance' },
      { type: 'sim_clock', action: 'advance', ms: 12.5 },
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
    expect(refusal('{"type":"breakpoints","breakpoints":[{"machine":"pool","state":"active"}]}')).toMatchObject({ code: 'invalid_message', field: 'breakpoints.0.machine' });
    expect(refusal('{"type":"breakpoints","breakpoints":[{"machine":"router","state":"Route Matched"}]}')).toMatchObject({ code: 'invalid_message', field: 'breakpoints.0.state' });
    expect(refusal(`{"type":"breakpoints","breakpoints":[${Array(33).fill('{"machine":"router","state":"complete"}').join(',')}]}`)).toMatchObject({ field: 'breakpoints' });
    expect(refusal('{"type":"step","stream":0}')).toMatchObject({ code: 'invalid_message', field: 'stream' });
    const when = (condition: unknown) => refusal(JSON.stringify({ type: 'breakpoints', id: 'w', breakpoints: [{ machine: 'router', state: 'host_selected', when: condition }] }));
    expect(when({})).toEqual({
      type: 'error',
      code: 'invalid_message',
      id: 'w',
      field: 'breakpoints.0.when',
      message: 'breakpoints: breakpoints.0.when: an empty condition: give at least one of route, cluster, host, pathPrefix, header, or leave out "when"',
    });
    expect(when({ pathPrefix: 'api' })).toMatchObject({ field: 'breakpoints.0.when.pathPrefix', message: 'breakpoints: breakpoints.0.when.pathPrefix: a path prefix starts with /, e.g. /api/' });
    expect(when({ path: '/api/' })).toMatchObject({ field: 'breakpoints.0.when', message: expect.stringContaining('path') });
    expect(when({ host: 'web 2' })).toMatchObject({ field: 'breakpoints.0.when.host', message: expect.stringContaining('a host such as web-2') });
    expect(when({ route: '' })).toMatchObject({ field: 'breakpoints.0.when.route' });
    expect(when({ header: { name: 'X-User' } })).toMatchObject({ field: 'breakpoints.0.when.header.name', message: expect.stringContaining('lower-case header name') });
    expect(when({ header: { value: 'ann' } })).toMatchObject({ field: 'breakpoints.0.when.header.name' });
    expect(when({ header: 'x-user' })).toMatchObject({ field: 'breakpoints.0.when.header' });
    expect(refusal('{"type":"breakpoints","breakpoints":[{"machine":"router","state":"route_matched","once":"yes"}]}')).toMatchObject({ field: 'breakpoints.0.once' });
    expect(refusal(`{"type":"subscribe","filter":{"requests":[${Array(1001).fill(1).join(',')}]}}`)).toMatchObject({ field: 'filter.requests' });
    expect(refusal('{"type":"ping","__proto__":{"polluted":true}}')).toMatchObject({ code: 'invalid_message' });
    const send = (extra: Record<string, unknown>) => refusal(JSON.stringify({ type: 'send_request', id: 'r', method: 'GET', authority: 'a.example', path: '/', ...extra }));
    expect(send({ method: 'get' })).toMatchObject({ field: 'method', id: 'r' });
    expect(send({ authority: '' })).toMatchObject({ field: 'authority' });
    expect(send({ authority: 'a.example/x' })).toMatchObject({ field: 'authority' });
    expect(send({ path: '/a b' })).toMatchObject({ field: 'path' });
    expect(send({ path: '/' + 'a'.repeat(8192) })).toMatchObject({ field: 'path' });
    expect(send({ headers: { 'x-a': 'ok', 'x:b': 'v' } })).toMatchObject({ field: 'headers.x:b' });
    expect(send({ headers: { 'Content-Length': '5' } })).toMatchObject({ field: 'headers.Content-Length' });
    expect(send({ headers: { 'Transfer-Encoding': 'chunked' } })).toMatchObject({ field: 'headers.Transfer-Encoding' });
    expect(send({ headers: { 'x-a': 'v\u0000' } })).toMatchObject({ field: 'headers.x-a' });
    expect(send({ headers: { 'x-a': '\u20ac' } })).toMatchObject({ field: 'headers.x-a' });
    expect(send({ headers: { 'x-a': 'v'.repeat(8193) } })).toMatchObject({ field: 'headers.x-a' });
    expect(send({ headers: { 'x-a': 1 } })).toMatchObject({ field: 'headers.x-a' });
    expect(send({ headers: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`x-${i}`, 'v'.repeat(8000)])) })).toMatchObject({ field: 'headers', message: expect.stringContaining('characters in all') });
    expect(send({ body: '\u20ac'.repeat(349_526) })).toMatchObject({ field: 'body' }); // 1,048,578 bytes of UTF-8
    expect(send({ body: 'A'.repeat(1_398_104), bodyEncoding: 'base64' })).toMatchObject({ field: 'body' }); // 1,048,578 bytes decoded
    expect(send({ body: 'AAA', bodyEncoding: 'base64' })).toMatchObject({ field: 'body' });
    expect(send({ bodyEncoding: 'hex' })).toMatchObject({ field: 'bodyEncoding' });
    expect(send({ tag: 'has space' })).toMatchObject({ field: 'tag' });
    expect(send({ timeoutMs: 0 })).toMatchObject({ field: 'timeoutMs' });
    expect(send({ timeoutMs: 60_001 })).toMatchObject({ field: 'timeoutMs' });
    expect(send({ listener: 7 })).toMatchObject({ field: 'listener' });
    const fault = (host: unknown, f: unknown) => refusal(JSON.stringify({ type: 'host_fault', host, fault: f }));
    expect(fault('web-2', {})).toMatchObject({ field: 'fault', message: expect.stringContaining('exactly one of fail, latency, reset, down, up, clear') });
    expect(fault('web-2', { down: true, up: true })).toMatchObject({ field: 'fault' });
    expect(fault('web-2', { reset: false })).toMatchObject({ field: 'fault.reset' });
    expect(fault('web-2', { fail: { status: 200, rate: 1 } })).toMatchObject({ field: 'fault.fail.status' });
    expect(fault('web-2', { fail: { status: 503 } })).toMatchObject({ field: 'fault.fail.rate' });
    expect(fault('web-2', { latency: { ms: -1 } })).toMatchObject({ field: 'fault.latency.ms' });
    expect(fault('web-2', { latency: { ms: 10 }, extra: 1 })).toMatchObject({ field: 'fault' });
    expect(fault('../../etc/passwd', { down: true })).toMatchObject({ field: 'host' });
    expect(fault(undefined, { down: true })).toMatchObject({ field: 'host' });
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
      { type: 'ack', id: 'r', request: 'send_request', seq: 3, detail: { tag: 't', listener: 'ingress', address: '127.0.0.1:10000' } },
      { type: 'error', code: 'bad_json', message: 'no' },
      { type: 'error', code: 'busy', message: 'too many', id: 3 },
      {
        type: 'request_result',
        id: 'r',
        tag: 't',
        listener: 'ingress',
        durationMs: 12.5,
        stream: 4,
        cx: 2,
        status: 503,
        headers: [['content-length', '2'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']],
        body: 'no',
        bodyEncoding: 'utf8',
        bodyBytes: 2,
        truncated: false,
        accessLog: { status: 503, flags: 'UF', durationMs: 3, upstreamHost: '127.0.0.1:8081', cluster: 'web', route: 'static' },
      },
      { type: 'request_result', tag: 't2', listener: 'ingress', durationMs: 1, error: { code: 'connection_refused', message: 'refused' } },
      {
        type: 'hosts',
        hosts: [
          {
            name: 'web-2',
            service: 'web',
            port: 8082,
            address: '127.0.0.1:8082',
            behaviour: { latencyMs: 35, errorRate: 1, errorStatus: 503, reset: false, down: false },
            faulted: true,
          },
        ],
      },
    ];
    for (const m of messages) expect(parseServerMessage(JSON.stringify(m))).toEqual(m);
    expect(() => parseServerMessage('{"type":"dropped","count":0,"total":1,"fromSeq":1,"toSeq":1,"reason":"slow_client"}')).toThrow(/field count/);
    expect(() => parseServerMessage('{"type":"nope"}')).toThrow(/invalid server message/);
  });
});
