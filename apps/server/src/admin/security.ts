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
 *
 * Every request and upgrade must also name this server in `Host`, against DNS rebinding: a
 * page on evil.example can point its own name at 127.0.0.1, and the browser then treats our
 * replies as same-origin to it. Such a request still says `Host: evil.example`. Allowed are
 * IP literals (a rebinding needs a name), `localhost` and `*.localhost`, the bound address,
 * and the names given with --allow-host, as Vite's `server.allowedHosts` does.
 */
export interface SecurityOptions {
  token?: string;
  /** extra origins allowed for the WebSocket and POSTs, e.g. `http://localhost:5173` */
  allowOrigins?: string[];
  /** extra names allowed in Host: `proxyscope.lan`, or `.example.com` for it and every subdomain */
  allowHosts?: string[];
}

/** A --allow-host value checked and lower-cased; throws on anything that is not a host name. */
export function normalizeAllowedHost(value: string): string {
  const name = value.trim().toLowerCase();
  if (!/^\.?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/.test(name)) {
    throw new Error(`'${value}' is not a host name (expected a name such as proxyscope.lan, or .example.com for a domain and its subdomains)`);
  }
  return name.replace(/\.$/, '');
}

/** The host part of a Host header value, lower-cased, without port or brackets; undefined if malformed. */
export function hostOfHeader(value: string): string | undefined {
  const v = value.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(v);
  if (bracketed) return net.isIPv6(bracketed[1]) ? bracketed[1] : undefined;
  const plain = /^([a-z0-9._~!$&'()*+,;=%-]+)(?::\d{1,5})?$/.exec(v);
  return plain ? plain[1].replace(/\.$/, '') : undefined;
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
  private readonly extraHosts: string[];

  /** the admin port once bound: same-host origins name it */
  port = 0;
  /** the address the admin server is bound to (a name, when it was given as one) */
  boundHost = '127.0.0.1';

  constructor(options: SecurityOptions) {
    this.tokenDigest = options.token ? digest(options.token) : undefined;
    this.extraOrigins = new Set((options.allowOrigins ?? []).map(normalizeOrigin));
    this.extraHosts = (options.allowHosts ?? []).map(normalizeAllowedHost);
  }

  /**
   * Whether a request's Host names this server. No Host at all (HTTP/1.0 tools) is not a
   * browser and passes; a browser always sends one.
   */
  hostAllowed(header: string | undefined): boolean {
    if (header === undefined) return true;
    const host = hostOfHeader(header);
    if (host === undefined) return false;
    if (net.isIP(host) || host === 'localhost' || host.endsWith('.localhost')) return true;
    if (host === this.boundHost.toLowerCase()) return true;
    return this.extraHosts.some((allowed) => (allowed.startsWith('.') ? host === allowed.slice(1) || host.endsWith(allowed) : host === allowed));
  }

  /** What a refused Host is told: how to allow it. */
  hostRefusal(header: string | undefined): string {
    const host = (header && hostOfHeader(header)) ?? header ?? '';
    return (
      `Host '${header}' is not allowed: this server answers only to its own address, localhost and IP addresses, ` +
      `which keeps other web sites out (DNS rebinding). To reach it by this name, start it with --allow-host ${host}\n`
    );
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
