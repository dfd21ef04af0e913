import type { Bootstrap } from '@proxyscope/engine';
import type { RequestTemplate, Scenario } from '@proxyscope/engine/sim';

/**
 * The scenario of `proxyscope simulate --config FILE` without --scenario: what a user
 * checking a config first wants to see, ordinary traffic through each of its routes. 10 s
 * of Poisson arrivals at 50 requests/s to the first HTTP listener: for every route of
 * every virtual host, one request shape (the virtual host's first domain, a wildcard
 * made concrete; the route's path or prefix), equally weighted; every host answering in
 * a few ms.
 */
export function defaultScenario(config: Bootstrap): Scenario {
  const listener = config.static_resources.listeners.find((l) => l.filter_chains.some((c) => c.hcm));
  const hcm = listener?.filter_chains.find((c) => c.hcm)?.hcm;
  const mix: RequestTemplate[] = [];
  const seen = new Set<string>();
  for (const vhost of hcm?.route_config.virtual_hosts ?? []) {
    const authority = concreteDomain(vhost.domains[0] ?? '*');
    for (const route of vhost.routes) {
      // A regex route has no one path to send; the others' own path or prefix reaches them.
      const path = route.match.path ?? route.match.prefix ?? route.match.path_separated_prefix;
      if (path === undefined) continue;
      const key = `${authority} ${path || '/'}`;
      if (seen.has(key)) continue;
      seen.add(key);
      mix.push({ weight: 1, method: 'GET', authority, path: path.startsWith('/') ? path : `/${path}`, headers: [] });
    }
  }
  if (mix.length === 0) mix.push({ weight: 1, method: 'GET', authority: 'example.com', path: '/', headers: [] });
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
            mix,
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

/** A domain a request can carry: `*` and wildcards made concrete, a `:*` port dropped. */
function concreteDomain(domain: string): string {
  if (domain === '*') return 'example.com';
  return domain.replace(/:\*$/, '').replace(/^\*\.?/, 'www.').replace(/[.-]?\*$/, '') || 'example.com';
}
