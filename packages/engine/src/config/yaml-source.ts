/**
 * YAML text with its source positions, shared by the loaders of the files ProxyScope reads
 * (the bootstrap config, scenarios): parse once, then blame any field path at its line and
 * column.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLError } from 'yaml';
import type { ConfigDiagnostic } from './types';
import { jsonName } from './envoy-api/descriptor';

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

/** A field path: object keys and list indices. */
export type Path = readonly PropertyKey[];

export interface Source {
  doc: Document.Parsed;
  warnings: ConfigDiagnostic[];
  /** A diagnostic at the node for `path`: its key, or its value (the default). */
  diagnostic(path: Path, message: string, at?: 'key' | 'value'): ConfigDiagnostic;
}

export function parseYaml(text: string, file: string): Source {
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
export function offsetOf(doc: Document.Parsed, path: Path, at: 'key' | 'value'): number {
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
    const keyOf = (p: (typeof node.items)[number]) => String(isScalar(p.key) ? p.key.value : p.key);
    // Paths use proto field names; the file may have the lowerCamelCase JSON name.
    const pair = node.items.find((p) => keyOf(p) === String(segment)) ?? node.items.find((p) => keyOf(p) === jsonName(String(segment)));
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
