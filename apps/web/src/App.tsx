import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { TopologyView } from './views/topology/TopologyView';
import { MachineView } from './views/machines/MachineView';
import { StatsView } from './views/stats/StatsView';
import { ControlsPanel } from './views/controls/ControlsPanel';
import { BreakpointsPanel, useStepMode } from './views/breakpoints/BreakpointsPanel';
import type { ViewProps } from './model/types';
import { useSource } from './app/source';
import { useStoreVersion } from './app/use-store';
import { useTimeControl } from './app/time-control';
import { readUrlState, writeUrlState } from './app/url-state';
import { Header } from './app/Header';
import { TimeBar } from './app/TimeBar';
import { RequestList } from './app/RequestList';
import { RequestDetail } from './app/RequestDetail';
import { HelpOverlay } from './app/HelpOverlay';
import { FileDrop, LoadBanner } from './app/FileOpen';
import { useTheme } from './app/theme';
import type { SimulationInfo } from '@proxyscope/protocol';

type SideTab = 'request' | 'machines' | 'step' | 'controls';
const TAB_LABELS: Record<Exclude<SideTab, 'request'>, string> = { machines: 'machines', step: 'step mode', controls: 'controls' };

export function App() {
  const source = useSource();
  const { store, connection, connectionState, file } = source;
  const version = useStoreVersion(store);
  // A simulation streams like a live proxy: the cursor can follow its newest event.
  const canFollow = file === null && (store.mode === 'live' || store.mode === 'simulation');
  const time = useTimeControl(store, version, canFollow);
  const [selected, setSelected] = useState<number | null>(() => readUrlState().req);
  const [help, setHelp] = useState(false);
  const [tab, setTab] = useState<SideTab>('request');
  const [theme, toggleTheme] = useTheme();
  const fileInput = useRef<HTMLInputElement>(null);
  const pendingSeq = useRef<number | null>(readUrlState().seq);
  const liveConnection = connection?.connected ? connection : null;
  const simulation = useLastSimulation(file === null && connectionState?.status === 'open' ? connectionState.hello.simulation : undefined, store.mode === 'simulation' && file === null);
  const stepMode = useStepMode(liveConnection, connectionState?.status === 'open' ? connectionState.hello.step : null);
  const stepState = stepMode.state;
  const heldStreams = useMemo(() => new Set(stepState.held.map((h) => h.stream)), [stepState.held]);
  const heldSelected = selected !== null && heldStreams.has(selected);

  // A shared address names an event: go there once the source has it (or has everything).
  const historyDone = file ? file.result !== null : connectionState?.status === 'open' && connectionState.historyDone;
  useEffect(() => {
    const seq = pendingSeq.current;
    if (seq === null || store.length === 0) return;
    if (store.seqAt(store.length - 1) >= seq || historyDone) {
      pendingSeq.current = null;
      time.seek(store.indexAtOrBefore(seq));
    }
  }, [store, version, historyDone, time]);

  // A new source starts with no selection unless the address names one.
  const firstGeneration = useRef(source.generation);
  useEffect(() => {
    if (source.generation !== firstGeneration.current && file) setSelected(null);
  }, [source.generation, file]);

  const cursorSeq = time.cursor >= 0 && time.cursor < store.length ? store.seqAt(time.cursor) : null;
  useEffect(() => {
    const timer = setTimeout(() => {
      if (pendingSeq.current !== null) return;
      writeUrlState({ req: selected, seq: time.following ? null : cursorSeq });
    }, 250);
    return () => clearTimeout(timer);
  }, [selected, cursorSeq, time.following]);

  const onSelect = useCallback((stream: number | null) => setSelected(stream), []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (help) {
        if (e.key === 'Escape' || e.key === '?') {
          e.preventDefault();
          setHelp(false);
        }
        return;
      }
      switch (e.key) {
        case ' ':
          if (target?.tagName === 'BUTTON') return;
          e.preventDefault();
          time.togglePlay();
          break;
        case 'ArrowLeft':
        case 'ArrowRight': {
          e.preventDefault();
          const delta = e.key === 'ArrowLeft' ? -1 : 1;
          if (e.shiftKey) time.stepRequest(delta, selected);
          else time.step(delta);
          break;
        }
        case 'l':
        case 'L':
          time.goLive();
          break;
        case '?':
          setHelp(true);
          break;
        case 'Escape':
          setSelected(null);
          break;
        case 'n':
        case 'N':
          // Step mode: the selected request is held by the server; let it make one state change.
          if (stepMode.enabled && heldSelected && selected !== null) stepMode.step(selected);
          break;
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [help, time, selected, stepMode, heldSelected]);

  const viewProps: ViewProps = { store, cursor: time.cursor, selected, onSelect };
  const openPicker = () => fileInput.current?.click();
  // While a file loads, the views wait: redrawing them for every chunk would slow the load.
  const loading = file !== null && file.result === null;
  const noServer = file === null && ((source.standalone && connection === null) || (connectionState?.status === 'waiting' && !connectionState.everConnected));

  return (
    <div className="ps-app" data-theme-mode={theme}>
      <Header
        mode={file ? 'file' : store.mode}
        connectionState={file ? null : connectionState}
        fileName={file?.name ?? null}
        simulation={simulation}
        connection={connection}
        theme={theme}
        onToggleTheme={toggleTheme}
        onOpenFile={openPicker}
        onConnect={source.connectLive}
        onReconnect={source.reconnect}
        onHelp={() => setHelp(true)}
      />
      <div>
        {file && <LoadBanner file={file} events={store.length} />}
        {source.problems.length > 0 && (
          <div className="ps-banner error" role="alert" data-testid="problems">
            <div>
              {source.problems.map((p, i) => (
                <div key={i}>{p}</div>
              ))}
            </div>
            <button className="ps-btn close" onClick={source.dismissProblems}>
              Dismiss
            </button>
          </div>
        )}
        <TimeBar store={store} version={loading ? -1 : version} time={time} selected={selected} canFollow={canFollow} />
      </div>
      <main className="ps-main">
        <section className="ps-area" aria-label="Topology">
          <h2>Topology</h2>
          <div className="ps-area-body">
            {noServer && store.length === 0 ? (
              <div className="ps-empty" data-testid="no-server">
                {connectionState?.status === 'waiting' ? (
                  <>
                    <strong>No ProxyScope server is reachable from this page.</strong>
                    <span>
                      The live stream at <span className="mono">/ws</span> did not answer ({connectionState.reason}). Start one with{' '}
                      <span className="mono">npm start</span>, or look at a recorded trace.
                    </span>
                  </>
                ) : (
                  <>
                    <strong>This copy of ProxyScope has no server behind it.</strong>
                    <span>Open a recorded trace to replay it here: everything runs in this page.</span>
                  </>
                )}
                <button className="ps-btn primary" onClick={openPicker}>
                  Open a trace file
                </button>
                {source.standalone && connection === null && (
                  <button className="ps-btn" onClick={source.connectLive} data-testid="connect-anyway">
                    Connect to a live server on this host
                  </button>
                )}
                <span style={{ fontSize: 12 }}>…or drop a .ndjson / .ndjson.gz file anywhere on the page.</span>
              </div>
            ) : loading ? (
              <div className="ps-empty">Reading {file.name}…</div>
            ) : (
              <TopologyView {...viewProps} />
            )}
          </div>
        </section>
        <aside className="ps-side ps-area" aria-label="Details">
          <h2 className="ps-tabs" role="tablist">
            {(['request', 'machines', 'step', 'controls'] as const).map((t) => (
              <button key={t} className="ps-tab" role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
                {t === 'request' ? `Request${selected !== null ? ` ${selected}` : ''}` : TAB_LABELS[t]}
                {t === 'step' && stepState.held.length > 0 && <span className="ps-tab-badge" data-testid="held-count">{stepState.held.length}</span>}
              </button>
            ))}
          </h2>
          <div className="ps-area-body">
            {loading ? null : tab === 'request' &&
              (selected !== null ? (
                <RequestDetail store={store} version={version} cursor={time.cursor} stream={selected} onSeek={time.seek} />
              ) : (
                <div className="ps-empty">Select a request in the list to see its phases and every machine event.</div>
              ))}
            {!loading && tab === 'machines' && <MachineView {...viewProps} />}
            {!loading && tab === 'step' && <BreakpointsPanel store={store} mode={stepMode} selected={selected} onSelect={onSelect} />}
            {!loading && tab === 'controls' && <ControlsPanel connection={liveConnection} store={store} onSelect={onSelect} />}
          </div>
        </aside>
        <section className="ps-area" aria-label="Requests" style={{ gridColumn: 1, gridRow: 2 }}>
          {loading ? <div className="ps-empty">The requests appear when the file is read.</div> : <RequestList store={store} version={version} cursor={time.cursor} selected={selected} onSelect={onSelect} held={heldStreams} />}
        </section>
      </main>
      <section className="ps-stats" aria-label="Stats">
        {!loading && <StatsView {...viewProps} />}
      </section>
      <input
        ref={fileInput}
        type="file"
        accept=".ndjson,.gz,.json,application/x-ndjson,application/gzip"
        style={{ display: 'none' }}
        data-testid="file-input"
        onChange={(e) => {
          const picked = e.target.files?.[0];
          if (picked) source.openFile(picked);
          e.target.value = '';
        }}
      />
      <FileDrop onFile={source.openFile} />
      {help && <HelpOverlay onClose={() => setHelp(false)} />}
    </div>
  );
}

/** The simulation the server said hello with; kept while the page reconnects to it. */
function useLastSimulation(current: SimulationInfo | undefined, isSimulation: boolean): SimulationInfo | null {
  const last = useRef<SimulationInfo | null>(null);
  if (current) last.current = current;
  if (!isSimulation) last.current = null;
  return last.current;
}
