import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { servedSimulation, stepVirtualTime } from './support/sim-server';

/**
 * Accessible to the whole room: axe-core finds no serious or critical WCAG 2.1 A/AA
 * violation in the live demo, a served simulation and presenter mode, in the light and the
 * dark theme, with a request selected and with the help open; and the page works from the
 * keyboard: Tab reaches the header's controls and the topology's nodes with a focus ring
 * you can see, and Enter on a node does what a click does.
 */

type Theme = 'light' | 'dark';

test.describe.configure({ timeout: 180_000 });

async function shot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

/** The theme as a user who picked it has it (the switch remembers the pick in localStorage). */
async function useTheme(page: Page, theme: Theme) {
  await page.addInitScript((t) => localStorage.setItem('proxyscope.theme', t), theme);
}

async function requestCount(page: Page): Promise<number> {
  const text = (await page.getByTestId('request-count').textContent()) ?? '';
  return Number(/(\d+)/.exec(text)?.[1] ?? 0);
}

/** Serious and critical violations, each with its rule, help text, link and the elements it names. */
async function axeProblems(page: Page, where: string): Promise<string> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  return bad
    .map(
      (v) =>
        `${where}: [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n` +
        v.nodes
          .slice(0, 8)
          .map((n) => `    ${n.target.join(' ')}\n      ${n.failureSummary?.replace(/\n/g, '\n      ')}`)
          .join('\n') +
        (v.nodes.length > 8 ? `\n    …and ${v.nodes.length - 8} more` : ''),
    )
    .join('\n');
}

/** Runs axe where the page is now; collects, so one run reports every state that fails. */
function checker(page: Page) {
  const found: string[] = [];
  return {
    async check(where: string) {
      const problems = await axeProblems(page, where);
      if (problems) found.push(problems);
    },
    assertNone() {
      // the count, so the message (rule, elements, fix) is printed once rather than diffed
      expect(found.length, `axe found serious or critical violations:\n${found.join('\n')}`).toBe(0);
    },
  };
}

/** Pause the cursor (the views stop moving under axe) and select a finished request from the list. */
async function pauseAndSelect(page: Page): Promise<string> {
  await expect.poll(() => requestCount(page), { timeout: 20_000 }).toBeGreaterThan(3);
  const play = page.getByTestId('play-pause');
  if ((await play.getAttribute('aria-label')) === 'Pause') await play.click();
  const row = page.locator('[data-testid=request-list] tr.row', { has: page.locator('td[data-testid=status]', { hasText: /\d{3}/ }) }).first();
  const stream = (await row.getAttribute('data-stream'))!;
  await row.click();
  await expect(page.getByTestId('request-detail')).toBeVisible();
  return stream;
}

for (const theme of ['light', 'dark'] as const) {
  test(`live demo, ${theme} theme: no serious or critical axe violations`, async ({ page }, testInfo) => {
    await page.setViewportSize({ width: 1280, height: 720 });
    await useTheme(page, theme);
    await page.goto('/');
    await expect(page.getByTestId('connection')).toContainText('connected');
    const axe = checker(page);
    await pauseAndSelect(page);
    await axe.check('live, request selected');
    await shot(page, testInfo, `live-${theme}`);
    for (const tab of ['machines', 'step mode', 'controls'] as const) {
      await page.getByRole('tab', { name: tab }).click();
      await axe.check(`live, ${tab} tab`);
    }
    await page.getByRole('tab', { name: /^Request/ }).click();
    await page.locator('body').press('?');
    await expect(page.getByTestId('help')).toBeVisible();
    await axe.check('live, help open');
    await shot(page, testInfo, `live-help-${theme}`);
    await page.keyboard.press('Escape');
    // a host's panel, opened from the map
    await page.locator('[data-testid=topology-map] [data-node^="host:"]').first().click();
    await expect(page.getByTestId('host-panel')).toBeVisible();
    await axe.check('live, host panel');
    axe.assertNone();
  });
}

test.describe('served simulation', () => {
  const sim = servedSimulation();

  for (const theme of ['light', 'dark'] as const) {
    test(`simulation, ${theme} theme: no serious or critical axe violations`, async ({ page }, testInfo) => {
      await page.setViewportSize({ width: 1280, height: 720 });
      await useTheme(page, theme);
      await page.goto(sim.base);
      await expect(page.getByTestId('connection')).toContainText('connected · simulation');
      const axe = checker(page);
      await axe.check('simulation, paused at t = 0');
      // Virtual time on by whole steps: the same requests every run.
      await stepVirtualTime(page, 10);
      await pauseAndSelect(page);
      await axe.check('simulation, request selected');
      await shot(page, testInfo, `sim-${theme}`);
      await page.locator('body').press('?');
      await expect(page.getByTestId('help')).toBeVisible();
      await axe.check('simulation, help open');
      axe.assertNone();
    });
  }
});

for (const theme of ['light', 'dark'] as const) {
  test(`presenter mode, ${theme} theme: no serious or critical axe violations`, async ({ page }, testInfo) => {
    await page.setViewportSize({ width: 1280, height: 720 });
    await useTheme(page, theme);
    await page.goto('/');
    await expect(page.getByTestId('connection')).toContainText('connected');
    const stream = await pauseAndSelect(page);
    // The address names the request: presenter mode opens with it followed in the strip.
    await page.goto(`/?presenter#req=${stream}`);
    await expect(page.getByTestId('presenter-strip')).toContainText(`#${stream}`);
    const axe = checker(page);
    await axe.check('presenter, request selected');
    await shot(page, testInfo, `presenter-${theme}`);
    await page.locator('body').press('?');
    await expect(page.getByTestId('help')).toBeVisible();
    await axe.check('presenter, help open');
    axe.assertNone();
  });
}

