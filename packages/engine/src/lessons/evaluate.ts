/**
 * Pure queries over a run's trace events: where a step's run_to is reached, and the answer
 * to a check. Request N is the stream whose request carried `x-sim-request: N`.
 */
import type { FactEvent, TraceEvent } from '@proxyscope/protocol';
import type { AnswerQuery, RunTo } from './lesson-schema';

const isFact = (e: TraceEvent, name: string): e is FactEvent => e.type === 'fact' && e.fact === name;

/** The actor path of request `n`'s stream, e.g. `listener:ingress/cx:1/stream:3`. */
function streamOf(n: number, events: readonly TraceEvent[]): string | undefined {
  const e = events.find((ev) => isFact(ev, 'codec.request_headers') && (ev.data.headers as Record<string, string> | undefined)?.['x-sim-request'] === String(n));
  return e?.actor;
}

const within = (actor: string, stream: string) => actor === stream || actor.startsWith(`${stream}/`);

function requestEvents(n: number, events: readonly TraceEvent[]): TraceEvent[] {
  const stream = streamOf(n, events);
  return stream === undefined ? [] : events.filter((e) => within(e.actor, stream));
}

const enters = (e: TraceEvent, machine: string, state: string) =>
  e.machine === machine && ((e.type === 'transition' && e.to === state) || (e.type === 'spawn' && e.state === state));

/** The first event at which `runTo` is reached, or undefined when the run never gets there. */
export function findRunTo(runTo: RunTo, events: readonly TraceEvent[]): { seq: number; t: number } | undefined {
  let hit: TraceEvent | undefined;
  if ('time_ms' in runTo) hit = events.find((e) => e.t >= runTo.time_ms);
  else if ('request' in runTo) hit = requestEvents(runTo.request, events).find((e) => enters(e, runTo.machine, runTo.state));
  else hit = events.find((e) => enters(e, runTo.machine, runTo.state));
  return hit && { seq: hit.seq, t: hit.t };
}

const accessLogs = (events: readonly TraceEvent[]) => events.filter((e): e is FactEvent => isFact(e, 'stream.access_log'));

function accessLogOf(n: number, events: readonly TraceEvent[]): FactEvent | undefined {
  return requestEvents(n, events).find((e): e is FactEvent => isFact(e, 'stream.access_log'));
}

function factOf(n: number, fact: string, events: readonly TraceEvent[]): FactEvent | undefined {
  return requestEvents(n, events).find((e): e is FactEvent => isFact(e, fact));
}

/** The answer `query` has in this trace, or undefined when the trace does not say. */
export function answerFromTrace(query: AnswerQuery, events: readonly TraceEvent[]): string | number | undefined {
  if ('host_of_attempt' in query) {
    const { request, attempt } = query.host_of_attempt;
    const picks = requestEvents(request, events).filter((e): e is FactEvent => isFact(e, 'lb.host_selected') && e.machine === 'router');
    const pick = picks.find((e) => e.data.attempt === attempt) ?? picks[attempt - 1];
    return (pick?.data.hostname as string | null) ?? (pick?.data.host as string | undefined);
  }
  if ('attempts_of' in query) {
    const n = requestEvents(query.attempts_of.request, events).filter((e) => isFact(e, 'lb.host_selected') && e.machine === 'router').length;
    return n || undefined;
  }
  if ('response_code_of' in query) return accessLogOf(query.response_code_of.request, events)?.data.status as number | undefined;
  if ('response_flags_of' in query) return accessLogOf(query.response_flags_of.request, events)?.data.flags as string | undefined;
  if ('cluster_of' in query) return accessLogOf(query.cluster_of.request, events)?.data.cluster as string | undefined;
  if ('route_of' in query) return accessLogOf(query.route_of.request, events)?.data.route as string | undefined;
  if ('count_requests' in query) {
    const { response_flags, status, cluster } = query.count_requests;
    return accessLogs(events).filter(
      (e) => (response_flags === undefined || String(e.data.flags).split(',').includes(response_flags)) && (status === undefined || e.data.status === status) && (cluster === undefined || e.data.cluster === cluster),
    ).length;
  }
  // null in the fact when no virtual host matched: then the trace has no name to give.
  if ('virtual_host_of' in query) return (factOf(query.virtual_host_of.request, 'route.virtual_host', events)?.data.vhost as string | null | undefined) ?? undefined;
  if ('routes_failed_of' in query) {
    // The fact lists the first few candidates and counts the rest in `more`.
    const data = (factOf(query.routes_failed_of.request, 'route.match', events) ?? factOf(query.routes_failed_of.request, 'route.no_match', events))?.data;
    return data && (data.candidates as unknown[]).length + ((data.more as number | undefined) ?? 0);
  }
  if ('route_failed_on' in query) {
    const { request, route } = query.route_failed_on;
    const data = (factOf(request, 'route.match', events) ?? factOf(request, 'route.no_match', events))?.data;
    return (data?.candidates as Array<{ route: string; failed: string }> | undefined)?.find((c) => c.route === route)?.failed;
  }
  if ('filter_chain_of' in query) {
    // The chain is picked for the connection, before any request: found by the request's `cx` id.
    const stream = streamOf(query.filter_chain_of.request, events) ?? '';
    const cx = /\/cx:(\d+)\//.exec(stream)?.[1];
    const match = events.find((e): e is FactEvent => isFact(e, 'listener.filter_chain_match') && String(e.data.cx) === cx && stream.startsWith(`${e.actor}/`));
    return match?.data.chain as string | undefined;
  }
  const { fact, request, decision, where } = query.count_facts;
  return (request === undefined ? events : requestEvents(request, events)).filter(
    (e) => isFact(e, fact) && (decision === undefined || e.data.decision === decision) && Object.entries(where ?? {}).every(([k, v]) => e.data[k] === v),
  ).length;
}

/** Whether a user's answer is the trace's: numbers compared as numbers, text without case. */
export function judgeAnswer(given: string | number, query: AnswerQuery, events: readonly TraceEvent[]): boolean {
  const right = answerFromTrace(query, events);
  if (right === undefined) return false;
  return String(given).trim().toLowerCase() === String(right).toLowerCase();
}
