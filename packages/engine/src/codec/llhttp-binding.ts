/**
 * The binding to llhttp's WebAssembly build, the way undici's client-h1.js drives it:
 * one module instance shared by every parser, an `env` import per llhttp callback
 * (`wasm_on_*`), and the input copied once into wasm memory per execute so that llhttp's
 * span callbacks can be handed back as offsets into the caller's own bytes.
 *
 * The wasm is undici's build (llhttp-wasm.generated.ts says which release; see
 * scripts/vendor-llhttp-wasm.mjs for why it is a copy). Only Uint8Array, atob and
 * WebAssembly are used, so this runs in Node and in a browser worker alike.
 */
import { LLHTTP_SIMD_WASM_BASE64, LLHTTP_WASM_BASE64 } from './llhttp-wasm.generated.ts';

/**
 * What llhttp calls back during llhttp_execute/llhttp_finish, with llhttp's return
 * conventions (0 continue, HPE_PAUSED pause, anything else an error; on_headers_complete
 * also 1 = no body). Span positions are offsets into the Uint8Array being executed.
 */
export interface LlhttpHandler {
  onMessageBegin(): number;
  onUrl(offset: number, length: number): number;
  onStatus(offset: number, length: number): number;
  onHeaderField(offset: number, length: number): number;
  onHeaderValue(offset: number, length: number): number;
  onHeadersComplete(statusCode: number, upgrade: boolean, shouldKeepAlive: boolean): number;
  onBody(offset: number, length: number): number;
  onMessageComplete(): number;
}

/**
 * The part of the WebAssembly JS API used here. The project's type libraries (ES2022 +
 * @types/node, no DOM) do not declare it, though Node and browsers both provide it.
 */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** The llhttp C API as undici's build exports it (pointers are wasm memory addresses). */
export interface LlhttpExports {
  memory: { readonly buffer: ArrayBuffer };
  _initialize(): void;
  malloc(size: number): number;
  free(ptr: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(parser: number): void;
  llhttp_execute(parser: number, data: number, length: number): number;
  llhttp_finish(parser: number): number;
  llhttp_resume(parser: number): void;
  llhttp_resume_after_upgrade(parser: number): void;
  llhttp_get_error_pos(parser: number): number;
  llhttp_get_error_reason(parser: number): number;
  llhttp_get_method(parser: number): number;
  llhttp_get_http_major(parser: number): number;
  llhttp_get_http_minor(parser: number): number;
  llhttp_get_status_code(parser: number): number;
  llhttp_should_keep_alive(parser: number): number;
  llhttp_get_upgrade(parser: number): number;
}

// The parser llhttp is running on, and where its input starts in wasm memory. llhttp calls
// back synchronously, only for the parser it is executing; a callback that executes another
// parser saves and restores these around the nested call (see execute()).
let current: LlhttpHandler | null = null;
let currentBase = 0;

const env = {
  wasm_on_message_begin: (_p: number): number => current!.onMessageBegin(),
  wasm_on_url: (_p: number, at: number, len: number): number => current!.onUrl(at - currentBase, len),
  wasm_on_status: (_p: number, at: number, len: number): number => current!.onStatus(at - currentBase, len),
  wasm_on_header_field: (_p: number, at: number, len: number): number => current!.onHeaderField(at - currentBase, len),
  wasm_on_header_value: (_p: number, at: number, len: number): number => current!.onHeaderValue(at - currentBase, len),
  wasm_on_headers_complete: (_p: number, statusCode: number, upgrade: number, keepAlive: number): number =>
    current!.onHeadersComplete(statusCode, upgrade === 1, keepAlive === 1),
  wasm_on_body: (_p: number, at: number, len: number): number => current!.onBody(at - currentBase, len),
  wasm_on_message_complete: (_p: number): number => current!.onMessageComplete(),
};

function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function instantiate(): LlhttpExports {
  // Synchronous on purpose: parsers are built synchronously, and the browser runs the engine
  // in a worker, where compiling a module of this size synchronously is allowed.
  let mod: object;
  try {
    mod = new wasm.Module(fromBase64(LLHTTP_SIMD_WASM_BASE64));
  } catch {
    mod = new wasm.Module(fromBase64(LLHTTP_WASM_BASE64)); // no WebAssembly SIMD here
  }
  const exports = new wasm.Instance(mod, { env }).exports as LlhttpExports;
  exports._initialize();
  return exports;
}

let instance: LlhttpExports | null = null;

/** The shared instance, compiled on first use so importing the engine costs nothing. */
export function llhttp(): LlhttpExports {
  return (instance ??= instantiate());
}

// Input buffer in wasm memory, reused across calls (grown, never shrunk, like undici's).
let heap = new Uint8Array(0);
let scratch = 0;
let scratchSize = 0;

/**
 * Where an input lives in wasm memory while llhttp runs on it. `temporary` when a parser
 * callback executes another parser: the outer input still occupies the scratch buffer.
 */
export interface WasmInput {
  base: number;
  temporary: boolean;
}

/** Copy `data` into wasm memory: the one copy per execute(). */
export function loadInput(data: Uint8Array): WasmInput {
  const ll = llhttp();
  let base: number;
  const temporary = current !== null;
  if (temporary) {
    base = ll.malloc(Math.max(data.length, 1));
  } else {
    if (scratchSize < data.length || scratch === 0) {
      if (scratch !== 0) ll.free(scratch);
      let size = Math.max(scratchSize, 16 * 1024);
      while (size < data.length) size *= 2;
      scratch = ll.malloc(size);
      scratchSize = size;
    }
    base = scratch;
  }
  if (base === 0) throw new Error('llhttp: out of wasm memory');
  // Growing the memory (malloc may) detaches the old ArrayBuffer, which empties our view.
  if (heap.byteLength === 0) heap = new Uint8Array(ll.memory.buffer);
  heap.set(data, base);
  return { base, temporary };
}

export function releaseInput(input: WasmInput): void {
  if (input.temporary) llhttp().free(input.base);
}

/**
 * llhttp_execute over input[from, to) with `handler` receiving the callbacks. Returns the
 * llhttp error code (0 when all was consumed); read the stop offset with errorOffset().
 */
export function execute(parser: number, handler: LlhttpHandler, input: WasmInput, from: number, to: number): number {
  const ll = llhttp();
  const prev = current;
  const prevBase = currentBase;
  current = handler;
  currentBase = input.base;
  try {
    return ll.llhttp_execute(parser, input.base + from, to - from);
  } finally {
    current = prev;
    currentBase = prevBase;
  }
}

/** Where llhttp stopped (pause or error), as an offset into the executed input. */
export function errorOffset(parser: number, input: WasmInput): number {
  return llhttp().llhttp_get_error_pos(parser) - input.base;
}

/** llhttp_finish (EOF); on_message_complete may fire for a close-delimited body. */
export function finish(parser: number, handler: LlhttpHandler): number {
  const ll = llhttp();
  const prev = current;
  current = handler;
  try {
    return ll.llhttp_finish(parser);
  } finally {
    current = prev;
  }
}

const ascii = new TextDecoder();

/** llhttp's static reason string for the last error ('' if none). */
export function errorReason(parser: number): string {
  const ll = llhttp();
  const at = ll.llhttp_get_error_reason(parser);
  if (at === 0) return '';
  const mem = new Uint8Array(ll.memory.buffer);
  let end = at;
  while (end < mem.length && mem[end] !== 0) end++;
  return ascii.decode(mem.subarray(at, end));
}
