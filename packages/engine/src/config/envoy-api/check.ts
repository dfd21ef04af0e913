/**
 * Check a bootstrap against Envoy's own API, as Envoy loads one: MessageUtil::loadFromYaml
 * turns the YAML into JSON and parses it with protobuf's JsonStringToMessage (proto3 JSON
 * mapping, unknown fields rejected, case-insensitive enum names), then MessageUtil::validate
 * runs the protoc-gen-validate rules (pgv.ts). Extension configs in an Any are parsed into
 * the message their `@type` names, and checked the same way.
 *
 * What Envoy would refuse is an error here; a deprecated field is a warning, as Envoy logs
 * one. The result also carries the config with lowerCamelCase keys renamed to the proto's
 * own names, which is what the ProxyScope schema reads.
 */
import { BOOTSTRAP, envoyApi, jsonName, type FieldDescriptor, type MessageDescriptor, type Rules } from './descriptor';
import { itemRules, showSeconds, violations, type Parsed } from './pgv';
import { isContribNetworkFilterType } from '../tcp-proxy';

type Path = readonly PropertyKey[];

export interface ApiFinding {
  path: Path;
  message: string;
  /** where to point in the source: the key (unknown or deprecated fields) or the value */
  at: 'key' | 'value';
  /** a validate rule's verdict on this path, saying nothing about what is inside it */
  exact?: boolean;
}

export interface ApiCheck {
  errors: ApiFinding[];
  warnings: ApiFinding[];
  /** the input with every lowerCamelCase field name replaced by its proto name */
  normalized: unknown;
}

const TYPE_URL_PREFIX = 'type.googleapis.com/';
const TYPED_STRUCTS = new Set(['xds.type.v3.TypedStruct', 'udpa.type.v1.TypedStruct']);
/** Packages of Envoy's API; a type outside them belongs to a ProxyScope custom filter. */
const ENVOY_API_PACKAGE = /^(envoy|xds|udpa|google)\./;

/** Types declared in proto files the descriptor had to leave out: known, but not checkable. */
const UNCHECKED_TYPES = new Set(envoyApi.skippedTypes);

export function checkAgainstEnvoyApi(input: unknown): ApiCheck {
  const walker = new Walker();
  const normalized = input === null || input === undefined ? input : walker.message(input, BOOTSTRAP, []).value;
  return { errors: walker.errors, warnings: walker.warnings, normalized };
}

interface Result {
  /** the value to pass on (keys renamed) */
  value: unknown;
  /** what the validate rules see; undefined when the value was unusable */
  parsed?: Parsed;
}

class Walker {
  readonly errors: ApiFinding[] = [];
  readonly warnings: ApiFinding[] = [];

  private error(path: Path, message: string, at: 'key' | 'value' = 'value'): Result {
    this.errors.push({ path, message, at });
    return { value: undefined };
  }

  /** A message given as a JSON object (or, for well-known types, their special form). */
  message(input: unknown, typeName: string, path: Path): Result {
    const special = WELL_KNOWN[typeName];
    if (special) return special(this, input, path);
    if (typeName === 'google.protobuf.Any') return this.any(input, path);
    const type = envoyApi.messages[typeName];
    if (!type) return { value: input, parsed: { kind: 'message' } };
    if (!isObject(input)) return this.error(path, `expected a mapping (${shortName(typeName)}), got ${show(input)}`);
    return this.fields(input, typeName, type, path);
  }

