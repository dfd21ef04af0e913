import { useMemo, useRef } from 'react';
import type { EventStore } from '../../model/types';
import { ClusterTracker, type HostDetail, type PoolDetail, type Probe } from '../../model/host-state';
import './hosts.css';

/**
 * One upstream host as of the timeline cursor: its health flags and why each is set
 * (outlier ejection, active health check), its connection pool on each worker, its
 * load-balancing weight, and the requests it served. Everything comes from the events up
 * to the cursor (model/host-state.ts).
 */

export interface HostPanelProps {
  store: EventStore;
  /** the store's version, so the panel follows live appends */
  version: number;
  cursor: number;
  cluster: string;
  host: string;
  onSelectRequest(stream: number): void;
  onSelectCluster(cluster: string): void;
  onClose(): void;
}

/** One tracker per mounted panel: moving the cursor forward folds only the new events. */
export function useClusterFold(store: EventStore, version: number, cursor: number, cluster: string) {
  const tracker = useRef(new ClusterTracker());
  // eslint-disable-next-line react-hooks/exhaustive-deps
  return useMemo(() => tracker.current.at(store, cursor, cluster), [store, version, cursor, cluster]);
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 2)} s`;
export const at = (t: number) => `t = ${secs(t)}`;
const ms = (v: number) => (v >= 1000 ? secs(v) : `${Math.round(v * 10) / 10} ms`);

export function HostPanel({ store, version, cursor, cluster, host, onSelectRequest, onSelectCluster, onClose }: HostPanelProps) {
  const fold = useClusterFold(store, version, cursor, cluster);
  const h = fold.hostAt(host);
  const cfg = fold.config;
  if (!h) {
    return (
      <div className="psh-panel" data-testid="host-panel">
        <PanelHead title={host} sub={`cluster ${cluster}`} onClose={onClose} />
        <div className="ps-empty">Nothing is known of this host at the cursor yet.</div>
      </div>
    );
  }
  const status = hostStatus(h);
  return (
    <div className="psh-panel" data-testid="host-panel" data-health={status.word}>
      <PanelHead
        title={h.hostname ? `${h.hostname}` : h.host}
        sub={
          <>
            {h.hostname && <span className="mono">{h.host}</span>} in cluster{' '}
            <button type="button" className="psh-link" onClick={() => onSelectCluster(cluster)} data-testid="host-cluster-link">
              {cluster}
            </button>{' '}
            · as of {at(fold.t)}
          </>
        }
        onClose={onClose}
      />
      <section className="psh-section" aria-label="health">
        <h3>Health</h3>
        <div className="psh-status-line">
          <span className={`psh-badge psh-${status.tone}`} data-testid="host-status">
            {status.word}
          </span>
          <span className="mono" title="Envoy's /clusters health_flags">
            {h.healthFlags}
          </span>
          {h.weight !== undefined && <span data-testid="host-weight">weight {h.weight}</span>}
        </div>
        <p className="psh-why" data-testid="host-why">
          {status.why}
        </p>
      </section>

      <OutlierSection h={h} t={fold.t} cfg={cfg?.outlierDetection} />
      <HealthCheckSection h={h} cfg={cfg?.healthCheck} />

      <section className="psh-section" aria-label="connection pools" data-testid="host-pools">
        <h3>Connection pool{h.pools.length === 1 ? '' : 's'}</h3>
        {h.pools.length === 0 ? <p className="psh-muted">No pool yet: no request has been sent to this host.</p> : h.pools.map((p) => <PoolBlock key={p.worker} p={p} />)}
      </section>

      <section className="psh-section" aria-label="requests served" data-testid="host-served">
        <h3>
          Requests · {h.servedTotal} attempt{h.servedTotal === 1 ? '' : 's'}
          {h.servedFailed > 0 && <span className="psh-bad-text"> · {h.servedFailed} failed</span>}
        </h3>
        {h.served.length === 0 ? (
          <p className="psh-muted">None yet.</p>
        ) : (
          <table className="psh-table">
            <thead>
              <tr>
                <th>stream</th>
                <th>attempt</th>
                <th>sent</th>
                <th>result</th>
              </tr>
            </thead>
            <tbody>
              {h.served.map((r) => (
                <tr key={r.actor} className="psh-row" onClick={() => onSelectRequest(r.stream)} data-testid="host-request" data-stream={r.stream} title="Select this request">
                  <td>
                    <button type="button" className="psh-link" onClick={(e) => (e.stopPropagation(), onSelectRequest(r.stream))}>
                      #{r.stream}
                    </button>
                    {r.shadow && <span className="psh-muted"> mirror</span>}
                  </td>
                  <td>{r.attempt}</td>
                  <td className="mono">{secs(r.t)}</td>
                  <td className={r.status !== undefined && r.status < 500 ? 'psh-ok-text' : r.status !== undefined || r.reset ? 'psh-bad-text' : 'psh-muted'}>
                    {r.status ?? r.reset ?? (r.endT === undefined ? r.state.replace(/_/g, ' ') : r.state)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {h.servedTotal > h.served.length && <p className="psh-muted">the newest {h.served.length} shown</p>}
      </section>
    </div>
  );
}

export function PanelHead({ title, sub, onClose }: { title: string; sub: React.ReactNode; onClose(): void }) {
  return (
    <header className="psh-head">
      <div>
        <h2 className="psh-title" data-testid="panel-title">
          {title}
        </h2>
        <div className="psh-sub">{sub}</div>
      </div>
      <button type="button" className="ps-btn" onClick={onClose} title="Close (Esc)" data-testid="panel-close">
        Close
      </button>
    </header>
  );
}

/** The one word a host's state comes down to, its tone, and the reason in a sentence. */
export function hostStatus(h: HostDetail): { word: string; tone: 'ok' | 'warn' | 'bad'; why: string } {
  if (h.removed) return { word: 'removed', tone: 'bad', why: 'A DNS answer no longer lists this address: it left the cluster.' };
  const e = h.outlier.last;
  const reasons: string[] = [];
  if (h.ejected) reasons.push(e ? `was ejected by outlier detection (${e.type}${e.consecutive !== undefined ? `: ${e.consecutive} in a row` : ''})` : 'was ejected by outlier detection');
  if (h.health === 'pending') reasons.push('is waiting for its first active health check');
  else if (h.failedActiveHc) {
    const p = h.activeHc.probes.find((x) => !x.passed);
    reasons.push(`failed its active health check${p ? ` (${probeWhy(p)})` : ''}`);
  }
  if (reasons.length > 0) {
    const word = h.health === 'pending' ? 'pending HC' : h.ejected && h.failedActiveHc ? 'unhealthy, ejected' : h.ejected ? 'ejected' : 'unhealthy';
    return { word, tone: h.health === 'pending' ? 'warn' : 'bad', why: `The load balancer skips it unless the cluster is in panic: it ${reasons.join(' and ')}.` };
  }
  if (h.health === undefined) return { word: 'healthy', tone: 'ok', why: 'The cluster has neither health checks nor outlier detection: its hosts are always healthy.' };
  return { word: 'healthy', tone: 'ok', why: 'Passing; the load balancer may pick it.' };
}

function probeWhy(p: Probe): string {
  if (p.passed) return `${p.status ?? 'ok'}`;
  return p.reason ?? (p.status !== undefined ? `status ${p.status}` : 'failed');
}

function OutlierSection({ h, t, cfg }: { h: HostDetail; t: number; cfg?: { consecutive5xx: number; consecutiveGatewayFailure: number; intervalMs: number; baseEjectionMs: number; maxEjectionMs: number; maxEjectionPercent: number } }) {
  const o = h.outlier;
  if (!o.configured) return null;
  const e = o.last;
  return (
    <section className="psh-section" aria-label="outlier detection" data-testid="host-outlier">
      <h3>Outlier detection</h3>
      {h.ejected && e ? (
        <div className="psh-callout psh-callout-bad" data-testid="host-ejection">
          <div>
            <b>Ejected</b> by <span className="mono">{e.type}</span>
            {e.consecutive !== undefined && (
              <>
                : {e.consecutive} consecutive {e.type === 'consecutive_5xx' ? '5xx' : 'gateway failures'}
                {e.threshold !== undefined && <> (threshold {e.threshold})</>}
              </>
            )}
          </div>
          <div>
            at <span data-testid="host-ejected-at">{at(e.t)}</span> for {secs(e.ejectionMs)} (ejection {e.timesEjected}
            {e.timesEjected > 1 ? `: base_ejection_time × ${e.timesEjected}, capped at max_ejection_time` : ': base_ejection_time'})
          </div>
          {o.ejectionEndsT !== undefined && o.expectedUnejectT !== undefined && (
            <div className="psh-countdown" data-testid="host-countdown">
              {o.expectedUnejectT > t ? (
                <>
                  un-ejected in <b>{secs(o.expectedUnejectT - t)}</b> (at {at(o.expectedUnejectT)}
                  {o.expectedUnejectT !== o.ejectionEndsT && <>: the detector's first {secs(e.intervalMs ?? cfg?.intervalMs ?? 0)} interval tick after the ejection time ends at {secs(o.ejectionEndsT)}</>})
                </>
              ) : (
                <>ejection time is over; un-ejected at the detector's next interval tick</>
              )}
            </div>
          )}
          {e.ejectionsActive !== undefined && e.hosts !== undefined && (
            <div className="psh-muted">
              {e.ejectionsActive} of {e.hosts} hosts ejected after it{cfg && <> (max_ejection_percent {cfg.maxEjectionPercent}%)</>}
            </div>
          )}
        </div>
      ) : h.ejected ? (
        <p className="psh-callout psh-callout-bad">
          <b>Ejected</b> before the first event held here: the ejection's reason and time are not in these events.
        </p>
      ) : (
        <p>
          Not ejected.
          {o.lastUnejection && (
            <>
              {' '}
              Last un-ejected at {at(o.lastUnejection.t)} ({o.lastUnejection.reason}
              {o.lastUnejection.ejectedForMs !== undefined && <>, after {secs(o.lastUnejection.ejectedForMs)}</>}).
            </>
          )}
        </p>
      )}
      <dl className="psh-kv">
        <dt>consecutive 5xx</dt>
        <dd data-testid="host-consecutive-5xx">
          {o.consecutive5xx}
          {cfg && <> of {cfg.consecutive5xx}</>}
        </dd>
        <dt>consecutive gateway failures</dt>
        <dd>
          {o.consecutiveGatewayFailure}
          {cfg && <> of {cfg.consecutiveGatewayFailure}</>}
        </dd>
        <dt>ejections</dt>
        <dd data-testid="host-ejections">{o.ejections}</dd>
        {cfg && (
          <>
            <dt>interval · base ejection</dt>
            <dd>
              {secs(cfg.intervalMs)} · {secs(cfg.baseEjectionMs)} (max {secs(cfg.maxEjectionMs)})
            </dd>
          </>
        )}
      </dl>
      {o.skipped.length > 0 && (
        <ul className="psh-list">
          {o.skipped.map((s, i) => (
            <li key={i}>
              {at(s.t)}: {s.type} reached{s.consecutive !== undefined ? ` ${s.consecutive}` : ''}, not ejected: {s.detail}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function HealthCheckSection({ h, cfg }: { h: HostDetail; cfg?: { path: string; intervalMs: number; timeoutMs: number; healthyThreshold: number; unhealthyThreshold: number } }) {
  const hc = h.activeHc;
  if (!hc.configured) return null;
  return (
    <section className="psh-section" aria-label="active health check" data-testid="host-hc">
      <h3>Active health check</h3>
      {cfg && (
        <p className="psh-muted">
          GET <span className="mono">{cfg.path}</span> every {secs(cfg.intervalMs)}, timeout {secs(cfg.timeoutMs)} · unhealthy after {cfg.unhealthyThreshold} network failure
          {cfg.unhealthyThreshold === 1 ? '' : 's'} in a row (a wrong answer at once) · healthy again after {cfg.healthyThreshold} pass{cfg.healthyThreshold === 1 ? '' : 'es'}
        </p>
      )}
      <p>
        {hc.total} check{hc.total === 1 ? '' : 's'}: {hc.passed} passed, {hc.failed} failed
        {hc.toward && (
          <span data-testid="host-hc-progress">
            {' '}
            · {hc.toward.count} of {hc.toward.threshold} toward {hc.toward.state}
          </span>
        )}
      </p>
      {hc.probes.length > 0 && (
        <table className="psh-table" data-testid="host-probes">
          <thead>
            <tr>
              <th>at</th>
              <th>result</th>
              <th>latency</th>
              <th>why</th>
            </tr>
          </thead>
          <tbody>
            {hc.probes.map((p, i) => (
              <tr key={i} data-testid="host-probe" data-passed={p.passed ? 'true' : 'false'}>
                <td className="mono">{secs(p.t)}</td>
                <td className={p.passed ? 'psh-ok-text' : 'psh-bad-text'}>
                  {p.passed ? 'pass' : 'fail'}
                  {p.status !== undefined ? ` ${p.status}` : ''}
                </td>
                <td className="mono">{p.latencyMs !== undefined ? ms(p.latencyMs) : '–'}</td>
                <td>{p.passed ? (p.firstCheck ? 'first check' : '') : `${p.kind ?? ''}${p.reason ? `: ${p.reason}` : ''}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Ids({ ids, prefix }: { ids: number[]; prefix: string }) {
  if (ids.length === 0) return <span className="psh-muted">–</span>;
  const shown = ids.slice(0, 12);
  return (
    <span className="mono">
      {shown.map((id) => `${prefix}${id}`).join(' ')}
      {ids.length > shown.length ? ` +${ids.length - shown.length}` : ''}
    </span>
  );
}

