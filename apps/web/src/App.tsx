import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState, type CSSProperties } from 'react';
import { TopologyView, type OpenedNode } from './views/topology/TopologyView';
import { OpenedPanel, OpenedStrip, openedLabel, openedToUrl, useOpenedNode } from './views/hosts/opened';
import { MachineView } from './views/machines/MachineView';
import { StatsView } from './views/stats/StatsView';
import { ControlsPanel } from './views/controls/ControlsPanel';
import { BreakpointsPanel, useStepMode } from './views/breakpoints/BreakpointsPanel';
import type { ViewProps } from './model/types';
import { servedByProxyScope, useSource } from './app/source';
import { useStoreVersion } from './app/use-store';
import { useTimeControl } from './app/time-control';
import { readUrlState, useUrlStateSync } from './app/url-state';
import { Header } from './app/Header';
import { TimeBar } from './app/TimeBar';
import { RequestList } from './app/RequestList';
import { RequestDetail } from './app/RequestDetail';
import { RequestActions } from './app/RequestActions';
import { HelpOverlay } from './app/HelpOverlay';
import { FileDrop, LoadBanner } from './app/FileOpen';
import { useTheme } from './app/theme';
import { CollapseButton, PANEL_LIMITS, panelStyle, Splitter, usePanels, usePresenter } from './app/presenter';
import type { SimulationInfo } from '@proxyscope/protocol';
import { canDownloadTrace, downloadTrace } from './app/trace-download';
import { readBench, useRunFinished, type Bench } from './app/bench';
import type { LessonFocus } from './lessons/LessonPane';
import { writeLessonRequest } from './lessons/lesson-url';

// The workbench's panes bring CodeMirror, markdown and the bundled lessons: fetched when one opens.
const PlaygroundPane = lazy(() => import('./playground/PlaygroundPane').then((m) => ({ default: m.PlaygroundPane })));
const LessonPane = lazy(() => import('./lessons/LessonPane').then((m) => ({ default: m.LessonPane })));

const BENCH_LIMITS = [280, 1200] as const;
function benchWidth(bench: Bench | null): number {
  const w = window.innerWidth;
  return Math.round(bench?.kind === 'playground' ? Math.min(900, Math.max(420, w * 0.42)) : Math.min(480, Math.max(320, w * 0.26)));
}

type SideTab = 'request' | 'machines' | 'step' | 'controls';
const TAB_LABELS: Record<Exclude<SideTab, 'request'>, string> = { machines: 'machines', step: 'step mode', controls: 'controls' };

