import { useCallback, useEffect, useRef, useState } from 'react';
import { snapshotInfoSchema } from '@proxyscope/protocol';
import { EventStoreImpl } from '../model/event-store';
import { defaultWsUrl, LiveConnection, type ConnectionState } from '../net/live-connection';
import { openTraceFile, type LoadProgress, type LoadResult } from '../net/open-trace-file';
import { DEMO_RUN } from '../inpage/demo-run';
import { InPageHost } from '../inpage/in-page-host';
import type { InPageRun } from '../inpage/in-page-run';

/**
 * Where the events come from: the server's WebSocket (live proxy or `proxyscope replay`),
 * the engine running in this page (a Web Worker, spoken to over the same messages), or a
 * trace file opened in the browser. Each source gets its own store, so switching
 * never mixes traces.
 */

export interface FileLoad {
  name: string;
  size: number;
  progress: LoadProgress | null;
  result: LoadResult | null;
}

export interface Source {
  store: EventStoreImpl;
  connection: LiveConnection | null;
  connectionState: ConnectionState | null;
  file: FileLoad | null;
  problems: string[];
  /** bumps when the store is replaced (a file opened, another server run) */
  generation: number;
  /** the page came from a static host, not a ProxyScope server: it does not try /ws until asked */
  standalone: boolean;
  /** the current source is the engine running in this page */
  inPage: boolean;
  openFile(file: File): void;
  /** replaces the store and starts a new run of the engine in this page */
  startInPage(run: InPageRun): void;
  connectLive(): void;
  /** try the current connection again now */
  reconnect(): void;
  dismissProblems(): void;
}

const MAX_PROBLEMS = 6;
/** A live page holds at most this many events (about 40 bytes each in columns, plus fact data)... */
const LIVE_MAX_EVENTS = 1_500_000;
/** ...and then keeps the newest this many. */
const LIVE_KEEP_EVENTS = 1_000_000;

/**
 * The admin server marks the index.html it serves (a `proxyscope-server` meta tag). A copy
 * of the build on a static host has no such tag, so it does not knock on a /ws that is not
 * there (the browser would log every attempt as an error) and offers the trace file at once.
 */
export function servedByProxyScope(): boolean {
  return import.meta.env.DEV || document.querySelector('meta[name="proxyscope-server"]') !== null;
}

export interface SourceOptions {
  /** start nothing: the page's workbench starts its own run (a lesson, a permalink) */
  deferStart?: boolean;
}