function PoolBlock({ p }: { p: PoolDetail }) {
  const rows: Array<[string, number[], string]> = [
    ['connecting', p.connecting, 'ucx '],
    ['ready', p.ready, 'ucx '],
    ['busy', p.busy, 'ucx '],
    ['draining', p.draining, 'ucx '],
    ['pending', p.pending, '#'],
  ];
  return (
    <div className="psh-pool" data-testid="host-pool" data-worker={p.worker}>
      <div className="psh-pool-title">worker {p.worker}</div>
      <dl className="psh-kv">
        {rows.map(([name, ids, prefix]) => (
          <div key={name} className="psh-kv-row" data-testid={`pool-${name}`} data-count={ids.length}>
            <dt>
              <span className={`pst-dot pst-cx-${name === 'pending' ? 'connecting' : name}`} /> {name} <b>{ids.length}</b>
            </dt>
            <dd>
              <Ids ids={ids} prefix={prefix} />
            </dd>
          </div>
        ))}
        <div className="psh-kv-row" data-testid="pool-overflows">
          <dt>overflows</dt>
          <dd>
            {p.pendingOverflows} pending overflow · {p.connectionOverflows} max connections
            {p.lastOverflow && (
              <span className="psh-muted">
                {' '}
                (last {at(p.lastOverflow.t)}: {p.lastOverflow.limit ?? p.lastOverflow.decision}
                {p.lastOverflow.max !== undefined ? ` ${p.lastOverflow.max}` : ''})
              </span>
            )}
          </dd>
        </div>
        {p.connectFailures > 0 && (
          <div className="psh-kv-row">
            <dt>connect failures</dt>
            <dd>
              {p.connectFailures}
              {p.lastConnectFailure && (
                <span className="psh-muted">
                  {' '}
                  (last {at(p.lastConnectFailure.t)}: {p.lastConnectFailure.reason}
                  {p.lastConnectFailure.detail ? `, ${p.lastConnectFailure.detail}` : ''})
                </span>
              )}
            </dd>
          </div>
        )}
        {p.lastDecision && (
          <div className="psh-kv-row">
            <dt>last decision</dt>
            <dd>
              <span className="mono">{p.lastDecision.decision}</span> <span className="psh-muted">{at(p.lastDecision.t)}</span>
            </dd>
          </div>
        )}
      </dl>
    </div>
  );
}

