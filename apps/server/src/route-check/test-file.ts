/**
 * Reads router_check_tool test files (envoy.RouterCheckToolSchema.Validation from Envoy's
 * test/tools/router_check/validation.proto) in JSON, YAML or proto text, checked the way
 * the tool's loader checks them: unknown fields are errors, and the proto's validate rules
 * (a test name, an authority, a path, a method of 3+ characters, at least one test) hold.
 * Every error is file:line:column: field.path: reason.
 */
import fs from 'node:fs';
import { parseSource, SourceError, type Pos, type SNode } from './source-tree';

export interface HeaderValue {
  key: string;
  value: string;
}

/** envoy.type.matcher.v3.StringMatcher, one pattern */
export interface StringPattern {
  pattern: 'exact' | 'prefix' | 'suffix' | 'safe_regex' | 'contains';
  value: string;
  ignoreCase: boolean;
}

/** envoy.config.route.v3.HeaderMatcher, as the checks need it */
export interface HeaderMatcherSpec {
  name: string;
  /** which oneof member was set, named as the tool's failure lines name it */
  specifier: 'exact_match' | 'safe_regex_match' | 'range_match' | 'present_match' | 'prefix_match' | 'suffix_match' | 'contains_match' | 'string_match';
  /** the value test: exact/prefix/... as a StringPattern (the deprecated forms too) */
  string?: StringPattern;
  range?: { start: number; end: number };
  present?: boolean;
  invert: boolean;
  treatMissingAsEmpty: boolean;
}

export interface ValidationInput {
  authority: string;
  path: string;
  method: string;
  randomValue: number;
  ssl: boolean;
  internal: boolean;
  additionalRequestHeaders: HeaderValue[];
  additionalResponseHeaders: HeaderValue[];
  runtime: string;
}

export interface ValidationAssert {
  cluster_name?: string;
  virtual_cluster_name?: string;
  virtual_host_name?: string;
  host_rewrite?: string;
  path_rewrite?: string;
  path_redirect?: string;
  code_redirect?: number;
  requestHeaderFields: HeaderValue[];
  responseHeaderFields: HeaderValue[];
  requestHeaderMatches: HeaderMatcherSpec[];
  responseHeaderMatches: HeaderMatcherSpec[];
}

export interface ValidationItem {
  testName: string;
  pos: Pos;
  input: ValidationInput;
  validate: ValidationAssert;
}

// ---------------------------------------------------------------------------------------
// A small reader over the source tree: one message type at a time.

class Reader {
  constructor(readonly file: string) {}

  fail(node: { pos: Pos }, field: string, reason: string): never {
    throw new SourceError(this.file, node.pos, field, reason);
  }

  /**
   * The fields of a message node: known names only (proto or lowerCamelCase JSON name),
   * a repeated field's occurrences gathered (proto text repeats the field; JSON/YAML lists).
   */
  fields(node: SNode, path: string, type: string, known: readonly string[]): Map<string, { pos: Pos; values: SNode[] }> {
    if (node.kind !== 'map') this.fail(node, path, `expected a ${type} message, got ${describe(node)}`);
    const out = new Map<string, { pos: Pos; values: SNode[] }>();
    for (const e of node.entries) {
      const name = known.find((k) => k === e.key || camel(k) === e.key);
      if (!name) this.fail(e, join(path, e.key), `INVALID_ARGUMENT: ${type} has no field "${e.key}"`);
      const slot = out.get(name) ?? { pos: e.pos, values: [] };
      slot.values.push(e.value);
      out.set(name, slot);
    }
    return out;
  }

  one(f: Map<string, { pos: Pos; values: SNode[] }>, name: string, path: string): SNode | undefined {
    const slot = f.get(name);
    if (!slot) return undefined;
    if (slot.values.length > 1) this.fail({ pos: slot.values[1]!.pos }, join(path, name), 'non-repeated field given more than once');
    const v = slot.values[0]!;
    // A JSON/YAML null is the field not set.
    return v.kind === 'scalar' && v.value === null && !v.text ? undefined : v;
  }