  private fields(input: Record<string, unknown>, typeName: string, type: MessageDescriptor, path: Path): Result {
    const index = fieldIndex(type);
    const out: Record<string, unknown> = {};
    const seen = new Map<string, string>(); // proto name -> key as written
    const oneofSet = new Map<string, string>(); // oneof -> key as written
    const parsed = new Map<string, Parsed | undefined>();
    for (const [key, value] of Object.entries(input)) {
      const name = index.get(key);
      const at = [...path, key];
      if (name === undefined) {
        this.error(at, unknownFieldMessage(key, typeName, type), 'key');
        out[key] = value; // passed on as written: nothing is lost, and the error stands for it
        continue;
      }
      const field = type.fields[name];
      if (seen.has(name)) {
        this.error(at, `'${key}' and '${seen.get(name)}' are the same field (${name}); give it once`, 'key');
        continue;
      }
      seen.set(name, key);
      // JSON null is "not set", for every field but a google.protobuf.Value (undefined, from code, too).
      if (value === undefined || (value === null && field.type !== 'google.protobuf.Value')) continue;
      if (field.oneof) {
        const other = oneofSet.get(field.oneof);
        if (other !== undefined) {
          this.error(at, `'${other}' and '${key}' are both set, but they are alternatives (oneof ${field.oneof} of ${shortName(typeName)}); Envoy accepts only one`, 'key');
          out[name] = value;
          continue;
        }
        oneofSet.set(field.oneof, key);
      }
      if (field.disallowed) {
        this.error(at, `'${key}' is deprecated and disallowed by default in Envoy (${typeName}.${name}); Envoy refuses it`, 'key');
      } else if (field.deprecated) {
        this.warnings.push({ path: at, message: `field '${key}' is deprecated in Envoy (${typeName}.${name}); Envoy accepts it with a warning`, at: 'key' });
      }
      const result = this.field(value, field, at);
      // A value that failed is passed on as written, for the schema to word its own error.
      out[name] = result.parsed === undefined ? value : result.value;
      parsed.set(name, result.parsed);
    }
    this.validate(typeName, type, parsed, seen, oneofSet, path);
    return { value: out, parsed: { kind: 'message' } };
  }

  /** MessageUtil::validate: the PGV rules of every field, and required oneofs. */
  private validate(
    typeName: string,
    type: MessageDescriptor,
    parsed: Map<string, Parsed | undefined>,
    written: Map<string, string>,
    oneofSet: Map<string, string>,
    path: Path,
  ) {
    for (const [name, field] of Object.entries(type.fields)) {
      if (!field.rules) continue;
      const given = parsed.has(name);
      // A oneof member is only validated when it is the one set.
      if (field.oneof && !given) continue;
      // Set but unusable: the parse error already says what is wrong.
      if (given && parsed.get(name) === undefined) continue;
      // An absent proto3 scalar is checked at its default; an absent wrapper is not checked.
      const scalarType = !field.repeated && !field.keyType && SCALAR_READERS[field.type] ? field.type : undefined;
      const reasons = violations(field.rules, parsed.get(name), scalarType);
      for (const reason of reasons) {
        const rule = `Envoy's validation rule for ${typeName}.${name}`;
        // An absent field breaks a rule only by being absent: say so first.
        const message = given || reason === 'value is required' ? `${reason} (${rule})` : `missing required field (${rule}: ${reason})`;
        this.errors.push({ path: [...path, written.get(name) ?? name], message, at: 'value', exact: true });
      }
    }
    for (const [oneof, options] of Object.entries(type.oneofs ?? {})) {
      if (options.required && !oneofSet.has(oneof)) {
        const members = Object.entries(type.fields).filter(([, f]) => f.oneof === oneof).map(([n]) => n);
        this.errors.push({ path, message: `needs one of ${members.join(', ')} (oneof ${oneof} of ${typeName} is required)`, at: 'value', exact: true });
      }
    }
  }

  private field(value: unknown, field: FieldDescriptor, path: Path): Result {
    const { items, keys, values } = itemRules(field.rules);
    if (field.keyType) {
      if (!isObject(value)) return this.error(path, `expected a mapping, got ${show(value)}`);
      const out: Record<string, unknown> = {};
      const parsedValues: (Parsed | undefined)[] = [];
      for (const [key, item] of Object.entries(value)) {
        const at = [...path, key];
        const keyParsed = mapKey(key, field.keyType);
        if (keyParsed === undefined) this.error(at, `invalid map key ${JSON.stringify(key)} for ${field.keyType}`, 'key');
        else if (keys) this.rules(keys, keyParsed, field.keyType, at, 'key');
        const result = item === null ? { value: null } : this.single(item, field.type, at);
        if (values && result.parsed) this.rules(values, result.parsed, scalarTypeOf(field.type), at);
        out[key] = result.parsed === undefined ? item : result.value;
        parsedValues.push(result.parsed);
      }
      return { value: out, parsed: { kind: 'map', keys: Object.keys(value), values: parsedValues } };
    }
    if (field.repeated) {
      // Envoy's JSON parser (protobuf's ProtoStreamObjectWriter) takes a lone value for a
      // repeated field as a list of one, and sandbox configs rely on it (an OAuth2
      // pass_through_matcher written as one mapping); the list of one is what is read on.
      if (!Array.isArray(value)) {
        const single = this.single(value, field.type, path);
        if (items && single.parsed) this.rules(items, single.parsed, scalarTypeOf(field.type), path);
        return { value: [single.parsed === undefined ? value : single.value], parsed: { kind: 'list', items: [single.parsed] } };
      }
      const results = value.map((item, i) => {
        const at = [...path, i];
        if (item === null) return this.error(at, 'a list item cannot be null');
        const result = this.single(item, field.type, at);
        if (items && result.parsed) this.rules(items, result.parsed, scalarTypeOf(field.type), at);
        return result;
      });
      const out = results.map((r, i) => (r.parsed === undefined ? value[i] : r.value));
      return { value: out, parsed: { kind: 'list', items: results.map((r) => r.parsed) } };
    }
    return this.single(value, field.type, path);
  }

