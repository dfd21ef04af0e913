import { sameIds, type CorrelationIds, type MachineKind, type TraceEvent } from '@proxyscope/protocol';

/**
 * Events held as columns of typed arrays plus interned string and actor tables, so a
 * million-event trace costs ~40 bytes an event instead of a few hundred, and a Web Worker
 * can hand a parsed chunk to the page by transferring buffers instead of cloning objects.
 */

export const SPAWN = 0;
export const STOP = 1;
export const TRANSITION = 2;
export const FACT = 3;
export const KIND_NAMES = ['spawn', 'stop', 'transition', 'fact'] as const;

export type ActorEntry = [path: string, machine: MachineKind, ids: CorrelationIds];

/**
 * One batch of events in column form. Its `strings` and `actors` are the entries new since
 * the previous chunk of the same encoder (starting at `stringBase` / `actorBase`), so a
 * reader that applies chunks in order ends with the encoder's tables.
 */
export interface ColumnChunk {
  n: number;
  stringBase: number;
  strings: string[];
  actorBase: number;
  actors: ActorEntry[];
  seq: Float64Array;
  t: Float64Array;
  kind: Uint8Array;
  actor: Int32Array;
  /** spawn/stop: state; transition: from; fact: fact name */
  a: Int32Array;
  /** transition: to */
  b: Int32Array;
  /** transition: event */
  c: Int32Array;
  /** envoy function, -1 for none */
  d: Int32Array;
  /** fact payloads, by position in the chunk (null for other kinds) */
  data: Array<Record<string, unknown> | null>;
}

export function chunkTransferables(chunk: ColumnChunk): ArrayBuffer[] {
  return [chunk.seq, chunk.t, chunk.kind, chunk.actor, chunk.a, chunk.b, chunk.c, chunk.d].map((a) => a.buffer as ArrayBuffer);
}

/** Interns strings and actors and turns event objects into chunks. */
export class ChunkEncoder {
  private readonly stringIndex = new Map<string, number>();
  private stringCount = 0;
  private pendingStrings: string[] = [];
  /** path -> actor indexes with that path (more than one only if ids change) */
  private readonly actorIndex = new Map<string, number[]>();
  private readonly actorTable: ActorEntry[] = [];
  private pendingActors: ActorEntry[] = [];

  str(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.stringCount++;
      this.stringIndex.set(s, i);
      this.pendingStrings.push(s);
    }
    return i;
  }

  private actor(e: TraceEvent): number {
    const list = this.actorIndex.get(e.actor);
    if (list) {
      for (const i of list) {
        const entry = this.actorTable[i]!;
        if (entry[1] === e.machine && sameIds(entry[2], e.ids)) return i;
      }
    }
    const i = this.actorTable.length;
    // Keep a copy of the ids with keys in one order: every event of this actor shares it.
    const entry: ActorEntry = [e.actor, e.machine, { ...e.ids }];
    this.actorTable.push(entry);
    this.pendingActors.push(entry);
    if (list) list.push(i);
    else this.actorIndex.set(e.actor, [i]);
    return i;
  }

  encode(events: readonly TraceEvent[]): ColumnChunk {
    const n = events.length;
    const stringBase = this.stringCount - this.pendingStrings.length;
    const actorBase = this.actorTable.length - this.pendingActors.length;
    const chunk: ColumnChunk = {
      n,
      stringBase,
      strings: [],
      actorBase,
      actors: [],
      seq: new Float64Array(n),
      t: new Float64Array(n),
      kind: new Uint8Array(n),
      actor: new Int32Array(n),
      a: new Int32Array(n),
      b: new Int32Array(n).fill(-1),
      c: new Int32Array(n).fill(-1),
      d: new Int32Array(n).fill(-1),
      data: new Array(n).fill(null),
    };
    for (let i = 0; i < n; i++) {
      const e = events[i]!;
      chunk.seq[i] = e.seq;
      chunk.t[i] = e.t;
      chunk.actor[i] = this.actor(e);
      switch (e.type) {
        case 'spawn':
        case 'stop':
          chunk.kind[i] = e.type === 'spawn' ? SPAWN : STOP;
          chunk.a[i] = this.str(e.state);
          break;
        case 'transition':
          chunk.kind[i] = TRANSITION;
          chunk.a[i] = this.str(e.from);
          chunk.b[i] = this.str(e.to);
          chunk.c[i] = this.str(e.event);
          if (e.envoy !== undefined) chunk.d[i] = this.str(e.envoy);
          break;
        case 'fact':
          chunk.kind[i] = FACT;
          chunk.a[i] = this.str(e.fact);
          chunk.data[i] = e.data;
          if (e.envoy !== undefined) chunk.d[i] = this.str(e.envoy);
          break;
      }
    }
    chunk.strings = this.pendingStrings;
    chunk.actors = this.pendingActors;
    this.pendingStrings = [];
    this.pendingActors = [];
    return chunk;
  }
}
