import { useEffect, useMemo, useRef, useState } from 'react';
import { axisBottom } from 'd3-axis';
import { scaleLinear } from 'd3-scale';
import { select } from 'd3-selection';
import type { EventStoreImpl } from '../model/event-store';

/**
 * The scrubber: trace time on a d3 axis, bars of how many requests started in each slice,
 * the selected request's span, and the cursor. Click or drag to move the cursor; arrow
 * keys step when it has focus.
 */

const HEIGHT = 42;
const AXIS_Y = 26;
const BINS = 160;

interface Props {
  store: EventStoreImpl;
  version: number;
  cursor: number;
  selected: number | null;
  onSeek(index: number): void;
}

export function Timeline({ store, version, cursor, selected, onSeek }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const axisRef = useRef<SVGGElement>(null);
  const [width, setWidth] = useState(600);
  const dragging = useRef(false);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(Math.max(100, el.clientWidth)));
    observer.observe(el);
    setWidth(Math.max(100, el.clientWidth));
    return () => observer.disconnect();
  }, []);

  const [t0, t1] = store.timeRange();
  const x = useMemo(() => scaleLinear().domain([t0, Math.max(t1, t0 + 1)]).range([0, width]), [t0, t1, width]);

  const bins = useMemo(() => {
    const counts = new Array<number>(BINS).fill(0);
    const [t0, t1] = store.timeRange();
    const span = Math.max(t1 - t0, 1);
    for (const stream of store.requestIds()) {
      const first = store.eventsOfRequest(stream)[0];
      if (first === undefined) continue;
      const b = Math.min(BINS - 1, Math.floor(((store.tAt(first) - t0) / span) * BINS));
      counts[b]!++;
    }
    return counts;
    // version: recount when events arrive
  }, [store, version]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (!axisRef.current) return;
    const ticks = Math.max(2, Math.floor(width / 90));
    select(axisRef.current).call(
      axisBottom(x)
        .ticks(ticks)
        .tickSizeOuter(0)
        .tickFormat((d) => formatT(Number(d))),
    );
  }, [x, width]);

  const max = Math.max(1, ...bins);
  const binWidth = width / BINS;
  const cursorX = cursor >= 0 && store.length ? x(store.tAt(cursor)) : 0;
  const selectedSpan = useMemo(() => {
    if (selected === null) return null;
    const events = store.eventsOfRequest(selected);
    if (events.length === 0) return null;
    return [store.tAt(events[0]!), store.tAt(events[events.length - 1]!)] as const;
  }, [store, selected, version]); // eslint-disable-line react-hooks/exhaustive-deps

  const seekAt = (clientX: number) => {
    const el = box.current;
    if (!el || store.length === 0) return;
    const rect = el.getBoundingClientRect();
    const t = x.invert(Math.max(0, Math.min(rect.width, clientX - rect.left)));
    onSeek(Math.max(0, store.indexAtOrBeforeT(t)));
  };

  return (
    <div
      ref={box}
      className="ps-timeline"
      role="slider"
      tabIndex={0}
      aria-label="Timeline: the event the views show"
      aria-valuemin={0}
      aria-valuemax={Math.max(0, store.length - 1)}
      aria-valuenow={Math.max(0, cursor)}
      aria-valuetext={cursor >= 0 && store.length ? `event ${store.seqAt(cursor)} at ${formatT(store.tAt(cursor))}` : 'no events'}
      data-testid="timeline"
      onPointerDown={(e) => {
        dragging.current = true;
        (e.target as Element).setPointerCapture?.(e.pointerId);
        seekAt(e.clientX);
      }}
      onPointerMove={(e) => dragging.current && seekAt(e.clientX)}
      onPointerUp={() => (dragging.current = false)}
    >
      <svg width={width} height={HEIGHT}>
        {bins.map((count, i) =>
          count ? <rect key={i} className="density" x={i * binWidth} width={Math.max(1, binWidth - 1)} y={AXIS_Y - (count / max) * (AXIS_Y - 4)} height={(count / max) * (AXIS_Y - 4)} /> : null,
        )}
        {selectedSpan && <rect className="selected-span" x={x(selectedSpan[0])} width={Math.max(2, x(selectedSpan[1]) - x(selectedSpan[0]))} y={2} height={AXIS_Y - 2} />}
        <g ref={axisRef} className="axis" transform={`translate(0,${AXIS_Y})`} visibility={store.length ? 'visible' : 'hidden'} />
        {store.length > 0 && <line className="cursor" x1={cursorX} x2={cursorX} y1={0} y2={AXIS_Y + 4} />}
      </svg>
    </div>
  );
}

export function formatT(ms: number): string {
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${((ms % 60_000) / 1000).toFixed(0).padStart(2, '0')}s`;
}
