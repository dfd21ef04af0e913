import { useEffect, useMemo, useReducer, useState } from 'react';
import {
  CONTROL_ACTIONS,
  SEND_REQUEST_METHODS,
  type ControlAction,
  type DemoHostInfo,
  type HostFault,
  type RequestResultMessage,
  type SendRequestMethod,
  type Topology,
} from '@proxyscope/protocol';
import type { EventStore, ServerConnection } from '../../model/types';
import '../topology/views-theme.css';
import './controls.css';
import { serverErrorText } from '../../net/server-error';

interface Props {
  connection: ServerConnection | null;
  store: EventStore;
  /** selects a request in the other views (the "select this request" action) */
  onSelect?: (stream: number | null) => void;
}

const CONTROL_LABELS: Record<ControlAction, { label: string; help: string }> = {
  drain_listeners: { label: 'Drain listeners', help: 'POST /drain_listeners: listeners stop accepting; in-flight requests finish' },
  healthcheck_fail: { label: 'Fail health check', help: 'POST /healthcheck/fail: the proxy reports itself unhealthy to its load balancer' },
  healthcheck_ok: { label: 'Health check OK', help: 'POST /healthcheck/ok: undo healthcheck_fail' },
};

export function ControlsPanel({ connection, store, onSelect }: Props) {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => store.subscribe(bump), [store]);
  useEffect(() => connection?.on('hosts', bump), [connection]);
  const [error, setError] = useState<string | null>(null);

  if (!connection) {
    return (
      <div className="psc-controls psc-disabled" data-testid="controls-panel">
        <p className="pst-empty">Controls need a live proxyscope server: they send requests through the proxy and change the demo's hosts. A trace file loaded on its own can only be replayed.</p>
      </div>
    );
  }
  const controls = new Set(connection.controls);
  const run = async (what: string, fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(`${what} failed — ${serverErrorText(err)}`);
    }
  };
  return (
    <div className="psc-controls" data-testid="controls-panel">
      {!connection.connected && <p className="psc-error" role="alert">Not connected to the server: controls are unavailable until it reconnects.</p>}
      {error && (
        <p className="psc-error" role="alert">
          {error}{' '}
          <button type="button" className="pst-btn" onClick={() => setError(null)}>
            dismiss
          </button>
        </p>
      )}
      {controls.has('send_request') ? (
        <Composer connection={connection} topology={store.topology} onSelect={onSelect} onError={setError} />
      ) : (
        <section className="psc-section">
          <h3>Send a request</h3>
          <p className="psc-note">This server does not accept send_request (replay mode).</p>
        </section>
      )}
      <section className="psc-section">
        <h3>{store.mode === 'simulation' ? 'Simulated hosts' : 'Demo hosts'}</h3>
        {store.mode === 'simulation' && controls.has('host_fault') && (
          <p className="psc-note" data-testid="sim-fault-note">
            A fault here is a scenario timeline event at the current virtual time; clear goes back to what the scenario says the host does now. Requests you send go over the
            simulated network and wait while the clock is paused.
          </p>
        )}
        {!controls.has('host_fault') ? (
          <p className="psc-note">Host faults are only available with the built-in demo or a simulation (not with --config or in replay).</p>
        ) : store.demoHosts.length === 0 ? (
          <p className="psc-note">No demo hosts announced yet.</p>
        ) : (
          <HostFaults hosts={store.demoHosts} disabled={!connection.connected} send={(host, fault) => run(`host_fault ${host}`, () => connection.request({ type: 'host_fault', host, fault }))} />
        )}
      </section>
      <section className="psc-section">
        <h3>Proxy</h3>
        <div className="psc-row">
          {CONTROL_ACTIONS.filter((a) => controls.has(a)).map((a) => (
            <button key={a} type="button" className="pst-btn" title={CONTROL_LABELS[a].help} disabled={!connection.connected} onClick={() => run(a, () => connection.request({ type: 'control', action: a }))}>
              {CONTROL_LABELS[a].label}
            </button>
          ))}
          {!CONTROL_ACTIONS.some((a) => controls.has(a)) && <span className="psc-note">This server accepts no proxy controls.</span>}
        </div>
      </section>
    </div>
  );
}

