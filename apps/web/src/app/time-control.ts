import { useCallback, useEffect, useRef, useState } from 'react';
import type { EventStoreImpl } from '../model/event-store';
import { SPAWN, STOP, TRANSITION } from '../model/columns';
import { relatedEvents } from '../model/request-detail';

/**
 * The one cursor: an index into the store. Following = the cursor is the head (live).
 * Play moves it through the events at the pace they happened, times `speed`.
 *
 * Pacing "phase" gives every state change a minimum screen time on top of that: the
 * filter, route and cluster steps of a request take microseconds of trace time, so played
 * by the clock alone they flash by even at 0.1×.
 *
 * Pacing "request" plays the selected request alone: the cursor goes from one of its state
 * changes to the next (its own machines, and the codec, pool and upstream connection that
 * served it), each held like a phase, and stops when the request is done. Everything else
 * that happened in between is still drawn at each stop, since the map is the world at the
 * cursor; the stops are the request's.
 */

export const SPEEDS = [0.1, 0.25, 0.5, 1, 2, 5, 10] as const;
export type Pacing = 'time' | 'phase' | 'request';
/** How long a state change stays on screen at 1× when playing by phase (divided by the speed). */
export const PHASE_DWELL_MS = 450;

function isStateChange(kind: number): boolean {
  return kind === TRANSITION || kind === SPAWN || kind === STOP;
}

export interface TimeControl {
  cursor: number;
  following: boolean;
  playing: boolean;
  speed: number;
  pacing: Pacing;
  seek(index: number): void;
  step(delta: number): void;
  stepRequest(delta: number, stream: number | null): void;
  togglePlay(): void;
  /** plays from the cursor and stops on `index` (a lesson's "Show me") */
  playTo(index: number): void;
  pause(): void;
  goLive(): void;
  setSpeed(speed: number): void;
  setPacing(pacing: Pacing): void;
}

/** The state changes of one request, in order: what "play this request" stops at. */
export function requestStops(store: EventStoreImpl, stream: number): readonly number[] {
  const own = store.eventsOfRequest(stream);
  if (own.length === 0) return [];
  const summary = store.requestAt(stream, store.length - 1);
  if (!summary) return [];
  const stops = relatedEvents(store, summary)
    .map((r) => r.index)
    .filter((i) => isStateChange(store.kindAt(i)));
  return stops.length > 0 ? stops : own;
}

/**
 * @param selected the selected request: "request" pacing plays it alone, and without one
 *   falls back to "phase"
 */
