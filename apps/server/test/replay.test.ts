/**
 * `proxyscope replay FILE`: a recorded trace served over the same WebSocket protocol in
 * mode "replay" (hello with the trace's topology, every event as history, history_end),
 * GET /trace for the file, controls refused, bounded memory for a client that reads slowly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ENGINE_VERSION } from '@proxyscope/engine';
import { TRACE_FORMAT, TRACE_FORMAT_VERSION, TraceFormatError, TraceStreamWriter, type TraceEvent } from '@proxyscope/protocol';
import { httpRequest, keepAliveAgent } from '../../../packages/engine/test/support/upstreams';
import { loadTraceFile } from '../src/recording/trace-io';
import { startReplay } from '../src/replay';
import { runCli, startCli } from './support/cli-process';
import { startLive, tempDir, until, WsProbe } from './support/stream';

async function recordedTrace(): Promise<string> {
  const live = await startLive();
  const file = path.join(tempDir(), 'recorded.ndjson');
  live.recordings.start(file);
  const agent = keepAliveAgent();
  for (const p of ['/one', '/two', '/three']) await httpRequest(live.proxy.port, { path: p, agent });
  await live.recordings.stop();
  return file;
}

async function replay(file: string, limits?: Parameters<typeof startReplay>[0]['limits']) {
  const running = await startReplay({ file, host: '127.0.0.1', port: 0, limits });
  onTestFinished(() => running.close());
  return { ...running, wsUrl: `ws://127.0.0.1:${running.admin.port}/ws`, base: `http://127.0.0.1:${running.admin.port}` };
}

describe('proxyscope replay', () => {
  it('serves hello (mode replay) and the whole trace as history, then history_end', async () => {
    const file = await recordedTrace();
    const trace = await loadTraceFile(file);
    const r = await replay(file);
    const probe = await WsProbe.connect(r.wsUrl);
    const hello = await probe.next('hello', 0);
    expect(hello).toMatchObject({
      mode: 'replay',
      engineVersion: trace.header.engineVersion,
      startedAt: trace.header.startedAt,
      topology: trace.header.topology,
      controls: [],
      history: { events: trace.events.length, firstSeq: trace.events[0]!.seq, lastSeq: trace.events.at(-1)!.seq },
      trace: { file: 'recorded.ndjson', events: trace.events.length },
    });
    const end = await probe.next('history_end', 0);
    expect(end).toEqual({ type: 'history_end', events: trace.events.length, lastSeq: trace.events.at(-1)!.seq });
    expect(probe.events).toEqual(trace.events);
    expect(probe.of('events').every((m) => m.history)).toBe(true);

    // Nothing to control in a replay; the connection goes on.
    expect(await probe.request({ type: 'control', id: 'c', action: 'drain_listeners' })).toMatchObject({ type: 'error', code: 'not_supported', id: 'c' });
    expect(await probe.request({ type: 'send_request', id: 's', method: 'GET', authority: 'a.example', path: '/' })).toMatchObject({ type: 'error', code: 'not_supported', id: 's' });
    expect(await probe.request({ type: 'host_fault', id: 'h', host: 'web-2', fault: { down: true } })).toMatchObject({ type: 'error', code: 'not_supported', id: 'h' });
    expect(await probe.request({ type: 'step', id: 'st', stream: 1 })).toMatchObject({ type: 'error', code: 'not_supported', id: 'st', message: expect.stringContaining('move the time cursor') });
    expect(await probe.request({ type: 'breakpoints', id: 'bp', breakpoints: [] })).toMatchObject({ type: 'error', code: 'not_supported', id: 'bp' });
    expect(hello.hosts).toBeUndefined();
    expect(hello.limits.sendRequest).toBeUndefined();
    // A new subscription with history replays the trace through it.
    const from = probe.events.length;
    const fromMessage = probe.messages.length;
    await probe.request({ type: 'subscribe', id: 'routers', filter: { machines: ['router'] }, history: true });
    await probe.next('history_end', fromMessage);
    expect(probe.events.slice(from)).toEqual(trace.events.filter((e) => e.machine === 'router'));

    // The admin side: the file, and what is being replayed.
    const download = await fetch(`${r.base}/trace`);
    expect(download.headers.get('content-disposition')).toBe('attachment; filename="recorded.ndjson"');
    expect(Buffer.from(await download.arrayBuffer()).equals(fs.readFileSync(file))).toBe(true);
    expect(await (await fetch(`${r.base}/ready`)).text()).toBe('REPLAY\n');
    expect(await (await fetch(`${r.base}/server_info`)).json()).toMatchObject({ mode: 'replay', trace: { file: 'recorded.ndjson', events: trace.events.length } });
  });

  it('reads a big trace at the pace of a slow client: bounded queue, nothing dropped', async () => {
    const file = path.join(tempDir(), 'big.ndjson');
    const out = fs.openSync(file, 'w');
    const writer = new TraceStreamWriter((chunk) => fs.writeSync(out, chunk));
    writer.writeHeader({ format: TRACE_FORMAT, version: TRACE_FORMAT_VERSION, engineVersion: ENGINE_VERSION, startedAt: new Date().toISOString(), topology: { workers: 1, listeners: [], routeConfigs: [], clusters: [] } });
    // ~10 MB of events: more than the kernel's socket buffers take from a client that does not read.
    const total = 25_000;
    const pad = 'p'.repeat(400);
    for (let seq = 1; seq <= total; seq += 1000) {
      const batch: TraceEvent[] = [];
      for (let i = seq; i < seq + 1000; i++) {
        batch.push({ type: 'fact', seq: i, t: i / 10, actor: `listener:l/cx:1/stream:${i >> 5}`, machine: 'stream', ids: { cx: 1, stream: i >> 5 }, fact: 'filter.custom', data: { i, pad } });
      }
      writer.writeEvents(batch);
    }
    fs.closeSync(out);

    const r = await replay(file, { maxQueuedEvents: 2000, maxBufferedBytes: 64 * 1024 });
    const probe = await WsProbe.connect(r.wsUrl);
    await probe.next('hello', 0);
    probe.stall();
    const [client] = [...(await until('the server side of the client', () => r.stream.clients.size > 0 && r.stream.clients))];
    let maxQueued = 0;
    for (let i = 0; i < 40; i++) {
      await new Promise((res) => setTimeout(res, 10));
      maxQueued = Math.max(maxQueued, client!.queuedEvents);
    }
    expect(maxQueued).toBeLessThanOrEqual(client!.limits.maxQueuedEvents);
    expect(client!.sentEvents + client!.queuedEvents).toBeLessThan(total);
    probe.resume();
    await probe.next('history_end', 0, 20_000);
    expect(client!.droppedTotal).toBe(0);
    expect(probe.events).toHaveLength(total);
    expect(probe.events.at(-1)!.seq).toBe(total);
  });

  it('refuses a bad trace with its line and field; the CLI exits 3', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.ndjson');
    fs.writeFileSync(file, `{"format":"proxyscope-trace","version":1,"engineVersion":"0","startedAt":"x","topology":{"workers":1,"listeners":[],"routeConfigs":[],"clusters":[]}}\n{"type":"spawn","seq":1,"t":0,"actor":"a","machine":"toaster","ids":{},"state":"s"}\n`);
    await expect(startReplay({ file, host: '127.0.0.1', port: 0 })).rejects.toMatchObject({ line: 2, field: 'machine' });
    await expect(startReplay({ file, host: '127.0.0.1', port: 0 })).rejects.toBeInstanceOf(TraceFormatError);

    const cli = await runCli(['replay', file, '--admin', '127.0.0.1:0']);
    expect(cli.code).toBe(3);
    expect(cli.stderr).toContain(`${file}: line 2, field machine`);
  });

  it('runs from the command line until Ctrl-C', async () => {
    const file = await recordedTrace();
    const help = await runCli(['replay', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('proxyscope replay FILE');

    const cli = startCli(['replay', file, '--admin', '127.0.0.1:0']);
    const [, ws] = await cli.waitForOutput(/stream\s+(ws:\/\/\S+)/);
    const probe = await WsProbe.connect(ws!);
    expect((await probe.next('hello', 0)).mode).toBe('replay');
    await probe.next('history_end', 0);
    expect(await cli.stop()).toBe(0);
  });
});
