import { useEffect, useRef } from 'react';

/**
 * The shareable part of the view lives in the hash: `#req=<stream>&seq=<seq>`, and an open
 * host or cluster panel as `host=<cluster>/<ip:port>` or `cluster=<name>`. The query
 * stays for the server (`?token=`), so the hash survives a reload and never reaches it.
 */

export interface UrlState {
  req: number | null;
  seq: number | null;
  /** the open host panel, `<cluster>/<ip:port>` */
  host?: string | null;
  /** the open cluster panel */
  cluster?: string | null;
}

function positiveInt(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

export function readUrlState(hash: string = window.location.hash): UrlState {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const host = params.get('host');
  const cluster = params.get('cluster');
  return { req: positiveInt(params.get('req')), seq: positiveInt(params.get('seq')), ...(host && { host }), ...(cluster && { cluster }) };
}

export function formatUrlState(state: UrlState): string {
  const params = new URLSearchParams();
  if (state.req !== null) params.set('req', String(state.req));
  if (state.seq !== null) params.set('seq', String(state.seq));
  if (state.host) params.set('host', state.host);
  else if (state.cluster) params.set('cluster', state.cluster);
  const text = params.toString();
  return text ? `#${text}` : '';
}

export function writeUrlState(state: UrlState): void {
  const hash = formatUrlState(state);
  if (hash === window.location.hash || (hash === '' && window.location.hash === '')) return;
  // replaceState: scrubbing must not fill the history with one entry per event.
  history.replaceState(null, '', `${window.location.pathname}${window.location.search}${hash}`);
}

/**
 * Keeps the address in step with the view, at most every `intervalMs`. A throttle, not a
 * debounce: live, the cursor moves with every event, and a debounce restarted by each one
 * never fired, so the address never got the selected request.
 */
export function useUrlStateSync(state: UrlState, canWrite: () => boolean, intervalMs = 250): void {
  const latest = useRef({ state, canWrite });
  latest.current = { state, canWrite };
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const lastWrite = useRef(0);
  const { req, seq, host, cluster } = state;
  useEffect(() => {
    if (timer.current !== null) return;
    const wait = Math.max(0, lastWrite.current + intervalMs - Date.now());
    timer.current = setTimeout(() => {
      timer.current = null;
      if (!latest.current.canWrite()) return;
      lastWrite.current = Date.now();
      writeUrlState(latest.current.state);
    }, wait);
  }, [req, seq, host, cluster, intervalMs]);
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );
}
