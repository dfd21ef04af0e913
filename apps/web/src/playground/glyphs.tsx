/**
 * The playground's shapes, as SVG paths for the reason icons.tsx gives: a machine with one
 * font draws ✕ ✖ ▲ as blanks.
 */

/**
 * An error is a square with a cross, a warning a triangle (as StatusGlyph draws a 5xx and a
 * 4xx): the severity reads without telling red from orange. Its name is the image's label,
 * so a screen reader says it and the item's text stays `line N: path: message`.
 */
export function SeverityGlyph({ severity }: { severity: 'error' | 'warning' }) {
  return (
    <svg width="11" height="11" viewBox="0 0 10 10" role="img" aria-label={severity} className={`ps-pg-glyph ${severity}`}>
      {severity === 'error' ? (
        <>
          <rect x="0.5" y="0.5" width="9" height="9" rx="1.5" fill="currentColor" />
          <path d="M3 3l4 4M7 3l-4 4" stroke="var(--ps-surface)" strokeWidth="1.5" strokeLinecap="round" />
        </>
      ) : (
        <path d="M5 0.6 L9.6 9.2 H0.4 Z" fill="currentColor" />
      )}
    </svg>
  );
}

export function CloseIcon() {
  return (
    <svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">
      <path d="M3 3l8 8M11 3l-8 8" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
    </svg>
  );
}