  list(f: Map<string, { pos: Pos; values: SNode[] }>, name: string): SNode[] {
    const slot = f.get(name);
    if (!slot) return [];
    return slot.values.flatMap((v) => (v.kind === 'list' ? v.items : v.kind === 'scalar' && v.value === null ? [] : [v]));
  }

  string(node: SNode | undefined, path: string, fallback = ''): string {
    if (node === undefined) return fallback;
    if (node.kind !== 'scalar' || node.ident || typeof node.value !== 'string') {
      this.fail(node, path, `expected a string, got ${describe(node)}`);
    }
    return String(node.value);
  }

  bool(node: SNode | undefined, path: string): boolean {
    if (node === undefined) return false;
    if (node.kind === 'scalar') {
      if (typeof node.value === 'boolean') return node.value;
      if (node.ident || typeof node.value === 'number') {
        const v = String(node.value);
        if (['true', 't', 'True', '1'].includes(v)) return true;
        if (['false', 'f', 'False', '0'].includes(v)) return false;
      }
    }
    this.fail(node, path, `expected true or false, got ${describe(node)}`);
  }

  uint(node: SNode | undefined, path: string, max: number): number {
    if (node === undefined) return 0;
    const v = node.kind === 'scalar' ? node.value : undefined;
    // proto3 JSON writes 64-bit integers as strings; both forms are accepted.
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > max) this.fail(node, path, `expected an integer from 0 to ${max}, got ${describe(node)}`);
    return n;
  }

  int(node: SNode | undefined, path: string): number {
    if (node === undefined) return 0;
    const v = node.kind === 'scalar' ? node.value : undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) this.fail(node, path, `expected an integer, got ${describe(node)}`);
    return n;
  }

  /** google.protobuf.StringValue: "x" in JSON/YAML, { value: "x" } in proto text (both accepted anywhere). */
  stringValue(node: SNode | undefined, path: string): string | undefined {
    if (node === undefined) return undefined;
    if (node.kind === 'map') return this.string(this.one(this.fields(node, path, 'google.protobuf.StringValue', ['value']), 'value', path), join(path, 'value'));
    return this.string(node, path);
  }

  uint32Value(node: SNode | undefined, path: string): number | undefined {
    if (node === undefined) return undefined;
    if (node.kind === 'map') return this.uint(this.one(this.fields(node, path, 'google.protobuf.UInt32Value', ['value']), 'value', path), join(path, 'value'), 4294967295);
    return this.uint(node, path, 4294967295);
  }

  minLen(node: SNode | undefined, fallbackPos: { pos: Pos }, path: string, value: string, min: number): void {
    if (value.length < min) {
      this.fail(node ?? fallbackPos, path, `INVALID_ARGUMENT: value length must be at least ${min} characters (validation.proto)`);
    }
  }
}

function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function join(path: string, field: string | number): string {
  return typeof field === 'number' ? `${path}[${field}]` : path ? `${path}.${field}` : field;
}

function describe(node: SNode): string {
  if (node.kind === 'map') return 'a message';
  if (node.kind === 'list') return 'a list';
  return node.value === null ? 'null' : typeof node.value === 'string' ? JSON.stringify(node.value) : String(node.value);
}

// ---------------------------------------------------------------------------------------
// The messages

function headerValue(r: Reader, node: SNode, path: string): HeaderValue {
  const f = r.fields(node, path, 'envoy.config.core.v3.HeaderValue', ['key', 'value', 'raw_value']);
  if (f.has('raw_value')) r.fail({ pos: f.get('raw_value')!.pos }, join(path, 'raw_value'), 'raw_value is not supported by proxyscope route-check; use value');
  const key = r.string(r.one(f, 'key', path), join(path, 'key'));
  r.minLen(r.one(f, 'key', path), node, join(path, 'key'), key, 1);
  return { key, value: r.string(r.one(f, 'value', path), join(path, 'value')) };
}

const STRING_PATTERNS = ['exact', 'prefix', 'suffix', 'safe_regex', 'contains'] as const;

function regexMatcher(r: Reader, node: SNode, path: string): string {
  const f = r.fields(node, path, 'envoy.type.matcher.v3.RegexMatcher', ['google_re2', 'regex']);
  return r.string(r.one(f, 'regex', path), join(path, 'regex'));
}

