import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { parse } from 'yaml';
import type { TraceEvent } from '@proxyscope/protocol';
import { answerFromTrace } from '../packages/engine/src/lessons/evaluate';
import type { Lesson } from '../packages/engine/src/lessons/lesson-schema';
import { watchPage as watch } from './support/page-watch';
import { startStaticHost } from './support/static-host';

/**
 * A lesson from start to finish on the static build, with no ProxyScope server: each step
 * played with "Show me", its check answered wrong and then right, the task done by editing
 * the config, the progress still there after a reload, and the instructor's link to a step
 * in presenter mode. The right answers are worked out here, from the same lesson run by the
 * CLI (`proxyscope simulate --record`), so the page's answers are checked against a run it did not make.
 */
const DIST = path.resolve('apps/web/dist');
const LESSON = 'lessons/04-canary-split/lesson.yaml';

/** The lesson's run as `proxyscope simulate --record` makes it, read back. */
function cliRun(file: string): { lesson: Lesson; events: TraceEvent[]; config: string } {
  const lesson = parse(fs.readFileSync(file, 'utf8')) as Lesson;
  const configFile = path.resolve(path.dirname(file), lesson.config);
  const scenarioFile = path.resolve(path.dirname(file), lesson.scenario);
  const trace = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ps-lesson-')), 'run.ndjson');
  execFileSync(process.execPath, ['apps/server/bin/proxyscope.mjs', 'simulate', '--config', configFile, '--scenario', scenarioFile, '--seed', String(lesson.seed), '--record', trace], { stdio: 'ignore' });
  const events = fs.readFileSync(trace, 'utf8').trim().split('\n').slice(1).map((line) => JSON.parse(line) as TraceEvent);
  return { lesson, events, config: fs.readFileSync(configFile, 'utf8') };
}

/** "Show me", then wait for the cursor to land on the step's stop. */
async function showMe(page: Page) {
  const pane = page.getByTestId('lesson-pane');
  await expect(page.getByTestId('lesson-show-me')).toBeEnabled({ timeout: 20_000 });
  await page.getByTestId('lesson-show-me').click();
  await expect(pane).toHaveAttribute('data-reached', '', { timeout: 30_000 });
}

