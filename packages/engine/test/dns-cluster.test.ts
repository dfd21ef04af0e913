import type { TraceEvent } from '@proxyscope/protocol';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../src/config/types';
import { ProxyEngine } from '../src/engine';
import { ManualClock } from '../src/seams/clock';
import { MemoryResolver } from '../src/seams/resolver';
import * as b from './support/config-builders';
import { MemoryOrigin, ok, settle } from './support/memory-origin';
import { MemoryTransport } from './support/memory-transport';

/**
 * STRICT_DNS and LOGICAL_DNS clusters on a scripted resolver and a ManualClock: the
 * names resolve only when the test says so, and nothing is resolved again until the test
 * moves time past dns_refresh_rate (or the back-off, or the TTL).
 */

interface Setup {
  engine: ProxyEngine;
  clock: ManualClock;
  resolver: MemoryResolver;
  events: TraceEvent[];
  /** `address:port` of every upstream connect, in order */
  connects: string[];
  stat(name: string): number;
  /** one request through the listener; the body of a 200 is the address of the host that answered */
  get(path?: string): Promise<{ status: number; body: string; flags: string | undefined }>;
  advance(ms: number): Promise<void>;
}

async function setup(resolver: MemoryResolver, cluster: Partial<Cluster> = {}, endpoints: Array<[string, number]> = [['service1', 8080]]): Promise<Setup> {
  const clock = new ManualClock();
  const connects: string[] = [];
  const origins = new Map<string, MemoryOrigin>();
  const transport = new MemoryTransport((address, port, callbacks) => {
    connects.push(`${address}:${port}`);
    let origin = origins.get(address);
    if (!origin) origins.set(address, (origin = new MemoryOrigin(() => ok(address))));
    return origin.connect(address, port, callbacks);
  });
  const config = b.bootstrap(
    [b.listener(b.hcm(b.routeConfig([b.vhost('all', ['*'], [b.route({ match: { prefix: '/' }, route: { cluster: 'backend' } })])])), 10000)],
    [
      b.cluster('backend', [], {
        type: 'STRICT_DNS',
        endpoints: endpoints.map(([address, port_value]) => ({ address: { address, port_value }, load_balancing_weight: 1 })),
        ...cluster,
      }),
    ],
  );
  const engine = new ProxyEngine({ config, transport, clock, resolver, seed: 7 });
  const events: TraceEvent[] = [];
  engine.tracer.attach((e) => events.push(e));
  await engine.start();
  let n = 0;
  const get = async (path = '/') => {
    const client = transport.dial('127.0.0.1', 10000);
    client.write(`GET ${path} HTTP/1.1\r\nhost: example.com\r\nx-n: ${n++}\r\n\r\n`);
    await settle();
    const text = client.text();
    client.destroy();
    await settle();
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);
    const log = events.filter((e) => e.type === 'fact' && e.fact === 'stream.access_log').at(-1);
    return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4), flags: log?.type === 'fact' ? (log.data.flags as string) : undefined };
  };
  return {
    engine,
    clock,
    resolver,
    events,
    connects,
    stat: (name) => engine.stats.valueOf(name) ?? 0,
    get,
    advance: async (ms) => {
      await settle();
      clock.advance(ms);
      await settle();
    },
  };
}

const facts = (s: Setup, fact: string) => s.events.filter((e): e is Extract<TraceEvent, { type: 'fact' }> => e.type === 'fact' && e.fact === fact);
const hostKeys = (s: Setup) => s.engine.clusterManager.get('backend')!.hosts.map((h) => h.key);

