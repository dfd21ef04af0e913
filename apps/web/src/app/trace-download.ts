import { formatTraceLine, TRACE_FORMAT, TRACE_FORMAT_VERSION, type SimulationInfo, type TraceHeader } from '@proxyscope/protocol';
import type { EventStoreImpl } from '../model/event-store';

/**
 * A run of the engine in this page, saved as a trace file (docs/trace-format.md): the header,
 * then every event the page holds, one per line. There is no server to record it, but the
 * page has the whole run from its first event, so the file is the run. A page that let its
 * oldest events go cannot make one (it would be a trace with a hole at the start).
 */
export function canDownloadTrace(store: EventStoreImpl): boolean {
  return store.length > 0 && store.topology !== null && store.snapshotLength() === 0 && store.seqAt(0) === 1;
}

export function traceText(store: EventStoreImpl, simulation: SimulationInfo | null): string {
  if (!canDownloadTrace(store)) throw new Error('the page does not hold this run from its first event');
  const header: TraceHeader = {
    format: TRACE_FORMAT,
    version: TRACE_FORMAT_VERSION,
    engineVersion: 'in-page',
    startedAt: store.startedAt ?? new Date(0).toISOString(),
    topology: store.topology!,
    ...(simulation && { simulation: { scenario: simulation.scenario, seed: simulation.seed } }),
  };
  const lines = [formatTraceLine(header)];
  for (let i = 0; i < store.length; i++) lines.push(formatTraceLine(store.get(i)));
  return lines.join('');
}

/** `<scenario>-seed<seed>.ndjson`, as a name a user can find again */
export function traceFileName(simulation: SimulationInfo | null): string {
  const base = simulation ? `${simulation.scenario}-seed${simulation.seed}` : 'proxyscope-trace';
  return `${base.replace(/[^A-Za-z0-9._-]+/g, '-')}.ndjson`;
}

export function downloadTrace(store: EventStoreImpl, simulation: SimulationInfo | null): void {
  const url = URL.createObjectURL(new Blob([traceText(store, simulation)], { type: 'application/x-ndjson' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = traceFileName(simulation);
  a.click();
  // the click has started the download; the blob can go once it has been read
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
