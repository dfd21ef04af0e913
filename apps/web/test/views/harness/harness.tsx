import { StrictMode, useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { parseTrace } from '@proxyscope/protocol';
import { TopologyView } from '../../../src/views/topology/TopologyView';
import { MachineView } from '../../../src/views/machines/MachineView';
import { StatsView } from '../../../src/views/stats/StatsView';
import { ArrayStore } from '../array-store';
import { syntheticTrace } from './synthetic';

/**
 * A page of its own for developing and benchmarking the views without the app shell:
 * `?synthetic=1000&seconds=12` plays a generated trace with 1,000 requests in flight;
 * `?trace=URL` plays an NDJSON trace. Playback runs at trace speed and loops.
 */
const params = new URLSearchParams(location.search);

async function loadStore(): Promise<ArrayStore> {
  const trace = params.get('trace');
  if (trace) {
    const parsed = parseTrace(await (await fetch(trace)).text());
    return new ArrayStore(parsed.header.topology, [...parsed.events]);
  }
  const t = syntheticTrace({ inFlight: Number(params.get('synthetic') ?? 1000), seconds: Number(params.get('seconds') ?? 12) });
  return new ArrayStore(t.topology, t.events);
}

function Harness({ store }: { store: ArrayStore }) {
  const [cursor, setCursor] = useState(-1);
  const [selected, setSelected] = useState<number | null>(null);
  const startT = store.length ? store.get(0).t : 0;
  const endT = store.length ? store.get(store.length - 1).t : 0;
  const offset = Number(params.get('from') ?? 4000);
  useEffect(() => {
    let raf = 0;
    const t0 = performance.now();
    const tick = (now: number) => {
      const t = startT + offset + ((now - t0) % Math.max(1, endT - startT - offset));
      // last event at or before trace time t
      let lo = 0;
      let hi = store.length - 1;
      let ans = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (store.get(mid).t <= t) {
          ans = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      setCursor(ans);
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, [store, startT, endT, offset]);
  const props = useMemo(() => ({ store, cursor, selected, onSelect: setSelected }), [store, cursor, selected]);
  const view = params.get('view') ?? 'all';
  return (
    <div style={{ display: 'grid', gridTemplateRows: view === 'all' ? '62vh auto' : '100vh', height: '100%' }}>
      {(view === 'all' || view === 'topology') && <TopologyView {...props} />}
      {view === 'all' && (
        <div style={{ display: 'grid', gridTemplateColumns: '1fr 1fr' }}>
          <StatsView {...props} />
          <MachineView {...props} />
        </div>
      )}
    </div>
  );
}

loadStore().then((store) => {
  (window as unknown as { __harnessEvents: number }).__harnessEvents = store.length;
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <Harness store={store} />
    </StrictMode>,
  );
});