describe('a DNS cluster whose name does not resolve', () => {
  it('starts anyway, answers 503 UH "no healthy upstream", and retries at dns_refresh_rate', async () => {
    const s = await setup(new MemoryResolver().fail('service1', 'ECONNREFUSED'));
    expect(s.engine.state).toBe('LIVE');
    expect(hostKeys(s)).toEqual([]);
    expect([s.stat('cluster.backend.update_attempt'), s.stat('cluster.backend.update_failure'), s.stat('cluster.backend.update_success')]).toEqual([1, 1, 0]);

    const reply = await s.get();
    expect(reply).toMatchObject({ status: 503, body: 'no healthy upstream', flags: 'UH' });
    expect(s.stat('cluster.backend.upstream_cx_none_healthy')).toBe(1);
    expect(s.connects).toEqual([]);

    // Without dns_failure_refresh_rate a failure waits dns_refresh_rate (default 5 s).
    await s.advance(4999);
    expect(s.stat('cluster.backend.update_attempt')).toBe(1);
    await s.advance(1);
    expect([s.stat('cluster.backend.update_attempt'), s.stat('cluster.backend.update_failure')]).toEqual([2, 2]);
    expect(s.resolver.count('service1')).toBe(2);

    const failed = facts(s, 'dns.failed');
    expect(failed[0]).toMatchObject({ machine: 'dns_resolution', actor: 'cluster:backend/dns:service1:8080', data: { cluster: 'backend', hostname: 'service1', code: 'ECONNREFUSED', refreshMs: 5000 } });
    const dnsStates = s.events.filter((e) => e.machine === 'dns_resolution' && e.type !== 'fact').map((e) => (e.type === 'transition' ? `${e.from}>${e.to}` : `${e.type}:${'state' in e ? e.state : ''}`));
    expect(dnsStates).toEqual(['spawn:resolving', 'resolving>failed', 'failed>resolving', 'resolving>failed']);
  });

  it('backs off exponentially with jitter on dns_failure_refresh_rate, within [0, interval)', async () => {
    const s = await setup(new MemoryResolver().fail('service1', 'ETIMEOUT'), { dns_failure_refresh_rate: { base_interval: 1000, max_interval: 4000 } });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const wait = facts(s, 'dns.failed').at(-1)!.data.refreshMs as number;
      waits.push(wait);
      await s.advance(wait);
      expect(s.stat('cluster.backend.update_failure')).toBe(i + 2);
    }
    // JitteredExponentialBackOffStrategy: [0,1000), [0,2000), [0,4000), then [0,4000) for ever.
    const caps = [1000, 2000, 4000, 4000, 4000];
    waits.forEach((w, i) => expect(w).toBeLessThan(caps[i]!));
    expect(new Set(waits).size).toBeGreaterThan(1);
  });

  it('treats "no such name" as an answer with no hosts (update_success), as Envoy does', async () => {
    const s = await setup(new MemoryResolver());
    expect([s.stat('cluster.backend.update_success'), s.stat('cluster.backend.update_failure')]).toEqual([1, 0]);
    expect(s.stat('cluster.backend.membership_total')).toBe(0);
    expect(await s.get()).toMatchObject({ status: 503, flags: 'UH' });
  });
});

