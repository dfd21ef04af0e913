/**
 * Protocol Buffers text format (what `TextFormat::Parse` reads: Envoy's `.pb_text` test
 * files), parsed without a schema into a tree the schema-aware reader then checks. No
 * npm library parses text format for JavaScript (protobuf-es and protobufjs do binary and
 * JSON only), so this is a small strict parser: every error names line:column.
 *
 * Supported: `name: scalar`, `name { ... }` / `name: { ... }` / `name < ... >`, repeated
 * fields by repetition or `[a, b]`, `#` comments, adjacent string literals concatenated,
 * C escapes in strings, `;` or `,` after a field. Not supported (an error, never a silent
 * guess): `[type.url] { ... }` Any expansions and extension fields.
 */

export class ProtoTextError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`${line}:${column}: ${reason}`);
  }
}

/** Where a value starts, for the checker's file:line:field errors. */
export interface Pos {
  line: number;
  column: number;
}

export type TextScalar = { kind: 'string'; value: string; pos: Pos } | { kind: 'number'; value: number; raw: string; pos: Pos } | { kind: 'ident'; value: string; pos: Pos };

export interface TextMessage {
  kind: 'message';
  pos: Pos;
  /** in file order; a repeated field appears once per occurrence */
  fields: Array<{ name: string; pos: Pos; value: TextScalar | TextMessage }>;
}

type Token =
  | { t: 'ident'; v: string; pos: Pos }
  | { t: 'string'; v: string; pos: Pos }
  | { t: 'number'; v: string; pos: Pos }
  | { t: 'punct'; v: string; pos: Pos }
  | { t: 'eof'; pos: Pos };

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', "'": "'", '\\': '\\', a: '\x07', b: '\b', f: '\f', v: '\v', '?': '?' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  const at = (): Pos => ({ line, column: col });
  const step = (n = 1) => {
    for (let k = 0; k < n; k++) {
      if (text[i] === '\n') {
        line++;
        col = 1;
      } else col++;
      i++;
    }
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      step();
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') step();
      continue;
    }
    const pos = at();
    if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < text.length && /[A-Za-z0-9_.]/.test(text[j]!)) j++;
      tokens.push({ t: 'ident', v: text.slice(i, j), pos });
      step(j - i);
      continue;
    }
    if (/[0-9]/.test(c) || ((c === '-' || c === '.') && /[0-9.]/.test(text[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < text.length && /[0-9A-Za-z_.+-]/.test(text[j]!) && !(/[+-]/.test(text[j]!) && !/[eE]/.test(text[j - 1]!))) j++;
      tokens.push({ t: 'number', v: text.slice(i, j), pos });
      step(j - i);
      continue;
    }
    if (c === '"' || c === "'") {
      let value = '';
      step();
      for (;;) {
        if (i >= text.length || text[i] === '\n') throw new ProtoTextError(pos.line, pos.column, 'unterminated string');
        const d = text[i]!;
        if (d === c) {
          step();
          break;
        }
        if (d === '\\') {
          const e = text[i + 1] ?? '';
          if (ESCAPES[e] !== undefined) {
            value += ESCAPES[e];
            step(2);
          } else if (/[0-7]/.test(e)) {
            const m = /^[0-7]{1,3}/.exec(text.slice(i + 1))![0];
            value += String.fromCharCode(parseInt(m, 8));
            step(1 + m.length);
          } else if (e === 'x' && /[0-9a-fA-F]/.test(text[i + 2] ?? '')) {
            const m = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 2))![0];
            value += String.fromCharCode(parseInt(m, 16));
            step(2 + m.length);
          } else {
            throw new ProtoTextError(line, col, `invalid escape "\\${e}" in string`);
          }
          continue;
        }
        value += d;
        step();
      }
      // Adjacent literals are one string, as in C.
      const last = tokens[tokens.length - 1];
      if (last?.t === 'string') last.v += value;
      else tokens.push({ t: 'string', v: value, pos });
      continue;
    }
    if ('{}<>:[],;'.includes(c)) {
      tokens.push({ t: 'punct', v: c, pos });
      step();
      continue;
    }
    throw new ProtoTextError(pos.line, pos.column, `unexpected character ${JSON.stringify(c)}`);
  }
  tokens.push({ t: 'eof', pos: at() });
  return tokens;
}

class Parser {
  private k = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.k]!;
  }

  /** the next token is this punctuation */
  private at(p: string): boolean {
    const t = this.peek();
    return t.t === 'punct' && t.v === p;
  }

  private next(): Token {
    return this.tokens[this.k++]!;
  }

  private fail(tok: Token, reason: string): never {
    throw new ProtoTextError(tok.pos.line, tok.pos.column, reason);
  }

  private describe(tok: Token): string {
    return tok.t === 'eof' ? 'end of file' : tok.t === 'string' ? `string ${JSON.stringify(tok.v)}` : `"${tok.v}"`;
  }

  /** Fields until `close` (or end of file at the top level). */
  message(open: Token | undefined, close: string | undefined): TextMessage {
    const msg: TextMessage = { kind: 'message', pos: open?.pos ?? { line: 1, column: 1 }, fields: [] };
    for (;;) {
      const tok = this.peek();
      if (close === undefined && tok.t === 'eof') return msg;
      if (tok.t === 'punct' && tok.v === close) {
        this.next();
        return msg;
      }
      if (tok.t === 'eof') this.fail(tok, `expected "${close}" to close the message opened at ${open!.pos.line}:${open!.pos.column}, got end of file`);
      if (tok.t === 'punct' && tok.v === '[') this.fail(tok, 'extension and Any fields ("[type.url]") are not supported');
      if (tok.t !== 'ident') this.fail(tok, `expected a field name, got ${this.describe(tok)}`);
      this.next();
      const name = tok.v;
      let colon = false;
      if (this.at(':')) {
        this.next();
        colon = true;
      }
      const v = this.peek();
      if (v.t === 'punct' && v.v === '[') {
        this.next();
        if (this.at(']')) this.next();
        else {
          for (;;) {
            msg.fields.push({ name, pos: tok.pos, value: this.value(colon) });
            const sep = this.next();
            if (sep.t === 'punct' && sep.v === ']') break;
            if (!(sep.t === 'punct' && sep.v === ',')) this.fail(sep, `expected "," or "]" in the list of "${name}", got ${this.describe(sep)}`);
          }
        }
      } else {
        msg.fields.push({ name, pos: tok.pos, value: this.value(colon) });
      }
      if (this.at(';') || this.at(',')) this.next();
    }
  }

  private value(colon: boolean): TextScalar | TextMessage {
    const v = this.next();
    if (v.t === 'punct' && (v.v === '{' || v.v === '<')) return this.message(v, v.v === '{' ? '}' : '>');
    if (!colon) this.fail(v, `expected ":" or "{" after the field name, got ${this.describe(v)}`);
    if (v.t === 'string') return { kind: 'string', value: v.v, pos: v.pos };
    if (v.t === 'ident') return { kind: 'ident', value: v.v, pos: v.pos };
    if (v.t === 'number') {
      const raw = v.v.replace(/[fFuUlL]+$/, '');
      const n = /^-?0[xX][0-9a-fA-F]+$/.test(raw) ? Number.parseInt(raw, 16) : Number(raw);
      if (!Number.isFinite(n)) this.fail(v, `invalid number "${v.v}"`);
      return { kind: 'number', value: n, raw: v.v, pos: v.pos };
    }
    this.fail(v, `expected a value, got ${this.describe(v)}`);
  }
}

export function parseProtoText(text: string): TextMessage {
  return new Parser(tokenize(text)).message(undefined, undefined);
}
