import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Behaviour of one demo upstream host; fault controls change it while it runs. */
export interface DemoHostBehaviour {
  /** mean added latency, ms (jittered ±50%) */
  latencyMs: number;
  /** fraction of requests answered with `errorStatus` */
  errorRate: number;
  errorStatus: number;
}

export interface DemoHost {
  service: string;
  name: string;
  port: number;
  behaviour: DemoHostBehaviour;
  requests: number;
  close(): Promise<void>;
}

/**
 * A small HTTP service standing in for a backend: answers JSON naming itself, after a
 * configurable delay, failing a configurable share of requests.
 */
export async function startDemoHost(service: string, name: string, behaviour: DemoHostBehaviour, port = 0): Promise<DemoHost> {
  const host: DemoHost = { service, name, port: 0, behaviour, requests: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    host.requests++;
    let received = 0;
    req.on('data', (chunk: Buffer) => (received += chunk.byteLength));
    req.on('end', () => {
      if (req.url === '/healthz') {
        // Health checks see the host's state, not its random errors.
        res.writeHead(host.behaviour.errorRate >= 1 ? host.behaviour.errorStatus : 200, { 'content-type': 'text/plain' });
        res.end('ok\n');
        return;
      }
      const { latencyMs, errorRate, errorStatus } = host.behaviour;
      const delay = latencyMs > 0 ? latencyMs * (0.5 + Math.random()) : 0;
      setTimeout(() => {
        const failed = Math.random() < errorRate;
        const status = failed ? errorStatus : 200;
        const body = JSON.stringify({ service, host: name, method: req.method, path: req.url, status, received }) + '\n';
        res.writeHead(status, { 'content-type': 'application/json', 'x-demo-host': name });
        res.end(body);
      }, delay);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  host.port = (server.address() as AddressInfo).port;
  host.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return host;
}