  private rules(rules: Rules, parsed: Parsed, scalarType: string | undefined, path: Path, at: 'key' | 'value' = 'value') {
    for (const reason of violations(rules, parsed, scalarType)) this.errors.push({ path, message: reason, at, exact: true });
  }

  /** One value of a field's type: scalar, enum or message. */
  single(value: unknown, type: string, path: Path): Result {
    if (SCALAR_READERS[type]) {
      const read = SCALAR_READERS[type](value);
      if (typeof read === 'string') return this.error(path, read);
      return { value, parsed: { kind: 'scalar', value: read.value } };
    }
    const enumType = envoyApi.enums[type];
    if (enumType) return this.enumValue(value, type, path);
    return this.message(value, type, path);
  }

  private enumValue(value: unknown, typeName: string, path: Path): Result {
    const type = envoyApi.enums[typeName];
    const names = Object.keys(type.values);
    if (typeof value === 'string' && !/^-?\d+$/.test(value)) {
      // MessageUtil::loadFromJson sets case_insensitive_enum_parsing.
      const name = names.find((n) => n === value) ?? names.find((n) => n.toLowerCase() === value.toLowerCase());
      if (name === undefined) {
        return this.error(path, `unknown value ${JSON.stringify(value)} for enum ${shortName(typeName)}; expected one of ${names.join(', ')}`);
      }
      if (type.deprecated?.includes(name)) {
        this.warnings.push({ path, message: `enum value ${name} is deprecated in Envoy (${typeName}); Envoy accepts it with a warning`, at: 'value' });
      }
      return { value, parsed: { kind: 'enum', value: type.values[name], defined: true } };
    }
    const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
    if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
      return this.error(path, `expected a ${shortName(typeName)} name (one of ${names.join(', ')}), got ${show(value)}`);
    }
    return { value, parsed: { kind: 'enum', value: n, defined: Object.values(type.values).includes(n) } };
  }

  /** An Any: `@type` names the message, the other keys are its fields. */
  any(input: unknown, path: Path): Result {
    if (!isObject(input)) return this.error(path, `expected a mapping with an "@type", got ${show(input)}`);
    const { '@type': typeUrl, ...rest } = input;
    if (typeUrl === undefined) {
      if (Object.keys(rest).length === 0) return { value: input, parsed: { kind: 'message' } };
      return this.error(path, 'missing "@type": Envoy needs it to know which message this is');
    }
    const at = [...path, '@type'];
    if (typeof typeUrl !== 'string') return this.error(at, `expected a type URL string, got ${show(typeUrl)}`);
    const slash = typeUrl.lastIndexOf('/');
    const typeName = typeUrl.slice(slash + 1);
    const known = envoyApi.messages[typeName] !== undefined || WELL_KNOWN[typeName] !== undefined;
    if (!ENVOY_API_PACKAGE.test(typeName)) {
      // Not Envoy's: the config of a ProxyScope custom filter (docs/filters.md), left to it.
      return { value: input, parsed: { kind: 'any', typeUrl } };
    }
    if (typeUrl.slice(0, slash + 1) !== TYPE_URL_PREFIX) {
      return this.error(at, `Invalid type URL, type URLs must be of the form '${TYPE_URL_PREFIX}<typename>', got: ${typeUrl}`);
    }
    if (!known) {
      // Envoy's contrib build has these; the network filter's own warning (or error) speaks for it.
      if (isContribNetworkFilterType(typeName)) return { value: input, parsed: { kind: 'any', typeUrl } };
      if (isUnchecked(typeName)) {
        this.warnings.push({ path: at, message: `type ${typeName} is not in ProxyScope's copy of Envoy's API; its config is not checked`, at: 'value' });
        return { value: input, parsed: { kind: 'any', typeUrl } };
      }
      if (/\.v2(alpha)?\./.test(typeName)) return this.error(at, `Invalid type URL, unknown type: ${typeName}: Envoy refuses it (the v2 API is gone: use the v3 type)`);
      const guess = closest(typeName, Object.keys(envoyApi.messages), 4);
      if (guess) return this.error(at, `Invalid type URL, unknown type: ${typeName}: Envoy refuses it (did you mean '${guess}'?)`);
      // Nothing near it: most likely a type from Envoy's contrib build (golang, v3alpha
      // filters) or a newer Envoy than the copy of its API we carry, so warn, not refuse.
      this.warnings.push({
        path: at,
        message: `type ${typeName} is not in ProxyScope's copy of Envoy's API (a contrib or newer extension?); its config is not checked`,
        at: 'value',
      });
      return { value: input, parsed: { kind: 'any', typeUrl } };
    }
    // A well-known type in an Any is {"@type", "value"}.
    if (WELL_KNOWN[typeName]) {
      const { value, ...others } = rest;
      for (const key of Object.keys(others)) this.error([...path, key], `unknown field '${key}' in an Any holding ${typeName}: only "value"`, 'key');
      const inner = this.message(value, typeName, [...path, 'value']);
      return { value: { '@type': typeUrl, value: inner.value }, parsed: { kind: 'any', typeUrl } };
    }
    const inner = this.message(rest, typeName, path);
    if (TYPED_STRUCTS.has(typeName)) this.typedStruct(rest, path);
    return { value: isObject(inner.value) ? { '@type': typeUrl, ...inner.value } : input, parsed: { kind: 'any', typeUrl } };
  }

  /**
   * A TypedStruct carries an extension config as a Struct; Envoy converts it to the message
   * `type_url` names (Config::Utility::translateOpaqueConfig) and validates that.
   */
  private typedStruct(input: Record<string, unknown>, path: Path) {
    const typeUrl = input.type_url;
    if (typeof typeUrl !== 'string' || typeUrl === '') return;
    const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    if (!ENVOY_API_PACKAGE.test(typeName) || isUnchecked(typeName)) return;
    if (!envoyApi.messages[typeName]) {
      this.error([...path, 'type_url'], `unknown type: ${typeName}: Envoy refuses it`);
      return;
    }
    const value = input.value ?? {};
    if (isObject(value)) this.message(value, typeName, [...path, 'value']);
  }
}

