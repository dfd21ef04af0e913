import { useEffect, useMemo, useRef, type ReactNode } from 'react';
import type { TraceEvent } from '@proxyscope/protocol';
import type { EventStoreImpl } from '../model/event-store';
import { relatedEvents, waterfall, type WaterfallPhase } from '../model/request-detail';
import { attemptOutcome, decisions } from '../model/decisions';
import { formatMs } from './RequestList';

/**
 * One request in depth: what it asked, what the proxy decided and why, the waterfall of
 * its phases, and every state transition and fact of each machine involved, labelled with
 * the Envoy function it mirrors. Clicking a row or bar moves the cursor to that event.
 */

export const PHASE_COLOURS: Record<WaterfallPhase, string> = {
  'downstream read': 'var(--ps-phase-read)',
  'decoder filters': 'var(--ps-phase-decode)',
  route: 'var(--ps-phase-route)',
  'pool wait': 'var(--ps-phase-pool)',
  connect: 'var(--ps-phase-connect)',
  'upstream request': 'var(--ps-phase-upstream)',
  response: 'var(--ps-phase-response)',
  backoff: 'var(--ps-phase-backoff)',
  encode: 'var(--ps-phase-encode)',
};

interface Props {
  store: EventStoreImpl;
  version: number;
  cursor: number;
  stream: number;
  onSeek(index: number): void;
  /** buttons for the header row (RequestActions: Export HAR, Copy as cURL, Resend) */
  actions?: ReactNode;
}

function describe(e: TraceEvent): { what: string; data?: string } {
  switch (e.type) {
    case 'spawn':
      return { what: `spawn → ${e.state}` };
    case 'stop':
      return { what: `stop (${e.state})` };
    case 'transition':
      return { what: `${e.from} → ${e.to}`, data: e.event };
    case 'fact':
      return { what: e.fact, data: summarise(e.data) };
  }
}

function summarise(data: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (k === 'headers' || k === 'body') continue;
    if (v === null || v === undefined) continue;
    parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.join('  ');
}

function shortActor(actor: string): string {
  const parts = actor.split('/');
  return parts.slice(-2).join('/');
}

