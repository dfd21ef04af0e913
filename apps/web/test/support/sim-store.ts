import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TraceEvent } from '@proxyscope/protocol';
import { parse, stringify } from 'yaml';
import { loadBootstrap } from '../../../../packages/engine/src/config/index';
import { loadScenario, Simulation } from '../../../../packages/engine/src/sim/index';
import type { Scenario } from '../../../../packages/engine/src/sim/scenario-types';
import { EventStoreImpl } from '../../src/model/event-store';

/**
 * A store filled from a real engine run: one of the shipped scenarios on virtual time,
 * traced, with the topology and start time a `proxyscope simulate --serve` hello gives.
 */

const SCENARIOS = join(dirname(fileURLToPath(import.meta.url)), '../../../../scenarios');

export async function simulatedStore(
  name: string,
  change: (scenario: Scenario) => Scenario = (s) => s,
  /** edits the scenario's Envoy config, as parsed YAML */
  changeConfig: (raw: any) => void = () => {},
): Promise<EventStoreImpl> {
  const file = join(SCENARIOS, name, 'scenario.yaml');
  const scenario = change(loadScenario(readFileSync(file, 'utf8'), file).scenario);
  const configFile = join(SCENARIOS, name, scenario.config ?? 'envoy.yaml');
  const raw = parse(readFileSync(configFile, 'utf8'));
  changeConfig(raw);
  const config = loadBootstrap(stringify(raw), configFile).config;
  const events: TraceEvent[] = [];
  const sim = new Simulation({ config, scenario, sink: (e) => events.push(e as TraceEvent) });
  await sim.run();
  const store = new EventStoreImpl('simulation');
  store.setSource({ topology: sim.engine.topology(), startedAt: new Date(sim.engine.startedAt).toISOString() });
  store.append(events);
  return store;
}
