import type { RetryState, RouterState, StreamState, UpstreamRequestState } from '@proxyscope/protocol';
import type { RequestPhase } from './types';

/**
 * Where a request is on Envoy's request path, worked out from its machines' events. The
 * request list's state column and the topology's moving token both read it from here, so
 * the two never disagree about a request; each names the phases its own way (the list says
 * `routing` for `route` and `cluster`, the topology `filters` for `decoding`).
 */
export type Phase =
  | 'decoding' // the request through the decoder filters (stream decoding_headers / decoding_body)
  | 'route' // the router filter matching a route (router matching_route, route_matched)
  | 'cluster' // cluster chosen, host being picked (cluster.selected, lb.host_selected)
  | 'pool_pending' // an attempt waiting for a pool connection (upstream_request pending_pool)
  | 'upstream' // an attempt on a connection: sending, waiting for or receiving the response, or tunnelling
  | 'backoff' // a retry waiting out its back-off (retry backoff, router retry_backoff)
  | 'encoding' // the response through the encoder filters (stream encoding_headers / encoding_body)
  | 'complete'
  | 'reset';

/** One of the request's events, as much of it as the phase depends on. */
export interface PhaseStep {
  machine: string;
  type: 'spawn' | 'transition' | 'stop' | 'fact';
  /** the actor path; read for upstream_request events only (which attempt, or a mirror) */
  actor?: string;
  /** the state the event leaves its actor in (spawn, stop: its state; transition: `to`) */
  state?: string;
  fact?: string;
}

/**
 * What the phase is folded from: the last state of each of the request's machines. Plain
 * data (strings only), so a copy is `{ ...state }`.
 */
export interface PhaseState {
  phase: Phase;
  stream?: StreamState;
  streamStopped: boolean;
  router?: RouterState;
  retry?: RetryState;
  /** the latest attempt (`<stream>/upstream:<n>`) and its state */
  attempt?: string;
  attemptState?: UpstreamRequestState;
  /** how far routing got: the router's states and the route / cluster / host facts */
  routed: 'decoding' | 'route' | 'cluster';
}

export function initialPhaseState(): PhaseState {
  return { phase: 'decoding', streamStopped: false, routed: 'decoding' };
}

const ROUTED_ORDER = { decoding: 0, route: 1, cluster: 2 } as const;

/** Applies one event of the request to its phase state (mutates it) and returns the phase after it. */
export function foldPhase(s: PhaseState, e: PhaseStep): Phase {
  switch (e.machine) {
    case 'stream':
      if (e.state !== undefined) s.stream = e.state as StreamState;
      if (e.type === 'stop') s.streamStopped = true;
      if (e.fact === 'route.match') routedTo(s, 'route');
      break;
    case 'router':
      if (e.state !== undefined) {
        s.router = e.state as RouterState;
        if (s.router === 'matching_route' || s.router === 'route_matched') routedTo(s, 'route');
        else if (s.router === 'cluster_selected' || s.router === 'host_selected') routedTo(s, 'cluster');
      }
      if (e.fact === 'cluster.selected' || e.fact === 'lb.host_selected') routedTo(s, 'cluster');
      break;
    case 'retry':
      if (e.state !== undefined) s.retry = e.state as RetryState;
      break;
    case 'upstream_request':
      // A mirrored copy (`<stream>/shadow:<n>/upstream:1`) is not one of the request's attempts.
      if (e.actor === undefined || e.actor.includes('/shadow:') || e.state === undefined) break;
      if (e.type === 'spawn' || s.attempt === undefined) s.attempt = e.actor;
      if (e.actor === s.attempt) s.attemptState = e.state as UpstreamRequestState;
      break;
  }
  s.phase = phaseOf(s);
  return s.phase;
}

function routedTo(s: PhaseState, to: PhaseState['routed']) {
  if (ROUTED_ORDER[to] > ROUTED_ORDER[s.routed]) s.routed = to;
}

function phaseOf(s: PhaseState): Phase {
  if (s.stream === 'reset') return 'reset';
  if (s.stream === 'complete' || s.streamStopped) return 'complete';
  if (s.stream === 'encoding_headers' || s.stream === 'encoding_body') return 'encoding';
  // The retry decided to retry: the back-off runs from here, while the failed attempt winds down.
  if (s.retry === 'backoff') return 'backoff';
  if (s.attemptState !== undefined && s.attemptState !== 'done' && s.attemptState !== 'failed') return s.attemptState === 'pending_pool' ? 'pool_pending' : 'upstream';
  switch (s.router) {
    case 'retry_backoff':
      return 'backoff';
    case 'upstream_pending':
    case 'response_started':
    case 'upgraded':
      return 'upstream';
    // The router is done (a local reply, a reset): the request stays where that happened
    // until the response starts back through the encoders.
    case 'local_reply':
    case 'reset':
    case 'complete':
      return s.phase;
  }
  return s.routed;
}

/** The request list's name for a phase: routing is one step there. */
export function listPhase(p: Phase): RequestPhase {
  return p === 'route' || p === 'cluster' ? 'routing' : p;
}
