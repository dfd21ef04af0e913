import { describe, expect, it } from 'vitest';
import {
  renderStatsJson,
  renderStatsPrometheus,
  renderStatsText,
  StatsStore,
  SUPPORTED_BUCKETS,
} from '../src/stats/stats';

/** 1, 2, 3, 4 ms: one value in (0.5, 1], three in (1, 5]. */
function storeWithRqTime(): StatsStore {
  const store = new StatsStore();
  const h = store.histogram('cluster.backend.upstream_rq_time');
  for (const v of [1, 2, 3, 4]) h.record(v);
  return store;
}

const Q_1_TO_4 = ['1', '1', '2', '3', '3.6', '3.8', '3.96', '3.98', '3.996', '4'];
const LABELS = ['0', '25', '50', '75', '90', '95', '99', '99.5', '99.9', '100'];

function summary(interval: string[], cumulative: string[]): string {
  return LABELS.map((l, i) => `P${l}(${interval[i]},${cumulative[i]})`).join(' ');
}

describe('StatsStore', () => {
  it('returns the same object for a name, so callers can keep it', () => {
    const store = new StatsStore();
    const c = store.counter('cluster.backend.upstream_rq_total');
    c.inc();
    c.inc(2);
    expect(store.counter('cluster.backend.upstream_rq_total')).toBe(c);
    expect(c.value).toBe(3);
    expect(store.valueOf('cluster.backend.upstream_rq_total')).toBe(3);
    expect(store.valueOf('nope')).toBeUndefined();
  });

  it('gauges go up, down and can be set', () => {
    const g = new StatsStore().gauge('cluster.backend.upstream_rq_active');
    g.inc();
    g.inc();
    g.dec();
    expect(g.value).toBe(1);
    g.set(7);
    expect(g.value).toBe(7);
  });

  it('tracks used: created but never written is unused', () => {
    const store = new StatsStore();
    const c = store.counter('a');
    expect(c.used).toBe(false);
    c.inc(0);
    expect(c.used).toBe(true);
  });

  it('resetCounters zeroes counters only', () => {
    const store = new StatsStore();
    store.counter('c').inc(5);
    store.gauge('g').set(3);
    store.resetCounters();
    expect(store.valueOf('c')).toBe(0);
    expect(store.valueOf('g')).toBe(3);
  });
});

describe('histogram quantiles', () => {
  it('interpolates within buckets; P0/P100 are the exact min/max', () => {
    const h = storeWithRqTime().snapshot().histograms[0]!;
    expect(h.cumulative.count).toBe(4);
    expect(h.cumulative.sum).toBe(10);
    expect(h.cumulative.quantiles).toEqual([1, 1, 2, 3, 3.6, 3.8, 3.96, 3.98, 3.996, 4]);
  });

  it('interval is empty (NaN) until the first merge, then shows that interval only', () => {
    const store = storeWithRqTime();
    const h = store.histogram('cluster.backend.upstream_rq_time');
    expect(store.snapshot().histograms[0]!.interval.quantiles.every(Number.isNaN)).toBe(true);

    store.mergeHistograms();
    expect(store.snapshot().histograms[0]!.interval.quantiles).toEqual([1, 1, 2, 3, 3.6, 3.8, 3.96, 3.98, 3.996, 4]);

    h.record(100);
    store.mergeHistograms();
    const snap = store.snapshot().histograms[0]!;
    expect(snap.interval.quantiles).toEqual([100, 100, 100, 100, 100, 100, 100, 100, 100, 100]);
    expect(snap.cumulative.count).toBe(5);
    // rank 0.5*5 = 2.5 falls in (1,5], now full width as max is 100: 1 + (5-1) * (2.5-1)/3
    expect(snap.cumulative.quantiles[2]).toBe(3);
    expect(snap.cumulative.quantiles[9]).toBe(100);

    store.mergeHistograms(); // nothing recorded in this interval
    expect(store.snapshot().histograms[0]!.interval.count).toBe(0);
  });

  it('handles values above the last bound with bounded memory', () => {
    const store = new StatsStore();
    const h = store.histogram('x');
    for (let i = 0; i < 10_000; i++) h.record(5_000_000);
    h.record(Number.NaN); // dropped
    const s = store.snapshot().histograms[0]!.cumulative;
    expect(s.count).toBe(10_000);
    expect(s.quantiles[0]).toBe(5_000_000);
    expect(s.quantiles[9]).toBe(5_000_000);
    expect(s.buckets[SUPPORTED_BUCKETS.length - 1]).toBe(0);
  });

  it('buckets are cumulative counts of values <= each bound', () => {
    const s = storeWithRqTime().snapshot().histograms[0]!.cumulative;
    expect(s.buckets.slice(0, 4)).toEqual([0, 1, 4, 4]);
    expect(s.buckets.length).toBe(19);
  });
});

