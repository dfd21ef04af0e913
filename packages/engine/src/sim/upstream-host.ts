import { HttpParser, type ParsedHead } from '../codec/llhttp-parser';
import type { Random } from '../seams/random';
import type { SimClock } from './sim-clock';
import type { SimConnection, SimEndpoint } from './sim-network';
import { sampler, type Sampler } from './distributions';
import type { Distribution, HostBehaviour } from './scenario-types';

/**
 * A simulated upstream host: an HTTP/1.1 origin on the simulated network that reads
 * requests with llhttp and answers as its behaviour says (service time, a concurrency
 * limit with a queue inside the host, errors, resets, hangs, body sizes, `connection:
 * close` after N requests, refused or black-holed connects). Its behaviour can change at
 * any virtual time; what it did is counted for the summary.
 */

const LIMITS = { maxHeaderBytes: 96 * 1024, maxHeadersCount: 200 };

export interface HostCounts {
  connections: number;
  requests: number;
  healthChecks: number;
  /** responses by status */
  statuses: Map<number, number>;
  resets: number;
  hangs: number;
  /** most requests waiting inside the host at once */
  maxQueued: number;
}

interface Waiting {
  connection: HostConnection;
  head: ParsedHead;
  arrivedAt: number;
}

class HostConnection {
  readonly parser: HttpParser;
  head: ParsedHead | undefined;
  served = 0;
  closed = false;
  /** a response is being produced: HTTP/1.1 answers in order, one at a time per connection */
  busy = false;
  /** a request on it hangs, holding one of the host's slots until the connection goes */
  hung = false;
  readonly backlog: ParsedHead[] = [];

  constructor(
    readonly host: SimHost,
    readonly socket: SimConnection,
  ) {
    this.parser = new HttpParser(
      'request',
      {
        onMessageBegin: () => {},
        onHeadersComplete: (head) => {
          this.head = head;
          return 'continue';
        },
        onBody: () => 'continue',
        onMessageComplete: () => {
          const head = this.head!;
          this.head = undefined;
          host.onRequest(this, head);
          return 'continue';
        },
      },
      LIMITS,
    );
    socket.setHandlers({
      onData: (chunk) => {
        const result = this.parser.execute(chunk);
        if (result.kind === 'error') this.socket.reset();
      },
      onEnd: () => this.socket.destroy(),
      onClose: () => this.dispose(),
      onDrain: () => {},
    });
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.parser.destroy();
    this.host.forget(this);
  }
}

export class SimHost implements SimEndpoint {
  behaviour: HostBehaviour;
  readonly counts: HostCounts = { connections: 0, requests: 0, healthChecks: 0, statuses: new Map(), resets: 0, hangs: 0, maxQueued: 0 };
  /** the names a scenario may select it by: display name, address:port, address, hostname */
  selectors: string[] = [];
  /** every cluster it is an endpoint of */
  readonly clusters: string[] = [];
  private readonly open = new Set<HostConnection>();
  private readonly queue: Waiting[] = [];
  private active = 0;
  private samplers = new Map<Distribution, Sampler>();

  constructor(
    /** `cluster/hostname` or `cluster/address:port`, as the summary names it */
    readonly name: string,
    behaviour: HostBehaviour,
    private readonly clock: SimClock,
    private readonly random: Random,
  ) {
    this.behaviour = behaviour;
  }

  /** A timeline event: the new fields replace the old; a host going down resets what it has open. */
  update(set: HostBehaviour): void {
    this.behaviour = { ...this.behaviour, ...set };
    if (set.down) for (const connection of [...this.open]) this.reset(connection);
  }

  connectMs(): number {
    return this.draw(this.behaviour.connectTime, 0);
  }

  refuses(): boolean {
    return this.behaviour.refuse === true || this.behaviour.down === true;
  }

  blackholes(): boolean {
    return this.behaviour.blackhole === true;
  }

  accept(socket: SimConnection): void {
    this.counts.connections++;
    this.open.add(new HostConnection(this, socket));
  }

  forget(connection: HostConnection): void {
    this.open.delete(connection);
    if (connection.hung) {
      connection.hung = false;
      this.release();
    }
  }

