import { ProblemGlyph } from '../app/icons';

/**
 * A diagnostic's severity as the status column shows a 5xx and a 4xx (icons.tsx's
 * ProblemGlyph). Its name is the image's label, so a screen reader says it and the item's
 * text stays `line N: path: message`.
 */
export function SeverityGlyph({ severity }: { severity: 'error' | 'warning' }) {
  return <ProblemGlyph bad={severity === 'error'} label={severity} size={11} cut="var(--ps-surface)" className={`ps-pg-glyph ${severity}`} />;
}
