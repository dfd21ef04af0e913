import { requestUrl, type RequestMessage } from './request-message';

/**
 * "Copy as cURL", as browser DevTools write it: one POSIX shell command line that repeats
 * a request the trace holds. Every word is single-quoted, a quote inside written '\'' , so
 * nothing in a header ($, backticks, newlines, quotes) is ever expanded or run by the shell
 * it is pasted into. The URL names the request's authority; `--connect-to` sends it to the
 * listener it came in on, so Host, SNI and the route match as they did.
 */

/** Headers of one connection hop (RFC 9110 §7.6.1), and ones curl writes itself. */
const NOT_COPIED = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings', 'content-length', 'x-proxyscope-tag']);

/** A word the shell reads back unchanged, whatever it holds. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface CurlOptions {
  /** `host:port` of the listener the request came in on */
  listener?: string;
  /** the request body, when it is known (the trace holds none) */
  body?: string;
}

export interface CurlCommand {
  command: string;
  /** what the command does not repeat, for the user to read */
  notes: string[];
}

function splitHostPort(hostPort: string, defaultPort: number): { host: string; port: number } {
  const v6 = /^(\[[^\]]*\])(?::(\d+))?$/.exec(hostPort);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : defaultPort };
  const m = /^(.*?)(?::(\d+))?$/.exec(hostPort)!;
  return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
}

export function curlCommand(request: RequestMessage, options: CurlOptions = {}): CurlCommand {
  const notes: string[] = [];
  const url = requestUrl(request);
  // the path as sent (new URL() would resolve its dot segments)
  const path = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(request.path)?.[1] ?? request.path;
  const args: string[] = [shellQuote(url)];
  const method = request.method.toUpperCase();
  const body = options.body;

  if (method === 'HEAD') args.push('--head');
  else if (!(method === 'GET' && body === undefined) && !(method === 'POST' && body !== undefined)) args.push(`-X ${shellQuote(request.method)}`);

  if (options.listener) {
    const defaultPort = request.scheme === 'https' ? 443 : 80;
    const from = splitHostPort(request.authority, defaultPort);
    const to = splitHostPort(options.listener, defaultPort);
    if (from.host !== to.host || from.port !== to.port) args.push(`--connect-to ${shellQuote(`${from.host}:${from.port}:${to.host}:${to.port}`)}`);
  }
  // A path with dot segments is sent as it was, not as curl would resolve it.
  if (/(^|\/)\.\.?(\/|$)/.test(path.split('?')[0]!)) args.push('--path-as-is');

  for (const [name, value] of request.headers) {
    if (NOT_COPIED.has(name.toLowerCase())) continue;
    // `-H 'name;'` is curl's way to send a header with an empty value.
    args.push(`-H ${shellQuote(value === '' ? `${name};` : `${name}: ${value}`)}`);
  }
  if (body !== undefined) args.push(`--data-raw ${shellQuote(body)}`);
  else if (request.hasBody) {
    notes.push(`The request had a body${request.bodyBytes !== undefined ? ` of ${request.bodyBytes} bytes` : ''}, which the trace does not hold: the command sends none.`);
  }
  return { command: `curl ${args.join(' \\\n  ')}`, notes };
}
