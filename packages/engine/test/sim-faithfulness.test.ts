/**
 * Faithfulness: a simulated run makes the same decisions as a live run on real sockets,
 * for the same scripted upstream behaviour. Per fault kind (503s then 200, a reset after
 * the response head, a refused connect, a hang until the per-try timeout, a slow body),
 * one config text drives both: live, the engine on the node transport and the real clock
 * with scripted servers on 127.0.0.1; simulated, the same engine on SimClock/SimNetwork
 * with a SimHost at each of those addresses. The requests must get the same status,
 * response flags, hosts (every pick, in order) and attempt count, the client must see the
 * same thing, every host the same number of requests, and every counter and gauge the
 * same value (bytes aside). Each case runs with a connection per request and with one
 * keep-alive connection, plus the cases where the retries run out and where the client
 * gives up first. Times differ between the runs; decisions must not.
 */
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '@proxyscope/protocol';
import type { StreamInfo } from '../src/http/stream-info';
import { Simulation } from '../src/sim/simulation';
import type { ClientResult } from '../src/sim/traffic';
import type { HostBehaviour, Scenario } from '../src/sim/scenario-types';
import { PREVIOUS_HOSTS_PREDICATE, PREVIOUS_HOSTS_PREDICATE_TYPE } from '../src/config/schema';
import {
  BODY_BYTES,
  counters,
  decisions,
  loadConfig,
  runLive,
  startScriptedHost,
  type ClientView,
  type Downstream,
  type HostScript,
  type LiveHost,
  type RunRecord,
} from './support/live-world';

const SEED = 7;
const REQUESTS = 4;
const AUTHORITY = 'faithful.example.com';
/** virtual ms between the simulated requests: longer than any of them takes, so they never overlap */
const GAP = 2000;

/** Each host's two faces: the live script and the simulated behaviour it stands for. */
interface FaultHost {
  live: HostScript;
  sim: HostBehaviour;
}

const ok: FaultHost = { live: { kind: 'ok' }, sim: {} };

interface ClientOptions {
  downstream: Downstream;
  /** the client gives up this long after sending */
  timeoutMs?: number;
}

interface RouteOptions {
  retry_on: string;
  num_retries: number;
  per_try_timeout?: string;
  /** the route's timeout (Envoy's default 15 s when absent) */
  timeout?: string;
}

/** One listener on an ephemeral port, one route with a retry policy that skips hosts already tried, one ROUND_ROBIN cluster. */
function configYaml(ports: readonly number[], route: RouteOptions): string {
  const { retry_on, num_retries, per_try_timeout, timeout } = route;
  return stringify({
    static_resources: {
      listeners: [
        {
          name: 'ingress',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress_http',
                    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
                    route_config: {
                      name: 'local_route',
                      virtual_hosts: [
                        {
                          name: 'all',
                          domains: ['*'],
                          routes: [
                            {
                              name: 'all',
                              match: { prefix: '/' },
                              route: {
                                cluster: 'backend',
                                ...(timeout && { timeout }),
                                retry_policy: {
                                  retry_on,
                                  num_retries,
                                  ...(per_try_timeout && { per_try_timeout }),
                                  retry_host_predicate: [{ name: PREVIOUS_HOSTS_PREDICATE, typed_config: { '@type': PREVIOUS_HOSTS_PREDICATE_TYPE } }],
                                  host_selection_retry_max_attempts: 5,
                                },
                              },
                            },
                          ],
                        },
                      ],
                    },
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'backend',
          type: 'STATIC',
          connect_timeout: '1s',
          lb_policy: 'ROUND_ROBIN',
          load_assignment: {
            cluster_name: 'backend',
            endpoints: [{ lb_endpoints: ports.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })) }],
          },
        },
      ],
    },
  });
}

