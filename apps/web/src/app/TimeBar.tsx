import type { EventStoreImpl } from '../model/event-store';
import { SPEEDS, type Pacing, type TimeControl } from './time-control';
import { formatT, Timeline } from './Timeline';
import { DotIcon, PauseIcon, PlayIcon, StepBackIcon, StepForwardIcon } from './icons';

interface Props {
  store: EventStoreImpl;
  version: number;
  time: TimeControl;
  selected: number | null;
  canFollow: boolean;
  /** buttons at the bar's end (presenter mode's switch) */
  children?: React.ReactNode;
}

export function TimeBar({ store, version, time, selected, canFollow, children }: Props) {
  const { cursor } = time;
  const has = cursor >= 0 && cursor < store.length;
  return (
    <div className="ps-timebar" role="toolbar" aria-label="Time controls">
      <button className="ps-btn" onClick={() => time.step(-1)} disabled={cursor <= 0} title="Step back one event (←)" aria-label="Step back">
        <StepBackIcon />
      </button>
      <button className="ps-btn" onClick={time.togglePlay} title="Pause / play (space)" data-testid="play-pause" aria-label={time.playing ? 'Pause' : time.following ? 'Pause' : 'Play'}>
        {time.playing || time.following ? <PauseIcon /> : <PlayIcon />}
      </button>
      <button className="ps-btn" onClick={() => time.step(1)} disabled={cursor >= store.length - 1} title="Step forward one event (→)" aria-label="Step forward">
        <StepForwardIcon />
      </button>
      <button className="ps-btn" aria-pressed={time.following} onClick={time.goLive} title={canFollow ? 'Follow the newest event (L)' : 'Go to the last event (L)'} data-testid="go-live">
        {canFollow ? (
          <>
            <DotIcon /> Live
          </>
        ) : (
          'End'
        )}
      </button>
      <select value={time.speed} onChange={(e) => time.setSpeed(Number(e.target.value))} aria-label="Playback speed" title="Playback speed" className="ps-btn" disabled={time.following}>
        {SPEEDS.map((s) => (
          <option key={s} value={s}>
            {s}×
          </option>
        ))}
      </select>
      <select value={time.pacing === 'request' && selected === null ? 'phase' : time.pacing} onChange={(e) => time.setPacing(e.target.value as Pacing)} aria-label="Playback pacing" title="By time: events at the pace they happened. By phase: every state change stays on screen a moment, however short it really was. This request: only the selected request's state changes, one by one." className="ps-btn" data-testid="pacing">
        <option value="time">by time</option>
        <option value="phase">by phase</option>
        <option value="request" disabled={selected === null}>
          {selected === null ? 'one request' : `request ${selected} only`}
        </option>
      </select>
      <Timeline store={store} version={version} cursor={cursor} selected={selected} onSeek={time.seek} />
      <span className="ps-cursor-info" data-testid="cursor-info" data-index={cursor} data-seq={has ? store.seqAt(cursor) : ''}>
        {has ? `seq ${store.seqAt(cursor)} · ${formatT(store.tAt(cursor))} · ${cursor + 1}/${store.length}` : `${store.length} events`}
      </span>
      {children}
    </div>
  );
}
