/**
 * envoy.filters.http.buffer: the request body is read in full before the router sends
 * anything upstream; a body over max_request_bytes gets 413; BufferPerRoute disables it or
 * sets its own limit.
 */
import { describe, expect, it } from 'vitest';
import { settle } from './support/memory-origin';
import { filterProxy } from './support/filter-proxy';

const BUFFER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer';
const PER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute';
const buffer = (max_request_bytes: number) => ({ name: 'envoy.filters.http.buffer', typed_config: { '@type': BUFFER_TYPE, max_request_bytes } });
const head = (path: string, length: number) => `POST ${path} HTTP/1.1\r\nHost: example.com\r\ncontent-length: ${length}\r\n\r\n`;

describe('buffer filter', () => {
  it('holds the request until its whole body has arrived, then the upstream gets all of it', async () => {
    const p = await filterProxy({ httpFilters: [buffer(100)] });
    p.connection.write(head('/upload', 30));
    p.connection.write('a'.repeat(10));
    await settle();
    // Nothing has gone upstream yet: no upstream connection was even needed.
    expect(p.origin.connections).toHaveLength(0);
    p.connection.write('b'.repeat(20));
    await settle();
    expect(p.origin.requests.map((r) => r.body)).toEqual(['a'.repeat(10) + 'b'.repeat(20)]);
    expect(p.connection.text()).toMatch(/^HTTP\/1.1 200 OK/);
    expect(p.facts('filter.buffer')).toEqual([
      { filter: 'envoy.filters.http.buffer', action: 'buffer', max_request_bytes: 100, config: 'filter' },
      { filter: 'envoy.filters.http.buffer', action: 'complete', bytes: 30 },
    ]);
  });

  it('answers 413 "Payload Too Large" when the body is over max_request_bytes, in pieces or at once', async () => {
    const p = await filterProxy({ httpFilters: [buffer(16)] });
    p.connection.write(head('/big', 40));
    p.connection.write('x'.repeat(10));
    await settle();
    p.connection.write('x'.repeat(10));
    await settle();
    expect(p.connection.text()).toMatch(/^HTTP\/1.1 413 Payload Too Large/);
    expect(p.connection.text()).toContain('\r\n\r\nPayload Too Large');
    const q = await filterProxy({ httpFilters: [buffer(16)] });
    const [res] = await q.send({ method: 'POST', path: '/big', body: 'y'.repeat(17) });
    expect(res!.status).toBe(413);
    expect(p.origin.requests).toHaveLength(0);
    expect(q.origin.requests).toHaveLength(0);
  });

  it('a request without a body goes on at once', async () => {
    const p = await filterProxy({ httpFilters: [buffer(16)] });
    const [res] = await p.send({ path: '/get' });
    expect(res!.status).toBe(200);
    expect(p.facts('filter.buffer')).toEqual([]);
  });

  it('BufferPerRoute: disabled streams the body through; buffer sets the route its own limit', async () => {
    const p = await filterProxy({
      httpFilters: [buffer(16)],
      routes: [
        { name: 'stream', match: { prefix: '/stream' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.buffer': { '@type': PER_ROUTE, disabled: true } } },
        { name: 'big', match: { prefix: '/big' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.buffer': { '@type': PER_ROUTE, buffer: { max_request_bytes: 1000 } } } },
        { name: 'all', match: { prefix: '/' }, route: { cluster: 'backend' } },
      ],
    });
    p.connection.write(head('/stream', 40));
    p.connection.write('s'.repeat(10));
    await settle();
    // Disabled: the request went upstream before its body was complete.
    expect(p.origin.connections).toHaveLength(1);
    p.connection.write('s'.repeat(30));
    await settle();
    const [, big] = await p.send({ method: 'POST', path: '/big', body: 'z'.repeat(500) });
    expect(big!.status).toBe(200);
    expect(p.origin.requests.map((r) => r.body.length)).toEqual([40, 500]);
  });

  it('refuses a BufferPerRoute that is neither disabled nor a buffer', async () => {
    const { loadBootstrap } = await import('../src/config/load');
    const { envoyYaml } = await import('./support/envoy-config');
    const yaml = envoyYaml({ httpFilters: [buffer(16)], vhost: { typed_per_filter_config: { 'envoy.filters.http.buffer': { '@type': PER_ROUTE } } } });
    expect(() => loadBootstrap(yaml, 'envoy.yaml')).toThrow(/typed_per_filter_config\["envoy\.filters\.http\.buffer"\]: a BufferPerRoute needs one of disabled, buffer/);
  });
});
