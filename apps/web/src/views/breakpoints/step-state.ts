import {
  BREAKPOINT_CONDITION_FIELDS,
  STEPPABLE_MACHINES,
  type Breakpoint,
  type BreakpointCondition,
  type HeldRequest,
  type StepAckDetail,
  type StepStateMessage,
  type SteppableMachine,
  type Topology,
  type TraceEvent,
} from '@proxyscope/protocol';
import { CHARTS } from 'virtual:machine-charts';

/** Step mode as the server last told it (`hello.step`, then each `step_state`). */
export type StepState = Omit<StepStateMessage, 'type'>;

export const EMPTY_STEP_STATE: StepState = { breakpoints: [], pauseAll: false, held: [] };

/** The states a breakpoint may name, from the machine charts (the same names the engine checks). */
export function statesOf(machine: SteppableMachine): string[] {
  return CHARTS[machine].states.map((s) => s.name);
}

/** The Envoy function a state mirrors, for labels. */
export function envoyOf(machine: string, state: string): string | undefined {
  const chart = (CHARTS as Record<string, { states: Array<{ name: string; envoy?: string }> }>)[machine];
  return chart?.states.find((s) => s.name === state)?.envoy;
}

/** One-click breakpoints for the questions people ask in workshops. */
export const PRESETS: Array<{ label: string; breakpoint: Breakpoint }> = [
  { label: 'before the filters run', breakpoint: { machine: 'stream', state: 'decoding_headers' } },
  { label: 'router chose a route', breakpoint: { machine: 'router', state: 'route_matched' } },
  { label: 'host picked', breakpoint: { machine: 'router', state: 'host_selected' } },
  { label: 'waiting for a pool connection', breakpoint: { machine: 'upstream_request', state: 'pending_pool' } },
  { label: 'retry enters back-off', breakpoint: { machine: 'retry', state: 'backoff' } },
  { label: 'response headers through the encoders', breakpoint: { machine: 'stream', state: 'encoding_headers' } },
];

export const MACHINES: readonly SteppableMachine[] = STEPPABLE_MACHINES;

/** Same place, same condition, same `once`: the panel toggles and removes breakpoints by this. */
export function sameBreakpoint(a: Breakpoint, b: Breakpoint): boolean {
  return a.machine === b.machine && a.state === b.state && conditionKey(a.when) === conditionKey(b.when) && !!a.once === !!b.once;
}

function conditionKey(when: BreakpointCondition | undefined): string {
  if (!when) return '';
  return BREAKPOINT_CONDITION_FIELDS.map((f) => JSON.stringify(when[f] ?? null)).join('|');
}

/** A breakpoint's condition in words, e.g. `route api · path /api/* · header x-user = ann · once`; '' when it has none. */
export function describeCondition(bp: Breakpoint): string {
  const w = bp.when ?? {};
  const parts: string[] = [];
  if (w.route !== undefined) parts.push(`route ${w.route}`);
  if (w.cluster !== undefined) parts.push(`cluster ${w.cluster}`);
  if (w.host !== undefined) parts.push(`host ${w.host}`);
  if (w.pathPrefix !== undefined) parts.push(`path ${w.pathPrefix}*`);
  if (w.header !== undefined) parts.push(w.header.value === undefined ? `header ${w.header.name}` : `header ${w.header.name} = ${w.header.value}`);
  if (bp.once) parts.push('once');
  return parts.join(' · ');
}

/** The "when" fields of the panel's form, as typed (blank: not part of the condition). */
export interface ConditionDraft {
  route: string;
  cluster: string;
  host: string;
  pathPrefix: string;
  headerName: string;
  headerValue: string;
  once: boolean;
}

export const EMPTY_DRAFT: ConditionDraft = { route: '', cluster: '', host: '', pathPrefix: '', headerName: '', headerValue: '', once: false };

/** A breakpoint from the form: blank fields left out, names trimmed, a header name lower-cased (as the server wants it). */
export function breakpointFromDraft(machine: SteppableMachine, state: string, d: ConditionDraft): Breakpoint {
  const when: BreakpointCondition = {};
  if (d.route.trim()) when.route = d.route.trim();
  if (d.cluster.trim()) when.cluster = d.cluster.trim();
  if (d.host.trim()) when.host = d.host.trim();
  if (d.pathPrefix.trim()) when.pathPrefix = d.pathPrefix.trim();
  if (d.headerName.trim()) when.header = d.headerValue === '' ? { name: d.headerName.trim().toLowerCase() } : { name: d.headerName.trim().toLowerCase(), value: d.headerValue };
  return { machine, state, ...(Object.keys(when).length > 0 ? { when } : {}), ...(d.once ? { once: true } : {}) };
}

/** The list with `bp` added (no duplicates) or removed. */
export function toggleBreakpoint(list: readonly Breakpoint[], bp: Breakpoint): Breakpoint[] {
  return list.some((x) => sameBreakpoint(x, bp)) ? list.filter((x) => !sameBreakpoint(x, bp)) : [...list, bp];
}

export function describeHeld(h: HeldRequest): string {
  const why = h.reason === 'breakpoint' ? 'breakpoint' : h.reason === 'pause_all' ? 'pause all' : 'stepped';
  return `${h.machine} · ${h.state} (${why})`;
}

/** What the viewer knows to name things in a step's words: the demo's host names, each cluster's load balancer. */
export interface StepWordsContext {
  hostNames: ReadonlyMap<string, string>;
  topology: Topology | null;
}