test('a lesson from start to finish: Show me, checks wrong and right, a task, progress kept', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const { lesson, events, config } = cliRun(LESSON);
  const questions = lesson.steps.map((s) => (s.check && 'question' in s.check ? answerFromTrace(s.check.answer, events) : undefined));
  const server = await startStaticHost(DIST);
  try {
    const seen = watch(page);
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(`http://127.0.0.1:${server.port}/?lessons`);
    const items = page.getByTestId('lesson-item');
    await expect(items.first()).toBeVisible({ timeout: 20_000 });
    expect(await items.count()).toBeGreaterThanOrEqual(9);
    await page.locator('[data-testid=lesson-item][data-lesson="04-canary-split"]').click();
    await expect(page.getByTestId('lesson-title')).toHaveText(lesson.title);
    await expect(page).toHaveURL(/[?&]lesson=04-canary-split/);
    await expect(page.getByTestId('connection')).toContainText('engine in this page', { timeout: 20_000 });

    for (const [k, step] of lesson.steps.entries()) {
      await expect(page.getByTestId('lesson-step')).toHaveText(`Step ${k + 1} of ${lesson.steps.length}`);
      await expect(page.getByTestId('lesson-envoy')).toContainText(step.envoy);
      await showMe(page);
      if ('node' in step.highlight) await expect(page.getByTestId('topology-highlight')).toHaveAttribute('data-node', step.highlight.node);
      if (k === 0) {
        // Reset step puts the cursor back where the step starts
        await page.getByTestId('lesson-reset').click();
        await expect(page.getByTestId('lesson-pane')).not.toHaveAttribute('data-reached', '');
        await showMe(page);
        await page.screenshot({ path: testInfo.outputPath(`lesson-step-${k + 1}.png`) });
      }
      const check = step.check;
      const feedback = page.getByTestId('lesson-feedback');
      if (check && 'question' in check) {
        const right = String(questions[k]);
        expect(questions[k], `step ${k + 1} has an answer in the Node run`).toBeDefined();
        if (check.choices) {
          const wrong = check.choices.map(String).find((c) => c !== right)!;
          await page.getByTestId('lesson-choice').filter({ hasText: new RegExp(`^${wrong}$`) }).click();
          await expect(feedback).toHaveAttribute('data-result', 'wrong');
          await page.getByTestId('lesson-choice').filter({ hasText: new RegExp(`^${right}$`) }).click();
        } else {
          await page.getByTestId('lesson-answer').fill('no-such-answer');
          await page.getByTestId('lesson-submit').click();
          await expect(feedback).toHaveAttribute('data-result', 'wrong');
          // after a wrong answer the trace's answer can be shown; it is the Node run's
          await page.getByTestId('lesson-reveal').click();
          await expect(page.getByTestId('lesson-revealed')).toContainText(right);
          await page.getByTestId('lesson-answer').fill(right);
          await page.getByTestId('lesson-submit').click();
        }
        await expect(feedback).toHaveAttribute('data-result', 'right');
      } else if (check && 'task' in check) {
        // The config as it is does not do what the task asks.
        await page.getByTestId('lesson-task-run').click();
        await expect(feedback).toHaveAttribute('data-result', 'wrong', { timeout: 60_000 });
        // The weights edited to 50/50 in the editor, as a student would.
        const edited = config.replace(/weight: 90/, 'weight: 50').replace(/weight: 10\b/, 'weight: 50');
        expect(edited).not.toBe(config);
        // focus, not a click: a click scrolls the editor's middle into view
        await page.locator('[data-testid=lesson-task-editor] .cm-content').focus();
        await page.keyboard.press('ControlOrMeta+a');
        await page.keyboard.insertText(edited);
        await page.getByTestId('lesson-task-run').click();
        await expect(feedback).toHaveAttribute('data-result', 'right', { timeout: 60_000 });
        await page.screenshot({ path: testInfo.outputPath('lesson-task.png') });
      }
      if (k < lesson.steps.length - 1) await page.getByTestId('lesson-next').click();
    }
    await expect(page.getByTestId('lesson-complete')).toBeVisible();

    // Progress is kept in the browser: the list says the lesson is done after a reload.
    await page.goto(`http://127.0.0.1:${server.port}/?lessons`);
    await expect(page.locator('[data-testid=lesson-item][data-lesson="04-canary-split"]')).toContainText('done', { timeout: 20_000 });

    // An instructor's link: lesson 4 at step 3, projected.
    await page.goto(`http://127.0.0.1:${server.port}/?lesson=4&step=3&presenter`);
    await expect(page.getByTestId('lesson-pane')).toHaveClass(/ps-lesson-presenter/, { timeout: 20_000 });
    await expect(page.getByTestId('lesson-step')).toHaveText(`Step 3 of ${lesson.steps.length}`);
    await expect(page.getByTestId('presenter-toggle')).toHaveText(/Exit presenter/);
    await page.screenshot({ path: testInfo.outputPath('lesson-presenter.png') });

    expect(seen.sockets, 'no WebSocket is opened').toEqual([]);
    expect(seen.errors, 'no console errors').toEqual([]);
  } finally {
    server.close();
  }
});

test('a lesson that does not exist says so, and the list is one click away', async ({ page }) => {
  const server = await startStaticHost(DIST);
  try {
    const seen = watch(page);
    await page.goto(`http://127.0.0.1:${server.port}/?lesson=no-such-lesson`);
    await expect(page.getByRole('alert')).toContainText('There is no lesson “no-such-lesson”', { timeout: 20_000 });
    await page.getByRole('button', { name: 'See the lessons' }).click();
    await expect(page.getByTestId('lesson-list')).toBeVisible();
    expect(seen.errors).toEqual([]);
  } finally {
    server.close();
  }
});

test('on a ProxyScope server, a lesson runs in the page, and Back to server watches the live proxy again', async ({ page }) => {
  const seen = watch(page);
  await page.goto('/?lesson=1');
  await expect(page.getByTestId('lesson-title')).toBeVisible({ timeout: 20_000 });
  await expect(page.getByTestId('connection')).toContainText('engine in this page', { timeout: 20_000 });
  await expect(page.getByTestId('lesson-show-me')).toBeEnabled({ timeout: 20_000 });
  await page.getByTestId('back-to-server').click();
  await expect(page.getByTestId('connection')).toContainText('connected · live', { timeout: 20_000 });
  await expect(page.getByTestId('back-to-server')).toHaveCount(0);
  expect(seen.errors).toEqual([]);
});
