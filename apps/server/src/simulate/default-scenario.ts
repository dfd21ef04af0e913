import type { Bootstrap } from '@proxyscope/engine';
import type { Scenario } from '@proxyscope/engine/sim';

/**
 * The scenario of `proxyscope simulate --config FILE` without --scenario: what a user
 * checking a config first wants to see, some ordinary traffic through it. 10 s of Poisson
 * arrivals at 50 requests/s to the first HTTP listener, for `/` on its first virtual
 * host's first domain (a wildcard made concrete), every host answering in a few ms.
 */
export function defaultScenario(config: Bootstrap): Scenario {
  const listener = config.static_resources.listeners.find((l) => l.filter_chains.some((c) => c.hcm));
  const hcm = listener?.filter_chains.find((c) => c.hcm)?.hcm;
  const domain = hcm?.route_config.virtual_hosts[0]?.domains[0] ?? 'example.com';
  const authority = domain === '*' ? 'example.com' : domain.replace(/^\*\.?/, 'www.').replace(/[.-]?\*$/, '').replace(/:\*$/, '') || 'example.com';
  return {
    name: 'default traffic',
    duration: 10_000,
    grace: 10_000,
    defaults: { serviceTime: { kind: 'lognormal', p50: 5, p99: 40 }, responseBytes: { kind: 'constant', value: 512 } },
    hosts: [],
    dns: [],
    traffic: listener
      ? [
          {
            name: 'default',
            listener: listener.name,
            arrivals: { kind: 'poisson', rate: 50 },
            mix: [{ weight: 1, method: 'GET', authority, path: '/', headers: [] }],
            connection: 'keep_alive',
            maxConnections: 64,
            start: 0,
            stop: 10_000,
          },
        ]
      : [],
    timeline: [],
    expect: [],
    networkLatency: 0,
    series: true,
  };
}
