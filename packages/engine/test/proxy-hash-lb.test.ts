import { describe, expect, it } from 'vitest';
import type { Cluster, HashPolicy } from '../src/config/types';
import { httpRequest, singleClusterConfig, startProxy, startUpstream, type Upstream } from './support/upstreams';

/** RING_HASH and MAGLEV through the proxy: the route's hash_policy decides the upstream. */

async function setup(lb_policy: Cluster['lb_policy'], hash_policy: HashPolicy[]) {
  const upstreams: Upstream[] = [];
  for (let i = 0; i < 3; i++) upstreams.push(await startUpstream({ name: `u${i}` }));
  const proxy = await startProxy(singleClusterConfig(upstreams.map((u) => u.port), { cluster: { lb_policy }, route: { route: { cluster: 'backend', cluster_not_found_response_code: 503, timeout: 15_000, hash_policy } } }));
  /** the upstream name (`u0`…) that answered */
  const ask = async (req: Parameters<typeof httpRequest>[1]) => (await httpRequest(proxy.port, req)).text.split(' ')[0]!;
  return { upstreams, proxy, ask };
}

describe('hash load balancing through the proxy', () => {
  it('RING_HASH with a header policy: one user, one upstream', async () => {
    const { proxy, ask } = await setup('RING_HASH', [{ header: { header_name: 'x-user' }, terminal: false }]);
    const seen = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++) {
      for (let u = 0; u < 12; u++) {
        const user = `user-${u}`;
        const upstream = await ask({ headers: { 'x-user': user } });
        seen.set(user, (seen.get(user) ?? new Set()).add(upstream));
      }
    }
    for (const hosts of seen.values()) expect(hosts.size).toBe(1);
    // Twelve users do not all hash to one host.
    expect(new Set([...seen.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
    const selected = proxy.events.find((e) => e.type === 'fact' && e.fact === 'lb.host_selected');
    expect(selected).toMatchObject({ data: { reason: expect.stringMatching(/^ring hash: hash 0x[0-9a-f]{16} -> entry \d+ of 1026$/) } });
  });

  it('MAGLEV with a cookie policy', async () => {
    const { ask } = await setup('MAGLEV', [{ cookie: { name: 'session' }, terminal: false }]);
    for (const session of ['a1', 'b2', 'c3', 'd4']) {
      const first = await ask({ headers: { cookie: `theme=x; session=${session}` } });
      for (let i = 0; i < 3; i++) expect(await ask({ headers: { cookie: `session=${session}` } })).toBe(first);
    }
  });

  it('query_parameter and source_ip policies, the first terminal one that applies wins', async () => {
    const { ask } = await setup('RING_HASH', [
      { query_parameter: { name: 'shard' }, terminal: true },
      { connection_properties: { source_ip: true }, terminal: false },
    ]);
    const byShard = await ask({ path: '/x?shard=7' });
    for (let i = 0; i < 3; i++) expect(await ask({ path: `/y${i}?shard=7` })).toBe(byShard);
    // Without the parameter every request comes from 127.0.0.1: always the same host.
    const byIp = await ask({ path: '/z' });
    for (let i = 0; i < 3; i++) expect(await ask({ path: `/z${i}` })).toBe(byIp);
  });

  it('picks a random host when no policy produced a hash', async () => {
    const { ask } = await setup('RING_HASH', [{ header: { header_name: 'x-user' }, terminal: false }]);
    const answers = new Set<string>();
    for (let i = 0; i < 30; i++) answers.add(await ask({}));
    expect(answers.size).toBeGreaterThan(1);
  });
});
