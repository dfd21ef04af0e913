import type http from 'node:http';

/**
 * What every benchmark child server shares: keep connections open for the whole run,
 * listen on 127.0.0.1 only, announce `LISTENING host:port` for bench/run.ts, and exit
 * cleanly on SIGTERM / SIGINT.
 */
export function serveForBench(server: http.Server, port: number, onStop: () => void = () => {}): void {
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.requestTimeout = 0;
  server.listen(port, '127.0.0.1', () => {
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected listen address');
    process.stdout.write(`LISTENING ${addr.address}:${addr.port}\n`);
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    onStop();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
