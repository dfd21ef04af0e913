/**
 * Benchmark upstream: the smallest useful HTTP/1.1 origin. Every request gets the same
 * 200 with a short fixed body; connections stay open (keep-alive) for the whole run.
 *
 * Run as a child process by bench/run.ts: `node --import tsx bench/upstream.ts [PORT]`.
 * Binds 127.0.0.1 only and prints `LISTENING 127.0.0.1:PORT` once ready.
 */
import http from 'node:http';

const BODY = Buffer.from('hello from the bench upstream\n');
const HEADERS = { 'content-type': 'text/plain', 'content-length': String(BODY.length) };

const server = http.createServer((req, res) => {
  // Drain any request body before answering so the connection can be reused.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, HEADERS);
    res.end(BODY);
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;

const port = Number(process.argv[2] ?? 0);
server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('unexpected listen address');
  process.stdout.write(`LISTENING ${addr.address}:${addr.port}\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
