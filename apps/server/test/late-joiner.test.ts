/**
 * Every viewer sees the same state: a viewer that joins after the history ring has moved
 * on ten times over gets a snapshot before the history (hello.snapshot), and folding
 * "snapshot + history" draws the same topology, host health, pools and requests in
 * flight as a viewer that was there from the start, at the same seq. A recording that
 * starts mid-run begins with the same snapshot.
 *
 * The simulation is served paused and moved on by `sim_clock` advance, so both viewers
 * see exactly the same run; the comparison uses the web UI's own folds (the topology's
 * world and the request list's summaries).
 */
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseTraceHeader, zeroCounts, type ServerMessage, type SnapshotInfo, type TraceEvent } from '@proxyscope/protocol';
import { loadRun, parseSimulateCli } from '../src/simulate/simulate';
import { startSimulationServer } from '../src/simulate/serve';
import { EventHub } from '@proxyscope/serve';
import { readTraceFile } from '../src/recording/trace-io';
import { applyEvent, emptyWorld, type World } from '../../web/src/views/topology/world';
import { EventStoreImpl } from '../../web/src/model/event-store';
import { StatsTracker } from '../../web/src/views/stats/series';
import { tempDir, until, WsProbe } from './support/stream';
import fs from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** small, so requests in flight began before the ring's oldest event */
const HISTORY = 50;

async function serve() {
  const served = await startSimulationServer({
    run: loadRun({}),
    host: '127.0.0.1',
    port: 0,
    speed: 1,
    paused: true,
    historySize: HISTORY,
    recordDir: tempDir(),
    log: () => {},
    err: () => {},
    // every event of a run this long fits in a viewer's queue
    stream: { limits: { maxQueuedEvents: 500_000 } },
  });
  onTestFinished(() => served.close());
  return { served, wsUrl: `ws://127.0.0.1:${served.admin.port}/ws` };
}

type Ack = Extract<ServerMessage, { type: 'ack' }>;
async function advance(probe: WsProbe, id: string, ms: number): Promise<Ack> {
  const reply = await probe.request({ type: 'sim_clock', id, action: 'advance', ms });
  if (reply.type !== 'ack') throw new Error(`${id}: ${JSON.stringify(reply)}`);
  return reply;
}

/** What a viewer draws at `seq`: the topology's world, the in-flight rows of the request list, and the stats strip's totals. */
function view(events: readonly TraceEvent[], seq: number, snapshot?: SnapshotInfo) {
  const upTo = events.filter((e) => e.seq <= seq);
  const world: World = emptyWorld();
  for (const e of upTo) applyEvent(world, e);
  const store = new EventStoreImpl('simulation');
  if (snapshot) store.setSource({ snapshotSeq: snapshot.lastSeq, snapshotCounts: snapshot.counts ?? null });
  store.append(upTo);
  const at = store.length - 1;
  const tokens = [...world.requests.values()]
    .filter((r) => r.phase !== 'done')
    .map((r) => ({ stream: r.stream, phase: r.phase, vhost: r.vhost, route: r.route, cluster: r.cluster, host: r.host, attempt: r.attempt, chain: r.chain }))
    .sort((a, b) => a.stream - b.stream);
  const rows = tokens.map((t) => {
    const s = store.requestAt(t.stream, at)!;
    return { stream: t.stream, method: s.method, authority: s.authority, path: s.path, phase: s.phase, attempts: s.attempts.map((a) => [a.n, a.host, a.state]) };
  });
  const health = Object.fromEntries([...world.hosts.entries()].filter(([, h]) => h.health !== undefined).map(([k, h]) => [k, h.health]));
  const pools = Object.fromEntries(
    [...world.pools.entries()].filter(([, p]) => p.clients.size > 0 || p.pending > 0).map(([k, p]) => [k, { pending: p.pending, clients: [...p.clients.entries()].sort((a, b) => a[0] - b[0]) }]),
  );
  const totals = new StatsTracker().at(store, store.length - 1).totals;
  return { tokens, rows, health, pools, connections: [...world.connections].sort(), totals, store };
}

