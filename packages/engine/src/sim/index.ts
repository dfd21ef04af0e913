/** Deterministic simulation: the engine on virtual time (docs/scenarios.md). */
export { SimClock } from './sim-clock';
export { SimNetwork, SimConnection, type SimEndpoint } from './sim-network';
export { SimHost, type HostCounts } from './upstream-host';
export { Simulation, type SimulationOptions, type HostFailure } from './simulation';
export { formatSummary, type SimulationSummary } from './summary';
export type { ExpectationResult } from './expectations';
export { loadScenario } from './scenario';
export type * from './scenario-types';
