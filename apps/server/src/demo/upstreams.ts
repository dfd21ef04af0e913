import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { DemoHostInfo, HostFault } from '@proxyscope/protocol';

/** How one demo upstream host answers; fault controls change it while it runs. */
export interface DemoHostBehaviour {
  /** mean added latency, ms (jittered ±50%) */
  latencyMs: number;
  /** fraction of requests answered with `errorStatus` */
  errorRate: number;
  errorStatus: number;
}

export interface DemoHostSpec {
  service: string;
  name: string;
  behaviour: DemoHostBehaviour;
}

/** The built-in demo's six upstream hosts in three clusters, each with its own latency and errors. */
export const DEMO_HOSTS: readonly DemoHostSpec[] = [
  { service: 'web', name: 'web-1', behaviour: { latencyMs: 20, errorRate: 0, errorStatus: 503 } },
  { service: 'web', name: 'web-2', behaviour: { latencyMs: 35, errorRate: 0.02, errorStatus: 503 } },
  { service: 'web', name: 'web-3', behaviour: { latencyMs: 50, errorRate: 0, errorStatus: 503 } },
  { service: 'web_canary', name: 'web-canary-1', behaviour: { latencyMs: 80, errorRate: 0.1, errorStatus: 500 } },
  { service: 'api', name: 'api-1', behaviour: { latencyMs: 60, errorRate: 0.05, errorStatus: 503 } },
  { service: 'api', name: 'api-2', behaviour: { latencyMs: 120, errorRate: 0, errorStatus: 503 } },
];

/**
 * A small HTTP service standing in for a backend: answers JSON naming itself, after a
 * configurable delay, failing a configurable share of requests. Fault controls change it
 * while it runs: fail a share of requests, add latency, reset every request's connection,
 * stop listening (connections refused) and listen again on the same port, or go back to
 * how it started. Each change is announced to `onChange` listeners.
 */
export class DemoHost {
  port = 0;
  /** requests that arrived (health checks included) */
  requests = 0;
  /** the current behaviour (a copy of the initial one, changed by faults) */
  behaviour: DemoHostBehaviour;
  /** destroy every request's connection as the request arrives */
  reset = false;
  private readonly initial: DemoHostBehaviour;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private listening = false;
  private closed = false;
  /** state changes (down, up, clear, close) run one after another */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<(host: DemoHost) => void>();

  constructor(
    readonly service: string,
    readonly name: string,
    behaviour: DemoHostBehaviour,
  ) {
    this.initial = { ...behaviour };
    this.behaviour = { ...behaviour };
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Not listening: connections to its port are refused. */
  get down(): boolean {
    return !this.listening;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Listens on `port` (0: a free one; later `up` reuses the port it got). */
  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.removeListener('error', onError);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.listening = true;
  }

  /** Answer `rate` of the requests (0..1) with `status`. */
  fail(status: number, rate: number): void {
    this.behaviour.errorStatus = status;
    this.behaviour.errorRate = rate;
    this.changed();
  }

  /** Mean added latency (ms, jittered ±50% per request). */
  latency(ms: number): void {
    this.behaviour.latencyMs = ms;
    this.changed();
  }

  /** Destroy every request's connection when the request arrives (the proxy sees a reset). */
  resetRequests(): void {
    this.reset = true;
    this.changed();
  }

  /** Stop listening and close every connection: the proxy's connects are refused. */
  takeDown(): Promise<void> {
    return this.serially(async () => {
      if (!this.listening) return;
      await this.stopListening();
      this.changed();
    });
  }

  /** Listen again, on the same port. */
  bringUp(): Promise<void> {
    return this.serially(async () => {
      if (this.listening || this.closed) return;
      await this.listen(this.port);
      this.changed();
    });
  }

  /** Back to the initial behaviour, listening. */
  clear(): Promise<void> {
    return this.serially(async () => {
      this.behaviour = { ...this.initial };
      this.reset = false;
      if (!this.listening && !this.closed) await this.listen(this.port);
      this.changed();
    });
  }

  /** Applies one `host_fault`. */
  async apply(fault: HostFault): Promise<void> {
    if ('fail' in fault) this.fail(fault.fail.status, fault.fail.rate);
    else if ('latency' in fault) this.latency(fault.latency.ms);
    else if ('reset' in fault) this.resetRequests();
    else if ('down' in fault) await this.takeDown();
    else if ('up' in fault) await this.bringUp();
    else await this.clear();
  }

  /** Whether it behaves differently from how it started. */
  get faulted(): boolean {
    const b = this.behaviour;
    const i = this.initial;
    return this.reset || this.down || b.latencyMs !== i.latencyMs || b.errorRate !== i.errorRate || b.errorStatus !== i.errorStatus;
  }

  info(): DemoHostInfo {
    return {
      name: this.name,
      service: this.service,
      port: this.port,
      address: this.address,
      behaviour: { ...this.behaviour, reset: this.reset, down: this.down },
      faulted: this.faulted,
    };
  }

  /** Called after every change of behaviour; returns the function that removes the listener. */
  onChange(listener: (host: DemoHost) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): Promise<void> {
    return this.serially(async () => {
      this.closed = true;
      this.listeners.clear();
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      if (this.listening) await this.stopListening();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests++;
    if (this.reset) {
      req.socket.destroy();
      return;
    }
    let received = 0;
    req.on('data', (chunk: Buffer) => (received += chunk.byteLength));
    req.on('end', () => {
      if (req.url === '/healthz') {
        // /healthz answers from the process, not from the app behind it: a host whose requests
        // fail keeps passing its health checks (only down or reset fails them), which is the
        // case outlier detection and retries exist for, and keeps such a host in rotation.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
        return;
      }
      const { latencyMs, errorRate, errorStatus } = this.behaviour;
      const delay = latencyMs > 0 ? latencyMs * (0.5 + Math.random()) : 0;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (res.destroyed) return;
        const failed = Math.random() < errorRate;
        const status = failed ? errorStatus : 200;
        const body = JSON.stringify({ service: this.service, host: this.name, method: req.method, path: req.url, status, received }) + '\n';
        res.writeHead(status, { 'content-type': 'application/json', 'x-demo-host': this.name });
        res.end(body);
      }, delay);
      this.timers.add(timer);
    });
  }

  private stopListening(): Promise<void> {
    this.listening = false;
    return new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
    });
  }

  private serially(step: () => Promise<void>): Promise<void> {
    const run = this.queue.then(step, step);
    this.queue = run.catch(() => {});
    return run;
  }

  private changed(): void {
    for (const listener of this.listeners) listener(this);
  }
}

export async function startDemoHost(service: string, name: string, behaviour: DemoHostBehaviour, port = 0): Promise<DemoHost> {
  const host = new DemoHost(service, name, behaviour);
  await host.listen(port);
  return host;
}

/** Starts the demo's upstream hosts (the built-in six unless told otherwise), each on a free port. */
export async function startDemoHosts(specs: readonly DemoHostSpec[] = DEMO_HOSTS): Promise<DemoHost[]> {
  const hosts: DemoHost[] = [];
  try {
    for (const spec of specs) hosts.push(await startDemoHost(spec.service, spec.name, spec.behaviour));
  } catch (err) {
    await Promise.all(hosts.map((h) => h.close()));
    throw err;
  }
  return hosts;
}

/** The ports of a service's hosts, for demoConfigYaml. */
export function demoPorts(hosts: readonly DemoHost[]): { web: number[]; api: number[]; canary: number[] } {
  const ports = (service: string) => hosts.filter((h) => h.service === service).map((h) => h.port);
  return { web: ports('web'), api: ports('api'), canary: ports('web_canary') };
}
