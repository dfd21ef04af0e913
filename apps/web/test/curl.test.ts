import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SimWorld } from '../../../packages/engine/test/support/sim-world';
import { singleClusterConfig } from '../../../packages/engine/test/support/upstreams';
import { curlCommand, shellQuote } from '../src/model/curl';
import { EventStoreImpl } from '../src/model/event-store';
import { listenerAddress, requestMessage } from '../src/model/request-message';

/**
 * Copy as cURL from requests the engine parsed: the command a POSIX shell reads back is
 * exactly the request's method, URL and headers, and nothing in a header value (quotes,
 * `$`, backticks, command substitution) is expanded or run. The shell runs the command
 * with `curl` defined as a function that only prints its arguments.
 */

/** The words `sh` makes of `command`, with curl replaced by a function that prints them. */
function shellWords(command: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `curl() { printf '%s\\0' "$@"; }\n${command}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

async function tracedRequest(spec: { method?: string; path: string; headers: Record<string, string>; body?: string }) {
  const world = await SimWorld.start(singleClusterConfig([8080]));
  const response = world.request(spec);
  expect(response.status).toBe(200);
  const store = new EventStoreImpl('simulation');
  store.setSource({ topology: world.engine.topology(), startedAt: new Date(world.engine.startedAt).toISOString() });
  store.append(world.events);
  const end = store.length - 1;
  const summary = store.requestAt(store.requestIds()[0]!, end)!;
  return { store, summary, request: requestMessage(store, summary, end)!, listener: listenerAddress(store, summary.listener)! };
}

describe('Copy as cURL', () => {
  it('quotes awkward header values so the shell reads them back unchanged and runs nothing', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'ps-curl-'));
    const canary = join(scratch, 'ran');
    try {
      const awkward = {
        host: 'shop.example.com:8443',
        'x-quote': `it's "quoted" \\ twice''`,
        'x-dollar': `$HOME $(touch ${canary}) \${PATH}`,
        'x-tick': `\`touch ${canary}\``,
        'x-semicolon': 'a; touch x | cat && echo > y',
        'x-empty': '',
        cookie: 'session=abc; theme=dark',
      };
      const { request, listener } = await tracedRequest({ method: 'PUT', path: "/it's/$(id)?q=`x`&a=1", headers: awkward });
      const { command, notes } = curlCommand(request, { listener });
      const words = shellWords(command);
      expect(existsSync(canary)).toBe(false);
      expect(notes).toEqual([]);
      expect(words[0]).toBe("http://shop.example.com:8443/it's/$(id)?q=`x`&a=1");
      expect(words.slice(1, 3)).toEqual(['-X', 'PUT']);
      expect(words.slice(3, 5)).toEqual(['--connect-to', `shop.example.com:8443:${listener}`]);
      const headers = words.slice(5);
      // every header as the engine parsed it, in order, Host in the URL instead
      const expected = request.headers.filter(([k]) => k !== 'content-length').flatMap(([k, v]) => ['-H', v === '' ? `${k};` : `${k}: ${v}`]);
      expect(headers).toEqual(expected);
      for (const [name, value] of Object.entries(awkward)) if (name !== 'host' && value !== '') expect(headers).toContain(`${name}: ${value}`);
      expect(headers).toContain('x-empty;');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('drops hop-by-hop headers, and says a body was there though the trace does not hold it', async () => {
    const { request, listener } = await tracedRequest({ method: 'POST', path: '/cart', headers: { host: 'shop.example.com', 'content-type': 'application/json', te: 'trailers', 'keep-alive': 'timeout=5' }, body: '{"sku":"a"}' });
    const { command, notes } = curlCommand(request, { listener });
    const words = shellWords(command);
    expect(words).not.toContain('te: trailers');
    expect(words.some((w) => /^(keep-alive|content-length|connection)[:;]/i.test(w))).toBe(false);
    expect(words).toContain('content-type: application/json');
    // no body to send, so POST has to be said
    expect(words.slice(1, 3)).toEqual(['-X', 'POST']);
    expect(words).not.toContain('--data-raw');
    expect(notes.join(' ')).toMatch(/body of 11 bytes, which the trace does not hold/);
  });

  it('sends a known body with --data-raw, newlines and quotes intact, and HEAD as --head', async () => {
    const { request, listener } = await tracedRequest({ method: 'GET', path: '/', headers: { host: 'shop.example.com' } });
    const body = "line one\nit's $HOME `id`\n\ttab";
    const words = shellWords(curlCommand({ ...request, method: 'POST' }, { listener, body }).command);
    expect(words.at(-2)).toBe('--data-raw');
    expect(words.at(-1)).toBe(body);
    expect(words).not.toContain('-X');
    expect(shellWords(curlCommand({ ...request, method: 'HEAD' }, { listener }).command).slice(1, 2)).toEqual(['--head']);
    expect(shellWords(curlCommand({ ...request, path: '/a/../b' }, { listener }).command)).toContain('--path-as-is');
  });

  it('quotes any string as one word', () => {
    for (const s of ['', "'", "''", "a'b", '\n', '$(x)', '`x`', '\\', '"', "'\"'$`\\\n"]) expect(shellWords(`curl ${shellQuote(s)}`)).toEqual([s]);
  });
});