describe('a DNS cluster whose answer changes', () => {
  it('sends traffic to the hosts once the name starts resolving', async () => {
    const resolver = new MemoryResolver().fail('service1', 'ESERVFAIL');
    const s = await setup(resolver);
    expect((await s.get()).status).toBe(503);

    resolver.answer('service1', ['10.0.0.1', '10.0.0.2']);
    await s.advance(5000);
    expect(hostKeys(s)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
    expect([s.stat('cluster.backend.update_success'), s.stat('cluster.backend.membership_total'), s.stat('cluster.backend.membership_healthy'), s.stat('cluster.backend.membership_change')]).toEqual([1, 2, 2, 1]);
    const bodies = [(await s.get()).body, (await s.get()).body];
    expect(bodies.sort()).toEqual(['10.0.0.1', '10.0.0.2']);

    expect(facts(s, 'dns.resolved').at(-1)).toMatchObject({ data: { cluster: 'backend', hostname: 'service1', addresses: ['10.0.0.1', '10.0.0.2'], ttl: 0, refreshMs: 5000 } });
    expect(facts(s, 'cluster.hosts_changed')[0]).toMatchObject({ data: { cluster: 'backend', added: ['10.0.0.1:8080', '10.0.0.2:8080'], removed: [], hosts: ['10.0.0.1:8080', '10.0.0.2:8080'] } });
  });

  it('adds and removes hosts, keeping the ones whose address stayed; a removed host gets no more traffic', async () => {
    const resolver = new MemoryResolver().answer('service1', ['10.0.0.1', '10.0.0.2']);
    const s = await setup(resolver);
    const [first] = s.engine.clusterManager.get('backend')!.hosts;
    await s.get();
    await s.get();

    resolver.answer('service1', ['10.0.0.2', '10.0.0.3']);
    await s.advance(5000);
    expect(hostKeys(s)).toEqual(['10.0.0.2:8080', '10.0.0.3:8080']);
    const kept = s.engine.clusterManager.get('backend')!.hosts[0]!;
    expect(kept.stats.rq_total).toBe(1);
    expect(kept).not.toBe(first);
    expect(facts(s, 'cluster.hosts_changed').at(-1)).toMatchObject({ data: { added: ['10.0.0.3:8080'], removed: ['10.0.0.1:8080'] } });
    expect(s.stat('cluster.backend.membership_change')).toBe(2);
    // The removed host's pool drained its idle keep-alive connection.
    expect(s.events.some((e) => e.type === 'fact' && e.fact === 'pool.decision' && e.data.decision === 'drain_connections' && e.data.why === 'host removed' && e.ids.host === '10.0.0.1:8080')).toBe(true);

    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await s.get()).body);
    expect([...bodies].sort()).toEqual(['10.0.0.2', '10.0.0.3']);

    // The same answer again changes nothing (update_no_rebuild).
    await s.advance(5000);
    expect([s.stat('cluster.backend.membership_change'), s.stat('cluster.backend.update_no_rebuild')]).toEqual([2, 1]);
  });

  it('keeps the last hosts while the name fails to resolve', async () => {
    const resolver = new MemoryResolver().answer('service1', ['10.0.0.1']);
    const s = await setup(resolver);
    resolver.fail('service1', 'ETIMEOUT');
    await s.advance(5000);
    expect(s.stat('cluster.backend.update_failure')).toBe(1);
    expect(hostKeys(s)).toEqual(['10.0.0.1:8080']);
    expect((await s.get()).body).toBe('10.0.0.1');
  });

  it('resolves every lb_endpoint name on its own and takes all their hosts', async () => {
    const resolver = new MemoryResolver().answer('service1', ['10.0.0.1']).answer('service2', ['10.0.1.1', '10.0.1.2']);
    const s = await setup(resolver, {}, [
      ['service1', 8080],
      ['service2', 9090],
    ]);
    expect(hostKeys(s)).toEqual(['10.0.0.1:8080', '10.0.1.1:9090', '10.0.1.2:9090']);
    expect(s.stat('cluster.backend.update_attempt')).toBe(2);
  });
});

