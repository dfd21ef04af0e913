import type { ZoomTransform } from 'd3-zoom';
import type { Layout } from './layout';
import { slotCapacity, slotPoint, tokenPlace } from './positions';
import { HELD_COLOR, TOKEN_COLORS, tokenColor, tokenShape, traceToken } from './palette';
import type { World } from './world';
import { LINGER_MS } from './world';

/**
 * Draws request tokens on a canvas over the SVG topology. Targets are recomputed only when
 * the world changes; each animation frame just interpolates from where a token was drawn to
 * its target, so thousands of tokens cost one pass of arithmetic and arcs per frame.
 */
interface Sprite {
  stream: number;
  fromX: number;
  fromY: number;
  toX: number;
  toY: number;
  start: number;
  color: string;
  backoff: boolean;
  /** 1 in flight, fading to 0 as a finished request's linger runs out */
  alpha: number;
  visible: boolean;
}

interface Badge {
  x: number;
  y: number;
  count: number;
  /** held requests among the tokens the badge stands for (their marks could not be drawn) */
  held: number;
}

const MOVE_MS = 260;

export class TokenCanvas {
  private sprites = new Map<number, Sprite>();
  private entry = { x: 0, y: 0 };
  private badges: Badge[] = [];
  private transform: ZoomTransform | null = null;
  private selected: number | null = null;
  /** requests step mode holds: drawn with a ring and a pause badge */
  private held: ReadonlySet<number> = new Set();
  private raf = 0;
  private dirty = true;
  private animating = false;
  private width = 0;
  private height = 0;
  private dpr = 1;
  /** token radius in layout units: bigger in presenter mode */
  private radius = 4.5;
  inFlight = 0;
  drawn = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {}

