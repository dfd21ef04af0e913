import { describe, expect, it } from 'vitest';
import type { Topology } from '@proxyscope/protocol';
import { layoutTopology, nodeId } from '../../src/views/topology/layout';
import { slotCapacity, slotPoint } from '../../src/views/topology/positions';
import { CatalogTracker } from '../../src/views/topology/catalog';
import { loadFixture } from './test-store';

/**
 * Presenter mode's layout: the map must fit a 1280x720 projector near scale 1, so 16-unit text
 * lands at 14 px or more. It drops the listener and filter-chain columns and keeps every path.
 */
describe('topology layout in presenter mode', () => {
  const store = loadFixture();
  const topology = store.topology!;
  const catalog = new CatalogTracker().update(store);
  const extras = { hosts: catalog.hosts, routeClusters: catalog.routeClusters, workers: 4 };

  it('fits the demo at a scale that keeps 16-unit text at 14 px or more at 1280x720', () => {
    const l = layoutTopology(topology, extras, { presenter: true });
    // the map area under the time bar, the map's own bar and the detail strip
    const k = Math.min(1280 / l.width, 590 / l.height);
    expect(k * 16).toBeGreaterThanOrEqual(14);
    expect(l.metrics.tokenRadius * 2 * k).toBeGreaterThanOrEqual(12);
    // the normal layout at the same size would not
    const normal = layoutTopology(topology, extras);
    expect(Math.min(1280 / normal.width, 590 / normal.height) * 12).toBeLessThan(14);
  });

  it('goes downstream -> listener filters -> routes -> clusters -> hosts, with no listener or chain boxes', () => {
    const l = layoutTopology(topology, extras, { presenter: true });
    expect(l.columns.map((c) => c.title)).toEqual(['downstream', 'listeners · filters', 'routes', 'clusters', 'hosts · pools']);
    expect(l.byId.has(nodeId.listener('ingress'))).toBe(false);
    expect(l.byId.has(nodeId.chain('ingress', 'filter_chain_0'))).toBe(false);
    const filters = nodeId.filters('ingress', 'filter_chain_0');
    expect(l.edges.some((e) => e.from === 'downstream' && e.to === filters)).toBe(true);
    // every edge joins two drawn nodes
    for (const e of l.edges) expect(l.byId.has(e.from) && l.byId.has(e.to)).toBe(true);
    const x = (id: string) => l.byId.get(id)!.x;
    expect(x('downstream')).toBeLessThan(x(filters));
    expect(x(filters)).toBeLessThan(x(nodeId.route('shop_routes', 'shop', 'api')));
  });

  it('keeps a host box one pool row tall whatever the worker count, and its tokens inside it', () => {
    const l = layoutTopology(topology, extras, { presenter: true });
    const host = l.nodes.find((n) => n.kind === 'host')!;
    expect(host.h).toBe(layoutTopology(topology, { ...extras, workers: 1 }, { presenter: true }).nodes.find((n) => n.kind === 'host')!.h);
    for (const slot of ['queue', 'conn'] as const) {
      const cap = slotCapacity(host, l.metrics);
      expect(cap).toBeGreaterThanOrEqual(3);
      for (let k = 0; k < cap; k++) {
        const p = slotPoint(host, slot, k, l.metrics);
        expect(p.x - l.metrics.tokenRadius).toBeGreaterThanOrEqual(host.x);
        expect(p.x + l.metrics.tokenRadius).toBeLessThanOrEqual(host.x + host.w);
        expect(p.y + l.metrics.tokenRadius).toBeLessThanOrEqual(host.y + host.h);
      }
    }
  });

  it('keeps a tcp_proxy chain, standing in the filters column', () => {
    const tcp: Topology = {
      workers: 1,
      listeners: [{ name: 'edge', address: '0.0.0.0:1', filterChains: [{ name: 'fc0', statPrefix: 'tcp', routeConfig: '', httpFilters: [], tcpProxy: { clusters: ['c'] } }] }],
      routeConfigs: [],
      clusters: [{ name: 'c', type: 'STATIC', lbPolicy: 'ROUND_ROBIN', hosts: ['10.0.0.1:80'] }],
    };
    const l = layoutTopology(tcp, { hosts: [], routeClusters: [] }, { presenter: true });
    const chain = nodeId.chain('edge', 'fc0');
    expect(l.byId.get(chain)?.label).toBe('edge · fc0');
    expect(l.edges.map((e) => `${e.from}->${e.to}`)).toEqual(expect.arrayContaining([`downstream->${chain}`, `${chain}->${nodeId.cluster('c')}`]));
  });
});