// ---------------------------------------------------------------------------------------
// Field names

const indexes = new WeakMap<MessageDescriptor, Map<string, string>>();

/** Keys Envoy's JSON parser accepts for each field: its proto name and its JSON name. */
function fieldIndex(type: MessageDescriptor): Map<string, string> {
  let index = indexes.get(type);
  if (!index) {
    index = new Map();
    for (const [name, field] of Object.entries(type.fields)) {
      index.set(name, name);
      index.set(field.json ?? jsonName(name), name);
    }
    indexes.set(type, index);
  }
  return index;
}

function unknownFieldMessage(key: string, typeName: string, type: MessageDescriptor): string {
  const guess = closest(key, Object.keys(type.fields), key.length <= 4 ? 1 : 2) ?? oneLevelDown(key, type);
  return `unknown field '${key}': ${shortName(typeName)} has no such field, and Envoy refuses the file` + (guess ? ` (did you mean '${guess}'?)` : '');
}

/** `match.prefix` for `prefix` in a Route: the field exists in one of this message's own messages. */
function oneLevelDown(key: string, type: MessageDescriptor): string | undefined {
  for (const [name, field] of Object.entries(type.fields)) {
    const inner = envoyApi.messages[field.type];
    if (inner && !field.repeated && !field.keyType && fieldIndex(inner).has(key)) return `${name}.${fieldIndex(inner).get(key)}`;
  }
  return undefined;
}

