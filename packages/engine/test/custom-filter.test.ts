/**
 * A custom HTTP filter written in TypeScript and registered with registerHttpFilter, run
 * on real sockets: the worked example of docs/filters.md.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadEnvoy } from './support/envoy-config';
import { registerExampleFilters } from './support/example-filters';
import { eventually, httpRequest, RawClient, startProxy, startUpstream } from './support/upstreams';

registerExampleFilters();

async function start() {
  const up = await startUpstream({ respond: (req) => ({ body: `hello=${req.headers['x-hello'] ?? '-'} body=${req.bodyLength}` }) });
  const config = loadEnvoy({
    listenerPort: 0,
    clusterPort: up.port,
    httpFilters: [
      { name: 'example.add_header', typed_config: { '@type': 'type.googleapis.com/example.AddHeader', header: 'x-hello', value: 'world' } },
      { name: 'example.hold', typed_config: { '@type': 'type.googleapis.com/example.Hold', hold_ms: 200 } },
    ],
  });
  return { up, proxy: await startProxy(config) };
}

describe('a custom filter registered with registerHttpFilter', () => {
  it('adds a header both ways and holds the request on a timer before it continues', async () => {
    const { up, proxy } = await start();
    const sent = Date.now();
    const res = await httpRequest(proxy.port, { path: '/greet' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('hello=world body=0');
    expect(res.headers['x-filtered-by']).toBe('example.add_header');
    expect(Date.now() - sent).toBeGreaterThanOrEqual(190);
    expect(up.requests).toHaveLength(1);
    expect(proxy.stat('http.ingress_http.example_hold.held')).toBe(1);
    // The trace shows the filter's own fact, then header iteration going on from it.
    const custom = proxy.events.findIndex((e) => e.type === 'fact' && e.fact === 'filter.custom');
    const resumed = proxy.events.findIndex((e) => e.type === 'fact' && e.fact === 'stream.decoder_filter' && e.data.call === 'continue');
    expect(proxy.events[custom]).toMatchObject({ machine: 'stream', data: { filter: 'example.hold', action: 'hold', ms: 200 } });
    expect(proxy.events[resumed]).toMatchObject({ data: { filter: 'example.hold', index: 1 } });
    expect(resumed).toBeGreaterThan(custom);
    await eventually(() => proxy.logs.length === 1, 'the access log line');
  });

  it('a body sent while the request is held reaches the upstream whole, and keep-alive goes on', async () => {
    const { up, proxy } = await start();
    const client = await RawClient.connect(proxy.port);
    const body = 'x'.repeat(100_000);
    client.write(`POST /upload HTTP/1.1\r\nHost: example.com\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    client.write('GET /next HTTP/1.1\r\nHost: example.com\r\n\r\n');
    const responses = await client.waitForResponses(2);
    expect(responses.map((r) => r.body.toString())).toEqual(['hello=world body=100000', 'hello=world body=0']);
    expect(up.requests.map((r) => r.url)).toEqual(['/upload', '/next']);
  });

  it('is the code docs/filters.md shows', () => {
    const source = fs.readFileSync(new URL('./support/example-filters.ts', import.meta.url), 'utf8');
    const docs = fs.readFileSync(new URL('../../../docs/filters.md', import.meta.url), 'utf8');
    expect(docs).toContain(source.trim());
  });
});
