import { HttpParser } from '../codec/llhttp-parser';
import type { Random } from '../seams/random';
import type { TimerId } from '../seams/clock';
import type { SimClock } from './sim-clock';
import type { SimConnection, SimNetwork } from './sim-network';
import { sampler, type Sampler } from './distributions';
import type { RequestTemplate, TrafficSource } from './scenario-types';

/**
 * Simulated downstream clients: one traffic source sends requests to a listener over the
 * simulated network, open loop (arrivals at a rate, whatever the answers) or closed loop
 * (N clients, each waiting for its answer and a think time), and reads the answers with
 * llhttp. Each request carries `x-sim-request: N`, its number in the run, so the
 * engine's view of it (response flags, hosts, attempts) can be joined with the client's.
 */

const LIMITS = { maxHeaderBytes: 96 * 1024, maxHeadersCount: 200 };
export const SIM_REQUEST_HEADER = 'x-sim-request';

/** How a request ended, as the client saw it. */
export type ClientOutcome = 'response' | 'reset' | 'timeout' | 'aborted' | 'refused';

export interface ClientResult {
  id: number;
  source: string;
  /** virtual time it was due to be sent (open loop: its arrival) */
  sentAt: number;
  outcome: ClientOutcome;
  status: number;
  /** from arrival to the last byte of the answer (or to the end) */
  latencyMs: number;
}

export interface RunContext {
  clock: SimClock;
  network: SimNetwork;
  /** the next request number of the run, shared by every source */
  nextRequestId(): number;
  /** the client finished request `id` */
  done(result: ClientResult): void;
}

interface InFlight {
  id: number;
  sentAt: number;
  template: RequestTemplate;
  /** closed loop: the client that sent it */
  client?: number;
  timers: TimerId[];
  settled: boolean;
}

class ClientConnection {
  readonly parser: HttpParser;
  current: InFlight | undefined;
  status = 0;
  keepAlive = true;
  closed = false;

  constructor(
    readonly source: TrafficGenerator,
    readonly socket: SimConnection,
  ) {
    this.parser = new HttpParser(
      'response',
      {
        onMessageBegin: () => {},
        onHeadersComplete: (head) => {
          this.status = head.statusCode ?? 0;
          this.keepAlive = head.shouldKeepAlive;
          if (this.status >= 100 && this.status < 200) return 'continue';
          return this.current?.template.method === 'HEAD' ? 'skip-body' : 'continue';
        },
        onBody: () => 'continue',
        onMessageComplete: () => {
          if (this.status >= 100 && this.status < 200) return 'continue';
          source.onResponse(this, this.status);
          return 'continue';
        },
      },
      LIMITS,
    );
    socket.setHandlers({
      onData: (chunk) => {
        const result = this.parser.execute(chunk);
        if (result.kind === 'error') this.socket.destroy();
      },
      onEnd: () => {
        this.parser.finish();
        this.socket.destroy();
      },
      onClose: () => source.onClosed(this),
      onDrain: () => {},
    });
  }
}

export class TrafficGenerator {
  private rate: number;
  /** a timeline event set the rate: a ramp no longer decides it */
  private rateSet = false;
  private clients: number;
  private stopped = false;
  private readonly idle: ClientConnection[] = [];
  private openConnections = 0;
  /** requests waiting for a connection (keep_alive at max_connections) */
  private readonly waiting: InFlight[] = [];
  private readonly thinkTime: Sampler | undefined;
  private readonly interArrival: Sampler | undefined;
  private readonly bodySamplers = new Map<RequestTemplate, Sampler>();
  private readonly totalWeight: number;
  private nextArrival: TimerId | undefined;
  private nextPort = 1;
  /** closed loop: clients that should stop after their current request */
  private activeClients = 0;

