/**
 * A whole proxy on the in-memory transport and a ManualClock, for tests that drive
 * requests by hand and read their machines in the trace: one listener on 10000, one route
 * `all` (prefix /) to cluster `backend` on 8080, answered by `answer`.
 */
import type { TraceEvent, TransitionEvent } from '@proxyscope/protocol';
import type { Cluster, RouteAction } from '../../src/config/types';
import { ManualClock, ProxyEngine } from '../../src/index';
import * as b from './config-builders';
import { MemoryUpstream, memoryTransportTo, type MemoryAnswer, type MemoryRequest } from './memory-upstream';
import { parseResponses } from './upstreams';

/** Drain queued microtasks (the in-memory transport delivers bytes on them). */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 30; i++) await Promise.resolve();
};

export interface MemoryProxyOptions {
  route?: Partial<RouteAction>;
  cluster?: Partial<Cluster>;
  hcm?: Parameters<typeof b.hcm>[1];
}

export async function startMemoryProxy(answer: (request: MemoryRequest) => MemoryAnswer, { route = {}, cluster = {}, hcm = {} }: MemoryProxyOptions = {}) {
  const clock = new ManualClock();
  const upstream = new MemoryUpstream(clock, answer);
  const transport = memoryTransportTo(new Map([[8080, upstream]]));
  const vhost = b.vhost('all', ['*'], [b.route({ name: 'all', match: { prefix: '/' }, route: { cluster: 'backend', ...route } })]);
  const config = b.bootstrap([b.listener(b.hcm(b.routeConfig([vhost]), hcm), 10000)], [b.cluster('backend', [8080], cluster)]);
  const engine = new ProxyEngine({ config, transport, clock, seed: 1 });
  const events: TraceEvent[] = [];
  engine.tracer.attach((e) => events.push(e));
  await engine.start();
  const send = (path: string) => {
    const client = transport.dial('127.0.0.1', 10000);
    client.write(`GET ${path} HTTP/1.1\r\nhost: example.com\r\n\r\n`);
    return client;
  };
  const responseOf = (client: ReturnType<typeof send>) => parseResponses(Buffer.from(client.text(), 'latin1'))[0];
  /** `ms` of the clock, 1 ms at a time, each followed by what it set off */
  const run = async (ms: number) => {
    await settle();
    for (let i = 0; i < ms; i++) {
      clock.advance(1);
      await settle();
    }
  };
  /** the stream id of the request whose path is `path` */
  const streamOf = (path: string): number => {
    const e = events.find((x) => x.type === 'fact' && x.fact === 'codec.request_headers' && x.data.path === path);
    if (!e) throw new Error(`no request ${path}`);
    return e.ids.stream!;
  };
  const transitionsOf = (stream: number): string[] =>
    events.filter((e): e is TransitionEvent => e.type === 'transition' && e.ids.stream === stream).map((e) => `${e.machine}:${e.to}`);
  return { clock, engine, upstream, events, send, responseOf, run, streamOf, transitionsOf };
}
