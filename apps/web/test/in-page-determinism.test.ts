import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeEventBatch, type ServerMessage, type TraceEvent } from '@proxyscope/protocol';
import { describe, expect, it } from 'vitest';
import { simulateMain } from '../../server/src/simulate/simulate';
import type { FromWorker } from '../src/inpage/in-page-run';
import { startInPageEngine } from '../src/inpage/run-core';

/**
 * The engine in the page and `proxyscope simulate` are the same run: the worker's core
 * (driven here in Node, over the same messages the page sends it) streams the very events
 * the CLI records for the same config, scenario and seed.
 */
const DEMO = path.resolve(import.meta.dirname, '../../../scenarios/demo');
const SEED = 7;

async function cliEvents(): Promise<TraceEvent[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxyscope-inpage-'));
  const file = path.join(dir, 'run.ndjson');
  try {
    const code = await simulateMain(['--seed', String(SEED), '--record', file], () => {}, () => {});
    expect(code).toBe(0);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    return lines.slice(1).map((l) => JSON.parse(l) as TraceEvent);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function inPageEvents(): Promise<{ events: TraceEvent[]; hello: ServerMessage | undefined }> {
  const events: TraceEvent[] = [];
  let hello: ServerMessage | undefined;
  let engine: Awaited<ReturnType<typeof startInPageEngine>> | undefined;
  const post = (message: FromWorker): void => {
    if (message.type !== 'frame') return;
    const m = JSON.parse(message.text) as ServerMessage;
    if (m.type === 'hello') hello = m;
    if (m.type === 'events') events.push(...decodeEventBatch(m));
    // The page reads each frame, then says so (the worker's flow control).
    queueMicrotask(() => engine?.read(message.socket, message.text.length));
  };
  engine = await startInPageEngine(
    {
      config: fs.readFileSync(path.join(DEMO, 'envoy.yaml'), 'utf8'),
      configName: 'scenarios/demo/envoy.yaml',
      scenario: fs.readFileSync(path.join(DEMO, 'scenario.yaml'), 'utf8'),
      scenarioName: 'scenarios/demo/scenario.yaml',
      seed: SEED,
      speed: 'max',
      paused: false,
    },
    post,
  );
  engine.connect(1);
  engine.message(1, JSON.stringify({ type: 'subscribe', id: 'ui-subscribe', history: true }));
  const started = engine;
  await expect.poll(() => started.sim.finished && events.length === started.hub.received, { timeout: 60_000, interval: 50 }).toBe(true);
  started.close();
  return { events, hello };
}

describe('the engine in the page', () => {
  it('streams the same events as proxyscope simulate for the same config, scenario and seed', async () => {
    const expected = await cliEvents();
    const { events, hello } = await inPageEvents();
    expect(hello).toMatchObject({ type: 'hello', mode: 'simulation', simulation: { scenario: 'demo', seed: SEED } });
    expect(expected.length).toBeGreaterThan(1000);
    expect(events.length).toBe(expected.length);
    // Event by event, so a difference names its seq.
    for (let i = 0; i < expected.length; i++) {
      if (JSON.stringify(events[i]) !== JSON.stringify(expected[i])) expect(events[i]).toEqual(expected[i]);
    }
  }, 120_000);
});

describe('a run that does not load', () => {
  it('reports the file, line and field as the CLI does', async () => {
    const run = {
      config: 'static_resources:\n  listeners: 5\n',
      configName: 'mine.yaml',
      scenario: fs.readFileSync(path.join(DEMO, 'scenario.yaml'), 'utf8'),
      scenarioName: 'scenario.yaml',
      speed: 1 as const,
      paused: true,
    };
    const failure = await startInPageEngine(run, () => {}).then(
      () => undefined,
      (e: unknown) => e as { problems?: string[] },
    );
    expect(failure?.problems?.some((p) => p.startsWith('error: mine.yaml:2') && p.includes('listeners'))).toBe(true);
  });
});
