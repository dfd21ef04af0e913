import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './e2e/support/chromium';

/**
 * End-to-end tests in a real Chromium: `CHROMIUM_PATH`, a system Chromium, or the one
 * shipped inside the `@sparticuz/chromium` npm package (unpacked on first use; nothing is
 * downloaded). See e2e/support/chromium.ts. The server under test is the `proxyscope`
 * built-in demo.
 */
const ADMIN_PORT = Number(process.env.PROXYSCOPE_E2E_ADMIN_PORT ?? 19901);

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results/e2e',
  timeout: 30_000,
  fullyParallel: false,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${ADMIN_PORT}`,
    screenshot: 'on',
    launchOptions: await chromiumLaunchOptions(),
  },
  webServer: {
    // The web UI is served from apps/web/dist: build it first when it is missing or stale.
    command: `node apps/web/scripts/ensure-built.mjs && node apps/server/bin/proxyscope.mjs --demo-port 0 --demo-rps 20 --admin 127.0.0.1:${ADMIN_PORT}`,
    url: `http://127.0.0.1:${ADMIN_PORT}/ready`,
    reuseExistingServer: false,
    timeout: 90_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
