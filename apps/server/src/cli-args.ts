import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isLoopbackHost, normalizeAllowedHost, normalizeOrigin } from './admin/security';

/** Exit codes, documented in --help and docs/cli.md. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, CONFIG: 3, BIND: 4 } as const;

/** A bad command line: printed with a hint to --help, exit code 2. */
export class UsageError extends Error {}

/** node:util parseArgs, strict, with its complaint (an unknown flag, a missing value) as a UsageError. */
export function parseFlags<const T extends Omit<ParseArgsConfig, 'strict'>>(config: T): ReturnType<typeof parseArgs<T & { strict: true }>> {
  try {
    return parseArgs({ ...config, strict: true as const });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !match[1] || port > 65535) throw new UsageError(`${flag} expects HOST:PORT (for example 127.0.0.1:9901), got '${value}'`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

export function parseInteger(value: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} expects an integer ${min}..${max}, got '${value}'`);
  return n;
}

/** --token (or PROXYSCOPE_TOKEN), --allow-origin and --allow-host, checked. */
export function parseSecurity(
  token: string | undefined,
  origins: string[] | undefined,
  hosts: string[] | undefined = [],
): { token?: string; allowOrigins: string[]; allowHosts: string[] } {
  const value = token ?? (process.env.PROXYSCOPE_TOKEN || undefined);
  if (value !== undefined && (value === '' || /\s/.test(value))) throw new UsageError('--token must be a non-empty string without spaces');
  const allowOrigins: string[] = [];
  for (const o of origins ?? []) {
    try {
      allowOrigins.push(normalizeOrigin(o));
    } catch (err) {
      throw new UsageError(`--allow-origin: ${(err as Error).message}`);
    }
  }
  const allowHosts: string[] = [];
  for (const h of hosts) {
    try {
      allowHosts.push(normalizeAllowedHost(h));
    } catch (err) {
      throw new UsageError(`--allow-host: ${(err as Error).message}`);
    }
  }
  return { ...(value !== undefined ? { token: value } : {}), allowOrigins, allowHosts };
}

/**
 * The admin port controls the proxy and streams its traffic: off loopback it needs a token.
 * Returns the refusal to print, or undefined.
 */
export function adminBindProblem(host: string, port: number, token: string | undefined): string | undefined {
  if (isLoopbackHost(host) || token !== undefined) return undefined;
  return (
    `the admin address ${host.includes(':') ? `[${host}]` : host}:${port} is not loopback: anyone who can reach it could ` +
    `watch every request and control the proxy. Set --token TOKEN (or PROXYSCOPE_TOKEN) so every admin ` +
    `request and the WebSocket must present it, or bind 127.0.0.1.`
  );
}
