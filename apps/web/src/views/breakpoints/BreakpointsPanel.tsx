import { Fragment, useEffect, useMemo, useReducer, useState, type ReactNode } from 'react';
import type { Breakpoint, StepAckDetail, SteppableMachine } from '@proxyscope/protocol';
import type { EventStore, ServerConnection } from '../../model/types';
import {
  breakpointFromDraft,
  describeCondition,
  describeHeld,
  describeStep,
  EMPTY_DRAFT,
  EMPTY_STEP_STATE,
  envoyOf,
  MACHINES,
  PRESETS,
  sameBreakpoint,
  statesOf,
  toggleBreakpoint,
  type ConditionDraft,
  type StepState,
} from './step-state';
import './breakpoints.css';
import { serverErrorText } from '../../net/server-error';
import { ArrowRightIcon } from '../../app/icons';

interface Props {
  store: EventStore;
  /** the server connection's step mode (useStepMode) */
  mode: StepMode;
  selected: number | null;
  onSelect(stream: number | null): void;
}

/** One step as the server acknowledged it: the panel phrases it with the names it knows. */
export interface StepRecord {
  stream: number;
  detail: Partial<StepAckDetail> | undefined;
}

/** Steps the log keeps, newest first. */
const STEP_LOG_LENGTH = 12;

/** Step mode as the server tells it, and the messages that drive it. */
export interface StepMode {
  /** a live server that accepts step mode is connected */
  enabled: boolean;
  /** false: there is no live server at all (a recording) */
  live: boolean;
  state: StepState;
  /** the latest steps, newest first, with what each produced */
  steps: readonly StepRecord[];
  error: string | null;
  setBreakpoints(breakpoints: Breakpoint[], pauseAll?: boolean): void;
  step(stream: number): void;
  resume(stream?: number): void;
}

/**
 * Step mode for one connection: `hello.step` when it opened, then each `step_state`; the
 * panel and the N shortcut share it, so both show what the latest step did.
 */
export function useStepMode(connection: ServerConnection | null, initial: StepState | null | undefined): StepMode {
  const [state, setState] = useState<StepState>(initial ?? EMPTY_STEP_STATE);
  const [steps, setSteps] = useState<readonly StepRecord[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setState(initial ?? EMPTY_STEP_STATE), [initial]);
  useEffect(() => connection?.on('step_state', ({ breakpoints, pauseAll, held }) => setState({ breakpoints, pauseAll, held })), [connection]);
  return useMemo(() => {
    const enabled = !!connection?.connected && connection.controls.includes('breakpoints');
    const act = (run: () => Promise<void>) => {
      setError(null);
      run().catch((err: unknown) => setError(serverErrorText(err)));
    };
    return {
      enabled,
      live: connection !== null,
      state,
      steps,
      error,
      setBreakpoints: (breakpoints, pauseAll = state.pauseAll) =>
        act(async () => {
          await connection!.request({ type: 'breakpoints', breakpoints, pauseAll });
        }),
      step: (stream) =>
        act(async () => {
          const ack = await connection!.request({ type: 'step', stream });
          const record: StepRecord = { stream, detail: ack.detail as Partial<StepAckDetail> | undefined };
          setSteps((old) => [record, ...old].slice(0, STEP_LOG_LENGTH));
        }),
      resume: (stream) =>
        act(async () => {
          await connection!.request(stream === undefined ? { type: 'resume' } : { type: 'resume', stream });
        }),
    };
  }, [connection, state, steps, error]);
}

/**
 * Words with `config names` set in code type and each → drawn as an icon: the bundled
 * Chromium's one font draws the arrow glyph as a blank. The glyph stays in the text,
 * visually hidden, so copying and reading it aloud still say "→".
 */
function withCode(text: string): ReactNode {
  const parts = text.split('`');
  return parts.map((part, i) => (i % 2 === 1 ? <code key={i}>{withArrows(part)}</code> : <Fragment key={i}>{withArrows(part)}</Fragment>));
}

function withArrows(text: string): ReactNode {
  const pieces = text.split('→');
  if (pieces.length === 1) return text;
  return pieces.map((piece, i) => (
    <Fragment key={i}>
      {i > 0 && (
        <>
          <ArrowRightIcon />
          <span className="psb-sr">→</span>
        </>
      )}
      {piece}
    </Fragment>
  ));
}

/**
 * Step mode: breakpoints on a request's machine states, pause all, and the requests the
 * server holds, each with Step (one state change) and Resume. The server owns the state;
 * this panel shows what `step_state` says and sends `breakpoints` / `step` / `resume`.
 */
