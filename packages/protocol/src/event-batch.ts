import type { CorrelationIds, FactName, MachineKind, TraceEvent } from './events';
import type { EncodedEvent, EventsMessage } from './ws-messages';

/**
 * The compact encoding of an `events` message (docs/ws-protocol.md "Batches").
 *
 * A batch carries a string table (actor paths, machine kinds, state, event, fact and Envoy
 * function names), an actor table (path, machine, correlation ids: one entry per actor
 * that appears in the batch), and one small array of integers per event, with seq and
 * time as deltas. A request's 40-odd events cost about a sixth of their NDJSON size, and
 * each batch decodes on its own: no state is carried from one batch to the next.
 */

const SPAWN = 0;
const STOP = 1;
const TRANSITION = 2;
const FACT = 3;

/** A batch that does not decode, with the place it went wrong. */
export class BatchFormatError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`events batch, ${field}: ${reason}`);
    this.name = 'BatchFormatError';
  }
}

/** Two correlation-id objects name the same ids (the same keys with the same values). */
export function sameIds(a: CorrelationIds, b: CorrelationIds): boolean {
  if (a === b) return true;
  const ka = Object.keys(a) as Array<keyof CorrelationIds>;
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * Encodes batches. Keep one and call `encode` for each batch: it reuses its lookup tables,
 * so encoding allocates little more than the message itself.
 */
export class EventBatchEncoder {
  private readonly stringIndex = new Map<string, number>();
  private readonly actorIndex = new Map<string, number>();
  private strings: string[] = [];
  private actors: EventsMessage['actors'] = [];

  private str(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }

  private actor(e: TraceEvent): number {
    let i = this.actorIndex.get(e.actor);
    if (i !== undefined) {
      const entry = this.actors[i]!;
      // The same path with other ids or machine (not expected): a new entry.
      if (entry[2] === e.ids || (this.strings[entry[1]] === e.machine && sameIds(entry[2], e.ids))) return i;
    }
    i = this.actors.length;
    this.actors.push([this.str(e.actor), this.str(e.machine), e.ids]);
    this.actorIndex.set(e.actor, i);
    return i;
  }

  /** Encodes `events[from..to)` (at least one event) as one `events` message. */
  encode(events: readonly TraceEvent[], from = 0, to = events.length, history = false): EventsMessage {
    if (to <= from) throw new RangeError('an events batch needs at least one event');
    this.strings = [];
    this.actors = [];
    this.stringIndex.clear();
    this.actorIndex.clear();
    const first = events[from]!;
    let prevSeq = first.seq;
    let prevT = Math.round(first.t * 1000);
    const out: EncodedEvent[] = new Array(to - from);
    for (let i = from; i < to; i++) {
      const e = events[i]!;
      const actor = this.actor(e);
      const t = Math.round(e.t * 1000);
      const dSeq = e.seq - prevSeq;
      const dT = t - prevT;
      prevSeq = e.seq;
      prevT = t;
      let encoded: EncodedEvent;
      switch (e.type) {
        case 'spawn':
          encoded = [SPAWN, actor, dSeq, dT, this.str(e.state)];
          break;
        case 'stop':
          encoded = [STOP, actor, dSeq, dT, this.str(e.state)];
          break;
        case 'transition':
          encoded = [TRANSITION, actor, dSeq, dT, this.str(e.from), this.str(e.to), this.str(e.event)];
          if (e.envoy !== undefined) encoded.push(this.str(e.envoy));
          break;
        case 'fact':
          encoded = [FACT, actor, dSeq, dT, this.str(e.fact), e.data];
          if (e.envoy !== undefined) encoded.push(this.str(e.envoy));
          break;
      }
      out[i - from] = encoded;
    }
    const message: EventsMessage = { type: 'events', seq: first.seq, t: first.t, strings: this.strings, actors: this.actors, events: out };
    if (history) message.history = true;
    return message;
  }
}

const shared = new EventBatchEncoder();

/** Encodes a whole array as one batch (see EventBatchEncoder for repeated use). */
export function encodeEventBatch(events: readonly TraceEvent[], options: { history?: boolean } = {}): EventsMessage {
  return shared.encode(events, 0, events.length, options.history ?? false);
}

/**
 * Turns a batch back into full trace events, equal to the ones encoded (time has a
 * resolution of 1 µs, which is the tracer's). Checks every index and throws a
 * BatchFormatError naming the position of anything that does not fit.
 */
export function decodeEventBatch(message: Pick<EventsMessage, 'seq' | 't' | 'strings' | 'actors' | 'events'>): TraceEvent[] {
  const { strings, actors, events } = message;
  if (!Array.isArray(strings) || !Array.isArray(actors) || !Array.isArray(events)) {
    throw new BatchFormatError('', 'strings, actors and events must be arrays');
  }
  if (!Number.isInteger(message.seq) || typeof message.t !== 'number') throw new BatchFormatError('seq', 'seq must be an integer and t a number');
  const str = (value: unknown, field: string): string => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= strings.length) {
      throw new BatchFormatError(field, `string index ${JSON.stringify(value)} is not in the string table (${strings.length} entries)`);
    }
    return strings[value]!;
  };
  const decodedActors = actors.map((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 3 || typeof entry[2] !== 'object' || entry[2] === null) {
      throw new BatchFormatError(`actors[${i}]`, 'expected [path, machine, ids]');
    }
    return { actor: str(entry[0], `actors[${i}][0]`), machine: str(entry[1], `actors[${i}][1]`) as MachineKind, ids: entry[2] };
  });
  const out: TraceEvent[] = new Array(events.length);
  let seq = message.seq;
  let t = Math.round(message.t * 1000);
  for (let i = 0; i < events.length; i++) {
    const row = events[i] as unknown[];
    const at = `events[${i}]`;
    if (!Array.isArray(row) || row.length < 5) throw new BatchFormatError(at, 'expected an array of at least 5 entries');
    const [kind, actorIndex, dSeq, dT] = row;
    // Seq usually grows, but a sampled request kept for its failure arrives after later events.
    if (typeof dSeq !== 'number' || !Number.isInteger(dSeq) || (i === 0 && dSeq !== 0) || seq + dSeq <= 0) {
      throw new BatchFormatError(`${at}[2]`, `seq delta ${JSON.stringify(dSeq)} must be ${i === 0 ? '0 for the first event' : 'an integer leaving seq positive'}`);
    }
    if (typeof dT !== 'number' || !Number.isInteger(dT)) throw new BatchFormatError(`${at}[3]`, `time delta ${JSON.stringify(dT)} must be an integer (µs)`);
    if (typeof actorIndex !== 'number' || !Number.isInteger(actorIndex) || actorIndex < 0 || actorIndex >= decodedActors.length) {
      throw new BatchFormatError(`${at}[1]`, `actor index ${JSON.stringify(actorIndex)} is not in the actor table (${decodedActors.length} entries)`);
    }
    seq += dSeq;
    t += dT;
    const a = decodedActors[actorIndex]!;
    const base = { seq, t: t / 1000, actor: a.actor, machine: a.machine, ids: a.ids };
    switch (kind) {
      case SPAWN:
      case STOP:
        if (row.length !== 5) throw new BatchFormatError(at, `a ${kind === SPAWN ? 'spawn' : 'stop'} has 5 entries, got ${row.length}`);
        out[i] = { type: kind === SPAWN ? 'spawn' : 'stop', ...base, state: str(row[4], `${at}[4]`) };
        break;
      case TRANSITION: {
        if (row.length !== 7 && row.length !== 8) throw new BatchFormatError(at, `a transition has 7 or 8 entries, got ${row.length}`);
        const ev: TraceEvent = { type: 'transition', ...base, from: str(row[4], `${at}[4]`), to: str(row[5], `${at}[5]`), event: str(row[6], `${at}[6]`) };
        if (row.length === 8) ev.envoy = str(row[7], `${at}[7]`);
        out[i] = ev;
        break;
      }
      case FACT: {
        if (row.length !== 6 && row.length !== 7) throw new BatchFormatError(at, `a fact has 6 or 7 entries, got ${row.length}`);
        const data = row[5];
        if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new BatchFormatError(`${at}[5]`, 'fact data must be an object');
        const ev: TraceEvent = { type: 'fact', ...base, fact: str(row[4], `${at}[4]`) as FactName, data: data as Record<string, unknown> };
        if (row.length === 7) ev.envoy = str(row[6], `${at}[6]`);
        out[i] = ev;
        break;
      }
      default:
        throw new BatchFormatError(`${at}[0]`, `unknown event kind ${JSON.stringify(kind)} (0 spawn, 1 stop, 2 transition, 3 fact)`);
    }
  }
  return out;
}
