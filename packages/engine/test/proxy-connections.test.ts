/**
 * Connections through the proxy on real sockets: keep-alive and pooling, pipelining,
 * Connection: close, HEAD, chunked bodies both ways, Expect: 100-continue, 100 MB bodies
 * streamed without buffering, max_requests_per_connection and per-worker pools
 * (semantics doc §4).
 */
import * as http from 'node:http';
import { describe, expect, it } from 'vitest';
import type { FactEvent, SpawnEvent, TraceEvent } from '@proxyscope/protocol';
import {
  httpRequest,
  keepAliveAgent,
  LOOPBACK,
  patternBytes,
  RawClient,
  sha256,
  singleClusterConfig,
  startProxy,
  startUpstream,
  writePattern,
} from './support/upstreams';

const MB = 1024 * 1024;

function request(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: test.local\r\n${extra}\r\n`;
}

describe('keep-alive and the upstream pool', () => {
  it('100 sequential requests on one client connection use ONE upstream connection', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]), { trace: false });
    const agent = keepAliveAgent(1);
    const clientPorts = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const res = await httpRequest(proxy.port, { path: `/seq/${i}`, agent });
      expect(res.status).toBe(200);
      expect(res.text).toBe(`GET /seq/${i}`);
      clientPorts.add(res.localPort);
    }
    expect(clientPorts.size).toBe(1);
    expect(up.requests).toHaveLength(100);
    expect(up.connections).toHaveLength(1);
    expect(up.connectionPorts()).toHaveLength(1);
    expect(proxy.stat('cluster.backend.upstream_cx_total')).toBe(1);
    expect(proxy.stat('cluster.backend.upstream_rq_total')).toBe(100);
    expect(proxy.stat('http.ingress_http.downstream_cx_total')).toBe(1);
    expect(proxy.stat('http.ingress_http.downstream_rq_total')).toBe(100);
  });

  it('max_requests_per_connection: 2 opens a new upstream connection after every 2 requests', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port], { cluster: { max_requests_per_connection: 2 } }), { trace: false });
    const agent = keepAliveAgent(1);
    for (let i = 0; i < 6; i++) expect((await httpRequest(proxy.port, { path: `/m/${i}`, agent })).status).toBe(200);
    const ports = up.requests.map((r) => r.remotePort);
    expect(new Set(ports).size).toBe(3);
    expect(ports[0]).toBe(ports[1]);
    expect(ports[2]).toBe(ports[3]);
    expect(ports[4]).toBe(ports[5]);
    expect(ports[1]).not.toBe(ports[2]);
    expect(ports[3]).not.toBe(ports[4]);
    expect(proxy.stat('cluster.backend.upstream_cx_total')).toBe(3);
    expect(proxy.stat('cluster.backend.upstream_cx_max_requests')).toBe(3);
  });
});

describe('pipelining', () => {
  it('3 requests in one TCP write are answered in order, each with its own response', async () => {
    const delays: Record<string, number> = { '/slow': 200, '/medium': 60, '/fast': 0 };
    const up = await startUpstream({ respond: (req) => ({ delayMs: delays[req.url] ?? 0, body: `answer for ${req.url}` }) });
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const client = await RawClient.connect(proxy.port);
    client.write(request('/slow') + request('/medium') + request('/fast'));
    const responses = await client.waitForResponses(3);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(responses.map((r) => r.body.toString())).toEqual(['answer for /slow', 'answer for /medium', 'answer for /fast']);
    // HTTP/1 upstream connections carry one request at a time: the upstream saw them in order.
    expect(up.requests.map((r) => r.url)).toEqual(['/slow', '/medium', '/fast']);
    expect(client.closed).toBe(false);
  });
});

describe('Connection: close', () => {
  it('from the client: the response says connection: close and the proxy closes the socket', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const client = await RawClient.connect(proxy.port);
    client.write(request('/bye', 'Connection: close\r\n'));
    await client.waitForClose();
    const [res] = client.responses();
    expect(res!.status).toBe(200);
    expect(res!.headers['connection']).toBe('close');
    expect(res!.body.toString()).toBe('GET /bye');
    // The client's Connection header is about its hop only: the upstream connection stays pooled.
    expect(up.requests[0]!.headers['connection']).toBeUndefined();
  });
});

describe('HEAD', () => {
  it('gets the same headers as GET and no body', async () => {
    const up = await startUpstream({ respond: () => ({ body: 'twelve bytes', headers: { 'content-type': 'text/x-test', 'x-custom': 'same' } }) });
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const client = await RawClient.connect(proxy.port);
    // GET, HEAD, GET on one connection: a HEAD answer with a body would corrupt the third response.
    client.write(request('/doc'));
    await client.waitForResponses(1, ['GET']);
    client.write(`HEAD /doc HTTP/1.1\r\nHost: test.local\r\n\r\n`);
    await client.waitForResponses(2, ['GET', 'HEAD']);
    client.write(request('/doc'));
    const [get, head, again] = await client.waitForResponses(3, ['GET', 'HEAD', 'GET']);
    expect(get!.body.toString()).toBe('twelve bytes');
    expect(head!.status).toBe(200);
    expect(head!.body.length).toBe(0);
    for (const name of ['content-length', 'content-type', 'x-custom', 'server']) expect(head!.headers[name], name).toBe(get!.headers[name]);
    expect(again!.body.toString()).toBe('twelve bytes');
    expect(up.requests.map((r) => r.method)).toEqual(['GET', 'HEAD', 'GET']);
  });
});

describe('chunked transfer coding', () => {
  it('a chunked request body reaches the upstream intact', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const body = patternBytes(3, 100_000);
    const client = await RawClient.connect(proxy.port);
    client.write(`POST /upload HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n`);
    // Uneven chunk sizes, written in separate packets, one with a chunk extension.
    const sizes = [1, 4096, 17, 65_536, 30_350];
    let offset = 0;
    for (const [i, size] of sizes.entries()) {
      const ext = i === 2 ? ';name=value' : '';
      client.write(Buffer.concat([Buffer.from(`${size.toString(16)}${ext}\r\n`), body.subarray(offset, offset + size), Buffer.from('\r\n')]));
      offset += size;
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(offset).toBe(body.length);
    client.write('0\r\n\r\n');
    const [res] = await client.waitForResponses(1);
    expect(res!.status).toBe(200);
    expect(up.requests[0]!.bodyLength).toBe(body.length);
    expect(up.requests[0]!.bodySha256).toBe(sha256(body));
  });

  it('a chunked upstream response reaches the client intact', async () => {
    const body = Buffer.from(patternBytes(11, 50_000));
    const up = await startUpstream({ respond: () => ({ body, chunked: true, chunks: 7 }) });
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const res = await httpRequest(proxy.port, { path: '/stream' });
    expect(res.status).toBe(200);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.body.length).toBe(body.length);
    expect(sha256(res.body)).toBe(sha256(body));
  });
});

describe('Expect: 100-continue', () => {
  it('the client gets 100 Continue before it sends the body, then the final response', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const client = await RawClient.connect(proxy.port);
    client.write(`POST /form HTTP/1.1\r\nHost: test.local\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n`);
    await client.waitForText('\r\n\r\n');
    expect(client.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
    client.write('hello world');
    const all = await client.waitForResponses(1);
    expect(all[0]!.status).toBe(200);
    expect(client.responses().map((r) => r.status)).toEqual([100, 200]);
    expect(up.requests[0]!.bodyLength).toBe(11);
    expect(up.requests[0]!.bodySha256).toBe(sha256('hello world'));
    // The proxy answered the expectation itself; it is not forwarded.
    expect(up.requests[0]!.headers['expect']).toBeUndefined();
  });
});

/**
 * Samples RSS while `work` runs. A proxy that buffered a 100 MB body would grow by about
 * 100 MB (twice that with the copies a concat makes), far above the bound.
 */
async function rssGrowthDuring(work: () => Promise<void>): Promise<number> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return peak - before;
}

describe('100 MB bodies stream through', () => {
  const SIZE = 100 * MB;
  const RSS_BOUND = 64 * MB;

  it('upload: every byte reaches the upstream and memory stays bounded', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]), { trace: false });
    let status = 0;
    const growth = await rssGrowthDuring(async () => {
      status = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          { host: LOOPBACK, port: proxy.port, method: 'POST', path: '/big', agent: false, headers: { 'content-length': String(SIZE) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        void writePattern(req, SIZE).then(() => req.end());
      });
    });
    expect(status).toBe(200);
    expect(up.requests[0]!.bodyLength).toBe(SIZE);
    expect(growth, `rss grew by ${(growth / MB).toFixed(1)} MB`).toBeLessThan(RSS_BOUND);
  });

  it('download: every byte reaches the client and memory stays bounded', async () => {
    const up = await startUpstream({ respond: () => ({ bodySize: SIZE }) });
    const proxy = await startProxy(singleClusterConfig([up.port]), { trace: false });
    let received = 0;
    let status = 0;
    const growth = await rssGrowthDuring(async () => {
      status = await new Promise<number>((resolve, reject) => {
        const req = http.get({ host: LOOPBACK, port: proxy.port, path: '/big', agent: false }, (res) => {
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
          });
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        });
        req.on('error', reject);
      });
    });
    expect(status).toBe(200);
    expect(received).toBe(SIZE);
    expect(growth, `rss grew by ${(growth / MB).toFixed(1)} MB`).toBeLessThan(RSS_BOUND);
  });
});

describe('--concurrency', () => {
  it('two downstream connections land on different workers, each with its own upstream connection', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]), { concurrency: 2 });
    const first = await RawClient.connect(proxy.port);
    first.write(request('/one'));
    await first.waitForResponses(1);
    const second = await RawClient.connect(proxy.port);
    second.write(request('/two'));
    await second.waitForResponses(1);
    // And again on each, so each worker reuses its own connection.
    first.write(request('/one-again'));
    second.write(request('/two-again'));
    await first.waitForResponses(2);
    await second.waitForResponses(2);

    const assigned = proxy.events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === 'connection.worker_assigned');
    expect(assigned.map((e) => e.data.worker)).toEqual([0, 1]);
    const host = `${LOOPBACK}:${up.port}`;
    const clientSpawns = proxy.events.filter((e: TraceEvent): e is SpawnEvent => e.type === 'spawn' && e.machine === 'client');
    expect(clientSpawns.map((e) => e.actor.replace(/\/ucx:\d+$/, ''))).toEqual([`worker:0/pool:backend/${host}`, `worker:1/pool:backend/${host}`]);
    expect(clientSpawns.map((e) => e.ids.worker)).toEqual([0, 1]);
    expect(up.connections).toHaveLength(2);
    // Requests of one downstream connection went over its worker's upstream connection.
    const portOf = (url: string): number => up.requests.find((r) => r.url === url)!.remotePort;
    expect(portOf('/one')).toBe(portOf('/one-again'));
    expect(portOf('/two')).toBe(portOf('/two-again'));
    expect(portOf('/one')).not.toBe(portOf('/two'));
    expect(proxy.stat('cluster.backend.upstream_cx_total')).toBe(2);
    expect(proxy.stat('listener.127.0.0.1_0.worker_0.downstream_cx_total')).toBe(1);
    expect(proxy.stat('listener.127.0.0.1_0.worker_1.downstream_cx_total')).toBe(1);
  });
});
