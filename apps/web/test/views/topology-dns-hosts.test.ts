import type { TraceEvent, Topology } from '@proxyscope/protocol';
import { describe, expect, it } from 'vitest';
import { CatalogTracker } from '../../src/views/topology/catalog';
import { layoutTopology, nodeId } from '../../src/views/topology/layout';
import { WorldTracker } from '../../src/views/topology/world';
import { ArrayStore } from './test-store';

/**
 * A STRICT_DNS cluster starts with no hosts; its `cluster.hosts_changed` facts are the
 * only place the topology learns which hosts it has now.
 */

const topology: Topology = {
  workers: 1,
  listeners: [],
  routeConfigs: [],
  clusters: [{ name: 'backend', type: 'STRICT_DNS', lbPolicy: 'ROUND_ROBIN', hosts: [] }],
};

let seq = 0;
const hostsChanged = (t: number, added: string[], removed: string[]): TraceEvent => ({
  type: 'fact',
  seq: ++seq,
  t,
  actor: 'cluster:backend/dns:service1:8080',
  machine: 'dns_resolution',
  ids: { cluster: 'backend' },
  fact: 'cluster.hosts_changed',
  data: { cluster: 'backend', hostname: 'service1', added, removed, hosts: added },
});

describe('topology of a DNS cluster', () => {
  const store = new ArrayStore(topology, [hostsChanged(5000, ['10.0.0.1:8080', '10.0.0.2:8080'], []), hostsChanged(10_000, ['10.0.0.3:8080'], ['10.0.0.1:8080'])]);

  it('draws every host an answer ever added', () => {
    const catalog = new CatalogTracker().update(store);
    const layout = layoutTopology(topology, { hosts: catalog.hosts, routeClusters: catalog.routeClusters });
    const ids = new Set(layout.nodes.map((n) => n.id));
    for (const host of ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']) expect(ids.has(nodeId.host('backend', host))).toBe(true);
  });

  it('marks a host removed from the cursor on, and not before', () => {
    const before = new WorldTracker().at(store, 0);
    expect(before.hosts.get('backend/10.0.0.1:8080')?.removed).toBe(false);
    const after = new WorldTracker().at(store, 1);
    expect(after.hosts.get('backend/10.0.0.1:8080')?.removed).toBe(true);
    expect(after.hosts.get('backend/10.0.0.3:8080')?.removed).toBe(false);
  });
});
