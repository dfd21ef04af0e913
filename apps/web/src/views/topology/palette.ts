import type { RequestToken } from './world';

/**
 * Token colours by outcome: the Okabe-Ito palette, which stays apart for protan, deutan and
 * tritan eyes (2xx bluish green against 5xx vermillion; a 4xx is reddish purple, not an
 * orange a deutan eye takes for the vermillion). Each has 3:1 or more against the map's
 * light and dark background, so the canvas needs no theme lookup per frame. The retry
 * back-off is a dashed ring, not only a colour.
 */
export const TOKEN_COLORS = {
  inflight: '#0072b2',
  s2xx: '#009e73',
  s3xx: '#3b93c4',
  s4xx: '#c0649a',
  s5xx: '#d55e00',
  reset: '#808080',
  backoff: '#b58500',
} as const;

/**
 * A token's shape says what its colour says, so the outcome reads without colour (and on a
 * washed-out projector): success and in flight are round, a 4xx is a triangle, a 5xx a
 * square, a reset a diamond.
 */
export type TokenShape = 'circle' | 'triangle' | 'square' | 'diamond';

const SHAPE_OF_COLOR: Record<string, TokenShape> = {
  [TOKEN_COLORS.s4xx]: 'triangle',
  [TOKEN_COLORS.s5xx]: 'square',
  [TOKEN_COLORS.reset]: 'diamond',
};

export function tokenShape(color: string): TokenShape {
  return SHAPE_OF_COLOR[color] ?? 'circle';
}

/**
 * Adds a token's outline to the current path, centred on (x, y), as big as a circle of
 * radius r to the eye (a square is drawn a little smaller than its circumscribed circle).
 */
export function traceToken(ctx: Pick<CanvasRenderingContext2D, 'moveTo' | 'lineTo' | 'arc' | 'closePath'>, shape: TokenShape, x: number, y: number, r: number): void {
  switch (shape) {
    case 'circle':
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, Math.PI * 2);
      return;
    case 'square': {
      const h = r * 0.9;
      ctx.moveTo(x - h, y - h);
      ctx.lineTo(x + h, y - h);
      ctx.lineTo(x + h, y + h);
      ctx.lineTo(x - h, y + h);
      ctx.closePath();
      return;
    }
    case 'triangle':
      ctx.moveTo(x, y - r * 1.2);
      ctx.lineTo(x + r * 1.1, y + r * 0.85);
      ctx.lineTo(x - r * 1.1, y + r * 0.85);
      ctx.closePath();
      return;
    case 'diamond':
      ctx.moveTo(x, y - r * 1.2);
      ctx.lineTo(x + r * 1.2, y);
      ctx.lineTo(x, y + r * 1.2);
      ctx.lineTo(x - r * 1.2, y);
      ctx.closePath();
      return;
  }
}

export const LEGEND: Array<{ label: string; color: string; ring?: boolean }> = [
  { label: 'in flight', color: TOKEN_COLORS.inflight },
  { label: '2xx', color: TOKEN_COLORS.s2xx },
  { label: '3xx', color: TOKEN_COLORS.s3xx },
  { label: '4xx', color: TOKEN_COLORS.s4xx },
  { label: '5xx', color: TOKEN_COLORS.s5xx },
  { label: 'reset', color: TOKEN_COLORS.reset },
  { label: 'retry back-off', color: TOKEN_COLORS.backoff, ring: true },
];

/** Step mode's held mark: a solid ring and a pause badge, in a colour no token or ring uses (violet). */
export const HELD_COLOR = '#6d28d9';

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
