/**
 * The colours are readable by the whole room: every status colour in theme.css meets WCAG AA
 * (4.5:1 for text) on every surface it is written on, in the light and the dark theme; the
 * tokens on the map and the focus ring meet 3:1 (non-text contrast); and the ok/bad pairs
 * stay apart for protan and deutan eyes (simulated with Machado et al. 2009, severity 1).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenColor, tokenShape, TOKEN_COLORS } from '../src/views/topology/palette';

const css = readFileSync(join(__dirname, '../src/app/theme.css'), 'utf8');

/** `--ps-name: light-dark(#light, #dark)` from theme.css. */
function themeVar(name: string): { light: string; dark: string } {
  const m = new RegExp(`--ps-${name}:\\s*light-dark\\((#[0-9a-f]{6}),\\s*(#[0-9a-f]{6})\\)`, 'i').exec(css);
  if (!m) throw new Error(`theme.css: --ps-${name} is not a light-dark(#rrggbb, #rrggbb) pair`);
  return { light: m[1]!, dark: m[2]! };
}

const channels = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
const linear = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
const luminance = (rgb: number[]) => 0.2126 * rgb[0]! + 0.7152 * rgb[1]! + 0.0722 * rgb[2]!;

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(channels(a).map(linear)), luminance(channels(b).map(linear))].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

const DICHROMAT = {
  protan: [
    [0.152286, 1.052583, -0.204868],
    [0.114503, 0.786281, 0.099216],
    [-0.003882, -0.048116, 1.051998],
  ],
  deutan: [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.01182, 0.04294, 0.968881],
  ],
} as const;

/** CIE76 distance in Lab between two colours as a protan or deutan eye sees them. */
function distanceSeenBy(eye: keyof typeof DICHROMAT, a: string, b: string): number {
  const lab = (hex: string) => {
    const c = channels(hex).map(linear);
    const [r, g, bl] = DICHROMAT[eye].map((row) => Math.min(1, Math.max(0, row[0] * c[0]! + row[1] * c[1]! + row[2] * c[2]!)));
    const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
    const x = f((0.4124 * r! + 0.3576 * g! + 0.1805 * bl!) / 0.95047);
    const y = f(0.2126 * r! + 0.7152 * g! + 0.0722 * bl!);
    const z = f((0.0193 * r! + 0.1192 * g! + 0.9505 * bl!) / 1.08883);
    return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
  };
  const [p, q] = [lab(a), lab(b)];
  return Math.hypot(p[0]! - q[0]!, p[1]! - q[1]!, p[2]! - q[2]!);
}

const SURFACES = ['bg', 'panel', 'surface', 'row-hover', 'row-selected'] as const;
const TEXT = ['fg', 'muted', 'ok', 'warn', 'bad', 'info', 'accent'] as const;

describe('theme colours', () => {
  for (const theme of ['light', 'dark'] as const) {
    it(`${theme}: every text colour has 4.5:1 on every surface`, () => {
      const low: string[] = [];
      for (const fg of TEXT)
        for (const bg of SURFACES) {
          const ratio = contrast(themeVar(fg)[theme], themeVar(bg)[theme]);
          if (ratio < 4.5) low.push(`--ps-${fg} on --ps-${bg}: ${ratio.toFixed(2)}:1`);
        }
      expect(low).toEqual([]);
    });

    it(`${theme}: the focus ring has 3:1 against every surface`, () => {
      for (const bg of SURFACES) expect(contrast(themeVar('focus')[theme], themeVar(bg)[theme]), `--ps-focus on --ps-${bg}`).toBeGreaterThanOrEqual(3);
    });

    it(`${theme}: ok and bad, ok and warn stay apart for protan and deutan eyes`, () => {
      for (const eye of ['protan', 'deutan'] as const) {
        expect(distanceSeenBy(eye, themeVar('ok')[theme], themeVar('bad')[theme]), `${eye}: ok / bad`).toBeGreaterThan(20);
        expect(distanceSeenBy(eye, themeVar('ok')[theme], themeVar('warn')[theme]), `${eye}: ok / warn`).toBeGreaterThan(20);
      }
    });
  }
});

describe('token colours', () => {
  it('each token has 3:1 against the map in both themes', () => {
    for (const [name, colour] of Object.entries(TOKEN_COLORS))
      for (const theme of ['light', 'dark'] as const) expect(contrast(colour, themeVar('bg')[theme]), `${name} on the ${theme} map`).toBeGreaterThanOrEqual(3);
  });

  it('2xx, 4xx and 5xx stay apart for protan and deutan eyes', () => {
    for (const eye of ['protan', 'deutan'] as const) {
      expect(distanceSeenBy(eye, TOKEN_COLORS.s2xx, TOKEN_COLORS.s5xx), `${eye}: 2xx / 5xx`).toBeGreaterThan(20);
      expect(distanceSeenBy(eye, TOKEN_COLORS.s4xx, TOKEN_COLORS.s5xx), `${eye}: 4xx / 5xx`).toBeGreaterThan(15);
      expect(distanceSeenBy(eye, TOKEN_COLORS.s2xx, TOKEN_COLORS.s4xx), `${eye}: 2xx / 4xx`).toBeGreaterThan(15);
    }
  });

  it('a 4xx, a 5xx and a reset token also differ by shape from a success, so no outcome rests on colour alone', () => {
    const shapeOf = (r: Parameters<typeof tokenColor>[0]) => tokenShape(tokenColor(r));
    const ok = shapeOf({ status: 200, phase: 'done' });
    const outcomes = { '4xx': shapeOf({ status: 404, phase: 'done' }), '5xx': shapeOf({ status: 503, phase: 'done' }), reset: shapeOf({ reset: true, phase: 'done' }) };
    expect(new Set([ok, ...Object.values(outcomes)]).size, JSON.stringify({ ok, ...outcomes })).toBe(4);
  });
});
