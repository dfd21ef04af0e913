import demoConfig from '../../../../scenarios/demo/envoy.yaml?raw';
import demoScenario from '../../../../scenarios/demo/scenario.yaml?raw';
import type { InPageRun } from './in-page-run';

/** The built-in demo, as `proxyscope simulate --serve` runs it with no arguments. */
export const DEMO_RUN: InPageRun = {
  config: demoConfig,
  configName: 'scenarios/demo/envoy.yaml',
  scenario: demoScenario,
  scenarioName: 'scenarios/demo/scenario.yaml',
  speed: 1,
  paused: false,
};