/** Suggests an authority and paths from the route config, so the first request just works. */
function suggestions(topology: Topology | null) {
  const vhosts = topology?.routeConfigs.flatMap((rc) => rc.virtualHosts) ?? [];
  const authority = vhosts.flatMap((v) => v.domains).find((d) => !d.includes('*')) ?? 'localhost';
  const paths = new Set<string>();
  for (const v of vhosts)
    for (const r of v.routes) {
      const m = /^(?:prefix|path) (\/\S*)/.exec(r.match);
      if (m) paths.add(m[1].endsWith('/') && m[1] !== '/' ? `${m[1]}items` : m[1]);
    }
  return { authority, paths: [...paths] };
}

function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`header line "${line.trim()}" needs "name: value"`);
    headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return headers;
}

interface Sent {
  tag: string;
  method: string;
  path: string;
  result?: RequestResultMessage;
}

function Composer({ connection, topology, onSelect, onError }: { connection: ServerConnection; topology: Topology | null; onSelect?: (s: number | null) => void; onError: (e: string | null) => void }) {
  const hint = useMemo(() => suggestions(topology), [topology]);
  const [method, setMethod] = useState<SendRequestMethod>('GET');
  const [authority, setAuthority] = useState(hint.authority);
  const [path, setPath] = useState(hint.paths.find((p) => p.startsWith('/api')) ?? '/');
  const [headers, setHeaders] = useState('');
  const [body, setBody] = useState('');
  const [sent, setSent] = useState<Sent[]>([]);
  const [busy, setBusy] = useState(0);

  useEffect(
    () =>
      connection.on('request_result', (m) => {
        setSent((list) => list.map((s) => (s.tag === m.tag ? { ...s, result: m } : s)));
        setBusy((b) => Math.max(0, b - 1));
      }),
    [connection],
  );

  const submit = async (ev: React.FormEvent) => {
    ev.preventDefault();
    onError(null);
    let parsed: Record<string, string>;
    try {
      parsed = parseHeaders(headers);
    } catch (err) {
      onError(`send_request not sent — ${(err as Error).message}`);
      return;
    }
    // our own tag finds the result whatever id the connection gives the message
    const tag = `ui-${Math.random().toString(16).slice(2, 10)}`;
    setSent((list) => [{ tag, method, path }, ...list].slice(0, 8));
    setBusy((b) => b + 1);
    try {
      await connection.request({ type: 'send_request', method, authority, path, tag, ...(Object.keys(parsed).length ? { headers: parsed } : {}), ...(body ? { body } : {}) });
    } catch (err) {
      setBusy((b) => Math.max(0, b - 1));
      setSent((list) => list.filter((s) => s.tag !== tag));
      onError(`send_request failed — ${serverErrorText(err)}`);
    }
  };

  return (
    <section className="psc-section">
      <h3>Send a request through the proxy</h3>
      <form className="psc-composer" onSubmit={submit}>
        <div className="psc-row">
          <select aria-label="method" value={method} onChange={(e) => setMethod(e.target.value as SendRequestMethod)}>
            {SEND_REQUEST_METHODS.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
          <input aria-label="authority" className="psc-authority" value={authority} onChange={(e) => setAuthority(e.target.value)} placeholder="host[:port]" required />
          <input aria-label="path" className="psc-path" value={path} onChange={(e) => setPath(e.target.value)} list="psc-paths" placeholder="/path?query" required />
          <datalist id="psc-paths">
            {hint.paths.map((p) => (
              <option key={p} value={p} />
            ))}
          </datalist>
          <button type="submit" className="pst-btn pst-btn-primary" disabled={!connection.connected || busy >= 8}>
            Send
          </button>
        </div>
        <div className="psc-row">
          <textarea aria-label="headers" rows={2} value={headers} onChange={(e) => setHeaders(e.target.value)} placeholder={'headers, one per line\nx-envoy-max-retries: 1'} />
          <textarea aria-label="body" rows={2} value={body} onChange={(e) => setBody(e.target.value)} placeholder="body (optional)" />
        </div>
      </form>
      {sent.length > 0 && (
        <table className="psc-results" data-testid="request-results">
          <thead>
            <tr>
              <th>request</th>
              <th>status</th>
              <th>flags</th>
              <th>upstream</th>
              <th>time</th>
              <th>stream</th>
            </tr>
          </thead>
          <tbody>
            {sent.map((s) => {
              const r = s.result;
              const status = r?.status ?? r?.accessLog?.status;
              return (
                <tr key={s.tag} data-tag={s.tag} data-status={status ?? ''}>
                  <td>
                    {s.method} {s.path}
                  </td>
                  <td className={`psc-num ${status === undefined ? '' : status >= 500 ? 'psc-5xx' : status >= 400 ? 'psc-4xx' : 'psc-ok'}`}>{r ? (status ?? '—') : 'sending…'}</td>
                  <td>{r?.accessLog?.flags ?? ''}</td>
                  <td>{r?.accessLog?.upstreamHost ?? ''}</td>
                  <td className="psc-num">{r ? `${r.durationMs.toFixed(1)} ms` : ''}</td>
                  <td className="psc-num">
                    {r?.stream !== undefined ? (
                      <button type="button" className="pst-btn" disabled={!onSelect} onClick={() => onSelect?.(r.stream!)} title="show this request in the other views" aria-label={`select request ${r.stream}`}>
                        #{r.stream}
                      </button>
                    ) : null}
                    {r?.error && <span className="psc-error-inline">{r.error.code}: {r.error.message}</span>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function describe(h: DemoHostInfo): string {
  const b = h.behaviour;
  const parts: string[] = [];
  if (b.down) parts.push('down');
  if (b.reset) parts.push('resets');
  if (b.errorRate > 0) parts.push(`${Math.round(b.errorRate * 100)}% ${b.errorStatus}`);
  parts.push(`~${b.latencyMs} ms`);
  return parts.join(' · ');
}

function HostFaults({ hosts, disabled, send }: { hosts: readonly DemoHostInfo[]; disabled: boolean; send: (host: string, fault: HostFault) => Promise<void> }) {
  const [status, setStatus] = useState(503);
  const [rate, setRate] = useState(100);
  const [latency, setLatency] = useState(800);
  return (
    <>
      <div className="psc-row psc-fault-params">
        <label>
          fail with
          <input type="number" min={400} max={599} value={status} onChange={(e) => setStatus(Number(e.target.value))} aria-label="fail status" />
        </label>
        <label>
          at
          <input type="number" min={0} max={100} value={rate} onChange={(e) => setRate(Number(e.target.value))} aria-label="fail rate percent" />%
        </label>
        <label>
          latency
          <input type="number" min={0} max={60000} step={50} value={latency} onChange={(e) => setLatency(Number(e.target.value))} aria-label="latency ms" />
          ms
        </label>
      </div>
      <table className="psc-hosts">
        <tbody>
          {hosts.map((h) => (
            <tr key={h.name} data-host={h.name} className={h.faulted ? 'psc-faulted' : ''}>
              {/* Its buttons on a line under its name (controls.css): side by side, a faulted
                  host's longer behaviour squeezed the button column of every row. */}
              <th scope="row" className="psc-host-head">
                {h.name}
                <small>
                  {h.service} · {h.address}
                </small>
                <span className="psc-behaviour">{describe(h)}</span>
              </th>
              <td className="psc-actions">
                <button type="button" className="pst-btn" disabled={disabled} onClick={() => send(h.name, { fail: { status, rate: Math.min(1, Math.max(0, rate / 100)) } })}>
                  fail {status}
                </button>
                <button type="button" className="pst-btn" disabled={disabled} onClick={() => send(h.name, { latency: { ms: latency } })}>
                  +latency
                </button>
                <button type="button" className="pst-btn" disabled={disabled} onClick={() => send(h.name, { reset: true })}>
                  reset
                </button>
                {h.behaviour.down ? (
                  <button type="button" className="pst-btn" disabled={disabled} onClick={() => send(h.name, { up: true })}>
                    up
                  </button>
                ) : (
                  <button type="button" className="pst-btn" disabled={disabled} onClick={() => send(h.name, { down: true })}>
                    down
                  </button>
                )}
                <button type="button" className="pst-btn" disabled={disabled || !h.faulted} onClick={() => send(h.name, { clear: true })}>
                  clear
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
