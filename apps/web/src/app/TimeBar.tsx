import type { EventStoreImpl } from '../model/event-store';
import { SPEEDS, type TimeControl } from './time-control';
import { formatT, Timeline } from './Timeline';
import { DotIcon, PauseIcon, PlayIcon, StepBackIcon, StepForwardIcon } from './icons';

interface Props {
  store: EventStoreImpl;
  version: number;
  time: TimeControl;
  selected: number | null;
  canFollow: boolean;
}

export function TimeBar({ store, version, time, selected, canFollow }: Props) {
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
      <Timeline store={store} version={version} cursor={cursor} selected={selected} onSeek={time.seek} />
      <span className="ps-cursor-info" data-testid="cursor-info" data-index={cursor} data-seq={has ? store.seqAt(cursor) : ''}>
        {has ? `seq ${store.seqAt(cursor)} · ${formatT(store.tAt(cursor))} · ${cursor + 1}/${store.length}` : `${store.length} events`}
      </span>
    </div>
  );
}