export function useTimeControl(store: EventStoreImpl, version: number, canFollow: boolean, initialPacing: Pacing = 'time', selected: number | null = null): TimeControl {
  const [state, setState] = useState<{ cursor: number; following: boolean; playing: boolean; speed: number; pacing: Pacing; stopAt: number | null }>({ cursor: -1, following: true, playing: false, speed: 1, pacing: initialPacing, stopAt: null });
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
    setState((s) => ({ ...s, following: false, playing: false, stopAt: null, cursor: Math.max(-1, Math.min(index, store.length - 1)) }));
  }, [store]);

  const step = useCallback((delta: number) => {
    setState((s) => {
      const from = s.following ? store.length - 1 : Math.min(s.cursor, store.length - 1);
      return { ...s, following: false, playing: false, stopAt: null, cursor: Math.max(-1, Math.min(from + delta, store.length - 1)) };
    });
  }, [store]);

  const pacingRef = useRef(state.pacing);
  pacingRef.current = state.pacing;
  const stepRequest = useCallback((delta: number, stream: number | null) => {
    if (stream === null) return;
    let events = store.eventsOfRequest(stream);
    // By phase, a step is one of the request's state changes: its facts move nothing on the map.
    if (pacingRef.current === 'request') {
      const stops = requestStops(store, stream);
      if (stops.length > 0) events = stops;
    } else if (pacingRef.current === 'phase') {
      const changes = events.filter((i) => isStateChange(store.kindAt(i)));
      if (changes.length > 0) events = changes;
    }
    if (events.length === 0) return;
    const at = cursorRef.current;
    let target: number | undefined;
    if (delta > 0) target = events.find((i) => i > at);
    else for (let k = events.length - 1; k >= 0; k--) if (events[k]! < at) { target = events[k]; break; }
    if (target !== undefined) seek(target);
  }, [store, seek]);

  const pause = useCallback(() => {
    setState((s) => ({ ...s, following: false, playing: false, stopAt: null, cursor: s.following ? store.length - 1 : s.cursor }));
  }, [store]);

  const goLive = useCallback(() => {
    if (canFollow) setState((s) => ({ ...s, following: true, playing: false, stopAt: null }));
    else setState((s) => ({ ...s, following: false, playing: false, stopAt: null, cursor: store.length - 1 }));
  }, [store, canFollow]);

  const togglePlay = useCallback(() => {
    setState((prev) => {
      const s = { ...prev, stopAt: null };
      if (s.pacing === 'request' && selected !== null && !s.playing) {
        // Playing a request alone starts at its first stop once it has been played through.
        const stops = requestStops(store, selected);
        const at = s.following ? store.length - 1 : s.cursor;
        if (stops.length > 0 && at >= stops[stops.length - 1]!) return { ...s, following: false, playing: true, cursor: stops[0]! };
        if (stops.length > 0) return { ...s, following: false, playing: true, cursor: at };
      }
      if (s.following && canFollow) return { ...s, following: false, playing: false, cursor: store.length - 1 };
      if (s.following) return { ...s, following: false, playing: true, cursor: -1 };
      if (s.playing) return { ...s, playing: false };
      // At the end of a finished trace, play starts over.
      const from = s.cursor >= store.length - 1 && !canFollow ? -1 : s.cursor;
      return { ...s, playing: true, cursor: from };
    });
  }, [store, canFollow, selected]);

  const playTo = useCallback((index: number) => {
    setState((s) => {
      const from = s.following ? store.length - 1 : Math.min(s.cursor, store.length - 1);
      const target = Math.min(index, store.length - 1);
      // already there (or past it): land on it, nothing to play
      if (from >= target) return { ...s, following: false, playing: false, stopAt: null, cursor: target };
      return { ...s, following: false, playing: true, stopAt: target, cursor: from };
    });
  }, [store]);
  const setSpeed = useCallback((speed: number) => setState((s) => ({ ...s, speed })), []);
  const setPacing = useCallback((pacing: Pacing) => setState((s) => ({ ...s, pacing })), []);

  // Playback: trace time advances with wall time × speed; the cursor takes every event up to it.
  useEffect(() => {
    if (!state.playing) return;
    let frame = 0;
    let last = performance.now();
    let playT = cursorRef.current >= 0 ? store.tAt(cursorRef.current) : store.length ? store.tAt(0) : 0;
    const stopAt = state.stopAt;
    // a run to a target plays by the map's pace, never one request alone
    const alone = state.pacing === 'request' && stopAt === null ? selected : null;
    const byPhase = state.pacing === 'phase' || (state.pacing === 'request' && alone === null);
    const dwell = PHASE_DWELL_MS / state.speed;
    // by phase: the wall time the state change at the cursor stays on screen until
    let holdUntil = 0;
    // this request alone: its stops, found again when the store has grown (a request in flight)
    let stops: readonly number[] = [];
    let stopsAt = -1;
    const tick = (now: number) => {
      if (alone !== null) {
        if (now < holdUntil) {
          frame = requestAnimationFrame(tick);
          return;
        }
        if (stopsAt !== store.length) {
          stops = requestStops(store, alone);
          stopsAt = store.length;
        }
        const next = stops.find((k) => k > cursorRef.current);
        if (next === undefined) {
          // Done, or waiting for its next event: a finished request stops the playback there.
          const summary = store.requestAt(alone, store.length - 1);
          if (!summary || summary.done || !canFollow) {
            setState((s) => ({ ...s, playing: false }));
            return;
          }
          frame = requestAnimationFrame(tick);
          return;
        }
        cursorRef.current = next;
        holdUntil = now + dwell;
        setState((s) => ({ ...s, cursor: next }));
        frame = requestAnimationFrame(tick);
        return;
      }
      if (byPhase && now < holdUntil) {
        // trace time stands still while a state change is on screen
        last = now;
        frame = requestAnimationFrame(tick);
        return;
      }
      playT += (now - last) * state.speed;
      last = now;
      let i = cursorRef.current;
      // the next event the cursor can land on
      let next = i + 1;
      if (byPhase) {
        // The cursor goes from state change to state change; the facts between two of them
        // go with the later one, so no step of the cursor is without something to see.
        while (next < store.length && !isStateChange(store.kindAt(next))) next++;
        if (next >= store.length) next = store.length - 1;
        if (next > i && store.tAt(next) <= playT) {
          i = next;
          next = i + 1;
          holdUntil = now + dwell;
          playT = store.tAt(i);
        }
      } else {
        while (i + 1 < store.length && store.tAt(i + 1) <= playT) i++;
        next = i + 1;
      }
      // Don't sit idle through long quiet gaps: jump to just before the next event.
      if (next < store.length && store.tAt(next) - playT > 1000 * state.speed) playT = store.tAt(next) - 50 * state.speed;
      if (stopAt !== null && i >= stopAt) {
        cursorRef.current = stopAt;
        setState((s) => ({ ...s, playing: false, stopAt: null, cursor: stopAt }));
        return;
      }
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
  }, [state.playing, state.following, state.speed, state.pacing, state.stopAt, store, canFollow, selected]);

  return { cursor, following, playing: state.playing, speed: state.speed, pacing: state.pacing, seek, step, stepRequest, togglePlay, playTo, pause, goLive, setSpeed, setPacing };
}