function stringMatcher(r: Reader, node: SNode, path: string): StringPattern {
  const f = r.fields(node, path, 'envoy.type.matcher.v3.StringMatcher', [...STRING_PATTERNS, 'ignore_case']);
  const set = STRING_PATTERNS.filter((p) => f.has(p));
  if (set.length !== 1) r.fail(node, path, set.length ? `only one of ${set.join(', ')} may be set` : `one of ${STRING_PATTERNS.join(', ')} is required`);
  const pattern = set[0]!;
  const v = r.one(f, pattern, path);
  const value = pattern === 'safe_regex' ? regexMatcher(r, v!, join(path, pattern)) : r.string(v, join(path, pattern));
  return { pattern, value, ignoreCase: r.bool(r.one(f, 'ignore_case', path), join(path, 'ignore_case')) };
}

const SPECIFIERS = ['exact_match', 'safe_regex_match', 'range_match', 'present_match', 'prefix_match', 'suffix_match', 'contains_match', 'string_match'] as const;

function headerMatcher(r: Reader, node: SNode, path: string): HeaderMatcherSpec {
  const f = r.fields(node, path, 'envoy.config.route.v3.HeaderMatcher', ['name', ...SPECIFIERS, 'invert_match', 'treat_missing_header_as_empty']);
  const name = r.string(r.one(f, 'name', path), join(path, 'name'));
  r.minLen(r.one(f, 'name', path), node, join(path, 'name'), name, 1);
  const set = SPECIFIERS.filter((s) => f.has(s));
  if (set.length > 1) r.fail(node, path, `only one of ${set.join(', ')} may be set (header_match_specifier is a oneof)`);
  const specifier = set[0] ?? 'present_match';
  const m: HeaderMatcherSpec = {
    name,
    specifier,
    invert: r.bool(r.one(f, 'invert_match', path), join(path, 'invert_match')),
    treatMissingAsEmpty: r.bool(r.one(f, 'treat_missing_header_as_empty', path), join(path, 'treat_missing_header_as_empty')),
  };
  const v = r.one(f, specifier, path);
  const at = join(path, specifier);
  switch (specifier) {
    case 'present_match':
      m.present = v === undefined ? true : r.bool(v, at);
      break;
    case 'range_match': {
      const rf = r.fields(v!, at, 'envoy.type.v3.Int64Range', ['start', 'end']);
      m.range = { start: r.int(r.one(rf, 'start', at), join(at, 'start')), end: r.int(r.one(rf, 'end', at), join(at, 'end')) };
      break;
    }
    case 'string_match':
      m.string = stringMatcher(r, v!, at);
      break;
    case 'safe_regex_match':
      m.string = { pattern: 'safe_regex', value: regexMatcher(r, v!, at), ignoreCase: false };
      break;
    default:
      m.string = { pattern: specifier.replace('_match', '') as StringPattern['pattern'], value: r.string(v, at), ignoreCase: false };
  }
  return m;
}

const INPUT_FIELDS = ['authority', 'path', 'method', 'random_value', 'ssl', 'internal', 'additional_request_headers', 'additional_response_headers', 'runtime'] as const;
const ASSERT_FIELDS = [
  'cluster_name', 'virtual_cluster_name', 'virtual_host_name', 'host_rewrite', 'path_rewrite', 'path_redirect', 'code_redirect',
  'request_header_fields', 'response_header_fields', 'request_header_matches', 'response_header_matches',
] as const;
/** fields the tool has and route-check does not check: named in the error instead of "unknown" */
const ASSERT_UNSUPPORTED = ['dynamic_metadata'] as const;

