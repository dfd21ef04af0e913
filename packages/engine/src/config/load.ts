/**
 * Load an Envoy v3 static bootstrap from YAML text.
 *
 * 1. Parse the YAML, keeping source positions (syntax errors stop here).
 * 2. Validate with `bootstrapSchema`. Every issue is collected, not just the first.
 *    Keys the schema does not read become warnings; anything else is an error.
 * 3. If there were only warnings, validate again without the ignored keys to get the
 *    loaded config (zod returns no value for an input it reported anything about).
 *
 * Every diagnostic names the file, the line and column in it, and the field path.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { bootstrapSchema, ignoredFieldMessage, show, unknownRetryOn, unusedThresholds } from './schema';
import type { Bootstrap, ConfigDiagnostic } from './types';

export { parseDuration } from './schema';

/** Thrown when a config cannot be loaded; `diagnostics` holds every error found. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly diagnostics: ConfigDiagnostic[],
    /** warnings found along the way, for callers that want to show them too */
    readonly warnings: ConfigDiagnostic[] = [],
  ) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
  }
}

/** `file:line:column: path: message` (the path is left out when there is none). */
export function formatDiagnostic(d: ConfigDiagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.path ? `${d.path}: ` : ''}${d.message}`;
}

export function loadBootstrap(text: string, file: string): { config: Bootstrap; warnings: ConfigDiagnostic[] } {
  const source = parseYaml(text, file);
  const input = source.doc.toJS({ maxAliasCount: 1000 }) as unknown;
  const { config, ignored } = validate(source, input);
  const valueWarnings = [...unusedThresholds(input), ...unknownRetryOn(input)];
  return { config, warnings: toDiagnostics(source, [...ignored, ...valueWarnings], 'key', source.warnings) };
}

/** The loaded config and the keys that were ignored to get it; throws on any error. */
function validate(source: Source, input: unknown): { config: Bootstrap; ignored: Finding[] } {
  const first = bootstrapSchema.safeParse(input, { error: describeIssue });
  if (first.success) return { config: first.data, ignored: [] };
  const { errors, ignored } = classify(first.error.issues);
  const warnings = () => toDiagnostics(source, ignored, 'key', source.warnings);
  if (errors.length) throw new ConfigError(toDiagnostics(source, errors, 'value'), warnings());
  const second = bootstrapSchema.safeParse(withoutPaths(input, ignored.map((i) => i.path)), { error: describeIssue });
  // Dropping keys the schema does not read cannot cause an error, but never hide one.
  if (!second.success) throw new ConfigError(toDiagnostics(source, classify(second.error.issues).errors, 'value'), warnings());
  return { config: second.data, ignored };
}

/** Findings placed in the source (plus any ready-made diagnostics), in file order. */
function toDiagnostics(source: Source, findings: Finding[], at: 'key' | 'value', extra: ConfigDiagnostic[] = []): ConfigDiagnostic[] {
  const placed = findings.map((f) => source.diagnostic(f.path, f.message, at));
  return [...extra, ...placed].sort((a, b) => a.line - b.line || a.column - b.column);
}

// ---------------------------------------------------------------------------------------
// Issues

type Path = readonly PropertyKey[];

interface Finding {
  path: Path;
  message: string;
}

/** Unknown keys become one warning each (at the key); everything else is an error. */
function classify(issues: readonly z.core.$ZodIssue[]): { errors: Finding[]; ignored: Finding[] } {
  const errors: Finding[] = [];
  const ignored: Finding[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) ignored.push({ path: [...issue.path, key], message: ignoredFieldMessage(key) });
    } else {
      errors.push({ path: issue.path, message: issue.message });
    }
  }
  return { errors, ignored };
}

const KIND_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
};

/**
 * Messages for the issues zod raises itself (our own scalars and refinements write
 * theirs). Returning undefined keeps zod's message.
 */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'missing required field';
      return `expected ${KIND_NAMES[issue.expected] ?? issue.expected}, got ${show(issue.input)}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${show(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'array') return `expected at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      return undefined;
    default:
      return undefined;
  }
}

/** A copy of `value` without the keys at `paths` (each the path of an object key). */
function withoutPaths(value: unknown, paths: Path[]): unknown {
  if (paths.length === 0 || value === null || typeof value !== 'object') return value;
  const here = new Set(paths.filter((p) => p.length === 1).map((p) => String(p[0])));
  const below = (key: PropertyKey) =>
    paths.filter((p) => p.length > 1 && String(p[0]) === String(key)).map((p) => p.slice(1));
  if (Array.isArray(value)) return value.map((item, i) => withoutPaths(item, below(i)));
  // Rebuilt rather than edited: YAML aliases make toJS share objects between places.
  const entries = Object.entries(value).filter(([key]) => !here.has(key));
  return Object.fromEntries(entries.map(([key, item]) => [key, withoutPaths(item, below(key))]));
}

// ---------------------------------------------------------------------------------------
// YAML source and positions

interface Source {
  doc: Document.Parsed;
  warnings: ConfigDiagnostic[];
  /** A diagnostic at the node for `path`: its key, or its value (the default). */
  diagnostic(path: Path, message: string, at?: 'key' | 'value'): ConfigDiagnostic;
}

function parseYaml(text: string, file: string): Source {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const fromYaml = (e: YAMLError): ConfigDiagnostic => ({ file, ...position(lines, e.pos[0]), path: '', message: e.message });
  if (doc.errors.length) throw new ConfigError(doc.errors.map(fromYaml), doc.warnings.map(fromYaml));
  return {
    doc,
    warnings: doc.warnings.map(fromYaml),
    diagnostic: (path, message, at = 'value') => ({
      file,
      ...position(lines, offsetOf(doc, path, at)),
      path: formatPath(path),
      message,
    }),
  };
}

function position(lines: LineCounter, offset: number): { line: number; column: number } {
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/** `static_resources.listeners[0].typed_config["@type"]` */
export function formatPath(path: Path): string {
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      const key = String(segment);
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return i === 0 ? key : `.${key}`;
      return `[${JSON.stringify(key)}]`;
    })
    .join('');
}

/**
 * The source offset to blame for `path`. Scalars are blamed at their value; mappings,
 * lists and empty values at the key that introduces them, which is the line a reader
 * looks for. When the path does not exist (a missing field) the deepest part that does
 * exist is blamed: the mapping the field should have been in.
 */
function offsetOf(doc: Document.Parsed, path: Path, at: 'key' | 'value'): number {
  let node: unknown = doc.contents;
  let anchor: unknown = doc.contents; // where to point for `node`: its key, or itself in a list
  let complete = true;
  for (const segment of path) {
    const child = childOf(doc, node, segment);
    if (!child) {
      complete = false;
      break;
    }
    node = child.value;
    anchor = child.key ?? child.value;
  }
  const value = isAlias(node) ? node.resolve(doc) : node;
  const useValue = complete && at === 'value' && isScalar(value) && value.source !== '' && rangeOf(node) !== undefined;
  return rangeOf(useValue ? node : anchor) ?? rangeOf(node) ?? 0;
}

function childOf(doc: Document.Parsed, parent: unknown, segment: PropertyKey): { key?: unknown; value: unknown } | undefined {
  const node = isAlias(parent) ? parent.resolve(doc) : parent;
  if (isMap(node)) {
    const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
    return pair && { key: pair.key, value: pair.value };
  }
  if (isSeq(node) && typeof segment === 'number') {
    return segment < node.items.length ? { value: node.items[segment] } : undefined;
  }
  return undefined;
}

function rangeOf(node: unknown): number | undefined {
  return (node as Node | null | undefined)?.range?.[0];
}
