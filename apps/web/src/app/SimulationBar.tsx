import { useCallback, useEffect, useState } from 'react';
import type { ClientMessage, SimClock, SimSpeed, SimulationInfo } from '@proxyscope/protocol';
import type { ServerConnection } from '../model/types';
import { PauseIcon, PlayIcon, StepForwardIcon } from './icons';

/**
 * The header's part for `proxyscope simulate --serve`: a SIMULATION badge with the
 * scenario and its seed, the virtual clock as the server announces it (`clock`
 * messages), and the controls that drive it: run / pause, step to the next scheduled
 * event, step 100 ms, and the speed (1x, 10x, max). These move the simulation's virtual
 * time on the server; the time bar below still moves only this page's cursor through
 * what has happened.
 */

interface Props {
  info: SimulationInfo;
  connection: ServerConnection | null;
}

type SimClockAction = Extract<ClientMessage, { type: 'sim_clock' }>;
/** one of the sim_clock messages, without type and id (Omit over each member of the union) */
type SimClockBody = SimClockAction extends infer M ? (M extends unknown ? Omit<M, 'type' | 'id'> : never) : never;
const SPEEDS: readonly SimSpeed[] = [1, 10, 'max'];

/** `t = 12.345 s virtual`: ms with three decimals of seconds, as the trace's times are. */
export function formatVirtual(t: number): string {
  return `t = ${(t / 1000).toFixed(3)} s virtual`;
}

/** The clock from `hello`, then from every `clock` message (and the acks of our own controls). */
export function useSimClock(info: SimulationInfo, connection: ServerConnection | null): SimClock {
  const [clock, setClock] = useState<SimClock>(info.clock);
  useEffect(() => setClock(info.clock), [info]);
  useEffect(() => {
    if (!connection) return;
    // the clock may have moved (or the run ended) between hello and this view's first render
    if (connection.lastClock) setClock(connection.lastClock);
    return connection.on('clock', ({ type: _type, ...next }) => setClock(next));
  }, [connection]);
  return clock;
}

export function SimulationBar({ info, connection }: Props) {
  const clock = useSimClock(info, connection);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const usable = connection !== null && connection.connected && connection.controls.includes('sim_clock');

  const send = useCallback(
    (message: SimClockBody) => {
      if (!connection) return;
      setBusy(true);
      connection
        .request({ type: 'sim_clock', ...message } as SimClockAction)
        .then(() => setProblem(null))
        .catch((err: Error) => setProblem(err.message))
        .finally(() => setBusy(false));
    },
    [connection],
  );

  const running = !clock.paused && !clock.finished;
  const state = clock.finished ? 'run finished' : clock.paused ? 'paused' : clock.speed === 'max' ? 'running at max speed' : `running at ${clock.speed}x`;
  const disabled = !usable || clock.finished;
  return (
    <span className="ps-sim" role="group" aria-label="Simulation">
      <span className="ps-sim-badge" data-testid="sim-badge" title={info.description ?? `scenario ${info.scenario}, seed ${info.seed}`}>
        <strong>SIMULATION</strong>
        <span className="ps-sim-scenario">{info.scenario}</span>
        <span className="ps-sim-seed">seed {info.seed}</span>
      </span>
      <span className="ps-sim-clock mono" data-testid="sim-clock" data-t={clock.t} data-state={clock.finished ? 'finished' : clock.paused ? 'paused' : 'running'} aria-live="off" title={`virtual time ${state}; the run lasts ${info.durationMs / 1000} s (+${info.graceMs / 1000} s grace)`}>
        {formatVirtual(clock.t)}
      </span>
      <button
        className="ps-btn ps-icon-btn"
        onClick={() => send({ action: running ? 'pause' : 'resume' })}
        disabled={disabled}
        data-testid="sim-play"
        aria-label={running ? 'Pause the simulation' : 'Run the simulation'}
        title={running ? 'Pause virtual time' : 'Run virtual time'}
      >
        {running ? <PauseIcon /> : <PlayIcon />}
      </button>
      <button
        className="ps-btn ps-icon-btn"
        onClick={() => send({ action: 'advance' })}
        disabled={disabled || busy}
        data-testid="sim-step"
        aria-label="Step to the next event"
        title={clock.nextEventT !== undefined ? `Run virtual time to the next scheduled event (t = ${(clock.nextEventT / 1000).toFixed(3)} s)` : 'Run virtual time to the next scheduled event'}
      >
        <StepForwardIcon />
      </button>
      <button className="ps-btn" onClick={() => send({ action: 'advance', ms: 100 })} disabled={disabled || busy} data-testid="sim-step-100" title="Run virtual time 100 ms on">
        +100 ms
      </button>
      <span className="ps-sim-speeds" role="radiogroup" aria-label="Simulation speed">
        {SPEEDS.map((s) => (
          <button
            key={String(s)}
            className="ps-btn"
            role="radio"
            aria-checked={clock.speed === s}
            disabled={!usable}
            onClick={() => send({ action: 'speed', speed: s })}
            data-testid={`sim-speed-${s}`}
            title={s === 'max' ? 'As fast as the server and this page can go' : `${s} times real time`}
          >
            {s === 'max' ? 'max' : `${s}x`}
          </button>
        ))}
      </span>
      <span className="ps-sim-state" data-testid="sim-state">
        {state}
      </span>
      {problem && (
        <span className="ps-sim-problem" role="alert" title={problem}>
          {problem}
        </span>
      )}
    </span>
  );
}
