/**
 * One tree for the three test file formats (JSON, YAML, proto text), with the line and
 * column of every key and value, so the checker can report file:line:field whichever
 * format the user wrote. JSON is read as YAML, as Envoy's loader falls back to it: Envoy's
 * own TestRoutes.golden.proto.json has a trailing comma that only that fallback accepts.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { parseProtoText, ProtoTextError, type Pos, type TextMessage } from './proto-text';

export type { Pos } from './proto-text';

export type SNode =
  | { kind: 'map'; pos: Pos; entries: Array<{ key: string; pos: Pos; value: SNode }> }
  | { kind: 'list'; pos: Pos; items: SNode[] }
  | { kind: 'scalar'; pos: Pos; value: string | number | boolean | null; text?: boolean; ident?: boolean };

/** A file that does not parse: where, and why. */
export class SourceError extends Error {
  constructor(
    readonly file: string,
    readonly pos: Pos,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${file}${pos.line > 0 ? `:${pos.line}:${pos.column}` : ''}: ${field ? `${field}: ` : ''}${reason}`);
  }
}

export type SourceFormat = 'yaml' | 'json' | 'proto-text';

export function formatOf(file: string): SourceFormat {
  if (/\.(pb_text|pbtxt|textproto|txtpb)$/i.test(file)) return 'proto-text';
  if (/\.json$/i.test(file)) return 'json';
  return 'yaml';
}

export function parseSource(text: string, file: string, format = formatOf(file)): SNode {
  if (format === 'proto-text') {
    try {
      return fromText(parseProtoText(text));
    } catch (e) {
      if (e instanceof ProtoTextError) throw new SourceError(file, { line: e.line, column: e.column }, '', e.reason);
      throw e;
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const problem = doc.errors[0];
  if (problem) {
    const at = lines.linePos(problem.pos[0]);
    throw new SourceError(file, { line: at.line, column: at.col }, '', problem.message.split('\n')[0]!);
  }
  const pos = (node: Node | null | undefined): Pos => {
    const at = lines.linePos(node?.range?.[0] ?? 0);
    return { line: at.line, column: at.col };
  };
  const walk = (node: unknown): SNode => {
    if (isMap(node)) {
      return {
        kind: 'map',
        pos: pos(node),
        entries: node.items.map((pair) => {
          const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
          return { key, pos: pos(pair.key as Node), value: walk(pair.value) };
        }),
      };
    }
    if (isSeq(node)) return { kind: 'list', pos: pos(node), items: node.items.map(walk) };
    if (isScalar(node)) {
      const v = node.value;
      const value = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null ? v : String(v);
      return { kind: 'scalar', pos: pos(node), value, text: node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' };
    }
    return { kind: 'scalar', pos: pos(node as Node), value: null };
  };
  return walk(doc.contents);
}

function fromText(msg: TextMessage): SNode {
  return {
    kind: 'map',
    pos: msg.pos,
    entries: msg.fields.map((f) => ({
      key: f.name,
      pos: f.pos,
      value:
        f.value.kind === 'message'
          ? fromText(f.value)
          : { kind: 'scalar', pos: f.value.pos, value: f.value.value, text: f.value.kind === 'string', ident: f.value.kind === 'ident' },
    })),
  };
}

/** The plain value of a tree (what a YAML loader would give), for handing config to the engine. */
export function toPlain(node: SNode): unknown {
  if (node.kind === 'map') return Object.fromEntries(node.entries.map((e) => [e.key, toPlain(e.value)]));
  if (node.kind === 'list') return node.items.map(toPlain);
  return node.value;
}
