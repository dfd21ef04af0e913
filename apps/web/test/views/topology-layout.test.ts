import { describe, expect, it } from 'vitest';
import type { Topology } from '@proxyscope/protocol';
import { layoutTopology, nodeId } from '../../src/views/topology/layout';
import { CatalogTracker } from '../../src/views/topology/catalog';
import { loadFixture } from './test-store';

describe('topology layout', () => {
  const store = loadFixture();
  const topology = store.topology!;
  const catalog = new CatalogTracker().update(store);
  const extras = { hosts: catalog.hosts, routeClusters: catalog.routeClusters };

  it('puts the same topology on the same coordinates every time', () => {
    const a = layoutTopology(structuredClone(topology), extras);
    const b = layoutTopology(structuredClone(topology), { hosts: [...extras.hosts].reverse(), routeClusters: [...extras.routeClusters].reverse() });
    expect(b.nodes.map((n) => [n.id, n.x, n.y, n.w, n.h])).toEqual(a.nodes.map((n) => [n.id, n.x, n.y, n.w, n.h]));
  });

  it('lays out every layer left to right: downstream, listener, chain, filters, routes, clusters, hosts', () => {
    const l = layoutTopology(topology, extras);
    const x = (id: string) => l.byId.get(id)!.x;
    const route = nodeId.route('shop_routes', 'shop', 'api');
    expect(x('downstream')).toBeLessThan(x(nodeId.listener('ingress')));
    expect(x(nodeId.listener('ingress'))).toBeLessThan(x(nodeId.chain('ingress', 'filter_chain_0')));
    expect(x(nodeId.chain('ingress', 'filter_chain_0'))).toBeLessThan(x(nodeId.filters('ingress', 'filter_chain_0')));
    expect(x(nodeId.filters('ingress', 'filter_chain_0'))).toBeLessThan(x(route));
    expect(x(route)).toBeLessThan(x(nodeId.cluster('api')));
  });

  it('derives hosts from events when the trace header lists none', () => {
    expect(topology.clusters.every((c) => c.hosts.length === 0)).toBe(true);
    const l = layoutTopology(topology, extras);
    const hosts = l.nodes.filter((n) => n.kind === 'host');
    // the demo has 3 web hosts, 1 canary and 2 api hosts; all took traffic or were health checked
    expect(hosts.length).toBeGreaterThanOrEqual(5);
    for (const h of hosts) expect(l.edges.some((e) => e.to === h.id && e.from === nodeId.cluster(h.cluster!))).toBe(true);
  });

  it('draws the weighted route to the clusters its requests really went to', () => {
    const l = layoutTopology(topology, extras);
    const storefront = nodeId.route('shop_routes', 'shop', 'storefront');
    expect(l.edges.some((e) => e.from === storefront && e.to === nodeId.cluster('web'))).toBe(true);
    // a plain route's cluster comes from the topology itself
    expect(l.edges.some((e) => e.from === nodeId.route('shop_routes', 'shop', 'api') && e.to === nodeId.cluster('api'))).toBe(true);
  });

  it('gives nodes in one column no overlap', () => {
    const t: Topology = { ...topology, clusters: topology.clusters.map((c) => ({ ...c, hosts: ['10.0.0.2:80', '10.0.0.10:80', '10.0.0.1:80'] })) };
    const l = layoutTopology(t);
    const hosts = l.nodes.filter((n) => n.kind === 'host' && n.cluster === 'web');
    expect(hosts.map((h) => h.host)).toEqual(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.10:80']);
    const byX = new Map<number, typeof l.nodes>();
    for (const n of l.nodes) byX.set(n.x, [...(byX.get(n.x) ?? []), n]);
    for (const col of byX.values()) for (let i = 1; i < col.length; i++) expect(col[i].y).toBeGreaterThanOrEqual(col[i - 1].y + col[i - 1].h);
  });
});
