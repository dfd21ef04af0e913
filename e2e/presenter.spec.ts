import { expect, test, type Page, type TestInfo } from '@playwright/test';

/**
 * Presenter mode and the normal layout's panels, in Chromium against the demo, measured as a
 * room would see them: every label's rendered size (its computed font size times the map's
 * scale on screen), the tokens' rendered size, and how much of the screen the map takes.
 */

async function shot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

interface Measure {
  labels: number;
  smallest: number;
  smallestText: string;
  tokenPx: number;
  mapShare: number;
}

/** Rendered sizes of everything written on the map, in CSS px (source text: no DOM lib here). */
async function measure(page: Page): Promise<Measure> {
  return page.evaluate<Measure>(`(() => {
    const map = document.querySelector('[data-testid=topology-map]');
    const svg = map.querySelector('svg');
    const on = (q) => q.width > 0 && q.bottom > 0 && q.right > 0 && q.top < innerHeight && q.left < innerWidth;
    let smallest = Infinity, smallestText = '', labels = 0;
    for (const t of svg.querySelectorAll('text')) {
      const box = t.getBoundingClientRect();
      if (!on(box)) continue;
      const size = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
      labels++;
      if (size < smallest) { smallest = size; smallestText = t.textContent; }
    }
    const b = map.getBoundingClientRect();
    const canvas = map.querySelector('canvas');
    return { labels, smallest, smallestText, tokenPx: Number(canvas.dataset.tokenPx), mapShare: (b.width * b.height) / (innerWidth * innerHeight) };
  })()`);
}

/** A CSS-pixel point just inside the topmost painted token (scanning from its top edge), or null. */
async function paintedToken(page: Page): Promise<{ x: number; y: number } | null> {
  return page.evaluate<{ x: number; y: number } | null>(`(() => {
    const c = document.querySelector('[data-testid=token-canvas]');
    const { data, width, height } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
    const r = c.getBoundingClientRect();
    const dpr = c.width / r.width;
    for (let y = 0; y < height; y += 2) for (let x = 0; x < width; x += 2) {
      if (data[(y * width + x) * 4 + 3] > 200) return { x: r.left + x / dpr, y: r.top + y / dpr + 5 };
    }
    return null;
  })()`);
}

for (const [width, height] of [
  [1280, 720],
  [1920, 1080],
] as const) {
  test(`presenter mode at ${width}x${height}: labels 14 px and up, tokens 12 px and up, the map fills the screen`, async ({ page }, testInfo) => {
    await page.setViewportSize({ width, height });
    await page.goto('/?presenter');
    await expect(page.locator('[data-presenter]')).toHaveCount(1);
    const map = page.getByTestId('topology-map');
    await expect.poll(() => map.locator('[data-node^="host:"]').count(), { timeout: 15_000 }).toBe(6);
    // the request list and the stats give their room to the map
    await expect(page.getByRole('region', { name: 'Requests' })).toHaveCount(0);
    await expect(page.getByTestId('presenter-strip')).toBeVisible();
    const m = await measure(page);
    testInfo.annotations.push({ type: 'measured', description: JSON.stringify(m) });
    expect(m.labels).toBeGreaterThan(30);
    expect(m.smallest, `smallest label: "${m.smallestText}"`).toBeGreaterThanOrEqual(14);
    expect(m.tokenPx).toBeGreaterThanOrEqual(12);
    expect(m.mapShare).toBeGreaterThan(0.7);
    await shot(page, testInfo, `presenter-${width}x${height}`);
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, testInfo, `presenter-${width}x${height}-dark`);
  });
}

test('P switches presenter mode on and off, and the address keeps it', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto('/');
  await expect(page.getByTestId('connection')).toContainText('connected');
  await expect(page.locator('[data-presenter]')).toHaveCount(0);
  const normal = await measure(page);
  await page.keyboard.press('p');
  await expect(page.locator('[data-presenter]')).toHaveCount(1);
  await expect.poll(() => new URL(page.url()).search).toBe('?presenter');
  await expect.poll(async () => (await measure(page)).smallest).toBeGreaterThanOrEqual(14);
  expect(normal.smallest).toBeLessThan(14);
  await page.reload();
  await expect(page.locator('[data-presenter]')).toHaveCount(1);
  await page.keyboard.press('P');
  await expect(page.locator('[data-presenter]')).toHaveCount(0);
  await expect.poll(() => new URL(page.url()).search).toBe('');
  await expect(page.getByRole('region', { name: 'Requests' })).toBeVisible();
});

