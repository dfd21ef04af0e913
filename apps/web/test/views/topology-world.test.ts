import { describe, expect, it } from 'vitest';
import { layoutTopology, nodeId } from '../../src/views/topology/layout';
import { tokenPlace } from '../../src/views/topology/positions';
import { CatalogTracker } from '../../src/views/topology/catalog';
import { WorldTracker, type World } from '../../src/views/topology/world';
import { ArrayStore, indexOf, loadFixture } from './test-store';

const store = loadFixture();
const catalog = new CatalogTracker().update(store);
const layout = layoutTopology(store.topology!, { hosts: catalog.hosts, routeClusters: catalog.routeClusters });
const at = (cursor: number) => new WorldTracker().at(store, cursor);
const find = (stream: number, pred: (e: ReturnType<typeof store.get>) => boolean) => indexOf(store, (e) => e.ids.stream === stream && pred(e));
const placeOf = (w: World, stream: number) => tokenPlace(w.requests.get(stream)!, layout);

describe('world at the cursor: a request token follows its phase', () => {
  // stream 27 is a POST /api/cart whose first attempt got a 503 and was retried on another host
  const s = 27;
  const spawn = find(s, (e) => e.machine === 'stream' && e.type === 'spawn');
  const routeMatch = find(s, (e) => e.type === 'fact' && e.fact === 'route.match');
  const pending1 = find(s, (e) => e.machine === 'upstream_request' && e.type === 'spawn');
  const sending1 = find(s, (e) => e.machine === 'upstream_request' && e.type === 'transition' && e.to === 'sending');
  const backoff = find(s, (e) => e.machine === 'router' && e.type === 'transition' && e.to === 'retry_backoff');
  const attempt2 = find(s, (e) => e.machine === 'upstream_request' && e.type === 'spawn' && e.actor.endsWith('upstream:2'));
  const encoding = find(s, (e) => e.machine === 'stream' && e.type === 'transition' && e.to === 'encoding_headers');
  const accessLog = find(s, (e) => e.type === 'fact' && e.fact === 'stream.access_log');
  const host1 = store.get(pending1).ids.host!;
  const host2 = store.get(attempt2).ids.host!;

  it('is not there before its stream spawns', () => {
    expect(at(spawn - 1).requests.has(s)).toBe(false);
  });
  it('enters through the HTTP filters', () => {
    expect(placeOf(at(spawn), s)).toEqual({ node: nodeId.filters('ingress', 'filter_chain_0'), slot: 'main' });
  });
  it('moves to its route once matched', () => {
    expect(placeOf(at(routeMatch), s).node).toBe(nodeId.route('shop_routes', 'shop', 'api'));
  });
  it('waits in the host pool queue, then rides a connection', () => {
    expect(placeOf(at(pending1), s)).toEqual({ node: nodeId.host('api', host1), slot: 'queue' });
    expect(at(pending1).pools.get(`worker:0/pool:api/${host1}`)!.pending).toBeGreaterThanOrEqual(1);
    expect(placeOf(at(sending1), s)).toEqual({ node: nodeId.host('api', host1), slot: 'conn' });
  });
  it('parks at the router during the retry back-off, coloured by the failed attempt', () => {
    const w = at(backoff);
    expect(w.requests.get(s)!.phase).toBe('backoff');
    expect(w.requests.get(s)!.status).toBe(503);
    expect(placeOf(w, s).node).toBe(nodeId.route('shop_routes', 'shop', 'api'));
  });
  it('retries on another host', () => {
    expect(host2).not.toBe(host1);
    const w = at(attempt2);
    expect(w.requests.get(s)!.attempt).toBe(2);
    expect(placeOf(w, s).node).toBe(nodeId.host('api', host2));
  });
  it('goes back through the encoder filters and ends at the downstream with its status', () => {
    expect(placeOf(at(encoding), s).node).toBe(nodeId.filters('ingress', 'filter_chain_0'));
    const w = at(accessLog);
    expect(w.requests.get(s)!.phase).toBe('done');
    expect(w.requests.get(s)!.status).toBe(200);
    expect(placeOf(w, s).node).toBe('downstream');
  });
  it('counts the first host as failing after its 503', () => {
    const w = at(backoff);
    expect(w.hosts.get(`api/${host1}`)!.consecutiveFailures).toBeGreaterThan(0);
  });
});

describe('local replies end where they happened', () => {
  it('a request to an unknown host ends at the filters with 404 NR', () => {
    const stop = indexOf(store, (e) => e.ids.stream === 26 && e.type === 'fact' && e.fact === 'stream.access_log');
    const r = at(stop).requests.get(26)!;
    expect(r.status).toBe(404);
    expect(r.flags).toBe('NR');
    expect(tokenPlace(r, layout).node).toBe(nodeId.filters('ingress', 'filter_chain_0'));
  });
  it('a finished request disappears once its linger is over', () => {
    const stop = indexOf(store, (e) => e.ids.stream === 1 && e.machine === 'stream' && e.type === 'stop');
    const later = indexOf(store, (e) => e.t > store.get(stop).t + 1000);
    expect(at(stop).requests.has(1)).toBe(true);
    expect(at(later).requests.has(1)).toBe(false);
  });
});

describe('WorldTracker', () => {
  it('gives the same world moving forward step by step, jumping, and moving back', () => {
    const tracker = new WorldTracker();
    const target = Math.floor(store.length * 0.7);
    for (let i = 0; i <= target; i += 7) tracker.at(store, i);
    const stepped = summarise(tracker.at(store, target));
    const back = summarise(tracker.at(store, store.length - 1) && tracker.at(store, target));
    expect(stepped).toEqual(summarise(at(target)));
    expect(back).toEqual(stepped);
  });
  it('picks up appended events without starting over, and restarts when the store is replaced', () => {
    const all = loadFixture();
    const events = Array.from({ length: all.length }, (_, i) => all.get(i));
    const live = new ArrayStore(all.topology, events.slice(0, 100));
    const tracker = new WorldTracker();
    tracker.at(live, 99);
    live.append(...events.slice(100));
    expect(summarise(tracker.at(live, live.length - 1))).toEqual(summarise(new WorldTracker().at(all, all.length - 1)));
    const other = new ArrayStore(all.topology, events.slice(0, 50));
    expect(tracker.at(other, 49).index).toBe(49);
  });
});

function summarise(w: World) {
  return {
    index: w.index,
    requests: [...w.requests.values()].map((r) => [r.stream, r.phase, r.host, r.status]).sort(),
    pools: [...w.pools.values()].map((p) => [p.key, p.pending, [...p.clients.entries()].sort()]).sort(),
    hosts: [...w.hosts.values()].map((h) => [h.cluster, h.host, h.health, h.consecutiveFailures]).sort(),
  };
}
