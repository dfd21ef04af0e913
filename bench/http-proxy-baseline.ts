/**
 * Baseline Node reverse proxy for the benchmark: the `http-proxy` package in front of
 * the same upstream, with a keep-alive agent towards it (as ProxyScope pools its
 * upstream connections). This is what "a plain Node.js proxy" does per request.
 *
 * Run as a child process by bench/run.ts:
 *   node --import tsx bench/http-proxy-baseline.ts UPSTREAM_HOST:PORT [PORT]
 * Binds 127.0.0.1 only and prints `LISTENING 127.0.0.1:PORT` once ready.
 */
import http from 'node:http';
import { serveForBench } from './child-server';
import httpProxy from 'http-proxy';

const upstream = process.argv[2];
if (!upstream || !/^[^:]+:\d+$/.test(upstream)) {
  process.stderr.write('usage: http-proxy-baseline.ts UPSTREAM_HOST:PORT [LISTEN_PORT]\n');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const proxy = httpProxy.createProxyServer({ target: `http://${upstream}`, agent, xfwd: false });
proxy.on('error', (err, _req, res) => {
  // `res` is a ServerResponse for plain HTTP requests (a Socket only for upgrades).
  if (res instanceof http.ServerResponse && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`bad gateway: ${err.message}\n`);
  } else {
    res.destroy();
  }
});

const server = http.createServer((req, res) => proxy.web(req, res));
serveForBench(server, Number(process.argv[3] ?? 0), () => agent.destroy());