test('presenter mode: the keyboard steps and plays, a click on a token zooms to its request and follows it', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto('/?presenter');
  await expect.poll(() => page.getByTestId('token-canvas').getAttribute('data-tokens').then(Number), { timeout: 15_000 }).toBeGreaterThan(0);
  // pause on the newest event, then step back one with the keyboard
  await page.keyboard.press('Space');
  await expect(page.getByTestId('go-live')).toHaveAttribute('aria-pressed', 'false');
  const at = Number(await page.getByTestId('cursor-info').getAttribute('data-index'));
  await page.keyboard.press('ArrowLeft');
  await expect(page.getByTestId('cursor-info')).toHaveAttribute('data-index', String(at - 1));

  // let the tokens finish their move to where the stepped-back cursor puts them
  await page.waitForTimeout(500);
  const scale = () => page.locator('[data-testid=topology-map] svg > g').getAttribute('transform').then((t) => Number(/scale\(([\d.]+)/.exec(t ?? '')?.[1] ?? 1));
  const fitted = await scale();
  const point = await paintedToken(page);
  expect(point, 'a token is painted on the map').not.toBeNull();
  await page.mouse.click(point!.x, point!.y);
  const strip = page.getByTestId('presenter-strip');
  await expect(strip).toContainText(/#\d+/);
  const stream = /#(\d+)/.exec((await strip.textContent()) ?? '')![1];
  await expect(page.locator('.pst-topology')).toHaveAttribute('data-following', stream);
  await expect.poll(scale).toBeGreaterThan(fitted * 1.3);
  await shot(page, testInfo, 'presenter-following');

  // play: the cursor moves on with the keyboard alone; the view still follows the request
  await page.keyboard.press('Space');
  await expect.poll(async () => Number(await page.getByTestId('cursor-info').getAttribute('data-index'))).not.toBe(at - 1);
  await expect(page.locator('.pst-topology')).toHaveAttribute('data-following', stream);
  // Esc lets go of the request and fits the whole map again
  await page.keyboard.press('Escape');
  await expect(page.locator('.pst-topology')).toHaveAttribute('data-following', '');
  await expect.poll(scale).toBeCloseTo(fitted, 2);
});

test('the normal layout: panels resize and collapse, and everything fits at 150% zoom', async ({ browser }, testInfo) => {
  // 1280x720 at 150% browser zoom is an 853x480 CSS-pixel viewport at 1.5 device pixels per px
  const context = await browser.newContext({ viewport: { width: 853, height: 480 }, deviceScaleFactor: 1.5 });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByTestId('connection')).toContainText('connected');
  const box = (name: string) => page.getByRole('region', { name }).boundingBox().then((b) => b!);
  const requests = page.getByRole('region', { name: 'Requests' });
  await expect.poll(() => requests.locator('tr.row').count(), { timeout: 15_000 }).toBeGreaterThan(0);
  let topo = await box('Topology');
  let list = await box('Requests');
  const side = (await page.getByRole('complementary', { name: 'Details' }).boundingBox())!;
  // nothing overlaps, and the list keeps rows on screen
  expect(topo.y + topo.height).toBeLessThanOrEqual(list.y + 1);
  expect(topo.x + topo.width).toBeLessThanOrEqual(side.x + 1);
  expect(list.y + 22).toBeLessThan(480);
  expect(list.height).toBeGreaterThan(60);
  expect(await page.getByTestId('topology-map').boundingBox().then((b) => b!.height)).toBeGreaterThan(100);
  await shot(page, testInfo, 'normal-150pct');

  // drag the topology/list handle down 60 px: the topology grows by about that much
  const handle = (await page.getByTestId('split-topology').boundingBox())!;
  await page.mouse.move(handle.x + handle.width / 2, handle.y + 3);
  await page.mouse.down();
  await page.mouse.move(handle.x + handle.width / 2, handle.y + 63, { steps: 4 });
  await page.mouse.up();
  const grown = await box('Topology');
  expect(grown.height).toBeGreaterThan(topo.height + 45);
  expect(grown.height).toBeLessThan(topo.height + 75);

  // collapse the topology: the list takes its room; and back
  list = await box('Requests');
  await page.getByTestId('collapse-topology').click();
  await expect(page.getByTestId('topology-map')).toBeHidden();
  expect((await box('Requests')).height).toBeGreaterThan(list.height + 80);
  await page.getByTestId('collapse-topology').click();
  await expect(page.getByTestId('topology-map')).toBeVisible();

  // the details column: narrower with the keyboard, then collapsed, giving the map its width
  topo = await box('Topology');
  await page.getByTestId('split-side').focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  expect((await box('Topology')).width).toBeGreaterThan(topo.width + 20);
  await page.getByTestId('collapse-side').click();
  await expect(page.getByRole('tab', { name: /machines/i })).toHaveCount(0);
  expect((await box('Topology')).width).toBeGreaterThan(853 - 80);
  await shot(page, testInfo, 'normal-150pct-collapsed');

  // the sizes survive a reload
  await page.reload();
  await expect(page.getByRole('tab', { name: /machines/i })).toHaveCount(0);
  await page.getByTestId('collapse-side').click();
  await expect(page.getByRole('tab', { name: /machines/i })).toHaveCount(1);
  await context.close();
});

