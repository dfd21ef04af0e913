import type { RequestToken } from './world';

/**
 * Token colours by outcome. Mid-tone hues chosen to read on both the light and the dark
 * background, so the canvas needs no theme lookup per frame.
 */
export const TOKEN_COLORS = {
  inflight: '#3b82f6',
  s2xx: '#16a34a',
  s3xx: '#0891b2',
  s4xx: '#d97706',
  s5xx: '#dc2626',
  reset: '#9333ea',
  backoff: '#f59e0b',
} as const;

export const LEGEND: Array<{ label: string; color: string; ring?: boolean }> = [
  { label: 'in flight', color: TOKEN_COLORS.inflight },
  { label: '2xx', color: TOKEN_COLORS.s2xx },
  { label: '3xx', color: TOKEN_COLORS.s3xx },
  { label: '4xx', color: TOKEN_COLORS.s4xx },
  { label: '5xx', color: TOKEN_COLORS.s5xx },
  { label: 'reset', color: TOKEN_COLORS.reset },
  { label: 'retry back-off', color: TOKEN_COLORS.backoff, ring: true },
];

export function tokenColor(r: Pick<RequestToken, 'status' | 'reset' | 'phase'>): string {
  if (r.reset) return TOKEN_COLORS.reset;
  const s = r.status;
  // an upstream status seen mid-flight already says how it is going
  if (s === undefined) return TOKEN_COLORS.inflight;
  if (s >= 500) return TOKEN_COLORS.s5xx;
  if (s >= 400) return TOKEN_COLORS.s4xx;
  if (s >= 300) return TOKEN_COLORS.s3xx;
  if (s >= 200) return TOKEN_COLORS.s2xx;
  return TOKEN_COLORS.inflight;
}

/** Response flags that mean the proxy or the upstream failed, not the client. */
export function flagText(flags: string | undefined): string | undefined {
  return flags && flags !== '-' ? flags : undefined;
}
