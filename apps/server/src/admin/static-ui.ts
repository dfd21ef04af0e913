import fs from 'node:fs';
import path from 'node:path';
import { SERVER_DIR } from '../package-dir';
import type { AdminReply } from './admin-http';

/**
 * Serves the built web UI (apps/web/dist) from the admin port: `index.html` at `/`, the
 * bundle under `/assets/`. Only regular files inside dist/assets are served (no directory
 * listing, no `..`, no symlink escape), with a content type from a fixed list.
 */

export const DEFAULT_WEB_DIST = path.resolve(SERVER_DIR, '../web/dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=UTF-8',
  '.js': 'text/javascript; charset=UTF-8',
  '.mjs': 'text/javascript; charset=UTF-8',
  '.css': 'text/css; charset=UTF-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=UTF-8',
};

/**
 * The page may load its own scripts, styles, worker and images, and talk to its own origin
 * (the admin API and /ws); nothing else, and it may not be framed.
 */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class StaticUi {
  constructor(readonly dist: string = process.env.PROXYSCOPE_WEB_DIST ?? DEFAULT_WEB_DIST) {}

  /** `/`: the UI's index.html, or a page that says how to build it. */
  index(): AdminReply {
    let body: Buffer;
    try {
      body = fs.readFileSync(path.join(this.dist, 'index.html'));
    } catch {
      return {
        status: 503,
        type: 'text/html; charset=UTF-8',
        body:
          `<!doctype html><html><head><meta charset="utf-8"><title>ProxyScope</title></head><body>` +
          `<h1>The ProxyScope web UI is not built</h1>` +
          `<p>There is no <code>${escapeHtml(path.join(this.dist, 'index.html'))}</code>. Build it with <code>npm run build</code> ` +
          `(or start with <code>npm start</code>, which builds it when needed), then reload.</p>` +
          `<p>The admin endpoints work meanwhile: <a href="/admin">/admin</a>.</p></body></html>\n`,
      };
    }
    // The page connects to /ws only when a ProxyScope server served it (apps/web/src/app/source.ts).
    const marked = Buffer.from(body.toString('utf8').replace('<head>', '<head>\n    <meta name="proxyscope-server" content="admin" />'));
    return { type: 'text/html; charset=UTF-8', body: marked, headers: { 'content-security-policy': UI_CSP, 'referrer-policy': 'no-referrer' } };
  }

  /** A file under `/assets/`, or undefined when there is no such file. */
  asset(pathname: string): AdminReply | undefined {
    let relative: string;
    try {
      relative = decodeURIComponent(pathname.slice('/assets/'.length));
    } catch {
      return undefined;
    }
    if (!relative || relative.includes('\0') || relative.includes('\\') || relative.split('/').some((part) => part === '..' || part === '.' || part === '')) return undefined;
    const root = path.join(this.dist, 'assets');
    const file = path.resolve(root, relative);
    if (!file.startsWith(root + path.sep)) return undefined;
    const type = TYPES[path.extname(file).toLowerCase()];
    if (!type) return undefined;
    try {
      const real = fs.realpathSync(file);
      const realRoot = fs.realpathSync(root);
      if (!real.startsWith(realRoot + path.sep) || !fs.statSync(real).isFile()) return undefined;
      // Vite names bundle files by content hash: a name never changes meaning.
      return { type, body: fs.readFileSync(real), headers: { 'cache-control': 'public, max-age=31536000, immutable' } };
    } catch {
      return undefined;
    }
  }
}
