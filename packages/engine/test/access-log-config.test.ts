/**
 * Access logs from YAML to line: a custom `log_format` reaches the formatter, the file
 * logger's `path` comes with each line, and a bad format fails the load at its position.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrap } from '../src/config/load';
import { ManualClock, ProxyEngine } from '../src/index';
import { envoyYaml, faultFilter, loadEnvoy, percent } from './support/envoy-config';
import { MemoryOrigin, ok, settle } from './support/memory-origin';
import { MemoryTransport } from './support/memory-transport';

const FILE_LOGGER_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const STDOUT_LOGGER_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';

const accessLogs = [
  {
    name: 'envoy.access_loggers.file',
    typed_config: {
      '@type': FILE_LOGGER_TYPE,
      path: '/var/log/proxyscope/access.log',
      log_format: { text_format_source: { inline_string: '%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% route=%ROUTE_NAME% cluster=%UPSTREAM_CLUSTER%\n' } },
    },
  },
  { name: 'envoy.access_loggers.stdout', typed_config: { '@type': STDOUT_LOGGER_TYPE, log_format: { text_format_source: { inline_string: 'details=%RESPONSE_CODE_DETAILS%\n' } } } },
];

describe('access log formats from YAML', () => {
  it('each logger formats with its own log_format and the file logger’s lines carry its path', async () => {
    const config = loadEnvoy({
      hcm: { access_log: accessLogs },
      httpFilters: [faultFilter({ abort: { http_status: 503, percentage: percent(100) }, headers: [{ name: 'x-fail', present_match: true }] })],
    });
    const lines: Array<[string, string | undefined]> = [];
    const origin = new MemoryOrigin(() => ok());
    const transport = new MemoryTransport(origin.connect);
    const engine = new ProxyEngine({ config, transport, clock: new ManualClock(), accessLog: (line, path) => lines.push([line, path]) });
    await engine.start();
    const c = transport.dial('127.0.0.1', 10000);
    c.write('GET /ok HTTP/1.1\r\nHost: example.com\r\n\r\n');
    await settle();
    c.write('GET /boom HTTP/1.1\r\nHost: example.com\r\nx-fail: 1\r\n\r\n');
    await settle();
    expect(lines).toEqual([
      ['GET /ok 200 - route=all cluster=backend\n', '/var/log/proxyscope/access.log'],
      // (this engine leaves %RESPONSE_CODE_DETAILS% unset for upstream responses)
      ['details=-\n', undefined],
      // The fault filter looked the route up; the router never ran, so no cluster.
      ['GET /boom 503 FI route=all cluster=-\n', '/var/log/proxyscope/access.log'],
      ['details=fault_filter_abort\n', undefined],
    ]);
    await engine.stop();
  });

  it('rejects an unknown command operator at load, naming the field', () => {
    const yaml = envoyYaml({ hcm: { access_log: [{ name: 'envoy.access_loggers.stdout', typed_config: { '@type': STDOUT_LOGGER_TYPE, log_format: { text_format: '%NO_SUCH_THING%\n' } } }] } });
    let error: ConfigError | undefined;
    try {
      loadBootstrap(yaml, 'test.yaml');
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.diagnostics).toHaveLength(1);
    expect(error!.diagnostics[0]!.path).toBe('static_resources.listeners[0].filter_chains[0].filters[0].typed_config.access_log[0].typed_config.log_format.text_format');
    expect(error!.diagnostics[0]!.message).toMatch(/NO_SUCH_THING/);
  });
});
