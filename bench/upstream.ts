/**
 * Benchmark upstream: the smallest useful HTTP/1.1 origin. Every request gets the same
 * 200 with a short fixed body; connections stay open (keep-alive) for the whole run.
 *
 * Run as a child process by bench/run.ts: `node --import tsx bench/upstream.ts [PORT]`.
 * Binds 127.0.0.1 only and prints `LISTENING 127.0.0.1:PORT` once ready.
 */
import http from 'node:http';
import { serveForBench } from './child-server';

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
server.maxRequestsPerSocket = 0;
serveForBench(server, Number(process.argv[2] ?? 0));
