import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { refuse } from '../stream/ws-endpoint';
import type { AdminSecurity } from './security';
import { StaticUi } from './static-ui';

/**
 * The admin HTTP server shared by the live proxy and `proxyscope replay`: routing, the
 * token and Origin checks, POST for what changes state, and WebSocket upgrades by path.
 */

export interface AdminReply {
  status?: number;
  type: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

export interface Endpoint {
  help: string;
  /** changes state: POST only, and browsers only from an allowed Origin */
  mutating: boolean;
  /** a reply, or undefined when the handler wrote the response itself (downloads) */
  handle: (url: URL, req: http.IncomingMessage, res: http.ServerResponse) => AdminReply | undefined | Promise<AdminReply | undefined>;
}

export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;

export interface AdminHttpOptions {
  host: string;
  port: number;
  title: string;
  security: AdminSecurity;
  endpoints: Record<string, Endpoint>;
  upgrades?: Record<string, UpgradeHandler>;
  /** runs first when the server closes (close WebSocket clients, stop timers) */
  onClose?: () => void | Promise<void>;
  /** where the built web UI is (default apps/web/dist, or PROXYSCOPE_WEB_DIST) */
  webDist?: string;
}

export interface AdminServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

export const text = (body: string, status?: number): AdminReply => ({ status, type: 'text/plain; charset=UTF-8', body });
export const json = (value: unknown, status?: number): AdminReply => ({ status, type: 'application/json', body: JSON.stringify(value, null, 2) + '\n' });

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startAdminHttp(options: AdminHttpOptions): Promise<AdminServer> {
  const { endpoints, security } = options;
  const ui = new StaticUi(options.webDist);


  function helpText(): string {
    return 'admin commands are:\n' + Object.entries(ordered).map(([path, e]) => `  ${path}: ${e.help}\n`).join('');
  }

  function homePage(url: URL): string {
    // A token given in the address goes on with every link and form, so a browser can use the page.
    const token = security.tokenRequired ? url.searchParams.get('token') : null;
    const withToken = (path: string) => escapeHtml(token ? `${path}?token=${encodeURIComponent(token)}` : path);
    const rows = Object.entries(ordered)
      .filter(([path]) => path !== '/admin')
      .map(([path, e]) =>
        e.mutating
          ? `<li><form method="post" action="${withToken(path)}"><button>${escapeHtml(path)}</button> ${escapeHtml(e.help)}</form></li>`
          : `<li><a href="${withToken(path)}">${escapeHtml(path)}</a> ${escapeHtml(e.help)}</li>`,
      )
      .join('\n');
    return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(options.title)}</title></head><body><h1>${escapeHtml(options.title)}</h1><ul>\n${rows}\n</ul></body></html>\n`;
  }

  // '/', '/admin' and '/help' come first in listings.
  const ordered: Record<string, Endpoint> = {
    '/': { help: 'the ProxyScope web UI', mutating: false, handle: () => ui.index() },
    '/admin': { help: 'Admin home page', mutating: false, handle: (url) => ({ type: 'text/html; charset=UTF-8', body: homePage(url) }) },
    '/help': { help: 'print out list of admin commands', mutating: false, handle: () => text(helpText()) },
    ...endpoints,
  };

  const server = http.createServer((req, res) => {
    void serve(req, res);
  });

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    let reply: AdminReply | undefined;
    const endpoint = ordered[url.pathname];
    // The UI bundle holds no data, so it loads without the token; index.html and every
    // endpoint still need it (the page passes its ?token= on to /ws).
    const asset = url.pathname.startsWith('/assets/') && (req.method === 'GET' || req.method === 'HEAD') ? ui.asset(url.pathname) : undefined;
    if (!security.hostAllowed(req.headers.host)) {
      reply = text(security.hostRefusal(req.headers.host), 403);
    } else if (asset) {
      reply = asset;
    } else if (!security.authorized(req, url)) {
      reply = { ...text('a valid token is required (Authorization: Bearer TOKEN, or ?token=TOKEN)\n', 401), headers: { 'www-authenticate': 'Bearer realm="proxyscope"' } };
    } else if (!endpoint) {
      reply = text(`invalid path. ${helpText()}`, 404);
    } else if (endpoint.mutating && req.method !== 'POST') {
      reply = text(`Method ${req.method} not allowed, POST required.\n`, 405);
    } else if (endpoint.mutating && !security.originAllowed(req.headers.origin)) {
      reply = text(`origin ${req.headers.origin} may not change state here (see --allow-origin)\n`, 403);
    } else {
      try {
        reply = await endpoint.handle(url, req, res);
      } catch (err) {
        reply = text(`${(err as Error).message}\n`, 500);
      }
    }
    if (!reply) return;
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(reply.status ?? 200, { 'content-type': reply.type, 'cache-control': 'no-cache, max-age=0', 'x-content-type-options': 'nosniff', ...reply.headers });
    res.end(reply.body);
  }

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://admin');
    if (!security.hostAllowed(req.headers.host)) return refuse(socket, 403, security.hostRefusal(req.headers.host).trim());
    const handler = options.upgrades?.[url.pathname];
    if (!handler) return refuse(socket, 404, `no WebSocket endpoint at ${url.pathname}`);
    handler(req, socket, head, url);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  security.port = bound.port;
  security.boundHost = options.host;
  return {
    address: bound.address,
    port: bound.port,
    close: async () => {
      await options.onClose?.();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
