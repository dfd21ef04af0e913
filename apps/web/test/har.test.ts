import { beforeAll, describe, expect, it } from 'vitest';
import { requestsAt } from '../src/app/RequestList';
import { durationOf } from '../src/model/request-filter';
import { buildHar, harEntry, type HarEntry } from '../src/model/har';
import type { EventStoreImpl } from '../src/model/event-store';
import { HarSchema } from './support/har-schema';
import { simulatedStore } from './support/sim-store';

/**
 * HAR export from real engine runs (shipped scenarios on virtual time): the file is HAR 1.2
 * as the spec (softwareishard.com/blog/har-12-spec) lays it out, which is what Chrome
 * DevTools' Import HAR reads, and its timings tell the request's phases.
 */

/** The spec: time is the sum of the timings that apply (ssl is inside connect). */
function timingsSum(e: HarEntry): number {
  const t = e.timings;
  return [t.blocked, t.dns, t.connect, t.send, t.wait, t.receive].filter((v) => v >= 0).reduce((a, b) => a + b, 0);
}

function everything(store: EventStoreImpl) {
  const end = store.length - 1;
  return { end, requests: requestsAt(store, end) };
}

describe('HAR export', () => {
  let retries: EventStoreImpl;
  let life: EventStoreImpl;
  let demo: EventStoreImpl;
  beforeAll(async () => {
    // web-2 answers 503 from 3 s and the route retries on another host
    retries = await simulatedStore('retries-previous-hosts', (s) => ({ ...s, duration: 3500 }));
    life = await simulatedStore('life-of-a-request');
    demo = await simulatedStore('demo', (s) => ({ ...s, duration: 2000 }));
  });

  it('writes HAR 1.2 that the schema accepts, one entry per finished request, numbers as numbers', () => {
    for (const store of [retries, life, demo]) {
      const { end, requests } = everything(store);
      const har = buildHar(store, requests, end);
      const parsed = HarSchema.safeParse(JSON.parse(JSON.stringify(har)));
      expect(parsed.error?.issues.slice(0, 3) ?? []).toEqual([]);
      expect(har.log.creator.name).toBe('ProxyScope');
      expect(har.log.entries.map((e) => e._proxyscope.stream)).toEqual(requests.filter((r) => r.done).map((r) => r.stream));
      for (const e of har.log.entries) {
        expect(e.request.headers[0]).toEqual({ name: 'host', value: new URL(e.request.url).host });
        expect(timingsSum(e), `stream ${e._proxyscope.stream}`).toBeCloseTo(e.time, 2);
        const { beforeUpstream, earlierAttempts, poolWait } = e._proxyscope.blocked;
        expect(beforeUpstream + earlierAttempts + poolWait, `stream ${e._proxyscope.stream}`).toBeCloseTo(e.timings.blocked, 2);
      }
    }
  });

  it('dates each entry from the run start: the simulation epoch plus the request start', () => {
    const { end, requests } = everything(life);
    const [entry] = buildHar(life, requests, end).log.entries;
    // SimClock's time 0 is 2026-01-01T00:00:00Z (the engine's startedAt in a simulation)
    expect(Date.parse(entry!.startedDateTime)).toBe(Date.UTC(2026, 0, 1) + requests[0]!.startT);
    expect(entry!.time).toBeCloseTo(durationOf(requests[0]!, 0), 3);
  });

  it('counts the new upstream connection as connect, and a reused one as -1', () => {
    // life-of-a-request: one request, its connection opened for it (connect_time 2 ms, 1 ms hops)
    const { end, requests } = everything(life);
    const [entry] = buildHar(life, requests, end).log.entries;
    expect(entry!.timings.connect).toBeGreaterThanOrEqual(2);
    expect(entry!.timings.connect).toBeLessThan(entry!.time);
    expect(entry!.timings.ssl).toBe(-1);
    expect(entry!.timings.wait).toBeGreaterThanOrEqual(20); // the host's 20 ms service time
    expect(entry!.serverIPAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // At 50 requests/s over keep-alive connections, few requests wait for a connect.
    const many = everything(retries);
    const entries = buildHar(retries, many.requests, many.end).log.entries;
    const connected = entries.filter((e) => e.timings.connect >= 0);
    const opened = new Set(many.requests.flatMap((r) => r.attempts.map((a) => `${a.pool}/${a.ucx}`))).size;
    expect(connected.length).toBeLessThanOrEqual(opened);
    expect(entries.length - connected.length).toBeGreaterThan(entries.length / 2);
  });

  it('splits the TLS handshake out of connect as ssl when the upstream speaks TLS', async () => {
    // life-of-a-request with a TLS cluster: the simulated handshake takes one 1 ms network hop
    const tls = await simulatedStore('life-of-a-request', undefined, (raw) => {
      raw.static_resources.clusters[0].transport_socket = {
        name: 'envoy.transport_sockets.tls',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: 'hello.example.com' },
      };
    });
    const { end, requests } = everything(tls);
    const [entry] = buildHar(tls, requests, end).log.entries;
    const plain = buildHar(life, everything(life).requests, life.length - 1).log.entries[0]!;
    expect(entry!.timings.ssl).toBeGreaterThanOrEqual(1);
    // ssl is part of connect (HAR 1.2), and the TCP part is what the plain run's connect took
    expect(entry!.timings.connect).toBeCloseTo(plain.timings.connect + entry!.timings.ssl, 3);
    expect(timingsSum(entry!)).toBeCloseTo(entry!.time, 2);
  });

  it('shows a retried request as its answering attempt, the failed one and the back-off inside blocked', () => {
    const { end, requests } = everything(retries);
    const retried = requests.filter((r) => r.done && r.attempts.length === 2);
    expect(retried.length).toBeGreaterThan(5);
    for (const r of retried) {
      const e = harEntry(retries, r, end)!;
      const [first, second] = r.attempts;
      expect(e.response.status).toBe(200);
      expect(e.response.statusText).toBe('OK');
      expect(e.serverIPAddress).toBe(second!.host!.replace(/:\d+$/, ''));
      expect(e._proxyscope.attempts.map((a) => a.status)).toEqual([503, 200]);
      // Everything before the second attempt sends (the 503 and the back-off) is blocked time.
      expect(e.timings.blocked).toBeGreaterThanOrEqual(second!.startT - r.startT - 0.001);
      expect(e._proxyscope.blocked.earlierAttempts).toBeCloseTo(second!.startT - first!.startT, 3);
      expect(timingsSum(e)).toBeCloseTo(e.time, 2);
      expect(e.time).toBeCloseTo(r.endT! - r.startT, 2);
    }
  });

  it('leaves out a request still in flight at the cursor, and says so', () => {
    // a cursor while some request waits for its upstream's answer
    const ids = retries.requestIds();
    const waiting = retries.eventsOfRequest(ids[20]!).find((i) => retries.stateAt(i) === 'awaiting_headers')!;
    const requests = requestsAt(retries, waiting);
    const inFlight = requests.filter((r) => !r.done);
    expect(inFlight.map((r) => r.stream)).toContain(ids[20]);
    const har = buildHar(retries, requests, waiting);
    expect(har.log.entries).toHaveLength(requests.length - inFlight.length);
    expect(har.log.entries.map((e) => e._proxyscope.stream)).not.toContain(ids[20]);
    expect(har.log.comment).toBe(`${inFlight.length} request${inFlight.length === 1 ? '' : 's'} still in flight at the cursor ${inFlight.length === 1 ? 'was' : 'were'} left out`);
    // ...and the same request once it has finished is in
    expect(buildHar(retries, [retries.requestAt(ids[20]!, retries.length - 1)!], retries.length - 1).log.entries).toHaveLength(1);
  });

  it('tells a local reply and a request body from the trace', () => {
    const { end, requests } = everything(demo);
    const entries = buildHar(demo, requests, end).log.entries;
    // unknown.example.org matches no virtual host: the router answers 404 NR itself
    const noRoute = entries.find((e) => e._proxyscope.flags === 'NR')!;
    expect(noRoute.response.status).toBe(404);
    expect(noRoute.timings.connect).toBe(-1);
    expect(noRoute._proxyscope.attempts).toEqual([]);
    expect(noRoute.serverIPAddress).toBeUndefined();
    // POST /api/cart carries 300 bytes (body_bytes: 300)
    const cart = entries.find((e) => e.request.method === 'POST')!;
    expect(cart.request.url).toBe('http://shop.example.com/api/cart');
    expect(cart.request.bodySize).toBe(300);
  });
});
