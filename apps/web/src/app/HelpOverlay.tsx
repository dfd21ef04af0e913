import { useEffect, useRef } from 'react';

export const SHORTCUTS: Array<[keys: string[], what: string]> = [
  [['Space'], 'pause / play'],
  [['←', '→'], 'step one event back / forward'],
  [['Shift', '←/→'], 'previous / next event of the selected request (by phase: its state changes)'],
  [['L'], 'go live (follow the newest event)'],
  [['P'], 'presenter mode: the map fills the screen, sized for a projector; click a token to follow it'],
  [['N'], 'step mode: let the selected held request make one state change'],
  [['↑', '↓'], 'previous / next request (in the focused list)'],
  [['Esc'], 'close this help / clear the selection'],
  [['?'], 'this help'],
];

export function HelpOverlay({ onClose }: { onClose(): void }) {
  const dialog = useRef<HTMLDivElement>(null);
  useEffect(() => dialog.current?.focus(), []);
  return (
    <div className="ps-overlay" onClick={onClose}>
      <div className="ps-dialog" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" tabIndex={-1} ref={dialog} onClick={(e) => e.stopPropagation()} data-testid="help">
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
