import { useEffect, useState } from 'react';
import type { FileLoad } from './source';
import { formatMs } from './RequestList';

/** Drop a trace anywhere on the page. */
export function FileDrop({ onFile }: { onFile(file: File): void }) {
  const [over, setOver] = useState(false);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth++;
      setOver(true);
    };
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setOver(false);
    };
    const overHandler = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    };
    const drop = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setOver(false);
      const file = e.dataTransfer?.files[0];
      if (file) onFile(file);
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('dragover', overHandler);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('dragover', overHandler);
      window.removeEventListener('drop', drop);
    };
  }, [onFile]);
  return over ? <div className="ps-drop">Drop the trace file to open it</div> : null;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function LoadBanner({ file, events }: { file: FileLoad; events: number }) {
  const p = file.progress;
  const done = file.result !== null;
  const fraction = done ? 1 : p && p.totalBytes ? p.bytesRead / p.totalBytes : 0;
  return (
    <div className="ps-banner info" data-testid="load-status" data-done={done ? 'true' : 'false'} data-workers={done ? file.result!.workers : undefined}>
      {!done && (
        <div className="ps-progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(fraction * 100)} aria-label={`Loading ${file.name}`}>
          <div style={{ width: `${(fraction * 100).toFixed(1)}%` }} />
        </div>
      )}
      <span>
        {done
          ? `${file.name}: ${events.toLocaleString()} events loaded in ${formatMs(file.result!.ms)}${file.result!.gzip ? ' (gzip)' : ''}${file.result!.workers === 2 ? ' (read as two halves at once)' : ''}${file.result!.problem ? ' — stopped early, see below' : ''}`
          : `Reading ${file.name}… ${formatBytes(p?.bytesRead ?? 0)} of ${formatBytes(file.size)}, ${(p?.events ?? events).toLocaleString()} events`}
      </span>
    </div>
  );
}
