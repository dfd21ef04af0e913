/**
 * Header map with lower-cased names in arrival order. HTTP/1 sends them lower-cased, as
 * Envoy does by default. Pseudo-headers (`:method`, `:path`, ...) live on the message.
 */
export class HeaderMap {
  private readonly list: Array<[string, string]> = [];

  static from(pairs: Iterable<readonly [string, string]>): HeaderMap {
    const map = new HeaderMap();
    for (const [name, value] of pairs) map.add(name, value);
    return map;
  }

  get size(): number {
    return this.list.length;
  }

  /** First value of `name`, or undefined. */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    for (const [n, v] of this.list) if (n === key) return v;
    return undefined;
  }

  /** All values of `name` joined with "," (how Envoy matches repeated headers). */
  getJoined(name: string): string | undefined {
    const key = name.toLowerCase();
    let out: string | undefined;
    for (const [n, v] of this.list) if (n === key) out = out === undefined ? v : `${out},${v}`;
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  add(name: string, value: string): void {
    this.list.push([name.toLowerCase(), value]);
  }

  /** Replace every value of `name` with one. */
  set(name: string, value: string): void {
    this.remove(name);
    this.list.push([name.toLowerCase(), value]);
  }

  remove(name: string): boolean {
    const key = name.toLowerCase();
    let removed = false;
    for (let i = this.list.length - 1; i >= 0; i--) {
      if (this.list[i]![0] === key) {
        this.list.splice(i, 1);
        removed = true;
      }
    }
    return removed;
  }

  entries(): ReadonlyArray<readonly [string, string]> {
    return this.list;
  }

  /** Bytes on the wire as `name: value\r\n` lines, for limits and byte counts. */
  byteLength(): number {
    let n = 0;
    for (const [k, v] of this.list) n += k.length + v.length + 4;
    return n;
  }

  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.list) out[k] = k in out ? `${out[k]},${v}` : v;
    return out;
  }
}

export interface RequestHead {
  method: string;
  /** :path as sent (path and query) */
  path: string;
  /** :authority (Host) */
  authority: string;
  scheme: 'http' | 'https';
  /** e.g. `HTTP/1.1` */
  protocol: string;
  headers: HeaderMap;
}

export interface ResponseHead {
  status: number;
  headers: HeaderMap;
}