/** Presenter mode's one line about a host, for the detail strip. */
export function HostStrip({ store, version, cursor, cluster, host }: { store: EventStore; version: number; cursor: number; cluster: string; host: string }) {
  const fold = useClusterFold(store, version, cursor, cluster);
  const h = fold.hostAt(host);
  if (!h) return null;
  const s = hostStatus(h);
  const o = h.outlier;
  let conns = 0;
  let pending = 0;
  for (const p of h.pools) {
    conns += p.connecting.length + p.ready.length + p.busy.length;
    pending += p.pending.length;
  }
  const probe = h.activeHc.probes[0];
  return (
    <div className="psh-strip" data-testid="host-strip">
      <b>{h.hostname ?? h.host}</b>
      <span className={`psh-badge psh-${s.tone}`}>{s.word}</span>
      {h.ejected && o.last && <span>by {o.last.type}</span>}
      {h.ejected && o.expectedUnejectT !== undefined && o.expectedUnejectT > fold.t && <span>back in {secs(o.expectedUnejectT - fold.t)}</span>}
      {probe && <span>last check {probe.passed ? `pass ${probe.status ?? ''}` : `fail (${probeWhy(probe)})`}</span>}
      <span>
        {conns} conn · {pending} pending
      </span>
      <span>{h.servedTotal} served</span>
    </div>
  );
}
