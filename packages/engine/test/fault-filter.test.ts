/**
 * envoy.filters.http.fault: aborts and delays, header control, max_active_faults, per-route
 * configs, percentages with a fixed seed, and the body of a delayed request.
 */
import type { FactEvent, TraceEvent } from '@proxyscope/protocol';
import { describe, expect, it } from 'vitest';
import { FAULT_TYPE, faultFilter, FILTER_CONFIG_TYPE, loadEnvoy, percent, type EnvoyConfigOptions } from './support/envoy-config';
import { MemoryOrigin, ok, settle, startSimulated, type SimulatedProxy } from './support/memory-origin';
import { eventually, httpRequest, parseAccessLog, parseResponses, RawClient, sha256, startProxy, startUpstream, writePattern } from './support/upstreams';

const GET = (path = '/x', extra = '') => `GET ${path} HTTP/1.1\r\nHost: example.com\r\n${extra}\r\n`;
const stats = (p: { stat(name: string): number }) => ({
  delays: p.stat('http.ingress_http.fault.delays_injected'),
  aborts: p.stat('http.ingress_http.fault.aborts_injected'),
  overflow: p.stat('http.ingress_http.fault.faults_overflow'),
  active: p.stat('http.ingress_http.fault.active_faults'),
});

async function simulated(options: EnvoyConfigOptions, seed = 1) {
  const proxy = await startSimulated(loadEnvoy(options), new MemoryOrigin(() => ok('upstream')), seed);
  const events: TraceEvent[] = [];
  proxy.engine.tracer.attach((e) => events.push(e));
  const faults = () => events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === 'filter.fault').map((e) => e.data);
  return { ...proxy, events, faults };
}

async function finish(p: SimulatedProxy): Promise<void> {
  await p.engine.stop();
  await settle();
  expect(stats(p).active).toBe(0);
  expect(p.stat('http.ingress_http.downstream_cx_active')).toBe(0);
  expect(p.clock.pendingTimers()).toBe(0);
}

describe('abort', () => {
  it('ends the request with the configured status, body "fault filter abort" and flag FI, before the upstream (real sockets)', async () => {
    const up = await startUpstream();
    const config = loadEnvoy({ listenerPort: 0, clusterPort: up.port, httpFilters: [faultFilter({ abort: { http_status: 503, percentage: percent(100) } })] });
    const proxy = await startProxy(config);
    const res = await httpRequest(proxy.port, { path: '/x' });
    expect(res.status).toBe(503);
    expect(res.text).toBe('fault filter abort');
    expect(up.arrivals).toHaveLength(0);
    await eventually(() => proxy.logs.length === 1, 'the access log line');
    expect(parseAccessLog(proxy.logs[0]!)).toMatchObject({ status: 503, flags: 'FI' });
    expect(stats(proxy)).toEqual({ delays: 0, aborts: 1, overflow: 0, active: 0 });
    const fact = proxy.events.find((e) => e.type === 'fact' && e.fact === 'filter.fault');
    expect(fact).toMatchObject({ machine: 'stream', data: { action: 'abort', status: 503, percentage: '100%' } });
    // The router never saw the request: no route, cluster or pool work happened.
    expect(proxy.events.some((e) => e.type === 'fact' && e.fact === 'cluster.selected')).toBe(false);
  });
});

