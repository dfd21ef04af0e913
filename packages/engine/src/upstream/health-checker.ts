import { HttpParser, type ParsedHead } from '../codec/llhttp-parser';
import { serializeHead } from '../codec/http1-writer';
import type { HealthCheck } from '../config/types';
import { HeaderMap } from '../http/headers';
import { statusHasNoBody } from '../http/status';
import type { EngineContext } from '../seams/actors';
import type { TimerId } from '../seams/clock';
import type { Random } from '../seams/random';
import type { PendingConnect, Transport, TransportConnection } from '../seams/transport';
import type { Counter, Gauge, StatsStore } from '../stats/stats';
import type { Host } from './host';
import type { TlsContext } from '../network/tls-context';

/** The `cluster.<name>.health_check.*` stats. */
function healthCheckStats(store: StatsStore, cluster: string) {
  const p = `cluster.${cluster}.health_check.`;
  const c = (n: string): Counter => store.counter(p + n);
  return {
    attempt: c('attempt'),
    success: c('success'),
    failure: c('failure'),
    network_failure: c('network_failure'),
    passive_failure: c('passive_failure'),
    verify_cluster: c('verify_cluster'),
    healthy: store.gauge(p + 'healthy') as Gauge,
  };
}
export type HealthCheckStats = ReturnType<typeof healthCheckStats>;

export interface HealthCheckerDeps {
  engine: EngineContext;
  transport: Transport;
  random: Random;
  store: StatsStore;
  /** the cluster's UpstreamTlsContext: checks handshake as its connections do */
  tls?: TlsContext;
}

/**
 * HttpHealthCheckerImpl: one per cluster (it runs on the main thread in Envoy, so not
 * per worker), with one session per host. Every timer is on the engine's clock, every
 * connection goes through the engine's transport, and responses are parsed by llhttp.
 */
export class HttpHealthChecker {
  readonly stats: HealthCheckStats;
  private readonly sessions = new Map<Host, HealthCheckSession>();
  private pendingFirst = 0;
  private resolveFirstRound!: () => void;
  /** resolves once every host has had its first check (Envoy holds cluster warm-up for it) */
  readonly firstRound: Promise<void>;
  /** called after each passed check (the outlier detector may uneject the host) */
  onCheckSuccess: ((host: Host) => void) | undefined;

  constructor(
    readonly clusterName: string,
    readonly config: HealthCheck,
    readonly deps: HealthCheckerDeps,
  ) {
    this.stats = healthCheckStats(deps.store, clusterName);
    this.firstRound = new Promise((resolve) => (this.resolveFirstRound = resolve));
  }

  /** Start one session per host; each checks at once, then every `interval` (+ jitter). */
  start(hosts: readonly Host[]): void {
    this.pendingFirst = hosts.length;
    this.updateHealthyGauge(hosts);
    if (hosts.length === 0) this.resolveFirstRound();
    this.addHosts(hosts);
  }

  /** HealthCheckerImplBase::addHosts: a session per new host, checking at once. */
  addHosts(hosts: readonly Host[]): void {
    for (const host of hosts) {
      const session = new HealthCheckSession(this, host);
      this.sessions.set(host, session);
      session.start();
    }
  }

  /** HealthCheckerImplBase::onClusterMemberUpdate: a removed host's session stops (its timers and connection go). */
  removeHosts(hosts: readonly Host[]): void {
    for (const host of hosts) {
      this.sessions.get(host)?.stop();
      this.sessions.delete(host);
    }
  }

  stop(): void {
    for (const session of this.sessions.values()) session.stop();
    this.resolveFirstRound();
  }

  /** `health_check.healthy`: hosts that are not failed_active_hc. */
  updateHealthyGauge(hosts: readonly Host[]): void {
    let healthy = 0;
    for (const h of hosts) if (!h.failedActiveHealthCheck) healthy++;
    this.stats.healthy.set(healthy);
  }

  /** A session finished a check. */
  onCheckComplete(host: Host, passed: boolean, first: boolean): void {
    if (passed) this.onCheckSuccess?.(host);
    if (first && --this.pendingFirst === 0) this.resolveFirstRound();
  }

  /** interval plus a random 0..interval_jitter (HealthCheckerImplBase::intervalWithJitter) */
  nextInterval(): number {
    const { interval, interval_jitter } = this.config;
    return interval_jitter > 0 ? interval + this.deps.random.int(interval_jitter) : interval;
  }
}

type Outcome = { passed: true; status: number } | { passed: false; kind: 'active' | 'network'; reason: string; status?: number };

/**
 * HttpActiveHealthCheckSession: checks one host. Idle between checks (the interval timer
 * armed), then connecting or awaiting the response; the timeout timer covers both. By
 * default (`reuse_connection`) the connection stays open for the next check.
 */
