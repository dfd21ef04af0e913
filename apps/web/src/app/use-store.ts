import { useEffect, useState } from 'react';
import type { EventStore } from '../model/types';

/**
 * The store's version, re-read at most once an animation frame: a live source appends
 * hundreds of batches a second and the views need not redraw for each.
 */
export function useStoreVersion(store: EventStore): number {
  const [version, setVersion] = useState(store.version);
  useEffect(() => {
    let frame = 0;
    const update = () => {
      frame = 0;
      setVersion(store.version);
    };
    const off = store.subscribe(() => {
      if (frame === 0) frame = requestAnimationFrame(update);
    });
    setVersion(store.version);
    return () => {
      off();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [store]);
  return version;
}