/** N requests, one every GAP virtual ms, connecting as the live client does. */
function scenario(hosts: ReadonlyArray<{ port: number; behaviour: HostBehaviour }>, client: ClientOptions): Scenario {
  const stop = (REQUESTS - 1) * GAP + GAP / 2;
  return {
    name: 'faithfulness',
    duration: stop,
    grace: 30_000,
    defaults: { responseBytes: { kind: 'constant', value: BODY_BYTES } },
    hosts: hosts.map(({ port, behaviour }) => ({ select: { host: `127.0.0.1:${port}` }, behaviour })),
    dns: [],
    traffic: [
      {
        name: 'client',
        arrivals: { kind: 'burst', count: 1, every: GAP },
        connection: client.downstream,
        ...(client.timeoutMs !== undefined && { timeout: client.timeoutMs }),
        maxConnections: 1,
        start: 0,
        stop,
        mix: [{ weight: 1, method: 'GET', authority: AUTHORITY, path: '/', headers: [] }],
      },
    ],
    timeline: [],
    expect: [],
    networkLatency: 0,
    series: false,
  };
}

async function runSim(yaml: string, hosts: ReadonlyArray<{ port: number; behaviour: HostBehaviour }>, client: ClientOptions): Promise<RunRecord> {
  const events: TraceEvent[] = [];
  const sim = new Simulation({ config: loadConfig(yaml), scenario: scenario(hosts, client), seed: SEED, sink: (event) => events.push(event) });
  // The simulation owns the engine's onStreamComplete and the clients: listen in where it feeds its ledger.
  const streams: StreamInfo[] = [];
  const results: ClientResult[] = [];
  const ledger = sim.ledger;
  const onStream = ledger.onStream.bind(ledger);
  const onClient = ledger.onClient.bind(ledger);
  ledger.onStream = (info, id) => {
    streams.push(info);
    onStream(info, id);
  };
  ledger.onClient = (result) => {
    results.push(result);
    onClient(result);
  };
  const summary = await sim.run();
  expect(summary.sent).toBe(REQUESTS);
  // The run ends with the last answer; let the closes that follow it land, as the live run waits for them.
  sim.clock.runUntil(sim.now() + GAP);
  expect(sim.engine.stats.valueOf('http.ingress_http.downstream_cx_active') ?? 0).toBe(0);
  results.sort((a, b) => a.id - b.id);
  // One at a time, as the live client sends them: each was answered before the next left.
  for (const r of results) expect(r.latencyMs).toBeLessThan(GAP);
  const clients: ClientView[] = results.map((r) =>
    r.outcome === 'response' ? { client: 'response', clientStatus: r.status } : { client: r.outcome === 'timeout' ? 'timeout' : 'reset', clientStatus: 0 },
  );
  const hostRequests: Record<number, number> = {};
  for (const { port } of hosts) hostRequests[port] = sim.hosts.find((h) => h.selectors.includes(`127.0.0.1:${port}`))!.counts.requests;
  return { requests: decisions(streams, events, clients), stats: counters(sim.engine.stats), hostRequests };
}

/** Starts the live hosts, writes the config with their ports, runs it live and simulated. */
async function bothWays(client: ClientOptions, faultHosts: readonly FaultHost[], route: RouteOptions): Promise<{ live: RunRecord; sim: RunRecord }> {
  const { downstream, timeoutMs } = client;
  const live: LiveHost[] = [];
  for (const host of faultHosts) live.push(await startScriptedHost(host.live));
  const ports = live.map((h) => h.port);
  const yaml = configYaml(ports, route);
  const liveRecord = await runLive(yaml, live, { seed: SEED, requests: REQUESTS, authority: AUTHORITY, downstream, ...(timeoutMs !== undefined && { clientTimeoutMs: timeoutMs }) });
  const simRecord = await runSim(
    yaml,
    faultHosts.map((h, i) => ({ port: ports[i]!, behaviour: h.sim })),
    client,
  );
  // The live client connected as meant: a connection per request, or fewer connections than requests.
  const connections = liveRecord.stats['http.ingress_http.downstream_cx_total'] ?? 0;
  if (downstream === 'per_request') expect(connections).toBe(REQUESTS);
  else expect(connections).toBeLessThan(REQUESTS);
  return { live: liveRecord, sim: simRecord };
}