export function App() {
  const [opened0] = useState(() => readBench(window.location.search));
  // A lesson, a permalink and a playground with no server to watch start their own run.
  const [benchRuns] = useState(() => opened0.bench?.kind === 'lesson' || (opened0.bench?.kind === 'playground' && (opened0.link !== null || !servedByProxyScope())));
  const source = useSource({ deferStart: benchRuns });
  const [bench, setBench] = useState<Bench | null>(opened0.bench);
  const [benchW, setBenchW] = useState(() => benchWidth(opened0.bench));
  const benchDrag = useRef(0);
  const [focus, setFocus] = useState<LessonFocus | null>(null);
  const { store, connection, connectionState, file } = source;
  const version = useStoreVersion(store);
  // A simulation streams like a live proxy: the cursor can follow its newest event.
  const canFollow = file === null && (store.mode === 'live' || store.mode === 'simulation');
  const [presenter, setPresenter] = usePresenter();
  const [selected, setSelected] = useState<number | null>(() => readUrlState().req);
  // a host or cluster clicked in the topology: its panel takes the request's place
  const [opened, setOpened] = useOpenedNode();
  const time = useTimeControl(store, version, canFollow, presenter ? 'phase' : 'time', selected);
  // presenter mode plays by phase unless the presenter picks otherwise; the normal layout by time
  const { setPacing } = time;
  const pacedFor = useRef(presenter);
  useEffect(() => {
    if (pacedFor.current === presenter) return;
    pacedFor.current = presenter;
    setPacing(presenter ? 'phase' : 'time');
  }, [presenter, setPacing]);
  const [help, setHelp] = useState(false);
  const [tab, setTab] = useState<SideTab>('request');
  const [theme, toggleTheme] = useTheme();
  const [panels, setPanels] = usePanels();
  const mainRef = useRef<HTMLElement>(null);
  const dragStart = useRef({ topology: 0, side: 0, stats: 0, mainH: 1 });
  const fileInput = useRef<HTMLInputElement>(null);
  const pendingSeq = useRef<number | null>(readUrlState().seq);
  const liveConnection = connection?.connected ? connection : null;
  const simulation = useLastSimulation(file === null && connectionState?.status === 'open' ? connectionState.hello.simulation : undefined, store.mode === 'simulation' && file === null);
  const stepMode = useStepMode(liveConnection, connectionState?.status === 'open' ? connectionState.hello.step : null);
  const stepState = stepMode.state;
  const heldStreams = useMemo(() => new Set(stepState.held.map((h) => h.stream)), [stepState.held]);
  const heldSelected = selected !== null && heldStreams.has(selected);

  const navigateBench = useCallback((next: Bench | null) => {
    setBench((was) => {
      // the playground's two editors want more room than a lesson's text
      if ((was?.kind === 'playground') !== (next?.kind === 'playground')) setBenchW(benchWidth(next));
      return next;
    });
    // the playground keeps its own link in the address (Share); a lesson its number and step
    if (next?.kind !== 'playground') writeLessonRequest(next);
  }, []);
  // A lesson step points somewhere: the request it is about, and the tab that shows it.
  useEffect(() => {
    if (!focus) return;
    const h = focus.highlight;
    if ('machine' in h) {
      if (focus.stream !== null) setSelected(focus.stream);
      setTab('machines');
    } else if ('panel' in h && (h.panel === 'request' || h.panel === 'machines' || h.panel === 'step' || h.panel === 'controls')) {
      if (focus.stream !== null && h.panel !== 'controls') setSelected(focus.stream);
      setTab(h.panel);
    } else if ('panel' in h && h.panel === 'requests' && focus.stream !== null) setSelected(focus.stream);
  }, [focus]);
  const highlightNode = focus && 'node' in focus.highlight ? focus.highlight.node : null;
  const highlightMachine = focus && 'machine' in focus.highlight ? focus.highlight : null;
  const highlightPanel = focus && 'panel' in focus.highlight ? focus.highlight.panel : null;
  const panelMark = (panel: string) => (highlightPanel === panel ? { 'data-lesson-highlight': '' } : {});

  const runFinished = useRunFinished(source.inPage ? connection : null, connectionState);
  // A shared address names an event: go there once the source has it (or has everything).
  // A run in this page has everything when it has finished: until then its events are still coming.
  const historyDone = file ? file.result !== null : connectionState?.status === 'open' && connectionState.historyDone && (!source.inPage || runFinished);
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
  useUrlStateSync({ req: selected, seq: time.following ? null : cursorSeq, ...openedToUrl(opened) }, () => pendingSeq.current === null);

  const onSelect = useCallback(
    (stream: number | null) => {
      setSelected(stream);
      if (stream !== null) setOpened(null);
    },
    [setOpened],
  );
  const openNode = useCallback((node: OpenedNode) => {
    setOpened(node);
    setTab('request');
  }, [setOpened]);

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
        case 'p':
        case 'P':
          setPresenter((on) => !on);
          break;
        case 'Escape':
          if (opened) setOpened(null);
          else setSelected(null);
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
  }, [help, time, selected, stepMode, heldSelected, setPresenter, opened, setOpened]);

  const startDrag = () => {
    dragStart.current = { topology: panels.topology, side: panels.side, stats: panels.stats, mainH: mainRef.current?.getBoundingClientRect().height ?? 1 };
  };
  const dragTopology = (delta: number, start: boolean) => {
    if (start) return startDrag();
    const d = dragStart.current;
    setPanels({ topology: Math.min(PANEL_LIMITS.topology[1], Math.max(PANEL_LIMITS.topology[0], d.topology + delta / Math.max(1, d.mainH))) });
  };
  const dragSide = (delta: number, start: boolean) => {
    if (start) return startDrag();
    // the handle sits left of the column: dragging left widens it
    setPanels({ side: Math.min(PANEL_LIMITS.side[1], Math.max(PANEL_LIMITS.side[0], dragStart.current.side - delta)) });
  };
  const dragStats = (delta: number, start: boolean) => {
    if (start) return startDrag();
    setPanels({ stats: Math.min(PANEL_LIMITS.stats[1], Math.max(PANEL_LIMITS.stats[0], dragStart.current.stats - delta)) });
  };

  const viewProps: ViewProps = { store, cursor: time.cursor, selected, onSelect };
  const openPicker = () => fileInput.current?.click();
  // While a file loads, the views wait: redrawing them for every chunk would slow the load.
  const loading = file !== null && file.result === null;
  const noServer = file === null && ((source.standalone && connection === null) || (connectionState?.status === 'waiting' && !connectionState.everConnected));

  // On a projector a lesson is a band under the map, which keeps the map's width; elsewhere the workbench is a column.
  const band = presenter && bench !== null && bench.kind !== 'playground';
  const appClass = ['ps-app', presenter ? 'ps-presenter' : '', bench ? (band ? 'ps-bench-band' : 'ps-bench-open') : '', panels.topologyCollapsed ? 'ps-topo-collapsed' : '', panels.sideCollapsed ? 'ps-side-collapsed' : '', panels.statsCollapsed ? 'ps-stats-collapsed' : ''].filter(Boolean).join(' ');
  return (
    <div className={appClass} data-theme-mode={theme} data-presenter={presenter ? '' : undefined} style={{ ...(presenter ? {} : panelStyle(panels)), '--ps-bench-w': `${benchW}px` } as CSSProperties}>
      {!presenter && (
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
        served={!source.standalone}
        onReconnect={source.reconnect}
        onHelp={() => setHelp(true)}
        inPage={source.inPage && file === null}
        bench={bench?.kind ?? null}
        onDownloadTrace={() => downloadTrace(store, simulation)}
        canDownload={canDownloadTrace(store)}
        onOpenBench={(kind) => navigateBench(kind === 'playground' ? { kind: 'playground' } : { kind: 'list' })}
      />
      )}
      <div {...panelMark('timeline')}>
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
        <TimeBar store={store} version={loading ? -1 : version} time={time} selected={selected} canFollow={canFollow}>
          {presenter ? (
            <>
              <button className="ps-btn" onClick={toggleTheme} title="Switch between the light and dark theme" data-testid="presenter-theme">
                {theme === 'dark' ? 'Light' : 'Dark'}
              </button>
              <button className="ps-btn" aria-pressed="true" onClick={() => setPresenter(false)} title="Leave presenter mode (P)" data-testid="presenter-toggle">
                Exit presenter
              </button>
            </>
          ) : (
            <button className="ps-btn" onClick={() => setPresenter(true)} title="Presenter mode: the map fills the screen, sized for a projector (P)" data-testid="presenter-toggle">
              Present
            </button>
          )}
        </TimeBar>
      </div>
      <main className="ps-main" ref={mainRef}>
        {bench && (
          <aside className="ps-bench" aria-label={bench.kind === 'playground' ? 'Playground' : 'Lessons'} data-testid="bench">
            <Suspense fallback={<div className="ps-empty">Loading…</div>}>
              {bench.kind === 'playground' ? (
                <PlaygroundPane initial={opened0.link} autoRun={benchRuns} onRun={source.startInPage} runProblems={opened0.linkProblem ? [`error: ${opened0.linkProblem}`, ...source.problems] : source.problems} onClose={() => navigateBench(null)} />
              ) : (
                <LessonPane request={bench} onNavigate={navigateBench} store={store} version={version} time={time} connection={connection} runFinished={runFinished} startRun={source.startInPage} presenter={presenter} onFocus={setFocus} />
              )}
            </Suspense>
          </aside>
        )}
        {bench && !band && (
          <Splitter
            orientation="vertical"
            label="Resize the workbench"
            value={{ now: benchW, min: BENCH_LIMITS[0], max: BENCH_LIMITS[1], text: `workbench ${benchW} px wide` }}
            onDrag={(delta, start) => {
              if (start) benchDrag.current = benchW;
              else setBenchW(Math.min(BENCH_LIMITS[1], Math.max(BENCH_LIMITS[0], benchDrag.current + delta)));
            }}
            testId="split-bench"
          />
        )}
        <section className="ps-area ps-topology-area" aria-label="Topology" {...panelMark('topology')}>
          {!presenter && (
            <h2>
              Topology
              <CollapseButton collapsed={panels.topologyCollapsed} onToggle={() => setPanels({ topologyCollapsed: !panels.topologyCollapsed })} what="the topology" testId="collapse-topology" />
            </h2>
          )}
          <div className="ps-area-body" hidden={!presenter && panels.topologyCollapsed}>
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
              <TopologyView {...viewProps} presenter={presenter} held={heldStreams} highlight={highlightNode} onOpenNode={openNode} strip={presenter && opened ? <OpenedStrip store={store} version={version} cursor={time.cursor} opened={opened} /> : undefined} />
            )}
          </div>
        </section>
        {!presenter && (
          <>
        <Splitter orientation="horizontal" label="Resize the topology and the request list" value={{ now: panels.topology * 100, min: PANEL_LIMITS.topology[0] * 100, max: PANEL_LIMITS.topology[1] * 100, text: `topology ${Math.round(panels.topology * 100)}% of the height` }} onDrag={dragTopology} testId="split-topology" disabled={panels.topologyCollapsed} />
        <Splitter orientation="vertical" label="Resize the details column" value={{ now: panels.side, min: PANEL_LIMITS.side[0], max: PANEL_LIMITS.side[1], text: `details ${Math.round(panels.side)} px wide` }} onDrag={dragSide} testId="split-side" disabled={panels.sideCollapsed} />
        <aside className="ps-side ps-area" aria-label="Details" {...panelMark(tab)}>
          {panels.sideCollapsed ? (
            <h2>
              <CollapseButton collapsed onToggle={() => setPanels({ sideCollapsed: false })} what="the details" testId="collapse-side" />
            </h2>
          ) : (
          <h2 className="ps-tabs">
            {/* display: contents: the tabs stay the heading's flex items; the hide button is no tab */}
            <span role="tablist" aria-label="Details" style={{ display: 'contents' }}>
            {(['request', 'machines', 'step', 'controls'] as const).map((t) => (
              <button key={t} className={t === 'request' && opened ? 'ps-tab ps-tab-named' : 'ps-tab'} role="tab" aria-selected={tab === t} onClick={() => setTab(t)} title={t === 'request' && opened ? openedLabel(store, opened) : undefined}>
                {t === 'request' ? (opened ? openedLabel(store, opened) : `Request${selected !== null ? ` ${selected}` : ''}`) : TAB_LABELS[t]}
                {t === 'step' && stepState.held.length > 0 && <span className="ps-tab-badge" data-testid="held-count">{stepState.held.length}</span>}
              </button>
            ))}
            </span>
            <CollapseButton collapsed={false} onToggle={() => setPanels({ sideCollapsed: true })} what="the details" testId="collapse-side" />
          </h2>
          )}
          <div className="ps-area-body" hidden={panels.sideCollapsed}>
            {loading ? null : tab === 'request' &&
              (opened ? (
                <OpenedPanel store={store} version={version} cursor={time.cursor} opened={opened} onOpen={openNode} onSelectRequest={onSelect} onClose={() => setOpened(null)} />
              ) : selected !== null ? (
                <RequestDetail store={store} version={version} cursor={time.cursor} stream={selected} onSeek={time.seek} actions={<RequestActions store={store} cursor={time.cursor} stream={selected} connection={liveConnection} onSelect={onSelect} />} />
              ) : (
                <div className="ps-empty">Select a request in the list to see its phases and every machine event.</div>
              ))}
            {!loading && tab === 'machines' && <MachineView {...viewProps} highlight={highlightMachine} />}
            {!loading && tab === 'step' && <BreakpointsPanel store={store} mode={stepMode} selected={selected} onSelect={onSelect} />}
            {!loading && tab === 'controls' && <ControlsPanel connection={liveConnection} store={store} onSelect={onSelect} />}
          </div>
        </aside>
        <section className="ps-area ps-requests-area" aria-label="Requests" {...panelMark('requests')}>
          {loading ? <div className="ps-empty">The requests appear when the file is read.</div> : <RequestList store={store} version={version} cursor={time.cursor} selected={selected} onSelect={onSelect} held={heldStreams} />}
        </section>
          </>
        )}
      </main>
      {!presenter && (
        <>
          <Splitter orientation="horizontal" label="Resize the stats" value={{ now: panels.stats, min: PANEL_LIMITS.stats[0], max: PANEL_LIMITS.stats[1], text: `stats ${Math.round(panels.stats)} px high` }} onDrag={dragStats} testId="split-stats" disabled={panels.statsCollapsed} />
          <section className="ps-stats" aria-label="Stats" {...panelMark('stats')}>
            <h2 className="ps-panel-title">
              Stats
              <CollapseButton collapsed={panels.statsCollapsed} onToggle={() => setPanels({ statsCollapsed: !panels.statsCollapsed })} what="the stats" testId="collapse-stats" />
            </h2>
            {!loading && !panels.statsCollapsed && (
              <div className="ps-stats-body">
                <StatsView {...viewProps} />
              </div>
            )}
          </section>
        </>
      )}
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