class HealthCheckSession {
  private connection: TransportConnection | undefined;
  private connecting: PendingConnect | undefined;
  private connectToken: object | undefined;
  private parser: HttpParser | undefined;
  private intervalTimer: TimerId | undefined;
  private timeoutTimer: TimerId | undefined;
  private inFlight = false;
  private firstCheck = true;
  /** engine time the check in flight was sent, for its latency in the trace */
  private sentAt = 0;
  private stopped = false;
  // the response being parsed
  private status = 0;
  private interim = false;
  private immediateFail = false;
  private keepAlive = true;
  private readonly request: string;

  constructor(
    private readonly checker: HttpHealthChecker,
    private readonly host: Host,
  ) {
    const { http_health_check: http } = checker.config;
    const headers = new HeaderMap();
    headers.add('host', http.host ?? checker.clusterName);
    headers.add('user-agent', 'Envoy/HC');
    this.request = serializeHead(`GET ${http.path} HTTP/1.1`, headers);
  }

  start(): void {
    this.onInterval();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.cancelConnect();
    this.closeConnection();
  }

  /** ActiveHealthCheckSession::onIntervalBase: send a check and start its timeout. */
  private onInterval(): void {
    this.intervalTimer = undefined;
    if (this.stopped) return;
    const { engine } = this.checker.deps;
    this.checker.stats.attempt.inc();
    this.inFlight = true;
    this.sentAt = engine.clock.now();
    this.timeoutTimer = engine.clock.setTimeout(() => this.onTimeout(), this.checker.config.timeout);
    if (this.connection) this.sendRequest(this.connection);
    else this.connect();
  }

  private connect(): void {
    const { transport } = this.checker.deps;
    // Identifies this attempt, so a late answer to an abandoned one is ignored.
    const token = {};
    this.connectToken = token;
    const pending = transport.connect(this.host.address, this.host.port, {
      onConnect: (connection) => {
        if (this.connectToken !== token || this.stopped) {
          connection.destroy();
          return;
        }
        this.connectToken = undefined;
        this.connecting = undefined;
        const tls = this.checker.deps.tls;
        if (tls) this.handshake(connection, tls, token);
        else {
          this.useConnection(connection);
          this.sendRequest(connection);
        }
      },
      onError: (error) => {
        if (this.connectToken !== token) return;
        this.connectToken = undefined;
        this.connecting = undefined;
        this.complete({ passed: false, kind: 'network', reason: `connect failed: ${error.code}` });
      },
    });
    if (this.connectToken === token) this.connecting = pending;
  }

  /** The cluster's transport socket applies to health checks too (ClientSslSocket on the HC connection). */
  private handshake(connection: TransportConnection, tls: TlsContext, token: object): void {
    this.connectToken = token;
    // Stopping (or a timeout) while the handshake runs closes the socket, as a cancelled connect does.
    this.connecting = { cancel: () => connection.destroy() };
    const fail = (reason: string): void => {
      if (this.connectToken !== token) return;
      this.connectToken = undefined;
      this.connecting = undefined;
      connection.destroy();
      this.complete({ passed: false, kind: 'network', reason: `TLS handshake failed: ${reason}` });
    };
    if (!connection.startTls) {
      fail(tls.failed({ code: 'ENOTSUP', message: 'this transport cannot do TLS' }).reason);
      return;
    }
    connection.startTls(tls.options, {
      onSecure: (info) => {
        if (this.connectToken !== token || this.stopped) return;
        const verdict = tls.judge(info);
        if (!verdict.ok) return fail(verdict.reason);
        this.connectToken = undefined;
        this.connecting = undefined;
        this.useConnection(connection);
        this.sendRequest(connection);
      },
      onError: (error) => {
        if (this.connectToken === token) fail(tls.failed(error).reason);
      },
    });
  }

  private cancelConnect(): void {
    this.connectToken = undefined;
    this.connecting?.cancel();
    this.connecting = undefined;
  }

  private useConnection(connection: TransportConnection): void {
    this.connection = connection;
    const parser = new HttpParser(
      'response',
      {
        onMessageBegin: () => {
          this.status = 0;
          this.interim = false;
          this.immediateFail = false;
        },
        onHeadersComplete: (head) => this.onHeaders(head),
        onBody: () => 'continue',
        onMessageComplete: () => {
          this.onResponseComplete();
          return 'continue';
        },
      },
      { maxHeaderBytes: 60 * 1024, maxHeadersCount: 100 },
    );
    this.parser = parser;
    connection.setHandlers({
      onData: (chunk) => {
        if (connection !== this.connection) return;
        const result = parser.execute(chunk);
        if (result.kind === 'error' && connection === this.connection) {
          this.closeConnection();
          if (this.inFlight) this.complete({ passed: false, kind: 'network', reason: `protocol error: ${result.code}` });
        }
      },
      onEnd: () => this.onRemoteClose(connection),
      onClose: () => this.onRemoteClose(connection),
      onDrain: () => {},
    });
  }

