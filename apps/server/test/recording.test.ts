/**
 * Recordings: started and stopped over the admin API (and --record), downloaded with
 * GET /recording, read back by the streaming reader to the same events the engine traced;
 * gzip; precise errors for truncated and corrupted files; Ctrl-C leaves a complete file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseTrace, TraceFormatError, type FactEvent, type TraceEvent } from '@proxyscope/protocol';
import { httpRequest, keepAliveAgent } from '../../../packages/engine/test/support/upstreams';
import { loadTraceFile, readTraceFile } from '../src/recording/trace-io';
import { startCli } from './support/cli-process';
import { startLive, tempDir, until } from './support/stream';

const accessLogs = (events: TraceEvent[]) => events.filter((e): e is FactEvent => e.type === 'fact' && e.fact === 'stream.access_log');
const post = (url: string) => fetch(url, { method: 'POST' });

describe('recording', () => {
  it('round-trips: POST start, requests, POST stop, GET /recording, the reader yields the events traced', async () => {
    const live = await startLive();
    const seen: TraceEvent[] = [];
    live.hub.addConsumer((events) => seen.push(...events));
    expect((await fetch(`${live.base}/recording`)).status).toBe(404);
    expect((await fetch(`${live.base}/recording/start`)).status).toBe(405);

    const started = await post(`${live.base}/recording/start`);
    expect(started.status).toBe(200);
    const { recording } = (await started.json()) as { recording: { active: boolean; file: string; gzip: boolean } };
    expect(recording).toMatchObject({ active: true, gzip: false });
    expect(path.dirname(recording.file)).toBe(live.dir);
    expect((await post(`${live.base}/recording/start`)).status).toBe(409);

    const agent = keepAliveAgent();
    for (const p of ['/r/1', '/r/2', '/r/3']) expect((await httpRequest(live.proxy.port, { path: p, agent })).status).toBe(200);
    await until('three access logs', () => accessLogs(seen).length === 3);

    const stopped = await post(`${live.base}/recording/stop`);
    const summary = ((await stopped.json()) as { recording: { events: number; dropped: number; bytes: number } }).recording;
    expect(summary.dropped).toBe(0);
    expect((await post(`${live.base}/recording/stop`)).status).toBe(409);

    const download = await fetch(`${live.base}/recording`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/x-ndjson');
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="${path.basename(recording.file)}"`);
    const body = await download.text();
    expect(body.length).toBe(summary.bytes);
    expect(body.endsWith('\n')).toBe(true);

    const { header, events } = parseTrace(body);
    expect(header).toMatchObject({ format: 'proxyscope-trace', version: 1 });
    expect(header.topology.listeners[0]!.name).toBe('ingress');
    expect(events).toHaveLength(summary.events);
    const first = events[0]!.seq;
    const last = events.at(-1)!.seq;
    // Exactly the events the engine traced over that time, field for field.
    expect(events).toEqual(JSON.parse(JSON.stringify(seen.filter((e) => e.seq >= first && e.seq <= last))));
    expect(accessLogs(events).map((e) => e.data.status)).toEqual([200, 200, 200]);
    // The file on disk reads the same through the streaming reader.
    expect((await loadTraceFile(recording.file)).events).toEqual(events);
  });

  it('records gzipped; a running gzip recording is not downloadable, a plain one is, up to its last complete line', async () => {
    const live = await startLive();
    const gz = ((await (await post(`${live.base}/recording/start?gzip=1`)).json()) as { recording: { file: string; gzip: boolean } }).recording;
    expect(gz.gzip).toBe(true);
    expect(gz.file.endsWith('.ndjson.gz')).toBe(true);
    await httpRequest(live.proxy.port, { path: '/gz' });
    expect((await fetch(`${live.base}/recording`)).status).toBe(409);
    await post(`${live.base}/recording/stop`);
    const download = await fetch(`${live.base}/recording`);
    expect(download.headers.get('content-type')).toBe('application/gzip');
    const { events } = parseTrace(gunzipSync(Buffer.from(await download.arrayBuffer())).toString('utf8'));
    expect(accessLogs(events)).toHaveLength(1);
    expect((await readTraceFile(gz.file, () => {})).gzip).toBe(true);

    await post(`${live.base}/recording/start`);
    await httpRequest(live.proxy.port, { path: '/running' });
    await until('the request in the hub', () => live.recordings.current!.events > 0 || (live.hub.flush(), false));
    const partial = await (await fetch(`${live.base}/recording`)).text();
    expect(partial.endsWith('\n')).toBe(true);
    expect(accessLogs(parseTrace(partial).events).map((e) => (e.data as { route: string }).route)).toEqual(['all']);
    await post(`${live.base}/recording/stop`);
  });

  it('the status (for stats and the UI counter) tells the live event count and file size, then the finished ones', async () => {
    const live = await startLive();
    expect(live.recordings.status()).toEqual({ active: false, events: 0, dropped: 0 });
    const started = ((await (await post(`${live.base}/recording/start`)).json()) as { recording: { file: string } }).recording;
    const recorder = live.recordings.current!;
    await recorder.synced();
    const before = live.recordings.status();
    expect(before).toMatchObject({ active: true, gzip: false, file: path.basename(started.file) });
    // the header line is already on disk
    expect(before.bytes).toBe(fs.statSync(started.file).size);
    expect(before.bytes).toBeGreaterThan(0);

    await httpRequest(live.proxy.port, { path: '/counted' });
    await until('the request recorded', () => recorder.events > before.events || (live.hub.flush(), false));
    await recorder.synced();
    const during = live.recordings.status();
    expect(during.events).toBeGreaterThan(before.events);
    expect(during.bytes).toBeGreaterThan(before.bytes!);
    expect(during.bytes).toBe(fs.statSync(started.file).size);

    const summary = ((await (await post(`${live.base}/recording/stop`)).json()) as { recording: { events: number; bytes: number } }).recording;
    expect(live.recordings.status()).toEqual({ active: false, events: summary.events, dropped: 0, bytes: summary.bytes, gzip: false, file: path.basename(started.file) });
    expect(summary.bytes).toBe(fs.statSync(started.file).size);

    // gzip: zlib would sit on the first tens of kB; the recorder pushes them out every second.
    await post(`${live.base}/recording/start?gzip=1`);
    const gz = live.recordings.current!;
    await httpRequest(live.proxy.port, { path: '/gz-counted' });
    await until('compressed events on disk', () => (live.hub.flush(), (live.recordings.status().bytes ?? 0) > 100), 3000);
    const onDisk = live.recordings.status();
    expect(onDisk).toMatchObject({ active: true, gzip: true });
    expect(onDisk.bytes).toBe(fs.statSync(gz.path).size);
    // what is on disk so far is a readable gzip prefix holding the request
    const prefix = gunzipSync(fs.readFileSync(gz.path), { finishFlush: 2 /* Z_SYNC_FLUSH */ }).toString('utf8');
    expect(prefix).toContain('/gz-counted');
    await post(`${live.base}/recording/stop`);
  });

  it('reports truncated and corrupted files with the line and field', async () => {
    const live = await startLive();
    const dir = tempDir();
    const file = path.join(dir, 'ok.ndjson');
    live.recordings.start(file);
    await httpRequest(live.proxy.port, { path: '/x' });
    await live.recordings.stop();
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.split('\n');

    const write = (name: string, content: string | Buffer) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, content);
      return p;
    };
    const errorOf = async (p: string) => {
      try {
        await readTraceFile(p, () => {});
      } catch (err) {
        expect(err).toBeInstanceOf(TraceFormatError);
        return err as TraceFormatError;
      }
      throw new Error(`${p} was read without error`);
    };

    // Cut in the middle of line 5.
    const cut = lines.slice(0, 4).join('\n') + '\n' + lines[4]!.slice(0, 20);
    expect(await errorOf(write('cut.ndjson', cut))).toMatchObject({ line: 5, message: expect.stringContaining('truncated') });
    // A correlation id of the wrong type.
    const withCx = lines.findIndex((l) => /"ids":\{[^}]*"cx":\d/.test(l));
    const bad = lines.map((l, i) => (i === withCx ? l.replace(/("ids":\{[^}]*"cx":)(\d+)/, '$1"$2"') : l)).join('\n');
    expect(await errorOf(write('bad.ndjson', bad))).toMatchObject({ line: withCx + 1, field: 'ids.cx' });
    // Not JSON on line 4.
    expect(await errorOf(write('junk.ndjson', lines.map((l, i) => (i === 3 ? '{"type":' : l)).join('\n')))).toMatchObject({ line: 4 });
    // A gzip file cut short.
    const gz = gzipSync(Buffer.from(text));
    expect(await errorOf(write('cut.ndjson.gz', gz.subarray(0, gz.length - 30)))).toMatchObject({ message: expect.stringMatching(/truncated|gzip/) });
    // Not a trace at all.
    expect(await errorOf(write('empty.ndjson', ''))).toMatchObject({ line: 1, message: expect.stringContaining('header line is missing') });
    expect(await errorOf(write('binary.ndjson', Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x0a])))).toMatchObject({ line: 1 });
  });

  it('--record FILE.gz: Ctrl-C flushes the file, ending with a complete line', async () => {
    const dir = tempDir();
    const trace = path.join(dir, 'demo.ndjson.gz');
    const cli = startCli(['--demo-port', '0', '--admin', '127.0.0.1:0', '--demo-rps', '100', '--record', trace]);
    const admin = await cli.adminUrl();
    await until('some requests', () => (cli.stdout().match(/ "GET /g)?.length ?? 0) > 5, 20_000);
    expect(cli.stdout()).toContain(`recording to ${trace}`);
    const status = await (await fetch(`${admin}/stream`)).json();
    expect(status).toMatchObject({ tracing: true, recording: { active: true } });
    expect(await cli.stop()).toBe(0);
    const raw = gunzipSync(fs.readFileSync(trace)).toString('utf8');
    expect(raw.endsWith('\n')).toBe(true);
    const { header, events } = await loadTraceFile(trace);
    expect(header.topology.listeners.map((l) => l.name)).toEqual(['ingress']);
    expect(accessLogs(events).length).toBeGreaterThan(5);
    // The shutdown's last events (the pools stopping) are in the file.
    expect(events.some((e) => e.type === 'stop' && e.machine === 'pool')).toBe(true);
  });
});
