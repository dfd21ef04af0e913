import http from 'node:http';

/** A request mix for the demo: paths that exercise routing, splits and local replies. */
const MIX: Array<{ weight: number; method: string; path: string; host: string }> = [
  { weight: 40, method: 'GET', path: '/', host: 'shop.example.com' },
  { weight: 25, method: 'GET', path: '/api/products', host: 'shop.example.com' },
  { weight: 10, method: 'POST', path: '/api/cart', host: 'shop.example.com' },
  { weight: 10, method: 'GET', path: '/static/logo.png', host: 'shop.example.com' },
  { weight: 5, method: 'GET', path: '/healthz', host: 'shop.example.com' },
  { weight: 5, method: 'GET', path: '/old-shop', host: 'shop.example.com' },
  { weight: 5, method: 'GET', path: '/missing', host: 'unknown.example.org' },
];

export interface TrafficGenerator {
  sent: number;
  stop(): void;
}

/**
 * Sends a steady trickle of requests through the proxy over a few keep-alive
 * connections, so there is something to watch the moment the demo starts.
 */
export function startTraffic(proxyPort: number, requestsPerSecond: number): TrafficGenerator {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const total = MIX.reduce((n, m) => n + m.weight, 0);
  const generator: TrafficGenerator = { sent: 0, stop: () => {} };
  const interval = 1000 / Math.max(0.1, requestsPerSecond);
  const timer = setInterval(() => {
    let pick = Math.random() * total;
    const entry = MIX.find((m) => (pick -= m.weight) < 0) ?? MIX[0]!;
    generator.sent++;
    const req = http.request(
      { host: '127.0.0.1', port: proxyPort, method: entry.method, path: entry.path, agent, headers: { host: entry.host, 'user-agent': 'proxyscope-demo-traffic' } },
      (res) => res.resume(),
    );
    req.on('error', () => {});
    req.end(entry.method === 'POST' ? JSON.stringify({ item: 'teapot', qty: 1 }) : undefined);
  }, interval);
  generator.stop = () => {
    clearInterval(timer);
    agent.destroy();
  };
  return generator;
}