  private sendRequest(connection: TransportConnection): void {
    connection.write(this.request);
  }

  private onHeaders(head: ParsedHead): 'continue' | 'skip-body' {
    const status = head.statusCode ?? 0;
    if (status >= 100 && status < 200 && status !== 101) {
      this.interim = true;
      return 'skip-body';
    }
    this.status = status;
    let connectionClose = false;
    for (const [name, value] of head.headers) {
      const lower = name.toLowerCase();
      if (lower === 'x-envoy-immediate-health-check-fail') this.immediateFail = true;
      else if (lower === 'connection' && value.toLowerCase() === 'close') connectionClose = true;
    }
    this.keepAlive = head.shouldKeepAlive && !connectionClose;
    return statusHasNoBody(status) ? 'skip-body' : 'continue';
  }

  /** HttpActiveHealthCheckSession::onResponseComplete */
  private onResponseComplete(): void {
    if (this.interim) {
      this.interim = false;
      return;
    }
    if (!this.inFlight) return;
    // shouldClose(): no reuse, `Connection: close`, or HTTP/1.0 without keep-alive.
    if (!this.checker.config.reuse_connection || !this.keepAlive) this.closeConnection();
    const status = this.status;
    if (this.immediateFail) {
      this.complete({ passed: false, kind: 'active', reason: 'x-envoy-immediate-health-check-fail', status });
    } else if (this.isExpected(status)) {
      this.complete({ passed: true, status });
    } else {
      this.complete({ passed: false, kind: 'active', reason: `unexpected status ${status}`, status });
    }
  }

  private isExpected(status: number): boolean {
    for (const range of this.checker.config.http_health_check.expected_statuses) {
      if (status >= range.start && status < range.end) return true;
    }
    return false;
  }

  private onRemoteClose(connection: TransportConnection): void {
    if (connection !== this.connection) return;
    // A response delimited by the close ends here.
    if (this.inFlight) this.parser?.finish();
    if (connection !== this.connection) return; // the finished response closed it already
    this.closeConnection();
    if (this.inFlight) this.complete({ passed: false, kind: 'network', reason: 'connection closed before a complete response' });
  }

  /** ActiveHealthCheckSession::onTimeoutBase: the check took longer than `timeout`. */
  private onTimeout(): void {
    this.timeoutTimer = undefined;
    this.cancelConnect();
    this.closeConnection();
    this.complete({ passed: false, kind: 'network', reason: `timeout after ${this.checker.config.timeout} ms` });
  }

  /** handleSuccess / handleFailure: stats, the trace fact, the host's machine, the next interval. */
  private complete(outcome: Outcome): void {
    if (!this.inFlight || this.stopped) return;
    this.inFlight = false;
    if (this.timeoutTimer !== undefined) {
      this.checker.deps.engine.clock.clearTimeout(this.timeoutTimer);
      this.timeoutTimer = undefined;
    }
    const { stats, deps } = this.checker;
    const first = this.firstCheck;
    this.firstCheck = false;
    const host = this.host;
    if (outcome.passed) stats.success.inc();
    else {
      stats.failure.inc();
      if (outcome.kind === 'network') stats.network_failure.inc();
    }
    if (deps.engine.tracer.enabled) {
      const data: Record<string, unknown> = outcome.passed
        ? { result: 'success', status: outcome.status }
        : { result: 'failure', kind: outcome.kind, reason: outcome.reason, ...(outcome.status !== undefined && { status: outcome.status }) };
      data.firstCheck = first;
      data.state = host.healthState;
      data.latencyMs = deps.engine.clock.now() - this.sentAt;
      deps.engine.tracer.fact(
        host.healthMeta,
        'host.health_check',
        data,
        outcome.passed ? 'HealthCheckerImplBase::ActiveHealthCheckSession::handleSuccess' : 'HealthCheckerImplBase::ActiveHealthCheckSession::handleFailure',
      );
    }
    host.sendHealth(outcome.passed ? { type: 'hc.success' } : { type: 'hc.failure', kind: outcome.kind });
    this.checker.onCheckComplete(host, outcome.passed, first);
    if (!this.stopped) this.intervalTimer = deps.engine.clock.setTimeout(() => this.onInterval(), this.checker.nextInterval());
  }

  private closeConnection(): void {
    const connection = this.connection;
    const parser = this.parser;
    this.connection = undefined;
    this.parser = undefined;
    parser?.destroy();
    connection?.destroy();
  }

  private clearTimers(): void {
    const { clock } = this.checker.deps.engine;
    if (this.intervalTimer !== undefined) clock.clearTimeout(this.intervalTimer);
    if (this.timeoutTimer !== undefined) clock.clearTimeout(this.timeoutTimer);
    this.intervalTimer = undefined;
    this.timeoutTimer = undefined;
  }
}