  onRequest(connection: HostConnection, head: ParsedHead): void {
    if (connection.busy) {
      connection.backlog.push(head);
      return;
    }
    connection.busy = true;
    const isHealthCheck = head.headers.some(([name, value]) => name.toLowerCase() === 'user-agent' && value === 'Envoy/HC');
    if (isHealthCheck) {
      // Health checks are answered at once, outside the service queue: they ask whether the host is up, not how busy it is.
      this.counts.healthChecks++;
      const b = this.behaviour;
      const status = b.healthStatus ?? (b.down || b.refuse ? 503 : 200);
      this.respond(connection, status, 0, 'none', true);
      return;
    }
    this.counts.requests++;
    const limit = this.behaviour.concurrency ?? 0;
    if (limit > 0 && this.active >= limit) {
      this.queue.push({ connection, head, arrivedAt: this.clock.now() });
      if (this.queue.length > this.counts.maxQueued) this.counts.maxQueued = this.queue.length;
      return;
    }
    this.serve(connection);
  }

  private serve(connection: HostConnection): void {
    const b = this.behaviour;
    this.active++;
    if (b.hangRate && this.random.next() < b.hangRate) {
      this.counts.hangs++;
      connection.hung = true;
      return;
    }
    let status = 200;
    for (const error of b.errors ?? []) {
      if (this.random.next() < error.rate) {
        status = error.status;
        break;
      }
    }
    let reset: 'none' | 'request' | 'headers' | 'body' = 'none';
    for (const r of b.resets ?? []) {
      if (this.random.next() < r.rate) {
        reset = r.after;
        break;
      }
    }
    const bodyBytes = Math.max(0, Math.round(this.draw(b.responseBytes, 0)));
    const serviceMs = Math.max(0, this.draw(b.serviceTime, 0));
    this.clock.setTimeout(() => {
      this.release();
      if (connection.closed) return;
      this.respond(connection, status, bodyBytes, reset);
    }, serviceMs);
  }

  private release(): void {
    this.active--;
    const limit = this.behaviour.concurrency ?? 0;
    while (this.queue.length > 0 && (limit === 0 || this.active < limit)) {
      const next = this.queue.shift()!;
      if (!next.connection.closed) this.serve(next.connection);
    }
  }

  private respond(connection: HostConnection, status: number, bodyBytes: number, reset: 'none' | 'request' | 'headers' | 'body', healthCheck = false): void {
    const b = this.behaviour;
    connection.served++;
    const closing = (b.closeAfter ?? 0) > 0 && connection.served >= b.closeAfter!;
    let head = `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Simulated'}\r\ncontent-length: ${bodyBytes}\r\n`;
    for (const [name, value] of Object.entries(b.headers ?? {})) head += `${name}: ${value}\r\n`;
    if (closing) head += 'connection: close\r\n';
    head += '\r\n';
    const socket = connection.socket;
    if (reset === 'request') {
      // The connection dies before any byte of a response: upstream_reset_before_response_started.
      this.counts.resets++;
      socket.reset();
      return;
    }
    if (!healthCheck) this.counts.statuses.set(status, (this.counts.statuses.get(status) ?? 0) + 1);
    socket.write(head);
    if (reset === 'headers') {
      this.counts.resets++;
      socket.reset();
      return;
    }
    const bodyMs = bodyBytes > 0 && !healthCheck ? this.draw(b.bodyTime, 0) : 0;
    if (bodyMs > 0) {
      this.clock.setTimeout(() => {
        if (!connection.closed) this.respondBody(connection, bodyBytes, reset, closing);
      }, bodyMs);
      return;
    }
    this.respondBody(connection, bodyBytes, reset, closing);
  }

  private respondBody(connection: HostConnection, bodyBytes: number, reset: 'none' | 'request' | 'headers' | 'body', closing: boolean): void {
    const socket = connection.socket;
    if (bodyBytes > 0) {
      if (reset === 'body') {
        socket.write(new Uint8Array(Math.floor(bodyBytes / 2)).fill(0x61));
        this.counts.resets++;
        socket.reset();
        return;
      }
      socket.write(new Uint8Array(bodyBytes).fill(0x61));
    } else if (reset === 'body') {
      this.counts.resets++;
      socket.reset();
      return;
    }
    if (closing) {
      socket.end();
      return;
    }
    connection.busy = false;
    const next = connection.backlog.shift();
    if (next) this.onRequest(connection, next);
  }

  private reset(connection: HostConnection): void {
    this.counts.resets++;
    connection.socket.reset();
    connection.dispose();
  }

  private draw(distribution: Distribution | undefined, fallback: number): number {
    if (!distribution) return fallback;
    let s = this.samplers.get(distribution);
    if (!s) {
      s = sampler(distribution, this.random);
      this.samplers.set(distribution, s);
    }
    return s();
  }
}

