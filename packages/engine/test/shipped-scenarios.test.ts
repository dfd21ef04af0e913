/**
 * The scenarios we ship (scenarios/<name>/): each loads with its own config and, run
 * with its own seed, meets every one of its expectations. A scenario is a lesson whose
 * expectations state what the lesson shows (a share of UO, an ejection, a retried
 * request); if the engine stops behaving that way, the lesson is wrong and this fails.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadBootstrap } from '../src/config/load';
import { loadScenario } from '../src/sim/scenario';
import { Simulation } from '../src/sim/simulation';

const SCENARIOS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../scenarios');
const shipped = readdirSync(SCENARIOS, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(path.join(SCENARIOS, entry.name, 'scenario.yaml')))
  .map((entry) => entry.name)
  .sort();

describe('shipped scenarios', () => {
  it('are all found', () => {
    expect(shipped).toEqual(
      expect.arrayContaining([
        'canary-split',
        'circuit-breaker',
        'demo',
        'front-proxy',
        'health-checks-panic',
        'life-of-a-request',
        'outlier-detection',
        'per-try-timeout',
        'retries-previous-hosts',
      ]),
    );
  });

  for (const name of shipped) {
    it(`${name}: every expectation passes`, async () => {
      const file = path.join(SCENARIOS, name, 'scenario.yaml');
      const { scenario } = loadScenario(readFileSync(file, 'utf8'), file);
      expect(scenario.config, 'a shipped scenario names its config').toBeDefined();
      const configFile = path.resolve(path.dirname(file), scenario.config!);
      const { config } = loadBootstrap(readFileSync(configFile, 'utf8'), configFile);
      const summary = await new Simulation({ config, scenario }).run();
      expect(summary.expectations.length, 'a shipped scenario says what it shows').toBeGreaterThan(0);
      const failed = summary.expectations.filter((e) => !e.pass).map((e) => `${e.label}: got ${e.actual}`);
      expect(failed).toEqual([]);
    }, 30_000);
  }

  it('each lesson has a README', () => {
    const missing = shipped.filter((name) => name !== 'demo' && !existsSync(path.join(SCENARIOS, name, 'README.md')));
    expect(missing).toEqual([]);
  });
});
