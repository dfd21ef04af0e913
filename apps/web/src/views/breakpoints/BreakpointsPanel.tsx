import { useEffect, useMemo, useReducer, useState } from 'react';
import type { Breakpoint, SteppableMachine } from '@proxyscope/protocol';
import type { EventStore, ServerConnection } from '../../model/types';
import { describeHeld, EMPTY_STEP_STATE, envoyOf, MACHINES, PRESETS, sameBreakpoint, statesOf, toggleBreakpoint, type StepState } from './step-state';
import './breakpoints.css';
import { serverErrorText } from '../../net/server-error';

interface Props {
  store: EventStore;
  /** the server connection's step mode (useStepMode) */
  mode: StepMode;
  selected: number | null;
  onSelect(stream: number | null): void;
}

/** Step mode as the server tells it, and the messages that drive it. */
export interface StepMode {
  /** a live server that accepts step mode is connected */
  enabled: boolean;
  /** false: there is no live server at all (a recording) */
  live: boolean;
  state: StepState;
  /** what the latest step did, in words */
  lastStep: string | null;
  error: string | null;
  setBreakpoints(breakpoints: Breakpoint[], pauseAll?: boolean): void;
  step(stream: number): void;
  resume(stream?: number): void;
}

function describeStep(stream: number, detail: Record<string, unknown> | undefined): string {
  const d = detail as { transitions?: number; ran?: string; ended?: boolean } | undefined;
  if (d?.ended) return `#${stream} ended`;
  if (d?.transitions) return `#${stream}: one state change`;
  if (d?.ran === 'timer') return `#${stream}: fired its next timer`;
  return `#${stream} waits for the network: nothing to step yet`;
}

/**
 * Step mode for one connection: `hello.step` when it opened, then each `step_state`; the
 * panel and the N shortcut share it, so both show what the latest step did.
 */
export function useStepMode(connection: ServerConnection | null, initial: StepState | null | undefined): StepMode {
  const [state, setState] = useState<StepState>(initial ?? EMPTY_STEP_STATE);
  const [lastStep, setLastStep] = useState<string | null>(null);
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
      lastStep,
      error,
      setBreakpoints: (breakpoints, pauseAll = state.pauseAll) =>
        act(async () => {
          await connection!.request({ type: 'breakpoints', breakpoints, pauseAll });
        }),
      step: (stream) =>
        act(async () => {
          const ack = await connection!.request({ type: 'step', stream });
          setLastStep(describeStep(stream, ack.detail));
        }),
      resume: (stream) =>
        act(async () => {
          await connection!.request(stream === undefined ? { type: 'resume' } : { type: 'resume', stream });
        }),
    };
  }, [connection, state, lastStep, error]);
}

/**
 * Step mode: breakpoints on a request's machine states, pause all, and the requests the
 * server holds, each with Step (one state change) and Resume. The server owns the state;
 * this panel shows what `step_state` says and sends `breakpoints` / `step` / `resume`.
 */
export function BreakpointsPanel({ store, mode, selected, onSelect }: Props) {
  const { state, error, lastStep, setBreakpoints, step, resume } = mode;
  const [machine, setMachine] = useState<SteppableMachine>('router');
  const [stateName, setStateName] = useState<string>('route_matched');
  const [, bump] = useReducer((n: number) => n + 1, 0);

  useEffect(() => store.subscribe(bump), [store]);

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
            {state.breakpoints.map((bp) => (
              <li key={`${bp.machine}.${bp.state}`}>
                <code>
                  {bp.machine} · {bp.state}
                </code>
                <small title="the Envoy function this state mirrors">{envoyOf(bp.machine, bp.state)}</small>
                <button type="button" aria-label={`remove breakpoint ${bp.machine} ${bp.state}`} onClick={() => setBreakpoints(state.breakpoints.filter((x) => !sameBreakpoint(x, bp)))}>
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
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
          <button type="button" onClick={() => setBreakpoints(toggleBreakpoint(state.breakpoints, { machine, state: stateName }))}>
            {state.breakpoints.some((x) => sameBreakpoint(x, { machine, state: stateName })) ? 'Remove' : 'Add breakpoint'}
          </button>
        </div>
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
        {lastStep && <p className="psb-note" data-testid="last-step">{lastStep}</p>}
        {state.held.length === 0 ? (
          <p className="psb-note">Nothing is held. A request that reaches a breakpoint waits here, with its timers frozen.</p>
        ) : (
          <table className="psb-held" data-testid="held-requests">
            <tbody>
              {state.held.map((h) => {
                const summary = store.requestAt(h.stream, store.length - 1);
                return (
                  <tr key={h.stream} data-stream={h.stream} data-path={summary?.path} className={h.stream === selected ? 'psb-selected' : undefined} onClick={() => onSelect(h.stream)}>
                    <td>
                      <strong>#{h.stream}</strong> {summary ? `${summary.method ?? ''} ${summary.path ?? ''}` : ''}
                      <div className="psb-where">
                        {describeHeld(h)}
                        <small>{envoyOf(h.machine, h.state)}</small>
                      </div>
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
