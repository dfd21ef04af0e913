import { expect, test, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { watchErrors } from './ui';

/**
 * `proxyscope simulate --serve --paused` on an admin port of its own (the suite's server
 * is the live demo), for specs that need a run that is the same every time. `start()`
 * resolves with the web UI's address once the server prints it; `stop()` ends it.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface SimServer {
  /** the web UI, `http://127.0.0.1:PORT/` */
  base: string;
  stop(): Promise<void>;
}

export async function startSimServer(extraArgs: string[] = []): Promise<SimServer> {
  const server: ChildProcess = spawn(process.execPath, [join(ROOT, 'apps/server/bin/proxyscope.mjs'), 'simulate', '--serve', '--paused', ...extraArgs, '--admin', '127.0.0.1:0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let errors = '';
  server.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxyscope simulate --serve did not start in 30 s:\n${out}\n${errors}`)), 30_000);
    server.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /web UI\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    server.once('exit', (code) => reject(new Error(`proxyscope simulate --serve exited with ${code}:\n${out}\n${errors}`)));
  });
  return {
    base,
    stop: async () => {
      if (server.exitCode !== null) return;
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * A served simulation for the tests of the enclosing `test.describe` (or the file): started
 * before them, stopped after. `base` is its web UI's address once it has started.
 */
export function servedSimulation(extraArgs: string[] = []): { readonly base: string } {
  let server: SimServer | undefined;
  test.beforeAll(async () => {
    server = await startSimServer(extraArgs);
  });
  test.afterAll(async () => {
    await server?.stop();
  });
  return {
    get base() {
      if (!server) throw new Error('the simulation is served from beforeAll on');
      return server.base;
    },
  };
}

/**
 * Moves virtual time on by `steps` × 100 ms with the UI's +100 ms button, waiting for the
 * clock to show each step, so a test always stands at the same point of the same run.
 */
export async function stepVirtualTime(page: Page, steps: number): Promise<void> {
  const clock = page.getByTestId('sim-clock');
  const from = Number(await clock.getAttribute('data-t'));
  for (let k = 1; k <= steps; k++) {
    await page.getByTestId('sim-step-100').click();
    await expect(clock).toHaveText(`t = ${((from + 100 * k) / 1000).toFixed(3)} s virtual`);
  }
}

/**
 * Opens a served simulation at 1280×720 and waits for it paused at t = 0; returns the
 * page's errors as they come (watchErrors), for the test to expect none at its end.
 */
export async function openSimulation(page: Page, base: string): Promise<string[]> {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(base);
  await expect(page.getByTestId('sim-clock')).toHaveText('t = 0.000 s virtual');
  return errors;
}