const stat = (record: RunRecord, name: string): number => record.stats[`cluster.backend.${name}`] ?? 0;

describe.each<Downstream>(['per_request', 'keep_alive'])('downstream connections: %s', (downstream) => {
  describe('a simulated run decides as a live run does', () => {
    it('503s then 200: two hosts always answer 503, retries move on to the third', async () => {
      const always503: FaultHost = { live: { kind: 'status', status: 503 }, sim: { errors: [{ status: 503, rate: 1 }] } };
      const { live, sim } = await bothWays({ downstream }, [always503, always503, ok], { retry_on: '5xx', num_retries: 2 });
      // The live run met the fault: otherwise agreeing would prove nothing.
      expect(stat(live, 'upstream_rq_retry')).toBeGreaterThan(0);
      expect(stat(live, 'retry.upstream_rq_503')).toBeGreaterThan(0);
      expect(live.requests.every((r) => r.clientStatus === 200)).toBe(true);
      expect(sim.requests).toEqual(live.requests);
      expect(sim.hostRequests).toEqual(live.hostRequests);
      expect(sim.stats).toEqual(live.stats);
    });

    it('reset: one host sends its response head, then a TCP RST; the response has started, so no retry', async () => {
      const resetting: FaultHost = { live: { kind: 'reset-after-headers' }, sim: { resets: [{ rate: 1, after: 'headers' }] } };
      const { live, sim } = await bothWays({ downstream }, [resetting, ok, ok], { retry_on: 'reset,5xx', num_retries: 1 });
      expect(stat(live, 'upstream_rq_rx_reset')).toBeGreaterThan(0);
      expect(live.requests.some((r) => r.client === 'reset')).toBe(true);
      expect(sim.requests).toEqual(live.requests);
      expect(sim.hostRequests).toEqual(live.hostRequests);
      expect(sim.stats).toEqual(live.stats);
    });

    it('reset before the response: one host resets the connection on each request; retry_on reset sends it to another host', async () => {
      const resetting: FaultHost = { live: { kind: 'reset-before-response' }, sim: { resets: [{ rate: 1, after: 'request' }] } };
      const { live, sim } = await bothWays({ downstream }, [ok, resetting, ok], { retry_on: 'reset', num_retries: 1 });
      expect(stat(live, 'upstream_rq_retry_success')).toBeGreaterThan(0);
      expect(live.requests.every((r) => r.client === 'response' && r.clientStatus === 200)).toBe(true);
      expect(sim.requests).toEqual(live.requests);
      expect(sim.hostRequests).toEqual(live.hostRequests);
      expect(sim.stats).toEqual(live.stats);
    });

    it('refuse: nothing listens on one host; the connect failure is retried on another host', async () => {
      const refusing: FaultHost = { live: { kind: 'refuse' }, sim: { refuse: true } };
      const { live, sim } = await bothWays({ downstream }, [ok, refusing, ok], { retry_on: 'connect-failure', num_retries: 1 });
      expect(stat(live, 'upstream_cx_connect_fail')).toBeGreaterThan(0);
      expect(stat(live, 'upstream_rq_retry_success')).toBeGreaterThan(0);
      expect(sim.requests).toEqual(live.requests);
      expect(sim.hostRequests).toEqual(live.hostRequests);
      expect(sim.stats).toEqual(live.stats);
    });

    it('hang: one host never answers; the per-try timeout fires and the retry goes elsewhere', async () => {
      const hanging: FaultHost = { live: { kind: 'hang' }, sim: { hangRate: 1 } };
      const { live, sim } = await bothWays({ downstream }, [hanging, ok, ok], { retry_on: '5xx', num_retries: 1, per_try_timeout: '0.2s', timeout: '5s' });
      expect(stat(live, 'upstream_rq_per_try_timeout')).toBeGreaterThan(0);
      expect(stat(live, 'upstream_rq_retry')).toBeGreaterThan(0);
      expect(sim.requests).toEqual(live.requests);
      expect(sim.hostRequests).toEqual(live.hostRequests);
      expect(sim.stats).toEqual(live.stats);
    });

    it('slow body: one host sends its head at once and its body after the route timeout; the request times out mid-response', async () => {
      const slow: FaultHost = { live: { kind: 'slow-body', bodyDelayMs: 800 }, sim: { bodyTime: { kind: 'constant', value: 800 } } };
      const { live, sim } = await bothWays({ downstream }, [ok, slow, ok], { retry_on: '5xx', num_retries: 1, timeout: '0.3s' });
      expect(stat(live, 'upstream_rq_timeout')).toBeGreaterThan(0);
      expect(sim.requests).toEqual(live.requests);
      expect(sim.hostRequests).toEqual(live.hostRequests);
      expect(sim.stats).toEqual(live.stats);
    });
  });

  describe('when the client gives up first, the simulated run sees it as the live run does', () => {
    it('a host never answers and nothing times out in the proxy; the client leaves after 200 ms: DC', async () => {
      const hanging: FaultHost = { live: { kind: 'hang' }, sim: { hangRate: 1 } };
      const { live, sim } = await bothWays({ downstream, timeoutMs: 200 }, [hanging, ok], { retry_on: '5xx', num_retries: 1 });
      expect(live.requests.some((r) => r.client === 'timeout' && r.flags === 'DC')).toBe(true);
      expect(sim.requests).toEqual(live.requests);
      expect(sim.hostRequests).toEqual(live.hostRequests);
      expect(sim.stats).toEqual(live.stats);
    });
  });

  describe('when the retries run out, the simulated run gives up as the live run does', () => {
    it('503s: two of three hosts answer 503 and one retry is allowed, so some requests end in 503 with URX', async () => {
      const always503: FaultHost = { live: { kind: 'status', status: 503 }, sim: { errors: [{ status: 503, rate: 1 }] } };
      const { live, sim } = await bothWays({ downstream }, [always503, always503, ok], { retry_on: '5xx', num_retries: 1 });
      expect(live.requests.some((r) => r.clientStatus === 503 && r.flags === 'URX')).toBe(true);
      expect(sim.requests).toEqual(live.requests);
      expect(sim.hostRequests).toEqual(live.hostRequests);
      expect(sim.stats).toEqual(live.stats);
    });

    it('refuse: two of three hosts refuse, so some requests end in 503 with UF', async () => {
      const refusing: FaultHost = { live: { kind: 'refuse' }, sim: { refuse: true } };
      const { live, sim } = await bothWays({ downstream }, [refusing, ok, refusing], { retry_on: 'connect-failure', num_retries: 1 });
      expect(live.requests.some((r) => r.clientStatus === 503 && r.flags.includes('UF'))).toBe(true);
      expect(sim.requests).toEqual(live.requests);
      expect(sim.hostRequests).toEqual(live.hostRequests);
      expect(sim.stats).toEqual(live.stats);
    });

    it('hang: two of three hosts never answer, so some requests time out on both tries and end in 504 with UT', async () => {
      const hanging: FaultHost = { live: { kind: 'hang' }, sim: { hangRate: 1 } };
      const { live, sim } = await bothWays({ downstream }, [hanging, hanging, ok], { retry_on: '5xx', num_retries: 1, per_try_timeout: '0.15s', timeout: '5s' });
      expect(live.requests.some((r) => r.clientStatus === 504 && r.flags.includes('UT'))).toBe(true);
      expect(sim.requests).toEqual(live.requests);
      expect(sim.hostRequests).toEqual(live.hostRequests);
      expect(sim.stats).toEqual(live.stats);
    });
  });
});