  constructor(
    readonly source: TrafficSource,
    private readonly listener: { address: string; port: number },
    private readonly run: RunContext,
    private readonly random: Random,
    /** this source's number, for its clients' addresses */
    private readonly index: number,
  ) {
    const a = source.arrivals;
    this.rate = a.kind === 'poisson' || a.kind === 'constant' ? a.rate : a.kind === 'ramp' ? a.from : 0;
    this.clients = a.kind === 'closed' ? a.clients : 0;
    if (a.kind === 'closed') this.thinkTime = sampler(a.thinkTime, random);
    if (a.kind === 'poisson') this.interArrival = () => -Math.log(1 - random.next()) * (1000 / this.currentRate());
    this.totalWeight = source.mix.reduce((sum, t) => sum + t.weight, 0);
  }

  start(): void {
    const { clock } = this.run;
    const a = this.source.arrivals;
    clock.setTimeout(() => {
      if (a.kind === 'closed') {
        for (let i = 0; i < this.clients; i++) this.startClient();
      } else if (a.kind === 'burst') {
        this.burst();
      } else {
        this.scheduleArrival();
      }
    }, Math.max(0, this.source.start - clock.now()));
    clock.setTimeout(() => this.stop(), Math.max(0, this.source.stop - clock.now()));
  }

  stop(): void {
    this.stopped = true;
    if (this.nextArrival !== undefined) this.run.clock.clearTimeout(this.nextArrival);
    this.nextArrival = undefined;
    for (const connection of this.idle.splice(0)) connection.socket.destroy();
  }

  /** A timeline event: a new rate (open loop) or client count (closed loop). */
  setRate(rate: number): void {
    this.rate = rate;
    this.rateSet = true;
    if (this.stopped) return;
    if (this.nextArrival !== undefined) this.run.clock.clearTimeout(this.nextArrival);
    this.nextArrival = undefined;
    this.scheduleArrival();
  }

  setClients(count: number): void {
    const more = count - this.clients;
    this.clients = count;
    if (!this.stopped) for (let i = 0; i < more; i++) this.startClient();
  }

  private currentRate(): number {
    const a = this.source.arrivals;
    if (a.kind !== 'ramp' || this.rateSet) return this.rate;
    const elapsed = this.run.clock.now() - this.source.start;
    if (elapsed >= a.over) return a.to;
    return a.from + ((a.to - a.from) * elapsed) / a.over;
  }

  private scheduleArrival(): void {
    if (this.stopped) return;
    const rate = this.currentRate();
    if (rate <= 0) return;
    const gap = this.interArrival ? this.interArrival() : 1000 / rate;
    this.nextArrival = this.run.clock.setTimeout(() => {
      this.nextArrival = undefined;
      if (this.stopped) return;
      this.send(undefined);
      this.scheduleArrival();
    }, gap);
  }

  private burst(): void {
    const a = this.source.arrivals;
    if (a.kind !== 'burst' || this.stopped) return;
    for (let i = 0; i < a.count; i++) this.send(undefined);
    if (a.every) this.nextArrival = this.run.clock.setTimeout(() => this.burst(), a.every);
  }

  private startClient(): void {
    this.activeClients++;
    this.send(this.activeClients);
  }

  private pick(): RequestTemplate {
    const mix = this.source.mix;
    if (mix.length === 1) return mix[0]!;
    let pick = this.random.next() * this.totalWeight;
    for (const template of mix) {
      if (pick < template.weight) return template;
      pick -= template.weight;
    }
    return mix[mix.length - 1]!;
  }

  private send(client: number | undefined): void {
    const request: InFlight = { id: this.run.nextRequestId(), sentAt: this.run.clock.now(), template: this.pick(), timers: [], settled: false };
    if (client !== undefined) request.client = client;
    if (!this.run.network.listening(this.listener.address, this.listener.port)) {
      this.settle(request, 'refused', 0);
      return;
    }
    const connection = this.connectionFor();
    if (!connection) {
      this.waiting.push(request);
      return;
    }
    this.write(connection, request);
  }

  private connectionFor(): ClientConnection | undefined {
    if (this.source.connection === 'keep_alive') {
      const idle = this.idle.pop();
      if (idle) return idle;
      if (this.openConnections >= this.source.maxConnections) return undefined;
    }
    return this.dial();
  }

