import { useLayoutEffect, useRef, useState } from 'react';
import type { SimulationInfo } from '@proxyscope/protocol';
import type { ConnectionState } from '../net/live-connection';
import type { ServerConnection, SourceMode } from '../model/types';
import { SimulationBar } from './SimulationBar';
import { RecordButton } from './RecordButton';
import { MoonIcon, SaveIcon, SunIcon } from './icons';
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
  /** what the workbench column shows, if it is open */
  bench?: 'playground' | 'list' | 'lesson' | null;
  onOpenBench?(kind: 'playground' | 'lessons'): void;
  /** the engine runs in this page: save what it has run as a trace file */
  onDownloadTrace?(): void;
  canDownload?: boolean;
  /** a ProxyScope server served this page: a run in the page can give way to it again */
  served?: boolean;
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

/** What a run in the page models as every simulation does, and what it does not. */
const IN_PAGE_NOTE =
  'The engine runs in this page (a Web Worker) on virtual time, with the machines, config loader and scenario format of proxyscope simulate. ' +
  'As in every simulation, TLS is a simulated handshake (version and cipher, no cryptography) and the compressor filter has no compression library: it passes bodies through and says so in the trace.';

/** what stays in the header when its buttons do not all fit: the way into the lessons and the playground */
const STAY: ReadonlySet<string> = new Set(['lessons', 'playground']);

export function Header({ mode, connectionState, fileName, simulation, connection, theme, onToggleTheme, onOpenFile, onConnect, onReconnect, onHelp, inPage = false, bench = null, onOpenBench, onDownloadTrace, canDownload = false, served = false }: Props) {
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
        <span className="ps-conn" data-testid="connection" role="status" title={inPage ? IN_PAGE_NOTE : conn.text}>
          <span className={`ps-dot ${conn.dot}`} />
          <span className="ps-conn-text">{conn.text}</span>
          {connectionState?.status === 'waiting' && !inPage && (
            <button className="ps-btn" onClick={onReconnect}>
              Reconnect
            </button>
          )}
          {inPage && served && (
            <button className="ps-btn" onClick={onConnect} data-testid="back-to-server" title="Stop the run in this page and watch the server this page came from again">
              Back to server
            </button>
          )}
        </span>
      )}
      <PhaseLegend />
      {/* recording goes through the server's /recording endpoints, which a page on its own has not */}
      {fileName === null && !inPage && <RecordButton connection={connection ?? null} />}
      <HeaderActions
        stay={STAY}
        items={[
          ...(fileName === null && inPage && onDownloadTrace
            ? [
                <button key="save" className="ps-btn" onClick={onDownloadTrace} disabled={!canDownload} data-testid="download-trace" title={canDownload ? 'Save this run as a trace file (.ndjson), to replay or share' : 'Nothing to save yet, or this page let the run’s oldest events go'}>
                  <SaveIcon /> Save trace
                </button>,
              ]
            : []),
          ...(onOpenBench
            ? [
                <button key="lessons" className="ps-btn" onClick={() => onOpenBench('lessons')} aria-pressed={bench === 'list' || bench === 'lesson'} data-testid="open-lessons" title="Guided lessons on Envoy's request path, run in this page">
                  Lessons
                </button>,
                <button key="playground" className="ps-btn" onClick={() => onOpenBench('playground')} aria-pressed={bench === 'playground'} data-testid="open-playground" title="Edit an Envoy config and a scenario, run them in this page, share a link">
                  Playground
                </button>,
              ]
            : []),
          <button key="open" className="ps-btn" onClick={onOpenFile} title="Open a .ndjson or .ndjson.gz trace (or drop it on the page)">
            Open a trace file
          </button>,
          <button key="theme" className="ps-btn" onClick={onToggleTheme} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>
            {theme === 'dark' ? <SunIcon /> : <MoonIcon />} {theme === 'dark' ? 'Light' : 'Dark'}
          </button>,
          <button key="help" className="ps-btn" onClick={onHelp} aria-label="Keyboard shortcuts">
            ?
          </button>,
        ]}
      />
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

/**
 * The header's buttons on the right. When the header cannot hold them beside a
 * simulation's controls (1280 px with the engine in the page), the ones not marked to stay
 * go in a "More" menu, and if that is not enough all of them do, rather than off the edge
 * of the screen, where no one could reach them.
 */
function HeaderActions({ items, stay }: { items: React.ReactElement[]; stay: ReadonlySet<string> }) {
  const box = useRef<HTMLSpanElement>(null);
  // 0: all shown; 1: only the ones that stay, the rest in More; 2: everything in More
  const [level, setLevel] = useState(0);
  const overflowedAt = useRef<number[]>([]);
  useLayoutEffect(() => {
    const header = box.current?.parentElement;
    if (!header) return;
    const check = () => {
      // The connection's text gives way before the header overflows: it being cut counts
      // too, for the first step (the way into the lessons and the playground stays).
      if (level === 2) return;
      const conn = header.querySelector('.ps-conn');
      const cut = () => conn !== null && conn.scrollWidth > conn.clientWidth + 1;
      if (header.scrollWidth > header.clientWidth + 1 || (level === 0 && cut())) {
        overflowedAt.current[level] = window.innerWidth;
        setLevel(level + 1);
      }
    };
    check();
    const observer = new ResizeObserver(check);
    observer.observe(header);
    // the header's content grows too (a simulation's controls arrive with hello); not its
    // text, which the simulation clock changes many times a second
    const mutations = new MutationObserver(check);
    mutations.observe(header, { childList: true, subtree: true });
    const onResize = () => {
      if (level > 0 && window.innerWidth > overflowedAt.current[level - 1]! + 24) setLevel(level - 1);
    };
    window.addEventListener('resize', onResize);
    return () => {
      observer.disconnect();
      mutations.disconnect();
      window.removeEventListener('resize', onResize);
    };
  }, [level, items.length]);
  const shown = level === 0 ? items : level === 1 ? items.filter((i) => stay.has(String(i.key))) : [];
  const more = level === 0 ? [] : items.filter((i) => !shown.includes(i));
  return (
    <span className="ps-header-actions" ref={box}>
      {shown}
      {more.length > 0 && (
        <details className="ps-legend-pop ps-more" data-testid="header-more">
          <summary className="ps-btn">More</summary>
          <div className="ps-more-list">{more}</div>
        </details>
      )}
    </span>
  );
}
