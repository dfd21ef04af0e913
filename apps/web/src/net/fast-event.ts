import { FACT_NAMES, MACHINE_KINDS, type TraceEvent } from '@proxyscope/protocol';

/**
 * A quick structural check of a parsed trace line, for the common case of a valid event.
 * It accepts exactly what the protocol's schema accepts (or less); anything it does not
 * accept goes through `parseTraceEvent`, whose error names the line and field. It saves
 * the schema's cost on a million lines, not its checks.
 */

const MACHINES: ReadonlySet<string> = new Set(MACHINE_KINDS);
const FACTS: ReadonlySet<string> = new Set(FACT_NAMES);
const INT_IDS = new Set(['worker', 'cx', 'stream', 'ucx']);
const STRING_IDS = new Set(['listener', 'cluster', 'host', 'pool']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function idsOk(ids: unknown): boolean {
  if (!isObject(ids)) return false;
  for (const key in ids) {
    const v = ids[key];
    if (INT_IDS.has(key)) {
      if (!isInt(v)) return false;
    } else if (STRING_IDS.has(key)) {
      if (typeof v !== 'string') return false;
    } else return false;
  }
  return true;
}

export function fastTraceEvent(value: unknown): TraceEvent | null {
  if (!isObject(value)) return null;
  const { seq, t, actor, machine, ids, type } = value;
  if (!isInt(seq) || seq <= 0 || typeof t !== 'number' || !(t >= 0) || typeof actor !== 'string' || actor === '') return null;
  if (typeof machine !== 'string' || !MACHINES.has(machine) || !idsOk(ids)) return null;
  switch (type) {
    case 'spawn':
    case 'stop':
      return typeof value.state === 'string' ? (value as unknown as TraceEvent) : null;
    case 'transition':
      if (typeof value.from !== 'string' || typeof value.to !== 'string' || typeof value.event !== 'string') return null;
      return value.envoy === undefined || typeof value.envoy === 'string' ? (value as unknown as TraceEvent) : null;
    case 'fact':
      if (typeof value.fact !== 'string' || !FACTS.has(value.fact) || !isObject(value.data)) return null;
      return value.envoy === undefined || typeof value.envoy === 'string' ? (value as unknown as TraceEvent) : null;
    default:
      return null;
  }
}
