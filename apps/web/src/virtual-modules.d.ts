/** Generated at build time by apps/web/vite-plugin-machine-charts.ts from the engine's machine definitions. */
declare module 'virtual:machine-charts' {
  export const CHARTS: import('./views/machines/chart-def').Charts;
}
