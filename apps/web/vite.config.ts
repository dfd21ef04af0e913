import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { machineCharts } from './vite-plugin-machine-charts.ts';

/**
 * `base: './'` keeps every asset URL relative, so the built UI works when served from `/`
 * by the admin server, from a sub-path, or from any static host.
 */
const ADMIN = process.env.PROXYSCOPE_ADMIN ?? 'http://127.0.0.1:9901';
const adminPaths = ['/ready', '/stats', '/clusters', '/config_dump', '/recording', '/server_info', '/listeners', '/healthcheck', '/drain_listeners', '/admin', '/help'];

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [react(), machineCharts()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
  },
  worker: { format: 'es' },
  server: {
    proxy: {
      '/ws': { target: ADMIN.replace(/^http/, 'ws'), ws: true },
      ...Object.fromEntries(adminPaths.map((p) => [p, { target: ADMIN }])),
    },
  },
});