describe('renderStatsText', () => {
  function sample(): StatsStore {
    const store = storeWithRqTime();
    store.counter('cluster.backend.upstream_rq_total').inc(4);
    store.gauge('cluster.backend.upstream_rq_active').set(1);
    store.counter('cluster.backend.upstream_cx_total').inc(2);
    store.counter('http.ingress.downstream_rq_total').inc(4);
    store.counter('cluster.backend.upstream_rq_retry'); // created, never written
    store.histogram('http.ingress.downstream_rq_time'); // never recorded
    return store;
  }

  it('prints counters and gauges merged by name, then histograms', () => {
    expect(renderStatsText(sample())).toBe(
      [
        'cluster.backend.upstream_cx_total: 2',
        'cluster.backend.upstream_rq_active: 1',
        'cluster.backend.upstream_rq_retry: 0',
        'cluster.backend.upstream_rq_total: 4',
        'http.ingress.downstream_rq_total: 4',
        `cluster.backend.upstream_rq_time: ${summary(Array(10).fill('nan'), Q_1_TO_4)}`,
        'http.ingress.downstream_rq_time: No recorded values',
        '',
      ].join('\n'),
    );
  });

  it('shows interval values after a merge', () => {
    const store = storeWithRqTime();
    store.mergeHistograms();
    expect(renderStatsText(store)).toBe(`cluster.backend.upstream_rq_time: ${summary(Q_1_TO_4, Q_1_TO_4)}\n`);
  });

  it('applies usedonly, filter (partial match) and type', () => {
    const store = sample();
    expect(renderStatsText(store, { usedOnly: true, type: 'Counters' })).toBe(
      'cluster.backend.upstream_cx_total: 2\ncluster.backend.upstream_rq_total: 4\nhttp.ingress.downstream_rq_total: 4\n',
    );
    expect(renderStatsText(store, { filter: /rq_(active|retry)/g })).toBe(
      'cluster.backend.upstream_rq_active: 1\ncluster.backend.upstream_rq_retry: 0\n',
    );
    expect(renderStatsText(store, { type: 'Gauges' })).toBe('cluster.backend.upstream_rq_active: 1\n');
    expect(renderStatsText(store, { type: 'Histograms', usedOnly: true })).toBe(
      `cluster.backend.upstream_rq_time: ${summary(Array(10).fill('nan'), Q_1_TO_4)}\n`,
    );
  });

  it('renders a snapshot the same as the store', () => {
    const store = sample();
    expect(renderStatsText(store.snapshot())).toBe(renderStatsText(store));
  });
});

describe('renderStatsJson', () => {
  it('has name/value entries then one histograms entry', () => {
    const store = storeWithRqTime();
    store.counter('cluster.backend.upstream_rq_total').inc(4);
    store.gauge('cluster.backend.upstream_rq_active').set(1);
    const json = JSON.parse(renderStatsJson(store));
    expect(json).toEqual({
      stats: [
        { name: 'cluster.backend.upstream_rq_active', value: 1 },
        { name: 'cluster.backend.upstream_rq_total', value: 4 },
        {
          histograms: {
            supported_quantiles: [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100],
            computed_quantiles: [
              {
                name: 'cluster.backend.upstream_rq_time',
                values: [1, 1, 2, 3, 3.6, 3.8, 3.96, 3.98, 3.996, 4].map((c) => ({ cumulative: c, interval: null })),
              },
            ],
          },
        },
      ],
    });
  });

  it('is compact and omits the histograms entry when none are selected', () => {
    const store = storeWithRqTime();
    store.counter('a.b').inc();
    expect(renderStatsJson(store, { type: 'Counters' })).toBe('{"stats":[{"name":"a.b","value":1}]}');
    expect(renderStatsJson(new StatsStore())).toBe('{"stats":[]}');
  });
});

describe('renderStatsPrometheus', () => {
  it('writes TYPE lines, envoy_ prefix, underscores and histogram buckets', () => {
    const store = storeWithRqTime();
    store.counter('cluster.backend.upstream_rq_total').inc(4);
    store.gauge('server.live').set(1);
    const buckets = SUPPORTED_BUCKETS.map(
      (b, i) => `envoy_cluster_backend_upstream_rq_time_bucket{le="${b}"} ${i === 0 ? 0 : i === 1 ? 1 : 4}\n`,
    ).join('');
    expect(renderStatsPrometheus(store)).toBe(
      '# TYPE envoy_cluster_backend_upstream_rq_total counter\n' +
        'envoy_cluster_backend_upstream_rq_total{} 4\n' +
        '\n' +
        '# TYPE envoy_server_live gauge\n' +
        'envoy_server_live{} 1\n' +
        '\n' +
        '# TYPE envoy_cluster_backend_upstream_rq_time histogram\n' +
        buckets +
        'envoy_cluster_backend_upstream_rq_time_bucket{le="+Inf"} 4\n' +
        'envoy_cluster_backend_upstream_rq_time_sum{} 10\n' +
        'envoy_cluster_backend_upstream_rq_time_count{} 4\n' +
        '\n',
    );
    expect(buckets).toContain('{le="0.5"} 0\n');
    expect(buckets).toContain('{le="3600000"} 4\n');
  });

  it('sanitizes every non [a-zA-Z0-9_] character and honours usedOnly', () => {
    const store = new StatsStore();
    store.counter('listener.0.0.0.0_10000.downstream_cx_total').inc();
    store.counter('unused');
    expect(renderStatsPrometheus(store, { usedOnly: true })).toBe(
      '# TYPE envoy_listener_0_0_0_0_10000_downstream_cx_total counter\n' +
        'envoy_listener_0_0_0_0_10000_downstream_cx_total{} 1\n\n',
    );
  });
});
