import { readFileSync } from 'node:fs';
import { parseTrace, type TraceEvent } from '@proxyscope/protocol';
import type { EventStore } from '../../src/model/types';
import { ArrayStore } from './array-store';

export { ArrayStore };

export function loadFixture(name = 'demo-trace.ndjson'): ArrayStore {
  const text = readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
  const trace = parseTrace(text);
  return new ArrayStore(trace.header.topology, [...trace.events]);
}

/** Index of the first event matching a predicate (throws when there is none). */
export function indexOf(store: EventStore, pred: (e: TraceEvent) => boolean): number {
  for (let i = 0; i < store.length; i++) if (pred(store.get(i))) return i;
  throw new Error('no such event');
}
