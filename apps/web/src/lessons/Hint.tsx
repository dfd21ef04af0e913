import { useState } from 'react';

/** A hint, behind a button: trying first is the point. */
export function Hint({ text }: { text: string }) {
  const [open, setOpen] = useState(false);
  return open ? (
    <p className="ps-lesson-hint" data-testid="lesson-hint-text">
      Hint: {text}
    </p>
  ) : (
    <button className="ps-btn ps-lesson-hint-btn" onClick={() => setOpen(true)} data-testid="lesson-hint">
      Show a hint
    </button>
  );
}
