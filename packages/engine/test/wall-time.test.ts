/**
 * Dates a user reads (an access log's START_TIME) come from the Clock seam's wall time: the
 * real clock's is the system's, a manual clock's follows its own time, so a simulated run
 * prints the same dates every time.
 */
import { describe, expect, it } from 'vitest';
import { loadBootstrap } from '../src/config/load';
import { ProxyEngine } from '../src/engine';
import { ManualClock } from '../src/seams/clock';
import { StreamClock } from '../src/seams/stream-clock';
import { MemoryOrigin, settle } from './support/memory-origin';
import { MemoryTransport } from './support/memory-transport';

const YAML = `
static_resources:
  listeners:
    - name: ingress
      address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http
                access_log:
                  - name: envoy.access_loggers.stdout
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
                      log_format: { text_format_source: { inline_string: "%START_TIME% %RESPONSE_CODE%\\n" } }
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
                route_config:
                  virtual_hosts:
                    - { name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: backend } }] }
  clusters:
    - name: backend
      load_assignment:
        cluster_name: backend
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } } }] }]
`;

async function startTimeOfOneRequest(): Promise<string[]> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const origin = new MemoryOrigin();
  const transport = new MemoryTransport(origin.connect);
  const logs: string[] = [];
  const engine = new ProxyEngine({ config: loadBootstrap(YAML, 'envoy.yaml').config, transport, clock, accessLog: (line) => logs.push(line) });
  await engine.start();
  clock.advance(1500);
  const c = transport.dial('127.0.0.1', 10000);
  c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  await settle();
  await engine.stop();
  await settle();
  return logs;
}

describe('wall time', () => {
  it('a simulated access log prints the manual clock’s dates, the same in every run', async () => {
    const first = await startTimeOfOneRequest();
    expect(first).toEqual(['2026-01-01T00:00:01.500Z 200\n']);
    expect(await startTimeOfOneRequest()).toEqual(first);
  });

  it('a held request’s clock stands still, its dates do not', () => {
    const base = new ManualClock(0);
    const held = new StreamClock(base);
    held.pause();
    base.advance(1000);
    expect(held.now()).toBe(0);
    expect(held.wallTime()).toBe(1000);
  });
});
