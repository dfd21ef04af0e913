import { defineConfig } from 'vitest/config';
import { machineCharts } from './apps/web/vite-plugin-machine-charts.ts';

export default defineConfig({
  // the web UI's machine charts (`virtual:machine-charts`), as `vite build apps/web` makes them
  plugins: [machineCharts()],
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'apps/web/test/**/*.test.tsx'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests open real sockets on loopback; keep files isolated.
    pool: 'forks',
  },
});