/** The nearest name, by edit distance after ignoring case and underscores, within `allowed`. */
export function closest(key: string, names: readonly string[], allowed: number): string | undefined {
  const fold = (s: string) => s.toLowerCase().replace(/_/g, '');
  const folded = fold(key);
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = Math.min(editDistance(key, name, allowed), fold(name) === folded ? 0 : allowed + 1);
    if (distance <= allowed && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** `envoy.config.cluster.v3.Cluster` -> `Cluster`; nested types keep their parent. */
function shortName(typeName: string): string {
  const parts = typeName.split('.');
  const first = parts.findIndex((p) => /^[A-Z]/.test(p));
  return first < 0 ? typeName : parts.slice(first).join('.');
}

/** Whether a type comes from a proto the descriptor had to skip. */
const isUnchecked = (typeName: string) => UNCHECKED_TYPES.has(typeName);

// ---------------------------------------------------------------------------------------
// Scalars (proto3 JSON mapping)

type Read = { value: string | number | boolean } | string;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function show(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Integers may be JSON numbers or strings (protobuf JSON needs strings for 64-bit values). */
function integer(min: number, max: number, what: string) {
  return (v: unknown): Read => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+(\.0*)?$|^-?\d+(\.\d+)?[eE]\+?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isFinite(n) || !Number.isInteger(n)) return `expected ${what}, got ${show(v)}`;
    if (n < min || n > max) return `expected ${what}, got ${show(v)} (out of range)`;
    return { value: n };
  };
}

function float(v: unknown): Read {
  if (typeof v === 'number') return { value: v };
  if (typeof v === 'string' && (/^(NaN|-?Infinity)$/.test(v) || (v.trim() !== '' && Number.isFinite(Number(v))))) return { value: Number(v) };
  return `expected a number, got ${show(v)}`;
}

/** Envoy's YAML reader (yaml-cpp) also takes y/yes/on and n/no/off, in any of three casings. */
const YAML_CPP_BOOLS: Record<string, boolean> = Object.fromEntries(
  (['y', 'yes', 'true', 'on', 'n', 'no', 'false', 'off'] as const).flatMap((word, i) => {
    const value = i < 4;
    return [word, word[0]!.toUpperCase() + word.slice(1), word.toUpperCase()].map((w) => [w, value]);
  }),
);

function readBool(v: unknown): Read {
  if (typeof v === 'boolean') return { value: v };
  if (typeof v === 'string' && Object.hasOwn(YAML_CPP_BOOLS, v)) return { value: YAML_CPP_BOOLS[v]! };
  return `expected true or false, got ${show(v)}`;
}

const INT32 = 2 ** 31;
const INT64 = 2 ** 63;
const SCALAR_READERS: Record<string, (v: unknown) => Read> = {
  string: (v) => (typeof v === 'string' ? { value: v } : `expected a string, got ${show(v)}`),
  bytes: (v) => (typeof v === 'string' && /^[A-Za-z0-9+/\-_]*={0,2}$/.test(v.replace(/\s/g, '')) ? { value: v } : `expected base64-encoded bytes, got ${show(v)}`),
  bool: readBool,
  double: float,
  float,
  int32: integer(-INT32, INT32 - 1, 'a 32-bit integer'),
  sint32: integer(-INT32, INT32 - 1, 'a 32-bit integer'),
  sfixed32: integer(-INT32, INT32 - 1, 'a 32-bit integer'),
  uint32: integer(0, 2 ** 32 - 1, 'an unsigned 32-bit integer'),
  fixed32: integer(0, 2 ** 32 - 1, 'an unsigned 32-bit integer'),
  int64: integer(-INT64, INT64, 'a 64-bit integer'),
  sint64: integer(-INT64, INT64, 'a 64-bit integer'),
  sfixed64: integer(-INT64, INT64, 'a 64-bit integer'),
  uint64: integer(0, 2 * INT64, 'an unsigned 64-bit integer'),
  fixed64: integer(0, 2 * INT64, 'an unsigned 64-bit integer'),
};

const scalarTypeOf = (type: string): string | undefined => (SCALAR_READERS[type] ? type : WRAPPED[type]);

/** Map keys are JSON strings; integer and bool keys are those written as text. */
function mapKey(key: string, keyType: string): Parsed | undefined {
  if (keyType === 'string') return { kind: 'scalar', value: key };
  const read = SCALAR_READERS[keyType]?.(key);
  return read === undefined || typeof read === 'string' ? undefined : { kind: 'scalar', value: read.value };
}

// ---------------------------------------------------------------------------------------
// Well-known types

const WRAPPED: Record<string, string> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};

const DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
const MAX_DURATION_SECONDS = 315_576_000_000;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

type Special = (walker: Walker, input: unknown, path: Path) => Result;

const fail = (walker: Walker, path: Path, message: string, at: 'key' | 'value' = 'value'): Result => {
  walker.errors.push({ path, message, at });
  return { value: undefined };
};

function duration(walker: Walker, input: unknown, path: Path): Result {
  let seconds: number | undefined;
  if (typeof input === 'string') {
    const m = DURATION.exec(input);
    if (m) seconds = (m[1] ? -1 : 1) * (Number(m[2]) + Number((m[3] ?? '').padEnd(9, '0')) / 1e9);
  } else if (isObject(input) && Object.keys(input).every((k) => k === 'seconds' || k === 'nanos')) {
    // {seconds, nanos}: protobuf's JSON parser reads a Duration object as the message it is.
    const s = SCALAR_READERS.int64(input.seconds ?? 0);
    const n = SCALAR_READERS.int32(input.nanos ?? 0);
    if (typeof s !== 'string' && typeof n !== 'string') seconds = Number(s.value) + Number(n.value) / 1e9;
  }
  if (seconds === undefined) return fail(walker, path, `expected a duration such as "5s" or "0.25s", got ${show(input)}`);
  if (Math.abs(seconds) > MAX_DURATION_SECONDS) return fail(walker, path, `duration ${show(input)} is out of range (at most ${showSeconds(MAX_DURATION_SECONDS)})`);
  return { value: input, parsed: { kind: 'duration', seconds } };
}

function wrapper(type: string): Special {
  return (walker, input, path) => {
    // The wrapper's JSON is the wrapped value; `{value: x}` is the message form, also read.
    const inner = isObject(input) && Object.keys(input).length === 1 && 'value' in input ? input.value : input;
    const read = SCALAR_READERS[type](inner);
    if (typeof read === 'string') return fail(walker, path, read);
    return { value: input, parsed: { kind: 'scalar', value: read.value } };
  };
}

const WELL_KNOWN: Record<string, Special> = {
  'google.protobuf.Duration': duration,
  'google.protobuf.Timestamp': (walker, input, path) =>
    typeof input === 'string' && RFC3339.test(input) ? { value: input, parsed: { kind: 'message' } } : fail(walker, path, `expected an RFC 3339 timestamp, got ${show(input)}`),
  'google.protobuf.FieldMask': (walker, input, path) =>
    typeof input === 'string' ? { value: input, parsed: { kind: 'message' } } : fail(walker, path, `expected a field mask string, got ${show(input)}`),
  'google.protobuf.Struct': (walker, input, path) =>
    isObject(input) ? { value: input, parsed: { kind: 'message' } } : fail(walker, path, `expected a mapping, got ${show(input)}`),
  'google.protobuf.ListValue': (walker, input, path) =>
    Array.isArray(input) ? { value: input, parsed: { kind: 'message' } } : fail(walker, path, `expected a list, got ${show(input)}`),
  'google.protobuf.Value': (_walker, input) => ({ value: input, parsed: { kind: 'message' } }),
  'google.protobuf.Empty': (walker, input, path) => {
    if (!isObject(input)) return fail(walker, path, `expected {}, got ${show(input)}`);
    for (const key of Object.keys(input)) fail(walker, [...path, key], `unknown field '${key}': google.protobuf.Empty has no fields`, 'key');
    return { value: input, parsed: { kind: 'message' } };
  },
  ...Object.fromEntries(Object.entries(WRAPPED).map(([name, type]) => [name, wrapper(type)])),
};
