import { useEffect, useRef, useState } from 'react';

/**
 * `value`, changing at most once per `ms`: an isolated change (a step, a seek) shows at
 * once; a stream of changes (playback, live) shows at that rate, the latest value last.
 * Panels that list thousands of rows use it so they do not re-lay out the page every frame.
 */
export function useThrottled<T>(value: T, ms: number): T {
  const [shown, setShown] = useState(value);
  const lastAt = useRef(0);
  const latest = useRef(value);
  latest.current = value;
  useEffect(() => {
    if (Object.is(value, shown)) return;
    const wait = lastAt.current + ms - performance.now();
    if (wait <= 0) {
      lastAt.current = performance.now();
      setShown(value);
      return;
    }
    const timer = setTimeout(() => {
      lastAt.current = performance.now();
      setShown(latest.current);
    }, wait);
    return () => clearTimeout(timer);
  }, [value, shown, ms]);
  return Object.is(value, shown) ? value : shown;
}
