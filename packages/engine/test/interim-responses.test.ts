/**
 * Interim (1xx) responses from upstream (RFC 9110 §15.2): the proxy keeps waiting for the
 * final response instead of hanging; 100 / 102 / 103 reach the client only with the HCM's
 * proxy_100_continue; Expect: 100-continue is answered by the proxy itself unless
 * proxy_100_continue forwards it (Envoy's ConnectionManagerImpl::ActiveStream::decodeHeaders,
 * ActiveStreamDecoderFilter::encode1xxHeaders, ClientConnectionImpl::onHeadersCompleteBase).
 */
import type * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { HttpConnectionManager } from '../src/config/types';
import { loadBootstrap } from '../src/config/load';
import { retryPolicy } from './support/config-builders';
import { eventually, parseAccessLog, RawClient, singleClusterConfig, startProxy, startRawServer } from './support/upstreams';

const EARLY_HINTS = 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n';
const FINAL = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A raw upstream that answers every request head on a connection with `answer(head, socket)`
 * (requests without a body, or whose body the answer waits for itself).
 */
async function rawUpstream(answer: (head: string, socket: net.Socket, rest: string) => void | Promise<void>) {
  const heads: string[] = [];
  const server = await startRawServer((socket) => {
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        // A body is the answer's to read (what came with the head is `rest`), not a head.
        const rest = /content-length: [1-9]/i.test(head) ? buffered : '';
        if (rest) buffered = '';
        heads.push(head);
        void answer(head, socket, rest);
      }
    });
  });
  return { ...server, heads };
}

async function proxyTo(port: number, hcm: Partial<HttpConnectionManager> = {}) {
  return startProxy(singleClusterConfig([port], { hcm }));
}

async function get(proxyPort: number, path = '/'): Promise<RawClient> {
  const client = await RawClient.connect(proxyPort);
  client.write(`GET ${path} HTTP/1.1\r\nHost: test.local\r\n\r\n`);
  return client;
}

describe('an upstream 1xx before the final response', () => {
  it('103 Early Hints and the 200 in one write: the client gets the 200 (proxy_100_continue off)', async () => {
    const up = await rawUpstream((_h, socket) => {
      socket.write(EARLY_HINTS + FINAL);
    });
    const proxy = await proxyTo(up.port);
    const client = await get(proxy.port);
    const [res] = await client.waitForResponses(1, undefined, 3000);
    expect(res!.status).toBe(200);
    expect(res!.body.toString()).toBe('hello');
    // Without proxy_100_continue Envoy swallows the interim head.
    expect(client.responses().map((r) => r.status)).toEqual([200]);
    await eventually(() => proxy.logs.length === 1, 'the access log line');
    expect(parseAccessLog(proxy.logs[0]!)).toMatchObject({ status: 200, flags: '-' });
    expect(proxy.stat('cluster.backend.upstream_rq_103')).toBe(1);
    expect(proxy.stat('cluster.backend.upstream_rq_200')).toBe(1);
    expect(proxy.stat('http.ingress_http.downstream_rq_1xx')).toBe(0);
  });

  it('103 and the 200 in split writes (inside each head and between them)', async () => {
    const whole = EARLY_HINTS + FINAL;
    const cuts = [5, 20, EARLY_HINTS.length - 2, EARLY_HINTS.length, EARLY_HINTS.length + 9, whole.length - 3];
    const up = await rawUpstream(async (_h, socket) => {
      let from = 0;
      for (const cut of [...cuts, whole.length]) {
        socket.write(whole.slice(from, cut));
        from = cut;
        await pause(15);
      }
    });
    const proxy = await proxyTo(up.port, { proxy_100_continue: true });
    const client = await get(proxy.port);
    await client.waitForResponses(1, undefined, 3000);
    const all = client.responses();
    expect(all.map((r) => r.status)).toEqual([103, 200]);
    expect(all[0]!.headers['link']).toBe('</style.css>; rel=preload; as=style');
    expect(all[0]!.raw.toString('latin1')).toMatch(/^HTTP\/1\.1 103 Early Hints\r\n/);
    expect(all[1]!.body.toString()).toBe('hello');
    expect(proxy.stat('http.ingress_http.downstream_rq_1xx')).toBe(1);
    expect(proxy.stat('http.ingress_http.downstream_rq_2xx')).toBe(1);
  });

  it('a 100 Continue nobody asked for is skipped, and the connection serves the next request', async () => {
    const up = await rawUpstream((head, socket) => {
      const path = /^GET (\S+)/.exec(head)![1]!;
      socket.write(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
    });
    const proxy = await proxyTo(up.port);
    const client = await RawClient.connect(proxy.port);
    client.write('GET /one HTTP/1.1\r\nHost: test.local\r\n\r\n');
    await client.waitForResponses(1, undefined, 3000);
    client.write('GET /two HTTP/1.1\r\nHost: test.local\r\n\r\n');
    const finals = await client.waitForResponses(2, undefined, 3000);
    expect(finals.map((r) => [r.status, r.body.toString()])).toEqual([
      [200, '/one'],
      [200, '/two'],
    ]);
    expect(client.responses().map((r) => r.status)).toEqual([200, 200]);
    // The upstream codec was ready for the second exchange on the same connection.
    expect(up.accepted()).toBe(1);
    expect(proxy.stat('cluster.backend.upstream_cx_total')).toBe(1);
  });

  it('a 1xx that is not 100/102/103 (here 199) is dropped even with proxy_100_continue', async () => {
    const up = await rawUpstream((_h, socket) => {
      socket.write('HTTP/1.1 199 Whatever\r\nX-Interim: 1\r\n\r\n' + FINAL);
    });
    const proxy = await proxyTo(up.port, { proxy_100_continue: true });
    const client = await get(proxy.port);
    await client.waitForResponses(1, undefined, 3000);
    expect(client.responses().map((r) => r.status)).toEqual([200]);
  });

  it('after a 1xx the request is no longer retried (Router::Filter::onUpstream1xxHeaders resets the retry state)', async () => {
    const up = await rawUpstream((_h, socket) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
    });
    const proxy = await startProxy(singleClusterConfig([up.port], { route: { route: { cluster: 'backend', cluster_not_found_response_code: 503, timeout: 15_000, retry_policy: retryPolicy({ num_retries: 2 }) } } }));
    const client = await get(proxy.port);
    const [res] = await client.waitForResponses(1, undefined, 3000);
    expect(res!.status).toBe(503);
    expect(up.heads).toHaveLength(1);
    expect(proxy.stat('cluster.backend.upstream_rq_retry')).toBe(0);
  });

  it('101 is final (not an interim head): the client gets it at once instead of a timeout', async () => {
    const up = await rawUpstream((_h, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: example\r\nConnection: upgrade\r\n\r\n');
    });
    const proxy = await proxyTo(up.port);
    const client = await get(proxy.port);
    await client.waitForText('\r\n\r\n', 3000);
    expect(client.text).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
  });
});