  resize(width: number, height: number) {
    this.dpr = window.devicePixelRatio || 1;
    this.width = width;
    this.height = height;
    this.canvas.width = Math.round(width * this.dpr);
    this.canvas.height = Math.round(height * this.dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.kick();
  }

  setTransform(t: ZoomTransform) {
    this.transform = t;
    // what a test or a check reads to know how big tokens land on screen
    this.canvas.dataset.tokenPx = (this.radius * 2 * t.k).toFixed(2);
    this.kick();
  }

  setSelected(stream: number | null) {
    this.selected = stream;
    this.kick();
  }

  /** The requests step mode holds (`step_state.held`); a crowded slot makes room for them at the next update. */
  setHeld(streams: ReadonlySet<number>) {
    this.held = streams;
    this.kick();
  }

  /** Recomputes every token's target from the world at the cursor. */
  update(world: World, layout: Layout, now = performance.now()) {
    this.radius = layout.metrics.tokenRadius;
    this.canvas.dataset.tokenPx = (this.radius * 2 * (this.transform?.k ?? 1)).toFixed(2);
    const m = layout.metrics;
    const down = layout.byId.get('downstream');
    if (down) this.entry = { x: down.x + down.w, y: down.y + down.h / 2 };
    const groups = new Map<string, number[]>();
    let inFlight = 0;
    for (const r of world.requests.values()) {
      const place = tokenPlace(r, layout);
      const key = `${place.node}|${place.slot}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(r.stream);
      if (r.phase !== 'done') inFlight++;
    }
    this.inFlight = inFlight;
    const seen = new Set<number>();
    this.badges = [];
    for (const [key, streams] of groups) {
      const [nodeIdStr, slot] = key.split('|') as [string, 'main' | 'queue' | 'conn'];
      const node = layout.byId.get(nodeIdStr);
      if (!node) continue;
      const capacity = slotCapacity(node, m);
      const overflow = streams.length > capacity;
      const shown = overflow ? capacity - 1 : streams.length;
      // keep held tokens (then the selected one, in front) visible inside a crowded slot
      if (overflow && this.held.size > 0) {
        let free = shown - 1;
        for (let i = shown; i < streams.length && free >= 0; i++) {
          if (!this.held.has(streams[i]!)) continue;
          while (free >= 0 && (this.held.has(streams[free]!) || streams[free] === this.selected)) free--;
          if (free < 0) break;
          [streams[free], streams[i]] = [streams[i]!, streams[free]!];
          free--;
        }
      }
      if (overflow && this.selected !== null) {
        const i = streams.indexOf(this.selected);
        if (i >= capacity - 1) [streams[0], streams[i]] = [streams[i]!, streams[0]!];
      }
      for (let k = 0; k < streams.length; k++) {
        const r = world.requests.get(streams[k])!;
        const p = slotPoint(node, slot, k < shown ? k : shown, m);
        this.place(r.stream, p.x, p.y, tokenColor(r), r.phase === 'backoff', r.endT !== undefined ? Math.max(0.15, 1 - (world.t - r.endT) / LINGER_MS) : 1, k < shown, now);
        seen.add(r.stream);
      }
      if (overflow) {
        const p = slotPoint(node, slot, shown, m);
        let held = 0;
        for (let k = shown; k < streams.length; k++) if (this.held.has(streams[k]!)) held++;
        this.badges.push({ ...p, count: streams.length, held });
      }
    }
    for (const s of this.sprites.keys()) if (!seen.has(s)) this.sprites.delete(s);
    this.canvas.dataset.inflight = String(inFlight);
    this.canvas.dataset.tokens = String(seen.size);
    this.kick();
  }

  private place(stream: number, x: number, y: number, color: string, backoff: boolean, alpha: number, visible: boolean, now: number) {
    const s = this.sprites.get(stream);
    if (!s) {
      // a new request comes in from the downstream clients
      this.sprites.set(stream, { stream, fromX: this.entry.x, fromY: this.entry.y, toX: x, toY: y, start: now, color, backoff, alpha, visible });
      return;
    }
    if (s.toX !== x || s.toY !== y) {
      const cur = this.position(s, now);
      s.fromX = cur.x;
      s.fromY = cur.y;
      s.toX = x;
      s.toY = y;
      s.start = now;
    }
    s.color = color;
    s.backoff = backoff;
    s.alpha = alpha;
    s.visible = visible;
  }

  /**
   * Where a sprite is now: on an S-curve with horizontal ends, the shape of the map's edges,
   * so a token travels the way the arrows go instead of cutting across the map.
   */
  private position(s: Sprite, now: number) {
    const k = Math.max(0, Math.min(1, (now - s.start) / MOVE_MS));
    const e = k < 0.5 ? 2 * k * k : 1 - Math.pow(-2 * k + 2, 2) / 2;
    const u = 1 - e;
    const mx = (s.fromX + s.toX) / 2;
    const x = u * u * u * s.fromX + 3 * u * u * e * mx + 3 * u * e * e * mx + e * e * e * s.toX;
    const y = (u * u * u + 3 * u * u * e) * s.fromY + (3 * u * e * e + e * e * e) * s.toY;
    return { x, y, moving: k < 1 };
  }

  /** Where a request's token is headed, in layout units (null when it has none). */
  targetOf(stream: number): { x: number; y: number } | null {
    const s = this.sprites.get(stream);
    return s ? { x: s.toX, y: s.toY } : null;
  }

  /** The token under a point in canvas (CSS pixel) coordinates. */
  hit(px: number, py: number, now = performance.now()): number | null {
    const t = this.transform;
    const x = t ? t.invertX(px) : px;
    const y = t ? t.invertY(py) : py;
    let best: number | null = null;
    let bestD = (this.radius + 3) ** 2;
    for (const s of this.sprites.values()) {
      if (!s.visible) continue;
      const p = this.position(s, now);
      const d = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (d <= bestD) {
        bestD = d;
        best = s.stream;
      }
    }
    return best;
  }

  private kick() {
    this.dirty = true;
    if (!this.raf) this.raf = requestAnimationFrame(this.frame);
  }

  private frame = () => {
    this.raf = 0;
    // performance.now(), not the rAF timestamp: update() stamps moves with it too
    this.draw(performance.now());
    if (this.animating || this.dirty) this.raf = requestAnimationFrame(this.frame);
  };

  draw(now = performance.now()) {
    this.dirty = false;
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const t = this.transform;
    ctx.setTransform(this.dpr * (t?.k ?? 1), 0, 0, this.dpr * (t?.k ?? 1), this.dpr * (t?.x ?? 0), this.dpr * (t?.y ?? 0));
    let animating = false;
    let drawn = 0;
    // batch by colour: one path per colour is far cheaper than one fill per token
    const byColor = new Map<string, Array<[number, number, number]>>();
    let selectedPos: { x: number; y: number } | null = null;
    const rings: Array<[number, number]> = [];
    const heldMarks: Array<[number, number, number]> = [];
    for (const s of this.sprites.values()) {
      const p = this.position(s, now);
      if (p.moving) animating = true;
      if (s.stream === this.selected) selectedPos = p;
      if (!s.visible) continue;
      drawn++;
      const key = s.alpha < 1 ? `${s.color}|${Math.round(s.alpha * 4) / 4}` : s.color;
      let list = byColor.get(key);
      if (!list) byColor.set(key, (list = []));
      list.push([p.x, p.y, s.alpha]);
      if (s.backoff) rings.push([p.x, p.y]);
      if (this.held.has(s.stream)) heldMarks.push([p.x, p.y, s.stream]);
    }
    for (const [key, list] of byColor) {
      const [color, alpha] = key.split('|');
      ctx.globalAlpha = alpha ? Number(alpha) : 1;
      ctx.fillStyle = color;
      const shape = tokenShape(color!);
      ctx.beginPath();
      for (const [x, y] of list) traceToken(ctx, shape, x, y, this.radius);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    if (rings.length) {
      ctx.strokeStyle = TOKEN_COLORS.backoff;
      ctx.lineWidth = 2;
      ctx.setLineDash([2, 2]);
      ctx.beginPath();
      for (const [x, y] of rings) {
        ctx.moveTo(x + this.radius + 3, y);
        ctx.arc(x, y, this.radius + 3, 0, Math.PI * 2);
      }
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (heldMarks.length) this.drawHeld(ctx, heldMarks);
    // what a test or an assistive check reads: the held requests that carry the mark now
    const heldDrawn = heldMarks.map(([, , stream]) => stream).sort((a, b) => a - b).join(' ');
    if (this.canvas.dataset.held !== heldDrawn) this.canvas.dataset.held = heldDrawn;
    const heldInBadges = String(this.badges.reduce((n, b) => n + b.held, 0));
    if (this.canvas.dataset.heldInBadges !== heldInBadges) this.canvas.dataset.heldInBadges = heldInBadges;
    for (const b of this.badges) {
      const text = `${b.count}`;
      ctx.font = `600 ${this.radius > 5 ? 15 : 10}px system-ui, sans-serif`;
      const w = ctx.measureText(text).width + 8;
      ctx.fillStyle = '#334155';
      ctx.beginPath();
      const bh = Math.max(14, this.radius * 2 + 4);
      ctx.roundRect(b.x - this.radius, b.y - bh / 2, w, bh, bh / 2);
      ctx.fill();
      if (b.held > 0) {
        // a crowded slot that hides held tokens says so with the held colour
        ctx.strokeStyle = HELD_COLOR;
        ctx.lineWidth = Math.max(2.5, this.radius * 0.55);
        ctx.stroke();
      }
      ctx.fillStyle = '#fff';
      ctx.textBaseline = 'middle';
      ctx.fillText(text, b.x - this.radius + 4, b.y + 0.5);
    }
    if (selectedPos) {
      ctx.strokeStyle = '#f472b6';
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      ctx.arc(selectedPos.x, selectedPos.y, this.radius + 4, 0, Math.PI * 2);
      ctx.stroke();
      ctx.fillStyle = this.sprites.get(this.selected!)?.color ?? TOKEN_COLORS.inflight;
      ctx.beginPath();
      ctx.arc(selectedPos.x, selectedPos.y, this.radius + 1, 0, Math.PI * 2);
      ctx.fill();
    }
    this.drawn = drawn;
    this.animating = animating;
  }

  /**
   * A solid ring round each held token and a pause badge just above it: two bars on a
   * rounded square, drawn as paths (a font's pause glyph is a blank box in some browsers).
   * The badge is as wide as a token's slot, so held neighbours' badges sit side by side;
   * it scales with the token radius, so presenter mode's bigger tokens get a bigger mark.
   */
  private drawHeld(ctx: CanvasRenderingContext2D, marks: ReadonlyArray<[number, number, number]>) {
    const r = this.radius;
    const ring = r + 2;
    ctx.strokeStyle = HELD_COLOR;
    ctx.lineWidth = Math.max(2, r * 0.4);
    ctx.beginPath();
    for (const [x, y] of marks) {
      ctx.moveTo(x + ring, y);
      ctx.arc(x, y, ring, 0, Math.PI * 2);
    }
    ctx.stroke();
    // the slot's step is 2r + 2 (positions.ts): one unit of air between badges
    const side = r * 2 + 1;
    for (const [x, y] of marks) {
      const bx = x - side / 2;
      const by = y - ring - 1.5 - side;
      ctx.fillStyle = HELD_COLOR;
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.roundRect(bx, by, side, side, side * 0.22);
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = '#ffffff';
      const barW = side * 0.2;
      const barH = side * 0.58;
      ctx.fillRect(bx + side * 0.24, by + (side - barH) / 2, barW, barH);
      ctx.fillRect(bx + side * 0.56, by + (side - barH) / 2, barW, barH);
    }
  }

  dispose() {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
  }
}