/** The cursor's index, sampled in the page every 20 ms for `ms`: [wall ms, index] pairs. */
async function sampleCursor(page: Page, ms: number): Promise<Array<[number, number]>> {
  return page.evaluate<Array<[number, number]>>(`new Promise((done) => {
    const out = [];
    const el = document.querySelector('[data-testid=cursor-info]');
    const t0 = performance.now();
    const id = setInterval(() => {
      const now = performance.now() - t0;
      out.push([now, Number(el.dataset.index)]);
      if (now >= ${ms}) { clearInterval(id); done(out); }
    }, 20);
  })`);
}

/** How long each cursor position stayed, leaving out the first and the last (cut by the window). */
function dwells(samples: Array<[number, number]>): number[] {
  const runs: number[] = [];
  let start = samples[0]![0];
  for (let k = 1; k < samples.length; k++) {
    if (samples[k]![1] !== samples[k - 1]![1]) {
      runs.push(samples[k]![0] - start);
      start = samples[k]![0];
    }
  }
  return runs.slice(1);
}

test('presenter mode plays by phase: every state change stays on screen; by time stays available', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto('/?presenter');
  await expect(page.getByTestId('pacing')).toHaveValue('phase');
  await expect.poll(async () => Number(await page.getByTestId('cursor-info').getAttribute('data-index')), { timeout: 15_000 }).toBeGreaterThan(800);
  const timeline = (await page.locator('.ps-timeline').boundingBox())!;
  const playFromMiddle = async () => {
    // seeking pauses; then play from the middle of the history
    await page.mouse.click(timeline.x + timeline.width * 0.4, timeline.y + timeline.height / 2);
    await expect(page.getByTestId('go-live')).toHaveAttribute('aria-pressed', 'false');
    await page.keyboard.press('Space');
  };

  await playFromMiddle();
  const phased = await sampleCursor(page, 2500);
  const held = dwells(phased);
  // 450 ms a state change at 1x: a handful of steps in 2.5 s, each on screen for a while
  const seen = `cursor stayed ${held.map((d) => Math.round(d)).join(', ')} ms at ${[...new Set(phased.map(([, i]) => i))].join(', ')}`;
  expect(held.length, seen).toBeGreaterThanOrEqual(2);
  expect(held.length, seen).toBeLessThanOrEqual(7);
  expect(Math.min(...held), seen).toBeGreaterThanOrEqual(350);

  await page.keyboard.press('Space');
  await page.getByTestId('pacing').selectOption('time');
  await playFromMiddle();
  const timed = await sampleCursor(page, 2500);
  // by the clock the demo's sub-millisecond steps flash by: more positions, and short ones
  const positions = (s: Array<[number, number]>) => new Set(s.map(([, i]) => i)).size;
  expect(positions(timed)).toBeGreaterThan(positions(phased) + 3);
  expect(Math.min(...dwells(timed))).toBeLessThan(100);
});