describe('DNS refresh timing and lookup families', () => {
  it('respect_dns_ttl refreshes at the smallest TTL of the answer instead of dns_refresh_rate', async () => {
    const resolver = new MemoryResolver().answer('service1', ['10.0.0.1'], 30);
    const s = await setup(resolver, { respect_dns_ttl: true, dns_refresh_rate: 2000 });
    await s.advance(2000);
    expect(s.stat('cluster.backend.update_attempt')).toBe(1);
    await s.advance(28_000);
    expect(s.stat('cluster.backend.update_attempt')).toBe(2);
    expect(facts(s, 'dns.resolved')[0]).toMatchObject({ data: { ttl: 30, refreshMs: 30_000 } });
  });

  it('without respect_dns_ttl, refreshes at dns_refresh_rate whatever the TTL', async () => {
    const s = await setup(new MemoryResolver().answer('service1', ['10.0.0.1'], 30), { dns_refresh_rate: 2000 });
    await s.advance(2000);
    expect(s.stat('cluster.backend.update_attempt')).toBe(2);
  });

  it('dns_lookup_family V4_ONLY keeps only IPv4 answers; the default AUTO prefers IPv6', async () => {
    const both = () => new MemoryResolver().answer('service1', ['2001:db8::1', '10.0.0.1']);
    const v4 = await setup(both(), { dns_lookup_family: 'V4_ONLY' });
    expect(hostKeys(v4)).toEqual(['10.0.0.1:8080']);
    const auto = await setup(both());
    expect(hostKeys(auto)).toEqual(['[2001:db8::1]:8080']);
    const all = await setup(both(), { dns_lookup_family: 'ALL' });
    expect(hostKeys(all)).toEqual(['[2001:db8::1]:8080', '10.0.0.1:8080']);
  });
});

describe('LOGICAL_DNS', () => {
  it('has one host at the first address, connects there, and replaces it when the first address changes', async () => {
    const resolver = new MemoryResolver().answer('service1', ['10.0.0.1', '10.0.0.2']);
    const s = await setup(resolver, { type: 'LOGICAL_DNS', dns_lookup_family: 'V4_ONLY' });
    expect(hostKeys(s)).toEqual(['10.0.0.1:8080']);
    expect((await s.get()).body).toBe('10.0.0.1');
    expect(s.connects).toEqual(['10.0.0.1:8080']);

    resolver.answer('service1', ['10.0.0.2', '10.0.0.1']);
    await s.advance(5000);
    expect(hostKeys(s)).toEqual(['10.0.0.2:8080']);
    expect((await s.get()).body).toBe('10.0.0.2');
    expect(s.connects).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
  });

  it('counts an empty answer as a failure and keeps its host', async () => {
    const resolver = new MemoryResolver().answer('service1', ['10.0.0.1']);
    const s = await setup(resolver, { type: 'LOGICAL_DNS' });
    resolver.answer('service1', []);
    await s.advance(5000);
    expect([s.stat('cluster.backend.update_success'), s.stat('cluster.backend.update_failure')]).toEqual([1, 1]);
    expect(hostKeys(s)).toEqual(['10.0.0.1:8080']);
  });
});

describe('DNS hosts and health checking', () => {
  it('health-checks a host a DNS answer added before balancing to it', async () => {
    const resolver = new MemoryResolver().fail('service1', 'ETIMEOUT');
    const s = await setup(resolver, {
      health_checks: [{ timeout: 1000, interval: 10_000, interval_jitter: 0, unhealthy_threshold: 2, healthy_threshold: 2, reuse_connection: true, http_health_check: { path: '/healthz', expected_statuses: [{ start: 200, end: 201 }] } }],
    });
    resolver.answer('service1', ['10.0.0.1']);
    await s.advance(5000);
    const host = s.engine.clusterManager.get('backend')!.hosts[0]!;
    // The new host was checked at once (MemoryOrigin answers 200) and is healthy now.
    expect(s.stat('cluster.backend.health_check.attempt')).toBe(1);
    expect(host.healthState).toBe('healthy');
    expect((await s.get()).body).toBe('10.0.0.1');
  });
});

describe('the same inputs give the same trace', () => {
  it('is deterministic with a seed', async () => {
    const run = async () => {
      const s = await setup(new MemoryResolver().fail('service1', 'ETIMEOUT'), { dns_failure_refresh_rate: { base_interval: 500, max_interval: 5000 } });
      for (let i = 0; i < 4; i++) await s.advance(2500);
      return JSON.stringify(s.events.filter((e) => e.machine === 'dns_resolution'));
    };
    expect(await run()).toBe(await run());
  });
});