describe('delay', () => {
  it('holds the request on the engine clock for fixed_delay, then sends it on (flag DI)', async () => {
    const p = await simulated({ httpFilters: [faultFilter({ delay: { fixed_delay: '2s', percentage: percent(100) } })] });
    const c = p.dial();
    c.write(GET());
    await p.advance(1999);
    expect(p.origin.requests).toHaveLength(0);
    expect(stats(p)).toMatchObject({ delays: 1, active: 1 });
    await p.advance(1);
    expect(p.origin.requests).toHaveLength(1);
    expect(parseResponses(Buffer.from(c.text(), 'latin1'))[0]!.body.toString()).toBe('upstream');
    expect(parseAccessLog(p.logs[0]!)).toMatchObject({ status: 200, flags: 'DI' });
    expect(stats(p).active).toBe(0);
    expect(p.faults().map((f) => f.action)).toEqual(['delay', 'delay_elapsed']);
    // Header iteration resumed at the filter after the fault filter.
    const resumed = p.events.find((e) => e.type === 'fact' && e.fact === 'stream.decoder_filter' && e.data.call === 'continue');
    expect(resumed).toMatchObject({ data: { filter: 'envoy.filters.http.fault', index: 0 } });
    await finish(p);
  });

  it('can be followed by an abort: both flags, and the upstream is never asked', async () => {
    const p = await simulated({
      httpFilters: [faultFilter({ delay: { fixed_delay: '1s', percentage: percent(100) }, abort: { http_status: 500, percentage: percent(100) } })],
    });
    const c = p.dial();
    c.write(GET());
    await p.advance(999);
    expect(c.text()).toBe('');
    await p.advance(1);
    expect(parseResponses(Buffer.from(c.text(), 'latin1'))[0]!.status).toBe(500);
    expect(parseAccessLog(p.logs[0]!)).toMatchObject({ status: 500, flags: 'DI,FI' });
    expect(p.origin.requests).toHaveLength(0);
    expect(stats(p)).toMatchObject({ delays: 1, aborts: 1 });
    await finish(p);
  });

  it('keeps the request body while delayed, reading at most about the buffer limit, and forwards all of it after (real sockets)', async () => {
    const up = await startUpstream();
    const config = loadEnvoy({ listenerPort: 0, clusterPort: up.port, httpFilters: [faultFilter({ delay: { fixed_delay: '0.4s', percentage: percent(100) } })] });
    const proxy = await startProxy(config, { trace: false });
    const size = 4 * 1024 * 1024;
    const client = await RawClient.connect(proxy.port);
    client.write(`POST /upload HTTP/1.1\r\nHost: example.com\r\ncontent-length: ${size}\r\n\r\n`);
    const socket = (client as unknown as { socket: NodeJS.WritableStream & { destroyed?: boolean } }).socket;
    void writePattern(socket, size);
    await new Promise((r) => setTimeout(r, 250));
    // Delayed: the stream holds what it read and stopped reading past 1 MiB.
    expect(up.arrivals).toHaveLength(0);
    expect(proxy.stat('http.ingress_http.downstream_cx_rx_bytes_total')).toBeLessThan(1.5 * 1024 * 1024);
    const [response] = await client.waitForResponses(1, undefined, 10_000);
    expect(response!.status).toBe(200);
    expect(up.requests[0]!.bodyLength).toBe(size);
    expect(up.requests[0]!.bodySha256).toBe(sha256(Buffer.concat([...chunksOf(size)])));
  });
});

function* chunksOf(size: number): Generator<Buffer> {
  const block = Buffer.allocUnsafe(251 * Math.floor((64 * 1024) / 251));
  for (let i = 0; i < block.length; i++) block[i] = i % 251;
  for (let sent = 0; sent < size; sent += block.length) yield block.subarray(0, Math.min(block.length, size - sent));
}

describe('header control', () => {
  const headerFaults = faultFilter({ delay: { header_delay: {}, percentage: percent(100) }, abort: { header_abort: {}, percentage: percent(100) } });

  it('x-envoy-fault-abort-request picks the status; without it nothing happens', async () => {
    const p = await simulated({ httpFilters: [headerFaults] });
    const c = p.dial();
    c.write(GET('/a', 'x-envoy-fault-abort-request: 429\r\n'));
    await settle();
    c.write(GET('/b'));
    await settle();
    expect(parseResponses(Buffer.from(c.text(), 'latin1')).map((r) => r.status)).toEqual([429, 200]);
    expect(p.origin.requests.map((r) => r.path)).toEqual(['/b']);
    await finish(p);
  });

  it('x-envoy-fault-delay-request gives the delay in ms', async () => {
    const p = await simulated({ httpFilters: [headerFaults] });
    const c = p.dial();
    c.write(GET('/slow', 'x-envoy-fault-delay-request: 300\r\n'));
    await p.advance(299);
    expect(p.origin.requests).toHaveLength(0);
    await p.advance(1);
    expect(p.origin.requests).toHaveLength(1);
    await finish(p);
  });

  it('the -percentage headers can lower the configured percentage, never raise it', async () => {
    const p = await simulated({ httpFilters: [faultFilter({ abort: { header_abort: {}, percentage: percent(0) } })] });
    const c = p.dial();
    c.write(GET('/a', 'x-envoy-fault-abort-request: 503\r\nx-envoy-fault-abort-request-percentage: 100\r\n'));
    await settle();
    expect(parseResponses(Buffer.from(c.text(), 'latin1'))[0]!.status).toBe(200);
    const q = await simulated({ httpFilters: [headerFaults] });
    const d = q.dial();
    d.write(GET('/a', 'x-envoy-fault-abort-request: 503\r\nx-envoy-fault-abort-request-percentage: 0\r\n'));
    await settle();
    expect(parseResponses(Buffer.from(d.text(), 'latin1'))[0]!.status).toBe(200);
    await finish(p);
    await finish(q);
  });
});

