import { useEffect, useState } from 'react';
import type { StatsMessage } from '@proxyscope/protocol';
import type { ServerConnection } from '../model/types';
import { RecordIcon, SaveIcon, StopIcon } from './icons';

type RecordingStatus = NonNullable<StatsMessage['recording']>;

/**
 * A simulation's controls leave little of the header at 1280 px: the counter gives way
 * (with an ellipsis) before the last buttons are pushed off. The wrapper is
 * `display: contents`, so the buttons and the counter are the header's own flex items.
 */
const shrinkable = { minWidth: 0, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' } as const;

interface Props {
  connection: ServerConnection | null;
  /** where the admin endpoints are (default: next to this page, with its ?token=) */
  location?: Location;
}

/** `recording/start` next to index.html (the page may sit under a reverse proxy's sub-path), and the page's token. */
export function adminUrl(path: string, location: Location = window.location): { url: string; token: string | null } {
  const page = new URL(location.href);
  const url = new URL(page.pathname.replace(/[^/]*$/, '') + path, page.origin);
  return { url: url.toString(), token: page.searchParams.get('token') };
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)} kB`;
  return `${(n / 1_000_000).toFixed(n < 10_000_000 ? 1 : 0)} MB`;
}

/**
 * Record, Stop and Save for the server's one recording (POST /recording/start?gzip=1,
 * POST /recording/stop, GET /recording). The state comes with each `stats` message, so a
 * recording started elsewhere (`--record`, curl, another tab) shows here too. Nothing
 * shows until a `stats` says the server can record: replay servers and static hosts cannot.
 */
export function RecordButton({ connection, location }: Props) {
  const [status, setStatus] = useState<RecordingStatus | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setStatus(null);
    return connection?.on('stats', (m) => setStatus(m.recording ?? null));
  }, [connection]);
  if (!connection || !status) return null;

  const post = async (path: string) => {
    setBusy(true);
    setError(null);
    try {
      const { url, token } = adminUrl(path, location);
      // Same origin, so the browser sends the Origin the admin checks on a POST.
      const res = await fetch(url, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
      if (!res.ok) throw new Error((await res.text()).trim() || `HTTP ${res.status}`);
      const body = (await res.json()) as { recording: RecordingStatus & { file?: string } };
      const r = body.recording;
      setStatus({ active: r.active, events: r.events, dropped: r.dropped, bytes: r.bytes, gzip: r.gzip, ...(r.file ? { file: r.file.replace(/^.*[\\/]/, '') } : {}) });
    } catch (err) {
      setError(`${path} failed: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  const save = () => {
    const { url, token } = adminUrl('recording', location);
    const href = new URL(url);
    if (token) href.searchParams.set('token', token);
    // The server names the file (Content-Disposition); an <a download> keeps the page.
    const a = document.createElement('a');
    a.href = href.toString();
    a.download = status.file ?? '';
    document.body.append(a);
    a.click();
    a.remove();
  };
  const counter = `${status.events.toLocaleString('en-US')} events${status.bytes !== undefined ? ` · ${formatBytes(status.bytes)}` : ''}${status.dropped > 0 ? ` · ${status.dropped.toLocaleString('en-US')} dropped` : ''}`;
  // A gzip file is complete only once it ends: the server refuses it while recording.
  const canSave = status.file !== undefined && (!status.active || status.gzip === false);

  return (
    <span className="ps-record" data-testid="recording" style={{ display: 'contents' }}>
      {status.active ? (
        <>
          <button className="ps-btn" style={{ flexShrink: 0 }} onClick={() => post('recording/stop')} disabled={busy} title="POST /recording/stop: end the recording file">
            <StopIcon /> Stop
          </button>
          <span className="mono" data-testid="recording-counter" role="status" title={`recording to ${status.file ?? 'a file'} on the server: events so far · file size so far${status.gzip ? ' (compressed)' : ''}`} style={{ ...shrinkable, minWidth: '8em', color: 'var(--ps-bad)', fontVariantNumeric: 'tabular-nums' }}>
            <RecordIcon /> {counter}
          </span>
        </>
      ) : (
        <button
          className="ps-btn"
          style={{ flexShrink: 0 }}
          onClick={() => post('recording/start?gzip=1')}
          disabled={busy}
          title={`POST /recording/start: record every trace event on the server, from now on, to a .ndjson.gz file${status.file ? ' (replaces the last recording)' : ''}`}
        >
          <span style={{ color: 'var(--ps-bad)' }}>
            <RecordIcon />
          </span>{' '}
          Record
        </button>
      )}
      {canSave && (
        <button className="ps-btn" style={{ flexShrink: 0 }} onClick={save} title={`GET /recording: download ${status.file}${status.active ? '' : ` (${counter})`}`}>
          <SaveIcon /> Save
        </button>
      )}
      {!status.active && status.file !== undefined && (
        <span className="mono muted" data-testid="recording-counter" style={shrinkable}>
          {counter}
        </span>
      )}
      {error && (
        <span role="alert" className="mono" style={{ ...shrinkable, color: 'var(--ps-bad)' }} title={error}>
          {error.length > 60 ? `${error.slice(0, 57)}…` : error}
        </span>
      )}
    </span>
  );
}
