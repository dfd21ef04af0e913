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

/**
 * Controls from a browser page: a request sent through the demo's listener comes back
 * with its stream id, and a fault on a demo host is announced to the page (then cleared).
 */
test('a page sends a request through the proxy and changes a demo host over the WebSocket', async ({ page, baseURL }) => {
  await page.goto('/');
  const wsUrl = baseURL!.replace(/^http/, 'ws') + '/ws?subscribe=none';
  const seen = await page.evaluate(
    (url) =>
      new Promise<{ controls: string[]; hostNames: string[]; ack: any; result: any; faulted: any; cleared: any }>((resolve, reject) => {
        const ws = new WebSocket(url);
        const out: any = {};
        const timer = setTimeout(() => reject(new Error(`incomplete: ${JSON.stringify(out)}`)), 15_000);
        ws.onmessage = (m) => {
          const message = JSON.parse(m.data as string);
          if (message.type === 'hello') {
            out.controls = message.controls;
            out.hostNames = message.hosts.map((h: { name: string }) => h.name);
            ws.send(JSON.stringify({ type: 'send_request', id: 'r1', method: 'GET', authority: 'shop.example.com', path: '/healthz', tag: 'from-the-page' }));
          } else if (message.type === 'ack' && message.id === 'r1') {
            out.ack = message.detail;
          } else if (message.type === 'request_result' && message.id === 'r1') {
            out.result = message;
            ws.send(JSON.stringify({ type: 'host_fault', id: 'f1', host: 'web-canary-1', fault: { latency: { ms: 150 } } }));
          } else if (message.type === 'hosts' && !out.faulted) {
            out.faulted = message.hosts.find((h: { name: string }) => h.name === 'web-canary-1');
            ws.send(JSON.stringify({ type: 'host_fault', id: 'f2', host: 'web-canary-1', fault: { clear: true } }));
          } else if (message.type === 'hosts' && out.faulted) {
            out.cleared = message.hosts.find((h: { name: string }) => h.name === 'web-canary-1');
            clearTimeout(timer);
            ws.close();
            resolve(out);
          } else if (message.type === 'error') {
            reject(new Error(JSON.stringify(message)));
          }
        };
        ws.onerror = () => reject(new Error('WebSocket error'));
      }),
    wsUrl,
  );
  expect(seen.controls).toEqual(['drain_listeners', 'healthcheck_fail', 'healthcheck_ok', 'send_request', 'breakpoints', 'step', 'resume', 'host_fault']);
  expect(seen.hostNames).toEqual(['web-1', 'web-2', 'web-3', 'web-canary-1', 'api-1', 'api-2']);
  expect(seen.ack).toMatchObject({ tag: 'from-the-page', listener: 'ingress' });
  expect(seen.result).toMatchObject({ tag: 'from-the-page', status: 200, body: 'ok\n', accessLog: { status: 200, flags: '-', route: 'healthz' } });
  expect(seen.result.stream).toBeGreaterThan(0);
  expect(seen.faulted).toMatchObject({ behaviour: { latencyMs: 150 }, faulted: true });
  expect(seen.cleared).toMatchObject({ behaviour: { latencyMs: 80 }, faulted: false });
});
