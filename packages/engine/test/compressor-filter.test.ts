/**
 * envoy.filters.http.compressor with the gzip and brotli libraries on node:zlib: what a
 * client gets (content-encoding, vary, a body that decompresses to the original, chunk by
 * chunk as it streams), Accept-Encoding q-values across two compressors, the cases that
 * are sent as they are, and the compressor.<name>.<library>.* stats.
 */
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { nodeCompression } from '../src/transport/node-compression';
import { settle } from './support/memory-origin';
import { filterProxy } from './support/filter-proxy';

const COMPRESSOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor';
const gzipFilter = (extra: Record<string, unknown> = {}) => ({
  name: 'envoy.filters.http.compressor',
  typed_config: {
    '@type': COMPRESSOR_TYPE,
    compressor_library: { name: 'text_optimized', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip', compression_level: 'BEST_SPEED' } },
    ...extra,
  },
});
const brotliFilter = {
  name: 'brotli',
  typed_config: {
    '@type': COMPRESSOR_TYPE,
    compressor_library: { name: 'br', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.compression.brotli.compressor.v3.Brotli', quality: 5 } },
  },
};

const PAGE = '<html><body>' + 'ProxyScope compresses this line of HTML. '.repeat(200) + '</body></html>';
const html = (body = PAGE, headers = '') => `HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: ${body.length}\r\n${headers}\r\n${body}`;
const withNode = { compression: nodeCompression };
const stat = (p: { stat(n: string): number }, name: string, lib = 'text_optimized.gzip') => p.stat(`http.ingress_http.compressor.${lib}.${name}`);

describe('compressor filter', () => {
  it('gzips a response the client accepts: content-encoding, vary, no content-length, and the original body after gunzip', async () => {
    const p = await filterProxy({ httpFilters: [gzipFilter()] }, () => html(), withNode);
    const [res] = await p.send({ headers: { 'accept-encoding': 'gzip, deflate' } });
    expect(res!.status).toBe(200);
    expect(res!.headers['content-encoding']).toBe('gzip');
    expect(res!.headers.vary).toBe('Accept-Encoding');
    expect(res!.headers['content-length']).toBeUndefined();
    expect(res!.headers['transfer-encoding']).toBe('chunked');
    expect(zlib.gunzipSync(res!.body).toString()).toBe(PAGE);
    expect(res!.body.length).toBeLessThan(PAGE.length / 5);
    expect(stat(p, 'compressed')).toBe(1);
    expect(stat(p, 'header_compressor_used')).toBe(1);
    expect(stat(p, 'total_uncompressed_bytes')).toBe(PAGE.length);
    expect(stat(p, 'total_compressed_bytes')).toBe(res!.body.length);
  });

  it('compresses each chunk as it passes: what has arrived decodes before the response ends', async () => {
    const p = await filterProxy(
      { httpFilters: [gzipFilter()] },
      () => `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n${(40).toString(16)}\r\n${'a'.repeat(40)}\r\n`,
      withNode,
    );
    p.connection.write('GET / HTTP/1.1\r\nHost: example.com\r\naccept-encoding: gzip\r\n\r\n');
    await settle();
    const raw = () => Buffer.concat(p.connection.received).toString('latin1');
    const sofar = () => {
      const text = raw();
      const chunks: Buffer[] = [];
      let pos = text.indexOf('\r\n\r\n') + 4;
      for (;;) {
        const end = text.indexOf('\r\n', pos);
        if (end < 0) break;
        const size = parseInt(text.slice(pos, end), 16);
        if (!size || text.length < end + 2 + size) break;
        chunks.push(Buffer.from(text.slice(end + 2, end + 2 + size), 'latin1'));
        pos = end + 2 + size + 2;
      }
      return zlib.gunzipSync(Buffer.concat(chunks), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString();
    };
    expect(raw()).toMatch(/content-encoding: gzip/);
    expect(sofar()).toBe('a'.repeat(40));
    p.origin.connections[0]!.write(`${(30).toString(16)}\r\n${'b'.repeat(30)}\r\n`);
    await settle();
    expect(sofar()).toBe('a'.repeat(40) + 'b'.repeat(30));
    p.origin.connections[0]!.write('0\r\n\r\n');
    await settle();
    const [res] = await p.send();
    expect(zlib.gunzipSync(res!.body).toString()).toBe('a'.repeat(40) + 'b'.repeat(30));
  });

  it('picks the encoding with the highest q-value across the chain: brotli here, the gzip filter overshadowed', async () => {
    const p = await filterProxy({ httpFilters: [gzipFilter(), brotliFilter] }, () => html(), withNode);
    const [br, gz] = await p.send({ headers: { 'accept-encoding': 'gzip;q=0.5, br;q=0.9' } }, { headers: { 'accept-encoding': 'br;q=0.2, gzip' } });
    expect(br!.headers['content-encoding']).toBe('br');
    expect(zlib.brotliDecompressSync(br!.body).toString()).toBe(PAGE);
    expect(gz!.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(gz!.body).toString()).toBe(PAGE);
    expect(stat(p, 'compressed', 'br.brotli')).toBe(1);
    // Second request: gzip won, so the brotli filter (it encodes first, being later in the chain) stood aside.
    expect(stat(p, 'header_compressor_overshadowed', 'br.brotli')).toBe(1);
    // First request: the gzip filter met a response brotli had already encoded.
    expect(p.facts('filter.compressor')[1]).toMatchObject({ filter: 'envoy.filters.http.compressor', compressed: false, reason: 'already encoded (br)' });
    expect([stat(p, 'compressed'), stat(p, 'not_compressed')]).toEqual([1, 1]);
  });

  it('"*" accepts it (header_wildcard); q=0 and a preferred identity refuse it (header_identity)', async () => {
    const p = await filterProxy({ httpFilters: [gzipFilter()] }, () => html(), withNode);
    const [star, zero, identity] = await p.send(
      { headers: { 'accept-encoding': '*' } },
      { headers: { 'accept-encoding': 'gzip;q=0' } },
      { headers: { 'accept-encoding': 'identity;q=1, gzip;q=0.5' } },
    );
    expect(star!.headers['content-encoding']).toBe('gzip');
    expect(zero!.headers['content-encoding']).toBeUndefined();
    expect(zero!.body.toString()).toBe(PAGE);
    expect(zero!.headers.vary).toBe('Accept-Encoding');
    expect(identity!.headers['content-encoding']).toBeUndefined();
    expect([stat(p, 'header_wildcard'), stat(p, 'header_identity'), stat(p, 'compressed'), stat(p, 'not_compressed')]).toEqual([1, 1, 1, 2]);
  });

  it('sends as they are: no Accept-Encoding, too short, a type not in content_type, no-transform, an ETag with disable_on_etag_header', async () => {
    const responses = [html(), html('short'), html(PAGE, '').replace('text/html; charset=utf-8', 'image/png'), html(PAGE, 'cache-control: no-transform\r\n'), html(PAGE, 'etag: "v1"\r\n')];
    let i = 0;
    const p = await filterProxy({ httpFilters: [gzipFilter({ response_direction_config: { disable_on_etag_header: true } })] }, () => responses[i++], withNode);
    const got = await p.send({}, ...Array.from({ length: 4 }, () => ({ headers: { 'accept-encoding': 'gzip' } })));
    expect(got.map((r) => r.headers['content-encoding'])).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(got.map((r) => r.body.length)).toEqual([PAGE.length, 5, PAGE.length, PAGE.length, PAGE.length]);
    expect(got[0]!.headers.vary).toBe('Accept-Encoding');
    expect([stat(p, 'no_accept_header'), stat(p, 'content_length_too_small'), stat(p, 'not_compressed_etag'), stat(p, 'not_compressed'), stat(p, 'compressed')]).toEqual([1, 1, 1, 5, 0]);
  });

  it('weakens a strong ETag it compresses; remove_accept_encoding_header keeps Accept-Encoding from the upstream', async () => {
    const p = await filterProxy({ httpFilters: [gzipFilter({ response_direction_config: { remove_accept_encoding_header: true, common_config: { min_content_length: 100 } } })] }, () => html(PAGE, 'etag: "v1"\r\n'), withNode);
    const [res] = await p.send({ headers: { 'accept-encoding': 'gzip' } });
    expect(res!.headers.etag).toBe('W/"v1"');
    expect(p.origin.requests[0]!.headers['accept-encoding']).toBeUndefined();
  });

  it('CompressorPerRoute disabled turns it off for a route', async () => {
    const p = await filterProxy(
      {
        httpFilters: [gzipFilter()],
        routes: [
          { name: 'raw', match: { prefix: '/raw' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.compressor': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.compressor.v3.CompressorPerRoute', disabled: true } } },
          { name: 'all', match: { prefix: '/' }, route: { cluster: 'backend' } },
        ],
      },
      () => html(),
      withNode,
    );
    const [raw, all] = await p.send({ path: '/raw', headers: { 'accept-encoding': 'gzip' } }, { path: '/x', headers: { 'accept-encoding': 'gzip' } });
    expect(raw!.headers['content-encoding']).toBeUndefined();
    expect(all!.headers['content-encoding']).toBe('gzip');
  });

  it('without a compression provider (the browser build) sends the body as it is and says the compressor is unavailable', async () => {
    const p = await filterProxy({ httpFilters: [gzipFilter()] }, () => html());
    const [res] = await p.send({ headers: { 'accept-encoding': 'gzip' } });
    expect(res!.headers['content-encoding']).toBeUndefined();
    expect(res!.body.toString()).toBe(PAGE);
    expect(p.facts('filter.compressor')[0]).toMatchObject({ compressed: false, reason: expect.stringContaining('compressor unavailable') });
  });

  it('a library it does not implement (zstd) loads with one warning; the filter is then not modelled and passes responses through', async () => {
    const zstd = { name: 'zstd_compressor', typed_config: { '@type': COMPRESSOR_TYPE, compressor_library: { name: 'z', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.compression.zstd.compressor.v3.Zstd' } } } };
    const p = await filterProxy({ httpFilters: [zstd], allowWarnings: /compressor library .*Zstd, which is not modelled/ }, () => html(), withNode);
    const [res] = await p.send({ headers: { 'accept-encoding': 'zstd, gzip' } });
    expect(res!.headers['content-encoding']).toBeUndefined();
    expect(res!.body.toString()).toBe(PAGE);
    expect(p.facts('filter.not_modelled')).toEqual([{ filter: 'zstd_compressor', type_url: COMPRESSOR_TYPE, action: 'passed_through' }]);
    expect(p.engine.topology().listeners[0]!.filterChains[0]!.httpFilterDetails![0]).toEqual({ name: 'zstd_compressor', typeUrl: COMPRESSOR_TYPE, modelled: false });
    const { loadBootstrap } = await import('../src/config/load');
    const { envoyYaml } = await import('./support/envoy-config');
    const { warnings } = loadBootstrap(envoyYaml({ httpFilters: [zstd] }), 'envoy.yaml');
    expect(warnings.map((w) => w.message)).toEqual([
      "HTTP filter 'zstd_compressor' uses compressor library type.googleapis.com/envoy.extensions.compression.zstd.compressor.v3.Zstd, which is not modelled by ProxyScope: responses pass through it uncompressed",
    ]);
  });
});
