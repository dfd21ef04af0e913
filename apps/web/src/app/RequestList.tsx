import { bisector } from 'd3-array';
import { useDeferredValue, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { EventStoreImpl } from '../model/event-store';
import { durationOf, matchesFilter, parseFilter, sortRequests, type SortKey } from '../model/request-filter';
import type { RequestSummary } from '../model/types';
import { PauseIcon, StatusGlyph } from './icons';
import { ExportHarButton } from './RequestActions';
import { useThrottled } from './use-throttled';

/**
 * The request list, as a browser's network panel shows requests: one row per request as
 * of the cursor, filterable and sortable, virtualised (only the rows in view are in the
 * DOM) so thousands stay smooth. It sticks to the newest row while scrolled to the bottom.
 */

const ROW = 22;
const OVERSCAN = 12;

// Fixed widths fit each column's longest value (a six-digit id, "123.45 s"); authority and
// path share what is left, so every column is in view at 1280×720 rather than off the right.
const COLUMNS: Array<{ key: SortKey; label: string; width?: number; title?: string }> = [
  { key: 'start', label: '#', width: 58, title: 'stream id (sort: by start)' },
  { key: 'method', label: 'Method', width: 56 },
  { key: 'authority', label: 'Authority' },
  { key: 'path', label: 'Path' },
  { key: 'status', label: 'Status', width: 52 },
  { key: 'flags', label: 'Flags', width: 44, title: 'Envoy response flags' },
  { key: 'route', label: 'Route', width: 76 },
  { key: 'cluster', label: 'Cluster', width: 80 },
  { key: 'host', label: 'Host', width: 112 },
  { key: 'attempts', label: 'Tries', width: 42, title: 'upstream attempts' },
  { key: 'duration', label: 'Time', width: 66 },
  { key: 'phase', label: 'State', width: 84 },
];

export function requestsAt(store: EventStoreImpl, cursor: number): RequestSummary[] {
  const ids = store.requestIds();
  // Requests are listed in order of their first event: the ones started by the cursor are a prefix.
  const lo = bisector((id: number) => store.eventsOfRequest(id)[0]!).right(ids, cursor);
  const out: RequestSummary[] = new Array(lo);
  for (let k = 0; k < lo; k++) out[k] = store.requestAt(ids[k]!, cursor)!;
  return out;
}

function statusClass(status: number | undefined): string {
  return status === undefined ? '' : `s${Math.floor(status / 100)}`;
}

export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

interface Props {
  store: EventStoreImpl;
  version: number;
  cursor: number;
  selected: number | null;
  onSelect(stream: number | null): void;
  /** requests the server holds in step mode */
  held?: ReadonlySet<number>;
}

/** How often the list follows a moving cursor (playback, live): 10 times a second, like DevTools' network panel. */
const LIST_REFRESH_MS = 100;

export function RequestList({ store, version: liveVersion, cursor: liveCursor, selected, onSelect, held }: Props) {
  // Thousands of rows re-laid out every frame would cost the topology its frames.
  const cursor = useThrottled(liveCursor, LIST_REFRESH_MS);
  const version = useThrottled(liveVersion, LIST_REFRESH_MS);
  const [filterText, setFilterText] = useState('');
  const filterValue = useDeferredValue(filterText);
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'start', desc: false });
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  // The geometry at the last scroll event: a scroll with the same geometry is the user's.
  const lastScroll = useRef({ top: 0, height: 0, client: 0 });

  const nowT = cursor >= 0 && store.length ? store.tAt(cursor) : 0;
  const all = useMemo(() => requestsAt(store, cursor), [store, version, cursor]); // eslint-disable-line react-hooks/exhaustive-deps
  const filter = useMemo(() => parseFilter(filterValue), [filterValue]);
  const rows = useMemo(() => {
    const filtered = filter.terms.length ? all.filter((r) => matchesFilter(r, filter)) : all;
    return sort.key === 'start' && !sort.desc ? filtered : sortRequests(filtered, sort.key, sort.desc, nowT);
  }, [all, filter, sort, nowT]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // Follow new rows while the user sits at the bottom, as DevTools does; also when the list
  // is resized (a panel opening below it must not leave the newest rows out of view).
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
      setScrollTop(el.scrollTop);
    }
    lastScroll.current = { top: el.scrollTop, height: el.scrollHeight, client: el.clientHeight };
  }, [rows.length, height]);

  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW) + OVERSCAN);
  const selectedIndex = selected === null ? -1 : rows.findIndex((r) => r.stream === selected);

  const moveSelection = (delta: number) => {
    if (rows.length === 0) return;
    const next = Math.max(0, Math.min(rows.length - 1, (selectedIndex < 0 ? (delta > 0 ? -1 : rows.length) : selectedIndex) + delta));
    onSelect(rows[next]!.stream);
    const el = scroller.current;
    if (el) {
      const top = next * ROW;
      if (top < el.scrollTop) el.scrollTop = top;
      else if (top + ROW * 2 > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW * 2 - el.clientHeight;
    }
  };

  return (
    <>
      <div className="ps-filter">
        <input
          type="search"
          placeholder="Filter: text, id:12, status:5xx, flag:UF, cluster:api, method:POST, host:…, -route:healthz"
          aria-label="Filter requests"
          value={filterText}
          onChange={(e) => setFilterText(e.target.value)}
          onKeyDown={(e) => e.stopPropagation()}
          data-testid="request-filter"
        />
        <span className="muted" style={{ fontSize: 11, whiteSpace: 'nowrap' }} data-testid="request-count">
          {rows.length === all.length ? `${all.length} requests` : `${rows.length} of ${all.length}`}
        </span>
        <ExportHarButton store={store} requests={rows} cursor={cursor} what={filter.terms.length ? 'filtered' : 'requests'} label="Export HAR" />
      </div>
      {filter.unknownKeys.length > 0 && (
        <div className="muted" style={{ fontSize: 11, padding: '0 8px' }}>
          unknown filter key {filter.unknownKeys.map((k) => `"${k}:"`).join(', ')} (searched as text); keys: id, status, flag, cluster, route, method, host, path, authority, phase, tag, attempts
        </div>
      )}
      <div
        className="ps-list"
        ref={scroller}
        tabIndex={0}
        role="grid"
        aria-label="Requests"
        aria-rowcount={rows.length + 1}
        // a screen reader follows the selected row as the arrows move it (when it is drawn)
        aria-activedescendant={selectedIndex >= first && selectedIndex < last ? `ps-request-${selected}` : undefined}
        data-testid="request-list"
        onScroll={(e) => {
          const el = e.currentTarget;
          setScrollTop(el.scrollTop);
          const last = lastScroll.current;
          const bottom = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW;
          // Only the user scrolling up stops following. The browser also scrolls when the
          // content shrinks (the history is replaced) or the list gets shorter, clamping
          // scrollTop; that used to unpin the list, which then stayed at row 0 for good.
          const sameGeometry = el.scrollHeight === last.height && el.clientHeight === last.client;
          if (bottom) atBottom.current = true;
          else if (sameGeometry && el.scrollTop < last.top) atBottom.current = false;
          lastScroll.current = { top: el.scrollTop, height: el.scrollHeight, client: el.clientHeight };
        }}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown' || e.key === 'j') {
            e.preventDefault();
            e.stopPropagation();
            moveSelection(1);
          } else if (e.key === 'ArrowUp' || e.key === 'k') {
            e.preventDefault();
            e.stopPropagation();
            moveSelection(-1);
          } else if (e.key === 'Escape') onSelect(null);
        }}
      >
        {/* The focusable box is the grid (arrows move the selection); the table only lays its rows out. */}
        <table role="presentation">
          <colgroup>
            {COLUMNS.map((c) => (
              <col key={c.key} style={c.width ? { width: c.width } : undefined} />
            ))}
          </colgroup>
          <thead role="rowgroup">
            <tr role="row" aria-rowindex={1}>
              {COLUMNS.map((c) => (
                <th
                  key={c.key}
                  role="columnheader"
                  title={c.title ?? `sort by ${c.label.toLowerCase()}`}
                  aria-sort={sort.key === c.key ? (sort.desc ? 'descending' : 'ascending') : 'none'}
                  onClick={() => setSort((s) => ({ key: c.key, desc: s.key === c.key ? !s.desc : false }))}
                  tabIndex={0}
                  onKeyDown={(e) => {
                    if (e.key !== 'Enter' && e.key !== ' ') return;
                    e.preventDefault();
                    e.stopPropagation();
                    setSort((s) => ({ key: c.key, desc: s.key === c.key ? !s.desc : false }));
                  }}
                >
                  {c.label}
                  {sort.key === c.key ? (sort.desc ? ' ▾' : ' ▴') : ''}
                </th>
              ))}
            </tr>
          </thead>
          <tbody role="rowgroup">
            {first > 0 && <tr style={{ height: first * ROW }} aria-hidden="true" />}
            {rows.slice(first, last).map((r, i) => {
              const host = r.attempts[r.attempts.length - 1]?.host;
              const flagBad = r.flags !== undefined && r.flags !== '-';
              return (
                <tr key={r.stream} id={`ps-request-${r.stream}`} className="row" role="row" aria-rowindex={first + i + 2} aria-selected={r.stream === selected} data-stream={r.stream} onClick={() => onSelect(r.stream === selected ? null : r.stream)}>
                  <td role="gridcell" className="mono muted">{r.stream}</td>
                  <td role="gridcell">{r.method ?? ''}</td>
                  <td role="gridcell" title={r.authority}>{r.authority ?? ''}</td>
                  <td role="gridcell" title={r.path} className="mono">{r.path ?? ''}</td>
                  <td role="gridcell" className={statusClass(r.status)} data-testid="status">
                    {/* a shape as well as the colour: a 4xx or 5xx stands out to a colour-blind eye too */}
                    <StatusGlyph status={r.status} />
                    {r.status ?? (r.done ? '—' : '…')}
                  </td>
                  <td role="gridcell" className={flagBad ? 'flag-bad' : 'muted'}>{r.flags ?? r.localReply?.flag ?? ''}</td>
                  <td role="gridcell">{r.route ?? ''}</td>
                  <td role="gridcell">{r.cluster ?? ''}</td>
                  <td role="gridcell" className="mono" title={host}>{host ?? ''}</td>
                  <td role="gridcell" style={{ textAlign: 'right' }}>{r.attempts.length || ''}</td>
                  <td role="gridcell" style={{ textAlign: 'right' }}>{formatMs(durationOf(r, nowT))}</td>
                  <td role="gridcell" className="phase-pill">
                    {held?.has(r.stream) && !r.done ? (
                      <span className="held" title="held by step mode (the Step mode tab steps or resumes it)" data-testid="held-badge">
                        <PauseIcon /> held
                      </span>
                    ) : (
                      r.phase.replace('_', ' ')
                    )}
                  </td>
                </tr>
              );
            })}
            {last < rows.length && <tr style={{ height: (rows.length - last) * ROW }} aria-hidden="true" />}
          </tbody>
        </table>
        {all.length === 0 && <div className="ps-empty">No requests yet.</div>}
      </div>
    </>
  );
}
