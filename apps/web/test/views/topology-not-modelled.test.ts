import { describe, expect, it } from 'vitest';
import type { Topology } from '@proxyscope/protocol';
import { layoutTopology, nodeId } from '../../src/views/topology/layout';

const topology = (details: boolean): Topology => ({
  workers: 1,
  listeners: [
    {
      name: 'ingress',
      address: '127.0.0.1:10000',
      filterChains: [
        {
          name: 'filter_chain_0',
          statPrefix: 'ingress_http',
          routeConfig: 'local_route',
          httpFilters: ['lua_filter_with_custom_name_0', 'envoy.filters.http.cors', 'envoy.filters.http.router'],
          ...(details && {
            httpFilterDetails: [
              { name: 'lua_filter_with_custom_name_0', typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua', modelled: false },
              { name: 'envoy.filters.http.cors', typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors', modelled: true },
              { name: 'envoy.filters.http.router', modelled: true },
            ],
          }),
        },
      ],
    },
  ],
  routeConfigs: [{ name: 'local_route', virtualHosts: [] }],
  clusters: [],
});

describe('topology: HTTP filters ProxyScope does not model', () => {
  it('marks them on the filters node, so the view draws them dashed and labelled "not modelled"', () => {
    const node = layoutTopology(topology(true), { hosts: [], routeClusters: [] }).byId.get(nodeId.filters('ingress', 'filter_chain_0'))!;
    expect(node.filters).toEqual(['lua_filter_with_custom_name_0', 'envoy.filters.http.cors', 'envoy.filters.http.router']);
    expect(node.modelled).toEqual([false, true, true]);
  });

  it('treats every filter as modelled in a trace from before the details were recorded', () => {
    const node = layoutTopology(topology(false), { hosts: [], routeClusters: [] }).byId.get(nodeId.filters('ingress', 'filter_chain_0'))!;
    expect(node.modelled).toEqual([true, true, true]);
  });
});
