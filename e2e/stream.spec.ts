import { expect, test } from '@playwright/test';

/**
 * The event stream from a real browser page on the admin origin: a page opened
 * mid-demo gets hello, the recent history and live events over /ws.
 */
test('a page opened mid-demo receives hello, history and live events over the WebSocket', async ({ page, baseURL }) => {
  await page.goto('/');
  const wsUrl = baseURL!.replace(/^http/, 'ws') + '/ws';
  const seen = await page.evaluate(
    (url) =>
      new Promise<{ types: string[]; hello: { mode: string; protocol: number; clusters: string[] }; historyEvents: number; liveBatches: number }>((resolve, reject) => {
        const ws = new WebSocket(url);
        const types: string[] = [];
        let hello = { mode: '', protocol: 0, clusters: [] as string[] };
        let historyEvents = 0;
        let liveBatches = 0;
        let historyDone = false;
        const timer = setTimeout(() => reject(new Error(`no live events; got ${types.join(',')}`)), 15_000);
        ws.onmessage = (m) => {
          const message = JSON.parse(m.data as string);
          types.push(message.type);
          if (message.type === 'hello') hello = { mode: message.mode, protocol: message.protocol, clusters: message.topology.clusters.map((c: { name: string }) => c.name) };
          if (message.type === 'events' && message.history) historyEvents += message.events.length;
          if (message.type === 'history_end') historyDone = true;
          if (message.type === 'events' && !message.history && historyDone && ++liveBatches === 3) {
            clearTimeout(timer);
            ws.close();
            resolve({ types: [...new Set(types)], hello, historyEvents, liveBatches });
          }
        };
        ws.onerror = () => reject(new Error('WebSocket error'));
      }),
    wsUrl,
  );
  expect(seen.hello).toEqual({ mode: 'live', protocol: 1, clusters: ['web', 'web_canary', 'api'] });
  expect(seen.historyEvents).toBeGreaterThan(0);
  expect(seen.types.slice(0, 3)).toEqual(['hello', 'events', 'history_end']);
  expect(seen.liveBatches).toBe(3);
});
