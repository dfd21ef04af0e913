import { useEffect, useRef } from 'react';

// Key names in words: a machine with one font (the bundled headless Chromium) draws arrow glyphs as blanks.
export const SHORTCUTS: Array<[keys: string[], what: string]> = [
  [['Space'], 'pause / play'],
  [['Left', 'Right'], 'step one event back / forward'],
  [['Shift', 'Left/Right'], 'previous / next event of the selected request (by phase: its state changes)'],
  [['L'], 'go live (follow the newest event)'],
  [['P'], 'presenter mode: the map fills the screen, sized for a projector; click a token to follow it'],
  [['N'], 'step mode: let the selected held request make one state change'],
  [['Up', 'Down'], 'previous / next request (in the focused list)'],
  [['Tab', 'Shift+Tab'], 'next / previous control; the topology\'s nodes are in the order too'],
  [['Enter', 'Space'], 'on a node: what a click does (a host or a cluster opens its panel)'],
  [['Esc'], 'close this help / clear the selection'],
  [['?'], 'this help'],
];

export function HelpOverlay({ onClose }: { onClose(): void }) {
  const dialog = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // back where the keyboard was when the help closes
    const before = document.activeElement instanceof HTMLElement || document.activeElement instanceof SVGElement ? document.activeElement : null;
    dialog.current?.focus();
    return () => before?.focus();
  }, []);
  // modal: Tab stays inside the dialog
  const trapTab = (e: React.KeyboardEvent) => {
    if (e.key !== 'Tab' || !dialog.current) return;
    const stops = [...dialog.current.querySelectorAll<HTMLElement>('button, [href], [tabindex]:not([tabindex="-1"])')];
    if (stops.length === 0) return;
    const first = stops[0]!;
    const last = stops[stops.length - 1]!;
    if (e.shiftKey && (document.activeElement === first || document.activeElement === dialog.current)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  return (
    <div className="ps-overlay" onClick={onClose}>
      <div className="ps-dialog" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" tabIndex={-1} ref={dialog} onClick={(e) => e.stopPropagation()} onKeyDown={trapTab} data-testid="help">
        <h2>Keyboard shortcuts</h2>
        <table>
          <tbody>
            {SHORTCUTS.map(([keys, what]) => (
              <tr key={what}>
                <td>
                  {keys.map((k, i) => (
                    <span key={k}>
                      {i > 0 && ' '}
                      <kbd>{k}</kbd>
                    </span>
                  ))}
                </td>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="muted" style={{ marginBottom: 0 }}>
          The address keeps the selected request and the cursor (<span className="mono">#req=…&amp;seq=…</span>): share it or reload.
        </p>
        <div style={{ textAlign: 'right', marginTop: 10 }}>
          <button className="ps-btn" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}
