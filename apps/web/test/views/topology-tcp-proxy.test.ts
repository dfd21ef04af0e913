import { describe, expect, it } from 'vitest';
import type { Topology } from '@proxyscope/protocol';
import { layoutTopology, nodeId } from '../../src/views/topology/layout';

/** The tls-inspector sandbox's shape: HTTP on one chain, TLS passed through to a cluster on another. */
const topology: Topology = {
  workers: 1,
  listeners: [
    {
      name: 'edge',
      address: '0.0.0.0:10000',
      filterChains: [
        { name: 'filter_chain_0', statPrefix: 'https_passthrough', routeConfig: '', httpFilters: [], tcpProxy: { clusters: ['service-https'] } },
        { name: 'filter_chain_1', statPrefix: 'ingress_http', routeConfig: 'local_route', httpFilters: ['envoy.filters.http.router'] },
      ],
    },
  ],
  routeConfigs: [{ name: 'local_route', virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ name: 'r0', match: 'prefix /', action: 'service-http' }] }] }],
  clusters: [
    { name: 'service-https', type: 'STRICT_DNS', lbPolicy: 'ROUND_ROBIN', hosts: [] },
    { name: 'service-http', type: 'STRICT_DNS', lbPolicy: 'ROUND_ROBIN', hosts: [] },
  ],
};

describe('topology: a tcp_proxy chain', () => {
  it('goes from the chain straight to its target cluster, with no HTTP filters node', () => {
    const layout = layoutTopology(topology, { hosts: [], routeClusters: [] });
    const chain = layout.byId.get(nodeId.chain('edge', 'filter_chain_0'))!;
    expect(chain.sub).toBe('TCP proxy · https_passthrough');
    expect(layout.byId.has(nodeId.filters('edge', 'filter_chain_0'))).toBe(false);
    const from = (id: string) => layout.edges.filter((e) => e.from === id).map((e) => e.to);
    expect(from(chain.id)).toEqual([nodeId.cluster('service-https')]);
    // The HCM chain beside it keeps its filters and routes.
    expect(from(nodeId.chain('edge', 'filter_chain_1'))).toEqual([nodeId.filters('edge', 'filter_chain_1')]);
  });
});
