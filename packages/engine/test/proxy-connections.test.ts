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
  eventually,
  httpRequest,
  keepAliveAgent,
  LOOPBACK,
  onRequestHead,
  parseAccessLog,
  patternBytes,
  RawClient,
  sha256,
  singleClusterConfig,
  startProxy,
  startRawServer,
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

  it('an upstream that answers Connection: close gets a new connection for the next request', async () => {
    const up = await startUpstream({ respond: () => ({ headers: { connection: 'close' } }) });
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const agent = keepAliveAgent(1);
    const clientPorts = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const res = await httpRequest(proxy.port, { path: `/c/${i}`, agent });
      expect(res.status).toBe(200);
      // That close was about the upstream hop: the client's connection stays open.
      expect(res.headers['connection']).toBeUndefined();
      clientPorts.add(res.localPort);
    }
    expect(clientPorts.size).toBe(1);
    expect(up.connections).toHaveLength(3);
    expect(proxy.stat('cluster.backend.upstream_cx_close_notify')).toBe(3);
    await eventually(() => proxy.stat('cluster.backend.upstream_cx_active') === 0, 'every upstream connection to be closed');
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

  it('a request body ends exactly where its framing says: the next request follows on the connection', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const client = await RawClient.connect(proxy.port);
    client.write(
      'POST /sized HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\n\r\nhello' +
        'POST /chunked HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n' +
        request('/last'),
    );
    const responses = await client.waitForResponses(3);
    expect(responses.map((r) => r.body.toString())).toEqual(['POST /sized', 'POST /chunked', 'GET /last']);
    expect(up.requests.map((r) => [r.url, r.bodyLength])).toEqual([['/sized', 5], ['/chunked', 5], ['/last', 0]]);
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

describe('responses without a body', () => {
  it('204 carries no body and no framing headers; the next response still parses', async () => {
    const up = await startUpstream({ respond: (req) => (req.url === '/empty' ? { status: 204, body: '' } : {}) });
    const proxy = await startProxy(singleClusterConfig([up.port]));
    const client = await RawClient.connect(proxy.port);
    client.write(request('/empty') + request('/full'));
    const [empty, full] = await client.waitForResponses(2);
    expect(empty!.status).toBe(204);
    expect(empty!.headers['content-length']).toBeUndefined();
    expect(empty!.headers['transfer-encoding']).toBeUndefined();
    expect(empty!.raw.toString('latin1').endsWith('\r\n\r\n')).toBe(true);
    expect(full!.body.toString()).toBe('GET /full');
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

  it('an upstream response delimited by connection close reaches the client whole', async () => {
    const raw = await startRawServer((socket) =>
      onRequestHead(socket, () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello ');
        setTimeout(() => socket.end('world'), 20);
      }),
    );
    const proxy = await startProxy(singleClusterConfig([raw.port]));
    const res = await httpRequest(proxy.port, { path: '/until-close' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('hello world');
    // The client connection is chunked-framed, so it could be kept.
    expect(res.headers['transfer-encoding']).toBe('chunked');
    await eventually(() => proxy.logs.length === 1, 'one access log line');
    expect(parseAccessLog(proxy.logs[0]!)).toMatchObject({ status: 200, flags: '-' });
    await eventually(() => proxy.stat('cluster.backend.upstream_cx_active') === 0, 'the upstream connection to be closed');
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

/** POSTs `size` pattern bytes (content-length framed); resolves with the status. */
function upload(port: number, size: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = http.request({ host: LOOPBACK, port, method: 'POST', path: '/big', agent: false, headers: { 'content-length': String(size) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    void writePattern(req, size).then(() => req.end());
  });
}

/** GETs `path`, counting body bytes without keeping them. */
function download(port: number, path: string): Promise<{ status: number; received: number }> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const req = http.get({ host: LOOPBACK, port, path, agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, received }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('100 MB bodies stream through', () => {
  const SIZE = 100 * MB;
  const WARMUP = 16 * MB;
  const RSS_BOUND = 64 * MB;

  it('upload: every byte reaches the upstream and memory stays bounded', async () => {
    const up = await startUpstream();
    const proxy = await startProxy(singleClusterConfig([up.port]), { trace: false });
    // Warm up sockets, parsers and the heap so the measurement sees the proxy, not first use.
    expect(await upload(proxy.port, WARMUP)).toBe(200);
    let status = 0;
    const growth = await rssGrowthDuring(async () => {
      status = await upload(proxy.port, SIZE);
    });
    expect(status).toBe(200);
    expect(up.requests.map((r) => r.bodyLength)).toEqual([WARMUP, SIZE]);
    expect(growth, `rss grew by ${(growth / MB).toFixed(1)} MB`).toBeLessThan(RSS_BOUND);
  });

  it('download: every byte reaches the client and memory stays bounded', async () => {
    const up = await startUpstream({ respond: (req) => ({ bodySize: req.url === '/warmup' ? WARMUP : SIZE }) });
    const proxy = await startProxy(singleClusterConfig([up.port]), { trace: false });
    expect(await download(proxy.port, '/warmup')).toEqual({ status: 200, received: WARMUP });
    let result = { status: 0, received: 0 };
    const growth = await rssGrowthDuring(async () => {
      result = await download(proxy.port, '/big');
    });
    expect(result).toEqual({ status: 200, received: SIZE });
    expect(growth, `rss grew by ${(growth / MB).toFixed(1)} MB`).toBeLessThan(RSS_BOUND);
  });
});

describe('backpressure', () => {
  it('a client that stops reading for a while still gets every byte', async () => {
    const size = 8 * MB;
    const up = await startUpstream({ respond: () => ({ bodySize: size, chunked: true }) });
    const proxy = await startProxy(singleClusterConfig([up.port]), { trace: false });
    const received = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: LOOPBACK, port: proxy.port, path: '/slow-reader', agent: false }, (res) => {
          let n = 0;
          res.pause();
          setTimeout(() => res.resume(), 300);
          res.on('data', (chunk: Buffer) => {
            n += chunk.length;
          });
          res.on('end', () => resolve(n));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    expect(received).toBe(size);
  });

  it('an upstream that stops reading for a while still gets every byte', async () => {
    const size = 8 * MB;
    let got = 0;
    const raw = await startRawServer((socket) => {
      socket.pause();
      setTimeout(() => socket.resume(), 300);
      let head = true;
      socket.on('data', (chunk: Buffer) => {
        let body = chunk;
        if (head) {
          const end = chunk.indexOf('\r\n\r\n');
          if (end < 0) return;
          head = false;
          body = chunk.subarray(end + 4);
        }
        got += body.length;
        if (got >= size) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      });
    });
    const proxy = await startProxy(singleClusterConfig([raw.port]), { trace: false });
    expect(await upload(proxy.port, size)).toBe(200);
    expect(got).toBe(size);
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