export function RequestDetail({ store, version, cursor, stream, onSeek, actions }: Props) {
  const summary = store.requestAt(stream, Math.max(cursor, store.eventsOfRequest(stream)[0] ?? cursor));
  const final = store.requestAt(stream, store.length - 1);
  const related = useMemo(() => (final ? relatedEvents(store, final) : []), [store, final, version]); // eslint-disable-line react-hooks/exhaustive-deps
  const bars = useMemo(() => (final ? waterfall(store, final, related, cursor) : []), [store, final, related, cursor]);
  // Every decision of the request, those after the cursor greyed like the events below.
  // Before the early return below: a request that starts after it was selected (a shared
  // link opened before its run got there) must call the same hooks in every render.
  const decided = useMemo(() => decisions(store, related, store.length - 1), [store, related, version]); // eslint-disable-line react-hooks/exhaustive-deps
  const atCursorRow = useRef<HTMLTableRowElement>(null);

  // Keep the event at the cursor in view while stepping, scrolling only the panel itself.
  useEffect(() => {
    const row = atCursorRow.current;
    const panel = row?.closest('.ps-area-body');
    if (!row || !panel) return;
    const r = row.getBoundingClientRect();
    const p = panel.getBoundingClientRect();
    if (r.top < p.top) panel.scrollTop -= p.top - r.top + 8;
    else if (r.bottom > p.bottom) panel.scrollTop += r.bottom - p.bottom + 8;
  }, [cursor]);

  if (!summary || !final) return <div className="ps-empty">Request {stream} has not started at the cursor.</div>;
  // The codec starts reading a request before its stream exists: from its first listed
  // event on, the cursor is inside the request, not before it.
  const beginsAt = Math.min(summary.firstIndex, related[0]?.index ?? summary.firstIndex);
  const started = beginsAt > cursor;
  const readingHeaders = !started && cursor < summary.firstIndex;
  const headersEvent = related.find((r) => store.factAt(r.index) === 'codec.request_headers');
  const requestHeaders = headersEvent && headersEvent.index <= cursor ? (store.dataAt(headersEvent.index)?.headers as Record<string, string> | undefined) : undefined;
  // Filters ProxyScope does not model: the request passed them untouched, and the panel says so.
  const notModelled = related.filter((r) => r.index <= cursor && store.factAt(r.index) === 'filter.not_modelled').map((r) => store.dataAt(r.index));
  // The latest attempt's response as the upstream sent it (before the router's response header mutations).
  const responseEvent = related.filter((r) => r.index <= cursor && store.factAt(r.index) === 'upstream.response_headers').at(-1);
  const responseData = responseEvent ? store.dataAt(responseEvent.index) : null;
  const responseHeaders = responseData?.headers as Record<string, string> | undefined;

  const t0 = final.startT;
  const endT = Math.max(final.endT ?? store.tAt(Math.min(cursor, store.length - 1)), ...bars.map((b) => b.endT ?? 0), t0 + 0.001);
  const nowT = cursor >= 0 ? store.tAt(cursor) : t0;
  const span = endT - t0;
  const pct = (t: number) => `${(((t - t0) / span) * 100).toFixed(2)}%`;

  return (
    <div className="ps-detail" data-testid="request-detail">
      <div style={{ display: 'flex', gap: 8, alignItems: 'baseline', flexWrap: 'wrap' }}>
        <strong className="mono" style={{ fontSize: 13 }}>
          {summary.method ?? '?'} {summary.authority ?? ''}
          {summary.path ?? ''}
        </strong>
        <span className={summary.status ? `s${Math.floor(summary.status / 100)}` : 'muted'}>{summary.status ?? (summary.done ? '' : 'in flight')}</span>
        {summary.flags && summary.flags !== '-' && <span className="flag-bad">{summary.flags}</span>}
        <span className="muted">{summary.phase.replace('_', ' ')}</span>
        {actions}
      </div>
      {started && <p className="muted">The cursor is before this request starts.</p>}
      <dl className="ps-kv" style={{ marginTop: 6 }}>
        <dt>stream</dt>
        <dd>
          {summary.stream} (cx {summary.cx}, worker {summary.worker}, listener {summary.listener})
        </dd>
        {summary.vhost && (
          <>
            <dt>virtual host</dt>
            <dd>{summary.vhost}</dd>
          </>
        )}
        {summary.route && (
          <>
            <dt>route → cluster</dt>
            <dd>
              {summary.route} → {summary.cluster ?? '?'}
            </dd>
          </>
        )}
        {summary.attempts.map((a) => (
          <FragmentRow key={a.n} label={`attempt ${a.n}`} value={`${a.host ?? '?'}${a.ucx !== undefined ? ` via ucx:${a.ucx}` : ''} — ${attemptOutcome(store, related, a, cursor)}${a.endT !== undefined ? `, ${formatMs(a.endT - a.startT)}` : ''}`} />
        ))}
        {summary.localReply && <FragmentRow label="local reply" value={`${summary.localReply.status}${summary.localReply.flag ? ` ${summary.localReply.flag}` : ''}${summary.localReply.details ? ` (${summary.localReply.details})` : ''}`} />}
        {summary.tag && <FragmentRow label="tag" value={summary.tag} />}
        {notModelled.length > 0 && (
          <FragmentRow
            label="not modelled"
            value={`passed through ${notModelled.map((d) => `${String(d?.filter)}${d?.type_url ? ` (${String(d.type_url).replace(/^type\.googleapis\.com\//, '')})` : ''}`).join(', ')} without running ${notModelled.length === 1 ? 'it' : 'them'}`}
          />
        )}
        <FragmentRow
          label="duration"
          value={
            readingHeaders
              ? 'not started: the downstream codec is reading the request (its stream starts once the headers are parsed)'
              : summary.endT !== undefined
                ? formatMs(summary.endT - summary.startT)
                : `${formatMs(Math.max(0, nowT - summary.startT))} so far`
          }
        />
      </dl>

      <h3>Waterfall</h3>
      <div className="ps-waterfall" data-testid="waterfall">
        {bars.length === 0 && <div className="muted">No phases yet.</div>}
        {bars.map((b, k) => {
          const end = b.endT ?? nowT;
          return (
            <div
              key={k}
              className="ps-wf-row"
              onClick={() => onSeek(b.index)}
              role="button"
              tabIndex={0}
              aria-label={`${b.label}, ${formatMs(end - b.startT)}${b.endT === undefined ? ' so far' : ''}: move the cursor to its start`}
              onKeyDown={(e) => {
                if (e.key !== 'Enter' && e.key !== ' ') return;
                e.preventDefault();
                e.stopPropagation();
                onSeek(b.index);
              }}
              title={`${b.label}: ${formatMs(end - b.startT)}${b.endT === undefined ? ' (running)' : ''}`}
            >
              <span>{b.label}</span>
              <div className="ps-wf-track">
                <div className={`ps-wf-bar${b.endT === undefined ? ' running' : ''}`} style={{ left: pct(b.startT), width: `max(2px, calc(${pct(end)} - ${pct(b.startT)}))`, background: PHASE_COLOURS[b.phase] }} />
              </div>
              <span className="mono" style={{ textAlign: 'right' }}>
                {formatMs(end - b.startT)}
              </span>
            </div>
          );
        })}
      </div>

      {decided.length > 0 && (
        <>
          <h3>
            Decisions <span className="muted">(what the proxy decided and why; click one to move the cursor to it; greyed: after the cursor)</span>
          </h3>
          <table className="ps-events" data-testid="decisions">
            <colgroup>
              <col style={{ width: 76 }} />
              <col />
            </colgroup>
            <tbody>
              {decided.map((d, k) => (
                <tr key={`${d.index}-${k}`} className={d.index > cursor ? 'future' : d.index === cursor ? 'at-cursor' : undefined} onClick={() => onSeek(d.index)} data-testid="decision-row" data-kind={d.kind} title="move the cursor to this decision">
                  <td className="muted">{d.label}</td>
                  <td>
                    <div style={{ fontSize: 12.5 }}>
                      <DecisionText text={d.text} />
                    </div>
                    {d.envoy && <div className="envoy">{d.envoy}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}

      {requestHeaders && (
        <>
          <h3>Request headers</h3>
          <dl className="ps-kv">
            {Object.entries(requestHeaders).map(([k, v]) => (
              <FragmentRow key={k} label={k} value={String(v)} />
            ))}
          </dl>
        </>
      )}

      {responseHeaders && (
        <>
          <h3>
            Response headers <span className="muted">(from {store.actorAt(responseEvent!.index).split('/').at(-1)}, status {String(responseData?.status)})</span>
          </h3>
          <dl className="ps-kv" data-testid="response-headers">
            {Object.entries(responseHeaders).map(([k, v]) => (
              <FragmentRow key={k} label={k} value={String(v)} />
            ))}
          </dl>
        </>
      )}

      <h3>
        Events <span className="muted">({related.length}, every machine of this request; greyed: after the cursor)</span>
      </h3>
      <table className="ps-events" data-testid="request-events">
        <colgroup>
          <col className="seq" />
          <col className="t" />
          <col className="actor" />
          <col />
        </colgroup>
        <tbody>
          {related.map((r) => {
            const e = store.get(r.index);
            const { what, data } = describe(e);
            const future = r.index > cursor;
            const envoy = e.type === 'transition' || e.type === 'fact' ? e.envoy : undefined;
            return (
              <tr
                key={r.index}
                ref={r.index === cursor ? atCursorRow : undefined}
                className={future ? 'future' : r.index === cursor ? 'at-cursor' : undefined}
                onClick={() => onSeek(r.index)}
                data-seq={e.seq}
                data-testid="event-row"
              >
                <td className="mono muted">{e.seq}</td>
                <td className="mono muted" style={{ textAlign: 'right' }}>
                  {e.t - t0 < 0 ? '−' : '+'}
                  {Math.abs(e.t - t0).toFixed(2)}
                </td>
                <td>
                  <span className="mono">{shortActor(e.actor)}</span>
                  {r.via && <div className="via">via {r.via}</div>}
                </td>
                <td>
                  <div>{what}</div>
                  {envoy && <div className="envoy">{envoy}</div>}
                  {data && <div className="data">{data}</div>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** A decision's words, with its `backticked` names in the mono font. */
function DecisionText({ text }: { text: string }) {
  const parts = text.split('`');
  return (
    <>
      {parts.map((part, k) =>
        k % 2 === 1 ? (
          <code key={k} className="mono" style={{ fontSize: '0.95em', background: 'var(--ps-panel)', border: '1px solid var(--ps-border)', borderRadius: 3, padding: '0 3px' }}>
            {part}
          </code>
        ) : (
          <span key={k}>{part}</span>
        ),
      )}
    </>
  );
}

function FragmentRow({ label, value }: { label: string; value: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </>
  );
}
