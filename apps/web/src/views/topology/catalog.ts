import type { EventStore } from '../../model/types';

/**
 * Everything the layout needs that only events reveal (hosts missing from the trace header,
 * which clusters a weighted route really used), collected over the whole store rather than
 * up to the cursor so the layout does not reshuffle while the user scrubs.
 */
export interface Catalog {
  hosts: Array<{ cluster: string; host: string }>;
  routeClusters: Array<{ route: string; cluster: string }>;
  workers: number;
  /** changes whenever a host or route->cluster pair is added: a memo key for the layout */
  key: string;
}

export class CatalogTracker {
  private store: EventStore | null = null;
  private scanned = 0;
  private firstSeq = 0;
  private hosts = new Set<string>();
  private routeClusters = new Set<string>();
  private maxWorker = 0;
  private cached: Catalog | null = null;

  update(store: EventStore): Catalog {
    if (store !== this.store || store.length < this.scanned || (store.length > 0 && store.get(0).seq !== this.firstSeq)) {
      this.store = store;
      this.scanned = 0;
      this.hosts.clear();
      this.routeClusters.clear();
      this.maxWorker = 0;
      this.cached = null;
      this.firstSeq = store.length > 0 ? store.get(0).seq : 0;
    }
    let changed = this.cached === null;
    for (let i = this.scanned; i < store.length; i++) {
      const e = store.get(i);
      const { cluster, host, worker } = e.ids;
      if (worker !== undefined && worker > this.maxWorker) {
        this.maxWorker = worker;
        changed = true;
      }
      if (cluster && host) {
        const k = `${cluster}\u0000${host}`;
        if (!this.hosts.has(k)) {
          this.hosts.add(k);
          changed = true;
        }
      }
      // A DNS answer names the hosts it added before any of them has a pool or a health event.
      if (e.type === 'fact' && e.fact === 'cluster.hosts_changed' && cluster && Array.isArray(e.data.added)) {
        for (const added of e.data.added) {
          const k = `${cluster}\u0000${String(added)}`;
          if (!this.hosts.has(k)) {
            this.hosts.add(k);
            changed = true;
          }
        }
      }
      if (e.type === 'fact' && e.fact === 'route.match' && typeof e.data.route === 'string' && typeof e.data.cluster === 'string') {
        const k = `${e.data.route}\u0000${e.data.cluster}`;
        if (!this.routeClusters.has(k)) {
          this.routeClusters.add(k);
          changed = true;
        }
      }
    }
    this.scanned = store.length;
    if (changed || !this.cached) {
      const hosts = [...this.hosts].map((k) => {
        const [c, h] = k.split('\u0000');
        return { cluster: c, host: h };
      });
      const routeClusters = [...this.routeClusters].map((k) => {
        const [route, cluster] = k.split('\u0000');
        return { route, cluster };
      });
      this.cached = { hosts, routeClusters, workers: this.maxWorker + 1, key: `${[...this.hosts].sort().join('|')}#${[...this.routeClusters].sort().join('|')}#${this.maxWorker}` };
    }
    return this.cached;
  }
}