export function BreakpointsPanel({ store, mode, selected, onSelect }: Props) {
  const { state, error, steps, setBreakpoints, step, resume } = mode;
  const [machine, setMachine] = useState<SteppableMachine>('router');
  const [stateName, setStateName] = useState<string>('route_matched');
  const [draft, setDraft] = useState<ConditionDraft>(EMPTY_DRAFT);
  const [whenOpen, setWhenOpen] = useState(false);
  const [, bump] = useReducer((n: number) => n + 1, 0);

  useEffect(() => store.subscribe(bump), [store]);
  const hostNames = useMemo(() => new Map(store.demoHosts.map((h) => [h.address, h.name])), [store, store.demoHosts]);
  const topology = store.topology;
  const names = useMemo(
    () => ({
      routes: [...new Set((topology?.routeConfigs ?? []).flatMap((rc) => rc.virtualHosts.flatMap((v) => v.routes.map((r) => r.name)).filter(Boolean)))],
      clusters: (topology?.clusters ?? []).map((c) => c.name),
      hosts: store.demoHosts.length > 0 ? store.demoHosts.map((h) => h.name) : [...new Set((topology?.clusters ?? []).flatMap((c) => c.hosts))],
    }),
    [topology, store.demoHosts],
  );

  if (!mode.enabled) {
    return (
      <div className="psb-panel" data-testid="breakpoints-panel">
        <p className="psb-note">
          Step mode holds live requests at a state of their machines. {mode.live ? 'This server does not accept it' : 'There is no live server'}: with a
          recording, use the time controls to step through events instead.
        </p>
      </div>
    );
  }

  const heldSelected = state.held.find((h) => h.stream === selected);
  const candidate = breakpointFromDraft(machine, stateName, draft);
  const candidateSet = state.breakpoints.some((x) => sameBreakpoint(x, candidate));
  const field = (key: Exclude<keyof ConditionDraft, 'once'>, label: string, placeholder: string, list?: string) => (
    <label className="psb-when-field">
      <span>{label}</span>
      <input
        type="text"
        aria-label={`when ${label}`}
        value={draft[key]}
        placeholder={placeholder}
        list={list}
        spellCheck={false}
        onChange={(e) => setDraft((d) => ({ ...d, [key]: e.target.value }))}
      />
    </label>
  );
  const conditionFields = (['route', 'cluster', 'host', 'pathPrefix', 'headerName'] as const).filter((k) => draft[k].trim() !== '').length + (draft.once ? 1 : 0);
  return (
    <div className="psb-panel" data-testid="breakpoints-panel">
      {error && (
        <p className="psb-error" role="alert">
          {error}
        </p>
      )}
      <section>
        <h3>Breakpoints</h3>
        {state.breakpoints.length === 0 ? (
          <p className="psb-note">None. New requests run freely.</p>
        ) : (
          <ul className="psb-list" data-testid="breakpoint-list">
            {state.breakpoints.map((bp) => {
              const when = describeCondition(bp);
              return (
                <li key={`${bp.machine}.${bp.state}.${when}`} data-when={when}>
                  <code>
                    {bp.machine} · {bp.state}
                  </code>
                  {when && <span className="psb-cond" title="holds only requests that match all of these">when {when}</span>}
                  <small title="the Envoy function this state mirrors">{envoyOf(bp.machine, bp.state)}</small>
                  <button type="button" aria-label={`remove breakpoint ${bp.machine} ${bp.state}${when ? ` when ${when}` : ''}`} onClick={() => setBreakpoints(state.breakpoints.filter((x) => !sameBreakpoint(x, bp)))}>
                    ×
                  </button>
                </li>
              );
            })}
          </ul>
        )}
        <form
          className="psb-add"
          onSubmit={(e) => {
            e.preventDefault();
            setBreakpoints(toggleBreakpoint(state.breakpoints, candidate));
          }}
        >
          <div className="psb-row">
            <select aria-label="machine" value={machine} onChange={(e) => {
              const m = e.target.value as SteppableMachine;
              setMachine(m);
              setStateName(statesOf(m)[0] ?? '');
            }}>
              {MACHINES.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
            <select aria-label="state" value={stateName} onChange={(e) => setStateName(e.target.value)}>
              {statesOf(machine).map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
            <button type="submit">{candidateSet ? 'Remove' : 'Add breakpoint'}</button>
          </div>
          <details className="psb-when" open={whenOpen} onToggle={(e) => setWhenOpen(e.currentTarget.open)}>
            <summary>
              when… <span className="psb-note">{conditionFields > 0 ? describeCondition(candidate) : 'any request (optional: narrow it)'}</span>
            </summary>
            <div className="psb-when-grid">
              {field('route', 'route', 'api', 'psb-routes')}
              {field('cluster', 'cluster', 'web', 'psb-clusters')}
              {field('host', 'host', 'web-2 or 10.0.1.2:8080', 'psb-hosts')}
              {field('pathPrefix', 'path prefix', '/api/')}
              {field('headerName', 'header', 'x-user')}
              {field('headerValue', 'header value', 'any value')}
            </div>
            <div className="psb-row">
              <label>
                <input type="checkbox" checked={draft.once} onChange={(e) => setDraft((d) => ({ ...d, once: e.target.checked }))} /> only the next request (then the breakpoint goes)
              </label>
              {conditionFields > 0 && (
                <button type="button" onClick={() => setDraft(EMPTY_DRAFT)}>
                  clear
                </button>
              )}
            </div>
            <p className="psb-note">Checked where the request is held: the route is known from router route_matched, the cluster from cluster_selected, the host from host_selected.</p>
            <datalist id="psb-routes">{names.routes.map((n) => <option key={n} value={n} />)}</datalist>
            <datalist id="psb-clusters">{names.clusters.map((n) => <option key={n} value={n} />)}</datalist>
            <datalist id="psb-hosts">{names.hosts.map((n) => <option key={n} value={n} />)}</datalist>
          </details>
        </form>
        <div className="psb-row psb-presets">
          {PRESETS.map((p) => {
            const on = state.breakpoints.some((x) => sameBreakpoint(x, p.breakpoint));
            return (
              <button
                key={p.label}
                type="button"
                aria-pressed={on}
                className={on ? 'psb-on' : undefined}
                title={`${p.breakpoint.machine} · ${p.breakpoint.state}`}
                onClick={() => setBreakpoints(toggleBreakpoint(state.breakpoints, p.breakpoint))}
              >
                {p.label}
              </button>
            );
          })}
        </div>
        <label className="psb-row">
          <input type="checkbox" checked={state.pauseAll} onChange={(e) => setBreakpoints(state.breakpoints, e.target.checked)} /> Pause all new requests
        </label>
      </section>
      <section>
        <h3>
          Held requests <span className="psb-count">{state.held.length}</span>
          {state.held.length > 1 && (
            <button type="button" onClick={() => resume()}>
              Resume all
            </button>
          )}
        </h3>
        {steps.length > 0 && (
          <ol className="psb-log" data-testid="step-log" aria-label="step log, newest first">
            {steps.map((rec, i) => {
              const entry = describeStep(rec.stream, rec.detail, { hostNames, topology });
              return (
                <li key={steps.length - i} data-stream={rec.stream} data-testid={i === 0 ? 'last-step' : undefined} className={i === 0 ? 'psb-log-new' : undefined}>
                  <strong>#{rec.stream}</strong>{' '}
                  {entry.words.map((w, k) => (
                    <span key={k} className="psb-log-words">
                      {k > 0 && ' · '}
                      {withCode(w)}
                    </span>
                  ))}
                  {entry.change && <small>{withArrows(entry.change)}</small>}
                </li>
              );
            })}
          </ol>
        )}
        {state.held.length === 0 ? (
          <p className="psb-note">Nothing is held. A request that reaches a breakpoint waits here, with its timers frozen.</p>
        ) : (
          <table className="psb-held" data-testid="held-requests">
            <tbody>
              {state.held.map((h) => {
                const summary = store.requestAt(h.stream, store.length - 1);
                return (
                  <tr
                    key={h.stream}
                    data-stream={h.stream}
                    data-path={summary?.path}
                    className={h.stream === selected ? 'psb-selected' : undefined}
                    tabIndex={0}
                    aria-selected={h.stream === selected}
                    onClick={() => onSelect(h.stream)}
                    onKeyDown={(e) => {
                      // Enter or Space selects, so N steps it, without a mouse
                      if (e.target === e.currentTarget && (e.key === 'Enter' || e.key === ' ')) {
                        e.preventDefault();
                        // Space here selects; it must not also play or pause the timeline
                        e.stopPropagation();
                        onSelect(h.stream);
                      }
                    }}
                  >
                    <td>
                      <strong>#{h.stream}</strong> {summary ? `${summary.method ?? ''} ${summary.path ?? ''}` : ''}
                      <div className="psb-where">
                        {describeHeld(h)}
                        <small>{envoyOf(h.machine, h.state)}</small>
                      </div>
                      {h.by && describeCondition(h.by) && <div className="psb-note">held by the breakpoint when {describeCondition(h.by)}</div>}
                      <div className="psb-note">
                        {h.parked} waiting · {h.timers} frozen timer{h.timers === 1 ? '' : 's'}
                      </div>
                    </td>
                    <td className="psb-actions">
                      <button type="button" onClick={(e) => { e.stopPropagation(); step(h.stream); }} title="one state change">
                        Step
                      </button>
                      <button type="button" onClick={(e) => { e.stopPropagation(); resume(h.stream); }}>
                        Resume
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        {heldSelected && <p className="psb-note">The selected request is held: press <kbd>n</kbd> to step it.</p>}
      </section>
    </div>
  );
}
