import { compressToEncodedURIComponent, decompressFromEncodedURIComponent } from 'lz-string';

/**
 * A playground permalink: the config, the scenario and how to run them, in the address's
 * query as `?playground=<lz-string>` (the hash stays url-state.ts's: request, seq, panel).
 * Version 1 is JSON `{ v, config, scenario, seed?, speed, template? }`.
 */
export interface PlaygroundLink {
  config: string;
  scenario: string;
  /** overrides the scenario's `seed:` */
  seed?: number;
  speed: 1 | 10 | 'max';
  /** the template it started from, for the file names in diagnostics */
  template?: string;
}

export class PermalinkError extends Error {
  override readonly name = 'PermalinkError';
}

const SPEEDS = [1, 10, 'max'] as const;

export function encodePermalink(link: PlaygroundLink): string {
  const body: Record<string, unknown> = { v: 1, config: link.config, scenario: link.scenario, speed: link.speed };
  if (link.seed !== undefined) body.seed = link.seed;
  if (link.template) body.template = link.template;
  return compressToEncodedURIComponent(JSON.stringify(body));
}

export function decodePermalink(payload: string): PlaygroundLink {
  let json: string | null;
  try {
    json = decompressFromEncodedURIComponent(payload);
  } catch {
    json = null;
  }
  // lz-string answers a damaged input with null, '' or garbage rather than an error.
  if (!json) throw new PermalinkError('the playground link is damaged: it does not decompress (was it cut short when copied?)');
  let body: unknown;
  try {
    body = JSON.parse(json);
  } catch {
    throw new PermalinkError('the playground link is damaged: its content is not readable (was it cut short when copied?)');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new PermalinkError('the playground link holds no playground');
  const b = body as Record<string, unknown>;
  if (b.v !== 1) throw new PermalinkError(`the playground link is of version ${JSON.stringify(b.v)}; this page reads version 1`);
  if (typeof b.config !== 'string') throw new PermalinkError('the playground link has no config text');
  if (typeof b.scenario !== 'string') throw new PermalinkError('the playground link has no scenario text');
  if (b.seed !== undefined && !(typeof b.seed === 'number' && Number.isSafeInteger(b.seed) && b.seed >= 0)) throw new PermalinkError(`the playground link's seed ${JSON.stringify(b.seed)} is not a whole number`);
  const speed = SPEEDS.find((s) => s === b.speed);
  if (speed === undefined) throw new PermalinkError(`the playground link's speed ${JSON.stringify(b.speed)} is not 1, 10 or "max"`);
  if (b.template !== undefined && typeof b.template !== 'string') throw new PermalinkError('the playground link names its template with something that is not text');
  return { config: b.config, scenario: b.scenario, speed, ...(b.seed !== undefined && { seed: b.seed as number }), ...(typeof b.template === 'string' && { template: b.template }) };
}

/** The address of `link`, keeping the page's other query parameters (`?token=`) and its hash (the UI position). */
export function permalinkUrl(link: PlaygroundLink, location: { origin: string; pathname: string; search: string; hash: string }): string {
  const params = new URLSearchParams(location.search);
  params.delete('playground');
  const rest = params.toString();
  return `${location.origin}${location.pathname}?${rest ? `${rest}&` : ''}playground=${encodePermalink(link)}${location.hash}`;
}

/** What the address asks of the playground: nothing, to open it, or to restore a link (still encoded). */
export function playgroundRequest(search: string): { open: false } | { open: true; payload: string | null } {
  // Read raw, not with URLSearchParams: lz-string's alphabet has '+', which it would turn into a space.
  const match = /(?:^\?|&)playground(?:=([^&]*))?(?:&|$)/.exec(search);
  if (!match) return { open: false };
  if (!match[1]) return { open: true, payload: null };
  // A chat tool or a browser that passes the link on may percent-encode its query;
  // decodeURIComponent undoes that and leaves lz-string's '+' alone.
  let payload = match[1];
  try {
    payload = decodeURIComponent(payload);
  } catch {
    // a stray '%': left for decodePermalink to call damaged
  }
  return { open: true, payload };
}
