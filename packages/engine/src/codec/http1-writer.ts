import type { TransportConnection } from '../seams/transport';
import type { HeaderMap } from '../http/headers';

/**
 * Writes one HTTP/1 message (head, then body) onto a connection with the framing chosen
 * from its headers. The head is held back for one microtask so it leaves in the same
 * write as the first body bytes, which keeps small exchanges to one packet.
 */
export type Framing = 'content-length' | 'chunked' | 'close-delimited' | 'empty';

const encoder = new TextEncoder();
const CRLF = encoder.encode('\r\n');
const LAST_CHUNK = encoder.encode('0\r\n\r\n');

/** `host`, when given, is written first (HTTP/1 carries :authority as Host) and any other Host header is skipped. */
export function serializeHead(startLine: string, headers: HeaderMap, host?: string): string {
  let out = startLine + '\r\n';
  if (host !== undefined) out += `host: ${host}\r\n`;
  for (const [name, value] of headers.entries()) {
    if (host !== undefined && name === 'host') continue;
    out += `${name}: ${value}\r\n`;
  }
  return out + '\r\n';
}

export class Http1MessageWriter {
  private pendingHead: Uint8Array | undefined;
  private flushScheduled = false;
  /** how the message's body is delimited, from its head */
  private framingOf: Framing = 'empty';
  /** the message's last byte is written (end_stream encoded) */
  private ended = false;
  bytesWritten = 0;
  /** body bytes only, for %BYTES_SENT% / %BYTES_RECEIVED% */
  bodyBytes = 0;
  /** false once the connection asked us to wait for a drain */
  writable = true;

  constructor(
    private readonly connection: TransportConnection,
    /** Dispatcher::post of the engine's clock: the head waits for the first body chunk until the current step is over */
    private readonly post: (fn: () => void) => void,
  ) {}

  get framing(): Framing {
    return this.framingOf;
  }

  /** the whole message went out (its head with end_stream, or its last body bytes) */
  get complete(): boolean {
    return this.ended;
  }

  /** Queue the head; `framing` says how the body that follows is delimited. */
  writeHead(head: string, framing: Framing, endStream: boolean): boolean {
    this.framingOf = framing;
    if (endStream) this.ended = true;
    const bytes = encoder.encode(head);
    if (endStream) return this.send(bytes);
    this.pendingHead = bytes;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.post(() => {
        this.flushScheduled = false;
        if (this.pendingHead) {
          const head = this.pendingHead;
          this.pendingHead = undefined;
          this.send(head);
        }
      });
    }
    return true;
  }

  /** Write body bytes; returns false when the peer is slow (wait for onDrain). */
  writeBody(chunk: Uint8Array, endStream: boolean): boolean {
    this.bodyBytes += chunk.byteLength;
    if (endStream) this.ended = true;
    const parts: Uint8Array[] = [];
    if (this.pendingHead) {
      parts.push(this.pendingHead);
      this.pendingHead = undefined;
    }
    if (this.framingOf === 'chunked') {
      if (chunk.byteLength > 0) parts.push(encoder.encode(chunk.byteLength.toString(16) + '\r\n'), chunk, CRLF);
      if (endStream) parts.push(LAST_CHUNK);
    } else if (chunk.byteLength > 0) {
      parts.push(chunk);
    }
    if (parts.length === 0) return this.writable;
    return this.send(parts.length === 1 ? parts[0]! : concat(parts));
  }

  private send(bytes: Uint8Array): boolean {
    this.bytesWritten += bytes.byteLength;
    this.writable = this.connection.write(bytes);
    return this.writable;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** Headers that describe one hop and are never forwarded (RFC 9110 §7.6.1). */
export const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

export function stripHopByHop(headers: HeaderMap): void {
  // Names listed in Connection are hop-by-hop too.
  const listed = headers.getJoined('connection');
  if (listed) for (const name of listed.split(',')) headers.remove(name.trim());
  for (const name of HOP_BY_HOP) headers.remove(name);
}
