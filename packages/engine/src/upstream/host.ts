/** Per-host counters and gauges, shown by `/clusters` (not by `/stats`, as in Envoy). */
export interface HostStats {
  cx_active: number;
  cx_connect_fail: number;
  cx_total: number;
  rq_active: number;
  rq_error: number;
  rq_success: number;
  rq_timeout: number;
  rq_total: number;
}

/** Upstream::HostImpl: one endpoint of a cluster. */
export class Host {
  /** `ip:port`, Envoy's host address form */
  readonly key: string;
  readonly stats: HostStats = {
    cx_active: 0,
    cx_connect_fail: 0,
    cx_total: 0,
    rq_active: 0,
    rq_error: 0,
    rq_success: 0,
    rq_timeout: 0,
    rq_total: 0,
  };
  healthy = true;

  constructor(
    readonly cluster: string,
    readonly address: string,
    readonly port: number,
    readonly weight: number,
    readonly hostname: string | undefined,
  ) {
    this.key = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  }
}
