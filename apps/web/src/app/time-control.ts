import { useCallback, useEffect, useRef, useState } from 'react';
import type { EventStoreImpl } from '../model/event-store';

/**
 * The one cursor: an index into the store. Following = the cursor is the head (live).
 * Play moves it through the events at the pace they happened, times `speed`.
 */

export const SPEEDS = [0.1, 0.25, 0.5, 1, 2, 5, 10] as const;

export interface TimeControl {
  cursor: number;
  following: boolean;
  playing: boolean;
  speed: number;
  seek(index: number): void;
  step(delta: number): void;
  stepRequest(delta: number, stream: number | null): void;
  togglePlay(): void;
  pause(): void;
  goLive(): void;
  setSpeed(speed: number): void;
}

export function useTimeControl(store: EventStoreImpl, version: number, canFollow: boolean): TimeControl {
  const [state, setState] = useState({ cursor: -1, following: true, playing: false, speed: 1 });
  const length = store.length;
  void version;
  // With nothing to follow (a file, a replay), "following" just pins the cursor to the last event.
  const cursor = state.following ? length - 1 : Math.min(state.cursor, length - 1);
  const following = state.following && canFollow;
  const cursorRef = useRef(cursor);
  cursorRef.current = cursor;

  // A live store that let its oldest events go is the same stream: a paused cursor stays on its event.
  const seen = useRef({ store, seq: -1 });
  if (seen.current.store !== store) {
    const before = seen.current;
    seen.current = { store, seq: -1 };
    if (!state.following && before.seq >= 0 && (store.mode === 'live' || store.mode === 'simulation') && store.length > 0 && store.seqAt(0) <= before.seq) {
      const index = store.indexAtOrBefore(before.seq);
      setState((s) => ({ ...s, cursor: index }));
    }
  } else if (cursor >= 0 && cursor < length) {
    seen.current.seq = store.seqAt(cursor);
  }

  const seek = useCallback((index: number) => {
    setState((s) => ({ ...s, following: false, playing: false, cursor: Math.max(-1, Math.min(index, store.length - 1)) }));
  }, [store]);

  const step = useCallback((delta: number) => {
    setState((s) => {
      const from = s.following ? store.length - 1 : Math.min(s.cursor, store.length - 1);
      return { ...s, following: false, playing: false, cursor: Math.max(-1, Math.min(from + delta, store.length - 1)) };
    });
  }, [store]);

  const stepRequest = useCallback((delta: number, stream: number | null) => {
    if (stream === null) return;
    const events = store.eventsOfRequest(stream);
    if (events.length === 0) return;
    const at = cursorRef.current;
    let target: number | undefined;
    if (delta > 0) target = events.find((i) => i > at);
    else for (let k = events.length - 1; k >= 0; k--) if (events[k]! < at) { target = events[k]; break; }
    if (target !== undefined) seek(target);
  }, [store, seek]);

  const pause = useCallback(() => {
    setState((s) => ({ ...s, following: false, playing: false, cursor: s.following ? store.length - 1 : s.cursor }));
  }, [store]);

  const goLive = useCallback(() => {
    if (canFollow) setState((s) => ({ ...s, following: true, playing: false }));
    else setState((s) => ({ ...s, following: false, playing: false, cursor: store.length - 1 }));
  }, [store, canFollow]);

  const togglePlay = useCallback(() => {
    setState((s) => {
      if (s.following && canFollow) return { ...s, following: false, playing: false, cursor: store.length - 1 };
      if (s.following) return { ...s, following: false, playing: true, cursor: -1 };
      if (s.playing) return { ...s, playing: false };
      // At the end of a finished trace, play starts over.
      const from = s.cursor >= store.length - 1 && !canFollow ? -1 : s.cursor;
      return { ...s, playing: true, cursor: from };
    });
  }, [store, canFollow]);

  const setSpeed = useCallback((speed: number) => setState((s) => ({ ...s, speed })), []);

  // Playback: trace time advances with wall time × speed; the cursor takes every event up to it.
  useEffect(() => {
    if (!state.playing) return;
    let frame = 0;
    let last = performance.now();
    let playT = cursorRef.current >= 0 ? store.tAt(cursorRef.current) : store.length ? store.tAt(0) : 0;
    const tick = (now: number) => {
      playT += (now - last) * state.speed;
      last = now;
      let i = cursorRef.current;
      while (i + 1 < store.length && store.tAt(i + 1) <= playT) i++;
      // Don't sit idle through long quiet gaps: jump to just before the next event.
      if (i + 1 < store.length && store.tAt(i + 1) - playT > 1000 * state.speed) playT = store.tAt(i + 1) - 50 * state.speed;
      if (i + 1 >= store.length) {
        setState((s) => (canFollow ? { ...s, following: true, playing: false } : { ...s, playing: false, cursor: store.length - 1 }));
        return;
      }
      if (i !== cursorRef.current) {
        cursorRef.current = i;
        setState((s) => ({ ...s, cursor: i }));
      }
      frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(frame);
  }, [state.playing, state.following, state.speed, store, canFollow]);

  return { cursor, following, playing: state.playing, speed: state.speed, seek, step, stepRequest, togglePlay, pause, goLive, setSpeed };
}