  private dial(): ClientConnection | undefined {
    const port = 1024 + (this.nextPort++ % 64000);
    const socket = this.run.network.dial(this.listener.address, this.listener.port, [`10.1.${this.index % 256}.${1 + Math.floor(this.nextPort / 64000) % 254}`, port]);
    if (!socket) return undefined;
    this.openConnections++;
    return new ClientConnection(this, socket);
  }

  private write(connection: ClientConnection, request: InFlight): void {
    const { clock } = this.run;
    connection.current = request;
    const t = request.template;
    let bodyBytes = 0;
    if (t.bodyBytes) {
      let s = this.bodySamplers.get(t);
      if (!s) this.bodySamplers.set(t, (s = sampler(t.bodyBytes, this.random)));
      bodyBytes = Math.max(0, Math.round(s()));
    }
    let head = `${t.method} ${t.path} HTTP/1.1\r\nhost: ${t.authority}\r\n${SIM_REQUEST_HEADER}: ${request.id}\r\n`;
    for (const [name, value] of t.headers) head += `${name}: ${value}\r\n`;
    if (bodyBytes > 0 || t.method === 'POST' || t.method === 'PUT') head += `content-length: ${bodyBytes}\r\n`;
    if (this.source.connection === 'per_request') head += 'connection: close\r\n';
    connection.socket.write(head + '\r\n');
    if (bodyBytes > 0) connection.socket.write(new Uint8Array(bodyBytes).fill(0x62));
    const { timeout, abortRate, abortAfter } = this.source;
    if (timeout !== undefined) request.timers.push(clock.setTimeout(() => this.giveUp(connection, request, 'timeout'), timeout));
    if (abortRate && abortAfter !== undefined && this.random.next() < abortRate) {
      request.timers.push(clock.setTimeout(() => this.giveUp(connection, request, 'aborted'), abortAfter));
    }
  }

  private giveUp(connection: ClientConnection, request: InFlight, outcome: ClientOutcome): void {
    if (request.settled) return;
    this.settle(request, outcome, 0);
    connection.current = undefined;
    connection.socket.destroy();
  }

  onResponse(connection: ClientConnection, status: number): void {
    const request = connection.current;
    if (!request || request.settled) return;
    connection.current = undefined;
    this.settle(request, 'response', status);
    if (this.source.connection === 'keep_alive' && connection.keepAlive && !connection.closed) this.reuse(connection);
    else connection.socket.destroy();
  }

  onClosed(connection: ClientConnection): void {
    if (connection.closed) return;
    connection.closed = true;
    connection.parser.destroy();
    this.openConnections--;
    const i = this.idle.indexOf(connection);
    if (i >= 0) this.idle.splice(i, 1);
    const request = connection.current;
    connection.current = undefined;
    if (request && !request.settled) this.settle(request, 'reset', 0);
    this.flushWaiting();
  }

  private reuse(connection: ClientConnection): void {
    const next = this.waiting.shift();
    if (next) this.write(connection, next);
    else if (this.stopped) connection.socket.destroy();
    else this.idle.push(connection);
  }

  private flushWaiting(): void {
    while (this.waiting.length > 0 && this.openConnections < this.source.maxConnections) {
      const connection = this.dial();
      if (!connection) break;
      this.write(connection, this.waiting.shift()!);
    }
  }

  private settle(request: InFlight, outcome: ClientOutcome, status: number): void {
    request.settled = true;
    const { clock } = this.run;
    for (const timer of request.timers) clock.clearTimeout(timer);
    this.run.done({ id: request.id, source: this.source.name, sentAt: request.sentAt, outcome, status, latencyMs: clock.now() - request.sentAt });
    const client = request.client;
    if (client === undefined) return;
    // Closed loop: this client thinks, then sends its next request, while the source runs and the client is still wanted.
    if (this.stopped || client > this.clients) {
      this.activeClients--;
      return;
    }
    // A client whose request failed at once waits at least 1 ms, or a refused listener would spin it at one instant.
    const think = Math.max(outcome === 'response' ? 0 : 1, this.thinkTime!());
    clock.setTimeout(() => {
      if (this.stopped) return;
      this.send(client);
    }, think);
  }

  /** Requests sent but not yet settled, and requests still waiting for a connection. */
  get waitingCount(): number {
    return this.waiting.length;
  }
}
