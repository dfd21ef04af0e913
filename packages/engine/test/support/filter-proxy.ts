/**
 * A simulated proxy for HTTP filter tests: the config through the real loader (no
 * warnings allowed), the in-memory origin, and raw HTTP/1 requests on one connection.
 */
import type { FactEvent, TraceEvent } from '@proxyscope/protocol';
import { expect } from 'vitest';
import { loadBootstrap } from '../../src/config/load';
import { envoyYaml, type EnvoyConfigOptions } from './envoy-config';
import { MemoryOrigin, ok, settle, startSimulated, type Responder } from './memory-origin';
import { parseResponses } from './upstreams';
import type { EngineOptions } from '../../src/index';

export interface RawRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export function rawRequest(req: RawRequest = {}): Buffer {
  const headers: Record<string, string> = { host: 'example.com', ...req.headers };
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  if (body) headers['content-length'] = String(body.length);
  const head = `${req.method ?? 'GET'} ${req.path ?? '/'} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body ?? Buffer.alloc(0)]);
}

export async function filterProxy(
  options: EnvoyConfigOptions & { /** warnings the config may load with (e.g. a deprecated field) */ allowWarnings?: RegExp },
  respond: Responder = () => ok(),
  engine: Partial<EngineOptions> = {},
) {
  const { allowWarnings, ...envoy } = options;
  const loaded = loadBootstrap(envoyYaml(envoy), 'test.yaml');
  expect(loaded.warnings.filter((w) => !allowWarnings?.test(w.message))).toEqual([]);
  const proxy = await startSimulated(loaded.config, new MemoryOrigin(respond), 1, engine);
  const events: TraceEvent[] = [];
  proxy.engine.tracer.attach((e) => events.push(e));
  const c = proxy.dial();
  const methods: string[] = [];
  /** sends each request in turn on one keep-alive connection; returns every response so far */
  const send = async (...requests: RawRequest[]) => {
    for (const r of requests) {
      methods.push(r.method ?? 'GET');
      c.write(rawRequest(r));
      await settle();
    }
    return parseResponses(Buffer.concat(c.received), { requestMethods: methods });
  };
  const facts = (name: string) => events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === name).map((e) => e.data);
  return { ...proxy, connection: c, send, facts, events };
}