describe('max_active_faults', () => {
  it('refuses a fault while the limit is reached: faults_overflow, and the request goes on unharmed', async () => {
    const p = await simulated({ httpFilters: [faultFilter({ delay: { fixed_delay: '1s', percentage: percent(100) }, max_active_faults: 1 })] });
    const first = p.dial();
    first.write(GET('/first'));
    await settle();
    const second = p.dial();
    second.write(GET('/second'));
    await settle();
    expect(p.origin.requests.map((r) => r.path)).toEqual(['/second']);
    expect(stats(p)).toEqual({ delays: 1, aborts: 0, overflow: 1, active: 1 });
    expect(p.faults()).toContainEqual({ action: 'overflow', max_active_faults: 1, active_faults: 1 });
    await p.advance(1000);
    expect(p.origin.requests.map((r) => r.path)).toEqual(['/second', '/first']);
    await finish(p);
  });
});

describe('which requests', () => {
  it('headers and upstream_cluster must match for a fault to apply', async () => {
    const p = await simulated({
      httpFilters: [faultFilter({ abort: { http_status: 503, percentage: percent(100) }, headers: [{ name: 'x-chaos', string_match: { exact: 'on' } }], upstream_cluster: 'backend' })],
    });
    const c = p.dial();
    c.write(GET('/plain'));
    await settle();
    c.write(GET('/chaos', 'x-chaos: on\r\n'));
    await settle();
    expect(parseResponses(Buffer.from(c.text(), 'latin1')).map((r) => r.status)).toEqual([200, 503]);
    expect(p.faults()[0]).toEqual({ action: 'none', reason: 'request headers do not match' });
    await finish(p);
  });

  it('percentages hold over many requests with a fixed seed, and the same seed makes the same choices', async () => {
    const run = async (seed: number) => {
      const p = await simulated({ httpFilters: [faultFilter({ abort: { http_status: 503, percentage: percent(2500, 'TEN_THOUSAND') } })] }, seed);
      const c = p.dial();
      for (let i = 0; i < 1000; i++) {
        c.write(GET(`/${i}`));
        await settle();
      }
      const statuses = parseResponses(Buffer.from(c.text(), 'latin1')).map((r) => r.status);
      expect(statuses).toHaveLength(1000);
      await finish(p);
      return statuses;
    };
    const a = await run(7);
    const aborted = a.filter((s) => s === 503).length;
    expect(aborted).toBeGreaterThan(220);
    expect(aborted).toBeLessThan(280);
    expect(await run(7)).toEqual(a);
    expect(await run(8)).not.toEqual(a);
  });
});

describe('typed_per_filter_config', () => {
  it('the route’s config wins over the virtual host’s, which wins over the filter’s; FilterConfig disabled switches it off', async () => {
    const abortWith = (status: number) => ({ '@type': FAULT_TYPE, abort: { http_status: status, percentage: percent(100) } });
    const p = await simulated({
      httpFilters: [faultFilter({})],
      vhost: { typed_per_filter_config: { 'envoy.filters.http.fault': abortWith(500) } },
      routes: [
        { name: 'teapot', match: { prefix: '/teapot' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.fault': abortWith(418) } },
        { name: 'safe', match: { prefix: '/safe' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': FILTER_CONFIG_TYPE, disabled: true } } },
        { name: 'rest', match: { prefix: '/' }, route: { cluster: 'backend' } },
      ],
    });
    const c = p.dial();
    for (const path of ['/teapot', '/safe', '/other']) {
      c.write(GET(path));
      await settle();
    }
    expect(parseResponses(Buffer.from(c.text(), 'latin1')).map((r) => r.status)).toEqual([418, 200, 500]);
    const disabled = p.events.find((e) => e.type === 'fact' && e.fact === 'stream.decoder_filter' && e.data.call === 'disabled');
    expect(disabled).toMatchObject({ data: { filter: 'envoy.filters.http.fault' } });
    await finish(p);
  });

  it('an HTTP filter with disabled: true runs only where a route enables it', async () => {
    const p = await simulated({
      httpFilters: [{ ...faultFilter({ abort: { http_status: 503, percentage: percent(100) } }), disabled: true }],
      routes: [
        { name: 'on', match: { prefix: '/on' }, route: { cluster: 'backend' }, typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': FILTER_CONFIG_TYPE } } },
        { name: 'rest', match: { prefix: '/' }, route: { cluster: 'backend' } },
      ],
    });
    const c = p.dial();
    c.write(GET('/on'));
    await settle();
    c.write(GET('/off'));
    await settle();
    expect(parseResponses(Buffer.from(c.text(), 'latin1')).map((r) => r.status)).toEqual([503, 200]);
    await finish(p);
  });
});
