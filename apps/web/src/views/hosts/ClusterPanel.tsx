import type { EventStore } from '../../model/types';
import { clusterDetail } from '../../model/cluster-state';
import { at, hostStatus, PanelHead, useClusterFold } from './HostPanel';
import './hosts.css';

/**
 * One cluster as of the cursor: how much headroom each circuit breaker has left, whether
 * the host set is in panic (healthy share against healthy_panic_threshold), and every
 * host with its health; a host opens its own panel.
 */

export interface ClusterPanelProps {
  store: EventStore;
  version: number;
  cursor: number;
  cluster: string;
  onSelectHost(cluster: string, host: string): void;
  onClose(): void;
}

export function ClusterPanel({ store, version, cursor, cluster, onSelectHost, onClose }: ClusterPanelProps) {
  const fold = useClusterFold(store, version, cursor, cluster);
  const c = clusterDetail(fold);
  const p = c.panic;
  return (
    <div className="psh-panel" data-testid="cluster-panel" data-panic={p.inPanic ? 'true' : 'false'}>
      <PanelHead title={`cluster ${cluster}`} sub={<>{[c.type, c.lbPolicy].filter(Boolean).join(' · ')} · as of {at(fold.t)}</>} onClose={onClose} />

      <section className="psh-section" aria-label="panic threshold" data-testid="cluster-panic">
        <h3>Panic threshold</h3>
        <div className="psh-status-line">
          <span className={`psh-badge psh-${p.inPanic ? 'bad' : 'ok'}`} data-testid="cluster-panic-state">
            {p.inPanic ? 'in panic' : 'not in panic'}
          </span>
          <span data-testid="cluster-healthy">
            {p.healthy} of {p.total} healthy ({Math.round(p.healthyPercent)}%)
          </span>
          {p.threshold !== undefined && <span>threshold {p.threshold}%</span>}
        </div>
        <Meter value={p.healthyPercent} mark={p.threshold} tone={p.inPanic ? 'bad' : 'ok'} label={`${Math.round(p.healthyPercent)}% healthy`} />
        <p className="psh-why">
          {p.threshold === undefined
            ? 'This trace does not say the panic threshold.'
            : p.threshold === 0
              ? 'healthy_panic_threshold 0 disables panic mode: with no healthy host, requests fail.'
              : p.inPanic
                ? `Fewer than ${p.threshold}% of the hosts are healthy, so the load balancer ignores health and picks among all ${p.total}.`
                : `At least ${p.threshold}% of the hosts are healthy: the load balancer picks only healthy ones.`}
        </p>
        {(p.panicPicks > 0 || p.noHost > 0) && (
          <p className="psh-muted" data-testid="cluster-panic-picks">
            {p.panicPicks} pick{p.panicPicks === 1 ? '' : 's'} in panic mode so far (lb_healthy_panic){p.noHost > 0 && <> · {p.noHost} with no host to pick</>}
          </p>
        )}
        {p.lastPick && (
          <p className="psh-muted">
            last pick {at(p.lastPick.t)}: {p.lastPick.host}, {p.lastPick.reason}
          </p>
        )}
      </section>

      <section className="psh-section" aria-label="circuit breakers" data-testid="cluster-breakers">
        <h3>Circuit breakers (DEFAULT priority)</h3>
        <table className="psh-table">
          <thead>
            <tr>
              <th>limit</th>
              <th>used / max</th>
              <th>headroom</th>
            </tr>
          </thead>
          <tbody>
            {c.breakers.map((b) => {
              const full = b.limit !== null && b.used >= b.limit;
              return (
                <tr key={b.name} data-testid={`breaker-${b.name}`} data-used={b.used} data-limit={b.limit ?? ''} title={b.counts}>
                  <td className="mono">{b.name}</td>
                  <td>
                    <b>{b.used}</b> / {b.limit ?? (b.name === 'max_retries' && c.retryBudget ? 'budget' : '?')}
                    {b.limit !== null && <Meter value={(100 * b.used) / Math.max(1, b.limit)} tone={full ? 'bad' : b.used / Math.max(1, b.limit) > 0.8 ? 'warn' : 'ok'} label={`${b.used} of ${b.limit}`} small />}
                  </td>
                  <td className={full ? 'psh-bad-text' : ''}>{b.limit === null ? '–' : full ? 'open (full)' : b.limit - b.used}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {c.retryBudget && (
          <p className="psh-muted">
            max_retries is a retry budget: {c.retryBudget.budgetPercent}% of active and pending requests, at least {c.retryBudget.minRetryConcurrency}.
          </p>
        )}
        <p className="psh-muted">
          overflows so far: {c.overflows.pending} pending/requests, {c.overflows.connections} max_connections
        </p>
      </section>

      <section className="psh-section" aria-label="hosts" data-testid="cluster-hosts">
        <h3>Hosts</h3>
        <table className="psh-table">
          <thead>
            <tr>
              <th>host</th>
              <th>health</th>
              <th>weight</th>
              <th>conns</th>
              <th>served</th>
            </tr>
          </thead>
          <tbody>
            {c.hosts.map((h) => {
              const s = hostStatus(h);
              const conns = h.pools.reduce((n, q) => n + q.connecting.length + q.ready.length + q.busy.length, 0);
              return (
                <tr key={h.host} className="psh-row" onClick={() => onSelectHost(cluster, h.host)} data-testid="cluster-host" data-host={h.host} data-health={s.word} title={s.why}>
                  <td>
                    <button type="button" className="psh-link" onClick={(e) => (e.stopPropagation(), onSelectHost(cluster, h.host))}>
                      {h.hostname ?? h.host}
                    </button>
                    {h.hostname && <span className="psh-muted mono"> {h.host}</span>}
                  </td>
                  <td>
                    <span className={`psh-badge psh-${s.tone}`}>{s.word}</span>
                  </td>
                  <td>{h.weight ?? '–'}</td>
                  <td>{conns}</td>
                  <td>{h.servedTotal}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
    </div>
  );
}

function Meter({ value, mark, tone, label, small = false }: { value: number; mark?: number; tone: 'ok' | 'warn' | 'bad'; label: string; small?: boolean }) {
  return (
    <div className={small ? 'psh-meter psh-meter-small' : 'psh-meter'} role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(value)} aria-label={label}>
      <div className={`psh-meter-fill psh-fill-${tone}`} style={{ width: `${Math.min(100, Math.max(0, value))}%` }} />
      {mark !== undefined && <div className="psh-meter-mark" style={{ left: `${mark}%` }} title={`threshold ${mark}%`} />}
    </div>
  );
}

/** Presenter mode's one line about a cluster. */
export function ClusterStrip({ store, version, cursor, cluster }: { store: EventStore; version: number; cursor: number; cluster: string }) {
  const fold = useClusterFold(store, version, cursor, cluster);
  const c = clusterDetail(fold);
  const p = c.panic;
  const full = c.breakers.filter((b) => b.limit !== null && b.used >= b.limit).map((b) => b.name);
  return (
    <div className="psh-strip" data-testid="cluster-strip">
      <b>cluster {cluster}</b>
      <span className={`psh-badge psh-${p.inPanic ? 'bad' : 'ok'}`}>{p.inPanic ? 'in panic' : 'not in panic'}</span>
      <span>
        {p.healthy} of {p.total} healthy{p.threshold !== undefined ? ` (threshold ${p.threshold}%)` : ''}
      </span>
      {full.length > 0 ? <span className="psh-bad-text">{full.join(', ')} full</span> : <span>circuit breakers have headroom</span>}
    </div>
  );
}
