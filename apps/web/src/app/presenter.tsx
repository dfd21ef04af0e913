import { useCallback, useEffect, useRef, useState, type CSSProperties } from 'react';

/**
 * Presenter mode and the normal layout's panel sizes.
 *
 * Presenter mode lives in the query (`?presenter`), not the hash: the hash names what you
 * look at (a request, an event), the query how the page is laid out, so a link an instructor
 * hands out opens projected and still carries `#req=…&seq=…`.
 */

export function readPresenter(search: string = window.location.search): boolean {
  const params = new URLSearchParams(search);
  if (!params.has('presenter')) return false;
  const v = params.get('presenter');
  return v !== '0' && v !== 'false' && v !== 'off';
}

export function writePresenter(on: boolean): void {
  const params = new URLSearchParams(window.location.search);
  if (on === params.has('presenter')) return;
  if (on) params.set('presenter', '');
  else params.delete('presenter');
  // `?presenter=` reads worse in a link than `?presenter`
  const query = params.toString().replace(/(^|&)presenter=(?=&|$)/, '$1presenter');
  history.replaceState(history.state, '', `${window.location.pathname}${query ? `?${query}` : ''}${window.location.hash}`);
}

export function usePresenter(): [boolean, (on: boolean | ((was: boolean) => boolean)) => void] {
  const [on, setOn] = useState(readPresenter);
  useEffect(() => writePresenter(on), [on]);
  return [on, setOn];
}

/** Sizes of the normal layout's panels; kept in localStorage so a reload keeps them. */
export interface Panels {
  /** topology's share of the main area's height, 0..1 */
  topology: number;
  /** the details column's width in CSS px */
  side: number;
  /** the stats strip's height in CSS px */
  stats: number;
  topologyCollapsed: boolean;
  sideCollapsed: boolean;
  statsCollapsed: boolean;
}

const KEY = 'proxyscope.panels';
export const PANEL_LIMITS = { topology: [0.15, 0.85], side: [240, 900], stats: [60, 600] } as const;

function defaults(): Panels {
  const w = typeof window === 'undefined' ? 1280 : window.innerWidth;
  const h = typeof window === 'undefined' ? 720 : window.innerHeight;
  // A short window (a laptop at 150% zoom is 480 CSS px tall) cannot spare the stats strip.
  return { topology: 0.58, side: Math.round(Math.min(560, Math.max(260, w * 0.34))), stats: 170, topologyCollapsed: false, sideCollapsed: false, statsCollapsed: h < 600 };
}

function clamp(v: number, [lo, hi]: readonly [number, number]): number {
  return Math.min(hi, Math.max(lo, v));
}

function load(): Panels {
  const d = defaults();
  try {
    const raw = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Partial<Panels> | null;
    if (!raw || typeof raw !== 'object') return d;
    const num = (v: unknown, fallback: number, lim: readonly [number, number]) => (typeof v === 'number' && Number.isFinite(v) ? clamp(v, lim) : fallback);
    const bool = (v: unknown, fallback: boolean) => (typeof v === 'boolean' ? v : fallback);
    return {
      topology: num(raw.topology, d.topology, PANEL_LIMITS.topology),
      side: num(raw.side, d.side, PANEL_LIMITS.side),
      stats: num(raw.stats, d.stats, PANEL_LIMITS.stats),
      topologyCollapsed: bool(raw.topologyCollapsed, d.topologyCollapsed),
      sideCollapsed: bool(raw.sideCollapsed, d.sideCollapsed),
      statsCollapsed: bool(raw.statsCollapsed, d.statsCollapsed),
    };
  } catch {
    return d;
  }
}

export function usePanels(): [Panels, (change: Partial<Panels>) => void] {
  const [panels, setPanels] = useState(load);
  useEffect(() => {
    try {
      localStorage.setItem(KEY, JSON.stringify(panels));
    } catch {
      // private windows may refuse storage: the sizes just do not survive a reload
    }
  }, [panels]);
  const update = useCallback((change: Partial<Panels>) => setPanels((p) => ({ ...p, ...change })), []);
  return [panels, update];
}

/** The CSS variables the layout rules in theme.css read. */
export function panelStyle(p: Panels): CSSProperties {
  return {
    '--ps-topo-h': p.topologyCollapsed ? 'auto' : `${(p.topology * 100).toFixed(2)}%`,
    '--ps-side-w': p.sideCollapsed ? '52px' : `min(${p.side}px, 70%)`,
    '--ps-stats-h': p.statsCollapsed ? 'auto' : `min(${p.stats}px, 50vh)`,
  } as CSSProperties;
}

/**
 * A drag handle between two panels. `onDrag` gets the pointer's offset from where the drag
 * started (px along the handle's axis); arrow keys move it 16 px at a time.
 */
/** A panel's show/hide button: `what` names the panel for a screen reader ("the topology"). */
export function CollapseButton({ collapsed, onToggle, what, testId }: { collapsed: boolean; onToggle(): void; what: string; testId: string }) {
  return (
    <button className="ps-collapse" onClick={onToggle} aria-expanded={!collapsed} aria-label={`${collapsed ? 'Show' : 'Hide'} ${what}`} data-testid={testId}>
      {collapsed ? 'show' : 'hide'}
    </button>
  );
}

export function Splitter({ orientation, label, value, onDrag, onDone, testId, disabled }: { orientation: 'horizontal' | 'vertical'; label: string; /** the size it sets, for a screen reader: a focusable separator is a slider */ value: { now: number; min: number; max: number; text: string }; onDrag(delta: number, start: boolean): void; onDone?(): void; testId?: string; disabled?: boolean }) {
  const origin = useRef<number | null>(null);
  const along = (e: { clientX: number; clientY: number }) => (orientation === 'vertical' ? e.clientX : e.clientY);
  return (
    <div
      className={`ps-splitter ps-splitter-${orientation}`}
      role="separator"
      aria-orientation={orientation}
      aria-label={label}
      aria-valuenow={Math.round(value.now)}
      aria-valuemin={value.min}
      aria-valuemax={value.max}
      aria-valuetext={value.text}
      aria-disabled={disabled || undefined}
      tabIndex={disabled ? -1 : 0}
      data-testid={testId}
      onPointerDown={(e) => {
        if (disabled) return;
        e.preventDefault();
        e.currentTarget.setPointerCapture(e.pointerId);
        origin.current = along(e);
        onDrag(0, true);
      }}
      onPointerMove={(e) => {
        if (origin.current !== null) onDrag(along(e) - origin.current, false);
      }}
      onPointerUp={(e) => {
        if (origin.current === null) return;
        origin.current = null;
        e.currentTarget.releasePointerCapture(e.pointerId);
        onDone?.();
      }}
      onKeyDown={(e) => {
        if (disabled) return;
        const keys = orientation === 'vertical' ? ['ArrowLeft', 'ArrowRight'] : ['ArrowUp', 'ArrowDown'];
        const i = keys.indexOf(e.key);
        if (i < 0) return;
        // the app's own arrow keys step the cursor: a focused handle keeps them
        e.preventDefault();
        e.stopPropagation();
        onDrag(0, true);
        onDrag(i === 0 ? -16 : 16, false);
        onDone?.();
      }}
    />
  );
}