describe('Expect: 100-continue', () => {
  const POST = 'POST /form HTTP/1.1\r\nHost: test.local\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n';

  it('without proxy_100_continue the proxy answers 100 itself, strips Expect, and swallows the upstream 100', async () => {
    const up = await rawUpstream((_h, socket, rest) => {
      // This upstream sends a 100 whether asked or not, then reads the body (which may
      // have come with the head: the proxy already told the client to send it).
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      if (rest.length === 11) socket.write(FINAL);
      else socket.once('data', () => socket.write(FINAL));
    });
    const proxy = await proxyTo(up.port);
    const client = await RawClient.connect(proxy.port);
    client.write(POST);
    await client.waitForText('\r\n\r\n');
    expect(client.text).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    client.write('hello world');
    await client.waitForResponses(1, undefined, 3000);
    // One 100 (the proxy's), never a second one from upstream.
    expect(client.responses().map((r) => r.status)).toEqual([100, 200]);
    expect(up.heads[0]).not.toMatch(/^expect:/im);
    expect(proxy.stat('http.ingress_http.downstream_rq_1xx')).toBe(1);
  });

  it('with proxy_100_continue the expectation goes upstream and the upstream 100 comes back', async () => {
    let body = '';
    const up = await rawUpstream((_h, socket) => {
      // Only a client that was told to continue sends its body.
      setTimeout(() => socket.write('HTTP/1.1 100 Continue\r\n\r\n'), 30);
      socket.on('data', (chunk: Buffer) => {
        body += chunk.toString('latin1');
        if (body.length === 11) socket.write('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
      });
    });
    const proxy = await proxyTo(up.port, { proxy_100_continue: true });
    const client = await RawClient.connect(proxy.port);
    client.write(POST);
    await client.waitForText('\r\n\r\n');
    expect(client.text).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    expect(up.heads[0]).toMatch(/^expect: 100-continue$/im);
    client.write('hello world');
    const [res] = await client.waitForResponses(1, undefined, 3000);
    expect(res!.status).toBe(201);
    expect(body).toBe('hello world');
    expect(client.responses().map((r) => r.status)).toEqual([100, 201]);
  });
});

describe('proxy_100_continue in a bootstrap', () => {
  const yaml = (extra: string) => `static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
${extra}          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                direct_response: { status: 200 }
`;

  it('loads without a warning, and is off when absent', () => {
    const on = loadBootstrap(yaml('          proxy_100_continue: true\n'), 'envoy.yaml');
    expect(on.warnings).toEqual([]);
    expect(on.config.static_resources.listeners[0]!.filter_chains[0]!.hcm!.proxy_100_continue).toBe(true);
    const off = loadBootstrap(yaml(''), 'envoy.yaml');
    expect(off.config.static_resources.listeners[0]!.filter_chains[0]!.hcm!.proxy_100_continue).toBeUndefined();
  });
});
