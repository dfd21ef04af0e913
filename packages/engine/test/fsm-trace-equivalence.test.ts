/**
 * The compiled runtime runs the same machines as xstate: every shipped scenario, run once
 * with the machines on the engine's runtime and once all on xstate's own interpreter,
 * gives the same trace, event for event and byte for byte, and the same summary. The
 * per-machine differential test (fsm-differential.test.ts) checks each transition; this
 * checks the whole engine, where owners react to steps, timers race and actors nest.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadBootstrap } from '../src/config/load';
import { loadScenario } from '../src/sim/scenario';
import { Simulation } from '../src/sim/simulation';
import type { MachineInterpreter } from '../src/seams/actors';

const SCENARIOS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../scenarios');
const shipped = readdirSync(SCENARIOS, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(path.join(SCENARIOS, entry.name, 'scenario.yaml')))
  .map((entry) => entry.name)
  .sort();

async function run(name: string, interpreter: MachineInterpreter): Promise<{ events: string[]; summary: string; machines: Set<string> }> {
  const file = path.join(SCENARIOS, name, 'scenario.yaml');
  const { scenario } = loadScenario(readFileSync(file, 'utf8'), file);
  const configFile = path.resolve(path.dirname(file), scenario.config!);
  const { config } = loadBootstrap(readFileSync(configFile, 'utf8'), configFile);
  const events: string[] = [];
  const machines = new Set<string>();
  const sim = new Simulation({
    config,
    scenario,
    interpreter,
    sink: (event) => {
      events.push(JSON.stringify(event));
      if (event.type === 'transition') machines.add(event.machine);
    },
  });
  const summary = await sim.run();
  return { events, summary: JSON.stringify(summary), machines };
}

function firstDifference(a: readonly string[], b: readonly string[]): { index: number; compiled: string | undefined; xstate: string | undefined } | undefined {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return { index: i, compiled: a[i], xstate: b[i] };
  return undefined;
}

describe('the compiled runtime and xstate give the same trace', () => {
  for (const name of shipped) {
    it(`${name}`, async () => {
      const compiled = await run(name, 'compiled');
      const xstate = await run(name, 'xstate');
      expect(compiled.events.length).toBeGreaterThan(40);
      // The run moved the request path's machines, not just the long-lived ones.
      for (const kind of ['stream', 'router', 'upstream_request', 'codec']) expect(compiled.machines).toContain(kind);
      expect(firstDifference(compiled.events, xstate.events)).toBeUndefined();
      expect(compiled.summary).toBe(xstate.summary);
    }, 60_000);
  }
});