export function useSource({ deferStart = false }: SourceOptions = {}): Source {
  const [standalone] = useState(() => !servedByProxyScope());
  const [store, setStore] = useState(() => new EventStoreImpl(null));
  const [connection, setConnection] = useState<LiveConnection | null>(null);
  const [connectionState, setConnectionState] = useState<ConnectionState | null>(null);
  const [file, setFile] = useState<FileLoad | null>(null);
  const [problems, setProblems] = useState<string[]>([]);
  const [generation, setGeneration] = useState(0);
  const storeRef = useRef(store);
  storeRef.current = store;
  const connectionRef = useRef<LiveConnection | null>(null);
  const loadId = useRef(0);

  const problem = useCallback((message: string) => setProblems((p) => [...p.slice(-(MAX_PROBLEMS - 1)), message]), []);

  const replaceStore = useCallback((next: EventStoreImpl) => {
    storeRef.current = next;
    setStore(next);
    setGeneration((g) => g + 1);
  }, []);

  const inPageRef = useRef<InPageHost | null>(null);
  const lastRun = useRef<InPageRun>(DEMO_RUN);
  const [inPage, setInPage] = useState(false);

  const stopInPage = useCallback(() => {
    inPageRef.current?.terminate();
    inPageRef.current = null;
    setInPage(false);
  }, []);

  const connectLive = useCallback((host?: InPageHost) => {
    connectionRef.current?.close();
    if (host === undefined) stopInPage();
    loadId.current++;
    setFile(null);
    // The mode is known once the server says hello (live proxy or replay).
    const first = new EventStoreImpl(null);
    replaceStore(first);
    const live = new LiveConnection(host ? 'in-page' : defaultWsUrl(), {
      onHello(hello, fresh) {
        // Another server run: its seqs start over, so its events go in a new store.
        const current = storeRef.current;
        // Every simulation's t = 0 is the same date; a run's virtual clock never goes back,
        // so a clock behind the events this page has is another run.
        const rerun = hello.mode === 'simulation' && hello.simulation !== undefined && current.length > 0 && hello.simulation.clock.t < current.tAt(current.length - 1);
        const target = fresh || rerun || (current.length > 0 && current.startedAt !== hello.startedAt) ? new EventStoreImpl(hello.mode) : current;
        target.setSource({ mode: hello.mode, topology: hello.topology, startedAt: hello.startedAt, demoHosts: hello.hosts ?? [], snapshotSeq: hello.snapshot?.lastSeq ?? 0, snapshotCounts: hello.snapshot?.counts ?? null });
        if (target !== storeRef.current) replaceStore(target);
      },
      onEvents(events) {
        const current = storeRef.current;
        current.append(events);
        // A page left open on a busy proxy would fill the tab's memory: past the limit keep the newest part.
        if (current.length > LIVE_MAX_EVENTS) {
          const dropped = current.length - LIVE_KEEP_EVENTS;
          replaceStore(current.newest(LIVE_KEEP_EVENTS));
          problem(
            `This page keeps the newest ${LIVE_KEEP_EVENTS.toLocaleString('en-US')} events: the ${dropped.toLocaleString('en-US')} before them were let go. Record a trace to keep everything (POST /recording/start).`,
          );
        }
      },
      onState: setConnectionState,
      onProblem: problem,
    }, host?.openSocket);
    // The page subscribes after connecting, so the snapshot before its history is announced
    // in the subscription's ack rather than in hello.
    live.on('ack', (m) => {
      if (m.request !== 'subscribe') return;
      const snapshot = snapshotInfoSchema.safeParse(m.detail?.snapshot);
      if (snapshot.success) storeRef.current.setSource({ snapshotSeq: snapshot.data.lastSeq, snapshotCounts: snapshot.data.counts ?? null });
    });
    live.on('topology', (m) => storeRef.current.setSource({ topology: m.topology }));
    live.on('hosts', (m) => storeRef.current.setSource({ demoHosts: m.hosts }));
    connectionRef.current = live;
    setConnection(live);
  }, [problem, replaceStore, stopInPage]);

  const startInPage = useCallback(
    (run: InPageRun) => {
      stopInPage();
      setProblems([]);
      lastRun.current = run;
      const host = new InPageHost(run, (lines) => setProblems(lines.slice(0, MAX_PROBLEMS)));
      inPageRef.current = host;
      setInPage(true);
      connectLive(host);
    },
    [connectLive, stopInPage],
  );

  const openFile = useCallback(
    (picked: File) => {
      connectionRef.current?.close();
      stopInPage();
      connectionRef.current = null;
      setConnection(null);
      setConnectionState(null);
      const id = ++loadId.current;
      const next = new EventStoreImpl('file');
      replaceStore(next);
      setProblems([]);
      setFile({ name: picked.name, size: picked.size, progress: null, result: null });
      let lastProgress = 0;
      openTraceFile(picked, next, {
        header: (header) => next.setSource({ topology: header.topology, startedAt: header.startedAt }),
        progress: (progress) => {
          if (id !== loadId.current) return;
          const now = performance.now();
          // React need not hear of every chunk.
          if (now - lastProgress < 50 && progress.bytesRead < progress.totalBytes) return;
          lastProgress = now;
          setFile((f) => (f ? { ...f, progress } : f));
        },
      })
        .then((result) => {
          if (id !== loadId.current) return;
          setFile((f) => (f ? { ...f, result } : f));
          if (result.problem) problem(`${picked.name}: ${result.problem.message}${result.problem.events ? ` — the ${result.problem.events} events before it are loaded` : ''}`);
        })
        .catch((err: Error) => {
          if (id === loadId.current) problem(`${picked.name}: ${err.message}`);
        });
    },
    [problem, replaceStore, stopInPage],
  );

  const defer = useRef(deferStart);
  useEffect(() => {
    // With no server, the built-in demo runs in the page at once: there is something to watch.
    if (defer.current) {
      // the workbench starts its run
    } else if (!standalone) connectLive();
    else startInPage(DEMO_RUN);
    return () => {
      connectionRef.current?.close();
      inPageRef.current?.terminate();
    };
  }, [connectLive, startInPage, standalone]);

  const reconnect = useCallback(() => {
    if (connectionRef.current) connectionRef.current.reconnect();
    else connectLive();
  }, [connectLive]);

  // A page with no server goes back to the engine in the page (its last run), not to a /ws that is not there.
  const connectToServer = useCallback(() => (standalone ? startInPage(lastRun.current) : connectLive()), [connectLive, startInPage, standalone]);

  return { store, connection, connectionState, file, problems, generation, standalone, inPage, openFile, startInPage, connectLive: connectToServer, reconnect, dismissProblems: () => setProblems([]) };
}
