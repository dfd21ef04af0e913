/**
 * A simulation's clock as the page's views start from it: a view that mounts after hello
 * (the header's clock, the lesson player) must not show a run at max speed as still going
 * once its last `clock` message has passed. The connection remembers the last clock.
 * Driven over the in-page engine's core in Node, with a socket as the page's worker gives.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FromWorker } from '../src/inpage/in-page-run';
import { startInPageEngine, type InPageEngine } from '../src/inpage/run-core';
import { LiveConnection, type StreamSocketLike } from '../src/net/live-connection';

const SCENARIOS = path.resolve(import.meta.dirname, '../../../scenarios');

describe('the last simulation clock', () => {
  it('is the finished clock once a run at max speed is over, whenever a view asks', async () => {
    let engine: InPageEngine | undefined;
    let socket: (StreamSocketLike & { frame(text: string): void }) | undefined;
    const post = (message: FromWorker) => {
      if (message.type !== 'frame') return;
      socket?.frame(message.text);
      queueMicrotask(() => engine?.read(message.socket, message.text.length));
    };
    engine = await startInPageEngine(
      {
        config: fs.readFileSync(path.join(SCENARIOS, 'retries-previous-hosts/envoy.yaml'), 'utf8'),
        configName: 'envoy.yaml',
        scenario: fs.readFileSync(path.join(SCENARIOS, 'retries-previous-hosts/scenario.yaml'), 'utf8'),
        scenarioName: 'scenario.yaml',
        speed: 'max',
        paused: false,
      },
      post,
    );
    const started = engine;
    const connection = new LiveConnection(
      'in-page',
      { onHello() {}, onEvents() {}, onState() {}, onProblem() {} },
      () => {
        const s = {
          readyState: 1,
          onopen: null as (() => void) | null,
          onmessage: null as ((frame: { data: unknown }) => void) | null,
          onclose: null,
          onerror: null,
          send: (text: string) => started.message(1, text),
          close: () => started.disconnect(1),
          frame: (text: string) => s.onmessage?.({ data: text }),
        };
        socket = s;
        queueMicrotask(() => {
          started.connect(1);
          s.onopen?.();
        });
        return s;
      },
    );
    try {
      await expect.poll(() => connection.lastClock?.finished, { timeout: 60_000, interval: 50 }).toBe(true);
      expect(connection.lastClock!.t).toBeGreaterThan(0);
      expect(started.sim.finished).toBe(true);
    } finally {
      connection.close();
      started.close();
    }
  }, 90_000);
});