/** What has focus, and whether its focus can be seen: an outline, or a focus-coloured stroke on an SVG node's box. */
async function focused(page: Page) {
  return page.evaluate(() => {
    const el = document.activeElement as (HTMLElement | SVGElement) | null;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 && style.outlineColor !== 'rgba(0, 0, 0, 0)';
    const box = el.querySelector(':scope > rect');
    const stroke = box ? getComputedStyle(box) : null;
    const ring = stroke ? parseFloat(stroke.strokeWidth) >= 3 && stroke.stroke !== 'none' : false;
    return {
      tag: el.tagName.toLowerCase(),
      name: el.getAttribute('aria-label') ?? el.textContent?.trim().slice(0, 40) ?? '',
      role: el.getAttribute('role'),
      node: el.getAttribute('data-node'),
      inHeader: !!el.closest('header'),
      visible: outline || ring,
      how: outline ? `outline ${style.outlineWidth} ${style.outlineStyle} ${style.outlineColor}` : ring ? `stroke ${stroke!.strokeWidth} ${stroke!.stroke}` : `outline ${style.outlineStyle} ${style.outlineWidth}`,
    };
  });
}

for (const theme of ['light', 'dark'] as const) {
  test(`keyboard, ${theme} theme: Tab reaches the header and the topology nodes with a visible ring, and Enter on a node clicks it`, async ({ page }, testInfo) => {
    await page.setViewportSize({ width: 1280, height: 720 });
    await useTheme(page, theme);
    await page.goto('/');
    await expect(page.getByTestId('connection')).toContainText('connected');
    await expect(page.locator('[data-testid=topology-map] [data-node^="host:"]').first()).toBeVisible();
    // the record button comes with the server's first stats message
    await expect(page.getByTestId('recording')).toBeAttached();
    // Pause from the keyboard: a click would move where Tab starts from, past the header.
    await page.keyboard.press(' ');
    await expect(page.getByTestId('go-live')).toHaveAttribute('aria-pressed', 'false');

    const headerControls = await page.locator('header button:visible, header select:visible, header summary:visible').evaluateAll((els) =>
      els.filter((e) => !(e as HTMLButtonElement).disabled).map((e) => e.getAttribute('aria-label') ?? e.textContent!.trim()),
    );
    expect(headerControls.length).toBeGreaterThan(3);
    const reached: Array<NonNullable<Awaited<ReturnType<typeof focused>>>> = [];
    for (let i = 0; i < 120; i++) {
      await page.keyboard.press('Tab');
      const f = await focused(page);
      if (!f) continue;
      reached.push(f);
      if (reached.filter((r) => r.node?.startsWith('host:')).length >= 2) break;
    }
    const unseen = reached.filter((r) => !r.visible).map((r) => `${r.tag}[${r.role ?? ''}] "${r.name}": ${r.how}`);
    expect(unseen, 'focus you cannot see').toEqual([]);
    expect(reached.filter((r) => r.inHeader).map((r) => r.name)).toEqual(expect.arrayContaining(headerControls));
    const nodes = reached.filter((r) => r.node);
    expect(nodes.map((n) => n.node!.split(':')[0])).toEqual(expect.arrayContaining(['listener', 'route', 'cluster', 'host']));
    // Each node says what it is; a host its cluster, its health and its load.
    for (const n of nodes) expect(n.name.length, `${n.node} has no name`).toBeGreaterThan(4);
    const host = nodes.at(-1)!;
    expect(host.node).toMatch(/^host:/);
    expect(host.role).toBe('button');
    expect(host.name).toMatch(/^host \S+, cluster \S+, (healthy|failing|ejected|unhealthy|removed|pending HC), \d+ active requests?$/);
    await shot(page, testInfo, `focus-host-${theme}`);

    // Enter and Space on the focused host reach it as a click does (the same listeners run),
    // and open what a click opens: the host's panel; Space does not also play.
    const focusedNode = await page.evaluate(() => {
      const el = document.activeElement!;
      (window as unknown as { clicks: number }).clicks = 0;
      el.addEventListener('click', () => (window as unknown as { clicks: number }).clicks++);
      return el.getAttribute('data-node');
    });
    expect(focusedNode).toBe(host.node);
    const clicks = () => page.evaluate(() => (window as unknown as { clicks: number }).clicks);
    const cursor = await page.getByTestId('cursor-info').getAttribute('data-index');
    await page.keyboard.press('Enter');
    expect(await clicks()).toBe(1);
    await expect(page.getByTestId('host-panel')).toBeVisible();
    await shot(page, testInfo, `enter-on-host-${theme}`);
    // a cluster, by the mouse, then the host again by Space: each opens its own panel
    await page.locator('[data-testid=topology-map] [data-node^="cluster:"]').first().click();
    await expect(page.getByTestId('cluster-panel')).toBeVisible();
    await page.locator(`[data-node="${host.node}"]`).focus();
    await page.keyboard.press(' ');
    expect(await clicks()).toBe(2);
    await expect(page.getByTestId('host-panel')).toBeVisible();
    await expect(page.getByTestId('play-pause')).toHaveAttribute('aria-label', 'Play');
    expect(await page.getByTestId('cursor-info').getAttribute('data-index')).toBe(cursor);
  });
}
