import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';

/**
 * Who may use the admin port. On loopback with no token anyone on this machine may (as
 * with Envoy's admin). A token makes every request and the WebSocket upgrade present it,
 * as `Authorization: Bearer TOKEN` or `?token=TOKEN`; a non-loopback bind requires one
 * (the CLI refuses to start without). Browsers are kept out by Origin: the WebSocket
 * upgrade and every POST must come with no Origin (curl, scripts), the admin page's own
 * origin on loopback, or one listed with --allow-origin.
 */
export interface SecurityOptions {
  token?: string;
  /** extra origins allowed for the WebSocket and POSTs, e.g. `http://localhost:5173` */
  allowOrigins?: string[];
}

/** 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`: addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/** `scheme://host[:port]` as browsers send it in Origin; throws on anything else. */
export function normalizeOrigin(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`'${value}' is not an origin (expected scheme://host[:port], e.g. http://localhost:5173)`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search || url.hash || url.username) {
    throw new Error(`'${value}' is not an origin (expected http(s)://host[:port] with nothing after it)`);
  }
  return url.origin;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export class AdminSecurity {
  private readonly tokenDigest: Buffer | undefined;
  private readonly extraOrigins: Set<string>;

  /** the admin port once bound: same-host origins name it */
  port = 0;

  constructor(options: SecurityOptions) {
    this.tokenDigest = options.token ? digest(options.token) : undefined;
    this.extraOrigins = new Set((options.allowOrigins ?? []).map(normalizeOrigin));
  }

  get tokenRequired(): boolean {
    return this.tokenDigest !== undefined;
  }

  /** The token from the Authorization header or the `token` query parameter, if required. */
  authorized(req: IncomingMessage, url: URL): boolean {
    if (!this.tokenDigest) return true;
    const header = req.headers.authorization;
    const bearer = header && /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    const presented = bearer || url.searchParams.get('token');
    // Compare digests: equal length, constant time.
    return !!presented && timingSafeEqual(digest(presented), this.tokenDigest);
  }

  /** No Origin (not a browser), the admin's own loopback origin, or an allowed one. */
  originAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return true;
    let normalized: string;
    try {
      normalized = new URL(origin).origin;
    } catch {
      return false;
    }
    const port = this.port;
    if (normalized === `http://127.0.0.1:${port}` || normalized === `http://localhost:${port}` || normalized === `http://[::1]:${port}`) return true;
    return this.extraOrigins.has(normalized);
  }
}
