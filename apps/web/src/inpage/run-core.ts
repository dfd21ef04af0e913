import { ConfigError, formatDiagnostic, loadBootstrap } from '@proxyscope/engine/config';
import { loadScenario, Simulation } from '@proxyscope/engine/sim';
import { DEFAULT_MAX_CLIENT_MESSAGE_BYTES, SEND_REQUEST_LIMITS } from '@proxyscope/protocol';
import {
  DEFAULT_CLIENT_LIMITS,
  EventHub,
  handleClientText,
  helloMessage,
  LiveSource,
  Pacer,
  RequestSender,
  SIM_HISTORY,
  SIM_MAX_QUEUED_EVENTS,
  SimulationSource,
  simSendTransport,
  StreamClient,
  type ClientLimits,
  type StreamSocket,
} from '@proxyscope/serve';
import type { FromWorker, InPageRun } from './in-page-run';

/**
 * The engine of a served simulation, without a server: the same Simulation, EventHub,
 * LiveSource, SimulationSource and Pacer as `proxyscope simulate --serve`, with viewers
 * whose "sockets" are messages to the page. Nothing here touches the DOM, so the worker
 * runs it and so can a test in Node.
 */

const LIMITS: ClientLimits = { ...DEFAULT_CLIENT_LIMITS, maxQueuedEvents: SIM_MAX_QUEUED_EVENTS };
/** a viewer's messages are measured in UTF-8 bytes, as a WebSocket frame's are */
const utf8 = new TextEncoder();

export class RunLoadError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** Loads config and scenario with the CLI's loaders; a failure lists every diagnostic as the CLI prints it. */
export function loadInPageRun(run: InPageRun) {
  try {
    const scenario = loadScenario(run.scenario, run.scenarioName);
    const config = loadBootstrap(run.config, run.configName);
    return { config: config.config, scenario: scenario.scenario, warnings: [...scenario.warnings, ...config.warnings].map(formatDiagnostic) };
  } catch (e) {
    if (e instanceof ConfigError) throw new RunLoadError([...e.diagnostics.map((d) => `error: ${formatDiagnostic(d)}`), ...e.warnings.map((w) => `warning: ${formatDiagnostic(w)}`)]);
    throw new RunLoadError([`error: ${(e as Error).message}`]);
  }
}

/** A viewer's end of the channel: what was posted and not yet read counts as buffered, like a WebSocket's. */
class ChannelSocket implements StreamSocket {
  readyState = 1;
  bufferedAmount = 0;
  private readonly unread: Array<{ bytes: number; afterWrite: () => void }> = [];

  constructor(
    readonly id: number,
    private readonly post: (message: FromWorker) => void,
  ) {}

  send(text: string, afterWrite: () => void): void {
    if (this.readyState !== 1) return;
    this.bufferedAmount += text.length;
    this.unread.push({ bytes: text.length, afterWrite });
    this.post({ type: 'frame', socket: this.id, text });
  }

  read(bytes: number): void {
    let left = bytes;
    while (left > 0 && this.unread.length > 0) {
      const first = this.unread.shift()!;
      left -= first.bytes;
      this.bufferedAmount -= first.bytes;
      first.afterWrite();
    }
  }
}

export interface InPageEngine {
  sim: Simulation;
  hub: EventHub;
  pacer: Pacer;
  source: SimulationSource;
  connect(socket: number): void;
  message(socket: number, text: string): void;
  read(socket: number, bytes: number): void;
  disconnect(socket: number): void;
  close(): void;
}

/** Starts the run (throws RunLoadError when it does not load); the pacer runs at once unless paused. */
export async function startInPageEngine(run: InPageRun, post: (message: FromWorker) => void): Promise<InPageEngine> {
  const loaded = loadInPageRun(run);
  const sim = new Simulation({ config: loaded.config, scenario: loaded.scenario, ...(run.seed !== undefined && { seed: run.seed }), concurrency: 1 });
  const hub = new EventHub({ tracer: sim.engine.tracer, historySize: SIM_HISTORY });
  const releaseHub = hub.retain();
  await sim.start();
  let source: SimulationSource | undefined;
  const pacer = new Pacer({
    sim,
    hub,
    clients: () => source?.clients ?? [],
    speed: run.speed,
    paused: run.paused,
    onClock: (clock) => source?.broadcastClock(clock),
    onAdvance: () => source?.hostsChanged(),
    onFinished: () => {},
    onError: (e) => console.error(`the simulation failed at t=${sim.now().toFixed(3)} ms: ${e.message}`),
  });
  const live = new LiveSource(hub, sim.engine, { statsIntervalMs: 500, uptimeS: () => Math.floor(sim.now() / 1000) });
  const sender = new RequestSender(sim.engine, hub, {}, simSendTransport(sim));
  source = new SimulationSource(live, sim, loaded.scenario, pacer, sender);
  const simSource = source;
  const bounds = { maxMessageBytes: DEFAULT_MAX_CLIENT_MESSAGE_BYTES, maxSendRequestBytes: SEND_REQUEST_LIMITS.maxMessageBytes, limits: LIMITS };
  const clients = new Map<number, { socket: ChannelSocket; client: StreamClient<ChannelSocket> }>();
  pacer.start();
  return {
    sim,
    hub,
    pacer,
    source: simSource,
    connect(id) {
      const socket = new ChannelSocket(id, post);
      // As the page's WebSocket asks (`subscribe=none`): it subscribes with history after hello.
      const client = new StreamClient(socket, id, null, LIMITS);
      clients.set(id, { socket, client });
      client.send(helloMessage(simSource, null, false, bounds));
      simSource.attach(client, false);
    },
    message(id, text) {
      const entry = clients.get(id);
      if (!entry) return;
      handleClientText(simSource, entry.client, utf8.encode(text).length, () => text, bounds);
    },
    read(id, bytes) {
      const entry = clients.get(id);
      if (!entry) return;
      entry.socket.read(bytes);
      entry.client.pump();
    },
    disconnect(id) {
      const entry = clients.get(id);
      if (!entry) return;
      clients.delete(id);
      entry.socket.readyState = 3;
      entry.client.dispose();
      simSource.detach(entry.client);
    },
    close() {
      pacer.close();
      simSource.close();
      releaseHub();
      hub.close();
    },
  };
}