describe('a late joiner', () => {
  it('draws what a viewer there from the start draws, at the same seq, after 10x the history has gone by', async () => {
    const { served, wsUrl } = await serve();
    const early = await WsProbe.connect(wsUrl);
    await early.next('history_end', 0);
    // Odd steps, so the clock stops with requests in flight.
    for (let i = 0; served.hub.received < 20_000; i++) await advance(early, `a${i}`, 997);
    const last = served.hub.lastFlushedSeq;
    await until('the early viewer has every event', () => early.events.at(-1)?.seq === last, 10_000);

    const late = await WsProbe.connect(wsUrl);
    const hello = await late.next('hello', 0);
    const end = await late.next('history_end', 0);
    const seq = end.lastSeq;
    expect(seq).toBe(last);
    // The ring holds only the last HISTORY events; the snapshot carries what came before and is still alive.
    expect(hello.history.events).toBe(HISTORY);
    expect(hello.snapshot?.events).toBeGreaterThan(0);
    expect(hello.snapshot!.lastSeq).toBeLessThan(hello.history.firstSeq!);
    expect(late.events.length).toBe(hello.snapshot!.events + HISTORY);
    // The web UI connects with subscribe=none and subscribes after: the ack says the same.
    const page = await WsProbe.connect(`${wsUrl}?subscribe=none`);
    const quiet = await page.next('hello', 0);
    expect(quiet.snapshot).toBeUndefined();
    const subscribed = await page.request({ type: 'subscribe', id: 's', history: true });
    expect(subscribed.type === 'ack' && subscribed.detail?.snapshot).toEqual(hello.snapshot);
    expect(late.events.length).toBeLessThan(early.events.length / 3);

    const a = view(early.events, seq);
    const b = view(late.events, seq, hello.snapshot);
    // Something worth comparing: requests in flight, hosts with health checks, busy pools.
    expect(a.tokens.length).toBeGreaterThan(0);
    expect(Object.keys(a.health).length).toBeGreaterThan(0);
    expect(Object.keys(a.pools).length).toBeGreaterThan(0);
    // Requests that began before the ring's oldest event are among them.
    expect(a.rows.some((r) => a.store.get(a.store.eventsOfRequest(r.stream)[0]!).seq < hello.history.firstSeq!)).toBe(true);

    expect(b.tokens).toEqual(a.tokens);
    expect(b.rows).toEqual(a.rows);
    expect(b.rows.every((r) => r.method && r.path && r.authority)).toBe(true);
    expect(b.health).toEqual(a.health);
    expect(b.pools).toEqual(a.pools);
    expect(b.connections).toEqual(a.connections);
    // The stats strip: requests, statuses, retries and overflows over the whole run, most of
    // whose events the late viewer never got.
    expect(b.totals).toEqual(a.totals);
    // (from the history alone it would show only the requests the ring still holds)
    expect(view(late.events, seq, { ...hello.snapshot!, counts: undefined }).totals.rq).toBeLessThan(a.totals.rq / 3);

    // The late store knows which events came in the snapshot, and its timeline starts after them.
    const lateStore = new EventStoreImpl('simulation');
    lateStore.setSource({ snapshotSeq: hello.snapshot!.lastSeq });
    lateStore.append(late.events);
    expect(lateStore.snapshotLength()).toBe(hello.snapshot!.events);
    expect(lateStore.isSnapshot(0)).toBe(true);
    expect(lateStore.isSnapshot(lateStore.length - 1)).toBe(false);
    expect(lateStore.timeRange()[0]).toBe(late.events[hello.snapshot!.events]!.t);

    // From here on both get the same live events and stay in step.
    await advance(early, 'after', 613);
    const next = served.hub.lastFlushedSeq;
    await until('both viewers have the new events', () => early.events.at(-1)?.seq === next && late.events.at(-1)?.seq === next, 10_000);
    const a2 = view(early.events, next);
    const b2 = view(late.events, next, hello.snapshot);
    expect(b2.tokens).toEqual(a2.tokens);
    expect(b2.rows).toEqual(a2.rows);
    expect(b2.health).toEqual(a2.health);
    expect(b2.pools).toEqual(a2.pools);
    expect(b2.totals).toEqual(a2.totals);
  }, 60_000);

  it('a recording started mid-run begins with the snapshot, so the file alone draws the same state', async () => {
    const { served, wsUrl } = await serve();
    const early = await WsProbe.connect(wsUrl);
    await early.next('history_end', 0);
    for (let i = 0; served.hub.received < 20_000; i++) await advance(early, `a${i}`, 991);
    const recorder = served.recordings.start(undefined, true);
    const startedAt = served.hub.lastFlushedSeq;
    await advance(early, 'rec', 1499);
    const summary = await served.recordings.stop();
    const last = served.hub.lastFlushedSeq;
    await until('the early viewer has every event', () => early.events.at(-1)?.seq === last, 10_000);

    const header = parseTraceHeader(gunzipSync(fs.readFileSync(recorder.path)).toString('utf8').split('\n', 1)[0]!);
    expect(header.snapshot).toMatchObject({ lastSeq: startedAt });
    const recorded: TraceEvent[] = [];
    const info = await readTraceFile(recorder.path, (events) => void recorded.push(...events));
    expect(info.events).toBe(summary.events);
    expect(recorded.slice(0, header.snapshot!.events).every((e) => e.seq <= startedAt)).toBe(true);
    expect(recorded[header.snapshot!.events]!.seq).toBe(startedAt + 1);

    const a = view(early.events, last);
    const b = view(recorded, last, header.snapshot);
    expect(a.tokens.length).toBeGreaterThan(0);
    expect(b.tokens).toEqual(a.tokens);
    expect(b.rows).toEqual(a.rows);
    expect(b.health).toEqual(a.health);
    expect(b.pools).toEqual(a.pools);
    expect(b.totals).toEqual(a.totals);
    expect(path.basename(recorder.path)).toMatch(/\.ndjson\.gz$/);
  }, 60_000);

  it('a hub forgets what it folded once the tracer was detached: what moved meanwhile was not seen', () => {
    const tracer = { attach: () => {}, detach: () => {} };
    const hub = new EventHub({ tracer, historySize: 2 });
    let seq = 0;
    const ev = (actor: string, type: 'spawn' | 'stop'): TraceEvent => ({ type, seq: ++seq, t: seq, actor, machine: 'connection', ids: { cx: seq }, state: 'open' });
    const release = hub.retain();
    for (const e of [ev('cx:1', 'spawn'), ev('cx:2', 'spawn'), ev('cx:3', 'spawn'), ev('cx:4', 'spawn')]) hub.sink(e);
    hub.flush();
    // cx:1 and cx:2 left the ring: they are the snapshot, announced with the seq it stands at
    expect(hub.snapshot().map((e) => e.actor)).toEqual(['cx:1', 'cx:2']);
    expect(hub.snapshotInfo()).toEqual({ events: 2, lastSeq: 2, counts: zeroCounts() });
    expect(hub.snapshotNow().map((e) => e.actor)).toEqual(['cx:1', 'cx:2', 'cx:3', 'cx:4']);
    release();
    // Nobody watched for a while (cx:1 may have closed unseen): the old state is not offered as current.
    const again = hub.retain();
    expect(hub.snapshot()).toEqual([]);
    for (const e of [ev('cx:5', 'spawn'), ev('cx:6', 'spawn'), ev('cx:7', 'spawn')]) hub.sink(e);
    hub.flush();
    expect(hub.snapshot().map((e) => e.actor)).toEqual(['cx:5']);
    expect(hub.snapshotNow().map((e) => e.actor)).toEqual(['cx:5', 'cx:6', 'cx:7']);
    again();
    hub.close();
  });

  it('simulate --serve --history N sets the ring; it needs --serve and a count', () => {
    expect(parseSimulateCli(['--serve', '--history', '50'])).toMatchObject({ serve: true, history: 50 });
    expect(parseSimulateCli(['--serve'])).not.toHaveProperty('history');
    expect(() => parseSimulateCli(['--history', '50'])).toThrow('--history needs --serve');
    expect(() => parseSimulateCli(['--serve', '--history', 'lots'])).toThrow(/--history/);
  });
});