/** One entry of the step log: which request, the words, and the state change it made. */
export interface StepLogEntry {
  stream: number;
  words: string[];
  /** e.g. `router: route_matched → cluster_selected`; '' when the step changed no state */
  change: string;
}

/**
 * What a step did, in words built from the events it produced (the `step` ack's `events`):
 * "route `api` matched → cluster `api`", "picked web-2 by ROUND_ROBIN", "pool: no ready
 * client, connecting ucx:3", "upstream responded 503", "retry back-off 25 ms". Names in
 * backticks are config names (the panel sets them in code type).
 */
export function describeStep(stream: number, detail: Partial<StepAckDetail> | undefined, ctx: StepWordsContext): StepLogEntry {
  const events = detail?.events ?? [];
  const words = stepWords(events, ctx);
  const own = events.filter((e): e is Extract<TraceEvent, { type: 'transition' }> => e.type === 'transition' && e.ids.stream === stream && STEPPABLE.has(e.machine));
  const change = own.map((e) => `${e.machine}: ${e.from} → ${e.to}`).join(', ');
  if (detail?.ended) words.push('the request ended');
  if (words.length === 0) {
    if (own.length > 0) words.push(`${own[0]!.machine} moved to ${own[0]!.to}`);
    else if (detail?.ran === 'timer') words.push('fired its next timer');
    else if (!detail?.ended) words.push('waits for the network: nothing to step yet');
  }
  return { stream, words, change };
}

const STEPPABLE = new Set<string>(STEPPABLE_MACHINES);

function stepWords(events: readonly TraceEvent[], ctx: StepWordsContext): string[] {
  const host = (key: unknown) => (typeof key === 'string' ? ctx.hostNames.get(key) ?? key : '?');
  const lbOf = (cluster: unknown) => ctx.topology?.clusters.find((c) => c.name === cluster)?.lbPolicy;
  const out: string[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.type !== 'fact') continue;
    const d = e.data as Record<string, unknown>;
    switch (e.fact) {
      case 'route.match':
        out.push(d.cluster ? `route \`${d.route}\` matched → cluster \`${d.cluster}\`` : `route \`${d.route}\` matched`);
        break;
      case 'route.no_match':
        out.push('no route matched');
        break;
      case 'cluster.selected':
        out.push(d.found ? `cluster \`${d.cluster}\` selected` : `cluster \`${d.cluster}\` not found`);
        break;
      case 'lb.host_selected': {
        const lb = lbOf(d.cluster);
        const attempt = typeof d.attempt === 'number' && d.attempt > 1 ? ` for attempt ${d.attempt}` : '';
        out.push(`picked ${host(d.host)} by ${lb ?? String(d.reason ?? 'the load balancer')}${attempt}`);
        break;
      }
      case 'lb.no_host':
        out.push(`no healthy host in \`${d.cluster}\``);
        break;
      case 'pool.decision': {
        const next = events[i + 1];
        const client = (n: unknown) => `ucx:${n}`;
        if (d.decision === 'queue_pending' && next?.type === 'fact' && next.fact === 'pool.decision' && next.data.decision === 'open_connection') {
          out.push(`pool: no ready client, connecting ${client(next.data.client)}`);
          i++;
        } else if (d.decision === 'queue_pending') out.push('pool: no ready client, request queued');
        else if (d.decision === 'open_connection') out.push(`pool: connecting ${client(d.client)}`);
        else if (d.decision === 'reuse_ready_client') out.push(`pool: reusing ready client ${client(d.client)}`);
        else if (d.decision === 'connection_overflow') out.push(`pool: ${d.limit} reached (${d.max}), request waits`);
        else if (d.decision === 'overflow') out.push(`pool: ${d.limit} overflow (${d.max})`);
        else out.push(`pool: ${String(d.decision).replace(/_/g, ' ')}`);
        break;
      }
      case 'pool.attach':
        out.push(`pool: attached to ucx:${d.client}${d.reused ? ' (reused)' : ''}`);
        break;
      case 'pool.connect_failure':
        out.push(`pool: connecting ucx:${d.client} failed (${d.reason})`);
        break;
      case 'pool.pending_failed':
        out.push(`pool: the waiting request failed (${d.reason})`);
        break;
      case 'upstream.request_sent':
        out.push(`request sent upstream (${d.bytes} bytes)`);
        break;
      case 'upstream.response_headers':
        out.push(`upstream responded ${d.status}`);
        break;
      case 'upstream.reset':
        out.push(`upstream reset (${d.reason})`);
        break;
      case 'retry.policy':
        out.push(`retry policy: up to ${d.numRetries} retr${d.numRetries === 1 ? 'y' : 'ies'}`);
        break;
      case 'retry.decision':
        out.push(`retry: ${String(d.decision).replace(/_/g, ' ')}${d.status !== undefined ? ` on ${d.status}` : ''}`);
        break;
      case 'retry.backoff':
        out.push(`retry back-off ${Math.round(Number(d.ms))} ms`);
        break;
      case 'router.timeout':
        out.push(`${d.kind === 'per_try' ? 'per-try' : 'route'} timeout after ${d.ms} ms`);
        break;
      case 'stream.local_reply':
        out.push(`local reply ${d.status}${d.details ? ` (${d.details})` : ''}`);
        break;
      case 'stream.access_log':
        out.push(`finished with ${d.status}`);
        break;
      case 'timer.fired':
        out.push(`${String(d.timer).replace(/_/g, ' ')} fired`);
        break;
      default:
        break;
    }
  }
  return out;
}
