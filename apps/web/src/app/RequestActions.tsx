import { useEffect, useRef, useState } from 'react';
import { RESERVED_REQUEST_HEADERS, SEND_REQUEST_METHODS, type SendRequestMethod } from '@proxyscope/protocol';
import type { EventStoreImpl } from '../model/event-store';
import { buildHar, harFileName } from '../model/har';
import { curlCommand } from '../model/curl';
import { listenerAddress, requestMessage, type RequestMessage } from '../model/request-message';
import type { RequestSummary, ServerConnection } from '../model/types';
import { serverErrorText } from '../net/server-error';
import { CopyIcon, ResendIcon, SaveIcon } from './icons';

/**
 * DevTools habits for the selected request: Export HAR, Copy as cURL and Resend (the same
 * method, authority, path and headers through the server's `send_request`, on the listener
 * it came in on; the new request is selected when it shows up). A button that cannot act
 * says why, in its label and when pressed, and stays focusable so the reason can be read.
 */

/** Saves `text` as a file through a Blob URL (the page stays where it is). */
export function downloadText(name: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own reference by the time the click returns; a minute is generous.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Export HAR of some requests (summaries as of `cursor`): the detail's one request, or the list's filtered rows. */
export function ExportHarButton({ store, requests, cursor, what, label = 'HAR' }: { store: EventStoreImpl; requests: readonly RequestSummary[]; cursor: number; what: string; label?: string }) {
  const finished = requests.filter((r) => r.done).length;
  const reason = requests.length === 0 ? 'no requests to export' : finished === 0 ? 'still in flight at the cursor: a HAR entry needs its response' : null;
  const describe = requests.length === 1 ? 'this request' : `the ${finished} finished request${finished === 1 ? '' : 's'} shown${finished < requests.length ? ` (${requests.length - finished} in flight are left out)` : ''}`;
  return (
    <button
      type="button"
      className="ps-btn"
      data-testid={`export-har-${what}`}
      aria-label={reason ? `Export HAR: unavailable, ${reason}` : `Export HAR of ${describe}`}
      title={reason ? `Export HAR: ${reason}` : `Download ${describe} as HAR 1.2 (Chrome DevTools: Network, Import HAR)`}
      disabled={reason !== null}
      onClick={() => downloadText(harFileName(store, what), `${JSON.stringify(buildHar(store, requests, cursor), null, 2)}\n`)}
    >
      <SaveIcon /> {label}
    </button>
  );
}

/** Headers a resent request should not repeat: the server's own, and ones naming the first request. */
const NOT_RESENT: ReadonlySet<string> = new Set<string>([...RESERVED_REQUEST_HEADERS, 'x-request-id', 'x-sim-request']);

function resendReason(store: EventStoreImpl, connection: ServerConnection | null, request: RequestMessage | undefined): string | null {
  if (store.mode === 'file') return 'no server: this request comes from a trace file';
  if (store.mode === 'replay') return 'no proxy: a replay server only plays a recorded trace';
  if (!connection || !connection.connected) return 'not connected to the server';
  if (!connection.controls.includes('send_request')) return 'this server does not accept send_request';
  if (!request) return 'its headers are not in the trace at the cursor';
  if (!(SEND_REQUEST_METHODS as readonly string[]).includes(request.method)) return `send_request cannot send ${request.method}`;
  return null;
}

interface Props {
  store: EventStoreImpl;
  cursor: number;
  stream: number;
  connection: ServerConnection | null;
  onSelect?: (stream: number | null) => void;
}

type Status = { kind: 'ok' | 'error'; text: string } | null;

export function RequestActions({ store, cursor, stream, connection, onSelect }: Props) {
  const at = Math.max(cursor, store.eventsOfRequest(stream)[0] ?? cursor);
  const summary = store.requestAt(stream, at);
  const request = summary ? requestMessage(store, summary, at) : undefined;
  const [status, setStatus] = useState<Status>(null);
  const [fallback, setFallback] = useState<string | null>(null);
  const [pending, setPending] = useState<{ tag: string; from: number } | null>(null);
  const fallbackRef = useRef<HTMLTextAreaElement>(null);

  // A new selection starts clean.
  useEffect(() => {
    setStatus(null);
    setFallback(null);
  }, [stream]);

  useEffect(() => {
    if (fallback !== null) fallbackRef.current?.select();
  }, [fallback]);

  // The resent request shows up in the trace with our tag (x-proxyscope-tag): select it
  // then, or when its request_result names it, whichever comes first.
  useEffect(() => {
    if (!pending) return;
    let done = false;
    const found = (id: number) => {
      if (done) return;
      done = true;
      setPending(null);
      onSelect?.(id);
    };
    const scan = () => {
      const ids = store.requestIds();
      for (let k = Math.min(pending.from, ids.length); k < ids.length; k++) {
        if (store.requestAt(ids[k]!, store.length - 1)?.tag === pending.tag) return found(ids[k]!);
      }
    };
    scan();
    const unsubscribe = store.subscribe(scan);
    const off = connection?.on('request_result', (m) => {
      if (m.tag === pending.tag && m.stream !== undefined) found(m.stream);
    });
    return () => {
      unsubscribe();
      off?.();
    };
  }, [pending, store, connection, onSelect]);

  if (!summary) return null;
  const reason = resendReason(store, connection, request);

  const copy = async () => {
    setFallback(null);
    if (!request) {
      setStatus({ kind: 'error', text: 'Copy as cURL: the request headers are not in the trace at the cursor' });
      return;
    }
    const address = listenerAddress(store, summary.listener);
    const { command, notes } = curlCommand(request, address ? { listener: address } : {});
    const note = notes.length ? ` ${notes.join(' ')}` : '';
    try {
      await navigator.clipboard.writeText(command);
      setStatus({ kind: 'ok', text: `Copied as cURL.${note}` });
    } catch {
      // No clipboard (a page over plain http, or permission refused): the command to copy by hand.
      setFallback(command);
      setStatus({ kind: 'ok', text: `The clipboard is not available here: copy the command below.${note}` });
    }
  };

  const resend = async () => {
    if (pending) return;
    if (reason || !request || !connection) {
      setStatus({ kind: 'error', text: `Resend unavailable: ${reason ?? 'no server'}` });
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of request.headers) if (!NOT_RESENT.has(name)) headers[name] = value;
    // our own tag finds the new request, whatever id the connection gives the message
    const tag = `resend-${stream}-${Math.random().toString(16).slice(2, 10)}`;
    setStatus(null);
    setPending({ tag, from: store.requestIds().length });
    try {
      await connection.request({
        type: 'send_request',
        method: request.method as SendRequestMethod,
        authority: request.authority,
        path: request.path,
        listener: summary.listener,
        tag,
        ...(Object.keys(headers).length ? { headers } : {}),
      });
      setStatus({ kind: 'ok', text: `Resent ${request.method} ${request.path}${request.hasBody ? ' without its body (the trace holds none)' : ''}.` });
    } catch (err) {
      setPending(null);
      setStatus({ kind: 'error', text: `Resend failed: ${serverErrorText(err)}` });
    }
  };

  return (
    <span className="ps-request-actions" style={{ marginLeft: 'auto', display: 'inline-flex', gap: 6, alignItems: 'baseline', flexWrap: 'wrap' }} data-testid="request-actions">
      <ExportHarButton store={store} requests={[summary]} cursor={at} what={`request-${stream}`} />
      <button type="button" className="ps-btn" onClick={copy} aria-label="Copy as cURL" title="Copy a curl command line that repeats this request (POSIX shell quoting)" data-testid="copy-curl">
        <CopyIcon /> cURL
      </button>
      <button
        type="button"
        className="ps-btn"
        onClick={resend}
        aria-disabled={reason !== null || pending !== null}
        aria-label={reason ? `Resend: unavailable, ${reason}` : 'Resend this request through the proxy'}
        title={reason ? `Resend: ${reason}` : `send_request: the same method, authority, path and headers again, on listener ${summary.listener}`}
        style={reason ? { opacity: 0.5 } : undefined}
        data-testid="resend"
      >
        <ResendIcon /> Resend
      </button>
      {status && (
        <span role={status.kind === 'error' ? 'alert' : 'status'} className={status.kind === 'error' ? 'flag-bad' : 'muted'} style={{ flexBasis: '100%', fontSize: 12 }} data-testid="request-action-status">
          {status.text}
        </span>
      )}
      {fallback !== null && (
        <textarea ref={fallbackRef} readOnly value={fallback} rows={Math.min(8, fallback.split('\n').length)} aria-label="curl command" className="mono" style={{ flexBasis: '100%', width: '100%' }} data-testid="curl-command" />
      )}
    </span>
  );
}