function input(r: Reader, node: SNode, path: string): ValidationInput {
  const f = r.fields(node, path, 'envoy.RouterCheckToolSchema.ValidationInput', INPUT_FIELDS);
  const str = (name: string) => r.string(r.one(f, name, path), join(path, name));
  const authority = str('authority');
  const p = str('path');
  const method = str('method');
  r.minLen(r.one(f, 'authority', path), node, join(path, 'authority'), authority, 1);
  r.minLen(r.one(f, 'path', path), node, join(path, 'path'), p, 1);
  r.minLen(r.one(f, 'method', path), node, join(path, 'method'), method, 3);
  return {
    authority,
    path: p,
    method,
    randomValue: r.uint(r.one(f, 'random_value', path), join(path, 'random_value'), Number.MAX_SAFE_INTEGER),
    ssl: r.bool(r.one(f, 'ssl', path), join(path, 'ssl')),
    internal: r.bool(r.one(f, 'internal', path), join(path, 'internal')),
    additionalRequestHeaders: r.list(f, 'additional_request_headers').map((h, i) => headerValue(r, h, join(join(path, 'additional_request_headers'), i))),
    additionalResponseHeaders: r.list(f, 'additional_response_headers').map((h, i) => headerValue(r, h, join(join(path, 'additional_response_headers'), i))),
    runtime: str('runtime'),
  };
}

function validateBlock(r: Reader, node: SNode, path: string): ValidationAssert {
  if (node.kind === 'map') {
    for (const e of node.entries) {
      if ((ASSERT_UNSUPPORTED as readonly string[]).includes(e.key)) r.fail(e, join(path, e.key), `${e.key} is not supported by proxyscope route-check (see docs/route-check.md)`);
    }
  }
  const f = r.fields(node, path, 'envoy.RouterCheckToolSchema.ValidationAssert', ASSERT_FIELDS);
  const sv = (name: string) => r.stringValue(r.one(f, name, path), join(path, name));
  const out: ValidationAssert = {
    requestHeaderFields: r.list(f, 'request_header_fields').map((h, i) => headerValue(r, h, join(join(path, 'request_header_fields'), i))),
    responseHeaderFields: r.list(f, 'response_header_fields').map((h, i) => headerValue(r, h, join(join(path, 'response_header_fields'), i))),
    requestHeaderMatches: r.list(f, 'request_header_matches').map((h, i) => headerMatcher(r, h, join(join(path, 'request_header_matches'), i))),
    responseHeaderMatches: r.list(f, 'response_header_matches').map((h, i) => headerMatcher(r, h, join(join(path, 'response_header_matches'), i))),
  };
  for (const name of ['cluster_name', 'virtual_cluster_name', 'virtual_host_name', 'host_rewrite', 'path_rewrite', 'path_redirect'] as const) {
    const v = sv(name);
    if (v !== undefined) out[name] = v;
  }
  const code = r.uint32Value(r.one(f, 'code_redirect', path), join(path, 'code_redirect'));
  if (code !== undefined) out.code_redirect = code;
  return out;
}

export function parseTests(text: string, file: string): ValidationItem[] {
  const r = new Reader(file);
  const root = parseSource(text, file);
  const f = r.fields(root, '', 'envoy.RouterCheckToolSchema.Validation', ['tests']);
  const tests = r.list(f, 'tests');
  if (tests.length === 0) r.fail(root, 'tests', 'INVALID_ARGUMENT: value must contain at least 1 item(s) (validation.proto)');
  return tests.map((node, i) => {
    const path = `tests[${i}]`;
    const tf = r.fields(node, path, 'envoy.RouterCheckToolSchema.ValidationItem', ['test_name', 'input', 'validate']);
    const nameNode = r.one(tf, 'test_name', path);
    const testName = r.string(nameNode, join(path, 'test_name'));
    r.minLen(nameNode, node, join(path, 'test_name'), testName, 1);
    const inNode = r.one(tf, 'input', path);
    const vNode = r.one(tf, 'validate', path);
    if (!inNode) return r.fail(node, join(path, 'input'), 'INVALID_ARGUMENT: value is required (validation.proto)');
    if (!vNode) return r.fail(node, join(path, 'validate'), 'INVALID_ARGUMENT: value is required (validation.proto)');
    return { testName, pos: node.pos, input: input(r, inNode, join(path, 'input')), validate: validateBlock(r, vNode, join(path, 'validate')) };
  });
}

export function readTests(file: string): ValidationItem[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new SourceError(file, { line: 0, column: 0 }, '', `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseTests(text, file);
}

/** A HeaderMatcher inside another file (a route config's virtual_clusters), checked the same way. */
export function readHeaderMatcher(file: string, node: SNode, path: string): HeaderMatcherSpec {
  return headerMatcher(new Reader(file), node, path);
}
