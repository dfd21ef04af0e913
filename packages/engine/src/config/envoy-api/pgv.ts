/**
 * protoc-gen-validate: the `(validate.rules)` constraints Envoy's API carries, checked the way
 * the generated C++ `Validate()` checks them when Envoy calls MessageUtil::validate on the
 * bootstrap and on each extension config. Reasons are PGV's own wording.
 *
 * Presence follows PGV's C++ output: a proto3 scalar is checked even when absent (an unset
 * `string name` with `min_len: 1` fails as ""), a message, wrapper or Duration only when set
 * (unless `required`), a oneof member only when it is the one set.
 */
import type { RuleValue, Rules } from './descriptor';

/** A field's value after the JSON mapping; absent fields are `undefined`. */
export type Parsed =
  | { kind: 'scalar'; value: string | number | boolean }
  /** an enum's number */
  | { kind: 'enum'; value: number; defined: boolean }
  /** seconds (fractional) */
  | { kind: 'duration'; seconds: number }
  | { kind: 'message' }
  | { kind: 'any'; typeUrl: string }
  | { kind: 'list'; items: (Parsed | undefined)[] }
  | { kind: 'map'; keys: string[]; values: (Parsed | undefined)[] };

type Obj = { [key: string]: RuleValue };
const obj = (v: RuleValue | undefined): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined);
const list = (v: RuleValue | undefined): RuleValue[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const num = (v: RuleValue | undefined): number | undefined => (v === undefined ? undefined : Number(v));

/** Scalars are checked when absent, at their proto3 default. */
export const SCALAR_DEFAULTS: Record<string, string | number | boolean> = {
  string: '', bytes: '', bool: false,
  double: 0, float: 0, int32: 0, int64: 0, uint32: 0, uint64: 0, sint32: 0, sint64: 0,
  fixed32: 0, fixed64: 0, sfixed32: 0, sfixed64: 0,
};

const NUMERIC = ['double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64'];

// validate.proto's KnownRegex, strict (the default) and loose (`strict: false`).
const HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
const HEADER_VALUE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;

/** The reasons `value` breaks `rules` (empty when it keeps them). */
export function violations(rules: Rules, value: Parsed | undefined, scalarType: string | undefined): string[] {
  const out: string[] = [];
  for (const [kind, ruleValue] of Object.entries(rules)) {
    const r = obj(ruleValue);
    if (!r) continue;
    if (kind === 'message') {
      if (r.required === true && value === undefined) out.push('value is required');
    } else if (kind === 'repeated') {
      repeatedRules(r, value, out);
    } else if (kind === 'map') {
      mapRules(r, value, out);
    } else if (kind === 'any') {
      anyRules(r, value, out);
    } else if (kind === 'duration') {
      durationRules(r, value, out);
    } else if (kind === 'enum') {
      enumRules(r, value, out);
    } else if (kind === 'timestamp') {
      if (r.required === true && value === undefined) out.push('value is required');
    } else {
      // A scalar, or a wrapper of one (`UInt32Value` with uint32 rules): wrappers only when set.
      const scalar = value?.kind === 'scalar' ? value.value : scalarType ? SCALAR_DEFAULTS[scalarType] : undefined;
      if (scalar === undefined) continue;
      if (kind === 'string') stringRules(r, String(scalar), out);
      else if (kind === 'bytes') bytesRules(r, String(scalar), out);
      else if (kind === 'bool') {
        if (r.const !== undefined && scalar !== r.const) out.push(`value must equal ${String(r.const)}`);
      } else if (NUMERIC.includes(kind)) numberRules(r, Number(scalar), String, out);
    }
  }
  return out;
}

function numberRules(r: Obj, n: number, show: (n: number) => string, out: string[]): void {
  if (r.ignore_empty === true && n === 0) return;
  if (r.const !== undefined && n !== num(r.const)) out.push(`value must equal ${show(num(r.const)!)}`);
  const [lt, lte, gt, gte] = [num(r.lt), num(r.lte), num(r.gt), num(r.gte)];
  const upper = lt ?? lte;
  const lower = gt ?? gte;
  const belowUpper = lt !== undefined ? n < lt : lte !== undefined ? n <= lte : true;
  const aboveLower = gt !== undefined ? n > gt : gte !== undefined ? n >= gte : true;
  const upperText = () => (lt !== undefined ? `less than ${show(lt)}` : `less than or equal to ${show(lte!)}`);
  const lowerText = () => (gt !== undefined ? `greater than ${show(gt)}` : `greater than or equal to ${show(gte!)}`);
  if (upper !== undefined && lower !== undefined) {
    // PGV: lower < upper is a range to be inside, otherwise a range to be outside.
    if (lower < upper ? !(belowUpper && aboveLower) : !(belowUpper || aboveLower)) {
      out.push(`value must be ${lower < upper ? 'inside' : 'outside'} range: ${lowerText()} and ${upperText()}`);
    }
  } else if (upper !== undefined && !belowUpper) out.push(`value must be ${upperText()}`);
  else if (lower !== undefined && !aboveLower) out.push(`value must be ${lowerText()}`);
  const inList = list(r.in).map(Number);
  if (inList.length && !inList.includes(n)) out.push(`value must be in list [${inList.map(show).join(', ')}]`);
  if (list(r.not_in).map(Number).includes(n)) out.push(`value must not be in list [${list(r.not_in).map(String).join(', ')}]`);
}

const runes = (s: string) => [...s].length;
const utf8Length = (s: string) => new TextEncoder().encode(s).length;

function stringRules(r: Obj, s: string, out: string[]): void {
  if (r.ignore_empty === true && s === '') return;
  if (r.const !== undefined && s !== r.const) out.push(`value must equal ${JSON.stringify(r.const)}`);
  const n = runes(s);
  if (r.len !== undefined && n !== num(r.len)) out.push(`value length must be ${r.len} runes`);
  if (r.min_len !== undefined && n < num(r.min_len)!) out.push(`value length must be at least ${r.min_len} runes`);
  if (r.max_len !== undefined && n > num(r.max_len)!) out.push(`value length must be at most ${r.max_len} runes`);
  const bytes = utf8Length(s);
  if (r.len_bytes !== undefined && bytes !== num(r.len_bytes)) out.push(`value length must be ${r.len_bytes} bytes`);
  if (r.min_bytes !== undefined && bytes < num(r.min_bytes)!) out.push(`value length must be at least ${r.min_bytes} bytes`);
  if (r.max_bytes !== undefined && bytes > num(r.max_bytes)!) out.push(`value length must be at most ${r.max_bytes} bytes`);
  if (typeof r.prefix === 'string' && !s.startsWith(r.prefix)) out.push(`value does not have prefix ${JSON.stringify(r.prefix)}`);
  if (typeof r.suffix === 'string' && !s.endsWith(r.suffix)) out.push(`value does not have suffix ${JSON.stringify(r.suffix)}`);
  if (typeof r.contains === 'string' && !s.includes(r.contains)) out.push(`value does not contain substring ${JSON.stringify(r.contains)}`);
  if (typeof r.not_contains === 'string' && s.includes(r.not_contains)) out.push(`value contains substring ${JSON.stringify(r.not_contains)}`);
  const inList = list(r.in).map(String);
  if (inList.length && !inList.includes(s)) out.push(`value must be in list [${inList.join(', ')}]`);
  if (list(r.not_in).map(String).includes(s)) out.push(`value must not be in list [${list(r.not_in).join(', ')}]`);
  if (typeof r.pattern === 'string') {
    const re = compilePattern(r.pattern);
    if (re && !re.test(s)) out.push(`value does not match regex pattern ${JSON.stringify(r.pattern)}`);
  }
  if (r.well_known_regex !== undefined) {
    const strict = r.strict !== false;
    if (r.well_known_regex === 'HTTP_HEADER_NAME' && !(strict ? HEADER_NAME : HEADER_LOOSE).test(s)) {
      out.push('value does not match regex pattern for HTTP header name');
    }
    if (r.well_known_regex === 'HTTP_HEADER_VALUE' && !(strict ? HEADER_VALUE : HEADER_LOOSE).test(s)) {
      out.push('value does not match regex pattern for HTTP header value');
    }
  }
  if (r.hostname === true && !isHostname(s)) out.push('value must be a valid hostname');
  if (r.ipv4 === true && !isIpv4(s)) out.push('value must be a valid IPv4 address');
  if (r.ipv6 === true && !isIpv6(s)) out.push('value must be a valid IPv6 address');
  if (r.ip === true && !isIpv4(s) && !isIpv6(s)) out.push('value must be a valid IP address');
  if (r.address === true && !isIpv4(s) && !isIpv6(s) && !isHostname(s)) out.push('value must be a valid hostname, or ip address');
}

function bytesRules(r: Obj, base64: string, out: string[]): void {
  const length = Math.floor((base64.replace(/[=\s]/g, '').length * 3) / 4);
  if (r.ignore_empty === true && length === 0) return;
  if (r.len !== undefined && length !== num(r.len)) out.push(`value length must be ${r.len} bytes`);
  if (r.min_len !== undefined && length < num(r.min_len)!) out.push(`value length must be at least ${r.min_len} bytes`);
  if (r.max_len !== undefined && length > num(r.max_len)!) out.push(`value length must be at most ${r.max_len} bytes`);
}

/** RE2 patterns from validate rules; the few Envoy uses are also valid JS. Unusable ones are skipped. */
const patterns = new Map<string, RegExp | null>();
function compilePattern(pattern: string): RegExp | null {
  if (!patterns.has(pattern)) {
    let re: RegExp | null = null;
    try {
      re = new RegExp(pattern, 'u');
    } catch {
      try {
        re = new RegExp(pattern);
      } catch {
        re = null;
      }
    }
    patterns.set(pattern, re);
  }
  return patterns.get(pattern)!;
}

function isHostname(s: string): boolean {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  return name.length > 0 && name.length <= 253 && name.split('.').every((l) => /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(l));
}

const isIpv4 = (s: string) => /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(s);
function isIpv6(s: string): boolean {
  if (!s.includes(':')) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

function repeatedRules(r: Obj, value: Parsed | undefined, out: string[]): void {
  const items = value?.kind === 'list' ? value.items : [];
  if (r.ignore_empty === true && items.length === 0) return;
  if (r.min_items !== undefined && items.length < num(r.min_items)!) out.push(`value must contain at least ${r.min_items} item(s)`);
  if (r.max_items !== undefined && items.length > num(r.max_items)!) out.push(`value must contain no more than ${r.max_items} item(s)`);
  if (r.unique === true) {
    const seen = items.map((i) => JSON.stringify(i));
    if (new Set(seen).size !== seen.length) out.push('repeated value must contain unique items');
  }
  // Item rules are applied by the walker, at each item's own path (itemRules).
}

/** The rules for each item of a repeated field, or each key/value of a map, if any. */
export function itemRules(rules: Rules | undefined): { items?: Rules; keys?: Rules; values?: Rules } {
  return {
    items: obj(obj(rules?.repeated)?.items) as Rules | undefined,
    keys: obj(obj(rules?.map)?.keys) as Rules | undefined,
    values: obj(obj(rules?.map)?.values) as Rules | undefined,
  };
}

function mapRules(r: Obj, value: Parsed | undefined, out: string[]): void {
  const size = value?.kind === 'map' ? value.keys.length : 0;
  if (r.ignore_empty === true && size === 0) return;
  if (r.min_pairs !== undefined && size < num(r.min_pairs)!) out.push(`value must contain at least ${r.min_pairs} pair(s)`);
  if (r.max_pairs !== undefined && size > num(r.max_pairs)!) out.push(`value must contain no more than ${r.max_pairs} pair(s)`);
}

function anyRules(r: Obj, value: Parsed | undefined, out: string[]): void {
  if (value === undefined) {
    if (r.required === true) out.push('value is required');
    return;
  }
  if (value.kind !== 'any') return;
  const inList = list(r.in).map(String);
  if (inList.length && !inList.includes(value.typeUrl)) out.push(`type URL must be in list [${inList.join(', ')}]`);
  if (list(r.not_in).map(String).includes(value.typeUrl)) out.push(`type URL must not be in list [${list(r.not_in).join(', ')}]`);
}

/** `{seconds, nanos}` of a rule as seconds. */
function ruleSeconds(v: RuleValue | undefined): number | undefined {
  const d = obj(v);
  if (!d) return undefined;
  return Number(d.seconds ?? 0) + Number(d.nanos ?? 0) / 1e9;
}

export function showSeconds(seconds: number): string {
  return `${Number(seconds.toFixed(9))}s`;
}

function durationRules(r: Obj, value: Parsed | undefined, out: string[]): void {
  if (value === undefined) {
    if (r.required === true) out.push('value is required');
    return;
  }
  if (value.kind !== 'duration') return;
  const bounds: Obj = {};
  for (const key of ['const', 'lt', 'lte', 'gt', 'gte'] as const) {
    const s = ruleSeconds(r[key]);
    if (s !== undefined) bounds[key] = s;
  }
  const inList = list(r.in).map(ruleSeconds).filter((s) => s !== undefined);
  if (inList.length) bounds.in = inList;
  const notIn = list(r.not_in).map(ruleSeconds).filter((s) => s !== undefined);
  if (notIn.length) bounds.not_in = notIn;
  numberRules(bounds, value.seconds, showSeconds, out);
}

function enumRules(r: Obj, value: Parsed | undefined, out: string[]): void {
  // An absent enum is its 0 value, which every Envoy enum defines.
  const n = value?.kind === 'enum' ? value.value : 0;
  const defined = value?.kind === 'enum' ? value.defined : true;
  if (r.defined_only === true && !defined) out.push('value must be one of the defined enum values');
  if (r.const !== undefined && n !== num(r.const)) out.push(`value must equal ${r.const}`);
  const inList = list(r.in).map(Number);
  if (inList.length && !inList.includes(n)) out.push(`value must be in list [${inList.join(', ')}]`);
  if (list(r.not_in).map(Number).includes(n)) out.push(`value must not be in list [${list(r.not_in).join(', ')}]`);
}
