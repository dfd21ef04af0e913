import { useLayoutEffect, useRef, useState } from 'react';
import type { SimulationInfo } from '@proxyscope/protocol';
import type { ConnectionState } from '../net/live-connection';
import type { ServerConnection, SourceMode } from '../model/types';
import { SimulationBar } from './SimulationBar';
import { RecordButton } from './RecordButton';
import { MoonIcon, SunIcon } from './icons';
import { PHASE_COLOURS } from './RequestDetail';

interface Props {
  mode: SourceMode | null;
  connectionState: ConnectionState | null;
  fileName: string | null;
  /** mode simulation: the scenario and its clock */
  simulation?: SimulationInfo | null;
  connection?: ServerConnection | null;
  theme: 'light' | 'dark';
  onToggleTheme(): void;
  onOpenFile(): void;
  onConnect(): void;
  onReconnect(): void;
  onHelp(): void;
  /** the engine runs in this page (a Web Worker), not behind a server */
  inPage?: boolean;
}

export function connectionText(state: ConnectionState | null, inPage = false): { dot: string; text: string } {
  if (inPage && state?.status === 'open') return { dot: 'open', text: state.historyDone ? 'engine in this page' : 'starting the engine in this page…' };
  if (inPage && state?.status !== 'waiting') return { dot: 'connecting', text: 'starting the engine in this page…' };
  if (!state) return { dot: '', text: 'no server connection' };
  switch (state.status) {
    case 'connecting':
      return { dot: 'connecting', text: state.attempt > 1 ? `connecting (attempt ${state.attempt})…` : 'connecting…' };
    case 'open':
      return { dot: 'open', text: state.historyDone ? `connected · ${state.hello.mode}` : 'connected · loading history…' };
    case 'waiting':
      return {
        dot: 'down',
        text: `${state.everConnected ? 'disconnected' : 'no server'}: ${state.reason}${state.retryInMs === null ? '' : `; retrying in ${Math.ceil(state.retryInMs / 1000)} s`}`,
      };
  }
}

export function Header({ mode, connectionState, fileName, simulation, connection, theme, onToggleTheme, onOpenFile, onConnect, onReconnect, onHelp, inPage = false }: Props) {
  const conn = connectionText(connectionState, inPage);
  return (
    <header className="ps-header">
      <span className="ps-brand">ProxyScope</span>
      {mode === 'simulation' && simulation ? (
        <SimulationBar info={simulation} connection={connection ?? null} />
      ) : (
        mode && (
          <span className={`ps-badge ${mode}`} data-testid="mode">
            {mode}
          </span>
        )
      )}
      {fileName !== null ? (
        <span className="ps-conn" title={fileName}>
          <span className="mono">{fileName}</span>
          <button className="ps-btn" onClick={onConnect}>
            Back to server
          </button>
        </span>
      ) : (
        <span className="ps-conn" data-testid="connection" role="status">
          <span className={`ps-dot ${conn.dot}`} />
          {conn.text}
          {connectionState?.status === 'waiting' && (
            <button className="ps-btn" onClick={onReconnect}>
              Reconnect
            </button>
          )}
        </span>
      )}
      <PhaseLegend />
      {/* recording goes through the server's /recording endpoints, which a page on its own has not */}
      {fileName === null && !inPage && <RecordButton connection={connection ?? null} />}
      <button className="ps-btn" onClick={onOpenFile} title="Open a .ndjson or .ndjson.gz trace (or drop it on the page)">
        Open a trace file
      </button>
      <button className="ps-btn" onClick={onToggleTheme} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>
        {theme === 'dark' ? <SunIcon /> : <MoonIcon />} {theme === 'dark' ? 'Light' : 'Dark'}
      </button>
      <button className="ps-btn" onClick={onHelp} aria-label="Keyboard shortcuts">
        ?
      </button>
    </header>
  );
}

function LegendItems() {
  return (
    <>
      {Object.entries(PHASE_COLOURS).map(([phase, colour]) => (
        <span key={phase}>
          <i style={{ background: colour }} />
          {phase}
        </span>
      ))}
    </>
  );
}

/**
 * The phase colours, on one or two lines in the space the header leaves. When even two
 * lines do not hold them (a simulation's controls take most of the header at 1280 px),
 * a "phases" button opens them as a list, rather than cutting the last ones off ("en…").
 */
function PhaseLegend() {
  const box = useRef<HTMLSpanElement>(null);
  const [compact, setCompact] = useState(false);
  // The window's width when the full legend last overflowed. Back to full only when the
  // window grows past it: the legend's own width changes with its neighbours (a running
  // simulation's clock text) and with its own mode, and judging by it flips the two modes
  // back and forth without end.
  const overflowedAt = useRef(0);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const check = () => {
      if (compact) return;
      if (el.scrollHeight > el.clientHeight + 1) {
        overflowedAt.current = window.innerWidth;
        setCompact(true);
      }
    };
    check();
    const observer = new ResizeObserver(check);
    observer.observe(el);
    const onResize = () => {
      if (compact && window.innerWidth > overflowedAt.current + 24) setCompact(false);
    };
    window.addEventListener('resize', onResize);
    return () => {
      observer.disconnect();
      window.removeEventListener('resize', onResize);
    };
  }, [compact]);
  return (
    <span className={compact ? 'ps-legend compact' : 'ps-legend'} ref={box} aria-label="Phase colours" data-testid="phase-legend">
      {compact ? (
        <details className="ps-legend-pop">
          <summary>
            {Object.values(PHASE_COLOURS).map((colour) => (
              <i key={colour} style={{ background: colour }} />
            ))}{' '}
            phases
          </summary>
          <div className="ps-legend-list">
            <LegendItems />
          </div>
        </details>
      ) : (
        <LegendItems />
      )}
    </span>
  );
}
