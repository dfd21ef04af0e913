import type { Page } from '@playwright/test';

/** What a page logs as errors and every WebSocket it opens, for specs that must see none. */
export function watchPage(page: Page): { errors: string[]; sockets: string[] } {
  const errors: string[] = [];
  const sockets: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('websocket', (ws) => sockets.push(ws.url()));
  return { errors, sockets };
}
