import { z } from 'zod';
import { FACT_NAMES, MACHINE_KINDS, type TraceEvent } from './events';
import type { Topology } from './topology';
import type { TrafficCounts } from './traffic-counts';

/**
 * Trace files are NDJSON: one header line, then one TraceEvent per line.
 * See docs/trace-format.md.
 */
export const TRACE_FORMAT = 'proxyscope-trace';
export const TRACE_FORMAT_VERSION = 1;

export interface TraceHeader {
  format: typeof TRACE_FORMAT;
  version: number;
  engineVersion: string;
  /** wall-clock time of event t=0, ISO-8601 */
  startedAt: string;
  topology: Topology;
  /** the bootstrap config the engine ran, as parsed JSON */
  config?: unknown;
  /** present when the trace is of a simulated run (proxyscope simulate): times are virtual */
  simulation?: { scenario: string; seed: number };
  /**
   * A trace that starts mid-run begins with a snapshot: the first `events` event lines are
   * older events (every one with seq <= `lastSeq`) that leave each live actor and
   * in-flight request as it was when recording began (docs/trace-format.md "Snapshot").
   * Absent in traces that start with the run, and in traces written before version 1.1.
   * `counts`: the traffic counters over every event up to `lastSeq`; absent in traces
   * written before it was added, where a reader counts from the snapshot on.
   */
  snapshot?: { events: number; lastSeq: number; counts?: TrafficCounts };
}

/** Correlation ids as they appear on an event (`ids`). */
export const correlationIdsSchema = z
  .object({
    worker: z.number().int().optional(),
    listener: z.string().optional(),
    cx: z.number().int().optional(),
    stream: z.number().int().optional(),
    cluster: z.string().optional(),
    host: z.string().optional(),
    pool: z.string().optional(),
    ucx: z.number().int().optional(),
  })
  .strict();

const base = {
  seq: z.number().int().positive(),
  t: z.number().nonnegative(),
  actor: z.string().min(1),
  machine: z.enum(MACHINE_KINDS),
  ids: correlationIdsSchema,
};

export const traceEventSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('spawn'), state: z.string() }),
  z.object({ ...base, type: z.literal('stop'), state: z.string() }),
  z.object({
    ...base,
    type: z.literal('transition'),
    from: z.string(),
    to: z.string(),
    event: z.string(),
    envoy: z.string().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('fact'),
    fact: z.enum(FACT_NAMES),
    data: z.record(z.string(), z.unknown()),
    envoy: z.string().optional(),
  }),
]);

const count = z.number().int().nonnegative();

/** `hello.snapshot` and a trace header's `snapshot`, as validated. */
export const snapshotInfoSchema = z.object({
  events: count,
  lastSeq: count,
  counts: z.object({ rq: count, s2xx: count, s4xx: count, s5xx: count, retries: count, overflow: count }).optional(),
});

export const traceHeaderSchema = z.object({
  format: z.literal(TRACE_FORMAT),
  version: z.number().int(),
  engineVersion: z.string(),
  startedAt: z.string(),
  // loose, as the stream's: a field added to Topology (the pools of a trace that starts
  // mid-run) is kept when a file is read back, not silently dropped
  topology: z
    .object({
      workers: z.number().int(),
      listeners: z.array(z.unknown()),
      routeConfigs: z.array(z.unknown()),
      clusters: z.array(z.unknown()),
      pools: z.array(z.object({ worker: z.number().int(), cluster: z.string(), host: z.string(), actor: z.string() })).optional(),
    })
    .loose(),
  config: z.unknown().optional(),
  simulation: z.object({ scenario: z.string(), seed: z.number().int() }).optional(),
  snapshot: snapshotInfoSchema.optional(),
});

/** A trace line that could not be read, with the exact place and reason. */
export class TraceFormatError extends Error {
  constructor(
    readonly line: number,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`line ${line}${field ? `, field ${field}` : ''}: ${reason}`);
    this.name = 'TraceFormatError';
  }
}

export function formatTraceLine(value: TraceHeader | TraceEvent): string {
  return JSON.stringify(value) + '\n';
}

function firstIssue(error: z.ZodError): { field: string; reason: string } {
  const issue = error.issues[0];
  return { field: issue ? issue.path.join('.') : '', reason: issue ? issue.message : 'invalid' };
}

function parseJson(text: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TraceFormatError(line, '', `not valid JSON (${(err as Error).message})`);
  }
}

export function parseTraceHeader(text: string, line = 1): TraceHeader {
  const value = parseJson(text, line);
  const result = traceHeaderSchema.safeParse(value);
  if (!result.success) {
    const { field, reason } = firstIssue(result.error);
    throw new TraceFormatError(line, field, reason);
  }
  if (result.data.version > TRACE_FORMAT_VERSION) {
    throw new TraceFormatError(line, 'version', `trace version ${result.data.version} is newer than this reader (${TRACE_FORMAT_VERSION})`);
  }
  return result.data as TraceHeader;
}

export function parseTraceEvent(text: string, line: number): TraceEvent {
  const value = parseJson(text, line);
  const result = traceEventSchema.safeParse(value);
  if (!result.success) {
    const { field, reason } = firstIssue(result.error);
    throw new TraceFormatError(line, field, reason);
  }
  return result.data as TraceEvent;
}
