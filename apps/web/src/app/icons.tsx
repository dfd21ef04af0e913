/**
 * Small inline SVG icons for buttons. Symbols such as ▶ ❚❚ ☀ come from a font, and a
 * machine with one font (the bundled headless Chromium has one) draws them as blanks;
 * paths draw the same everywhere. Each takes the button's text colour.
 */

const box = { width: 14, height: 14, viewBox: '0 0 14 14', 'aria-hidden': true } as const;

export function PlayIcon() {
  return (
    <svg {...box}>
      <path d="M3 1.5 L12 7 L3 12.5 Z" fill="currentColor" />
    </svg>
  );
}

export function PauseIcon() {
  return (
    <svg {...box}>
      <rect x="2.5" y="1.5" width="3.2" height="11" rx="0.8" fill="currentColor" />
      <rect x="8.3" y="1.5" width="3.2" height="11" rx="0.8" fill="currentColor" />
    </svg>
  );
}

/** a triangle and a bar: one step forward (to the next event) */
export function StepForwardIcon() {
  return (
    <svg {...box}>
      <path d="M2 1.5 L9 7 L2 12.5 Z" fill="currentColor" />
      <rect x="9.8" y="1.5" width="2.4" height="11" rx="0.6" fill="currentColor" />
    </svg>
  );
}

export function StepBackIcon() {
  return (
    <svg {...box}>
      <path d="M12 1.5 L5 7 L12 12.5 Z" fill="currentColor" />
      <rect x="1.8" y="1.5" width="2.4" height="11" rx="0.6" fill="currentColor" />
    </svg>
  );
}

export function DotIcon() {
  return (
    <svg width="10" height="10" viewBox="0 0 10 10" aria-hidden="true">
      <circle cx="5" cy="5" r="4" fill="currentColor" />
    </svg>
  );
}

export function SunIcon() {
  return (
    <svg {...box}>
      <circle cx="7" cy="7" r="2.8" fill="currentColor" />
      <g stroke="currentColor" strokeWidth="1.4" strokeLinecap="round">
        <path d="M7 0.8v1.6M7 11.6v1.6M0.8 7h1.6M11.6 7h1.6M2.6 2.6l1.1 1.1M10.3 10.3l1.1 1.1M2.6 11.4l1.1-1.1M10.3 3.7l1.1-1.1" />
      </g>
    </svg>
  );
}

export function MoonIcon() {
  return (
    <svg {...box}>
      <path d="M9.5 1.2 A6 6 0 1 0 12.8 9.6 A4.8 4.8 0 0 1 9.5 1.2 Z" fill="currentColor" />
    </svg>
  );
}

/** a filled circle: start recording (drawn in the button's colour, red when recording) */
export function RecordIcon() {
  return (
    <svg {...box}>
      <circle cx="7" cy="7" r="4.6" fill="currentColor" />
    </svg>
  );
}

export function StopIcon() {
  return (
    <svg {...box}>
      <rect x="2.5" y="2.5" width="9" height="9" rx="1.2" fill="currentColor" />
    </svg>
  );
}

/** an arrow into a tray: download / save */
export function SaveIcon() {
  return (
    <svg {...box}>
      <g stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round" fill="none">
        <path d="M7 1.5v7.2M4 5.9l3 3 3-3" />
        <path d="M2 9.5v2.6h10V9.5" />
      </g>
    </svg>
  );
}

/** two overlapping sheets: copy */
export function CopyIcon() {
  return (
    <svg {...box}>
      <g stroke="currentColor" strokeWidth="1.4" fill="none" strokeLinejoin="round">
        <rect x="4.5" y="4.5" width="7.5" height="8" rx="1.2" />
        <path d="M9.5 4.5V2.8a1 1 0 0 0-1-1H3a1 1 0 0 0-1 1v6.5a1 1 0 0 0 1 1h1.5" />
      </g>
    </svg>
  );
}

/** a circular arrow: send again */
export function ResendIcon() {
  return (
    <svg {...box}>
      <g stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round" fill="none">
        <path d="M11.8 7.4A4.8 4.8 0 1 1 10.4 3.6" />
        <path d="M11.2 1.6v2.6H8.6" />
      </g>
    </svg>
  );
}

/**
 * The shape that goes with a status class wherever its colour does (request list, detail):
 * a 4xx is a triangle, a 5xx a square with a cross, so the class reads without telling red
 * from orange from green. 1xx-3xx draw nothing: they are the calm case. Hidden from screen
 * readers, which read the number next to it.
 */
export function StatusGlyph({ status }: { status: number | undefined }) {
  if (status === undefined || status < 400) return null;
  return <ProblemGlyph bad={status >= 500} className="ps-status-glyph" />;
}

/**
 * The two problem shapes: bad (a 5xx, an error) a square with a cross, warn (a 4xx, a
 * warning) a triangle, so they read without telling red from orange. `label` makes it an
 * image a screen reader names; `cut` is the colour of the cross, the background it sits on.
 */
export function ProblemGlyph({ bad, className, label, size = 10, cut = 'var(--ps-bg)' }: { bad: boolean; className?: string; label?: string; size?: number; cut?: string }) {
  return (
    <svg width={size} height={size} viewBox="0 0 10 10" className={className} {...(label ? { role: 'img', 'aria-label': label } : { 'aria-hidden': true })}>
      {bad ? (
        <>
          <rect x="0.5" y="0.5" width="9" height="9" rx="1.5" fill="currentColor" />
          <path d="M3 3l4 4M7 3l-4 4" stroke={cut} strokeWidth="1.5" strokeLinecap="round" />
        </>
      ) : (
        <path d="M5 0.6 L9.6 9.2 H0.4 Z" fill="currentColor" />
      )}
    </svg>
  );
}

/** a right arrow, for "from → to" in running text (the one font draws U+2192 as a blank) */
export function ArrowRightIcon() {
  return (
    <svg width="12" height="10" viewBox="0 0 12 10" aria-hidden="true" style={{ verticalAlign: 'middle', margin: '0 3px' }}>
      <path d="M1 5h9M6.5 1.5 10 5 6.5 8.5" stroke="currentColor" strokeWidth="1.6" fill="none" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

export function ArrowLeftIcon() {
  return (
    <svg {...box}>
      <path d="M12 7 H2.5 M6.5 3 L2.5 7 L6.5 11" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

/** done: a tick */
export function CheckIcon() {
  return (
    <svg {...box}>
      <path d="M2.5 7.5 L5.5 10.5 L11.5 3.5" fill="none" stroke="currentColor" strokeWidth="1.9" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

/** not done: a cross */
export function CrossIcon() {
  return (
    <svg {...box}>
      <path d="M3.5 3.5 L10.5 10.5 M10.5 3.5 L3.5 10.5" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
    </svg>
  );
}
