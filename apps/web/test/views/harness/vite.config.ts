import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/** Serves the views harness page (dev and benchmark only; not part of the app build). */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  server: { strictPort: true, fs: { allow: ['../../../../..'] } },
  logLevel: 'warn',
});
